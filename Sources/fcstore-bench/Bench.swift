import ArgumentParser

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fcstore-bench",
        abstract: "Benchmarks of fcstore's engine and store (build with -c release).",
        subcommands: [StoreBenchmark.self, EngineBenchmark.self, CheckpointBenchmark.self, ScaleBenchmark.self, ResumeBenchmark.self,
                      UIBenchmark.self, PushBenchmark.self, CSVBenchmark.self]
    )
}
