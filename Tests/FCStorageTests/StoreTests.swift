import FCCore
import Foundation
import XCTest
@testable import FCStorage

/// The store's behaviour; `PostgresStoreTests` runs every test again on PostgreSQL.
class StoreTests: StoreTestCase {
    func testTensorsAndMetadataRoundTripBitExactly() throws {
        let store = try openStore()
        let run = try store.createRun(name: "mnist", config: #"{"layers":[4,3,2]}"#, seed: UInt64.max - 5)
        XCTAssertEqual(run.seed, UInt64.max - 5)
        XCTAssertEqual(run.status, .running)
        XCTAssertEqual(try store.run(id: run.id), run)
        XCTAssertEqual(run.id, run.id.lowercased())
        XCTAssertLessThan(abs(run.createdAt.timeIntervalSinceNow), 60)

        var generator = SplitMix64(seed: 42)
        var inputs: [CheckpointInput] = []
        for epoch in 0..<3 {
            var input = try checkpointInput(epoch: epoch, sizes: [7, 5, 3], generator: &generator)
            // Special values must survive unchanged, NaN payloads included.
            let special: [Float] = [-0.0, .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234), .leastNonzeroMagnitude]
            input.tensors.append(CheckpointTensor(layer: 0, role: "normalize.shift", value: try TensorValue(shape: [5], values: special)))
            input.tensors.append(CheckpointTensor(layer: 0, role: "empty", value: try TensorValue(shape: [0], values: [])))
            input.metrics["minus_zero"] = -0.0
            input.metrics["inf"] = .infinity
            input.metrics["tiny"] = .leastNonzeroMagnitude
            input.rngState = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            inputs.append(input)
            let record = try store.appendCheckpoint(runID: run.id, input)
            XCTAssertEqual(record.epoch, epoch)
            XCTAssertEqual(record.digest.count, 32)
        }
        for input in inputs {
            let loaded = try store.loadCheckpoint(runID: run.id, epoch: input.epoch)
            XCTAssertEqual(loaded.epoch, input.epoch)
            XCTAssertFalse(loaded.inherited)
            XCTAssertEqual(loaded.tensors.count, input.tensors.count)
            for tensor in input.tensors {
                let stored = try XCTUnwrap(loaded.tensor(layer: tensor.layer, role: tensor.role), "\(tensor.layer) \(tensor.role)")
                XCTAssertEqual(stored.shape, tensor.value.shape)
                XCTAssertEqual(stored.bitPatterns, tensor.value.bitPatterns, "layer \(tensor.layer) \(tensor.role)")
            }
            XCTAssertEqual(Set(loaded.metrics.keys), Set(input.metrics.keys))
            for (name, value) in input.metrics {
                XCTAssertEqual(loaded.metrics[name]?.bitPattern, value.bitPattern, name)
            }
            XCTAssertEqual(loaded.optimizerState, input.optimizerState)
            XCTAssertEqual(loaded.rngState, input.rngState)
        }
        // Tensors come back in (layer, role) order.
        let loaded = try store.loadCheckpoint(runID: run.id, epoch: 0)
        XCTAssertEqual(loaded.tensors.map { "\($0.layer) \($0.role)" },
                       ["0 empty", "0 normalize.shift", "1 bias", "1 weight", "2 bias", "2 weight"])
    }

    func testNaNMetricsAreStoredAsNullAndReadAsNaN() throws {
        let store = try openStore()
        let run = try store.createRun(name: nil, config: "{}", seed: 0, status: .diverged)
        var generator = SplitMix64(seed: 1)
        let input = try checkpointInput(epoch: 0, generator: &generator, metrics: ["train_loss": .nan])
        let record = try store.appendCheckpoint(runID: run.id, input)
        let loaded = try store.loadCheckpoint(runID: run.id, epoch: 0)
        XCTAssertTrue(loaded.metrics["train_loss"]?.isNaN ?? false)
        XCTAssertEqual(loaded.digest, record.digest)
        XCTAssertEqual(try store.verifyRun(runID: run.id), [])
    }

