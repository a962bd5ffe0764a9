import FCSQLite
import CSQLite
import FCCore
import Foundation

// Bundles: standalone SQLite files holding whole runs, to move history
// between stores. Export copies rows with ATTACH + INSERT ... SELECT; import
// treats the file as hostile and checks everything before writing anything.

extension Store {
    // MARK: Export

    /// Writes the runs `runIDs` (with the ancestors' epochs they inherit) to a
    /// standalone bundle at `path`: a fresh store file (same application_id and
    /// user_version) in rollback-journal mode (`journal_mode=DELETE`) holding
    /// their runs, checkpoints, tensors, metrics and blobs.
    ///
    /// Ancestors are included up to the last epoch a requested run inherits
    /// from them. The file is built under a temporary name in the target's
    /// folder (`ATTACH`, `INSERT ... SELECT` in one transaction over one
    /// snapshot of this store), verified, fsynced, then moved into place with
    /// `link` (or `rename` when overwriting), so `path` never holds a partial
    /// bundle. Statuses "running" are exported as "interrupted" and owners are dropped.
    /// - Throws: `StoreError.noSuchRun`, `.invalidInput` when `path` exists and
    ///   `overwrite` is false or the runs fail verification, `.sqlite`.
    public func exportBundle(runIDs: [String], to path: String, overwrite: Bool = false) throws -> BundleSummary {
        guard !runIDs.isEmpty else { throw StoreError.invalidInput("Name at least one run to export.") }
        // The bundle is written with ATTACH from this store's own connection.
        guard !db.isPostgres else { throw StoreError.sqliteOnly(operation: "bundle export", store: self.path) }
        if !overwrite, FileManager.default.fileExists(atPath: path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil {
            throw StoreError.invalidInput("\(path) already exists. Choose another file, or allow overwriting it.")
        }
        let temporary = AtomicFile.temporaryPath(for: path)
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
        }
        // A fresh store file, switched to a rollback journal before any row is copied.
        do {
            let bundle = try storeErrors { try Database(path: temporary, readOnly: false, busyTimeoutMilliseconds: 0) }
            try storeErrors {
                try Migrator().prepare(bundle, path: temporary, readOnly: false, pageSize: Store.defaultPageSize)
                guard try bundle.scalar("PRAGMA journal_mode = DELETE")?.string?.lowercased() == "delete" else {
                    throw StoreError.invalidInput("The bundle \(temporary) could not be switched to journal_mode=DELETE.")
                }
            }
        }

        var summary = BundleSummary(path: path, runIDs: [], checkpoints: 0, blobs: 0, bytes: 0)
        try storeErrors {
            try db.execute("ATTACH DATABASE ? AS bundle", [.text(temporary)])
            defer { try? db.execute("DETACH DATABASE bundle") }
            try db.execute("PRAGMA bundle.synchronous = FULL")
            // A deferred transaction: one snapshot of this store, write locks only on the bundle.
            try db.readTransaction {
                // Each run in the bundle with the last epoch of its own to copy.
                var upper: [String: Int] = [:]
                var order: [String] = []
                for runID in runIDs {
                    for segment in try lineage(of: runID) {
                        if upper[segment.ownerRunID] == nil { order.append(segment.ownerRunID) }
                        upper[segment.ownerRunID] = max(upper[segment.ownerRunID] ?? segment.upper, segment.upper)
                    }
                }
                // Parents before children, for the foreign key on parent_run_id.
                var depth: [String: Int] = [:]
                for id in order { depth[id] = try lineage(of: id).count }
                order.sort { (depth[$0]!, $0) < (depth[$1]!, $1) }
                for id in order {
                    try db.execute(Schema.copy(Schema.Runs.columns, into: "bundle.runs", from: "main.runs", replacing: [
                        "status": "CASE status WHEN 'running' THEN 'interrupted' ELSE status END", "owner": "NULL",
                    ], where: "id = ?"), [.text(id)])
                    try db.execute(Schema.copy(["id"] + Schema.Checkpoints.columns(withOrigin: true), into: "bundle.checkpoints",
                                               from: "main.checkpoints", replacing: hasHeads ? [:] : ["origin_run_id": "NULL"],
                                               where: "run_id = ? AND epoch <= ?"),
                                   [.text(id), .integer(Int64(clamping: upper[id]!))])
                    summary.checkpoints += Int(db.changes)
                }
                try db.execute("""
                    INSERT INTO bundle.tensors (checkpoint_id, layer, role, shape, dtype, hash)
                    SELECT t.checkpoint_id, t.layer, t.role, t.shape, t.dtype, t.hash
                    FROM main.tensors AS t WHERE t.checkpoint_id IN (SELECT id FROM bundle.checkpoints);
                    INSERT INTO bundle.metrics (checkpoint_id, name, value)
                    SELECT m.checkpoint_id, m.name, m.value
                    FROM main.metrics AS m WHERE m.checkpoint_id IN (SELECT id FROM bundle.checkpoints);
                    """)
                try db.execute("""
                    INSERT INTO bundle.blobs (hash, size, data)
                    SELECT b.hash, b.size, b.data FROM main.blobs AS b
                    WHERE b.hash IN (SELECT t.hash FROM bundle.tensors AS t JOIN bundle.checkpoints AS c ON c.id = t.checkpoint_id
                                     WHERE c.pruned_at IS NULL)
                    """)
                summary.blobs = Int(db.changes)
                summary.runIDs = runIDs + order.filter { !runIDs.contains($0) }
                try exportHeads(order: order, upper: upper)
                try exportSegments(order: order, upper: upper)
                try exportRunMeta()
            }
        }

        // Check what was written (it is what an importer will check), then publish it.
        let findings = try storeErrors { () -> [Finding] in
            let bundle = try Database(path: temporary, readOnly: true, busyTimeoutMilliseconds: 0)
            return try bundle.readTransaction { try Verifier(db: Connection(sqlite: bundle)).verify(runID: nil, sqliteChecks: true) }
        }
        if let first = findings.first {
            throw StoreError.exportFailsVerification(count: findings.count, first: "\(first)")
        }
        // link (without overwrite) fails atomically with EEXIST, so a file created meanwhile is never replaced.
        do {
            try AtomicFile.publish(temporary, as: path, replace: overwrite)
        } catch AtomicFileError.exists {
            throw StoreError.invalidInput("\(path) already exists. Choose another file, or allow overwriting it.")
        } catch let error as AtomicFileError {
            throw StoreError.invalidInput(error.description)
        }
        summary.bytes = Int64(FileSystem.size(path: path) ?? 0)
        return summary
    }

