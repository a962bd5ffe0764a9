import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// Bad input and tampering: fast versions of Tests/reliability/badinput.py
/// and tamper.py.
final class ReliabilityInputTests: XCTestCase {
    /// XCTest makes a new instance for every test, so every test has its own folder.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fcstore-cli-\(UUID().uuidString)")
    var store: String { directory.appendingPathComponent("store.db").path }

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A store with one root run (Adam) and a fork, WAL checkpointed away.
    private func makeStore() throws -> String {
        let data = try Reliability.digits(rows: 64, in: directory)
        let trained = try Reliability.run(["--store", store, "train", "--data", data, "--layers", "6,10", "--optimizer", "adam",
                                           "--epochs", "3", "--validation-split", "0.25"], in: directory)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let run = String(trained.stdout.split(separator: "\n").last ?? "").prefix(8)
        let fork = try Reliability.run(["--store", store, "resume", "\(run)@1", "--epochs", "2", "--learning-rate", "0.01"],
                                       in: directory)
        XCTAssertEqual(fork.status, 0, fork.stderr)
        _ = try Reliability.run(["--store", store, "runs"], in: directory)
        return String(run)
    }

    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    // MARK: Bad input

    /// Broken CSV and IDX files given to `train`: one error line, exit 1, no
    /// crash, and the store unchanged.
    func testBadTrainingDataIsRefusedInOneLine() throws {
        _ = try makeStore()
        var random = SplitMix64(seed: 7)
        let garbage = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &random) }
        let tenMB = [UInt8](repeating: UInt8(ascii: "7"), count: 10 << 20)
        var longLine = [UInt8]()
        longLine.reserveCapacity(10 << 20)
        while longLine.count < 10 << 20 { longLine += Array("1.5,".utf8) }
        let idxHeader: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]
        let cases: [(String, [UInt8])] = [
            ("ragged.csv", Array("a,b,label\n1,2,0\n1,0\n".utf8)),
            ("non-numeric.csv", Array("a,b,label\n1,x,0\n".utf8)),
            ("nan.csv", Array("a,b,label\n1,nan,0\n".utf8)),
            ("inf.csv", Array("a,b,label\n1,inf,0\n".utf8)),
            ("label-out-of-range.csv", Array("a,b,label\n1,2,12\n".utf8)),
            ("negative-label.csv", Array("a,b,label\n1,2,-1\n".utf8)),
            ("fractional-label.csv", Array("a,b,label\n1,2,0.5\n".utf8)),
            ("empty.csv", []),
            ("header-only.csv", Array("a,b,label\n".utf8)),
            ("blank-lines.csv", Array("\n\n\n".utf8)),
            ("one-10MB-line.csv", longLine),
            ("10MB-single-cell.csv", tenMB),
            ("garbage.csv", garbage),
            ("nul-bytes.csv", Array("a,b,label\n1,\u{0}2,0\n".utf8)),
            ("unterminated-quote.csv", Array("a,b,label\n\"1,2,0\n".utf8)),
            ("truncated-idx3-ubyte", idxHeader + [1, 2, 3]),
            ("huge-dims-idx3-ubyte", [0, 0, 8, 3, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]),
            ("no-labels-idx3-ubyte", idxHeader + [UInt8](repeating: 0, count: 2 * 28 * 28)),
        ]
        let before = try Reliability.fingerprint(store, in: directory)
        for (name, bytes) in cases {
            let path = try write(name, bytes)
            let outcome = try Reliability.run(["--store", store, "train", "--data", path, "--layers", "4,10", "--epochs", "1"],
                                              in: directory)
            Reliability.assertRefused(outcome, name)
        }
        // An IDX image file whose label file disagrees in count.
        let images = try write("mismatch-images-idx3-ubyte", idxHeader + [UInt8](repeating: 1, count: 2 * 28 * 28))
        let labels = try write("mismatch-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2])
        Reliability.assertRefused(try Reliability.run(["--store", store, "train", "--data", images, "--labels", labels,
                                                        "--layers", "4,10", "--epochs", "1"], in: directory), "idx count mismatch")
        XCTAssertEqual(try Reliability.fingerprint(store, in: directory), before, "a refused train changed the store")
    }

    /// Malformed model files and bundles given to `import`, and a store of a
    /// newer schema version: one error line, exit 1, nothing changed.
    func testBadModelFilesBundlesAndNewerStoresAreRefused() throws {
        let run = try makeStore()
        let safetensors = directory.appendingPathComponent("model.safetensors").path
        let npz = directory.appendingPathComponent("model.npz").path
        let bundle = directory.appendingPathComponent("runs.fcbundle").path
        for (format, output) in [("safetensors", safetensors), ("npz", npz), ("bundle", bundle)] {
            let exported = try Reliability.run(["--store", store, "export", run, "--format", format, "--output", output], in: directory)
            XCTAssertEqual(exported.status, 0, exported.stderr)
        }
        let validSafetensors = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: safetensors), "no export at \(safetensors)"))
        let validNPZ = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: npz), "no export at \(npz)"))
        let validBundle = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: bundle), "no export at \(bundle)"))
        // A flipped bit among the metric rows (the last bytes of the metrics
        // table's one page hold its cells): SQLite's structure check passes,
        // the digests must not. (Pages of indexes the import never reads
        // would be a harmless place to flip.)
        var flippedBundle = validBundle
        do {
            let db = try Database(path: bundle, readOnly: true, busyTimeoutMilliseconds: 1000)
            let page = try XCTUnwrap(db.scalar("PRAGMA page_size")?.int64)
            let root = try XCTUnwrap(db.scalar("SELECT rootpage FROM sqlite_schema WHERE name = 'metrics'")?.int64)
            XCTAssertEqual(try db.scalar("SELECT count(*) FROM dbstat WHERE name = 'metrics'")?.int64, 1, "metrics fits one page")
            flippedBundle[Int(root * page) - 100] ^= 0x40
        }

        // A bundle whose tensor bytes were changed but whose SQLite pages are valid.
        let tamperedBundle = directory.appendingPathComponent("tampered.fcbundle").path
        try FileManager.default.copyItem(atPath: bundle, toPath: tamperedBundle)
        do {
            let db = try Database(path: tamperedBundle, readOnly: false, busyTimeoutMilliseconds: 1000)
            try db.execute("UPDATE blobs SET data = zeroblob(length(data)) WHERE id = (SELECT min(id) FROM blobs)")
        }
        let newerBundle = directory.appendingPathComponent("newer.fcbundle").path
        try FileManager.default.copyItem(atPath: bundle, toPath: newerBundle)
        do {
            let db = try Database(path: newerBundle, readOnly: false, busyTimeoutMilliseconds: 1000)
            try db.execute("PRAGMA user_version = 99")
        }
        var headerLength = validSafetensors
        headerLength.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        let cases: [(String, [UInt8])] = [
            ("truncated.safetensors", Array(validSafetensors.prefix(validSafetensors.count / 2))),
            ("huge-header.safetensors", headerLength),
            ("header-only.safetensors", Array(validSafetensors.prefix(8))),
            ("truncated.npz", Array(validNPZ.prefix(validNPZ.count - 30))),
            ("flipped.npz", validNPZ.enumerated().map { $0.offset == validNPZ.count / 2 ? $0.element ^ 0xFF : $0.element }),
            ("broken.json", Array("{\"layers\": [".utf8)),
            ("wrong.json", Array("{\"layers\": 3}".utf8)),
            ("truncated.fcbundle", Array(validBundle.prefix(validBundle.count / 2))),
            ("flipped.fcbundle", flippedBundle),
            ("sqlite-header-only.fcbundle", Array("SQLite format 3\0".utf8)),
            ("short", [1, 2, 3]),
        ]
        let before = try Reliability.fingerprint(store, in: directory)
        var paths = try cases.map { try write($0.0, $0.1) }
        paths += [tamperedBundle, newerBundle]
        for path in paths {
            Reliability.assertRefused(try Reliability.run(["--store", store, "import", path], in: directory),
                                      (path as NSString).lastPathComponent)
        }
        XCTAssertEqual(try Reliability.fingerprint(store, in: directory), before, "a refused import changed the store")

        // A store written by a newer schema version: refused, never modified.
        let newer = directory.appendingPathComponent("newer.db").path
        try FileManager.default.copyItem(atPath: store, toPath: newer)
        do {
            let db = try Database(path: newer, readOnly: false, busyTimeoutMilliseconds: 1000)
            try db.execute("PRAGMA user_version = 99")
        }
        let newerBytes = FileManager.default.contents(atPath: newer)
        let data = try Reliability.digits(rows: 16, in: directory)
        for arguments in [["runs"], ["show", run], ["verify"], ["train", "--data", data, "--layers", "4,10", "--epochs", "1"],
                          ["import", safetensors]] {
            let outcome = try Reliability.run(["--store", newer] + arguments, in: directory)
            Reliability.assertRefused(outcome, "newer store: \(arguments[0])")
            XCTAssertTrue(outcome.stderr.contains("schema version 99"), outcome.stderr)
        }
        XCTAssertEqual(FileManager.default.contents(atPath: newer), newerBytes, "the newer store was modified")
    }

    /// A valid safetensors file whose header length ends in the byte 0x20
    /// (here 800 bytes) was taken for JSON by `import` and refused.
    func testSafetensorsWhoseHeaderLengthLooksLikeJSONImports() throws {
        let file = CLI.packageRoot.appendingPathComponent("Tests/reliability/corpus/safetensors/iris-4-3-3.safetensors").path
        let bytes = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: file)))
        XCTAssertEqual(bytes[0], UInt8(ascii: " "))
        let outcome = try Reliability.run(["--store", store, "import", file], in: directory)
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        XCTAssertTrue(outcome.stderr.contains("(safetensors, 4-3-3)"), outcome.stderr)
    }

    /// The fuzz targets' seed corpora (Tests/reliability/corpus) replay through
    /// the non-fuzzing build of Sources/FuzzTargets without a crash.
    func testFuzzSeedCorporaReplay() throws {
        let binary = CLI.productsDirectory.appendingPathComponent("fcstore-fuzz")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("fcstore-fuzz is not built") }
        for target in ["csv", "safetensors", "npz", "json", "bundle"] {
            let corpus = CLI.packageRoot.appendingPathComponent("Tests/reliability/corpus/\(target)").path
            let result = try Subprocess.run(binary, [target, corpus])
            XCTAssertEqual(result.status, 0, target)
            XCTAssertFalse(result.signalled, target)
        }
    }

    // MARK: Tamper

    /// 100 random single-value changes through raw SQL: `verify` finds every
    /// change SQLite accepts.
    func testVerifyDetectsEveryTamperedValue() throws {
        _ = try makeStore()
        let columns: [(table: String, column: String)] = [
            ("blobs", "hash"), ("blobs", "size"), ("blobs", "data"),
            ("tensors", "layer"), ("tensors", "role"), ("tensors", "shape"), ("tensors", "hash"),
            ("checkpoints", "epoch"), ("checkpoints", "created_at"), ("checkpoints", "digest"), ("checkpoints", "parent_digest"),
            ("checkpoints", "optimizer_state"), ("checkpoints", "rng_state"),
            ("metrics", "name"), ("metrics", "value"),
            ("runs", "created_at"), ("runs", "config"), ("runs", "seed"), ("runs", "parent_epoch"), ("runs", "digest"),
        ]
        var random = SplitMix64(seed: 2024)
        var applied = 0, detected = 0, rejected = 0
        var missed: [String] = []
        let trial = directory.appendingPathComponent("trial.db").path
        for index in 0..<100 {
            try? FileManager.default.removeItem(atPath: trial)
            try FileManager.default.copyItem(atPath: store, toPath: trial)
            let (table, column) = columns[Int.random(in: 0..<columns.count, using: &random)]
            let label = "trial \(index): \(table).\(column)"
            do {
                let db = try Database(path: trial, readOnly: false, busyTimeoutMilliseconds: 1000)
                // metrics and tensors are WITHOUT ROWID tables: address rows by their primary key.
                let key = ["metrics": "checkpoint_id || '/' || name",
                           "tensors": "checkpoint_id || '/' || layer || '/' || role"][table] ?? "rowid"
                var keys: [SQLValue] = []
                try db.prepare("SELECT \(key) FROM \(table)").forEachRow { keys.append($0.value(at: 0)) }
                let row = keys[Int.random(in: 0..<keys.count, using: &random)]
                let old = try db.scalar("SELECT \(column) FROM \(table) WHERE \(key) = ?", [row]) ?? .null
                let new = Self.flip(old, using: &random)
                do {
                    try db.execute("UPDATE \(table) SET \(column) = ? WHERE \(key) = ?", [new, row])
                } catch {
                    rejected += 1
                    continue
                }
            }
            applied += 1
            let findings = try Store(path: trial).verify()
            if findings.isEmpty { missed.append(label) } else { detected += 1 }
        }
        XCTAssertEqual(missed, [], "verify missed \(missed.count) of \(applied) tampered values")
        XCTAssertEqual(detected, applied)
        XCTAssertGreaterThan(applied, 60, "rejected by SQLite: \(rejected)")
    }

    /// A different value of the same storage class: one bit flipped.
    static func flip(_ value: SQLValue, using random: inout SplitMix64) -> SQLValue {
        switch value {
        case .integer(let number): return .integer(number ^ (1 << Int64.random(in: 0..<62, using: &random)))
        case .real(let number): return .real(Double(bitPattern: number.bitPattern ^ (1 << UInt64.random(in: 0..<64, using: &random))))
        case .text(let text):
            var bytes = Array(text.utf8)
            guard !bytes.isEmpty else { return .text("x") }
            let index = Int.random(in: 0..<bytes.count, using: &random)
            bytes[index] = bytes[index] < 0x80 ? bytes[index] ^ (1 << UInt8.random(in: 0..<6, using: &random)) : UInt8(ascii: "?")
            return .text(String(decoding: bytes, as: UTF8.self))
        case .blob(var bytes):
            guard !bytes.isEmpty else { return .blob([0]) }
            bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            return .blob(bytes)
        case .null:
            return .blob((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
    }
}
