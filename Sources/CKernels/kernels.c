/* Element-wise kernels with runtime dispatch; see include/CKernels.h for the contract.
 * No fused multiply-add anywhere: every path rounds after each operation, in the order of
 * the Swift reference, so all paths give the same bits. */
#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#include "CKernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define FCK_X86 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define FCK_X86 0
#endif

/* ---- dispatch ------------------------------------------------------------ */

enum { PORTABLE = FCK_ISA_PORTABLE, LEVEL_AVX2 = FCK_ISA_AVX2, LEVEL_AVX512 = FCK_ISA_AVX512 };
static int level = -1;

int fck_isa_supported(int isa_level) {
    switch (isa_level) {
    case FCK_ISA_PORTABLE: return 1;
#if FCK_X86
    case FCK_ISA_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2") ? 1 : 0;
    case FCK_ISA_AVX512: __builtin_cpu_init(); return __builtin_cpu_supports("avx512f") ? 1 : 0;
#endif
    default: return 0;
    }
}

static int choose_level(void) {
    if (fck_isa_supported(LEVEL_AVX512)) return LEVEL_AVX512;
    if (fck_isa_supported(LEVEL_AVX2)) return LEVEL_AVX2;
    return PORTABLE;
}

/* A benign race: every thread computes the same value. */
static inline int isa(void) {
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = choose_level();
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int fck_force_isa(int isa_level) {
    if (isa_level == FCK_ISA_AUTO) {
        __atomic_store_n(&level, choose_level(), __ATOMIC_RELAXED);
        return 0;
    }
    if (!fck_isa_supported(isa_level)) return -1;
    __atomic_store_n(&level, isa_level, __ATOMIC_RELAXED);
    return 0;
}

int fck_isa_level(void) { return isa(); }

const char *fck_isa(void) {
    switch (isa()) {
    case LEVEL_AVX512: return "avx512f";
    case LEVEL_AVX2: return "avx2";
    default: return "portable";
    }
}

/* ---- scalar reference (equals VectorMath's scalar Swift functions) ------- */

static inline float exp1(float x) {
    if (x < FCK_EXP_MIN) x = FCK_EXP_MIN;
    if (x > FCK_EXP_MAX) x = FCK_EXP_MAX;
    float t = x * FCK_EXP_LOG2E;
    t = t + FCK_EXP_ROUNDER;
    float n = t - FCK_EXP_ROUNDER;
    x = x - n * FCK_EXP_LN2_HI;
    x = x - n * FCK_EXP_LN2_LO;
    float p = FCK_EXP_P0;
    p = p * x + FCK_EXP_P1;
    p = p * x + FCK_EXP_P2;
    p = p * x + FCK_EXP_P3;
    p = p * x + FCK_EXP_P4;
    p = p * x + FCK_EXP_P5;
    float y = p * (x * x);
    y = y + x;
    y = y + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    uint32_t bits = (tb - FCK_EXP_ROUNDER_BITS + 127u) << 23;
    float s;
    memcpy(&s, &bits, 4);
    return y * s;
}
/* 0 - z, as the vector paths compute it: -z would flip the sign bit of a NaN, 0 - z keeps it. */
static inline float sigmoid1(float z) { return 1.0f / (1.0f + exp1(0.0f - z)); }
static inline float tanh1(float z) { return 1.0f - 2.0f / (exp1(z + z) + 1.0f); }

/* ---- vector e^x, sigmoid, tanh (AVX-512 and AVX2) ------------------------ */
#if FCK_X86
/* e^x, sigmoid and tanh on one vector register, for each width: the operations of exp1,
 * sigmoid1 and tanh1 in the same order (P: the intrinsics' prefix, SI: the integer vector's). */
#define VECTOR_MATH(ATTR, V, P, SI, exp_v, sigmoid_v, tanh_v)                                          \
    ATTR static inline V exp_v(V x) {                                                                   \
        x = P##_max_ps(P##_set1_ps(FCK_EXP_MIN), x); /* (lo > x) ? lo : x, NaN kept */                  \
        x = P##_min_ps(P##_set1_ps(FCK_EXP_MAX), x); /* (hi < x) ? hi : x */                            \
        V t = P##_add_ps(P##_mul_ps(x, P##_set1_ps(FCK_EXP_LOG2E)), P##_set1_ps(FCK_EXP_ROUNDER));     \
        V n = P##_sub_ps(t, P##_set1_ps(FCK_EXP_ROUNDER));                                              \
        x = P##_sub_ps(x, P##_mul_ps(n, P##_set1_ps(FCK_EXP_LN2_HI)));                                  \
        x = P##_sub_ps(x, P##_mul_ps(n, P##_set1_ps(FCK_EXP_LN2_LO)));                                  \
        V p = P##_set1_ps(FCK_EXP_P0);                                                                  \
        p = P##_add_ps(P##_mul_ps(p, x), P##_set1_ps(FCK_EXP_P1));                                      \
        p = P##_add_ps(P##_mul_ps(p, x), P##_set1_ps(FCK_EXP_P2));                                      \
        p = P##_add_ps(P##_mul_ps(p, x), P##_set1_ps(FCK_EXP_P3));                                      \
        p = P##_add_ps(P##_mul_ps(p, x), P##_set1_ps(FCK_EXP_P4));                                      \
        p = P##_add_ps(P##_mul_ps(p, x), P##_set1_ps(FCK_EXP_P5));                                      \
        V y = P##_add_ps(P##_add_ps(P##_mul_ps(p, P##_mul_ps(x, x)), x), P##_set1_ps(1.0f));           \
        V##i bits = P##_slli_epi32(                                                                     \
            P##_add_epi32(P##_sub_epi32(P##_castps_##SI(t), P##_set1_epi32((int)FCK_EXP_ROUNDER_BITS)), \
                          P##_set1_epi32(127)), 23);                                                    \
        return P##_mul_ps(y, P##_cast##SI##_ps(bits));                                                  \
    }                                                                                                   \
    ATTR static inline V sigmoid_v(V z) {                                                               \
        V one = P##_set1_ps(1.0f);                                                                      \
        return P##_div_ps(one, P##_add_ps(one, exp_v(P##_sub_ps(P##_setzero_ps(), z))));                \
    }                                                                                                   \
    ATTR static inline V tanh_v(V z) {                                                                  \
        V one = P##_set1_ps(1.0f);                                                                      \
        return P##_sub_ps(one, P##_div_ps(P##_set1_ps(2.0f), P##_add_ps(exp_v(P##_add_ps(z, z)), one))); \
    }

VECTOR_MATH(AVX512, __m512, _mm512, si512, exp16, sigmoid16, tanh16)
VECTOR_MATH(AVX2, __m256, _mm256, si256, exp8, sigmoid8, tanh8)

/* ---- AVX-512 ------------------------------------------------------------- */
static inline __mmask16 tail_mask(long left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

#define MAP16(name, f)                                                              \
    AVX512 static void name(const float *src, float *dst, long count) {            \
        for (long i = 0; i < count; i += 16) {                                      \
            __mmask16 k = tail_mask(count - i);                                     \
            _mm512_mask_storeu_ps(dst + i, k, f(_mm512_maskz_loadu_ps(k, src + i))); \
        }                                                                           \
    }
MAP16(exp_avx512, exp16)
MAP16(sigmoid_avx512, sigmoid16)
MAP16(tanh_avx512, tanh16)

#define BIAS16(name, f)                                                                          \
    AVX512 static void name(float *z, float *a, const float *bias, long rows, long cols) {      \
        for (long r = 0; r < rows; r++) {                                                        \
            float *zr = z + r * cols, *ar = a + r * cols;                                        \
            for (long j = 0; j < cols; j += 16) {                                                \
                __mmask16 k = tail_mask(cols - j);                                               \
                __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, zr + j), _mm512_maskz_loadu_ps(k, bias + j)); \
                _mm512_mask_storeu_ps(zr + j, k, v);                                             \
                _mm512_mask_storeu_ps(ar + j, k, f(v));                                          \
            }                                                                                    \
        }                                                                                        \
    }
