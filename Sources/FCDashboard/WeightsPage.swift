import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// `/runs/RUN/weights`: each layer's weight distribution across epochs, drawn as
/// TensorBoard's distributions are: nested bands between the percentiles
/// 0–100, 7–93, 16–84 and 31–69, and the median as a line. At most 60 epochs are
/// read, evenly spaced (first and last included); pruned epochs have no tensors.
struct WeightsPage {
    let dashboard: Dashboard
    let store: Store
    let runText: String

    static let percentiles = [0.0, 0.0668, 0.1587, 0.3085, 0.5, 0.6915, 0.8413, 0.9332, 1.0]
    static let maximumEpochs = 60

    func render() throws -> String {
        let run = try dashboard.run(store, runText)
        let available = try store.checkpoints(runID: run.id).filter { !$0.pruned }.map(\.epoch)
        var sampled = available
        if available.count > Self.maximumEpochs {
            let step = Double(available.count - 1) / Double(Self.maximumEpochs - 1)
            sampled = (0..<Self.maximumEpochs).map { available[Int((Double($0) * step).rounded())] }
        }
        // layer → [(epoch, percentiles)]
        var bands: [Int: [(epoch: Int, values: [Double])]] = [:]
        var problems: [String?] = []
        for epoch in sampled {
            let (checkpoint, problem) = try store.loadCheckpointForAudit(runID: run.id, epoch: epoch)
            problems.append(problem)
            for tensor in checkpoint.tensors where tensor.role == "weight" && tensor.layer >= 1 {
                let sorted = tensor.value.values.map(Double.init).filter(\.isFinite).sorted()
                guard !sorted.isEmpty else { continue }
                let last = Double(sorted.count - 1)
                bands[tensor.layer, default: []].append((epoch, Self.percentiles.map { sorted[Int(($0 * last).rounded())] }))
            }
        }
        var html = "<h1>Weights over time: <a href=\"/runs/\(HTML.escape(run.id))\">\(HTML.escape(run.name ?? run.shortID))</a></h1>\n"
        html += HTML.integrityWarnings(problems)
        html += "<p>Bands: percentiles 0–100, 7–93, 16–84 and 31–69 of each layer's weights; the line is the median. "
            + "\(sampled.count) of \(available.count) stored epochs shown.</p>\n<section class=\"charts\">\n"
        for layer in bands.keys.sorted() {
            html += Self.bandChart(layer: layer, points: bands[layer] ?? [])
        }
        if bands.isEmpty { html += "<p>No stored weights (every epoch pruned?).</p>\n" }
        html += "</section>\n"
        return HTML.page(title: "Weights", body: html)
    }

    static func bandChart(layer: Int, points: [(epoch: Int, values: [Double])]) -> String {
        let width = 520.0, height = 220.0, left = 72.0, top = 36.0
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart bands\" id=\"layer\(layer)\" width=\"\(Int(width + left + 16))\" "
            + "height=\"\(Int(height + top + 50))\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(Chart.f(left + width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">layer \(layer) weights</text>\n"
        svg += "<rect x=\"\(Chart.f(left))\" y=\"\(Chart.f(top))\" width=\"\(Chart.f(width))\" height=\"\(Chart.f(height))\" fill=\"none\" stroke=\"#444\"/>\n"
        let all = points.flatMap(\.values)
        guard let first = points.first, let lowValue = all.min(), let highValue = all.max() else { return svg + "</svg>\n" }
        let pad = max((highValue - lowValue) * 0.05, 1e-6)
        let low = lowValue - pad, high = highValue + pad
        let xLow = Double(first.epoch), xHigh = max(Double(points.last?.epoch ?? 0), xLow + 1)
        func sx(_ epoch: Int) -> Double { left + (Double(epoch) - xLow) / (xHigh - xLow) * width }
        func sy(_ value: Double) -> Double { top + height - (value - low) / (high - low) * height }
        for tick in Chart.ticks(low, high) where tick >= low && tick <= high {
            svg += "<line x1=\"\(Chart.f(left))\" y1=\"\(Chart.f(sy(tick)))\" x2=\"\(Chart.f(left + width))\" y2=\"\(Chart.f(sy(tick)))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(Chart.f(left - 6))\" y=\"\(Chart.f(sy(tick) + 4))\" text-anchor=\"end\">\(Chart.label(tick))</text>\n"
        }
        for tick in Chart.ticks(xLow, xHigh) where tick == tick.rounded() && tick >= xLow && tick <= xHigh {
            svg += "<text x=\"\(Chart.f(sx(Int(tick))))\" y=\"\(Chart.f(top + height + 18))\" text-anchor=\"middle\">\(Int(tick))</text>\n"
        }
        svg += "<text x=\"\(Chart.f(left + width / 2))\" y=\"\(Chart.f(top + height + 38))\" text-anchor=\"middle\">epoch</text>\n"
        let opacities = ["0.15", "0.25", "0.35", "0.5"]
        for band in 0..<4 {
            let upper = points.map { "\(Chart.f(sx($0.epoch))) \(Chart.f(sy($0.values[8 - band])))" }
            let lower = points.reversed().map { "\(Chart.f(sx($0.epoch))) \(Chart.f(sy($0.values[band])))" }
            svg += "<path class=\"band\" fill=\"#ff7f0e\" fill-opacity=\"\(opacities[band])\" stroke=\"none\" d=\"M\((upper + lower).joined(separator: " L")) Z\"/>\n"
        }
        let median = points.map { "\(Chart.f(sx($0.epoch))) \(Chart.f(sy($0.values[4])))" }.joined(separator: " L")
        svg += "<path class=\"median\" fill=\"none\" stroke=\"#8c3a00\" stroke-width=\"1.5\" d=\"M\(median)\"><title>median</title></path>\n"
        return svg + "</svg>\n"
    }
}
