import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// A store with a run "base" of `epochs` epochs and a fork "branch" of it at
/// epoch 1 with two own epochs (2, 3).
struct Lineage {
    let store: Store
    let base: RunRecord
    let fork: RunRecord

    init(path: String, epochs: Int = 4, sizes: [Int] = [5, 4, 3], seed: UInt64 = 1) throws {
        store = try Store(path: path)
        var generator = SplitMix64(seed: seed)
        base = try store.createRun(name: "base", config: #"{"layers":[5,4,3]}"#, seed: 11)
        for epoch in 0..<epochs {
            try store.appendCheckpoint(runID: base.id, checkpointInput(
                epoch: epoch, sizes: sizes, generator: &generator,
                metrics: ["train_loss": 1 / Double(epoch + 1), "val_loss": [3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12][epoch % 12]]))
        }
        try store.setStatus(runID: base.id, .completed)
        fork = try store.forkRun(from: base.id, atEpoch: 1, name: "branch", config: #"{"lr":0.5}"#, seed: 12)
        for epoch in 2...3 {
            try store.appendCheckpoint(runID: fork.id, checkpointInput(epoch: epoch, sizes: sizes, generator: &generator))
        }
        try store.setStatus(runID: fork.id, .completed)
    }
}

final class VerifyTests: StoreTestCase {
    func testRunOwnershipAndClaims() throws {
        let path = path()
        let store = try Store(path: path)
        let run = try store.createRun(name: "a", config: "{}", seed: 1, owner: "host:1:100")
        XCTAssertEqual(run.owner, "host:1:100")
        let stopped = try store.createRun(name: "b", config: "{}", seed: 1, status: .completed, owner: "host:1:100")
        XCTAssertNil(stopped.owner, "an owner is only kept while running")

        // A second process sees the owner and cannot take the run with a stale expectation.
        let other = try Store(path: path)
        XCTAssertFalse(try other.claimRun(runID: run.id, expectedOwner: nil, newOwner: "host:2:200"))
        XCTAssertTrue(try other.claimRun(runID: run.id, expectedOwner: "host:1:100", newOwner: "host:2:200"))
        XCTAssertEqual(try store.run(id: run.id).owner, "host:2:200")
        XCTAssertFalse(try store.claimRun(runID: run.id, expectedOwner: "host:1:100", newOwner: "host:1:101"))

        try store.setStatus(runID: run.id, .interrupted, owner: "ignored")
        XCTAssertEqual(try store.run(id: run.id).status, .interrupted)
        XCTAssertNil(try store.run(id: run.id).owner)
        XCTAssertTrue(try store.claimRun(runID: run.id, expectedOwner: nil, newOwner: "host:3:300"))
        let claimed = try store.run(id: run.id)
        XCTAssertEqual(claimed.status, .running)
        XCTAssertEqual(claimed.owner, "host:3:300")
        try store.setStatus(runID: run.id, .running, owner: "host:4:400")
        XCTAssertEqual(try store.run(id: run.id).owner, "host:4:400")
        XCTAssertNotNil(storeError { try store.claimRun(runID: "missing", expectedOwner: nil, newOwner: "x") })
        // Ownership is mutable state, not history: verify does not care.
        XCTAssertEqual(try store.verify(), [])
    }

    func testConcurrentClaimsHaveOneWinner() throws {
        let path = path()
        let runID = try Store(path: path).createRun(name: nil, config: "{}", seed: 1, status: .interrupted).id
        let winners = ErrorBox()
        let threads = (0..<4).map { index in
            Thread {
                do {
                    let store = try Store(path: path)
                    if try store.claimRun(runID: runID, expectedOwner: nil, newOwner: "host:\(index)") { winners.append("\(index)") }
                } catch { winners.append("error \(error)") }
                winners.append("done")
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(60)
        while winners.all.filter({ $0 == "done" }).count < 4 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let results = winners.all.filter { $0 != "done" }
        XCTAssertEqual(results.count, 1, "\(results)")
        XCTAssertEqual(try Store(path: path).run(id: runID).owner, results.first.map { "host:\($0)" })
    }

    func testACleanStoreHasNoFindings() throws {
        let lineage = try Lineage(path: path())
        XCTAssertEqual(try lineage.store.verify(), [])
        XCTAssertEqual(try lineage.store.verify(runID: lineage.fork.id), [])
        XCTAssertEqual(try lineage.store.verify(runID: lineage.base.id), [])
        XCTAssertNotNil(storeError { try lineage.store.verify(runID: "nope") })
    }

    /// Builds a fresh lineage, applies `tamper` through raw SQL and returns the findings
    /// for the whole store, or for the run `run` picks.
    private func findings(after tamper: String, run: (Lineage) -> String? = { _ in nil }, file: StaticString = #filePath,
                          line: UInt = #line) throws -> (Lineage, [String]) {
        try findings(tamperingWith: { _, db in
            try db.execute(tamper)
            XCTAssertEqual(db.changes, 1, "the tampering changed \(db.changes) rows: \(tamper)", file: file, line: line)
        }, run: run)
    }

    private func findings(tamperingWith tamper: (Lineage, Database) throws -> Void,
                          run: (Lineage) -> String? = { _ in nil }) throws -> (Lineage, [String]) {
        let path = path("tamper-\(UUID().uuidString).db")
        let lineage = try Lineage(path: path)
        try tamper(lineage, try raw(path))
        return (lineage, try lineage.store.verify(runID: run(lineage)).map(\.description))
    }

    func testEveryKindOfTamperingIsNamed() throws {
        // Tensor bytes: the finding names run, epoch, layer and role.
        var (lineage, found) = try findings(tamperingWith: { lineage, db in
            try flipByte(db, table: "blobs", column: "data", where: """
                hash = (SELECT t.hash FROM tensors t JOIN checkpoints c ON c.id = t.checkpoint_id
                WHERE c.epoch = 3 AND t.layer = 2 AND t.role = 'weight' AND c.run_id = '\(lineage.fork.id)')
                """, at: 5)
        })
        XCTAssertEqual(found, ["\(lineage.fork.shortID)@3: layer 2 weight does not match its SHA-256"])

        // A tensor row's shape.
        (lineage, found) = try findings(after: """
            UPDATE tensors SET shape = '[4,6]' WHERE layer = 1 AND role = 'weight'
              AND checkpoint_id = (SELECT id FROM checkpoints WHERE epoch = 2 AND run_id = (SELECT id FROM runs WHERE name = 'base'))
            """)
        XCTAssertEqual(found, ["\(lineage.base.shortID)@2: layer 1 weight has 80 bytes, not the 96 its shape [4, 6] needs",
                               "\(lineage.base.shortID)@2: the checkpoint digest does not match its content"])

        // A checkpoint's digest: the row and the next link.
        (lineage, found) = try findings(after: """
            UPDATE checkpoints SET digest = zeroblob(32) WHERE epoch = 1 AND run_id = (SELECT id FROM runs WHERE name = 'base')
            """)
        XCTAssertEqual(found, ["\(lineage.base.shortID)@1: the checkpoint digest does not match its content",
                               "\(lineage.base.shortID)@2: its parent digest is not the digest of epoch 1",
                               "\(lineage.fork.shortID)@2: its parent digest is not the digest of epoch 1 of its parent run \(lineage.base.shortID)"])

        for (column, value) in [("rng_state", "x'00'"), ("optimizer_state", "'{\"step\":9}'"), ("created_at", "'2020-01-01T00:00:00.000Z'"),
                                ("parent_digest", "zeroblob(32)")] {
            (lineage, found) = try findings(after: """
                UPDATE checkpoints SET \(column) = \(value) WHERE epoch = 3 AND run_id = (SELECT id FROM runs WHERE name = 'branch')
                """)
            XCTAssertTrue(found.contains("\(lineage.fork.shortID)@3: the checkpoint digest does not match its content"), "\(column): \(found)")
        }

        // A metric value.
        (lineage, found) = try findings(after: """
            UPDATE metrics SET value = 0.25 WHERE name = 'val_loss'
              AND checkpoint_id = (SELECT id FROM checkpoints WHERE epoch = 0)
            """)
        XCTAssertEqual(found, ["\(lineage.base.shortID)@0: the checkpoint digest does not match its content"])

        // A run's configuration and seed.
        (lineage, found) = try findings(after: #"UPDATE runs SET config = '{"lr":0.6}' WHERE name = 'branch'"#)
        XCTAssertEqual(found, ["\(lineage.fork.shortID): the run digest does not match its id, creation time, configuration, seed and parent"])
        (lineage, found) = try findings(after: "UPDATE runs SET seed = 13 WHERE name = 'base'", run: { $0.fork.id })
        XCTAssertEqual(found, ["\(lineage.base.shortID): the run digest does not match its id, creation time, configuration, seed and parent"])

        // A blob's recorded size, and a metric's name.
        (lineage, found) = try findings(after: "UPDATE blobs SET size = size + 1 WHERE id = 1")
        XCTAssertTrue(found.contains { $0.hasSuffix("records 81 bytes but holds 80") || $0.contains("records") }, "\(found)")
        (lineage, found) = try findings(after: """
            UPDATE metrics SET name = 'train_lost' WHERE name = 'train_loss'
              AND checkpoint_id = (SELECT id FROM checkpoints WHERE epoch = 3 AND run_id = (SELECT id FROM runs WHERE name = 'base'))
            """)
        XCTAssertTrue(found.contains("\(lineage.base.shortID)@3: the checkpoint digest does not match its content"), "\(found)")
    }

    func testRandomByteFlipsAreEachDetected() throws {
        // One flip, verify, restore; 300 rounds over the covered columns.
        let path = path()
        let lineage = try Lineage(path: path)
        let db = try raw(path)
        var generator = SplitMix64(seed: 99)
        let targets: [(table: String, column: String)] = [
            ("blobs", "data"), ("blobs", "hash"), ("tensors", "shape"), ("tensors", "role"), ("tensors", "hash"), ("tensors", "layer"),
            ("checkpoints", "digest"), ("checkpoints", "parent_digest"), ("checkpoints", "optimizer_state"), ("checkpoints", "epoch"),
            ("checkpoints", "rng_state"), ("checkpoints", "created_at"), ("checkpoints", "run_id"), ("metrics", "name"), ("metrics", "value"),
            ("runs", "config"), ("runs", "created_at"), ("runs", "seed"), ("runs", "parent_epoch"), ("blobs", "size"),
        ]
        let keys = ["tensors": ["checkpoint_id", "layer", "role"], "metrics": ["checkpoint_id", "name"]]
        var missed: [String] = []
        var flips = 0
        for _ in 0..<300 {
            let target = targets[Int.random(in: 0..<targets.count, using: &generator)]
            let key = keys[target.table] ?? ["rowid"]
            let count = try int(db, "SELECT count(*) FROM \(target.table) WHERE \(target.column) IS NOT NULL")
            guard count > 0 else { continue }
            let select = try db.prepare("""
                SELECT \(key.joined(separator: ", ")), \(target.column) FROM \(target.table) WHERE \(target.column) IS NOT NULL
                ORDER BY \(key.joined(separator: ", ")) LIMIT 1 OFFSET \(Int64.random(in: 0..<count, using: &generator))
                """)
            XCTAssertTrue(try select.step())
            let keyValues = (0..<key.count).map { select.value(at: Int32($0)) }
            let original = select.value(at: Int32(key.count))
            let changed: SQLValue
            switch original {
            case var .blob(bytes):
                guard !bytes.isEmpty else { continue }
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                changed = .blob(bytes)
            case let .text(text):
                var bytes = Array(text.utf8)
                guard !bytes.isEmpty else { continue }
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[position] = bytes[position] == 0x31 ? 0x32 : 0x31 // a digit keeps JSON and ids well-formed more often
                changed = .text(String(decoding: bytes, as: UTF8.self))
            case let .integer(number): changed = .integer(number ^ Int64(1 << Int.random(in: 0..<8, using: &generator)))
            case let .real(number): changed = .real(Double(bitPattern: number.bitPattern ^ (1 << UInt64.random(in: 0..<64, using: &generator))))
            case .null: continue
            }
            let filter = key.map { "\($0) = ?" }.joined(separator: " AND ")
            do {
                try db.execute("UPDATE \(target.table) SET \(target.column) = ? WHERE \(filter)", [changed] + keyValues)
            } catch {
                continue // a CHECK, UNIQUE or primary key constraint refused the change: nothing to detect
            }
            guard db.changes == 1 else { continue }
            flips += 1
            if try lineage.store.verify().isEmpty {
                missed.append("\(target.table).\(target.column) \(keyValues): \(original) -> \(changed)")
            }
            let restoredKeys = zip(key, keyValues).map { $0 == target.column ? changed : $1 }
            try db.execute("UPDATE \(target.table) SET \(target.column) = ? WHERE \(filter)", [original] + restoredKeys)
        }
        XCTAssertGreaterThan(flips, 150)
        XCTAssertEqual(missed, [])
        XCTAssertEqual(try lineage.store.verify(), [])
    }
}

/// Flips bit 0 of byte `offset` of a BLOB or TEXT value through raw SQL.
func flipByte(_ db: Database, table: String, column: String, where filter: String, at offset: Int) throws {
    guard let value = try db.scalar("SELECT \(column) FROM \(table) WHERE \(filter)") else { throw StoreError.invalidInput("no row") }
    switch value {
    case var .blob(bytes):
        bytes[offset] ^= 1
        try db.execute("UPDATE \(table) SET \(column) = ? WHERE \(filter)", [.blob(bytes)])
    case let .text(text):
        var bytes = Array(text.utf8)
        bytes[offset] ^= 1
        try db.execute("UPDATE \(table) SET \(column) = ? WHERE \(filter)", [.text(String(decoding: bytes, as: UTF8.self))])
    default:
        throw StoreError.invalidInput("not a blob or text")
    }
}
