import ArgumentParser

struct EngineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "engine", abstract: "Placeholder.")
    func run() throws { throw ValidationError("not implemented yet") }
}
