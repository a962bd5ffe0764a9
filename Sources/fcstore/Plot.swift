import ArgumentParser
import FCStorage
import FCTraining
import Foundation

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot loss and accuracy per epoch of one or more runs as an SVG file.")

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("Runs to plot (a RUN@EPOCH plots up to that epoch).", valueName: "ref"))
    var refs: [CheckpointRef]

    @Option(help: ArgumentHelp("The SVG file to write.", valueName: "file"))
    var output: String

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    func validate() throws {
        if refs.isEmpty { throw ValidationError("Name at least one run to plot.") }
    }

    func run() throws {
        let store = try self.store.openExisting()
        try OutputFile.checkTarget(output, force: force)
        var series: [SVGPlot.Series] = []
        for ref in refs {
            let (run, checkpoint) = try Workflow.checkpoint(store, run: ref.run, epoch: ref.selector)
            let points = try store.checkpoints(runID: run.id).filter { $0.epoch <= checkpoint.epoch }
            let label = run.name.map { "\($0) (\(run.shortID))" } ?? run.shortID
            series.append(SVGPlot.Series(label: label, metrics: points.map { ($0.epoch, $0.metrics) }))
        }
        let svg = SVGPlot(series: series).render()
        try OutputFile.write(Data(svg.utf8), to: output, replace: force)
        Console.err("wrote \(output): \(series.count) run\(series.count == 1 ? "" : "s")")
    }
}
