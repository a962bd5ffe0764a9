@testable import FCDashboard
import FCCore
import FCFormats
import FCNet
import FCStorage
import FCTraining
import XCTest

/// The pages rendered from a real store file, without the server.
final class DashboardTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fcdashboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A store with a run of `epochs` epochs named `name`; returns its path and the run id.
    func makeStore(name: String, epochs: Int, learningRate: Double = 0.1) throws -> (path: String, run: String) {
        let path = folder.appendingPathComponent("fcstore.db").path
        let store = try Store(path: path)
        var training = TrainingConfig(spec: NetworkSpec(inputSize: 2, layerSizes: [3, 2]))
        training.optimizer.learningRate = learningRate
        let config = try RunConfig(training: training, epochs: epochs, data: nil, validation: nil, normalization: .none).json()
        let run = try store.createRun(name: name, config: config, seed: 1)
        for epoch in 0...epochs {
            let tensors = try [
                CheckpointTensor(layer: 1, role: "weight", value: TensorValue(shape: [3, 2], values: (0..<6).map { Float($0 + epoch) })),
                CheckpointTensor(layer: 1, role: "bias", value: TensorValue(shape: [3], values: [0, 0, Float(epoch)])),
                CheckpointTensor(layer: 2, role: "weight", value: TensorValue(shape: [2, 3], values: (0..<6).map { Float($0) })),
                CheckpointTensor(layer: 2, role: "bias", value: TensorValue(shape: [2], values: [1, 2])),
            ]
            _ = try store.appendCheckpoint(runID: run.id, CheckpointInput(
                epoch: epoch, tensors: tensors, metrics: ["train_loss": 1 / Double(epoch + 1), "<b>odd</b>": 1],
                optimizerState: "{}", rngState: [UInt8](repeating: 0, count: 32)))
        }
        try store.setStatus(runID: run.id, .completed)
        return (path, run.id)
    }

    func page(_ response: DashboardResponse, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard case .page(let html) = response else {
            XCTFail("not a page: \(response)", file: file, line: line)
            return ""
        }
        return html
    }

    /// The runs page gives the best epoch's validation accuracy beside the best validation
    /// loss (not the last epoch's), and sorts by it.
    func testTheRunsPageShowsTheBestEpochsAccuracy() throws {
        let path = folder.appendingPathComponent("best.db").path
        let store = try Store(path: path)
        let config = try RunConfig(training: TrainingConfig(spec: NetworkSpec(inputSize: 2, layerSizes: [2])), epochs: 2,
                                   data: nil, validation: nil, normalization: .none).json()
        // Run "a": best loss at epoch 1 (accuracy 0.75), last epoch 2 has accuracy 0.5.
        // Run "b": best loss at epoch 2 (accuracy 0.625).
        for (name, losses, accuracies) in [("a", [0.9, 0.2, 0.4], [0.25, 0.75, 0.5]), ("b", [0.9, 0.5, 0.3], [0.25, 0.5, 0.625])] {
            let run = try store.createRun(name: name, config: config, seed: 1)
            for epoch in 0...2 {
                let tensors = try [
                    CheckpointTensor(layer: 1, role: "weight", value: TensorValue(shape: [2, 2], values: [1, 2, 3, Float(epoch)])),
                    CheckpointTensor(layer: 1, role: "bias", value: TensorValue(shape: [2], values: [0, 0])),
                ]
                _ = try store.appendCheckpoint(runID: run.id, CheckpointInput(
                    epoch: epoch, tensors: tensors, metrics: ["val_loss": losses[epoch], "val_accuracy": accuracies[epoch]],
                    optimizerState: "{}", rngState: [UInt8](repeating: 0, count: 32)))
            }
        }
        let dashboard = try Dashboard(path: path)
        let html = try page(dashboard.respond(path: "/", query: "sort=best_val_accuracy&order=desc"))
        XCTAssertTrue(html.contains("Val acc (best)"))
        let a = try XCTUnwrap(html.range(of: "<td class=\"num\">0.2</td><td class=\"num\">0.75</td><td class=\"num\">0.5</td>"), html)
        let b = try XCTUnwrap(html.range(of: "<td class=\"num\">0.3</td><td class=\"num\">0.625</td><td class=\"num\">0.625</td>"), html)
        XCTAssertLessThan(a.lowerBound, b.lowerBound, "sorted by the best epoch's accuracy, descending")
    }

    func testPagesShowTheStoreWithEveryValueEscaped() throws {
        let (path, run) = try makeStore(name: "<script>alert(1)</script>", epochs: 3)
        let dashboard = try Dashboard(path: path)
        let runs = try page(dashboard.respond(path: "/"))
        XCTAssertTrue(runs.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertFalse(runs.contains("<script>alert"))
        XCTAssertTrue(runs.contains("data-run=\"\(run)\""))
        // Tags and notes: shown on both pages, escaped; the text filter finds a tag.
        do {
            let store = try Store(path: path)
            try store.setTags(runID: run, set: ["team": "<i>x</i>"])
            try store.setNote(runID: run, "a <b>bold</b> note")
        }
        let tagged = try page(Dashboard(path: path).respond(path: "/", query: "q=team%3D%3Ci"))
        XCTAssertTrue(tagged.contains("<span class=\"tag\">team=&lt;i&gt;x&lt;/i&gt;</span>"), tagged)
        XCTAssertTrue(tagged.contains("1 of 1 runs"), tagged)
        XCTAssertTrue(try page(Dashboard(path: path).respond(path: "/", query: "q=nomatch")).contains("0 of 1 runs"))
        let noted = try page(Dashboard(path: path).respond(path: "/runs/\(run)"))
        XCTAssertTrue(noted.contains("<span class=\"note\">a &lt;b&gt;bold&lt;/b&gt; note</span>"), noted)
        XCTAssertFalse(noted.contains("<i>x</i>") || noted.contains("<b>bold"))
        let runPage = try page(dashboard.respond(path: "/runs/\(run)", query: "metric=%3Cb%3Eodd%3C%2Fb%3E&log=1"))
        XCTAssertFalse(runPage.contains("<b>odd"))
        XCTAssertTrue(runPage.contains("&lt;b&gt;odd&lt;/b&gt; (log scale)"), "the chosen metric's panel, escaped")
        XCTAssertEqual(runPage.components(separatedBy: "<tr data-epoch=").count - 1, 4, "one row per epoch 0-3")
        let diff = try page(dashboard.respond(path: "/diff", query: "a=\(run)@0&b=\(run)@3"))
        XCTAssertEqual(diff.components(separatedBy: "<rect class=\"bar\"").count > 1, true, "a histogram of the changes")
        XCTAssertTrue(try page(dashboard.respond(path: "/runs/\(run)/verify")).contains("ok: no problem found"))
        XCTAssertTrue(try page(dashboard.respond(path: "/runs/\(run)/weights")).contains("id=\"layer2\""))
        guard case .json(let state) = dashboard.respond(path: "/api/runs/\(run)/state") else { return XCTFail("no state") }
        XCTAssertEqual(state, "{\"epochs\":4,\"last_epoch\":3,\"run\":\"\(run)\",\"status\":\"completed\"}")
        guard case .download(let bytes, let filename, _) = dashboard.respond(path: "/runs/\(run)/epochs/2/model.safetensors") else {
            return XCTFail("no download")
        }
        XCTAssertEqual(filename, "\(run.prefix(8))-epoch2.safetensors")
        let decoded = try Safetensors.decode(bytes)
        XCTAssertEqual(decoded.architecture, [2, 3, 2])
    }

    func testMalformedPathsAndReferencesAre404() throws {
        let (path, run) = try makeStore(name: "a", epochs: 1)
        let dashboard = try Dashboard(path: path)
        let bad: [(String, String?)] = [
            ("/runs/../x", nil), ("/runs/%2e%2e", nil), ("/runs/\(run)/", nil), ("//", nil), ("/runs/nope", nil),
            ("/" + String(repeating: "a", count: 300), nil), ("/runs/\(run)/epochs/7/model.onnx", nil),
            ("/runs/\(run)/epochs/01/model.onnx", nil), ("/runs/\(run)/epochs/1/model.exe", nil), ("/static/x.js", nil),
            ("/diff", "a=\(run)@0"), ("/diff", "a=\(run)@x&b=\(run)@1"), ("/compare", nil), ("/compare", "run=nope"),
            ("/", String(repeating: "q=1&", count: 2000)), ("/runs/a b", nil), ("/runs/é", nil),
        ]
        for (path, query) in bad {
            guard case .failure(let status, _) = dashboard.respond(path: path, query: query) else {
                XCTFail("\(path)?\(query ?? "") is not a failure")
                continue
            }
            XCTAssertEqual(status, 404, "\(path)?\(query ?? "")")
        }
    }

    func testTheStoreIsOpenedReadOnly() throws {
        let (path, _) = try makeStore(name: "a", epochs: 1)
        let dashboard = try Dashboard(path: path)
        XCTAssertTrue(try dashboard.withStore { $0.readOnly })
        XCTAssertThrowsError(try Dashboard(path: folder.appendingPathComponent("missing.db").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("missing.db").path), "nothing created")
    }

    func testCompareListsOnlyTheDifferingHyperParameters() throws {
        let (path, first) = try makeStore(name: "a", epochs: 1)
        let store = try Store(path: path)
        var training = TrainingConfig(spec: NetworkSpec(inputSize: 2, layerSizes: [3, 2]))
        training.optimizer.learningRate = 0.5
        let config = try RunConfig(training: training, epochs: 1, data: nil, validation: nil, normalization: .none).json()
        let second = try store.createRun(name: "b", config: config, seed: 1).id
        let fork = try store.forkRun(from: first, atEpoch: 1, name: "<i>f</i>", config: config, seed: 1)
        let parentPage = try page(try Dashboard(path: path).respond(path: "/runs/\(first)"))
        XCTAssertTrue(parentPage.contains("<a class=\"fork-link\" href=\"/runs/\(fork.id)\">&lt;i&gt;f&lt;/i&gt;</a>@1"), "forks as links")
        let dashboard = try Dashboard(path: path)
        let html = try page(dashboard.respond(path: "/compare", query: "run=\(first)&run=\(second)"))
        let table = try XCTUnwrap(html.components(separatedBy: "id=\"differences\"").last?.components(separatedBy: "<tbody>").last)
        XCTAssertEqual(table.components(separatedBy: "<tr><th>").dropFirst().map { String($0.prefix { $0 != "<" }) },
                       ["training.optimizer.learningRate"])
    }

    func testEscapeAndQueryParsing() {
        XCTAssertEqual(HTML.escape("<a href=\"x\">'&'</a>\u{1}"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\u{FFFD}")
        XCTAssertEqual([0.1234567, 1e-7, 3, 2.5, -1234567.5, .nan, -.infinity, nil].map(HTML.number),
                       ["0.123457", "1e-07", "3", "2.5", "-1.23457e+06", "NaN", "-inf", "-"])
        XCTAssertEqual(HTML.timestamp(Date(timeIntervalSince1970: 1_764_979_200.9)), "2025-12-06 00:00:00")
        let query = Query("run=a&run=b+c&m=%3Cb%3E&flag=1&empty")
        XCTAssertEqual(query.all("run"), ["a", "b c"])
        XCTAssertEqual(query["m"], "<b>")
        XCTAssertTrue(query.flag("flag"))
        XCTAssertEqual(query["empty"], "")
        XCTAssertTrue(Dashboard.isWellFormed(path: "/runs/abc-1/epochs/2/model.onnx"))
        for path in ["", "runs", "/runs/..", "/./x", "/a//b", "/a%20b", "/a?b", "/é"] {
            XCTAssertFalse(Dashboard.isWellFormed(path: path), path)
        }
    }
}
