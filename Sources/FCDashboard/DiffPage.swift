import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// `/diff?a=RUN@EPOCH&b=RUN@EPOCH`: two checkpoints side by side, `fcstore diff`'s
/// per-tensor statistics, and a histogram of every weight's and bias's change B − A.
struct DiffPage {
    let dashboard: Dashboard
    let store: Store
    let query: Query

    func render() throws -> String {
        let (runA, epochA) = try dashboard.checkpointRef(store, query["a"])
        let (runB, epochB) = try dashboard.checkpointRef(store, query["b"])
        // Shown even when a digest no longer matches (an auditor wants to see what is
        // there), under a warning naming the problem.
        let (a, problemA) = try store.loadCheckpointForAudit(runID: runA.id, epoch: epochA)
        let (b, problemB) = try store.loadCheckpointForAudit(runID: runB.id, epoch: epochB)
        let nameA = "\(runA.name ?? runA.shortID)@\(epochA)", nameB = "\(runB.name ?? runB.shortID)@\(epochB)"
        let shapesA = a.tensors.filter { $0.role == "weight" }.map(\.value.shape)
        let shapesB = b.tensors.filter { $0.role == "weight" }.map(\.value.shape)
        guard shapesA == shapesB else {
            throw NotFound("\(nameA) and \(nameB) have different architectures; diff compares checkpoints of one architecture.")
        }
        var pairs: [TensorPair] = []
        for tensor in a.tensors where tensor.layer >= 1 && (tensor.role == "weight" || tensor.role == "bias") {
            guard let other = b.tensor(layer: tensor.layer, role: tensor.role), other.shape == tensor.value.shape else { continue }
            pairs.append((tensor.layer, tensor.role, tensor.value, other))
        }
        pairs.sort { ($0.layer, $0.role == "weight" ? 0 : 1) < ($1.layer, $1.role == "weight" ? 0 : 1) }
        // `fcstore diff`'s statistics, from the one implementation in FCTraining.
        let changes = pairs.map { TensorChange(layer: $0.layer, role: $0.role, a: $0.a, b: $0.b) }

        var html = "<h1>Diff</h1>\n" + HTML.integrityWarnings([problemA, problemB]) + "<table class=\"data sides\"><thead><tr><th></th><th>A</th><th>B</th></tr></thead><tbody>\n"
        html += "<tr><th>checkpoint</th><td><a href=\"/runs/\(HTML.escape(runA.id))\">\(HTML.escape(nameA))</a></td>"
            + "<td><a href=\"/runs/\(HTML.escape(runB.id))\">\(HTML.escape(nameB))</a></td></tr>\n"
        html += "<tr><th>digest</th><td><code>\(HTML.escape(String(a.digestHex.prefix(16))))</code></td>"
            + "<td><code>\(HTML.escape(String(b.digestHex.prefix(16))))</code></td></tr>\n"
        for name in ["train_loss", "train_accuracy", "val_loss", "val_accuracy"] where a.metrics[name] != nil || b.metrics[name] != nil {
            html += "<tr><th>\(HTML.escape(name))</th><td class=\"num\">\(HTML.number(a.metrics[name]))</td><td class=\"num\">\(HTML.number(b.metrics[name]))</td></tr>\n"
        }
        html += "</tbody></table>\n"
        let identical = changes.allSatisfy { $0.changed == 0 }
        if identical { html += "<p class=\"ok\">Identical weights.</p>\n" }
        html += "<h2>Per-layer change</h2>\n<table class=\"data\" id=\"layers\"><thead><tr><th>Layer</th><th>Tensor</th><th>Shape</th>"
            + "<th>L2 change</th><th>Relative</th><th>Max |Δ|</th><th>Mean |Δ|</th><th>Cosine</th><th>Changed</th></tr></thead><tbody>\n"
        for change in changes {
            html += "<tr><td class=\"num\">\(change.layer)</td><td>\(change.role == "weight" ? "W" : "b")</td>"
                + "<td>\(change.shape.map(String.init).joined(separator: "×"))</td><td class=\"num\">\(HTML.number(change.l2))</td>"
                + "<td class=\"num\">\(HTML.number(change.relative))</td><td class=\"num\">\(HTML.number(change.maxAbs))</td>"
                + "<td class=\"num\">\(HTML.number(change.meanAbs))</td><td class=\"num\">\(String(format: "%.6f", change.cosine))</td>"
                + "<td class=\"num\">\(change.changed)/\(change.count)</td></tr>\n"
        }
        html += "</tbody></table>\n<h2>Histogram of changes B − A</h2>\n"
        var deltas: [Double] = []
        for pair in pairs {
            for index in pair.a.values.indices { deltas.append(Double(pair.b.values[index]) - Double(pair.a.values[index])) }
        }
        html += Histogram(values: deltas, title: "weight and bias changes", xLabel: "B − A").svg(id: "histogram")
        return HTML.page(title: "Diff \(nameA) → \(nameB)", body: html)
    }
}

