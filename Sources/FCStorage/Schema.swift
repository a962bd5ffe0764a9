import FCSQLite

/// The tables the Swift side writes and reads, each column list written once:
/// the runs and checkpoints columns, the statements that insert or copy rows
/// from named values, and the row mapper that reads a run by column name. A new
/// column is added here (and in a migration), not at every INSERT.
enum Schema {
    /// A column and the value written to it.
    typealias Field = (column: String, value: SQLValue)

    /// `INSERT INTO table (columns) VALUES (?, ...)` with its arguments, in the order of `fields`.
    static func insert(into table: String, _ fields: [Field]) -> (sql: String, arguments: [SQLValue]) {
        ("INSERT INTO \(table) (\(fields.map(\.column).joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: fields.count).joined(separator: ", ")))",
         fields.map(\.value))
    }

    /// `INSERT INTO target (columns) SELECT ... FROM source WHERE filter`: each
    /// column copied as it is, or as the SQL expression `replacing` gives for it.
    static func copy(_ columns: [String], into target: String, from source: String, replacing: [String: String] = [:],
                     where filter: String) -> String {
        "INSERT INTO \(target) (\(columns.joined(separator: ", "))) SELECT \(columns.map { replacing[$0] ?? $0 }.joined(separator: ", ")) FROM \(source) WHERE \(filter)"
    }

    enum Runs {
        /// Every column of `runs` the store writes.
        static let columns = ["id", "name", "created_at", "status", "config", "seed", "parent_run_id", "parent_epoch", "owner", "digest"]
        /// The columns a `RunRecord` is read from, as a SELECT list.
        static let recordColumns = "id, name, created_at, status, config, seed, parent_run_id, parent_epoch, owner"

        /// The fields of a new `runs` row.
        static func row(id: String, name: String?, createdAt: String, status: String, config: String, seed: UInt64,
                        parent: CheckpointLocation?, owner: String?, digest: [UInt8]) -> [Field] {
            [("id", .text(id)), ("name", name.map(SQLValue.text) ?? .null), ("created_at", .text(createdAt)),
             ("status", .text(status)), ("config", .text(config)), ("seed", .integer(Int64(bitPattern: seed))),
             ("parent_run_id", parent.map { .text($0.runID) } ?? .null),
             ("parent_epoch", parent.map { .integer(Int64($0.epoch)) } ?? .null),
             ("owner", owner.map(SQLValue.text) ?? .null), ("digest", .blob(digest))]
        }

        /// A run read by column name from a row holding `recordColumns`.
        static func record(_ row: Statement) throws -> RunRecord {
            let parentID = row.optionalString(at: row.column("parent_run_id"))
            let parentEpoch = try row.optionalInt(at: row.column("parent_epoch"), in: StoreLimits.epochs, field: "runs.parent_epoch")
            return RunRecord(
                id: row.string(at: row.column("id")),
                name: row.optionalString(at: row.column("name")),
                createdAt: StoreTimestamp.date(row.string(at: row.column("created_at"))),
                status: RunStatus(rawValue: row.string(at: row.column("status"))) ?? .interrupted,
                config: row.string(at: row.column("config")),
                seed: UInt64(bitPattern: row.int64(at: row.column("seed"))),
                parent: parentID.flatMap { id in parentEpoch.map { CheckpointLocation(runID: id, epoch: $0) } },
                owner: row.optionalString(at: row.column("owner")))
        }
    }

    enum Checkpoints {
        /// The columns of `checkpoints` a copy of a row carries (all but `id`);
        /// `origin_run_id` exists from migration 0004 on (`Store.hasHeads`).
        static func columns(withOrigin: Bool) -> [String] {
            ["run_id", "epoch", "created_at", "digest", "parent_digest", "optimizer_state", "rng_state", "pruned_at"]
                + (withOrigin ? ["origin_run_id"] : [])
        }

        /// The fields of a new `checkpoints` row.
        static func row(runID: String, epoch: Int, createdAt: String, digest: [UInt8], parentDigest: [UInt8]?,
                        optimizerState: String, rngState: [UInt8], prunedAt: SQLValue? = nil, originRunID: SQLValue? = nil) -> [Field] {
            var fields: [Field] = [("run_id", .text(runID)), ("epoch", .integer(Int64(epoch))), ("created_at", .text(createdAt)),
                                   ("digest", .blob(digest)), ("parent_digest", parentDigest.map(SQLValue.blob) ?? .null),
                                   ("optimizer_state", .text(optimizerState)), ("rng_state", .blob(rngState))]
            if let prunedAt { fields.append(("pruned_at", prunedAt)) }
            if let originRunID { fields.append(("origin_run_id", originRunID)) }
            return fields
        }
    }

    enum Tensors {
        /// The columns of `tensors` a copy of a checkpoint's tensor row carries (all but `checkpoint_id`).
        static let columns = ["layer", "role", "shape", "dtype", "hash"]
    }

    enum Metrics {
        /// The columns of `metrics` a copy of a checkpoint's metric row carries (all but `checkpoint_id`).
        static let columns = ["name", "value"]
    }
}
