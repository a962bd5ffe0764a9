import Foundation

/// One panel of per-epoch curves as SVG, shared by the dashboard's pages and
/// `fcstore plot`.
///
/// The y-range is robust: it spans the 2nd to 98th percentile of the values of
/// epochs 1 and later (epoch 0, the untrained network, does not set it unless
/// it is all there is), widened by 6% on each side. Points outside are clipped
/// at the panel's edge and counted in a note under the title. With `logScale`
/// values are drawn on log10 and values ≤ 0 are left out.
public struct Chart {
    public struct Curve {
        /// Shown in the tooltip and the legend, e.g. "digits (3fa2c1d0) validation".
        public var label: String
        /// The metric drawn (`data-metric` on the path).
        public var metric: String
        /// The run it belongs to (`data-run` on the path).
        public var run: String
        public var colour: Int
        public var dashed: Bool
        /// (epoch, value) in epoch order; non-finite values break the line.
        public var points: [(x: Double, y: Double)]

        public init(label: String, metric: String, run: String, colour: Int, dashed: Bool, points: [(x: Double, y: Double)]) {
            self.label = label
            self.metric = metric
            self.run = run
            self.colour = colour
            self.dashed = dashed
            self.points = points
        }
    }

    public var title: String
    public var yLabel: String
    public var xLabel = "epoch"
    public var curves: [Curve]
    public var logScale: Bool
    /// The plot area, in SVG units.
    public var width = 520.0
    public var height = 260.0

    public init(title: String, yLabel: String, curves: [Curve], logScale: Bool = false) {
        self.title = title
        self.yLabel = yLabel
        self.curves = curves
        self.logScale = logScale
    }

    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    public static func colour(_ index: Int) -> String { index < 0 ? "#444" : palette[((index % palette.count) + palette.count) % palette.count] }

    static let margin = (left: 72.0, right: 16.0, top: 44.0, bottom: 46.0)
    public var outerWidth: Double { width + Self.margin.left + Self.margin.right }
    public var outerHeight: Double { height + Self.margin.top + Self.margin.bottom }

    /// The value drawn for `y`: log10 on a log scale (nil for y ≤ 0), else y; nil when not finite.
    func transformed(_ y: Double) -> Double? {
        guard y.isFinite else { return nil }
        if logScale { return y > 0 ? log10(y) : nil }
        return y
    }

    /// The robust y-range in drawn units (see the type's documentation), or nil without values.
    public func yRange() -> (low: Double, high: Double)? {
        var later: [Double] = [], all: [Double] = []
        for curve in curves {
            for point in curve.points {
                guard let value = transformed(point.y) else { continue }
                all.append(value)
                if point.x >= 1 { later.append(value) }
            }
        }
        var values = later.count >= 2 ? later : all
        guard !values.isEmpty else { return nil }
        values.sort()
        let last = Double(values.count - 1)
        var low = values[Int((0.02 * last).rounded(.down))]
        var high = values[Int((0.98 * last).rounded(.up))]
        let span = high - low
        if span <= abs(high) * 1e-12 || span == 0 {
            let half = logScale ? 0.5 : max(abs(high) * 0.05, 1e-6)
            low -= half
            high += half
        } else {
            low -= span * 0.06
            high += span * 0.06
        }
        return (low, high)
    }

    /// The panel as a standalone `<svg>` element, its legend below it.
    public func svg(id: String, legend: Bool = true) -> String {
        let legendRows = legend ? Self.legendRows(curves.map { ($0.label, $0.colour, $0.dashed) }, width: outerWidth) : 0
        let totalHeight = outerHeight + Double(legendRows) * 20 + (legendRows > 0 ? 8 : 0)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"\(HTML.escape(id))\" width=\"\(Int(outerWidth))\" "
            + "height=\"\(Int(totalHeight))\" viewBox=\"0 0 \(Int(outerWidth)) \(Int(totalHeight))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += panel(id: id, x: 0, y: 0)
        if legend {
            svg += Self.legend(curves.map { ($0.label, $0.colour, $0.dashed) }, x: Self.margin.left, y: outerHeight + 4, width: outerWidth)
        }
        svg += "</svg>\n"
        return svg
    }

