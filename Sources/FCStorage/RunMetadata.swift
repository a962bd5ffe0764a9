import FCCore
import Foundation

/// A field of a run that changes in normal use, outside every digest (like the
/// name): each change appends one row to `events` (see `Store.change`).
public enum RunField: Hashable, Sendable {
    case name, status, note
    case tag(String)

    /// As stored in `events.field`: `name`, `status`, `note`, `tag.KEY`.
    public var text: String {
        switch self {
        case .name: return "name"
        case .status: return "status"
        case .note: return "note"
        case .tag(let key): return "tag." + key
        }
    }

    /// The field `text` names, or nil.
    public init?(text: String) {
        switch text {
        case "name": self = .name
        case "status": self = .status
        case "note": self = .note
        default:
            guard text.hasPrefix("tag."), RunMetadata.keyFlaw(String(text.dropFirst(4))) == nil else { return nil }
            self = .tag(String(text.dropFirst(4)))
        }
    }
}

/// One row of `events`: a change of a run's name, status, tag or note.
public struct RunEvent: Equatable, Hashable, Sendable {
    public var runID: String
    /// ISO 8601 UTC with milliseconds, as stored.
    public var changedAt: String
    public var host: String
    public var user: String
    /// `RunField.text`: `name`, `status`, `note` or `tag.KEY`.
    public var field: String
    /// nil: the tag or note did not exist (or the run had no name).
    public var oldValue: String?
    /// nil: the tag or note was removed.
    public var newValue: String?
}

/// Who changes a run: this machine's host name and this process's user, read
/// once per process (gethostname, getpwuid; no environment variable).
public struct EventActor: Equatable, Sendable {
    public var host: String
    public var user: String

    public static let current: EventActor = {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : ""
        var user = ""
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { user = String(cString: name) }
        return EventActor(host: host.isEmpty ? "unknown" : host, user: user.isEmpty ? "uid \(geteuid())" : user)
    }()
}

/// The rules for tags and notes, checked by the store before writing (and on
/// bundle import), so every tag can be typed on a command line and queried.
///
/// - tag key: 1 to 64 characters from `A-Z a-z 0-9 _ - . / :`;
/// - tag value: at most 1000 characters, no control characters or line breaks (may be empty);
/// - note: 1 to 10000 characters, no control characters but line breaks (`\n`) and tabs.
public enum RunMetadata {
    public static let maxKeyLength = 64
    public static let maxValueLength = 1000
    public static let maxNoteLength = 10_000

    /// What is wrong with a tag key, as a clause, or nil.
    public static func keyFlaw(_ key: String) -> String? {
        if key.isEmpty { return "is empty" }
        if key.unicodeScalars.count > maxKeyLength { return "is longer than \(maxKeyLength) characters" }
        let allowed = key.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "_-./:".unicodeScalars.contains(scalar))
        }
        return allowed ? nil : "may hold only ASCII letters, digits, '_', '-', '.', '/' and ':'"
    }

    /// What is wrong with a tag value, as a clause, or nil.
    public static func valueFlaw(_ value: String) -> String? {
        if value.unicodeScalars.count > maxValueLength { return "is longer than \(maxValueLength) characters" }
        if value.unicodeScalars.contains(where: RunName.isForbiddenScalar) { return "contains a control character or line break" }
        return nil
    }

    /// What is wrong with a note, as a clause, or nil.
    public static func noteFlaw(_ note: String) -> String? {
        if note.isEmpty { return "is empty" }
        if note.unicodeScalars.count > maxNoteLength { return "is longer than \(maxNoteLength) characters" }
        if note.unicodeScalars.contains(where: { $0 != "\n" && $0 != "\t" && RunName.isForbiddenScalar($0) }) {
            return "contains a control character (only line breaks and tabs are allowed)"
        }
        return nil
    }

    /// Refuses a tag that breaks the rules, in one sentence.
    /// - Throws: `StoreError.invalidInput`.
    public static func validateTag(key: String, value: String?) throws {
        if let flaw = keyFlaw(key) { throw StoreError.invalidInput("The tag key \(RunName.quoted(key)) \(flaw).") }
        if let value, let flaw = valueFlaw(value) {
            throw StoreError.invalidInput("The value of tag \(key) \(flaw).")
        }
    }

    /// Refuses a note that breaks the rules, in one sentence.
    /// - Throws: `StoreError.invalidInput`.
    public static func validateNote(_ note: String) throws {
        if let flaw = noteFlaw(note) { throw StoreError.invalidInput("The note \(flaw).") }
    }
}
