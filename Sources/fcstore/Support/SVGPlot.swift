import Foundation

/// Draws per-epoch curves of several runs as a standalone SVG: one panel for
/// loss and one for accuracy, a colour per run, solid lines for training and
/// dashed lines for validation, labelled axes and a legend.
struct SVGPlot {
    struct Series {
        var label: String
        /// epoch → metric name → value
        var metrics: [(epoch: Int, values: [String: Double])]
    }

    struct Panel {
        var title: String
        var axisLabel: String
        var curves: [(metric: String, dashed: Bool, legend: String)]
    }

    var series: [Series]

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]

    static let panels = [
        Panel(title: "Loss", axisLabel: "loss", curves: [
            ("train_loss", false, "train"), ("val_loss", true, "validation"),
        ]),
        Panel(title: "Accuracy", axisLabel: "accuracy", curves: [
            ("train_accuracy", false, "train"), ("val_accuracy", true, "validation"),
        ]),
    ]

    func render() -> String {
        let panels = Self.panels.filter { panel in
            panel.curves.contains { curve in series.contains { points(of: $0, curve.metric).count > 0 } }
        }
        let panelWidth = 460.0, panelHeight = 300.0
        let margin = (left: 70.0, right: 20.0, top: 40.0, bottom: 50.0)
        let legendHeight = 22.0 * Double(series.count) + 40
        let width = Double(max(panels.count, 1)) * (panelWidth + margin.left + margin.right)
        let height = margin.top + panelHeight + margin.bottom + legendHeight

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
        viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
        let maxEpoch = series.flatMap { $0.metrics.map(\.epoch) }.max() ?? 1
        for (index, panel) in panels.enumerated() {
            let x0 = Double(index) * (panelWidth + margin.left + margin.right) + margin.left
            let y0 = margin.top
            var values: [Double] = []
            for run in series {
                for curve in panel.curves { values += points(of: run, curve.metric).map(\.1) }
            }
            var low = values.min() ?? 0, high = values.max() ?? 1
            if panel.axisLabel == "accuracy" { low = min(low, 1); high = max(high, 0) }
            if high - low < 1e-12 { high = low + 1 }
            let yTicks = Self.ticks(low, high)
            low = min(low, yTicks.first ?? low)
            high = max(high, yTicks.last ?? high)
            let xHigh = Double(max(maxEpoch, 1))
            func sx(_ epoch: Double) -> Double { x0 + epoch / xHigh * panelWidth }
            func sy(_ value: Double) -> Double { y0 + panelHeight - (value - low) / (high - low) * panelHeight }

            svg += "<text x=\"\(f(x0 + panelWidth / 2))\" y=\"\(f(y0 - 14))\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(panel.title))</text>\n"
            svg += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(panelWidth))\" height=\"\(f(panelHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
            for tick in yTicks where tick >= low && tick <= high {
                let y = sy(tick)
                svg += "<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + panelWidth))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>\n"
                svg += "<text x=\"\(f(x0 - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
            }
            for tick in Self.ticks(0, xHigh).filter({ $0 == $0.rounded() && $0 >= 0 && $0 <= xHigh }) {
                let x = sx(tick)
                svg += "<line x1=\"\(f(x))\" y1=\"\(f(y0 + panelHeight))\" x2=\"\(f(x))\" y2=\"\(f(y0 + panelHeight + 5))\" stroke=\"#444\"/>\n"
                svg += "<text x=\"\(f(x))\" y=\"\(f(y0 + panelHeight + 18))\" text-anchor=\"middle\">\(Int(tick))</text>\n"
            }
            svg += "<text x=\"\(f(x0 + panelWidth / 2))\" y=\"\(f(y0 + panelHeight + 38))\" text-anchor=\"middle\">epoch</text>\n"
            svg += "<text transform=\"translate(\(f(x0 - 52)),\(f(y0 + panelHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(panel.axisLabel))</text>\n"
            for (runIndex, run) in series.enumerated() {
                let colour = Self.palette[runIndex % Self.palette.count]
                for curve in panel.curves {
                    let pts = points(of: run, curve.metric)
                    guard !pts.isEmpty else { continue }
                    let path = pts.map { "\(f(sx(Double($0.0)))),\(f(sy($0.1)))" }.joined(separator: " ")
                    let dash = curve.dashed ? " stroke-dasharray=\"6,4\"" : ""
                    svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(path)\"><title>\(escape(run.label)) \(curve.legend)</title></polyline>\n"
                    if pts.count == 1 {
                        svg += "<circle cx=\"\(f(sx(Double(pts[0].0))))\" cy=\"\(f(sy(pts[0].1)))\" r=\"3\" fill=\"\(colour)\"/>\n"
                    }
                }
            }
        }
        // Legend: one entry per run, then the line styles.
        var y = margin.top + panelHeight + margin.bottom + 10
        for (runIndex, run) in series.enumerated() {
            let colour = Self.palette[runIndex % Self.palette.count]
            svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(y))\" x2=\"\(f(margin.left + 30))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"3\"/>\n"
            svg += "<text x=\"\(f(margin.left + 38))\" y=\"\(f(y + 4))\">\(escape(run.label))</text>\n"
            y += 22
        }
        svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(y))\" x2=\"\(f(margin.left + 30))\" y2=\"\(f(y))\" stroke=\"#444\" stroke-width=\"2\"/>\n"
        svg += "<text x=\"\(f(margin.left + 38))\" y=\"\(f(y + 4))\">train</text>\n"
        svg += "<line x1=\"\(f(margin.left + 110))\" y1=\"\(f(y))\" x2=\"\(f(margin.left + 140))\" y2=\"\(f(y))\" stroke=\"#444\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n"
        svg += "<text x=\"\(f(margin.left + 148))\" y=\"\(f(y + 4))\">validation</text>\n"
        svg += "</svg>\n"
        return svg
    }

    private func points(of run: Series, _ metric: String) -> [(Int, Double)] {
        run.metrics.compactMap { entry in
            guard let value = entry.values[metric], value.isFinite else { return nil }
            return (entry.epoch, value)
        }
    }

    /// About five round tick values covering [low, high].
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        let span = max(high - low, 1e-12)
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        var tick = floor(low / step) * step
        var result: [Double] = []
        while tick <= high + step * 0.5, result.count < 50 {
            result.append(tick)
            tick += step
        }
        return result
    }

    static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e6 { return String(Int(value)) }
        return String(format: "%g", value)
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