    /// The panel's elements with its top-left corner at (x, y); `id` names its clip path.
    public func panel(id: String, x originX: Double, y originY: Double) -> String {
        let x0 = originX + Self.margin.left, y0 = originY + Self.margin.top
        var svg = "<text x=\"\(f(x0 + width / 2))\" y=\"\(f(y0 - 24))\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">"
            + "\(HTML.escape(title))\(logScale ? " (log scale)" : "")</text>\n"
        svg += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"none\" stroke=\"#444\"/>\n"
        let xs = curves.flatMap { $0.points.map(\.x) }
        let xLow = xs.min() ?? 0, xHigh = max(xs.max() ?? 1, xLow + 1)
        func sx(_ value: Double) -> Double { x0 + (value - xLow) / (xHigh - xLow) * width }
        for tick in Self.ticks(xLow, xHigh) where tick == tick.rounded() && tick >= xLow && tick <= xHigh {
            svg += "<line x1=\"\(f(sx(tick)))\" y1=\"\(f(y0 + height))\" x2=\"\(f(sx(tick)))\" y2=\"\(f(y0 + height + 5))\" stroke=\"#444\"/>"
            svg += "<text x=\"\(f(sx(tick)))\" y=\"\(f(y0 + height + 18))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        svg += "<text x=\"\(f(x0 + width / 2))\" y=\"\(f(y0 + height + 38))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(\(f(x0 - 56)),\(f(y0 + height / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>\n"
        guard let (low, high) = yRange() else {
            svg += "<text x=\"\(f(x0 + width / 2))\" y=\"\(f(y0 + height / 2))\" text-anchor=\"middle\" fill=\"#666\">no values</text>\n"
            return svg
        }
        func sy(_ value: Double) -> Double { y0 + height - (value - low) / (high - low) * height }
        for tick in yTicks(low, high) {
            let y = sy(tick.position)
            svg += "<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + width))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(f(x0 - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(tick.label)</text>\n"
        }
        let clip = "clip-" + HTML.escape(id)
        svg += "<clipPath id=\"\(clip)\"><rect x=\"\(f(x0 - 3))\" y=\"\(f(y0 - 3))\" width=\"\(f(width + 6))\" height=\"\(f(height + 6))\"/></clipPath>\n"
        var outside = 0
        for curve in curves {
            var d = "", pen = false, drawn: [(Double, Double)] = []
            for point in curve.points {
                guard let value = transformed(point.y) else { pen = false; continue }
                if value < low || value > high { outside += 1 }
                let position = (sx(point.x), sy(value))
                d += "\(pen ? "L" : "M")\(f(position.0)) \(f(position.1)) "
                pen = true
                drawn.append(position)
            }
            let dash = curve.dashed ? " stroke-dasharray=\"6,4\"" : ""
            svg += "<path class=\"curve\" data-metric=\"\(HTML.escape(curve.metric))\" data-run=\"\(HTML.escape(curve.run))\" "
                + "fill=\"none\" stroke=\"\(Self.colour(curve.colour))\" stroke-width=\"2\"\(dash) clip-path=\"url(#\(clip))\" "
                + "d=\"\(d.isEmpty ? "M0 0" : String(d.dropLast()))\"><title>\(HTML.escape(curve.label))</title></path>\n"
            if drawn.count == 1 {
                svg += "<circle cx=\"\(f(drawn[0].0))\" cy=\"\(f(drawn[0].1))\" r=\"3\" fill=\"\(Self.colour(curve.colour))\" clip-path=\"url(#\(clip))\"/>\n"
            }
        }
        if outside > 0 {
            svg += "<text x=\"\(f(x0 + width / 2))\" y=\"\(f(y0 - 8))\" text-anchor=\"middle\" fill=\"#666\" font-size=\"11\">"
                + "\(outside) point\(outside == 1 ? "" : "s") outside the range shown (epoch 0 and outliers)</text>\n"
        }
        return svg
    }

    /// Rows the legend takes in `width`.
    static func legendRows(_ entries: [(label: String, colour: Int, dashed: Bool)], width: Double) -> Int {
        var rows = entries.isEmpty ? 0 : 1, x = 0.0
        for entry in entries {
            let w = 44 + Double(min(entry.label.count, 60)) * 7
            if x > 0 && x + w > width - margin.left { rows += 1; x = 0 }
            x += w
        }
        return rows
    }

    /// Line samples and labels, flowing left to right in rows of 20 units.
    static func legend(_ entries: [(label: String, colour: Int, dashed: Bool)], x originX: Double, y originY: Double, width: Double) -> String {
        var svg = "", x = 0.0, y = originY + 10
        for entry in entries {
            let w = 44 + Double(min(entry.label.count, 60)) * 7
            if x > 0 && x + w > width - margin.left { x = 0; y += 20 }
            let dash = entry.dashed ? " stroke-dasharray=\"6,4\"" : ""
            svg += "<line x1=\"\(f(originX + x))\" y1=\"\(f(y))\" x2=\"\(f(originX + x + 30))\" y2=\"\(f(y))\" stroke=\"\(colour(entry.colour))\" stroke-width=\"3\"\(dash)/>"
            svg += "<text x=\"\(f(originX + x + 36))\" y=\"\(f(y + 4))\">\(HTML.escape(entry.label))</text>\n"
            x += w
        }
        return svg
    }

    /// Tick positions (drawn units) and labels (values).
    func yTicks(_ low: Double, _ high: Double) -> [(position: Double, label: String)] {
        guard logScale else { return Self.ticks(low, high).filter { $0 >= low && $0 <= high }.map { ($0, Self.label($0)) } }
        var result: [(Double, String)] = []
        for exponent in Int(low.rounded(.up))...max(Int(low.rounded(.up)), Int(high.rounded(.down))) where Double(exponent) <= high {
            result.append((Double(exponent), Self.label(pow(10, Double(exponent)))))
        }
        if result.count >= 2 { return result }
        // Less than two decades: round values in between.
        return Self.ticks(pow(10, low), pow(10, high)).filter { $0 > 0 }
            .map { (log10($0), Self.label($0)) }.filter { $0.0 >= low && $0.0 <= high }
    }

    /// About five round values covering [low, high].
    public static func ticks(_ low: Double, _ high: Double) -> [Double] {
        let span = max(high - low, 1e-12)
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        var tick = floor(low / step) * step
        var result: [Double] = []
        while tick <= high + step * 0.5, result.count < 50 {
            result.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return result
    }

    public static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e6 { return String(Int(value)) }
        return String(format: "%g", value)
    }

    /// One decimal, without `String(format:)` (a 1,000-epoch page draws thousands of points).
    static func f(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = Int((value * 10).rounded())
        let whole = tenths / 10, fraction = abs(tenths % 10)
        return (tenths < 0 && whole == 0 ? "-" : "") + String(whole) + (fraction == 0 ? "" : "." + String(fraction))
    }
    func f(_ value: Double) -> String { Self.f(value) }
}
