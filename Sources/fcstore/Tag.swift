import ArgumentParser
import FCStorage

/// `fcstore tag RUN key=value ... [--remove KEY]`: a run's tags, outside its digest.
struct Tag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set or remove a run's tags (key=value); without any, list them.",
        discussion: """
            Keys are 1 to 64 characters from A-Z a-z 0-9 _ - . / : ; values at most 1000 characters \
            without control characters (may be empty). Setting a key again replaces its value. Every \
            change is recorded in the run's history ('fcstore show RUN --history').
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The run (a name or an id prefix).", valueName: "run"))
    var runName: String

    @Argument(help: ArgumentHelp("Tags to set, as key=value.", valueName: "key=value"))
    var pairs: [String] = []

    @Option(name: .long, help: ArgumentHelp("A tag to remove (repeatable).", valueName: "key"))
    var remove: [String] = []

    /// `pairs` as keys and values, checked.
    func parsedPairs() throws -> [String: String] {
        var tags: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else {
                throw ValidationError("\(RunName.quoted(pair)) is not key=value; write a tag as KEY=VALUE (an empty value is KEY=).")
            }
            let key = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
            guard tags[key] == nil else { throw ValidationError("The tag key \(key) is given twice.") }
            do { try RunMetadata.validateTag(key: key, value: value) } catch { throw ValidationError(String(describing: error)) }
            tags[key] = value
        }
        for key in remove {
            do { try RunMetadata.validateTag(key: key, value: nil) } catch { throw ValidationError(String(describing: error)) }
            if tags[key] != nil { throw ValidationError("The tag key \(key) is both set and removed; choose one.") }
        }
        return tags
    }

    func validate() throws { _ = try parsedPairs() }

    func run() throws {
        let set = try parsedPairs()
        let store = try self.store.openExisting()
        let record = try store.resolveRun(runName)
        if set.isEmpty && remove.isEmpty {
            let tags = try store.tags(runID: record.id)
            if tags.isEmpty { Console.out("Run \(record.shortID) has no tags.") }
            Console.out(lines: tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
            return
        }
        let changed = try store.setTags(runID: record.id, set: set, remove: remove)
        let setKeys = changed.compactMap { field -> String? in
            guard case .tag(let key) = field, let value = set[key] else { return nil }
            return "\(key)=\(value)"
        }
        let removed = changed.compactMap { field -> String? in
            guard case .tag(let key) = field, set[key] == nil else { return nil }
            return key
        }
        var parts: [String] = []
        if !setKeys.isEmpty { parts.append("set " + setKeys.joined(separator: ", ")) }
        if !removed.isEmpty { parts.append("removed " + removed.joined(separator: ", ")) }
        Console.out("run \(record.shortID): " + (parts.isEmpty ? "tags unchanged" : parts.joined(separator: "; ")))
    }
}
