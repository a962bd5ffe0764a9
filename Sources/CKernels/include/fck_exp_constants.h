#ifndef FCSTORE_FCK_EXP_CONSTANTS_H
#define FCSTORE_FCK_EXP_CONSTANTS_H
/*
 * The constants of the engine's e^x (Cephes expf), written once: every path of
 * kernels.c (AVX-512, AVX2, portable) and the Swift reference (`VectorMath`) read them here.
 *
 * e^x for x clamped to [FCK_EXP_MIN, FCK_EXP_MAX]: x = n ln2 + r with
 * n = round(x log2 e), found by adding FCK_EXP_ROUNDER (1.5 * 2^23, so n sits in the low
 * mantissa bits of t = x log2 e + FCK_EXP_ROUNDER); r = x - n FCK_EXP_LN2_HI - n FCK_EXP_LN2_LO;
 * e^r = 1 + r + r^2 p(r), p of degree 5 (FCK_EXP_P0 first, Horner order); 2^n has the
 * exponent field (bits of t) - FCK_EXP_ROUNDER_BITS + 127.
 */
#define FCK_EXP_MIN (-87.3f)
#define FCK_EXP_MAX 88.0f
#define FCK_EXP_LOG2E 1.44269504f
#define FCK_EXP_ROUNDER 12582912.0f
#define FCK_EXP_ROUNDER_BITS 0x4B400000u
#define FCK_EXP_LN2_HI 0.693359375f
#define FCK_EXP_LN2_LO (-2.1219444e-4f)
#define FCK_EXP_P0 1.98756915e-4f
#define FCK_EXP_P1 1.3981999507e-3f
#define FCK_EXP_P2 8.3334519073e-3f
#define FCK_EXP_P3 4.1665795894e-2f
#define FCK_EXP_P4 1.6666665459e-1f
#define FCK_EXP_P5 5.0000001201e-1f

#endif
