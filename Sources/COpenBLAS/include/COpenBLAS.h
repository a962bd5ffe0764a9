#ifndef FCSTORE_COPENBLAS_H
#define FCSTORE_COPENBLAS_H
/*
 * The engine's one seam over OpenBLAS (cblas, single precision, row-major).
 *
 * OpenBLAS chooses its compute kernel ("core") in a library constructor, from
 * the CPU id or from OPENBLAS_CORETYPE. OpenBLAS 0.3.21 (Debian 12) does not
 * know recent Intel CPUs and falls back to "Prescott", ~10x slower than the
 * AVX-512 kernels. So this seam does not link OpenBLAS: fcb_load() sets
 * OPENBLAS_CORETYPE (SkylakeX with AVX-512F, Haswell with AVX2+FMA) when the
 * user has not set it, then dlopen()s libopenblas.so.0 and resolves the few
 * entry points with dlsym(). It runs once per process (pthread_once).
 */

#ifdef __cplusplus
extern "C" {
#endif

/** The library to load instead of the system's (libopenblas.so.0 ...): when set to a
 *  non-empty path before the first fcb_load(), it is the only candidate. The seam
 *  reads no environment variable for it; the caller passes the path. */
void fcb_set_library(const char *path);
/** The path given to fcb_set_library(), or "". */
const char *fcb_library_override(void);

enum { FCB_ERROR_NONE = 0, FCB_ERROR_NOT_LOADED = 1, FCB_ERROR_CANNOT_OPEN = 2, FCB_ERROR_MISSING_SYMBOL = 3 };
/** Why fcb_load() failed (FCB_ERROR_*), and its detail: dlerror()'s text, or the missing symbol. */
int fcb_error_kind(void);
const char *fcb_error_detail(void);
/** What to install where OpenBLAS is missing, for this system ("install libopenblas0-pthread"). */
const char *fcb_install_hint(void);

/** Loads OpenBLAS once (thread-safe). Returns 0 on success, -1 if the
 *  library or one of its symbols is missing (see fcb_error()). */
int fcb_load(void);
/** A sentence describing why fcb_load() failed, or "" after success. */
const char *fcb_error(void);
/** The kernel OpenBLAS reports (openblas_get_corename), e.g. "SkylakeX"; "" before loading. */
const char *fcb_core_name(void);
/** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64". */
const char *fcb_config(void);
/** The OPENBLAS_CORETYPE this seam set before loading ("" if the user's own value was kept or none was needed). */
const char *fcb_coretype_chosen(void);
/** The path or soname that was loaded. */
const char *fcb_library(void);

/** Upper bound on the threads a product may use (>= 1); default: the value
 *  OpenBLAS starts with (OPENBLAS_NUM_THREADS or the core count). */
void fcb_set_max_threads(int n);
int fcb_max_threads(void);
/** Products with fewer than this many multiply-adds (M*N*K) run on one thread. */
void fcb_set_parallel_threshold(long long madds);
long long fcb_parallel_threshold(void);
/** on != 0: OpenBLAS runs every product on one thread, whatever its size, until called
 *  with 0 (used while the engine splits a training step over its own threads, which call
 *  fcb_sgemm concurrently). Call from one thread, outside concurrent fcb_sgemm calls. */
void fcb_pin_single_thread(int on);

/**
 * C = alpha * op(A) op(B) + beta * C, row-major; op(A) is M x K, op(B) is K x N.
 * trans_a / trans_b: 0 = as stored, 1 = transposed. Products with M == 1 or
 * N == 1 go to sgemv and those with K == 1 and beta == 0 (outer products) to a
 * plain loop, which avoid sgemm's packing overhead. The thread count is a pure function of (M, N, K)
 * and the two settings above, so the same shapes give the same bits.
 * Returns 0, or -1 if OpenBLAS is not loaded (C untouched).
 */
int fcb_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc);

#ifdef __cplusplus
}
#endif
#endif
