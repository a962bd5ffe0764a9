#ifndef FCSTORE_CKERNELS_H
#define FCSTORE_CKERNELS_H
/*
 * Element-wise kernels of the engine, with runtime CPU dispatch (AVX-512F, AVX2, or
 * portable C): the best path this CPU runs, unless fck_force_isa chose another.
 *
 * Every path does the same IEEE operations in the same order, with no fused
 * multiply-add (the file is compiled with FP_CONTRACT off and uses separate mul/add),
 * so results are bit-identical on every machine and equal the Swift reference
 * (`VectorMath`'s scalar functions): vectorising changed speed, not numbers.
 */
#include <stddef.h>
#include <stdint.h>

#include "fck_exp_constants.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The instruction-set paths; FCK_ISA_AUTO (for fck_force_isa) is the best this CPU runs. */
enum { FCK_ISA_AUTO = -1, FCK_ISA_PORTABLE = 0, FCK_ISA_AVX2 = 1, FCK_ISA_AVX512 = 2 };

/** The path in use: "avx512f", "avx2" or "portable". */
const char *fck_isa(void);
/** The path in use, as an FCK_ISA_* value. */
int fck_isa_level(void);
/** 1 when this CPU can run the path `isa` (an FCK_ISA_* value other than FCK_ISA_AUTO), else 0.
 *  The portable path runs everywhere. */
int fck_isa_supported(int isa);
/**
 * Makes every kernel take the path `isa` from now on (FCK_ISA_AUTO: the best this CPU runs,
 * the default). Returns 0, or -1 (nothing changed) when this CPU cannot run it. All paths give
 * the same bits, so this changes speed only; call it before work starts (it is not ordered
 * against kernels running on other threads). No kernel reads the environment.
 */
int fck_force_isa(int isa);

/** dst[i] = e^{src[i]} (Cephes expf polynomial, input clamped to [-87.3, 88]). */
void fck_exp(const float *src, float *dst, long count);
/** dst[i] = 1 / (1 + e^{-src[i]}). */
void fck_sigmoid(const float *src, float *dst, long count);
/** dst[i] = 1 - 2 / (e^{2 src[i]} + 1). */
void fck_tanh(const float *src, float *dst, long count);

/** For each of rows x cols: z += bias (per column), a = sigmoid(z). */
void fck_bias_sigmoid(float *z, float *a, const float *bias, long rows, long cols);
/** For each of rows x cols: z += bias, a = tanh(z). */
void fck_bias_tanh(float *z, float *a, const float *bias, long rows, long cols);
/** z += bias per row (no activation). */
void fck_bias_add(float *z, const float *bias, long rows, long cols);

/** Row softmax after z += bias: a = e^{z - m} / s per row, log_norm[r] = m + logf(s),
 *  with m the row maximum and s the row sum taken in column order. */
void fck_bias_softmax(float *z, float *a, const float *bias, long rows, long cols, float *log_norm);

/** delta *= a * (1 - a). */
void fck_mul_sigmoid_derivative(float *delta, const float *a, long count);
/** delta *= 1 - a * a. */
void fck_mul_tanh_derivative(float *delta, const float *a, long count);

/** out[j] = sum over rows r (in order) of m[r * ld + j], j < cols. */
void fck_column_sums(const float *m, long rows, long cols, long ld, float *out);
/** out[j] += m[0 * ld + j], then m[1 * ld + j], ... (rows in order), j < cols. */
void fck_column_sums_acc(const float *m, long rows, long cols, long ld, float *out);
/** Asks the CPU to fetch rows rows[0 ..< count] (each `width` floats, from `base`) into its
 *  L2 cache ahead of use; no effect on any value. */
void fck_prefetch_rows(const float *base, const int32_t *rows, long count, long width);
/** dst[i] += src[i]. */
void fck_add(float *dst, const float *src, long count);

/** theta[i] -= eta * g[i]. */
void fck_sgd(float *theta, const float *g, float eta, long count);

/** c[i * ldc + j] = (alpha * x[i * incx]) * y[j] for i < m, j < n (an outer product). */
void fck_outer(long m, long n, float alpha, const float *x, long incx, const float *y, float *c, long ldc);
/** c[i * ldc + j] += (alpha * x[i * incx]) * y[j] (an outer product added to c, e.g. a fused SGD step). */
void fck_outer_acc(long m, long n, float alpha, const float *x, long incx, const float *y, float *c, long ldc);

/**
 * Softmax + cross-entropy output delta for one-hot labels:
 * d = y * scale, d[label] -= scale per row; returns sum_r (log_norm[r] - z[r, label]) in
 * double and counts rows whose argmax(y) (first wins) equals the label into *correct.
 */
double fck_softmax_ce_delta(const float *y, const float *z, const float *log_norm, const float *labels,
                            float *d, long rows, long n, float scale, long *correct, double *row_cost);

/* ---- a small fork-join pool for the engine's data-parallel training step ---- */

/** A task body: called once per part, part 0 on the calling thread. */
typedef void (*fck_task)(void *context, long part);

/** Starts worker threads so that jobs of up to `parts` parts can run; returns how many
 *  parts are available (1 if no thread could be started, at most 64). */
long fck_pool_reserve(long parts);
/**
 * Runs task(context, p) for p = 0..<parts, part 0 on the caller and the others on
 * persistent worker threads, and returns 0 when all are done; -1 (nothing run) if the
 * workers could not be started. Calls are serialised by a lock (one job at a time per
 * process); parts <= 1 just calls task(context, 0). Which part does which work is fixed
 * by the caller, never by timing, so results do not depend on scheduling.
 */
int fck_parallel(long parts, fck_task task, void *context);
/** Inside a task of `parts` parts (the same value for every part): waits until every part
 *  has reached this barrier. */
void fck_barrier(long parts);

#ifdef __cplusplus
}
#endif
#endif
