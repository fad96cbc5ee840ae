// CSQLite: libsqlite3 for Swift. Only Runtime/Storage imports this module.
#ifndef CSQLITE_SHIM_H
#define CSQLITE_SHIM_H
// The session extension (change capture for the commit journal) is compiled into Debian's libsqlite3;
// its declarations are only visible with these defined.
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a function pointer; Swift cannot import it.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_db_config is variadic; Swift cannot call it. Defensive mode stops SQL from corrupting the
/// file on purpose (writable_schema, journal_mode=OFF, ...).
static inline int csqlite_enable_defensive(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
}

/// Closing a database then does no checkpoint (and so no fsync): its WAL stays, already durable.
static inline int csqlite_disable_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

/// Lookaside: per-connection slots SQLite serves small allocations from. The default (about 120 KiB
/// per connection) is sized for one big connection, not thousands of small ones.
static inline int csqlite_set_lookaside(sqlite3 *db, int slotBytes, int slots) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, (void *)0, slotBytes, slots);
}

/// The same as PRAGMA foreign_keys=ON, without parsing a statement at every open.
static inline int csqlite_enable_foreign_keys(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, 1, (int *)0);
}
/// Process-wide memory settings, before SQLite initializes: no global memory statistics (each
/// allocation would take a process-wide mutex) and no up-front page-cache block per connection
/// (SQLite's default is 20 pages, about 86 KiB, for every open database even when it uses two pages).
static inline int csqlite_configure_memory(void) {
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0);
}

/// A file of the runtime's pooled VFS: SQLite's base struct, then the Swift object that holds the
/// file's path and, while it has one, its descriptor.
typedef struct csqlite_pooled_file {
    sqlite3_file base;
    void *owner;
} csqlite_pooled_file;

static inline void *csqlite_pooled_owner(sqlite3_file *file) {
    return ((csqlite_pooled_file *)file)->owner;
}

static inline void csqlite_pooled_attach(sqlite3_file *file, const sqlite3_io_methods *methods, void *owner) {
    ((csqlite_pooled_file *)file)->base.pMethods = methods;
    ((csqlite_pooled_file *)file)->owner = owner;
}

static inline int csqlite_pooled_file_size(void) { return (int)sizeof(csqlite_pooled_file); }
#endif