    // MARK: Import

    /// Merges the runs of the bundle at `path` into this store.
    ///
    /// The file is treated as hostile. It is copied (opened with `O_NOFOLLOW`:
    /// a symbolic link is refused) into a private temporary folder, and the
    /// copy is opened `READONLY|NOFOLLOW|EXRESCODE` with
    /// `SQLITE_DBCONFIG_DEFENSIVE`, untrusted schema, triggers and views off,
    /// `cell_size_check=ON`, `mmap_size=0` and `SQLITE_LIMIT_LENGTH` at the
    /// store's 1 GB tensor cap. Then, before anything is written:
    /// `PRAGMA quick_check` first, application_id and user_version (newer is
    /// refused), the schema (every table, column, index and view) equal to
    /// what this build's migrations create at that version, `foreign_key_check`,
    /// and the full `verify` (run and checkpoint digests, chain links, shapes
    /// against sizes, every blob re-hashed).
    ///
    /// The merge is ONE transaction: a run new here is added (its name
    /// suffixed "-2", "-3"... when another run has it, reported in `renamed`);
    /// a run already here must have the same run digest, and every epoch both
    /// hold the same digest, else the whole import is refused; epochs the
    /// bundle has beyond this store's are appended. Blobs are deduplicated by
    /// hash and re-hashed while copied. Importing the same bundle twice
    /// changes nothing the second time.
    /// - Throws: `StoreError.refusedBundle` (the store is unchanged), `.sqlite`.
    public func importBundle(from path: String) throws -> ImportSummary {
        let workspace = try FileSystem.privateTemporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        let copy = workspace + "/bundle.db"
        try FileSystem.copyRefusingLinks(from: path, to: copy) { reason in StoreError.refusedBundle(path: path, reason: reason) }
        let bundle = try openUntrusted(copy, displayPath: path)
        func refuse(_ reason: String) -> StoreError { .refusedBundle(path: path, reason: reason) }

        let snapshot: StoreSnapshot
        do {
            snapshot = try bundle.readTransaction {
                let findings = try Verifier(db: Connection(sqlite: bundle)).verify(runID: nil, sqliteChecks: false)
                var foreignKeyProblems = 0
                try bundle.prepare("PRAGMA foreign_key_check").forEachRow { _ in foreignKeyProblems += 1 }
                if foreignKeyProblems > 0 { throw refuse("\(foreignKeyProblems) of its rows refer to missing rows") }
                let snapshot = try StoreSnapshot(Connection(sqlite: bundle))
                // A run that could not be loaded after import is named first (an all-pruned
                // run also breaks the prune invariants that verification reports).
                for id in snapshot.runOrder {
                    if let problem = snapshot.unusable(runID: id) { throw refuse("its run \(id.prefix(8)) \(problem)") }
                }
                if let first = findings.first {
                    let more = findings.count > 1 ? " (and \(findings.count - 1) more problem\(findings.count > 2 ? "s" : ""))" : ""
                    throw refuse("it fails verification: \(first)\(more)")
                }
                return snapshot
            }
        } catch let error as SQLiteError {
            throw refuse("it could not be read (\(error.message))")
        }
        for run in snapshot.runs.values {
            guard RunStatus(rawValue: run.status) != nil else { throw refuse("run \(run.id.prefix(8)) has an unknown status \"\(run.status)\"") }
        }

        let bundleVersion = Int(try storeErrors { try bundle.scalar("PRAGMA user_version")?.int64 ?? 0 })
        let meta = try storeErrors {
            try bundle.readTransaction {
                try BundleRunMeta(bundle, version: bundleVersion, refuse: refuse)
            }
        }
        return try storeErrors {
            try db.writeTransaction {
                let summary = try merge(snapshot, from: bundle, refuse: refuse)
                try mergeSegments(from: bundle, bundleVersion: bundleVersion, runIDs: summary.runsAdded + summary.runsExtended)
                try mergeRunMeta(meta, summary: summary)
                return summary
            }
        }
    }