BIAS16(bias_sigmoid_avx512, sigmoid16)
BIAS16(bias_tanh_avx512, tanh16)

/* ---- AVX2 ---------------------------------------------------------------- */
#define MAP8(name, f, f1)                                                             \
    AVX2 static void name(const float *src, float *dst, long count) {                \
        long i = 0;                                                                   \
        for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, f(_mm256_loadu_ps(src + i))); \
        for (; i < count; i++) dst[i] = f1(src[i]);                                   \
    }
MAP8(exp_avx2, exp8, exp1)
MAP8(sigmoid_avx2, sigmoid8, sigmoid1)
MAP8(tanh_avx2, tanh8, tanh1)

#define BIAS8(name, f, f1)                                                                   \
    AVX2 static void name(float *z, float *a, const float *bias, long rows, long cols) {    \
        for (long r = 0; r < rows; r++) {                                                    \
            float *zr = z + r * cols, *ar = a + r * cols;                                    \
            long j = 0;                                                                      \
            for (; j + 8 <= cols; j += 8) {                                                  \
                __m256 v = _mm256_add_ps(_mm256_loadu_ps(zr + j), _mm256_loadu_ps(bias + j)); \
                _mm256_storeu_ps(zr + j, v);                                                 \
                _mm256_storeu_ps(ar + j, f(v));                                              \
            }                                                                                \
            for (; j < cols; j++) { float v = zr[j] + bias[j]; zr[j] = v; ar[j] = f1(v); }  \
        }                                                                                    \
    }
