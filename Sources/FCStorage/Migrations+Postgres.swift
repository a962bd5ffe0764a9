import FCPostgres
import Foundation

extension Migrations {
    /// The PostgreSQL migrations embedded from `migrations-postgres/`, in name order.
    public static var embeddedPostgres: [(name: String, sql: String)] { EmbeddedMigrations.postgresFiles }
}

/// Opens a PostgreSQL store: identifies the database, configures the session
/// and applies pending migrations (`migrations-postgres/`). Nothing is written
/// before the database is known to be an fcstore store or to hold no tables.
struct PostgresMigrator {
    let migrations: [Migration]
    var latestVersion: Int { migrations.last?.version ?? 0 }

    init(files: [(name: String, sql: String)] = EmbeddedMigrations.postgresFiles) throws {
        migrations = try Migration.parse(files)
    }

    /// What the database holds before anything is written.
    struct State {
        var tables: Int64
        var marked: Bool
        var version: Int64
    }

    func inspect(_ db: Connection) throws -> State {
        let tables = try db.scalar("""
            SELECT count(*) FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
            """)?.int64 ?? 0
        let marked = try db.hasTable("fcstore_application")
            && (try db.scalar("SELECT count(*) FROM fcstore_application WHERE application_id = ?", [.integer(Migrator.applicationID)])?.int64 ?? 0) == 1
        let version = try db.hasTable("schema_migrations")
            ? try db.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations")?.int64 ?? 0 : 0
        return State(tables: tables, marked: marked, version: version)
    }

    /// Checks and migrates the store; `path` is the URI without its password.
    /// Session settings: `synchronous_commit = on` (a commit returns once its WAL
    /// is on disk, whatever the server's default), notices above warnings only.
    /// - Returns: the schema version after opening.
    func prepare(_ db: Connection, path: String, readOnly: Bool) throws -> Int {
        try db.execute("SET synchronous_commit = on; SET client_min_messages = warning")
        var state = try inspect(db)
        try refuseForeign(state, path: path)
        if state.version > 0 { try verifyApplied(db, path: path) }
        if readOnly {
            // A read-only open cannot write by accident: the server refuses every write of the session.
            try db.execute("SET default_transaction_read_only = on")
            guard state.version == Int64(latestVersion) || state.version >= Int64(Migrator.oldestReadableVersion) else {
                throw StoreError.needsMigration(path: path, version: Int(state.version), latest: latestVersion)
            }
            return Int(state.version)
        }
        guard state.version < Int64(latestVersion) else { return Int(state.version) }
        try db.writeTransaction {
            // One migrator at a time, for the whole transaction; then look again.
            try db.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Migrator.applicationID)])
            state = try inspect(db)
            try refuseForeign(state, path: path)
            try db.execute(Migrator.schemaMigrationsSQL)
            for migration in migrations where Int64(migration.version) > state.version {
                try db.execute(migration.sql)
                try db.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                               [.integer(Int64(migration.version)), .text(migration.name), .text(migration.checksum),
                                .text(StoreTimestamp.now())])
            }
        }
        return latestVersion
    }

    private func refuseForeign(_ state: State, path: String) throws {
        if !state.marked && state.tables > 0 {
            throw StoreError.notAStore(path: path, reason: "it is a PostgreSQL database of another application (it has tables but no fcstore_application marker)")
        }
        if state.version > Int64(latestVersion) || state.version < 0 {
            throw StoreError.newerStore(path: path, version: Int(truncatingIfNeeded: state.version), supported: latestVersion)
        }
    }

    /// Refuses a store in which an applied migration differs from the embedded one.
    private func verifyApplied(_ db: Connection, path: String) throws {
        let statement = try db.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        try statement.forEachRow { row in
            let version = row.int(at: row.column("version"))
            let name = row.string(at: row.column("name"))
            let checksum = row.string(at: row.column("checksum"))
            guard let embedded = migrations.first(where: { $0.version == version }) else {
                throw StoreError.newerStore(path: path, version: version, supported: latestVersion)
            }
            guard embedded.name == name, embedded.checksum == checksum else {
                throw StoreError.modifiedMigration(name: name)
            }
        }
    }
}
