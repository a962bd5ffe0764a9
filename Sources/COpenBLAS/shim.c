#define _GNU_SOURCE
#include "COpenBLAS.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cblas enum values (cblas.h), repeated so we need no OpenBLAS header. */
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_string_fn)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512] = "OpenBLAS has not been loaded.";
static char chosen_coretype[32] = "";
static int small_blocks = 0;  /* the SkylakeX core: cut few-row NT products into column blocks (fcb_sgemm) */
static char library_name[256] = "";
static char override_path[1024] = "";   /* fcb_set_library(): the only candidate when set */
static int error_kind = FCB_ERROR_NOT_LOADED;
static char error_detail[256] = "";
static sgemm_fn p_sgemm;
static sgemv_fn p_sgemv;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static get_string_fn p_corename;
static get_string_fn p_config;

static int max_threads = 1;
static int current_threads = -1;      /* last value given to openblas_set_num_threads */
static long long parallel_threshold = 1LL << 22;  /* ~4M multiply-adds */

static void choose_coretype(void) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user != NULL && user[0] != '\0') return;  /* the user's choice wins */
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const char *core = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        core = "Haswell";
    if (core != NULL) {
        setenv("OPENBLAS_CORETYPE", core, 0);
        snprintf(chosen_coretype, sizeof chosen_coretype, "%s", core);
    }
#endif
}

/* What to install, named for this system's package manager: the one line a user
   without OpenBLAS sees (scripts/setup installs the same package). */
#if defined(__APPLE__)
#define INSTALL_HINT "install it with 'brew install openblas'"
#else
#define INSTALL_HINT "install libopenblas0-pthread"
#endif

static void *resolve(void *handle, const char *name, int *missing) {
    void *symbol = dlsym(handle, name);
    if (symbol == NULL && *missing == 0) {
        *missing = 1;
        error_kind = FCB_ERROR_MISSING_SYMBOL;
        snprintf(error_detail, sizeof error_detail, "%s", name);
        snprintf(load_error, sizeof load_error,
                 "OpenBLAS was loaded from %s but has no symbol %s; " INSTALL_HINT ".",
                 library_name, name);
    }
    return symbol;
}

static void load_once_body(void) {
    choose_coretype();
    /* A path given with fcb_set_library() is the only candidate: a wrong path is
       reported, not silently replaced by the system library. */
    const char *override = override_path;
    /* Homebrew's openblas is keg-only: not on the default search path. */
    const char *system_names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib",
                                  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
                                  "/usr/local/opt/openblas/lib/libopenblas.dylib", NULL};
    const char *only_override[] = {override, NULL};
    const char **candidates = (override != NULL && override[0] != '\0') ? only_override : system_names;
    void *handle = NULL;
    char first_error[256] = "";
    for (int i = 0; candidates[i] != NULL; i++) {
        handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (handle != NULL) {
            snprintf(library_name, sizeof library_name, "%s", candidates[i]);
            break;
        }
        if (first_error[0] == '\0') {
            const char *e = dlerror();
            snprintf(first_error, sizeof first_error, "%s", e ? e : "unknown error");
        }
    }
    if (handle == NULL) {
        error_kind = FCB_ERROR_CANNOT_OPEN;
        snprintf(error_detail, sizeof error_detail, "%s", first_error);
        if (candidates == only_override)
            snprintf(load_error, sizeof load_error, "Could not load OpenBLAS from %s (%s).", override, first_error);
        else
            snprintf(load_error, sizeof load_error, "Could not load OpenBLAS (%s); " INSTALL_HINT ".", first_error);
        return;
    }
    int missing = 0;
    p_sgemm = (sgemm_fn)resolve(handle, "cblas_sgemm", &missing);
    p_sgemv = (sgemv_fn)resolve(handle, "cblas_sgemv", &missing);
    p_set_threads = (set_threads_fn)resolve(handle, "openblas_set_num_threads", &missing);
    p_get_threads = (get_threads_fn)resolve(handle, "openblas_get_num_threads", &missing);
    p_corename = (get_string_fn)resolve(handle, "openblas_get_corename", &missing);
    p_config = (get_string_fn)resolve(handle, "openblas_get_config", &missing);
    if (missing) {
        p_sgemm = NULL;
        return;
    }
    max_threads = p_get_threads();
    if (max_threads < 1) max_threads = 1;
    small_blocks = p_corename && strcmp(p_corename(), "SkylakeX") == 0;
    current_threads = max_threads;
    load_error[0] = '\0';
    error_kind = FCB_ERROR_NONE;
    load_status = 0;
}

void fcb_set_library(const char *path) {
    snprintf(override_path, sizeof override_path, "%s", path ? path : "");
}

const char *fcb_library_override(void) { return override_path; }
int fcb_error_kind(void) { return error_kind; }
const char *fcb_error_detail(void) { return error_detail; }
const char *fcb_install_hint(void) {
#if defined(__APPLE__)
    return "install it with 'brew install openblas'";
#else
    return "install libopenblas0-pthread";
#endif
}

int fcb_load(void) {
    pthread_once(&load_once, load_once_body);
    return load_status;
}

