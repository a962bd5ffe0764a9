import FCSQLite
// Tags, notes and events in bundles (schema version 6): export copies them
// with their runs; import brings them in, checked like the rest of the file.

/// A bundle's tags, notes and events, read and checked before the merge.
struct BundleRunMeta {
    struct Stamped { var value: String; var updatedAt: String }
    var tags: [String: [String: Stamped]] = [:]
    var notes: [String: Stamped] = [:]
    /// By run, in the bundle's order.
    var events: [String: [RunEvent]] = [:]

    init() {}

    /// Reads them from a bundle of schema version 6 or later (empty for older ones).
    /// - Parameter refuse: makes the error for a row that breaks the rules.
    init(_ bundle: Database, version: Int, refuse: (String) -> StoreError) throws {
        guard version >= 6 else {
            self.init()
            return
        }
        try self.init(reading: { Statement(.sqlite(try bundle.prepare($0))) }, runIDs: nil, refuse: refuse)
    }

    /// Reads them from another store (a push's or pull's source), for `runIDs`.
    init(store: Store, runIDs: [String], refuse: (String) -> StoreError) throws {
        guard store.hasRunMeta else {
            self.init()
            return
        }
        try self.init(reading: { try store.db.prepare($0) }, runIDs: runIDs, refuse: refuse)
    }

    /// Reads them with statements from `prepare`, for `runIDs` (every run when nil), checked.
    private init(reading prepare: (String) throws -> Statement, runIDs: [String]?, refuse: (String) -> StoreError) throws {
        var problem: String?
        /// Runs `columns FROM table` for each run of `runIDs` (or once for all), in `order`.
        func rows(_ select: String, order: String, _ body: (Statement) throws -> Void) throws {
            guard let runIDs else { return try prepare("\(select) ORDER BY \(order)").forEachRow(body) }
            let statement = try prepare("\(select) WHERE run_id = ? ORDER BY \(order)")
            for id in runIDs {
                try statement.bind([.text(id)])
                try statement.forEachRow(body)
            }
        }
        try rows("SELECT run_id, key, value, updated_at FROM run_tags", order: "run_id, key") { row in
            let runID = row.string(at: row.column("run_id")), key = row.string(at: row.column("key"))
            let value = row.string(at: row.column("value"))
            if let flaw = RunMetadata.keyFlaw(key) {
                problem = problem ?? "its run \(runID.prefix(8)) has a tag key \(RunName.quoted(key)) that \(flaw)"
            } else if let flaw = RunMetadata.valueFlaw(value) {
                problem = problem ?? "its run \(runID.prefix(8)) has a tag \(key) whose value \(flaw)"
            }
            tags[runID, default: [:]][key] = Stamped(value: value, updatedAt: row.string(at: row.column("updated_at")))
        }
        try rows("SELECT run_id, note, updated_at FROM run_notes", order: "run_id") { row in
            let runID = row.string(at: row.column("run_id")), note = row.string(at: row.column("note"))
            if let flaw = RunMetadata.noteFlaw(note) { problem = problem ?? "its run \(runID.prefix(8)) has a note that \(flaw)" }
            notes[runID] = Stamped(value: note, updatedAt: row.string(at: row.column("updated_at")))
        }
        try rows("SELECT run_id, changed_at, host, user_name, field, old_value, new_value FROM events", order: "id") { row in
            let event = Store.event(row)
            if RunField(text: event.field) == nil {
                problem = problem ?? "its run \(event.runID.prefix(8)) has an event of an unknown field \(RunName.quoted(event.field))"
            }
            events[event.runID, default: []].append(event)
        }
        if let problem { throw refuse(problem) }
    }
}