BIAS8(bias_sigmoid_avx2, sigmoid8, sigmoid1)
BIAS8(bias_tanh_avx2, tanh8, tanh1)
#endif /* FCK_X86 */

/* ---- portable ------------------------------------------------------------ */

static void exp_portable(const float *s, float *d, long n) { for (long i = 0; i < n; i++) d[i] = exp1(s[i]); }
static void sigmoid_portable(const float *s, float *d, long n) { for (long i = 0; i < n; i++) d[i] = sigmoid1(s[i]); }
static void tanh_portable(const float *s, float *d, long n) { for (long i = 0; i < n; i++) d[i] = tanh1(s[i]); }
static void bias_sigmoid_portable(float *z, float *a, const float *bias, long rows, long cols) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < cols; j++) { float v = z[r * cols + j] + bias[j]; z[r * cols + j] = v; a[r * cols + j] = sigmoid1(v); }
}
static void bias_tanh_portable(float *z, float *a, const float *bias, long rows, long cols) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < cols; j++) { float v = z[r * cols + j] + bias[j]; z[r * cols + j] = v; a[r * cols + j] = tanh1(v); }
}

#if FCK_X86
#define DISPATCH(name, ...)                                              \
    do {                                                                 \
        switch (isa()) {                                                 \
        case LEVEL_AVX512: name##_avx512(__VA_ARGS__); return;           \
        case LEVEL_AVX2: name##_avx2(__VA_ARGS__); return;               \
        default: name##_portable(__VA_ARGS__); return;                   \
        }                                                                \
    } while (0)
#else
#define DISPATCH(name, ...) do { name##_portable(__VA_ARGS__); return; } while (0)
#endif

void fck_exp(const float *src, float *dst, long count) { DISPATCH(exp, src, dst, count); }
void fck_sigmoid(const float *src, float *dst, long count) { DISPATCH(sigmoid, src, dst, count); }
void fck_tanh(const float *src, float *dst, long count) { DISPATCH(tanh, src, dst, count); }
void fck_bias_sigmoid(float *z, float *a, const float *bias, long rows, long cols) {
    DISPATCH(bias_sigmoid, z, a, bias, rows, cols);
}
void fck_bias_tanh(float *z, float *a, const float *bias, long rows, long cols) {
    DISPATCH(bias_tanh, z, a, bias, rows, cols);
}

/* ---- plain loops, compiled three times (the compiler vectorises each) ---- */

