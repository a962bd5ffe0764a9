import FCStorage
import Foundation

/// How a trainer holds its run: a lease of `duration`, renewed in every epoch's
/// commit transaction and by a heartbeat every `heartbeat` (on a connection of its
/// own, from `openStore`), so a long epoch does not let it expire. The caller
/// chooses the numbers (the library reads no environment).
public struct LeaseSettings: Sendable {
    public var duration: TimeInterval
    public var heartbeat: TimeInterval
    public var openStore: @Sendable () throws -> Store

    public init(duration: TimeInterval, heartbeat: TimeInterval? = nil, openStore: @escaping @Sendable () throws -> Store) {
        self.duration = duration
        self.heartbeat = heartbeat ?? max(duration / 3, 0.05)
        self.openStore = openStore
    }
}

/// The rule for taking over a run another trainer holds (`Workflow.resume`):
/// - the same owner, or none: yes;
/// - an owner on this host: when its process is gone (`isAlive` false), at once;
/// - an owner on another host: when its lease has expired (`now` past the expiry);
///   an owner without a lease (a claim written before leases) is assumed alive.
public enum TakeoverRule {
    public static func mayTakeOver(_ claim: RunClaim, owner: String, host: String, now: Date,
                                   isAlive: (String) -> Bool) -> Bool {
        guard let current = claim.owner, current != owner else { return true }
        if Self.host(of: current) == host { return !isAlive(current) }
        guard let expiry = claim.leaseExpiresAt else { return false }
        return now > expiry
    }

    /// The host part of an owner `host:pid:start`.
    public static func host(of owner: String) -> String {
        owner.split(separator: ":", omittingEmptySubsequences: false).dropLast(2).joined(separator: ":")
    }
}

/// Renews a lease from its own thread and connection until stopped; records a lost lease.
final class LeaseHeartbeat: @unchecked Sendable {
    private let runID: String
    private let owner: String
    private let settings: LeaseSettings
    private let stopSignal = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var lostError: Error?

    init(runID: String, owner: String, settings: LeaseSettings) {
        self.runID = runID
        self.owner = owner
        self.settings = settings
        let thread = Thread { [self] in self.loop() }
        thread.name = "fcstore-lease"
        thread.start()
    }

    /// The `StoreError.leaseLost` a renewal met, if any.
    var lost: Error? { lock.withLock { lostError } }

    private func loop() {
        defer { done.signal() }
        var store: Store?
        while stopSignal.wait(timeout: .now() + settings.heartbeat) == .timedOut {
            do {
                if store == nil { store = try settings.openStore() }
                try store?.renewLease(runID: runID, owner: owner, until: Date().addingTimeInterval(settings.duration))
            } catch StoreError.leaseLost(let run, let owner, let current) {
                lock.withLock { lostError = StoreError.leaseLost(runID: run, owner: owner, current: current) }
                return
            } catch {
                // A busy store or a dropped connection: the next beat (or epoch commit) tries again.
                store = nil
            }
        }
    }

    func stop() {
        stopSignal.signal()
        done.wait()
    }
}
