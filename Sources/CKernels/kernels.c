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

enum { PORTABLE = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 };
static int level = -1;

static int choose_level(void) {
#if FCK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2")) return LEVEL_AVX2;
#endif
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

const char *fck_isa(void) {
    switch (isa()) {
    case LEVEL_AVX512: return "avx512f";
    case LEVEL_AVX2: return "avx2";
    default: return "portable";
    }
}

/* ---- scalar reference (equals VectorMath's scalar Swift functions) ------- */

static inline float exp1(float x) {
    if (x < -87.3f) x = -87.3f;
    if (x > 88.0f) x = 88.0f;
    float t = x * 1.44269504f;
    t = t + 12582912.0f;
    float n = t - 12582912.0f;
    x = x - n * 0.693359375f;
    x = x - n * -2.1219444e-4f;
    float p = 1.98756915e-4f;
    p = p * x + 1.3981999507e-3f;
    p = p * x + 8.3334519073e-3f;
    p = p * x + 4.1665795894e-2f;
    p = p * x + 1.6666665459e-1f;
    p = p * x + 5.0000001201e-1f;
    float y = p * (x * x);
    y = y + x;
    y = y + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    uint32_t bits = (tb - 0x4B400000u + 127u) << 23;
    float s;
    memcpy(&s, &bits, 4);
    return y * s;
}
static inline float sigmoid1(float z) { return 1.0f / (1.0f + exp1(-z)); }
static inline float tanh1(float z) { return 1.0f - 2.0f / (exp1(z + z) + 1.0f); }

/* ---- AVX-512 ------------------------------------------------------------- */
#if FCK_X86
AVX512 static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-87.3f), x);  /* (lo > x) ? lo : x, NaN kept */
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), x);   /* (hi < x) ? hi : x */
    __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _mm512_set1_ps(12582912.0f));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(12582912.0f));
    x = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    x = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(-2.1219444e-4f)));
    __m512 p = _mm512_set1_ps(1.98756915e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, x), _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(x, x)), x), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000)),
                         _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
}
AVX512 static inline __m512 sigmoid16(__m512 z) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), z))));
}
AVX512 static inline __m512 tanh16(__m512 z) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(exp16(_mm512_add_ps(z, z)), one)));
}
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
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _mm256_set1_ps(12582912.0f));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(12582912.0f));
    x = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    x = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(-2.1219444e-4f)));
    __m256 p = _mm256_set1_ps(1.98756915e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(x, x)), x), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000)),
                         _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}
AVX2 static inline __m256 sigmoid8(__m256 z) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), z))));
}
AVX2 static inline __m256 tanh8(__m256 z) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(z, z)), one)));
}

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
