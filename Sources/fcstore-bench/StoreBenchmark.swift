import ArgumentParser

struct StoreBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Placeholder.")
    func run() throws { throw ValidationError("not implemented yet") }
}
