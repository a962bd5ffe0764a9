import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// The per-epoch metrics of one run, as charts draw them.
public struct RunSeries {
    /// "name (3fa2c1d0)", or the short id.
    public var label: String
    public var runID: String
    /// The loss function ("cross-entropy", "mse", ...): loss panels are split by it,
    /// so a regression's MSE does not flatten the classifiers beside it.
    public var lossKind: String?
    /// A fork's fork point: its curves start there (drawn from its own epochs), so
    /// they do not retrace and hide the parent's.
    public var forkEpoch: Int?
    public var epochs: [(epoch: Int, metrics: [String: Double])]

    public init(label: String, runID: String, lossKind: String?, forkEpoch: Int?, epochs: [(epoch: Int, metrics: [String: Double])]) {
        self.label = label
        self.runID = runID
        self.lossKind = lossKind
        self.forkEpoch = forkEpoch
        self.epochs = epochs
    }

    /// The run's checkpoints (`Store.checkpoints`), up to `upTo`.
    public init(run: RunRecord, checkpoints: [CheckpointSummary], upTo: Int? = nil) {
        let loss = (try? RunConfig.decode(run.config, run: run.shortID))?.spec.loss.rawValue
        self.init(label: Self.label(run), runID: run.id, lossKind: loss, forkEpoch: run.parent?.epoch,
                  epochs: checkpoints.filter { upTo == nil || $0.epoch <= upTo! }.map { ($0.epoch, $0.metrics) })
    }

    public static func label(_ run: RunRecord) -> String {
        run.name.map { "\($0) (\(run.shortID))" } ?? run.shortID
    }

    /// (epoch, value) of `metric` from the fork point on.
    func points(_ metric: String) -> [(x: Double, y: Double)] {
        let start = forkEpoch ?? Int.min
        return epochs.compactMap { entry in
            guard entry.epoch >= start, let value = entry.metrics[metric] else { return nil }
            return (Double(entry.epoch), value)
        }
    }
}

/// Which charts to draw for a set of runs.
public enum CurvePanels {
    /// The default panels: loss (one panel per loss function) and accuracy, train
    /// solid and validation dashed, a colour per run. With `metrics`, one panel per
    /// named metric instead. Panels without any value are left out (a named
    /// metric's panel stays, saying "no values").
    public static func charts(_ series: [RunSeries], metrics: [String] = [], logScale: Bool = false) -> [Chart] {
        let single = series.count == 1
        func curve(_ run: (offset: Int, element: RunSeries), _ metric: String, dashed: Bool, colour: Int, legend: String) -> Chart.Curve {
            Chart.Curve(label: single ? legend : "\(run.element.label) \(legend)", metric: metric, run: run.element.runID,
                        colour: colour, dashed: dashed, points: run.element.points(metric))
        }
        if !metrics.isEmpty {
            return metrics.map { metric in
                Chart(title: metric, yLabel: metric, curves: series.enumerated().map {
                    curve($0, metric, dashed: false, colour: $0.offset, legend: metric)
                }, logScale: logScale)
            }
        }
        var charts: [Chart] = []
        let kinds = series.map { $0.lossKind ?? "loss" }.reduce(into: [String]()) { if !$1.isEmpty && !$0.contains($1) { $0.append($1) } }
        for kind in kinds {
            let runs = series.enumerated().filter { ($0.element.lossKind ?? "loss") == kind }
            var curves: [Chart.Curve] = []
            for run in runs {
                curves.append(curve(run, "train_loss", dashed: false, colour: run.offset, legend: single ? "train loss" : "train"))
                curves.append(curve(run, "val_loss", dashed: true, colour: run.offset, legend: single ? "validation loss" : "validation"))
            }
            let title = kinds.count > 1 ? "Loss (\(kind))" : "Loss"
            charts.append(Chart(title: title, yLabel: kinds.count > 1 ? kind : "loss", curves: curves.filter { !$0.points.isEmpty }, logScale: logScale))
        }
        var accuracy: [Chart.Curve] = []
        for run in series.enumerated() {
            accuracy.append(curve(run, "train_accuracy", dashed: false, colour: run.offset, legend: single ? "train accuracy" : "train"))
            accuracy.append(curve(run, "val_accuracy", dashed: true, colour: run.offset, legend: single ? "validation accuracy" : "validation"))
        }
        charts.append(Chart(title: "Accuracy", yLabel: "accuracy", curves: accuracy.filter { !$0.points.isEmpty }, logScale: logScale))
        return charts.filter { !$0.curves.isEmpty }
    }

    /// Several panels side by side (two to a row) in one standalone SVG, with one
    /// legend: a colour per run, then the line styles (`fcstore plot`).
    public static func sheet(_ charts: [Chart], series: [RunSeries], styles: Bool = true) -> String {
        let columns = max(1, min(charts.count, 2))
        let cellWidth = charts.first?.outerWidth ?? 608, cellHeight = charts.first?.outerHeight ?? 350
        let rows = max(1, (charts.count + columns - 1) / columns)
        let width = Double(columns) * cellWidth
        var entries = series.enumerated().map { (label: $0.element.label, colour: $0.offset, dashed: false) }
        if styles { entries += [("train", -1, false), ("validation", -1, true)] }
        let legendRows = Chart.legendRows(entries, width: width)
        let height = Double(rows) * cellHeight + Double(legendRows) * 20 + 16
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (index, chart) in charts.enumerated() {
            svg += chart.panel(id: "panel\(index)", x: Double(index % columns) * cellWidth, y: Double(index / columns) * cellHeight)
        }
        svg += Chart.legend(entries.map { ($0.label, $0.colour, $0.dashed) }, x: Chart.margin.left, y: Double(rows) * cellHeight, width: width)
        svg += "</svg>\n"
        return svg
    }
}
