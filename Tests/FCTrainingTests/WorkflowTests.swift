import FCNet
import FCStorage
import FCTraining
import Foundation
import XCTest

/// A store file and a copy of the iris data in a fresh temporary folder.
final class TrainingFixture {
    let directory: URL
    let store: Store
    let dataPath: String

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let iris = packageRoot.appendingPathComponent("examples/iris.csv")

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fctraining-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        dataPath = directory.appendingPathComponent("iris.csv").path
        try FileManager.default.copyItem(atPath: Self.iris.path, toPath: dataPath)
        store = try Store(path: directory.appendingPathComponent("store.db").path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func request(epochs: Int = 4, optimizer kind: OptimizerConfig.Kind = .sgd, batchSize: Int? = 16,
                 validationSplit: Double? = 0.2, name: String? = nil) -> Workflow.TrainRequest {
        var optimizer = OptimizerConfig(kind: kind, learningRate: kind == .adam ? 0.01 : 0.1)
        optimizer.momentum = 0.9
        var request = Workflow.TrainRequest(dataPath: dataPath, optimizer: optimizer, epochs: epochs, seed: 7)
        request.layers = [5, 3]
        request.batchSize = batchSize
        request.validationSplit = validationSplit
        request.name = name
        return request
    }

    /// Trains a new run to completion.
    @discardableResult
    func train(_ request: Workflow.TrainRequest) throws -> RunRecord {
        let trainer = try Workflow.startRun(store, request, owner: "test")
        XCTAssertEqual(try trainer.train(), .completed(lastEpoch: request.epochs))
        return try store.run(id: trainer.run.id)
    }

    /// Trains a new run and stops it (as SIGINT does) once `stopAfter` is committed.
    func trainInterrupted(_ request: Workflow.TrainRequest, stopAfter: Int) throws -> RunRecord {
        let trainer = try Workflow.startRun(store, request, owner: "test")
        var last = -1
        let outcome = try trainer.train(shouldStop: { last >= stopAfter }, committed: { record, _ in last = record.epoch })
        XCTAssertEqual(outcome, .interrupted(lastEpoch: stopAfter))
        return try store.run(id: trainer.run.id)
    }

    func resume(_ run: String, from epoch: EpochSelector = .latest, to epochs: Int? = nil,
                overrides: Workflow.Overrides = Workflow.Overrides(), fork: Bool = false) throws -> Workflow.ResumePlan {
        try Workflow.resume(store, run: run, epoch: epoch, epochs: epochs, overrides: overrides, fork: fork,
                            dataPath: nil, owner: "test", isAlive: { _ in false })
    }

    func epochs(_ run: String) throws -> [Int] { try store.checkpoints(runID: run).map(\.epoch) }
    func digests(_ run: String) throws -> [String] { try store.checkpoints(runID: run).map(\.digestHex) }
}

/// Every tensor, the generator state and the optimizer counters, bit for bit.
func assertSameState(_ a: LoadedCheckpoint, _ b: LoadedCheckpoint, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.epoch, b.epoch, file: file, line: line)
    let keysA = a.tensors.map { "\($0.layer)/\($0.role)" }, keysB = b.tensors.map { "\($0.layer)/\($0.role)" }
    XCTAssertEqual(keysA.sorted(), keysB.sorted(), file: file, line: line)
    for tensor in a.tensors {
        guard let other = b.tensor(layer: tensor.layer, role: tensor.role) else { continue }
        XCTAssertEqual(tensor.value.shape, other.shape, file: file, line: line)
        XCTAssertEqual(tensor.value.values.map(\.bitPattern), other.values.map(\.bitPattern),
                       "layer \(tensor.layer) \(tensor.role) differs", file: file, line: line)
    }
    XCTAssertEqual(a.rngState, b.rngState, "generator state", file: file, line: line)
    XCTAssertEqual(a.optimizerState, b.optimizerState, "optimizer counters", file: file, line: line)
}

final class WorkflowTests: XCTestCase {
    func testStartRunWritesEveryEpochFromZero() throws {
        let fixture = try TrainingFixture()
        let trainer = try Workflow.startRun(fixture.store, fixture.request(epochs: 3), owner: "test")
        var committed: [Int] = []
        XCTAssertEqual(try trainer.train(committed: { record, _ in committed.append(record.epoch) }), .completed(lastEpoch: 3))
        XCTAssertEqual(committed, [0, 1, 2, 3])
        let run = try fixture.store.run(id: trainer.run.id)
        XCTAssertEqual(run.status, .completed)
        XCTAssertEqual(try fixture.epochs(run.id), [0, 1, 2, 3])
        let summaries = try fixture.store.checkpoints(runID: run.id)
        XCTAssertNil(summaries[0].metrics["train_loss"], "epoch 0 is the initial state")
        for summary in summaries.dropFirst() {
            XCTAssertNotNil(summary.metrics["train_loss"])
            XCTAssertNotNil(summary.metrics["val_loss"])
        }
        let config = try RunConfig.decode(run.config, run: run.shortID)
        XCTAssertEqual(config.spec.sizes, [4, 5, 3])
        XCTAssertEqual(config.data?.rows, 150)
    }

