import FCSQLite
import Foundation

// Claims on runs: who trains a run (runs.owner) and until when the claim holds
// (runs.lease_expires_at, schema version 5). Every statement is a compare-and-set
// on the run's row, so two trainers racing for one run cannot both win, on
// SQLite (BEGIN IMMEDIATE) as on a server that locks the row for the UPDATE.

/// A run's claim as stored: the owner and the end of its lease (nil for a store
/// older than version 5, or a claim written without a lease).
public struct RunClaim: Equatable, Sendable {
    public var owner: String?
    public var leaseExpiresAt: Date?
    /// The stored text of the expiry, compared as it is.
    var expiryText: String?
}

extension Store {
    /// True when the store has `runs.lease_expires_at` and `segments` (version 5).
    public var hasLeases: Bool { schemaVersion >= 5 }

    /// The run's current claim.
    /// - Throws: `StoreError.noSuchRun`.
    public func claim(runID: String) throws -> RunClaim {
        try storeErrors { try currentClaim(runID) }
    }

    func currentClaim(_ runID: String) throws -> RunClaim {
        let sql = hasLeases ? "SELECT owner, lease_expires_at FROM runs WHERE id = ?" : "SELECT owner, NULL AS lease_expires_at FROM runs WHERE id = ?"
        return try db.withCachedStatement(sql) { statement in
            try statement.bind([.text(runID)])
            guard try statement.step() else { throw StoreError.noSuchRun(runID) }
            let expiry = statement.optionalString(at: statement.column("lease_expires_at"))
            return RunClaim(owner: statement.optionalString(at: statement.column("owner")),
                            leaseExpiresAt: expiry.map(StoreTimestamp.date), expiryText: expiry)
        }
    }

    /// Takes over a run for training when `mayTakeOver` allows it, given the claim it
    /// reads: sets the owner to `newOwner`, the status to running and the lease to
    /// `leaseUntil`, with an UPDATE that matches the claim read (owner and expiry), so
    /// of two trainers claiming the same run only one succeeds, and an owner that
    /// renewed meanwhile keeps the run.
    /// - Parameter lastEpoch: the epoch the caller continues from: when the run has moved
    ///   past it (another trainer appended epochs meanwhile), nothing is claimed.
    /// - Returns: nil when claimed; otherwise the claim that was kept (nothing changed).
    /// - Throws: `StoreError.noSuchRun`; `.epochOutOfOrder` (expected: the run's next epoch,
    ///   given: `lastEpoch + 1`) when the run has moved past `lastEpoch`.
    public func claimRun(runID: String, newOwner: String, leaseUntil: Date?, lastEpoch: Int? = nil,
                         mayTakeOver: (RunClaim) -> Bool) throws -> RunClaim? {
        try storeErrors {
            try db.writeTransaction {
                let current = try currentClaim(runID)
                guard current.owner == newOwner || current.owner == nil || mayTakeOver(current) else { return current }
                if let lastEpoch, let last = try lastVisibleEpoch(runID: runID), last != lastEpoch {
                    throw StoreError.epochOutOfOrder(runID: runID, expected: last + 1, given: lastEpoch + 1)
                }
                let expiry: SQLValue = leaseUntil.map { .text(StoreTimestamp.string($0)) } ?? .null
                let oldStatus = try currentValue(.status, of: runID)
                if hasLeases {
                    try db.execute("""
                        UPDATE runs SET status = 'running', owner = ?, lease_expires_at = ?
                        WHERE id = ? AND coalesce(owner, '') = ? AND coalesce(lease_expires_at, '') = ?
                        """, [.text(newOwner), expiry, .text(runID), .text(current.owner ?? ""), .text(current.expiryText ?? "")])
                } else {
                    try db.execute("UPDATE runs SET status = 'running', owner = ? WHERE id = ? AND coalesce(owner, '') = ?",
                                   [.text(newOwner), .text(runID), .text(current.owner ?? "")])
                }
                guard db.changes == 1 else { return try currentClaim(runID) }
                try recordEvent(.status, of: runID, from: oldStatus, to: RunStatus.running.rawValue)
                return nil
            }
        }
    }

    /// Extends `owner`'s lease on the run to `until`, in its own transaction
    /// (a heartbeat between epoch commits).
    /// - Throws: `StoreError.leaseLost` when `owner` no longer holds the run.
    public func renewLease(runID: String, owner: String, until: Date) throws {
        try storeErrors { try db.writeTransaction { try renewLeaseInTransaction(runID: runID, owner: owner, until: until) } }
    }

    func renewLeaseInTransaction(runID: String, owner: String, until: Date) throws {
        if hasLeases {
            try db.execute("UPDATE runs SET lease_expires_at = ? WHERE id = ? AND owner = ? AND status = 'running'",
                           [.text(StoreTimestamp.string(until)), .text(runID), .text(owner)])
        } else {
            try db.execute("UPDATE runs SET owner = owner WHERE id = ? AND owner = ? AND status = 'running'", [.text(runID), .text(owner)])
        }
        guard db.changes == 1 else {
            throw StoreError.leaseLost(runID: runID, owner: owner, current: try currentClaim(runID).owner)
        }
    }

    /// Ends `owner`'s claim with `status` (completed, interrupted, diverged): the
    /// owner and lease are cleared. Nothing changes when `owner` no longer holds the run.
    /// - Returns: false when another owner holds the run.
    @discardableResult
    public func release(runID: String, owner: String, status: RunStatus) throws -> Bool {
        try storeErrors {
            try db.writeTransaction {
                let lease = hasLeases ? ", lease_expires_at = NULL" : ""
                let oldStatus = try currentValue(.status, of: runID)
                try db.execute("UPDATE runs SET status = ?, owner = NULL\(lease) WHERE id = ? AND owner = ?",
                               [.text(status.rawValue), .text(runID), .text(owner)])
                guard db.changes == 1 else { return false }
                try recordEvent(.status, of: runID, from: oldStatus, to: status.rawValue)
                return true
            }
        }
    }
}