const char *fcb_error(void) { return load_error; }
const char *fcb_core_name(void) {
    return (fcb_load() == 0 && p_corename) ? p_corename() : "";
}
const char *fcb_config(void) { return (fcb_load() == 0 && p_config) ? p_config() : ""; }
const char *fcb_coretype_chosen(void) {
    fcb_load();
    return chosen_coretype;
}
const char *fcb_library(void) {
    fcb_load();
    return library_name;
}

void fcb_set_max_threads(int n) {
    if (fcb_load() != 0) return;
    max_threads = n < 1 ? 1 : n;
}
int fcb_max_threads(void) {
    fcb_load();
    return max_threads;
}
void fcb_set_parallel_threshold(long long madds) { parallel_threshold = madds < 0 ? 0 : madds; }
long long fcb_parallel_threshold(void) { return parallel_threshold; }

static int pinned_single = 0;  /* set around data-parallel steps: every product on 1 thread */

void fcb_pin_single_thread(int on) {
    if (fcb_load() != 0) return;
    if (on) {
        if (current_threads != 1) {
            p_set_threads(1);
            current_threads = 1;
        }
        pinned_single = 1;
    } else {
        pinned_single = 0;
    }
}

static void use_threads(long long madds) {
    if (pinned_single) return;
    int want = madds >= parallel_threshold ? max_threads : 1;
    if (want != current_threads) {
        p_set_threads(want);
        current_threads = want;
    }
}

int fcb_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc) {
    if (load_status != 0 && fcb_load() != 0) return -1;
    if (m <= 0 || n <= 0) return 0;
    use_threads((long long)m * n * k);
    if (k <= 0) { /* C = beta C */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(long)i * ldc + j] = beta == 0 ? 0 : beta * c[(long)i * ldc + j];
        return 0;
    }
    if (m == 1) {
        /* c (1 x n) = alpha a (1 x k) op(B) + beta c  =>  c^T = alpha op(B)^T a^T.
           a's elements are a[p] (no trans) or a[p * lda] (trans). */
        int inc_a = trans_a ? lda : 1;
        if (trans_b)  /* op(B) = B^T, B stored n x k: c^T = B a^T */
            p_sgemv(RowMajor, NoTrans, n, k, alpha, b, ldb, a, inc_a, beta, c, 1);
        else          /* op(B) = B stored k x n: c^T = B^T a^T */
            p_sgemv(RowMajor, Trans, k, n, alpha, b, ldb, a, inc_a, beta, c, 1);
        return 0;
    }
    if (n == 1) {
        /* c (m x 1, stride ldc) = alpha op(A) b + beta c. */
        int inc_b = trans_b ? 1 : ldb;
        if (trans_a)  /* A stored k x m */
            p_sgemv(RowMajor, Trans, k, m, alpha, a, lda, b, inc_b, beta, c, ldc);
        else
            p_sgemv(RowMajor, NoTrans, m, k, alpha, a, lda, b, inc_b, beta, c, ldc);
        return 0;
    }
    if (k == 1 && beta == 0) {
        /* Outer product C = alpha x y^T, x_i = op(A)[i,0], y_j = op(B)[0,j]: one pass that
           writes C (sger would need C zeroed first). */
        long inc_x = trans_a ? 1 : lda;
        long inc_y = trans_b ? ldb : 1;
        for (int i = 0; i < m; i++) {
            const float xi = alpha * a[i * inc_x];
            float *restrict ci = c + (long)i * ldc;
            if (inc_y == 1)
                for (int j = 0; j < n; j++) ci[j] = xi * b[j];
            else
                for (int j = 0; j < n; j++) ci[j] = xi * b[j * inc_y];
        }
        return 0;
    }
    if (small_blocks && m <= 64 && n > 32 && current_threads == 1 && !(trans_a && trans_b) &&
        (trans_b || (trans_a && (k <= 128 || n <= 64)))) {
        /* OpenBLAS's SkylakeX kernels multiply products of at most 10^6 multiply-adds with
           a narrow N without packing A and B, and for a few rows (NT: a forward product) or a
           few neurons over few rows (TN: a dW product) that runs 10-40% faster than the packed
           path. Measured on one thread: 32 x 128 x 784 NT at 75 GFLOP/s, as 32-column blocks
           at 104; 64 x 784 x 64 TN 92 -> 104; 32 x 64 x 1024 TN 82 -> 111 (16 columns); but
           32 x 1024 x 256 TN 66 -> 61, hence the K/N condition. Such a product, on one thread,
           is cut into column blocks that qualify: each block of C is its own product, and the
           values summed for each entry stay the same. */
        const int nb = (long long)m * 32 * k <= 1000000 ? 32 : (long long)m * 16 * k <= 1000000 ? 16 : 0;
        if (nb > 0) {
            for (int j = 0; j < n; j += nb) {
                const int w = n - j < nb ? n - j : nb;
                /* Column j of op(B): row j of B (NT) or column j of B (TN). */
                const float *bj = trans_b ? b + (long)j * ldb : b + j;
                p_sgemm(RowMajor, trans_a ? Trans : NoTrans, trans_b ? Trans : NoTrans, m, w, k, alpha,
                        a, lda, bj, ldb, beta, c + j, ldc);
            }
            return 0;
        }
    }
    p_sgemm(RowMajor, trans_a ? Trans : NoTrans, trans_b ? Trans : NoTrans, m, n, k, alpha,
            a, lda, b, ldb, beta, c, ldc);
    return 0;
}
