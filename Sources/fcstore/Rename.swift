import ArgumentParser
import FCStorage

/// `fcstore rename RUN NEW`: a new unique name, by `train --name`'s rules, outside the digest.
struct Rename: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give a run a new name.",
        discussion: """
            The name follows the rules of 'train --name' and must not belong to another run. The \
            change is recorded in the run's history ('fcstore show RUN --history').
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The run (a name or an id prefix).", valueName: "run"))
    var runName: String

    @Argument(help: ArgumentHelp("Its new name.", valueName: "new-name"))
    var newName: String

    func validate() throws {
        do { try RunName.validate(newName) } catch { throw ValidationError(String(describing: error)) }
    }

    func run() throws {
        let store = try self.store.openExisting()
        let record = try store.resolveRun(runName)
        guard try store.rename(runID: record.id, to: newName) else {
            Console.out("run \(record.shortID) is already named \(RunName.quoted(newName))")
            return
        }
        Console.out("renamed run \(record.shortID): \(record.name.map(RunName.quoted) ?? "(no name)") -> \(RunName.quoted(newName))")
    }
}
