import FCNet

/// A phase of starting or resuming a run, told to a `TrainingObserver` as it ends.
public enum TrainingPhase: String, Sendable, CaseIterable {
    /// The checkpoint is read, every tensor's SHA-256 checked and the engine's state decoded.
    case checkpointLoaded = "checkpoint-loaded"
    /// Data loading begins (read, parse, split, normalise, fingerprints).
    case dataBegin = "data-begin"
    /// Data loading has ended.
    case dataEnd = "data-end"
    /// The engine's trainer is built (OpenBLAS loaded, buffers allocated).
    case trainerReady = "trainer-ready"
    /// The run is claimed, or the fork committed.
    case runClaimed = "run-claimed"
}

/// What the training workflow tells the program that runs it: the phases of start-up as
/// they end, and the loading of data files. The library reads no environment and writes
/// nothing to the terminal; the caller (the CLI) decides what to show and when, and
/// reports epoch progress from `RunTrainer.train`'s `shouldStop` and `committed` callbacks.
///
/// Every method has an empty default, so an observer implements only what it shows.
public protocol TrainingObserver: AnyObject {
    /// `phase` has just ended.
    func phaseEnded(_ phase: TrainingPhase)
    /// A data file's parsing has got as far as `report` says (start, every
    /// `LoadingProgress.interval` rows, end).
    func dataLoading(_ report: LoadingProgress.Report)
}

extension TrainingObserver {
    public func phaseEnded(_ phase: TrainingPhase) {}
    public func dataLoading(_ report: LoadingProgress.Report) {}
}

extension Workflow {
    /// Runs `body` with the loaders' progress (`LoadingProgress.observer`) sent to
    /// `observer`, then restores the hook it found; without an observer, leaves it as it is.
    static func observingLoading<T>(_ observer: (any TrainingObserver)?, _ body: () throws -> T) rethrows -> T {
        guard let observer else { return try body() }
        let previous = LoadingProgress.observer
        LoadingProgress.observer = { observer.dataLoading($0) }
        defer { LoadingProgress.observer = previous }
        return try body()
    }
}