    func testEpochsMustBeConsecutive() throws {
        let store = try openStore()
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 2)
        let first = storeError { try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 1, generator: &generator)) }
        XCTAssertEqual(first?.description, "Run \(run.shortID) expects epoch 0 next, not 1: epochs are stored consecutively from 0.")
        try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 0, generator: &generator))
        XCTAssertNotNil(storeError { try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 0, generator: &generator)) })
        XCTAssertNotNil(storeError { try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 2, generator: &generator)) })
        try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 1, generator: &generator))
        XCTAssertEqual(try store.checkpoints(runID: run.id).map(\.epoch), [0, 1])

        let fork = try store.forkRun(from: run.id, atEpoch: 0, name: nil, config: "{}", seed: 1)
        let forkError = storeError { try store.appendCheckpoint(runID: fork.id, checkpointInput(epoch: 0, generator: &generator)) }
        guard case let .epochOutOfOrder(_, expected, given)? = forkError else { return XCTFail("\(String(describing: forkError))") }
        XCTAssertEqual(expected, 1)
        XCTAssertEqual(given, 0)
        XCTAssertNotNil(storeError { try store.appendCheckpoint(runID: "no-such-run", checkpointInput(epoch: 0, generator: &generator)) })
    }

    func testInvalidInputIsRefusedBeforeWriting() throws {
        let store = try openStore()
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 3)
        var input = try checkpointInput(epoch: 0, generator: &generator)
        input.tensors.append(input.tensors[0])
        XCTAssertEqual(storeError { try store.appendCheckpoint(runID: run.id, input) }?.description,
                       "The checkpoint has two tensors for layer 1 weight.")
        input = try checkpointInput(epoch: 0, generator: &generator)
        input.tensors[1].value.values.append(1)
        XCTAssertNotNil(storeError { try store.appendCheckpoint(runID: run.id, input) })
        XCTAssertEqual(try store.checkpoints(runID: run.id).count, 0)
        XCTAssertEqual(storeError { try store.createRun(name: nil, config: "not json", seed: 1) }?.description,
                       "The run configuration is not valid JSON.")
        _ = try store.createRun(name: "taken", config: "{}", seed: 1)
        XCTAssertEqual(storeError { try store.createRun(name: "taken", config: "{}", seed: 1) }?.description,
                       "A run named \"taken\" already exists. Choose another name.")
    }

    func testAFailureHalfwayThroughACheckpointLeavesNoTrace() throws {
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 4)
        try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 0, sizes: [8, 6, 4, 2], generator: &generator))
        let db = try connection()
        func counts() throws -> [Int64] {
            try ["checkpoints", "tensors", "metrics", "blobs", "runs"].map { try int(db, "SELECT count(*) FROM \($0)") }
        }
        let before = try counts()

        struct Injected: Error {}
        var calls = 0
        store.faultInjection = { calls += 1; throw Injected() }
        let input = try checkpointInput(epoch: 1, sizes: [8, 6, 4, 2], generator: &generator)
        XCTAssertThrowsError(try store.appendCheckpoint(runID: run.id, input)) { XCTAssertTrue($0 is Injected, "\($0)") }
        XCTAssertEqual(calls, 1)
        // Half the tensor rows and their blobs were written before the failure; none survive.
        XCTAssertEqual(try counts(), before)
        XCTAssertEqual(try store.checkpoints(runID: run.id).map(\.epoch), [0])

        store.faultInjection = nil
        let record = try store.appendCheckpoint(runID: run.id, input)
        XCTAssertEqual(record.epoch, 1)
        XCTAssertEqual(try counts()[0], before[0] + 1)
        XCTAssertEqual(try counts()[1], before[1] + 6)
    }

    func testIdenticalTensorsAreStoredOnce() throws {
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 5)
        var input = try checkpointInput(epoch: 0, generator: &generator)
        input.tensors += try randomTensors([4, 3, 2], generator: &generator, extraSlots: true).filter { $0.role == "weight.m" }
        try store.appendCheckpoint(runID: run.id, input)
        input.epoch = 1
        try store.appendCheckpoint(runID: run.id, input)
        let db = try connection()
        // 4 random tensors + one zero tensor per slot shape (2 shapes).
        XCTAssertEqual(try int(db, "SELECT count(*) FROM blobs"), 6)
        XCTAssertEqual(try int(db, "SELECT count(*) FROM tensors"), 12)
    }

    /// `loadCheckpoint(decoding:)` hands over every tensor, and refuses a corrupt one
    /// before decoding could return or throw anything.
    func testADecodedLoadIsReturnedOnlyWhenVerified() throws {
        struct DecodingFailed: Error {}
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 9)
        let inputs = try (0...1).map { try checkpointInput(epoch: $0, sizes: [300, 200, 3], generator: &generator) }
        for input in inputs { try store.appendCheckpoint(runID: run.id, input) }

        let decoded = try store.loadCheckpoint(runID: run.id, epoch: 1) { checkpoint in
            checkpoint.tensors.map { "\($0.layer)/\($0.role)/\($0.value.values.count)" }
        }
        XCTAssertEqual(decoded, inputs[1].tensors.sorted { ($0.layer, $0.role) < ($1.layer, $1.role) }
            .map { "\($0.layer)/\($0.role)/\($0.value.values.count)" })
        XCTAssertEqual(try store.loadCheckpoint(runID: run.id, epoch: 1), try store.loadCheckpoint(runID: run.id, epoch: 1) { $0 })
        XCTAssertEqual(try store.latestEpoch(runID: run.id), 1)

        let db = try connection()
        try db.execute("""
            UPDATE blobs SET data = \(Self.backend == .postgres ? "decode(repeat('00', size::integer), 'hex')" : "zeroblob(size)") WHERE hash = (SELECT t.hash FROM tensors t JOIN checkpoints c ON c.id = t.checkpoint_id
                                                              WHERE c.epoch = 1 AND t.layer = 1 AND t.role = 'weight')
            """)
        let expected = "Checkpoint \(run.shortID)@1 is corrupt: layer 1 weight does not match its SHA-256."
        XCTAssertEqual(storeError { try store.loadCheckpoint(runID: run.id, epoch: 1) { $0.epoch } }?.description, expected)
        XCTAssertEqual(storeError { try store.loadCheckpoint(runID: run.id, epoch: 1) { _ in throw DecodingFailed() } }?.description, expected)
        XCTAssertThrowsError(try store.loadCheckpoint(runID: run.id, epoch: 0) { _ in throw DecodingFailed() }) {
            XCTAssertTrue($0 is DecodingFailed, "an intact checkpoint passes decoding's error on: \($0)")
        }
        XCTAssertEqual(storeError { try store.loadCheckpoint(runID: run.id, epoch: 7) { $0.epoch } }?.description,
                       StoreError.noSuchCheckpoint(runID: run.id, epoch: 7).description)
    }

    func testAFlippedByteIsDetectedOnLoad() throws {
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 6)
        try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 0, sizes: [5, 4, 3], generator: &generator))
        try store.appendCheckpoint(runID: run.id, checkpointInput(epoch: 1, sizes: [5, 4, 3], generator: &generator))
        XCTAssertEqual(try store.verifyRun(runID: run.id), [])

        let db = try connection()
        let select = try db.prepare("""
            SELECT b.id, b.data FROM blobs b JOIN tensors t ON t.hash = b.hash JOIN checkpoints c ON c.id = t.checkpoint_id
            WHERE c.epoch = 1 AND t.layer = 2 AND t.role = 'weight'
            """)
        XCTAssertTrue(try select.step())
        let blobID = select.int64(at: 0)
        var data = select.bytes(at: 1)
        data[7] ^= 0x01
        try db.execute("UPDATE blobs SET data = ? WHERE id = ?", [.blob(data), .integer(blobID)])

        let error = storeError { try store.loadCheckpoint(runID: run.id, epoch: 1) }
        XCTAssertEqual(error?.description, "Checkpoint \(run.shortID)@1 is corrupt: layer 2 weight does not match its SHA-256.")
        XCTAssertNoThrow(try store.loadCheckpoint(runID: run.id, epoch: 0))
        let findings = try store.verifyRun(runID: run.id)
        XCTAssertEqual(findings.map(\.description), ["\(run.shortID)@1: layer 2 weight does not match its SHA-256"])

        // Rows pointed at other (intact) bytes break the digest.
        try db.execute("""
            UPDATE tensors SET hash = (SELECT t2.hash FROM tensors t2 JOIN checkpoints c2 ON c2.id = t2.checkpoint_id
                                       WHERE c2.epoch = 1 AND t2.layer = 1 AND t2.role = 'bias')
            WHERE layer = 1 AND role = 'bias' AND checkpoint_id = (SELECT id FROM checkpoints WHERE epoch = 0)
            """)
        XCTAssertEqual(try store.verifyRun(runID: run.id).filter { $0.epoch == 0 }.map(\.message),
                       ["the checkpoint digest does not match its content"])

        // A changed metric breaks the digest.
        try db.execute("UPDATE metrics SET value = 0.5 WHERE name = 'val_loss' AND checkpoint_id = (SELECT id FROM checkpoints WHERE epoch = 0)")
        XCTAssertTrue(try store.verifyRun(runID: run.id).contains {
            $0.epoch == 0 && $0.message == "the checkpoint digest does not match its content"
        })
    }

    func testDigestsFormAChainAndFollowTheRecipe() throws {
        let path = try location()
        let store = try Store(path: path)
        let run = try store.createRun(name: nil, config: "{}", seed: 1)
        var generator = SplitMix64(seed: 7)
        var records: [CheckpointRecord] = []
        var inputs: [CheckpointInput] = []
        for epoch in 0..<3 {
            let input = try checkpointInput(epoch: epoch, generator: &generator)
            inputs.append(input)
            records.append(try store.appendCheckpoint(runID: run.id, input))
        }
        XCTAssertNil(records[0].parentDigest)
        XCTAssertEqual(records[1].parentDigest, records[0].digest)
        XCTAssertEqual(records[2].parentDigest, records[1].digest)
        for (record, input) in zip(records, inputs) {
            // Tensor order must not matter.
            let entries = input.tensors.reversed().map { tensor in
                CheckpointDigest.TensorEntry(layer: tensor.layer, role: tensor.role, shape: tensor.value.shape,
                                             hash: tensor.value.values.withUnsafeBytes { SHA256Hasher.hash($0) })
            }
            let createdAt = try XCTUnwrap(try connection().scalar("SELECT created_at FROM checkpoints WHERE epoch = ?",
                                                               [.integer(Int64(input.epoch))])?.string)
            XCTAssertEqual(CheckpointDigest.compute(epoch: input.epoch, createdAt: createdAt, parentDigest: record.parentDigest, tensors: entries,
                                                    metrics: input.metrics, optimizerState: input.optimizerState,
                                                    rngState: input.rngState, runID: run.id), record.digest)
        }
        XCTAssertEqual(try store.checkpoints(runID: run.id).map(\.digest), records.map(\.digest))
    }

    func testForksInheritHistoryByReference() throws {
        let path = try location()
        var generator = SplitMix64(seed: 8)
        let sizes = [256, 512, 4] // one weight is 512 KiB
        let parent: RunRecord
        var parentRecords: [CheckpointRecord] = []
        do {
            let store = try Store(path: path)
            parent = try store.createRun(name: "base", config: "{}", seed: 1)
            for epoch in 0..<4 {
                parentRecords.append(try store.appendCheckpoint(runID: parent.id, checkpointInput(
                    epoch: epoch, sizes: sizes, generator: &generator, metrics: ["val_loss": [4, 1, 2, 3][epoch]])))
            }
        }
        let sizeBefore = try storedBytes(path)
        let fork: RunRecord
        do {
            let store = try Store(path: path)
            fork = try store.forkRun(from: parent.id, atEpoch: 2, name: "branch", config: #"{"lr":0.1}"#, seed: 2)
        }
        let smallestTensorBytes = 512 * 256 * 4
        XCTAssertLessThan(try storedBytes(path) - sizeBefore, smallestTensorBytes)

        let store = try Store(path: path)
        XCTAssertEqual(fork.parent, CheckpointLocation(runID: parent.id, epoch: 2))
        let listed = try store.checkpoints(runID: fork.id)
        XCTAssertEqual(listed.map(\.epoch), [0, 1, 2])
        XCTAssertEqual(listed.map(\.inherited), [true, true, true])
        XCTAssertEqual(listed.map(\.digest), parentRecords[0...2].map(\.digest))
        let inherited = try store.loadCheckpoint(runID: fork.id, epoch: 1)
        XCTAssertTrue(inherited.inherited)
        XCTAssertEqual(inherited.ownerRunID, parent.id)
        XCTAssertEqual(inherited.tensors, try store.loadCheckpoint(runID: parent.id, epoch: 1).tensors)
        XCTAssertNotNil(storeError { try store.loadCheckpoint(runID: fork.id, epoch: 3) })
        XCTAssertEqual(try store.latestCheckpoint(runID: fork.id).epoch, 2)

        let own = try store.appendCheckpoint(runID: fork.id, checkpointInput(epoch: 3, sizes: sizes, generator: &generator,
                                                                             metrics: ["val_loss": 0.5]))
        XCTAssertEqual(own.parentDigest, parentRecords[2].digest)
        XCTAssertEqual(try store.checkpoints(runID: fork.id).map(\.inherited), [true, true, true, false])
        XCTAssertEqual(try store.latestCheckpoint(runID: fork.id).digest, own.digest)
        XCTAssertEqual(try store.latestCheckpoint(runID: parent.id).digest, parentRecords[3].digest)
        XCTAssertEqual(try store.verifyRun(runID: fork.id), [])

        // A fork of the fork, at an epoch the fork itself inherited.
        let grandchild = try store.forkRun(from: fork.id, atEpoch: 1, name: nil, config: "{}", seed: 3)
        XCTAssertEqual(try store.checkpoints(runID: grandchild.id).map(\.epoch), [0, 1])
        // Best is over a run's own epochs: the grandchild has none, and the
        // parent's best (epoch 1, 1.0) lies at or before the fork's fork point.
        XCTAssertEqual(storeError { try store.bestCheckpoint(runID: grandchild.id, metric: "val_loss") }?.description,
                       "Run \(grandchild.shortID) has no checkpoint with a value for the metric \"val_loss\".")
        XCTAssertEqual(try store.bestCheckpoint(runID: fork.id, metric: "val_loss").epoch, 3)
        XCTAssertEqual(try store.bestCheckpoint(runID: parent.id, metric: "val_loss").epoch, 1)
        XCTAssertEqual(try store.bestCheckpoint(runID: parent.id, metric: "val_loss", lowerIsBetter: false).epoch, 0)
        XCTAssertNotNil(storeError { try store.bestCheckpoint(runID: parent.id, metric: "accuracy") })
        XCTAssertNotNil(storeError { try store.forkRun(from: parent.id, atEpoch: 9, name: nil, config: "{}", seed: 1) })

        let summaries = Dictionary(uniqueKeysWithValues: try store.runs().map { ($0.run.id, $0) })
        XCTAssertEqual(summaries[parent.id]?.lastEpoch, 3)
        XCTAssertEqual(summaries[parent.id]?.checkpointCount, 4)
        XCTAssertEqual(summaries[parent.id]?.bestValidationLoss, 1)
        XCTAssertEqual(summaries[fork.id]?.checkpointCount, 4)
        XCTAssertEqual(summaries[fork.id]?.ownCheckpointCount, 1)
        XCTAssertEqual(summaries[fork.id]?.bestValidationLoss, 0.5)
        XCTAssertEqual(summaries[fork.id]?.latestMetrics, ["val_loss": 0.5])
        XCTAssertEqual(summaries[grandchild.id]?.lastEpoch, 1)
        XCTAssertEqual(summaries[grandchild.id]?.ownCheckpointCount, 0)
        XCTAssertNil(summaries[grandchild.id]?.bestValidationLoss)
        XCTAssertNil(summaries[grandchild.id]?.bestValidationEpoch)

        // The auditors' views agree.
        let db = try connection()
        XCTAssertEqual(try int(db, "SELECT epochs FROM run_summary WHERE run_id = '\(fork.id)'"), 4)
        XCTAssertEqual(try int(db, "SELECT count(*) FROM run_checkpoints WHERE run_id = '\(grandchild.id)' AND inherited = 1"), 2)
    }

    func testRunStatusAndListing() throws {
        let store = try openStore()
        let empty = try store.createRun(name: "empty", config: "{}", seed: 9)
        try store.setStatus(runID: empty.id, .interrupted)
        XCTAssertEqual(try store.run(id: empty.id).status, .interrupted)
        XCTAssertNotNil(storeError { try store.setStatus(runID: "missing", .completed) })
        let summary = try XCTUnwrap(try store.runs().first)
        XCTAssertNil(summary.lastEpoch)
        XCTAssertEqual(summary.checkpointCount, 0)
        XCTAssertEqual(storeError { try store.latestCheckpoint(runID: empty.id) }?.description,
                       "Run \(empty.shortID) has no checkpoints yet.")
    }

    func testResolveRun() throws {
        let path = try location()
        let store = try Store(path: path)
        let db = try connection()
        for (id, name) in [("abc01234-0000-4000-8000-000000000001", "first"),
                           ("abc05678-0000-4000-8000-000000000002", "second"),
                           ("def00000-0000-4000-8000-000000000003", "cafe")] {
            try db.execute("""
                INSERT INTO runs (id, name, created_at, status, config, seed, digest)
                VALUES (?, ?, '2026-01-01T00:00:00.000Z', 'completed', '{}', 1, ?)
                """, [.text(id), .text(name), .blob(RunDigest.compute(id: id, createdAt: "2026-01-01T00:00:00.000Z",
                                                                   config: "{}", seed: 1, parent: nil))])
        }
        XCTAssertEqual(try store.resolveRun("abc01").name, "first")
        XCTAssertEqual(try store.resolveRun("ABC05").name, "second")
        XCTAssertEqual(try store.resolveRun("second").id, "abc05678-0000-4000-8000-000000000002")
        XCTAssertEqual(try store.resolveRun("def00000-0000-4000-8000-000000000003").name, "cafe")
        XCTAssertEqual(try store.resolveRun("cafe").id, "def00000-0000-4000-8000-000000000003")
        XCTAssertEqual(storeError { try store.resolveRun("3fa") }?.description,
                       "No run matches \"3fa\".")
        XCTAssertEqual(storeError { try store.resolveRun("nobody") }?.description,
                       "No run matches \"nobody\".")
        XCTAssertEqual(storeError { try store.resolveRun("abc0") }?.description,
                       "\"abc0\" matches 2 runs: abc01234 (first), abc05678 (second). Give more characters of the id.")
        XCTAssertNotNil(storeError { try store.resolveRun("") })
        XCTAssertNotNil(storeError { try store.resolveRun("%") })
    }

    func testAReaderWorksWhileAWriterAppends() throws {
        let path = try location()
        let runID: String
        do {
            let store = try Store(path: path)
            runID = try store.createRun(name: "live", config: "{}", seed: 1).id
            var generator = SplitMix64(seed: 10)
            try store.appendCheckpoint(runID: runID, checkpointInput(epoch: 0, sizes: [64, 64, 10], generator: &generator))
        }
        let epochs = 40
        let errors = ErrorBox()
        let done = ErrorBox()
        let writer = Thread {
            do {
                let store = try Store(path: path)
                var generator = SplitMix64(seed: 11)
                for epoch in 1...epochs {
                    try store.appendCheckpoint(runID: runID, checkpointInput(epoch: epoch, sizes: [64, 64, 10], generator: &generator))
                }
            } catch { errors.append("writer: \(error)") }
            done.append("writer")
        }
        let reader = Thread {
            do {
                let store = try Store(path: path)
                var reads = 0
                var lastSeen = 0
                while done.isEmpty || reads < 5 {
                    let runs = try store.runs()
                    let latest = try store.latestCheckpoint(runID: runID)
                    if latest.epoch < lastSeen { errors.append("reader went back from \(lastSeen) to \(latest.epoch)") }
                    lastSeen = latest.epoch
                    if runs.count != 1 { errors.append("reader saw \(runs.count) runs") }
                    reads += 1
                }
            } catch { errors.append("reader: \(error)") }
            done.append("reader")
        }
        writer.start()
        reader.start()
        let deadline = Date().addingTimeInterval(120)
        while done.count < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(done.count, 2, "threads did not finish")
        XCTAssertEqual(errors.all, [])
        XCTAssertEqual(try Store(path: path).latestCheckpoint(runID: runID).epoch, epochs)
    }
}

