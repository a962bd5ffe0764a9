import FCStorage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `train/resume --push DEST`: after each committed epoch, the run goes to DEST on a
/// thread of its own, with its own connections to both stores, at a lower CPU
/// priority. Training never waits for it: a push in progress when the next epoch
/// commits is simply followed by another, which catches up. A failed push is
/// retried after the next epoch. At the end, one last push, then one line saying
/// how far DEST got.
final class BackgroundPush: @unchecked Sendable {
    private let localOptions: StoreOptions
    private let location: String
    private let runID: String
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending = false
    private var stopping = false
    private var finished = false
    private var destinationEpoch: Int?
    private var failure: String?
    private var failuresShown = 0

    var shown: String { Store.displayLocation(location) }

    init(location: String, localOptions: StoreOptions, runID: String) {
        self.location = location
        self.localOptions = localOptions
        self.runID = runID
    }

    /// Starts the thread and a first push (the epochs committed before training starts).
    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "fcstore-push"
        thread.start()
        epochCommitted()
    }

    /// Asks for a push; returns at once.
    func epochCommitted() {
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    /// The first failure, once, for the main thread to print between epochs.
    func newFailure() -> String? {
        condition.lock()
        defer { condition.unlock() }
        guard let failure, failuresShown == 0 else { return nil }
        failuresShown += 1
        return failure
    }

    /// Pushes once more, waits for it, and returns the line that ends the output:
    /// `pushed to DEST: epoch 20 of 20` or `push behind: DEST has epoch 7 of 20 (reason)`.
    func finish(localEpoch: Int?) -> String {
        condition.lock()
        pending = true
        stopping = true
        condition.signal()
        while !finished { condition.wait() }
        let reached = destinationEpoch, reason = failure
        condition.unlock()
        let local = localEpoch.map(String.init) ?? "none"
        if let reached, reached == localEpoch, reason == nil {
            return "pushed to \(shown): epoch \(reached) of \(local)"
        }
        let has = reached.map { "has epoch \($0) of \(local)" } ?? "has none of the \(localEpoch.map { "\($0 + 1)" } ?? "0") epochs"
        return "push behind: \(shown) \(has) (\(reason ?? "the last push did not finish"))"
    }

    private func loop() {
        #if canImport(Glibc)
        // Below the training threads: a push may be slow, training must not be. On Linux,
        // who = 0 is the calling thread alone.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
        var source: Store?
        var destination: Store?
        while true {
            condition.lock()
            while !pending && !stopping { condition.wait() }
            let last = stopping
            pending = false
            condition.unlock()
            do {
                let from = try source ?? localOptions.open()
                source = from
                let to = try destination ?? StoreLocation.open(location)
                destination = to
                _ = try Transfer(from: from, to: to).run(runIDs: [runID])
                let reached = try? to.latestEpoch(runID: runID)
                condition.lock()
                destinationEpoch = reached
                failure = nil
                condition.unlock()
            } catch {
                destination = nil  // reopened by the next attempt
                let text = StoreLocation.hidingPassword(of: location, in: ErrorText.message(for: error))
                let reached = try? StoreLocation.open(location, mustExist: true).latestEpoch(runID: runID)
                condition.lock()
                failure = text.hasSuffix(".") ? String(text.dropLast()) : text
                if let reached { destinationEpoch = reached }
                condition.unlock()
            }
            if last { break }
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