    /// Opens a private copy of an untrusted file with every defence on, then
    /// checks that it is an intact fcstore file of this build's schema.
    private func openUntrusted(_ copy: String, displayPath: String) throws -> Database {
        func refuse(_ reason: String) -> StoreError { .refusedBundle(path: displayPath, reason: reason) }
        let bundle: Database
        do {
            bundle = try Database(path: copy, flags: SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, busyTimeoutMilliseconds: 0)
            try bundle.configure(SQLITE_DBCONFIG_DEFENSIVE, 1)
            try bundle.configure(SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0)
            try bundle.configure(SQLITE_DBCONFIG_ENABLE_TRIGGER, 0)
            try bundle.configure(SQLITE_DBCONFIG_ENABLE_VIEW, 0)
            bundle.setLimit(SQLITE_LIMIT_LENGTH, 1_000_000_000)
            bundle.setLimit(SQLITE_LIMIT_SQL_LENGTH, 100_000)
            bundle.setLimit(SQLITE_LIMIT_ATTACHED, 0)
            try bundle.execute("PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0")
        } catch let error as SQLiteError {
            throw refuse("it cannot be opened as an SQLite database (\(error.message))")
        }
        do {
            // The first statement that reads the file.
            var problems: [String] = []
            try bundle.prepare("PRAGMA quick_check").forEachRow { problems.append($0.string(at: 0)) }
            guard problems == ["ok"] else {
                throw refuse("it is damaged (quick_check: \(problems.prefix(3).joined(separator: "; ")))")
            }
        } catch let error as SQLiteError {
            if error.code == ResultCode.notADatabase { throw refuse("it is not an SQLite database") }
            if error.code == ResultCode.corrupt { throw refuse("it is damaged (\(error.message))") }
            throw refuse("it is not a readable SQLite database (\(error.message))")
        }
        return try storeErrors {
            let applicationID = try bundle.scalar("PRAGMA application_id")?.int64 ?? 0
            guard applicationID == Migrator.applicationID else {
                throw refuse("it is not an fcstore bundle (application_id 0x\(String(UInt32(truncatingIfNeeded: applicationID), radix: 16)), not 0x46435354)")
            }
            let version = try bundle.scalar("PRAGMA user_version")?.int64 ?? 0
            let latest = Int64(Migrations.latestVersion)
            guard version <= latest else {
                throw refuse("it was written by a newer fcstore (schema version \(version); this build reads up to \(latest)). Upgrade fcstore to import it")
            }
            guard version >= 1 else {
                throw refuse("it has schema version \(version), and this build imports bundles of versions 1 to \(latest)")
            }
            // An older bundle is read as it is: its schema must be exactly that
            // version's. (The migrations after 0001 add indexes; the rows an
            // import reads do not change.)
            try checkSchema(of: bundle, version: Int(version), refuse: refuse)
            return bundle
        }
    }