static inline void bias_add_body(float *restrict z, const float *restrict bias, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *restrict zr = z + r * cols;
        for (long j = 0; j < cols; j++) zr[j] = zr[j] + bias[j];
    }
}
static inline void sigmoid_derivative_body(float *restrict d, const float *restrict a, long n) {
    for (long i = 0; i < n; i++) d[i] = d[i] * (a[i] * (1.0f - a[i]));
}
static inline void tanh_derivative_body(float *restrict d, const float *restrict a, long n) {
    for (long i = 0; i < n; i++) d[i] = d[i] * (1.0f - a[i] * a[i]);
}
static inline void column_sums_body(const float *restrict m, long rows, long cols, long ld, float *restrict out) {
    for (long j = 0; j < cols; j++) out[j] = m[j];
    for (long r = 1; r < rows; r++) {
        const float *restrict row = m + r * ld;
        for (long j = 0; j < cols; j++) out[j] = out[j] + row[j];
    }
}
static inline void column_sums_acc_body(const float *restrict m, long rows, long cols, long ld, float *restrict out) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = m + r * ld;
        for (long j = 0; j < cols; j++) out[j] = out[j] + row[j];
    }
}
static inline void add_body(float *restrict dst, const float *restrict src, long n) {
    for (long i = 0; i < n; i++) dst[i] = dst[i] + src[i];
}
static inline void sgd_body(float *restrict theta, const float *restrict g, float eta, long n) {
    for (long i = 0; i < n; i++) theta[i] = theta[i] - eta * g[i];
}
static inline void outer_body(long m, long n, float alpha, const float *restrict x, long incx,
                              const float *restrict y, float *restrict c, long ldc) {
    for (long i = 0; i < m; i++) {
        const float xi = alpha * x[i * incx];
        float *restrict ci = c + i * ldc;
        for (long j = 0; j < n; j++) ci[j] = xi * y[j];
    }
}

static inline void outer_acc_body(long m, long n, float alpha, const float *restrict x, long incx,
                                  const float *restrict y, float *restrict c, long ldc) {
    for (long i = 0; i < m; i++) {
        const float xi = alpha * x[i * incx];
        float *restrict ci = c + i * ldc;
        for (long j = 0; j < n; j++) ci[j] = ci[j] + xi * y[j];
    }
}

#if FCK_X86
#define VARIANTS(name, params, args)                                   \
    AVX512 static void name##_avx512 params { name##_body args; }      \
    AVX2 static void name##_avx2 params { name##_body args; }          \
    static void name##_portable params { name##_body args; }
#else
#define VARIANTS(name, params, args) static void name##_portable params { name##_body args; }
#endif

VARIANTS(bias_add, (float *z, const float *bias, long rows, long cols), (z, bias, rows, cols))
VARIANTS(sigmoid_derivative, (float *d, const float *a, long n), (d, a, n))
VARIANTS(tanh_derivative, (float *d, const float *a, long n), (d, a, n))
VARIANTS(column_sums, (const float *m, long rows, long cols, long ld, float *out), (m, rows, cols, ld, out))
VARIANTS(column_sums_acc, (const float *m, long rows, long cols, long ld, float *out), (m, rows, cols, ld, out))
VARIANTS(add, (float *dst, const float *src, long n), (dst, src, n))
VARIANTS(sgd, (float *theta, const float *g, float eta, long n), (theta, g, eta, n))
VARIANTS(outer, (long m, long n, float alpha, const float *x, long incx, const float *y, float *c, long ldc),
         (m, n, alpha, x, incx, y, c, ldc))
VARIANTS(outer_acc, (long m, long n, float alpha, const float *x, long incx, const float *y, float *c, long ldc),
         (m, n, alpha, x, incx, y, c, ldc))

void fck_bias_add(float *z, const float *bias, long rows, long cols) { DISPATCH(bias_add, z, bias, rows, cols); }
void fck_mul_sigmoid_derivative(float *delta, const float *a, long count) { DISPATCH(sigmoid_derivative, delta, a, count); }
void fck_mul_tanh_derivative(float *delta, const float *a, long count) { DISPATCH(tanh_derivative, delta, a, count); }
void fck_column_sums(const float *m, long rows, long cols, long ld, float *out) {
    DISPATCH(column_sums, m, rows, cols, ld, out);
}
void fck_column_sums_acc(const float *m, long rows, long cols, long ld, float *out) {
    DISPATCH(column_sums_acc, m, rows, cols, ld, out);
}
void fck_prefetch_rows(const float *base, const int32_t *rows, long count, long width) {
    for (long r = 0; r < count; r++) {
        const char *row = (const char *)(base + (long)rows[r] * width);
        const long bytes = width * (long)sizeof(float);
        for (long o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 2);
    }
}
void fck_add(float *dst, const float *src, long count) { DISPATCH(add, dst, src, count); }
void fck_sgd(float *theta, const float *g, float eta, long count) { DISPATCH(sgd, theta, g, eta, count); }
void fck_outer(long m, long n, float alpha, const float *x, long incx, const float *y, float *c, long ldc) {
    DISPATCH(outer, m, n, alpha, x, incx, y, c, ldc);
}
void fck_outer_acc(long m, long n, float alpha, const float *x, long incx, const float *y, float *c, long ldc) {
    DISPATCH(outer_acc, m, n, alpha, x, incx, y, c, ldc);
}

