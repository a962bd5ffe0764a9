import ArgumentParser
import FCDashboard
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

    @Option(name: .customLong("metric"), help: ArgumentHelp("Plot this metric (repeatable) instead of loss and accuracy.", valueName: "name"))
    var metrics: [String] = []

    @Flag(help: "Draw the y-axis on a log scale.")
    var log = false

    func validate() throws {
        if refs.isEmpty { throw ValidationError("Name at least one run to plot.") }
        if !output.lowercased().hasSuffix(".svg") { throw ValidationError("plot writes SVG: --output must end in .svg.") }
    }

    func run() throws {
        let store = try self.store.openExisting()
        try OutputFile.checkTarget(output, force: force)
        var series: [RunSeries] = []
        for ref in refs {
            let (run, checkpoint) = try Workflow.checkpoint(store, run: ref.run, epoch: ref.selector)
            series.append(RunSeries(run: run, checkpoints: try store.checkpoints(runID: run.id), upTo: checkpoint.epoch))
        }
        let charts = CurvePanels.charts(series, metrics: metrics, logScale: log)
        let svg = CurvePanels.sheet(charts, series: series, styles: metrics.isEmpty)
        try OutputFile.write(Data(svg.utf8), to: output, replace: force)
        Console.err("wrote \(output): \(series.count) run\(series.count == 1 ? "" : "s")")
    }
}