/// A thread-safe list of strings.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    var count: Int { all.count }
    var isEmpty: Bool { all.isEmpty }
}

/// StoreTests on PostgreSQL (a database per store on FCSTORE_TEST_POSTGRES's cluster). Linux XCTest
/// finds only the test methods a class declares, so each is overridden here (TwinSuiteTests checks).
final class PostgresStoreTests: StoreTests {
    override class var backend: TestBackend { .postgres }
    override func testTensorsAndMetadataRoundTripBitExactly() throws { try super.testTensorsAndMetadataRoundTripBitExactly() }
    override func testNaNMetricsAreStoredAsNullAndReadAsNaN() throws { try super.testNaNMetricsAreStoredAsNullAndReadAsNaN() }
    override func testEpochsMustBeConsecutive() throws { try super.testEpochsMustBeConsecutive() }
    override func testInvalidInputIsRefusedBeforeWriting() throws { try super.testInvalidInputIsRefusedBeforeWriting() }
    override func testAFailureHalfwayThroughACheckpointLeavesNoTrace() throws { try super.testAFailureHalfwayThroughACheckpointLeavesNoTrace() }
    override func testIdenticalTensorsAreStoredOnce() throws { try super.testIdenticalTensorsAreStoredOnce() }
    override func testADecodedLoadIsReturnedOnlyWhenVerified() throws { try super.testADecodedLoadIsReturnedOnlyWhenVerified() }
    override func testAFlippedByteIsDetectedOnLoad() throws { try super.testAFlippedByteIsDetectedOnLoad() }
    override func testDigestsFormAChainAndFollowTheRecipe() throws { try super.testDigestsFormAChainAndFollowTheRecipe() }
    override func testForksInheritHistoryByReference() throws { try super.testForksInheritHistoryByReference() }
    override func testRunStatusAndListing() throws { try super.testRunStatusAndListing() }
    override func testResolveRun() throws { try super.testResolveRun() }
    override func testAReaderWorksWhileAWriterAppends() throws { try super.testAReaderWorksWhileAWriterAppends() }
}
