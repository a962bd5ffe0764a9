import FCSQLite
import Foundation
// The checks of schema version 4: schema objects against the migrations, run
// heads (truncation, removal, signatures), pruning records and invariants,
// and copies of rows bound to the run that wrote them.

extension Verifier {
    /// Every table, index, view and trigger equal to what the embedded migrations
    /// 1...user_version create (derived by applying them to a scratch database).
    func checkSchemaObjects(into findings: inout [Finding]) throws {
        guard let db = db.sqlite else { return }
        let version = Int(try db.scalar("PRAGMA user_version")?.int64 ?? 0)
        let reference = try Database(path: ":memory:", readOnly: false, busyTimeoutMilliseconds: 0)
        try reference.execute(Migrator.schemaMigrationsSQL)
        for migration in try Migrator().migrations where migration.version <= version { try reference.execute(migration.sql) }
        typealias Object = (type: String, table: String, sql: String?)
        func objects(_ db: Database) throws -> [String: Object] {
            var result: [String: Object] = [:]
            try db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
                .forEachRow { result[$0.string(at: 1)] = ($0.string(at: 0), $0.string(at: 2), $0.optionalString(at: 3)) }
            return result
        }
        let expected = try objects(reference), actual = try objects(db)
        for (name, object) in expected.sorted(by: { $0.key < $1.key }) {
            guard let found = actual[name] else {
                findings.append(Finding(runID: nil, message: "the \(object.type) \(name) of fcstore's schema is missing"))
                continue
            }
            if found.type != object.type || found.table != object.table || found.sql != object.sql {
                findings.append(Finding(runID: nil, message: "the \(shownUntrusted(found.type)) \(name) differs from fcstore's schema (migrations 1...\(version))"))
            }
        }
        for (name, object) in actual.sorted(by: { $0.key < $1.key }) where expected[name] == nil {
            findings.append(Finding(runID: nil, message: "the store has a \(shownUntrusted(object.type)) \(shownUntrusted(name)) (on \(shownUntrusted(object.table))) that fcstore's schema does not define"))
        }
    }

    /// A copied row (origin_run_id set, by detaching a fork) must name a run that
    /// no longer exists: rows moved from a live run are a rewritten history.
    func checkOrigin(_ checkpoint: StoreSnapshot.Checkpoint, snapshot: StoreSnapshot, into findings: inout [Finding]) {
        guard let origin = checkpoint.originRunID else { return }
        if origin == checkpoint.runID || snapshot.runs[origin] != nil {
            findings.append(Finding(runID: checkpoint.runID, epoch: checkpoint.epoch,
                                    message: "the row says it was copied from run \(shownUntrusted(String(origin.prefix(8)))), which still exists (only a detached fork holds copies, of a removed parent)"))
        }
    }

    /// The prune invariants (epoch 0, the latest epoch and the fork point stay
    /// complete) and, for each pruned row, the `prunes` record that released it.
    func checkPrunes(run: StoreSnapshot.Run, visible: [StoreSnapshot.Checkpoint], ownOnly: Bool, snapshot: StoreSnapshot,
                     into findings: inout [Finding]) {
        let ownLower = run.parent.map { $0.epoch + 1 } ?? 0
        if let latest = visible.last, latest.isPruned {
            findings.append(Finding(runID: run.id, epoch: latest.epoch, message: "its latest epoch \(latest.epoch) is pruned (prune always keeps it)"))
        }
        if let first = visible.first, first.epoch == 0, first.isPruned, !ownOnly || run.parent == nil {
            findings.append(Finding(runID: first.runID, epoch: 0, message: "epoch 0 is pruned (prune always keeps it)"))
        }
        if let parent = run.parent, let point = visible.first(where: { $0.epoch == parent.epoch }), point.isPruned {
            findings.append(Finding(runID: run.id, message: "its fork point \(parent.runID.prefix(8))@\(parent.epoch) is pruned (prune always keeps it)"))
        }
        guard let prunes = snapshot.prunesByRunAndTime else { return }
        for checkpoint in visible where checkpoint.isPruned && (!ownOnly || checkpoint.epoch >= ownLower) {
            // Recorded under the run that pruned it: the owner, or for a detached fork's copy, the parent it came from.
            let recorded = Set([checkpoint.runID, checkpoint.boundRunID]).contains { runID in
                prunes[StoreSnapshot.PruneKey(runID: runID, prunedAt: checkpoint.prunedAt ?? "")]?.contains(checkpoint.epoch) ?? false
            }
            if !recorded {
                findings.append(Finding(runID: checkpoint.runID, epoch: checkpoint.epoch,
                                        message: "it is marked pruned at \(shownUntrusted(checkpoint.prunedAt ?? "")), but no prune record lists it (pruned_at set by hand?)"))
            }
        }
    }

