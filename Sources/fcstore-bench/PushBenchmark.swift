import ArgumentParser
import FCCore
import FCNet
import FCPostgres
import FCSQLite
import FCStorage
import Foundation

/// Pushes a 20-epoch 784-1024-1024-10 run (about 150 MB of tensors) from a
/// temporary SQLite store to DEST, then pushes it again (nothing to send). With a
/// PostgreSQL DEST, each round pushes into a new database on that server, beside a
/// plain binary COPY of the same bytes into a scratch table, in alternating order.
struct PushBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push throughput: a 20-epoch 784-1024-1024-10 run from SQLite to DEST, then the same push again.")

    @Argument(help: ArgumentHelp("The destination store (default: a new SQLite file beside the source).", valueName: "dest"))
    var destination: String?

    @Option(help: "Epochs of the run (epoch 0 included: epochs + 1 checkpoints).")
    var epochs = 20

    @Option(help: "Layer sizes, input first.")
    var layers = "784,1024,1024,10"

    @Option(help: "Folder for the temporary stores (default: the system temporary folder).")
    var folder: String?

    @Option(help: "Rounds (PostgreSQL DEST: push and COPY alternate which goes first).")
    var rounds = 1

    private var sizes: [Int] { layers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1.") }
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--layers needs at least two positive sizes.") }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: folder ?? NSTemporaryDirectory()).appendingPathComponent("fcstore-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourcePath = directory.appendingPathComponent("source.db").path
        let source = try Store(path: sourcePath)
        var generator = Xoshiro256(seed: 20_261_206)
        let run = try source.createRun(name: "bench", config: #"{"layers":[\#(layers)]}"#, seed: 1, status: .completed)
        for epoch in 0...epochs {
            try source.appendCheckpoint(runID: run.id, makeCheckpoint(epoch: epoch, generator: &generator))
        }
        let isPostgres = destination.map(Store.isPostgresURI) ?? false
        print("run \(layers), \(epochs + 1) checkpoints; destination \(destination.map(Store.displayLocation) ?? "SQLite file")")
        // The same bytes the push sends, read before any timing, for the COPY.
        let blobs = isPostgres ? try readBlobs(sourcePath) : []
        var ratios: [Double] = []
        for round in 0..<max(1, rounds) {
            var target = destination ?? directory.appendingPathComponent("dest-\(round).db").path
            var scratch: String?
            if let destination, isPostgres {
                scratch = "fcstore_bench_\(UUID().uuidString.prefix(8).lowercased())"
                try PostgresConnection(uri: destination).execute("CREATE DATABASE \(scratch ?? "")")
                target = try Self.uri(destination, database: scratch ?? "")
            }
            defer {
                if let destination, let scratch, let admin = try? PostgresConnection(uri: destination) {
                    _ = try? admin.execute("DROP DATABASE IF EXISTS \(scratch) WITH (FORCE)")
                }
            }
            var copyRate: Double?
            if isPostgres, round % 2 == 1 { copyRate = try copy(blobs, into: target) }
            let pushRate = try push(source: source, runID: run.id, to: target)
            if isPostgres, round % 2 == 0 { copyRate = try copy(blobs, into: target) }
            if let copyRate {
                ratios.append(pushRate / copyRate)
                print(String(format: "round %d (%@ first): push/COPY = %.2f", round + 1, round % 2 == 0 ? "push" : "COPY",
                             pushRate / copyRate))
            }
        }
        if !ratios.isEmpty {
            print(String(format: "push/COPY over %d rounds: %@ (goal: at least 0.5)", ratios.count,
                         ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
        }
    }

    /// One first push and one second push of the run into the store at `target`; the first's MB/s.
    private func push(source: Store, runID: String, to target: String) throws -> Double {
        let dest = try Store(path: target)
        var start = DispatchTime.now()
        let first = try Transfer(from: source, to: dest).run(runIDs: [runID])
        let firstSeconds = seconds(since: start)
        let megabytes = Double(first.bytesSent) / 1e6
        print(String(format: "  first push: %d checkpoints, %d blobs, %.1f MB in %.2f s = %.0f MB/s", first.checkpointsSent,
                     first.blobsSent, megabytes, firstSeconds, megabytes / firstSeconds))
        start = DispatchTime.now()
        let second = try Transfer(from: source, to: dest).run(runIDs: [runID])
        let secondSeconds = seconds(since: start)
        print(String(format: "  second push: %d checkpoints, %d blobs, %lld bytes in %.2f ms (goal: 0 blobs, under 1 s)",
                     second.checkpointsSent, second.blobsSent, second.bytesSent, secondSeconds * 1000))
        guard second.blobsSent == 0, second.checkpointsSent == 0 else { throw ValidationError("the second push sent something") }
        return megabytes / firstSeconds
    }

    /// The source's blobs (hash, bytes), as the push reads them.
    private func readBlobs(_ path: String) throws -> [(hash: [UInt8], bytes: [UInt8])] {
        let db = try Database(path: path, readOnly: true, busyTimeoutMilliseconds: 5000)
        var blobs: [(hash: [UInt8], bytes: [UInt8])] = []
        try db.prepare("SELECT hash, data FROM blobs ORDER BY id").forEachRow { row in
            blobs.append((row.bytes(at: row.column("hash")), row.bytes(at: row.column("data"))))
        }
        return blobs
    }

    /// A plain binary COPY of `blobs` into a scratch table shaped like `blobs` (its
    /// data column stored EXTERNAL too), one transaction per 16 MB as the push
    /// batches them; MB/s.
    private func copy(_ blobs: [(hash: [UInt8], bytes: [UInt8])], into uri: String) throws -> Double {
        let connection = try PostgresConnection(uri: uri)
        try connection.execute("""
            CREATE TABLE fcstore_bench_copy (hash bytea NOT NULL, size bigint NOT NULL, data bytea);
            ALTER TABLE fcstore_bench_copy ALTER COLUMN data SET STORAGE EXTERNAL
            """)
        defer { _ = try? connection.execute("DROP TABLE IF EXISTS fcstore_bench_copy") }
        let start = DispatchTime.now()
        var bytes: Int64 = 0
        var batch: [[PostgresValue]] = []
        var batchBytes = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            try connection.execute("BEGIN")
            try connection.copyBinary("COPY fcstore_bench_copy (hash, size, data) FROM STDIN (FORMAT binary)", rows: batch)
            try connection.execute("COMMIT")
            batch = []
            batchBytes = 0
        }
        for blob in blobs {
            if batchBytes > 0, batchBytes + blob.bytes.count > 16 << 20 { try flush() }
            batch.append([.bytea(blob.hash), .int8(Int64(blob.bytes.count)), .bytea(blob.bytes)])
            batchBytes += blob.bytes.count
            bytes += Int64(blob.bytes.count)
        }
        try flush()
        let elapsed = seconds(since: start)
        let megabytes = Double(bytes) / 1e6
        print(String(format: "  binary COPY of the same bytes: %d rows, %.1f MB in %.2f s = %.0f MB/s", blobs.count, megabytes,
                     elapsed, megabytes / elapsed))
        return megabytes / elapsed
    }

    /// `uri` naming the database `database` instead.
    static func uri(_ uri: String, database: String) throws -> String {
        guard let scheme = uri.range(of: "://") else { throw ValidationError("DEST is not a URI.") }
        let rest = uri[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return uri + "/" + database }
        let end = rest[slash...].firstIndex(where: { $0 == "?" || $0 == "#" }) ?? rest.endIndex
        return String(uri[..<rest.index(after: slash)]) + database + uri[end...]
    }

    private func makeCheckpoint(epoch: Int, generator: inout Xoshiro256) throws -> CheckpointInput {
        var tensors: [CheckpointTensor] = []
        for layer in 1..<sizes.count {
            let rows = sizes[layer], columns = sizes[layer - 1]
            tensors.append(CheckpointTensor(layer: layer, role: TensorRole.weight,
                                            value: try TensorValue(shape: [rows, columns], values: generator.floats(rows * columns))))
            tensors.append(CheckpointTensor(layer: layer, role: TensorRole.bias,
                                            value: try TensorValue(shape: [rows], values: generator.floats(rows))))
        }
        return CheckpointInput(epoch: epoch, tensors: tensors, metrics: ["train_loss": 1 / Double(epoch + 1)],
                               optimizerState: #"{"kind":"sgd","step":\#(epoch)}"#, rngState: Array(repeating: 7, count: 32))
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}
