import ArgumentParser
import FCStorage

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a run and its checkpoints.",
        discussion: """
            A run that other runs fork from is refused unless --force, which first gives each \
            fork its own copy of the checkpoint rows it inherits (no tensor bytes are copied). \
            'fcstore gc' then frees the space.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The run to delete.", valueName: "run"))
    var runName: String

    @Flag(help: "Detach the run's forks first instead of refusing.")
    var force = false

    func run() throws {
        let signingKey = try SigningKeys.load()
        let store = try self.store.openExisting()
        // Detaching forks rewrites their heads: signed again with the key when there is one.
        store.signingKey = signingKey
        let record = try store.resolveRun(runName)
        if record.status == .running, let owner = record.owner, Owner.isAlive(owner) {
            throw CLIError("Run \(record.shortID) is being trained by another process (\(owner)); stop it before removing the run.")
        }
        let result = try store.removeRun(runID: record.id, force: force)
        var line = "removed run \(record.shortID): \(Format.count(result.checkpointsDeleted, "checkpoint"))"
        if !result.detachedForks.isEmpty {
            line += "; detached forks \(result.detachedForks.map { String($0.prefix(8)) }.joined(separator: ", ")) (\(Format.count(result.checkpointsCopied, "checkpoint row")) copied)"
        }
        Console.out(line + ". Run 'fcstore gc' to free the space.")
    }
}