extension Store {
    /// Copies the tags, notes and events of the runs already copied to the
    /// attached bundle. Call in the export's transaction.
    func exportRunMeta() throws {
        guard hasRunMeta else { return }
        try db.execute("""
            INSERT INTO bundle.run_tags (run_id, key, value, updated_at)
            SELECT run_id, key, value, updated_at FROM main.run_tags WHERE run_id IN (SELECT id FROM bundle.runs) ORDER BY run_id, key;
            INSERT INTO bundle.run_notes (run_id, note, updated_at)
            SELECT run_id, note, updated_at FROM main.run_notes WHERE run_id IN (SELECT id FROM bundle.runs) ORDER BY run_id;
            INSERT INTO bundle.events (run_id, changed_at, host, user_name, field, old_value, new_value)
            SELECT run_id, changed_at, host, user_name, field, old_value, new_value FROM main.events
            WHERE run_id IN (SELECT id FROM bundle.runs) ORDER BY id;
            """)
    }

    /// Merges a bundle's tags, notes and events, in the import's transaction, after its runs.
    /// - A run new here gets its tags and note as the bundle has them, and the
    ///   bundle's events; a name the import changed adds an event of its own.
    /// - A run already here: each tag or note the bundle holds with a later
    ///   `updated_at` than this store's (or that this store lacks) is written
    ///   through `change`, so it gets an event; removals do not travel. Events of
    ///   the bundle that this store does not have are appended.
    func mergeRunMeta(_ meta: BundleRunMeta, summary: ImportSummary) throws {
        try mergeRunMeta(meta, added: summary.runsAdded, others: summary.runsExtended + summary.runsSkipped,
                         renamed: summary.renamed)
    }

    /// The merge of `mergeRunMeta(_:summary:)` (bundles) and of push and pull:
    /// `added` are runs new here (no tags, note or events of theirs yet), `others` runs
    /// this store had, `renamed` the added runs given another name here.
    func mergeRunMeta(_ meta: BundleRunMeta, added addedRuns: [String], others: [String],
                      renamed: [ImportSummary.Renamed]) throws {
        guard hasRunMeta else { return }
        let added = Set(addedRuns)
        for runID in addedRuns + others {
            var known = Set(try events(inTransaction: runID))
            for event in meta.events[runID] ?? [] where !known.contains(event) {
                try appendEvent(event)
                known.insert(event)
            }
            if added.contains(runID) {
                for (key, tag) in (meta.tags[runID] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    try db.execute("INSERT INTO run_tags (run_id, key, value, updated_at) VALUES (?, ?, ?, ?)",
                                   [.text(runID), .text(key), .text(tag.value), .text(tag.updatedAt)])
                }
                if let note = meta.notes[runID] {
                    try db.execute("INSERT INTO run_notes (run_id, note, updated_at) VALUES (?, ?, ?)",
                                   [.text(runID), .text(note.value), .text(note.updatedAt)])
                }
                continue
            }
            for (key, tag) in (meta.tags[runID] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let local = try db.scalar("SELECT updated_at FROM run_tags WHERE run_id = ? AND key = ?", [.text(runID), .text(key)])?.string
                if local.map({ tag.updatedAt > $0 }) ?? true { try change(.tag(key), of: runID, to: tag.value, updatedAt: tag.updatedAt) }
            }
            if let note = meta.notes[runID] {
                let local = try db.scalar("SELECT updated_at FROM run_notes WHERE run_id = ?", [.text(runID)])?.string
                if local.map({ note.updatedAt > $0 }) ?? true { try change(.note, of: runID, to: note.value, updatedAt: note.updatedAt) }
            }
        }
        for renamed in renamed {
            try appendEvent(RunEvent(runID: renamed.runID, changedAt: StoreTimestamp.now(), host: EventActor.current.host,
                                     user: EventActor.current.user, field: RunField.name.text, oldValue: renamed.bundleName,
                                     newValue: renamed.newName))
        }
    }

    /// The run's events, read inside the caller's transaction.
    private func events(inTransaction runID: String) throws -> [RunEvent] {
        var events: [RunEvent] = []
        let statement = try db.prepare("SELECT run_id, changed_at, host, user_name, field, old_value, new_value FROM events WHERE run_id = ? ORDER BY id")
        try statement.bind([.text(runID)])
        try statement.forEachRow { events.append(Store.event($0)) }
        return events
    }
}
