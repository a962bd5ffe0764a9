#ifndef FCSTORE_CLIBCRYPTO_SHIM_H
#define FCSTORE_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/sha.h>
#endif
