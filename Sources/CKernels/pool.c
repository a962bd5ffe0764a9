/* A fork-join pool for one data-parallel training step at a time: workers spin briefly
 * (steps follow each other within microseconds), then sleep on a futex (Linux) or yield. */
#define _GNU_SOURCE
#include "CKernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_PAUSE() _mm_pause()
#else
#define CPU_PAUSE() ((void)0)
#endif

enum { MAX_PARTS = 64, SPIN = 2000 };  /* ~50 us of pause on Zen 4 */

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static long started;                    /* worker threads running (parts 1...started) */
static _Atomic unsigned job_gen;        /* bumped to start a job */
static _Atomic long job_parts;
static fck_task job_task;
static void *job_context;
static _Atomic unsigned done_count;     /* workers finished with the current job */
static _Atomic unsigned barrier_gen;
static _Atomic long barrier_count;
static _Atomic int waiters;             /* threads asleep (or about to sleep) on a futex */

static void sleep_while(_Atomic unsigned *word, unsigned value) {
#if defined(__linux__)
    atomic_fetch_add(&waiters, 1);
    if (atomic_load(word) == value)
        syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
    atomic_fetch_sub(&waiters, 1);
#else
    (void)word; (void)value;
    sched_yield();
#endif
}

static void wake_all(_Atomic unsigned *word) {
#if defined(__linux__)
    if (atomic_load(&waiters) > 0)
        syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, MAX_PARTS, NULL, NULL, 0);
#else
    (void)word;
#endif
}

/* Returns once *word != value. */
static void wait_change(_Atomic unsigned *word, unsigned value) {
    for (int i = 0; i < SPIN; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != value) return;
        CPU_PAUSE();
    }
    while (atomic_load(word) == value) sleep_while(word, value);
}

static unsigned start_gen[MAX_PARTS];  /* job_gen when worker p was created (under job_lock) */

static void *worker(void *arg) {
    const long part = (long)arg;
    /* Not job_gen now: a job may have started between pthread_create and this line. */
    unsigned seen = start_gen[part];
    for (;;) {
        wait_change(&job_gen, seen);
        seen = atomic_load(&job_gen);
        if (part < atomic_load(&job_parts)) {
            job_task(job_context, part);
            atomic_fetch_add(&done_count, 1);
            wake_all(&done_count);
        }
    }
    return NULL;
}

/* Starts workers for up to `parts` parts; call with job_lock held. */
static long reserve_locked(long parts) {
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    while (started < parts - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        start_gen[started + 1] = atomic_load(&job_gen);
        if (pthread_create(&t, &attr, worker, (void *)(started + 1)) != 0) {
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
        started++;
    }
    return started + 1 < parts ? started + 1 : parts;
}

long fck_pool_reserve(long parts) {
    if (parts <= 1) return 1;
    pthread_mutex_lock(&job_lock);
    long n = reserve_locked(parts);
    pthread_mutex_unlock(&job_lock);
    return n;
}

int fck_parallel(long parts, fck_task task, void *context) {
    if (parts <= 1) {
        task(context, 0);
        return 0;
    }
    pthread_mutex_lock(&job_lock);
    if (reserve_locked(parts) < parts) {
        pthread_mutex_unlock(&job_lock);
        return -1;
    }
    job_task = task;
    job_context = context;
    atomic_store(&job_parts, parts);
    atomic_store(&done_count, 0);
    atomic_store(&barrier_count, 0);
    atomic_fetch_add(&job_gen, 1);
    wake_all(&job_gen);
    task(context, 0);
    for (unsigned d; (d = atomic_load(&done_count)) != (unsigned)(parts - 1);) wait_change(&done_count, d);
    pthread_mutex_unlock(&job_lock);
    return 0;
}

void fck_barrier(long parts) {
    if (parts <= 1) return;
    const unsigned gen = atomic_load(&barrier_gen);
    if (atomic_fetch_add(&barrier_count, 1) == parts - 1) {
        atomic_store(&barrier_count, 0);
        atomic_fetch_add(&barrier_gen, 1);
        wake_all(&barrier_gen);
    } else {
        wait_change(&barrier_gen, gen);
    }
}
