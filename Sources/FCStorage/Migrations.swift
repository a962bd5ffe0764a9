import FCSQLite
import CSQLite
import Foundation

/// The schema migrations embedded from the top-level `migrations/` folder.
public enum Migrations {
    /// The embedded files, in name order, exactly as they are in the folder.
    public static var embedded: [(name: String, sql: String)] { EmbeddedMigrations.files }

    /// The schema version this build writes (the number of the last migration).
    public static var latestVersion: Int { (try? Migration.parse(EmbeddedMigrations.files).last?.version) ?? 0 }
}

/// One numbered migration file, `NNNN_title.sql`.
struct Migration {
    let version: Int
    let name: String
    let sql: String
    /// Lowercase hex SHA-256 of the file's UTF-8 text, recorded when applied.
    let checksum: String

    /// Parses and orders files named `NNNN_title.sql`, numbered 1, 2, 3... without gaps.
    static func parse(_ files: [(name: String, sql: String)]) throws -> [Migration] {
        var migrations: [Migration] = []
        for file in files {
            let digits = file.name.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let version = Int(digits), file.name.dropFirst(digits.count).hasPrefix("_"),
                  file.name.hasSuffix(".sql") else {
                throw StoreError.invalidMigration("The migration file name \(file.name) is not of the form NNNN_title.sql.")
            }
            migrations.append(Migration(version: version, name: file.name, sql: file.sql,
                                        checksum: SHA256Hasher.hex(SHA256Hasher.hash(file.sql))))
        }
        migrations.sort { $0.version < $1.version }
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw StoreError.invalidMigration("The migrations must be numbered 1, 2, 3... without gaps or duplicates, but \(migration.name) is number \(index + 1).")
        }
        return migrations
    }
}

/// Opens a store file: identifies it, configures the connection, and applies
/// pending migrations. Nothing is written before the file is known to be an
/// fcstore store (or an empty file) of a version this build understands.
struct Migrator {
    /// `PRAGMA application_id` of every fcstore file: 'FCST'.
    static let applicationID: Int64 = 0x4643_5354

    /// The oldest schema this build reads as it is when it may not write (a
    /// read-only open, a file or folder without write permission). Migration
    /// 0002 only adds an index, so a version 1 store reads the same, a little
    /// slower; raise this when a migration changes what the queries need.
    static let oldestReadableVersion = 1