/* ---- softmax and its cross-entropy delta (per row; exp vectorised) ------- */

void fck_bias_softmax(float *z, float *a, const float *bias, long rows, long cols, float *log_norm) {
    fck_bias_add(z, bias, rows, cols);
    for (long r = 0; r < rows; r++) {
        const float *zr = z + r * cols;
        float *ar = a + r * cols;
        float m = zr[0];
        for (long j = 1; j < cols; j++) if (zr[j] > m) m = zr[j];
        for (long j = 0; j < cols; j++) ar[j] = zr[j] - m;
        log_norm[r] = m;
    }
    fck_exp(a, a, rows * cols);
    for (long r = 0; r < rows; r++) {
        float *ar = a + r * cols;
        float s = 0;
        for (long j = 0; j < cols; j++) s = s + ar[j];
        const float inv = 1.0f / s;
        for (long j = 0; j < cols; j++) ar[j] = ar[j] * inv;
        log_norm[r] = log_norm[r] + logf(s);
    }
}

#if FCK_X86
/* The same values as the loop below for rows of at most 16 outputs, one masked vector per row:
 * d = y * scale, and the first index of the row maximum (a row with a NaN takes the loop's
 * path, whose comparisons NaN never wins). */
AVX512 static long softmax_ce_rows_avx512(const float *y, float *d, const float *labels, long rows, long n,
                                          float scale) {
    const __mmask16 k = tail_mask(n);
    const __m512 s = _mm512_set1_ps(scale);
    long hits = 0;
    for (long r = 0; r < rows; r++) {
        const __m512 v = _mm512_maskz_loadu_ps(k, y + r * n);
        _mm512_mask_storeu_ps(d + r * n, k, _mm512_mul_ps(v, s));
        long best;
        if (_mm512_mask_cmp_ps_mask(k, v, v, _CMP_UNORD_Q)) {
            best = 0;
            for (long j = 0; j < n; j++) if (y[r * n + j] > y[r * n + best]) best = j;
        } else {
            const float m = _mm512_mask_reduce_max_ps(k, v);
            best = __builtin_ctz((unsigned)_mm512_mask_cmp_ps_mask(k, v, _mm512_set1_ps(m), _CMP_EQ_OQ));
        }
        const long label = (long)labels[r];
        d[r * n + label] = d[r * n + label] - scale;
        if (best == label) hits++;
    }
    return hits;
}
#endif

double fck_softmax_ce_delta(const float *y, const float *z, const float *log_norm, const float *labels,
                            float *d, long rows, long n, float scale, long *correct, double *row_cost) {
    double total = 0;
    long hits = 0;
#if FCK_X86
    if (n <= 16 && isa() == LEVEL_AVX512) {
        for (long r = 0; r < rows; r++) {
            const double cost = (double)(log_norm[r] - z[r * n + (long)labels[r]]);
            if (row_cost) row_cost[r] = cost;
            total += cost;
        }
        *correct = softmax_ce_rows_avx512(y, d, labels, rows, n, scale);
        return total;
    }
#endif
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n;
        float *dr = d + r * n;
        const long k = (long)labels[r];
        const double cost = (double)(log_norm[r] - z[r * n + k]);
        if (row_cost) row_cost[r] = cost;
        total += cost;
        long best = 0;
        for (long j = 0; j < n; j++) {
            dr[j] = yr[j] * scale;
            if (yr[j] > yr[best]) best = j;
        }
        dr[k] = dr[k] - scale;
        if (best == k) hits++;
    }
    *correct = hits;
    return total;
}