/// Counts of values in 40 equal bins between their minimum and maximum, as SVG bars.
struct Histogram {
    var values: [Double]
    var title: String
    var xLabel: String
    var bins = 40

    func svg(id: String) -> String {
        let width = 520.0, height = 220.0, left = 72.0, top = 36.0
        let finite = values.filter(\.isFinite)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart histogram\" id=\"\(HTML.escape(id))\" width=\"\(Int(width + left + 16))\" "
            + "height=\"\(Int(height + top + 50))\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(Chart.f(left + width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(HTML.escape(title))</text>\n"
        svg += "<rect x=\"\(Chart.f(left))\" y=\"\(Chart.f(top))\" width=\"\(Chart.f(width))\" height=\"\(Chart.f(height))\" fill=\"none\" stroke=\"#444\"/>\n"
        guard let low = finite.min(), let high = finite.max() else { return svg + "</svg>\n" }
        let span = high > low ? high - low : 1
        var counts = [Int](repeating: 0, count: bins)
        for value in finite { counts[min(bins - 1, Int((value - low) / span * Double(bins)))] += 1 }
        let tallest = Double(counts.max() ?? 1)
        let barWidth = width / Double(bins)
        for (index, count) in counts.enumerated() where count > 0 {
            let barHeight = Double(count) / tallest * height
            let from = low + span * Double(index) / Double(bins), to = low + span * Double(index + 1) / Double(bins)
            svg += "<rect class=\"bar\" x=\"\(Chart.f(left + Double(index) * barWidth))\" y=\"\(Chart.f(top + height - barHeight))\" "
                + "width=\"\(Chart.f(max(barWidth - 1, 1)))\" height=\"\(Chart.f(barHeight))\" fill=\"#1f77b4\">"
                + "<title>\(count) in [\(HTML.number(from)), \(HTML.number(to)))</title></rect>\n"
        }
        for (fraction, value) in [(0.0, low), (0.5, (low + high) / 2), (1.0, high)] {
            svg += "<text x=\"\(Chart.f(left + fraction * width))\" y=\"\(Chart.f(top + height + 18))\" text-anchor=\"middle\">\(HTML.escape(HTML.number(value)))</text>\n"
        }
        svg += "<text x=\"\(Chart.f(left - 6))\" y=\"\(Chart.f(top + 10))\" text-anchor=\"end\">\(Int(tallest))</text>"
        svg += "<text x=\"\(Chart.f(left - 6))\" y=\"\(Chart.f(top + height))\" text-anchor=\"end\">0</text>\n"
        svg += "<text x=\"\(Chart.f(left + width / 2))\" y=\"\(Chart.f(top + height + 38))\" text-anchor=\"middle\">\(HTML.escape(xLabel)) (\(finite.count) values)</text>\n"
        return svg + "</svg>\n"
    }
}