    func testResumeFromTheLatestEpochContinuesInPlace() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.trainInterrupted(fixture.request(epochs: 4), stopAfter: 2)
        XCTAssertEqual(run.status, .interrupted)
        XCTAssertEqual(try fixture.epochs(run.id), [0, 1, 2])
        let before = try fixture.digests(run.id)

        let plan = try fixture.resume(run.id)
        XCTAssertTrue(plan.inPlace)
        XCTAssertEqual(plan.trainer.run.id, run.id)
        XCTAssertEqual(try plan.trainer.train(), .completed(lastEpoch: 4))
        XCTAssertEqual(try fixture.epochs(run.id), [0, 1, 2, 3, 4])
        XCTAssertEqual(Array(try fixture.digests(run.id).prefix(3)), before, "committed history is unchanged")
        XCTAssertEqual(try fixture.store.run(id: run.id).status, .completed)
        XCTAssertEqual(try fixture.store.runs().count, 1, "no fork")

        // A completed run at its target: nothing to do.
        XCTAssertThrowsError(try fixture.resume(run.id)) { error in
            XCTAssertEqual(error as? TrainingError, .nothingToDo(run: run.shortID, epoch: 4, target: 4))
        }
        // Asked for more epochs, the completed run continues in place.
        let more = try fixture.resume(run.id, to: 5)
        XCTAssertTrue(more.inPlace)
        XCTAssertEqual(try more.trainer.train(), .completed(lastEpoch: 5))
        XCTAssertEqual(try fixture.epochs(run.id), [0, 1, 2, 3, 4, 5])
    }

    func testResumeFromAnEarlierEpochForks() throws {
        let fixture = try TrainingFixture()
        let parent = try fixture.train(fixture.request(epochs: 4))
        let before = try fixture.digests(parent.id)

        let plan = try fixture.resume(parent.id, from: .number(2))
        XCTAssertFalse(plan.inPlace)
        XCTAssertNotEqual(plan.trainer.run.id, parent.id)
        XCTAssertEqual(plan.from.epoch, 2)
        XCTAssertEqual(try plan.trainer.train(), .completed(lastEpoch: 4))

        let fork = try fixture.store.run(id: plan.trainer.run.id)
        XCTAssertEqual(fork.parent, CheckpointLocation(runID: parent.id, epoch: 2))
        XCTAssertEqual(fork.status, .completed)
        XCTAssertEqual(try fixture.epochs(fork.id), [0, 1, 2, 3, 4])
        let forkSummaries = try fixture.store.checkpoints(runID: fork.id)
        XCTAssertEqual(forkSummaries.map(\.inherited), [true, true, true, false, false])
        XCTAssertEqual(Array(forkSummaries.prefix(3).map(\.digestHex)), Array(before.prefix(3)))
        XCTAssertEqual(try fixture.digests(parent.id), before, "the parent is unchanged")
        XCTAssertEqual(try fixture.store.run(id: parent.id).status, .completed)
        // Same recipe from the same state: the fork reproduces the parent's epoch 4.
        assertSameState(try fixture.store.loadCheckpoint(runID: fork.id, epoch: 4),
                        try fixture.store.loadCheckpoint(runID: parent.id, epoch: 4))
    }

    func testResumeWithAnOverrideForksEvenFromTheLatestEpoch() throws {
        let fixture = try TrainingFixture()
        let parent = try fixture.trainInterrupted(fixture.request(epochs: 4), stopAfter: 2)
        var overrides = Workflow.Overrides()
        overrides.learningRate = 0.05
        overrides.name = "slower"
        let plan = try fixture.resume(parent.id, overrides: overrides)
        XCTAssertFalse(plan.inPlace)
        XCTAssertEqual(try plan.trainer.train(), .completed(lastEpoch: 4))
        let fork = try fixture.store.run(id: plan.trainer.run.id)
        XCTAssertEqual(fork.name, "slower")
        XCTAssertEqual(fork.parent, CheckpointLocation(runID: parent.id, epoch: 2))
        XCTAssertEqual(try RunConfig.decode(fork.config, run: "").training.optimizer.learningRate, 0.05)
        XCTAssertEqual(try RunConfig.decode(parent.config, run: "").training.optimizer.learningRate, 0.1)
        let parentAfter = try fixture.store.run(id: parent.id)
        XCTAssertEqual(parentAfter.status, .interrupted, "the parent is not continued")
        XCTAssertEqual(try fixture.epochs(parent.id), [0, 1, 2])

        // --fork without overrides forks too.
        let forced = try fixture.resume(parent.id, fork: true)
        XCTAssertFalse(forced.inPlace)
    }

    /// README, "Resume and forks": resuming from epoch k and training to n gives bit for bit the
    /// weights of the uninterrupted run to n.
    func testResumeIsBitExactForEveryOptimizer() throws {
        for kind in OptimizerConfig.Kind.allCases {
            let fixture = try TrainingFixture()
            let request = fixture.request(epochs: 5, optimizer: kind, batchSize: 8)
            let straight = try fixture.train(request)
            // Stopped after epoch 2 and resumed in place.
            let stopped = try fixture.trainInterrupted(request, stopAfter: 2)
            let plan = try fixture.resume(stopped.id)
            XCTAssertTrue(plan.inPlace)
            XCTAssertEqual(try plan.trainer.train(), .completed(lastEpoch: 5))
            // Forked from the uninterrupted run's epoch 3.
            let fork = try fixture.resume(straight.id, from: .number(3), fork: true)
            XCTAssertEqual(try fork.trainer.train(), .completed(lastEpoch: 5))

            let reference = try fixture.store.loadCheckpoint(runID: straight.id, epoch: 5)
            let hasSlots = reference.tensors.contains { $0.role.hasPrefix("weight.") }
            XCTAssertEqual(hasSlots, kind != .sgd, "\(kind): optimizer slots are checkpointed")
            assertSameState(try fixture.store.loadCheckpoint(runID: stopped.id, epoch: 5), reference)
            assertSameState(try fixture.store.loadCheckpoint(runID: fork.trainer.run.id, epoch: 5), reference)
            for epoch in 1...5 {
                let a = try fixture.store.checkpoints(runID: straight.id)[epoch].metrics["train_loss"]
                let b = try fixture.store.checkpoints(runID: stopped.id)[epoch].metrics["train_loss"]
                XCTAssertEqual(a?.bitPattern, b?.bitPattern, "\(kind) epoch \(epoch) train_loss")
            }
        }
    }

    /// `recordedData` takes a path of its own for each kind of validation data: none (the
    /// features normalised in place), a split, and a file. Each resumes bit for bit and
    /// refuses changed training data.
    func testResumeIsBitExactAndRefusesChangedDataForEveryValidationSource() throws {
        for source in ["none", "split", "file"] {
            let fixture = try TrainingFixture()
            var request = fixture.request(epochs: 4, batchSize: 8, validationSplit: source == "split" ? 0.2 : nil)
            if source == "file" {
                let validation = fixture.directory.appendingPathComponent("validation.csv").path
                try FileManager.default.copyItem(atPath: fixture.dataPath, toPath: validation)
                request.validationPath = validation
            }
            let straight = try fixture.train(request)
            let stopped = try fixture.trainInterrupted(request, stopAfter: 2)
            let plan = try fixture.resume(stopped.id)
            XCTAssertEqual(try plan.trainer.train(), .completed(lastEpoch: 4), source)
            assertSameState(try fixture.store.loadCheckpoint(runID: stopped.id, epoch: 4),
                            try fixture.store.loadCheckpoint(runID: straight.id, epoch: 4))
            let metrics = try fixture.store.checkpoints(runID: stopped.id).last?.metrics
            XCTAssertEqual(metrics?["val_loss"] != nil, source != "none", source)

            let other = try fixture.trainInterrupted(request, stopAfter: 1)
            try swapData(fixture.dataPath)
            XCTAssertThrowsError(try fixture.resume(other.id), source) { error in
                XCTAssertEqual(error as? TrainingError, .dataChanged(path: fixture.dataPath, run: other.shortID), source)
            }
        }
    }

    func testResumeRefusesChangedData() throws {
        let fixture = try TrainingFixture()
        let run = try fixture.trainInterrupted(fixture.request(epochs: 3), stopAfter: 1)
        try swapData(fixture.dataPath)
        XCTAssertThrowsError(try fixture.resume(run.id)) { error in
            XCTAssertEqual(error as? TrainingError, .dataChanged(path: fixture.dataPath, run: run.shortID))
        }
        XCTAssertEqual(try fixture.epochs(run.id), [0, 1])
    }
}

/// Rewrites an iris copy with one feature value changed: same shape, different data.
func swapData(_ path: String) throws {
    var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var cells = lines[1].split(separator: ",").map(String.init)
    cells[0] = "9.9"
    lines[1] = cells.joined(separator: ",")
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
}
