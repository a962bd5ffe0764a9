@testable import FCDashboard
import XCTest

/// The chart rules `plot` and the pages share: exact ranges where the rule fixes them.
final class ChartTests: XCTestCase {
    func curve(_ points: [(Double, Double)], metric: String = "val_loss", label: String = "validation") -> Chart.Curve {
        Chart.Curve(label: label, metric: metric, run: "r", colour: 0, dashed: false, points: points.map { (x: $0.0, y: $0.1) })
    }

    func assertRange(_ chart: Chart, _ low: Double, _ high: Double, file: StaticString = #filePath, line: UInt = #line) throws {
        let range = try XCTUnwrap(chart.yRange(), file: file, line: line)
        XCTAssertEqual(range.low, low, accuracy: 1e-12, file: file, line: line)
        XCTAssertEqual(range.high, high, accuracy: 1e-12, file: file, line: line)
    }

    func testEpochZeroDoesNotSetTheYRange() throws {
        // The example: epoch 0's validation loss 2.43, then 0.5 down to 0.28.
        let chart = Chart(title: "Loss", yLabel: "loss", curves: [curve([(0, 2.43), (1, 0.5), (2, 0.4), (3, 0.35), (4, 0.3), (5, 0.28)])])
        // [min, max] of epochs 1-5, widened by 6% of the span (0.22) on each side.
        try assertRange(chart, 0.28 - 0.0132, 0.5 + 0.0132)
        XCTAssertTrue(chart.svg(id: "c").contains("1 point outside the range shown"), "epoch 0 is clipped and said so")
    }

    func testOutliersPastThe2ndAnd98thPercentilesDoNotSetTheYRange() throws {
        var points = (0...100).map { (Double($0), 1.0) }
        points[50].1 = 1000
        points[51].1 = -1000
        // 100 values from epoch 1: the 2nd and 98th percentiles are 1; a flat range is ±5%.
        try assertRange(Chart(title: "t", yLabel: "y", curves: [curve(points)]), 0.95, 1.05)
    }

    func testAccuraciesNearOneAreNotDrawnFromZero() throws {
        let chart = Chart(title: "Accuracy", yLabel: "accuracy", curves: [
            curve([(0, 0.1), (1, 0.95), (2, 0.97)], metric: "val_accuracy"),
            curve([(0, 0.1), (1, 0.96), (2, 0.99)], metric: "train_accuracy"),
        ])
        try assertRange(chart, 0.95 - 0.0024, 0.99 + 0.0024)
    }

    func testTheLogScaleWorksInDecadesAndLeavesOutValuesAtOrBelowZero() throws {
        var chart = Chart(title: "Loss", yLabel: "loss", curves: [curve([(0, 0), (1, 1), (2, 10), (3, 100), (4, 1000), (5, -1)])], logScale: true)
        try assertRange(chart, -0.18, 3.18)
        XCTAssertEqual(chart.yTicks(-0.18, 3.18).map(\.label), ["1", "10", "100", "1000"])
        chart.logScale = false
        XCTAssertNotNil(chart.yRange())
    }

    func testAForkIsDrawnFromItsForkPointFromItsOwnEpochs() throws {
        let epochs = (0...6).map { (epoch: $0, metrics: ["train_loss": 1.0 / Double($0 + 1)]) }
        let fork = RunSeries(label: "fork", runID: "f", lossKind: "mse", forkEpoch: 3, epochs: epochs)
        let root = RunSeries(label: "root", runID: "r", lossKind: "mse", forkEpoch: nil, epochs: epochs)
        let charts = CurvePanels.charts([root, fork])
        let curves = try XCTUnwrap(charts.first).curves
        XCTAssertEqual(curves.first { $0.run == "r" }?.points.map(\.x), [0, 1, 2, 3, 4, 5, 6])
        XCTAssertEqual(curves.first { $0.run == "f" }?.points.map(\.x), [3, 4, 5, 6])
    }

    func testLossPanelsAreSplitByLossFunctionSoARegressionDoesNotFlattenClassifiers() {
        let classifier = RunSeries(label: "c", runID: "c", lossKind: "cross-entropy", forkEpoch: nil,
                                   epochs: [(1, ["train_loss": 0.5, "train_accuracy": 0.9])])
        let regression = RunSeries(label: "r", runID: "r", lossKind: "mse", forkEpoch: nil, epochs: [(1, ["train_loss": 400])])
        let charts = CurvePanels.charts([classifier, regression])
        XCTAssertEqual(charts.map(\.title), ["Loss (cross-entropy)", "Loss (mse)", "Accuracy"])
        XCTAssertEqual(charts[0].curves.map(\.run), ["c"])
        XCTAssertEqual(charts[1].curves.map(\.run), ["r"])
    }

    func testNamedMetricsGetOnePanelEachAndOnePathPerCurve() throws {
        let series = RunSeries(label: "a", runID: "a", lossKind: nil, forkEpoch: nil,
                               epochs: [(0, ["grad_norm.1": 2, "lr": 0.1]), (1, ["grad_norm.1": 1, "lr": 0.1])])
        let charts = CurvePanels.charts([series], metrics: ["grad_norm.1", "lr", "absent"])
        XCTAssertEqual(charts.map(\.title), ["grad_norm.1", "lr", "absent"])
        let svg = charts[0].svg(id: "x")
        XCTAssertEqual(svg.components(separatedBy: "<path class=\"curve\"").count - 1, 1)
        XCTAssertTrue(svg.contains("data-metric=\"grad_norm.1\""))
        XCTAssertTrue(charts[2].svg(id: "y").contains("no values"))
    }

    func testLabelsAndIdsInTheSVGAreEscaped() {
        let chart = Chart(title: "<t>", yLabel: "\"y\"", curves: [curve([(0, 1), (1, 2)], metric: "m'\"<>", label: "<script>x</script>")])
        let svg = chart.svg(id: "a\"b")
        XCTAssertFalse(svg.contains("<script>"))
        XCTAssertFalse(svg.contains("<t>"))
        XCTAssertTrue(svg.contains("&lt;script&gt;x&lt;/script&gt;"))
        XCTAssertTrue(svg.contains("data-metric=\"m&#39;&quot;&lt;&gt;\""))
        XCTAssertTrue(svg.contains("id=\"a&quot;b\""))
    }

    func testCoordinatesHaveOneDecimal() {
        XCTAssertEqual([0.04, 0.05, -0.05, -0.26, 12.34, 99.96, -7].map(Chart.f), ["0", "0.1", "-0.1", "-0.3", "12.3", "100", "-7"])
    }
}
