import ArgumentParser
import FCStorage
import Foundation

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Copy runs to another store (only what it lacks).",
        discussion: """
            DEST is another store, named as --store names one (a file, created when missing). \
            Without RUN every run is copied; with RUN, that run and the ancestors' epochs it \
            inherits. Tensors DEST already has (same SHA-256) and epochs it already has are not \
            sent; a history that diverged is refused whole. Every hash is checked before an \
            epoch becomes visible in DEST, and each epoch is committed on its own, so an \
            interrupted push leaves whole epochs, and the next push continues from there.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The store to copy to.", valueName: "dest"))
    var destination: String

    @Argument(help: ArgumentHelp("Runs to copy (default: every run).", valueName: "run"))
    var runs: [String] = []

    @OptionGroup var output: JSONOption

    func run() throws {
        try StoreLocation.redacting(destination) { try push() }
    }

    private func push() throws {
        let local = try store.openExisting()
        if StoreLocation.sameFile(store.path, destination) {
            throw CLIError("\(Store.displayLocation(destination)) is this store itself; push to another store.")
        }
        let remote = try StoreLocation.open(destination)
        try TransferCommand.run(.push, local: local, remote: remote, remoteLocation: destination, runs: runs, json: output.json)
    }
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Copy runs from another store (only what this lacks).",
        discussion: """
            SOURCE is another store, named as --store names one. Without RUN every run is \
            copied; with RUN (as SOURCE names it), that run and the ancestors' epochs it \
            inherits. The same rules as push: only what is missing travels, a diverged history \
            is refused whole, every hash is checked, whole epochs only.
            """)

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The store to copy from.", valueName: "source"))
    var source: String

    @Argument(help: ArgumentHelp("Runs to copy (default: every run).", valueName: "run"))
    var runs: [String] = []

    @OptionGroup var output: JSONOption

    func run() throws {
        try StoreLocation.redacting(source) { try pull() }
    }

    private func pull() throws {
        if StoreLocation.sameFile(store.path, source) {
            throw CLIError("\(Store.displayLocation(source)) is this store itself; pull from another store.")
        }
        let remote = try StoreLocation.open(source, mustExist: true)
        let local = try store.open()
        try TransferCommand.run(.pull, local: local, remote: remote, remoteLocation: source, runs: runs, json: output.json)
    }
}
