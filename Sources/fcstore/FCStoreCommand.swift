import ArgumentParser

@main
struct FCStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fcstore",
        abstract: "A persistent model store for fully-connected neural networks.",
        version: "0.1.0"
    )
}