    /// Refuses a bundle whose tables, columns, indexes or views differ from
    /// those the embedded migrations 1...`version` create.
    private func checkSchema(of bundle: Database, version: Int, refuse: (String) -> StoreError) throws {
        let reference = try Database(path: ":memory:", readOnly: false, busyTimeoutMilliseconds: 0)
        for migration in try Migrator().migrations where migration.version <= version { try reference.execute(migration.sql) }
        func objects(_ db: Database) throws -> [String: (type: String, sql: String)] {
            var result: [String: (type: String, sql: String)] = [:]
            try db.prepare("SELECT type, name, sql FROM sqlite_schema WHERE name <> 'schema_migrations' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
                .forEachRow { result[$0.string(at: 1)] = ($0.string(at: 0), $0.string(at: 2)) }
            return result
        }
        func columns(_ db: Database, _ table: String) throws -> [String] {
            var names: [String] = []
            let statement = try db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            try statement.bind([.text(table)])
            try statement.forEachRow { names.append($0.string(at: 0)) }
            return names
        }
        let expected = try objects(reference), actual = try objects(bundle)
        for name in ["runs", "checkpoints", "blobs", "tensors", "metrics"] {
            guard actual[name]?.type == "table" else { throw refuse("it has no table \(name)") }
            let want = try columns(reference, name), have = try columns(bundle, name)
            guard want == have else {
                throw refuse("its table \(name) has the columns (\(have.joined(separator: ", "))), not (\(want.joined(separator: ", ")))")
            }
        }
        for (name, object) in expected.sorted(by: { $0.key < $1.key }) where actual[name]?.type != object.type || actual[name]?.sql != object.sql {
            throw refuse("its \(object.type) \(name) differs from fcstore's schema")
        }
        if let extra = actual.keys.sorted().first(where: { expected[$0] == nil }) {
            throw refuse("it has an object \(extra) that fcstore's schema does not define")
        }
    }

    /// Plans the merge (`MergePlan`: refusing conflicts before any write), then
    /// applies it. Runs inside the caller's write transaction.
    private func merge(_ snapshot: StoreSnapshot, from bundle: Database, refuse: (String) -> StoreError) throws -> ImportSummary {
        let plan: MergePlan
        do {
            plan = try MergePlan.make(source: snapshot, target: try mergeTarget(for: snapshot))
        } catch let refusal as MergeRefusal {
            throw refuse(refusal.bundleReason)
        }
        return try apply(plan, snapshot, from: bundle, refuse: refuse)
    }

    /// Writes a bundle's merge plan: runs, then checkpoints with their tensors,
    /// metrics and the blobs this store lacks (streamed and re-hashed), then heads.
    private func apply(_ plan: MergePlan, _ snapshot: StoreSnapshot, from bundle: Database,
                       refuse: (String) -> StoreError) throws -> ImportSummary {
        for new in plan.newRuns {
            let run = new.run
            let status = run.status == RunStatus.running.rawValue ? RunStatus.interrupted.rawValue : run.status
            let insert = Schema.insert(into: "runs", Schema.Runs.row(
                id: run.id, name: new.name, createdAt: run.createdAt, status: status, config: run.config, seed: run.seed,
                parent: run.parent, owner: nil, digest: run.digest))
            try db.execute(insert.sql, insert.arguments)
        }
        let insertTensor = try db.prepare("INSERT INTO tensors (checkpoint_id, layer, role, shape, dtype, hash) VALUES (?, ?, ?, ?, ?, ?)")
        let insertMetric = try db.prepare("INSERT INTO metrics (checkpoint_id, name, value) VALUES (?, ?, ?)")
        let missing = Set(plan.missingBlobs.map(\.hash))
        var copied = Set<[UInt8]>()
        for checkpoint in plan.checkpoints.sorted(by: { ($0.runID, $0.epoch) < ($1.runID, $1.epoch) }) {
            let insert = Schema.insert(into: "checkpoints", Schema.Checkpoints.row(
                runID: checkpoint.runID, epoch: checkpoint.epoch, createdAt: checkpoint.createdAt, digest: checkpoint.digest,
                parentDigest: checkpoint.parentDigest, optimizerState: checkpoint.optimizerState, rngState: checkpoint.rngState,
                prunedAt: checkpoint.prunedAt.map(SQLValue.text) ?? .null, originRunID: checkpoint.originRunID.map(SQLValue.text) ?? .null))
            guard let checkpointID = try db.scalar(insert.sql + " RETURNING id", insert.arguments)?.int64 else {
                throw refuse("a checkpoint row was not written")
            }
            for tensor in checkpoint.tensors {
                try insertTensor.bind([.integer(checkpointID), .integer(Int64(tensor.layer)), .text(tensor.role),
                                       .text(tensor.shapeText), .text(tensor.dtype), .blob(tensor.hash)])
                try insertTensor.step()
                guard !checkpoint.isPruned, missing.contains(tensor.hash), copied.insert(tensor.hash).inserted,
                      let source = snapshot.blobs[tensor.hash] else { continue }
                try copyBlob(from: bundle, rowid: source.id, size: source.size, expecting: tensor.hash, refuse: refuse)
            }
            for (name, value) in checkpoint.metrics {
                try insertMetric.bind([.integer(checkpointID), .text(name), value])
                try insertMetric.step()
            }
        }
        try mergeHeads(snapshot, added: Set(plan.summary.runsAdded), extended: plan.summary.runsExtended)
        return plan.summary
    }

    /// Copies one blob from the bundle into this store, re-hashing it on the way:
    /// SQLite streams it into a zeroblob; PostgreSQL reads it whole (at most 1 GB,
    /// `TensorValue.maximumBytes`) and sends it as one binary parameter.
    private func copyBlob(from bundle: Database, rowid sourceID: Int64, size: Int64, expecting hash: [UInt8],
                          refuse: (String) -> StoreError) throws {
        var hasher = SHA256Hasher()
        guard let store = db.sqlite else {
            guard size >= 0, size <= Int64(TensorValue.maximumBytes) else { throw refuse("a blob is larger than a tensor can be") }
            var bytes = [UInt8](repeating: 0, count: Int(size))
            let complete = try bytes.withUnsafeMutableBytes { try bundle.readBlob(table: "blobs", column: "data", rowid: sourceID, into: $0) }
            hasher.update(bytes)
            guard complete, hasher.finalize() == hash else { throw refuse("a blob changed while it was imported") }
            try bytes.withUnsafeBytes { try db.insertBlob(hash: hash, bytes: $0) }
            return
        }
        try store.execute("INSERT INTO blobs (hash, size, data) VALUES (?1, ?2, zeroblob(?2))", [.blob(hash), .integer(size)])
        let target = try store.openBlob(table: "blobs", column: "data", rowid: store.lastInsertRowID, writable: true)
        var offset = 0
        let total = try bundle.streamBlob(table: "blobs", column: "data", rowid: sourceID) { chunk in
            hasher.update(chunk)
            try target.write(chunk, at: offset)
            offset += chunk.count
        }
        try target.close()
        guard total == target.count, hasher.finalize() == hash else {
            throw refuse("a blob changed while it was imported")
        }
    }
}
