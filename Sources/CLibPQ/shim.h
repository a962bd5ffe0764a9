#ifndef FCSTORE_CLIBPQ_SHIM_H
#define FCSTORE_CLIBPQ_SHIM_H
#include <libpq-fe.h>

/// A notice processor that drops server notices (libpq's default prints them to stderr).
static void fcstore_pq_ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static inline void fcstore_pq_silence_notices(PGconn *conn) {
    PQsetNoticeProcessor(conn, fcstore_pq_ignore_notice, 0);
}
#endif
