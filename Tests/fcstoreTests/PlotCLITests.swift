import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `plot` on the dashboard's chart code: robust y-range, --log, --metric, forks from
/// their fork point, and only .svg outputs.
final class PlotCLITests: XCTestCase {
    /// The `d` of the curve of `metric` of `run` in an SVG.
    func pathData(_ svg: String, metric: String, run: String) throws -> String {
        let marker = "data-metric=\"\(metric)\" data-run=\"\(run)\""
        let after = try XCTUnwrap(svg.components(separatedBy: marker).dropFirst().first, "no curve \(metric) of \(run)")
        let d = try XCTUnwrap(after.components(separatedBy: " d=\"").dropFirst().first)
        return String(d.prefix { $0 != "\"" })
    }

    func testAnOutputThatIsNotSVGIsRefusedAndNothingIsWritten() throws {
        let workspace = try Workspace()
        try workspace.ok(["train", "--data", CLI.iris, "--layers", "8,3", "--epochs", "1", "--name", "first"])
        for name in ["runs.png", "runs", "runs.svg.png"] {
            let result = try workspace.run(["plot", "first", "--output", name])
            assertError(result, "plot writes SVG: --output must end in .svg. Run 'fcstore plot --help' for usage.", status: 64)
            XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.path(name)), name)
        }
        try workspace.ok(["plot", "first", "--output", "RUNS.SVG"])
    }

    func testAForkIsDrawnFromItsForkPointAndEpochZeroDoesNotSetTheRange() throws {
        let workspace = try Workspace()
        let base = try XCTUnwrap(workspace.ok(["train", "--data", CLI.iris, "--layers", "8,3", "--epochs", "4",
                                               "--validation-split", "0.2", "--name", "base"]).lastLine)
        let fork = try XCTUnwrap(workspace.ok(["resume", "base@2", "--learning-rate", "0.05", "--name", "fork"]).lastLine)
        try workspace.ok(["plot", "base", "fork", "--output", "f.svg"])
        let svg = String(decoding: try workspace.bytes("f.svg"), as: UTF8.self)
        // Validation loss is measured from epoch 0; the fork's curve has the fork point and its own epochs 3 and 4.
        let points = { (d: String) in d.split(separator: " ").filter { $0.hasPrefix("M") || $0.hasPrefix("L") }.count }
        XCTAssertEqual(points(try pathData(svg, metric: "val_loss", run: base)), 5)
        XCTAssertEqual(points(try pathData(svg, metric: "val_loss", run: fork)), 3)
        // The fork's first point is the parent's epoch 2: the same position as on the parent's curve.
        let baseD = try pathData(svg, metric: "val_loss", run: base).split(separator: " ")
        let forkD = try pathData(svg, metric: "val_loss", run: fork).split(separator: " ")
        XCTAssertEqual(String(forkD[0].dropFirst()) + " " + forkD[1], String(baseD[4].dropFirst()) + " " + baseD[5])
        // Epoch 0's validation loss is the highest value and lies outside the drawn range.
        XCTAssertTrue(svg.contains("outside the range shown"), "epoch 0 does not set the y-range")
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "well-formed SVG")
    }

    func testMetricAndLogScale() throws {
        let workspace = try Workspace()
        let run = try XCTUnwrap(workspace.ok(["train", "--data", CLI.iris, "--layers", "8,3", "--epochs", "3", "--name", "m"]).lastLine)
        try workspace.ok(["plot", "m", "--metric", "grad_norm.1", "--metric", "learning_rate", "--log", "--output", "m.svg"])
        let svg = String(decoding: try workspace.bytes("m.svg"), as: UTF8.self)
        XCTAssertEqual(svg.components(separatedBy: "<path class=\"curve\"").count - 1, 2, "one curve per metric")
        XCTAssertFalse(try pathData(svg, metric: "grad_norm.1", run: run).isEmpty)
        XCTAssertFalse(try pathData(svg, metric: "learning_rate", run: run).isEmpty)
        XCTAssertTrue(svg.contains(">grad_norm.1 (log scale)</text>"))
        XCTAssertFalse(svg.contains("train_loss"), "only the named metrics")
    }
}
