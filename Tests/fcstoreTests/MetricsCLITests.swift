import Foundation
import XCTest

/// `evaluate --json`'s metrics against scikit-learn (the package venv) on the same
/// predictions (`predict --json`), to 1e-9.
final class MetricsCLITests: XCTestCase {
    /// Evaluates and predicts `ref` on `data` and hands both documents to Tests/interop/check_metrics.py.
    func check(_ workspace: Workspace, _ ref: String, data: String, label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try Python.requireVenv()
        let predictions = try workspace.ok(["predict", ref, "--data", data, "--json"], file: file, line: line).stdout
        let evaluation = try workspace.ok(["evaluate", ref, "--data", data, "--json"], file: file, line: line).stdout
        let predictPath = try workspace.write("predict.json", predictions)
        let evaluatePath = try workspace.write("evaluate.json", evaluation)
        try Python.run("check_metrics.py", [data, label, predictPath, evaluatePath], file: file, line: line)
    }

    func testRegressionMetricsMatchScikitLearn() throws {
        let workspace = try Workspace()
        _ = try Python.requireVenv()
        let id = try SignatureCLITests.regressionRun(workspace)
        try check(workspace, id, data: workspace.path("reg.csv"), label: "petal_width")
        // An untrained network: a negative R².
        let untrained = try workspace.train(["--label", "petal_width", "--loss", "mse"], data: workspace.path("reg.csv"), layers: "2,1", epochs: 0)
        try check(workspace, untrained, data: workspace.path("reg.csv"), label: "petal_width")
    }

    func testMulticlassMetricsMatchScikitLearn() throws {
        let workspace = try Workspace()
        _ = try Python.requireVenv()
        let trained = try workspace.train(["--seed", "4"], data: CLI.iris, layers: "4,3", epochs: 5)
        try check(workspace, trained, data: CLI.iris, label: "label")
        // Setosa rows only: classes 1 and 2 have no rows, so recall's zero division
        // (0 by definition) is exercised, and precision's for a class never predicted.
        let rows = try SignatureCLITests.irisRows()
        let setosa = try workspace.write("setosa.csv", rows.filter { $0[4] != "1" && $0[4] != "2" }.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n")
        let report = try workspace.json(["evaluate", trained, "--data", setosa])
        XCTAssertEqual(report["support"] as? [Int], [50, 0, 0])
        try check(workspace, trained, data: setosa, label: "label")
        let untrained = try workspace.train(["--seed", "4"], data: CLI.iris, layers: "3", epochs: 0)
        try check(workspace, untrained, data: setosa, label: "label")
        let digits = try workspace.train(["--seed", "1"], epochs: 2)
        try check(workspace, digits, data: CLI.digits, label: "label")
    }

    func testBinaryMetricsAndROCAUCMatchScikitLearn() throws {
        let workspace = try Workspace()
        _ = try Python.requireVenv()
        // Virginica (class 2) against the others: overlapping classes, an AUC below 1.
        let rows = try SignatureCLITests.irisRows()
        let lines = rows.enumerated().map { index, row in
            (row.prefix(4) + [index == 0 ? "virginica" : (row[4] == "2" ? "1" : "0")]).joined(separator: ",")
        }
        let data = try workspace.write("binary.csv", lines.joined(separator: "\n") + "\n")
        let softmax = try workspace.train(["--label", "virginica", "--seed", "7"], data: data, layers: "2", epochs: 3)
        let sigmoid = try workspace.train(["--label", "virginica", "--seed", "7"], data: data, layers: "1", epochs: 3)
        for id in [softmax, sigmoid] {
            let report = try workspace.json(["evaluate", id, "--data", data])
            let auc = try XCTUnwrap(report["roc_auc"] as? Double)
            XCTAssertGreaterThan(auc, 0.5)
            XCTAssertEqual(report["classes"] as? [String], ["0", "1"])
            try check(workspace, id, data: data, label: "virginica")
            let text = try workspace.ok(["evaluate", id, "--data", data]).stdout
            XCTAssertTrue(text.contains("\nROC-AUC   "), text)
        }
    }
}
