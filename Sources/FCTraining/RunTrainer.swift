import FCNet
import FCStorage
import Foundation

/// Trains one run of the store: each epoch's checkpoint is committed (one
/// transaction, synchronous=FULL) inside the engine's observer, before the next
/// epoch's first update — so at most the epoch in progress is ever lost.
///
/// Writing synchronously is a deliberate choice: a checkpoint of the
/// 784-1024-1024-10 network (7.4 MB) commits in about 20 ms against an epoch of
/// about 1.4 s, so a background writer would save little and weaken the
/// guarantee that a reported epoch is on disk.
public final class RunTrainer {
    public enum Outcome: Equatable {
        /// Trained to the target epoch.
        case completed(lastEpoch: Int)
        /// Stopped on request (SIGINT / SIGTERM); the epoch in progress was dropped.
        case interrupted(lastEpoch: Int)
        /// The loss or the weights became NaN or infinite; the last finite epoch is kept.
        case diverged(lastEpoch: Int)
        /// Early stopping ended the run after `lastEpoch` (committed); the monitored metric
        /// was best at `bestEpoch`. The run's status is `completed`.
        case stoppedEarly(lastEpoch: Int, bestEpoch: Int)
    }

    public let store: Store
    public private(set) var run: RunRecord
    public let config: RunConfig
    public let normalizer: Normalizer
    /// Batches per epoch, for progress reports.
    public let batchesPerEpoch: Int
    public let trainingSamples: Int
    /// The epoch the run is at before `train` (0 before epoch 0 is written for a new run).
    public let startEpoch: Int
    private let trainer: Trainer
    private let writesInitialCheckpoint: Bool
    /// Epoch 0 when it was committed with the run (`Store.createRun(initialCheckpoint:)`):
    /// the engine's first state is then reported, not written again.
    private var initialRecord: CheckpointRecord?
    public private(set) var lastCommittedEpoch: Int?
    /// Who holds the run while it trains, and how (nil: no lease, as before leases).
    private let owner: String?
    private let lease: LeaseSettings?
    /// What this process records about its stretch of epochs (`segments`).
    public let segment: SegmentInput?
    /// How long a commit keeps reconnecting after the store's connection was lost
    /// (PostgreSQL: a terminated backend, a server restart) before `train` throws
    /// `TrainingError.connectionLost`. Retries back off from 0.1 s to 2 s apart.
    public var reconnectWindow: TimeInterval = 30

    /// The epoch in progress: samples trained so far and their mean train loss
    /// (nil before its first batch). Read it from `train`'s `shouldStop`.
    public var epochProgress: (samples: Int, meanLoss: Double?) {
        let progress = trainer.epochProgress
        return (progress.samples, progress.samples > 0 ? progress.lossSum / Double(progress.samples) : nil)
    }

    init(store: Store, run: RunRecord, config: RunConfig, normalizer: Normalizer, trainer: Trainer,
         trainingSamples: Int, startEpoch: Int, writesInitialCheckpoint: Bool, initialRecord: CheckpointRecord? = nil,
         owner: String? = nil, lease: LeaseSettings? = nil, segment: SegmentInput? = nil) {
        self.initialRecord = initialRecord
        self.owner = owner
        self.lease = lease
        self.segment = segment
        self.store = store
        self.run = run
        self.config = config
        self.normalizer = normalizer
        self.trainer = trainer
        self.trainingSamples = trainingSamples
        let batch = min(config.training.batchSize ?? trainingSamples, trainingSamples)
        batchesPerEpoch = max(1, (trainingSamples + batch - 1) / max(batch, 1))
        self.startEpoch = startEpoch
        self.writesInitialCheckpoint = writesInitialCheckpoint
        lastCommittedEpoch = writesInitialCheckpoint && initialRecord == nil ? nil : startEpoch
    }

