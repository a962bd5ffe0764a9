import ArgumentParser
import FCStorage

/// `fcstore note RUN "text"`: the run's one note, replaced by each call (as MLflow's
/// and W&B's run notes are); the history keeps every earlier text.
struct Note: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set a run's note (replacing the previous one); without text, print it.",
        discussion: """
            A run has one note of at most 10000 characters (line breaks and tabs allowed, no other \
            control characters). Each change, with the old text, is recorded in the run's history \
            ('fcstore show RUN --history'). --clear removes the note.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The run (a name or an id prefix).", valueName: "run"))
    var runName: String

    @Argument(help: ArgumentHelp("The note's text.", valueName: "text"))
    var text: String?

    @Flag(help: "Remove the note.")
    var clear = false

    func validate() throws {
        if clear, text != nil { throw ValidationError("Give either a text or --clear, not both.") }
        if let text { do { try RunMetadata.validateNote(text) } catch { throw ValidationError(String(describing: error)) } }
    }

    func run() throws {
        let store = try self.store.openExisting()
        let record = try store.resolveRun(runName)
        guard clear || text != nil else {
            guard let note = try store.note(runID: record.id) else {
                Console.out("Run \(record.shortID) has no note.")
                return
            }
            Console.out(lines: note.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
            return
        }
        let changed = try store.setNote(runID: record.id, text)
        let what = clear ? "note removed" : "note set (\(Format.count(text?.unicodeScalars.count ?? 0, "character")))"
        Console.out("run \(record.shortID): " + (changed ? what : "note unchanged"))
    }
}
