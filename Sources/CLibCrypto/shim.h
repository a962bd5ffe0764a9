#ifndef FCSTORE_CLIBCRYPTO_SHIM_H
#define FCSTORE_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/// EVP_PKEY_ED25519 is a macro of a macro; Swift sees this constant instead.
static const int fcstore_evp_pkey_ed25519 = EVP_PKEY_ED25519;
#endif