    /// The table the runner records applied migrations in (created with the first one).
    static let schemaMigrationsSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """

    let migrations: [Migration]
    var latestVersion: Int { migrations.last?.version ?? 0 }

    init(files: [(name: String, sql: String)] = EmbeddedMigrations.files) throws {
        migrations = try Migration.parse(files)
    }

    /// Checks and migrates `db`, which was just opened on `path`.
    ///
    /// Order: read `application_id`, `user_version` and whether the file has
    /// any schema (reads only); refuse foreign, newer or modified stores; only
    /// then set `page_size` (new files), `journal_mode=WAL`, `synchronous=FULL`,
    /// `foreign_keys=ON`, `secure_delete=FAST`, and apply each pending migration
    /// in its own `BEGIN IMMEDIATE` transaction with `PRAGMA user_version`
    /// (unless the file cannot be written and is at least `oldestReadableVersion`).
    func prepare(_ db: Database, path: String, readOnly: Bool, pageSize: Int) throws {
        let applicationID: Int64
        let userVersion: Int64
        let schemaObjects: Int64
        do {
            applicationID = try db.scalar("PRAGMA application_id")?.int64 ?? 0
            userVersion = try db.scalar("PRAGMA user_version")?.int64 ?? 0
            schemaObjects = try db.scalar("SELECT count(*) FROM sqlite_schema")?.int64 ?? 0
        } catch let error as SQLiteError where error.code == ResultCode.notADatabase || error.code == ResultCode.corrupt {
            throw StoreError.notAStore(path: path, reason: "it is not an SQLite database")
        }
        let isNew = applicationID == 0 && schemaObjects == 0 && userVersion == 0
        if applicationID != Self.applicationID && !isNew {
            let reason = applicationID == 0
                ? "it is an SQLite database of another application (it has tables but no fcstore application_id)"
                : "it is an SQLite database of another application (application_id 0x\(String(UInt32(truncatingIfNeeded: applicationID), radix: 16)), not fcstore's 0x46435354)"
            throw StoreError.notAStore(path: path, reason: reason)
        }
        if userVersion > Int64(latestVersion) || userVersion < 0 {
            throw StoreError.newerStore(path: path, version: Int(truncatingIfNeeded: userVersion), supported: latestVersion)
        }
        if schemaObjects > 0 { try verifyApplied(db) }
        if readOnly {
            guard userVersion == Int64(latestVersion) || userVersion >= Int64(Self.oldestReadableVersion) else {
                throw StoreError.needsMigration(path: path, version: Int(userVersion), latest: latestVersion)
            }
            try db.execute("PRAGMA foreign_keys = ON")
            return
        }

        if isNew {
            // Applies only before the first table exists (and before WAL is set up).
            try db.execute("PRAGMA page_size = \(pageSize)")
        }
        let journalMode = try db.scalar("PRAGMA journal_mode")?.string?.lowercased()
        if journalMode != "wal" {
            let newMode = try Self.retryingWhileBusy { try db.scalar("PRAGMA journal_mode = WAL")?.string?.lowercased() }
            guard newMode == "wal" else {
                throw StoreError.invalidInput("The store \(path) cannot use write-ahead logging (journal_mode is \(newMode ?? "unknown")); put it on a local file system.")
            }
        }
        try db.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST")

        if userVersion < Int64(latestVersion), userVersion >= Int64(Self.oldestReadableVersion), db.isReadOnly {
            // A file this process may not write: read it as it is; the first
            // open that may write migrates it.
            return
        }
        for migration in migrations where Int64(migration.version) > userVersion {
            try apply(migration, to: db)
        }
    }

    /// Runs `body` again while it fails with SQLITE_BUSY, for up to `seconds`.
    /// Changing the journal mode needs an exclusive lock and SQLite does not
    /// call the busy handler for it, so two processes creating the same new
    /// store at once would otherwise fail with "database is locked".
    static func retryingWhileBusy<T>(seconds: Double = 5, _ body: () throws -> T) throws -> T {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while true {
            do {
                return try body()
            } catch let error as SQLiteError where error.code == ResultCode.busy && ContinuousClock.now < deadline {
                usleep(10_000)
            }
        }
    }

    /// Applies one migration unless another connection already did.
    private func apply(_ migration: Migration, to db: Database) throws {
        try db.writeTransaction {
            // Re-read inside the write lock: another process may have migrated meanwhile.
            let current = try db.scalar("PRAGMA user_version")?.int64 ?? 0
            guard current < Int64(migration.version) else { return }
            guard current == Int64(migration.version - 1) else {
                throw StoreError.invalidMigration("The store is at schema version \(current) and cannot take migration \(migration.name).")
            }
            try db.execute(Self.schemaMigrationsSQL)
            try db.execute(migration.sql)
            try db.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                           [.integer(Int64(migration.version)), .text(migration.name), .text(migration.checksum), .text(StoreTimestamp.now())])
            try db.execute("PRAGMA user_version = \(migration.version)")
            if migration.version == 1 {
                try db.execute("PRAGMA application_id = \(Self.applicationID)")
            }
        }
    }

    /// Refuses a store in which an applied migration differs from the embedded one.
    private func verifyApplied(_ db: Database) throws {
        let exists = try db.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'")?.int64 ?? 0
        guard exists > 0 else { return }
        let statement = try db.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        try statement.forEachRow { row in
            let version = row.int(at: 0)
            let name = row.string(at: 1)
            let checksum = row.string(at: 2)
            guard let embedded = migrations.first(where: { $0.version == version }) else {
                throw StoreError.newerStore(path: db.path, version: version, supported: latestVersion)
            }
            guard embedded.name == name, embedded.checksum == checksum else {
                throw StoreError.modifiedMigration(name: name)
            }
        }
    }
}
