import FCSQLite
import Foundation

// Tags, notes, renames and the events trail (schema version 6). Every change
// of a run's mutable fields (name, status, tag.KEY, note) goes through
// `change(_:of:to:)`, which writes the new value and appends one row to
// `events`: renames, tags, notes, training's and resume's status changes
// (`setStatus`, `claimRun`) and bundle merges alike.

extension Store {
    /// True when the file has the tables of schema version 6 (run_tags, run_notes, events).
    var hasRunMeta: Bool { schemaVersion >= 6 }

    /// The current value of `field` for `runID`.
    /// - Throws: `StoreError.noSuchRun`.
    func currentValue(_ field: RunField, of runID: String) throws -> String? {
        switch field {
        case .name, .status:
            let column = field == .name ? "name" : "status"
            return try db.withCachedStatement("SELECT \(column) FROM runs WHERE id = ?") { row in
                try row.bind([.text(runID)])
                guard try row.step() else { throw StoreError.noSuchRun(runID) }
                return row.optionalString(at: row.column(column))
            }
        case .note:
            guard hasRunMeta else { return nil }
            return try db.scalar("SELECT note FROM run_notes WHERE run_id = ?", [.text(runID)])?.string
        case .tag(let key):
            guard hasRunMeta else { return nil }
            return try db.scalar("SELECT value FROM run_tags WHERE run_id = ? AND key = ?", [.text(runID), .text(key)])?.string
        }
    }

    /// THE writer of a run's mutable fields: sets `field` to `value` (nil removes
    /// a tag or the note) and appends an event with the old and new value, when
    /// the value changes. Call inside a write transaction; the caller checked the value.
    /// - Parameter updatedAt: the time kept with a tag or note (a bundle's, when merging); now by default.
    /// - Returns: whether anything changed.
    /// - Throws: `StoreError.noSuchRun`.
    @discardableResult
    func change(_ field: RunField, of runID: String, to value: String?, updatedAt: String? = nil) throws -> Bool {
        if field == .name || field == .status {
            // Checks that the run exists even when the value is unchanged.
            guard try db.scalar("SELECT 1 FROM runs WHERE id = ?", [.text(runID)]) != nil else { throw StoreError.noSuchRun(runID) }
        }
        let old = try currentValue(field, of: runID)
        guard old != value else { return false }
        let now = StoreTimestamp.now()
        switch field {
        case .name:
            try db.execute("UPDATE runs SET name = ? WHERE id = ?", [value.map(SQLValue.text) ?? .null, .text(runID)])
        case .status:
            try db.execute("UPDATE runs SET status = ? WHERE id = ?", [.text(value ?? ""), .text(runID)])
        case .note:
            try db.execute("DELETE FROM run_notes WHERE run_id = ?", [.text(runID)])
            if let value {
                try db.execute("INSERT INTO run_notes (run_id, note, updated_at) VALUES (?, ?, ?)",
                               [.text(runID), .text(value), .text(updatedAt ?? now)])
            }
        case .tag(let key):
            try db.execute("DELETE FROM run_tags WHERE run_id = ? AND key = ?", [.text(runID), .text(key)])
            if let value {
                try db.execute("INSERT INTO run_tags (run_id, key, value, updated_at) VALUES (?, ?, ?, ?)",
                               [.text(runID), .text(key), .text(value), .text(updatedAt ?? now)])
            }
        }
        try recordEvent(field, of: runID, from: old, to: value, at: now)
        return true
    }

    /// Appends the event for a change a compare-and-set UPDATE already made
    /// (a lease claim or release, which must match owner and expiry in the same
    /// statement); nothing when the value did not change.
    func recordEvent(_ field: RunField, of runID: String, from old: String?, to value: String?,
                     at time: String = StoreTimestamp.now()) throws {
        guard old != value else { return }
        try appendEvent(RunEvent(runID: runID, changedAt: time, host: EventActor.current.host, user: EventActor.current.user,
                                 field: field.text, oldValue: old, newValue: value))
    }

