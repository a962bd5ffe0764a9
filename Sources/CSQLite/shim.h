#ifndef FCSTORE_CSQLITE_SHIM_H
#define FCSTORE_CSQLITE_SHIM_H
#include <sqlite3.h>

/// sqlite3_db_config is variadic, so Swift cannot call it: one wrapper per shape used.
static inline int fcstore_sqlite3_db_config_int(sqlite3 *db, int op, int value, int *out) {
    return sqlite3_db_config(db, op, value, out);
}

/// SQLITE_TRANSIENT is a macro over a cast that Swift cannot import.
static inline sqlite3_destructor_type fcstore_sqlite3_transient(void) {
    return SQLITE_TRANSIENT;
}
#endif