    /// The run's head: its run digest and last epoch as recorded in `run_heads`
    /// against the rows, and (with `trustedKeys`) its signature.
    func checkHead(run: StoreSnapshot.Run, visible: [StoreSnapshot.Checkpoint], snapshot: StoreSnapshot,
                   trustedKeys: Set<PublicKey>?, into findings: inout [Finding]) {
        guard let heads = snapshot.headsByRun else {
            if trustedKeys != nil {
                findings.append(Finding(runID: run.id, message: "its head is not signed (the store predates run heads)"))
            }
            return
        }
        guard let head = heads[run.id] else {
            findings.append(Finding(runID: run.id, message: "it has no head record in run_heads (a run added behind fcstore's back?)"))
            return
        }
        func report(_ message: String) { findings.append(Finding(runID: run.id, message: message)) }
        if head.removedAt != nil { report("its head record says it was removed at \(shownUntrusted(head.removedAt ?? "")), yet the run exists") }
        if head.runDigest != run.digest { report("its head records another run digest than the run's") }
        let last = visible.last
        switch (head.epoch, last?.epoch) {
        case let (recorded?, actual?) where actual < recorded:
            report("its head records epoch \(recorded), but its last epoch is \(actual): epoch\(recorded == actual + 1 ? " \(recorded) was" : "s \(actual + 1)...\(recorded) were") deleted")
        case let (recorded?, actual?) where actual > recorded:
            report("its last epoch \(actual) is newer than its head (epoch \(recorded)): epochs were added behind fcstore's back")
        case let (_?, actual?):
            if head.digest != last?.digest { report("its head digest is not the digest of its last epoch \(actual)") }
        case let (recorded?, nil):
            report("its head records epoch \(recorded), but it has no checkpoint left: its epochs were deleted")
        case let (nil, actual?):
            report("it has epochs up to \(actual), but its head records none")
        case (nil, nil):
            break
        }
        let message = HeadSignature.message(runID: run.id, runDigest: run.digest, epoch: last?.epoch, digest: last?.digest)
        guard let trustedKeys else {
            // Without trusted keys a signature is still checked against its own key: a head
            // edited after signing shows, though stripping the signature needs --trusted-keys.
            if let publicKey = head.publicKey, let signature = head.signature, let key = PublicKey(raw: publicKey),
               !key.isValidSignature(signature, of: message) {
                report("the signature of its head does not match (the run or its history changed after it was signed by key \(key.fingerprint))")
            }
            return
        }
        guard let publicKey = head.publicKey, let signature = head.signature, let key = PublicKey(raw: publicKey) else {
            report("its head (epoch \(head.epoch.map(String.init) ?? "none")) is not signed")
            return
        }
        guard trustedKeys.contains(key) else {
            report("its head is signed by an unknown key \(key.fingerprint) (not in the trusted keys)")
            return
        }
        if !key.isValidSignature(signature, of: message) {
            report("the signature of its head does not match (the run or its history changed after it was signed by key \(key.fingerprint))")
        }
    }

    /// The whole store's run ledger: numbered 1, 2, 3... without gaps, and every
    /// head not marked removed belongs to a run that exists.
    func checkLedger(_ snapshot: StoreSnapshot, into findings: inout [Finding]) {
        guard let heads = snapshot.heads else { return }
        var expected: Int64 = 1
        for head in heads {
            // Wrapping arithmetic: seq comes from a possibly hostile file and may be Int64.min or .max.
            if head.seq > expected {
                let missing = head.seq == expected &+ 1 ? "record \(expected) is" : "records \(expected)...\(head.seq &- 1) are"
                findings.append(Finding(runID: nil, message: "the run ledger (run_heads) \(missing) missing: a run's record was deleted"))
            } else if head.seq < expected {
                findings.append(Finding(runID: nil, message: "the run ledger (run_heads) has a record numbered \(head.seq), below 1"))
            }
            expected = head.seq &+ 1
            if head.removedAt == nil, snapshot.runs[head.runID] == nil {
                findings.append(Finding(runID: head.runID, message: "the run is missing: it was deleted outside fcstore (its head record #\(head.seq) remains)"))
            }
        }
    }
}

/// Text from a store or bundle as it may be shown on a terminal: control
/// characters (and DEL) written as `\u{1B}`, so a name cannot forge a line or
/// send escape sequences.
func shownUntrusted(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
            result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}

/// The epochs of a `prunes.epochs` JSON array read without SQLite's json_each:
/// its integer elements (as `json_each ... WHERE type = 'integer'` gives them).
enum PruneEpochs {
    static func integers(in text: String) -> [Int] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]") else { return [] }
        return trimmed.dropFirst().dropLast().split(separator: ",").compactMap { element in
            let item = element.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !item.isEmpty, item.drop(while: { $0 == "-" }).allSatisfy(\.isASCII), item.dropFirst(item.hasPrefix("-") ? 1 : 0).allSatisfy(\.isNumber) else { return nil }
            return Int(item)
        }
    }
}