    /// Appends one row to `events` (a no-op before schema version 6). Only
    /// `change` and the bundle merge, which copies a bundle's trail, call it.
    func appendEvent(_ event: RunEvent) throws {
        guard hasRunMeta else { return }
        try db.execute("""
            INSERT INTO events (run_id, changed_at, host, user_name, field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(event.runID), .text(event.changedAt), .text(event.host), .text(event.user), .text(event.field),
                  event.oldValue.map(SQLValue.text) ?? .null, event.newValue.map(SQLValue.text) ?? .null])
    }

    /// A write transaction that refuses stores older than schema version 6.
    private func metaTransaction<T>(_ body: () throws -> T) throws -> T {
        guard hasRunMeta else {
            throw StoreError.invalidInput("The store \(path) is at schema version \(schemaVersion) and has no tags or notes; open it for writing once to upgrade it.")
        }
        return try storeErrors { try db.writeTransaction(body) }
    }

    // MARK: Writing

    /// Renames a run (`RunName`'s rules; names stay unique).
    /// - Returns: false when the run already has that name.
    /// - Throws: `StoreError.invalidInput`, `.nameTaken`, `.noSuchRun`.
    @discardableResult
    public func rename(runID: String, to name: String) throws -> Bool {
        try RunName.validate(name)
        return try storeErrors {
            try db.writeTransaction {
                if let holder = try db.scalar("SELECT id FROM runs WHERE name = ?", [.text(name)])?.string, holder != runID {
                    throw StoreError.nameTaken(name)
                }
                var changed = false
                try uniqueName(name) { changed = try change(.name, of: runID, to: name) }
                return changed
            }
        }
    }

    /// Sets the tags in `set` and removes those in `remove`, in one transaction.
    /// - Returns: the fields that changed, in the order written (sets by key, then removals).
    /// - Throws: `StoreError.invalidInput` for a key or value that breaks `RunMetadata`'s rules, `.noSuchRun`.
    @discardableResult
    public func setTags(runID: String, set: [String: String], remove: [String] = []) throws -> [RunField] {
        for (key, value) in set { try RunMetadata.validateTag(key: key, value: value) }
        for key in remove { try RunMetadata.validateTag(key: key, value: nil) }
        return try metaTransaction {
            _ = try requireRun(runID)
            var changed: [RunField] = []
            for key in set.keys.sorted() {
                if try change(.tag(key), of: runID, to: set[key]) { changed.append(.tag(key)) }
            }
            for key in remove {
                if try change(.tag(key), of: runID, to: nil) { changed.append(.tag(key)) }
            }
            return changed
        }
    }

    /// Replaces the run's note (nil removes it).
    /// - Returns: whether it changed.
    /// - Throws: `StoreError.invalidInput`, `.noSuchRun`.
    @discardableResult
    public func setNote(runID: String, _ note: String?) throws -> Bool {
        if let note { try RunMetadata.validateNote(note) }
        return try metaTransaction {
            _ = try requireRun(runID)
            return try change(.note, of: runID, to: note)
        }
    }

    // MARK: Reading

    /// The run's tags (empty before schema version 6).
    public func tags(runID: String) throws -> [String: String] {
        guard hasRunMeta else { return [:] }
        return try storeErrors {
            var tags: [String: String] = [:]
            let statement = try db.prepare("SELECT key, value FROM run_tags WHERE run_id = ?")
            try statement.bind([.text(runID)])
            try statement.forEachRow { tags[$0.string(at: $0.column("key"))] = $0.string(at: $0.column("value")) }
            return tags
        }
    }

    /// The run's note, if any.
    public func note(runID: String) throws -> String? {
        guard hasRunMeta else { return nil }
        return try storeErrors { try db.scalar("SELECT note FROM run_notes WHERE run_id = ?", [.text(runID)])?.string }
    }

    /// The changes of the run's mutable fields, oldest first (empty before schema version 6).
    public func events(runID: String) throws -> [RunEvent] {
        guard hasRunMeta else { return [] }
        return try storeErrors {
            var events: [RunEvent] = []
            let statement = try db.prepare("""
                SELECT run_id, changed_at, host, user_name, field, old_value, new_value FROM events WHERE run_id = ? ORDER BY id
                """)
            try statement.bind([.text(runID)])
            try statement.forEachRow { events.append(Store.event($0)) }
            return events
        }
    }

    static func event(_ row: Statement) -> RunEvent {
        RunEvent(runID: row.string(at: row.column("run_id")), changedAt: row.string(at: row.column("changed_at")),
                 host: row.string(at: row.column("host")), user: row.string(at: row.column("user_name")),
                 field: row.string(at: row.column("field")), oldValue: row.optionalString(at: row.column("old_value")),
                 newValue: row.optionalString(at: row.column("new_value")))
    }

    /// Every run's tags and note, by run id (for listings; empty before schema version 6).
    func allTagsAndNotes() throws -> (tags: [String: [String: String]], notes: [String: String]) {
        guard hasRunMeta else { return ([:], [:]) }
        var tags: [String: [String: String]] = [:]
        var notes: [String: String] = [:]
        try db.prepare("SELECT run_id, key, value FROM run_tags").forEachRow { row in
            tags[row.string(at: row.column("run_id")), default: [:]][row.string(at: row.column("key"))] = row.string(at: row.column("value"))
        }
        try db.prepare("SELECT run_id, note FROM run_notes").forEachRow { row in
            notes[row.string(at: row.column("run_id"))] = row.string(at: row.column("note"))
        }
        return (tags, notes)
    }
}