    /// Trains to `config.epochs`, committing every epoch.
    /// - Parameters:
    ///   - shouldStop: polled between batches; true drops the epoch in progress.
    ///   - committed: told each committed epoch (epoch 0 first for a new run).
    /// - Returns: how training ended; the run's status is set to match.
    /// - Throws: a store error when a checkpoint cannot be committed (a full disk,
    ///   say); the run is then marked interrupted and earlier epochs stay intact.
    /// - Throws: also `StoreError.leaseLost` when another trainer took the run over
    ///   (this trainer's lease had expired): nothing more is written, the run's status
    ///   is left to its new owner.
    public func train(
        shouldStop: () -> Bool = { false },
        committed: (CheckpointRecord, TrainingState) -> Void = { _, _ in }
    ) throws -> Outcome {
        let remaining = max(0, config.epochs - startEpoch)
        let outcome: TrainingOutcome
        let heartbeat = owner.flatMap { owner in lease.map { LeaseHeartbeat(runID: run.id, owner: owner, settings: $0) } }
        defer { heartbeat?.stop() }
        do {
            outcome = try trainer.train(epochs: remaining, shouldStop: { heartbeat?.lost != nil || shouldStop() }) { state in
                if let initial = initialRecord, state.epoch == initial.epoch {
                    initialRecord = nil
                    committed(initial, state)
                    return
                }
                let context = owner.map { owner in
                    CommitContext(owner: owner, leaseUntil: lease.map { Date().addingTimeInterval($0.duration) }, segment: segment)
                }
                let input = try CheckpointCoding.input(state, normalizer: normalizer)
                let record = try reconnecting(
                    { try store.appendCheckpoint(runID: run.id, input, context: context) },
                    // After a reconnect: the commit in flight may have landed; write it only if not.
                    landed: { try store.committedCheckpoint(runID: run.id, matching: input) })
                lastCommittedEpoch = state.epoch
                committed(record, state)
            }
        } catch StoreError.leaseLost(let runID, let owner, let current) {
            throw StoreError.leaseLost(runID: runID, owner: owner, current: current)
        } catch let error as TrainingError {
            throw error
        } catch {
            try? finish(.interrupted)
            throw error
        }
        if let lost = heartbeat?.lost { throw lost }
        let last = lastCommittedEpoch ?? startEpoch
        switch outcome {
        case .completed:
            try finish(.completed)
            return .completed(lastEpoch: last)
        case .stopped:
            try finish(.interrupted)
            return .interrupted(lastEpoch: last)
        case .diverged:
            try finish(.diverged)
            return .diverged(lastEpoch: last)
        case let .stoppedEarly(bestEpoch):
            try reconnecting({ try store.setStatus(runID: run.id, .completed) }, landed: { nil })
            return .stoppedEarly(lastEpoch: last, bestEpoch: bestEpoch)
        }
    }

    /// Ends the claim with `status`; with an owner, only while it still holds the run.
    private func finish(_ status: RunStatus) throws {
        guard let owner else {
            return try reconnecting({ try store.setStatus(runID: run.id, status) }, landed: { nil })
        }
        // A release whose connection dropped may have landed: the claim is then gone with the status set.
        let released = try reconnecting({ try store.release(runID: run.id, owner: owner, status: status) }, landed: {
            let claim = try store.claim(runID: run.id)
            let current = try store.run(id: run.id).status
            return claim.owner == nil && current == status ? true : nil
        })
        guard released else {
            throw StoreError.leaseLost(runID: run.id, owner: owner, current: try store.claim(runID: run.id).owner)
        }
    }

    /// Runs `write`; when the store's connection is lost (PostgreSQL), reconnects with a
    /// short backoff (0.1 s doubling to 2 s, for `reconnectWindow` in all), asks `landed`
    /// whether the write in flight committed after all (nil: it did not), and writes again
    /// only if not.
    /// - Throws: `TrainingError.connectionLost` naming the last committed epoch when the
    ///   store stays out of reach; other errors as `write` and `landed` throw them.
    private func reconnecting<T>(_ write: () throws -> T, landed: () throws -> T?) throws -> T {
        var lastError: Error
        do {
            return try write()
        } catch where store.isConnectionLoss(error) {
            lastError = error
        }
        let deadline = Date().addingTimeInterval(reconnectWindow)
        var delay = 0.1
        while Date().addingTimeInterval(delay) < deadline {
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, 2)
            do {
                try store.reconnect()
                if let result = try landed() { return result }
                return try write()
            } catch where store.isConnectionLoss(error) {
                lastError = error
            }
        }
        let reason: String
        if case let StoreError.postgres(postgresError) = lastError { reason = postgresError.message } else { reason = "\(lastError)" }
        throw TrainingError.connectionLost(run: run.shortID, store: store.path, lastEpoch: lastCommittedEpoch, reason: reason)
    }
}
