import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// train, runs, show, resume (after SIGKILL and SIGINT), forks and diff, through the built binary.
final class TrainResumeCLITests: XCTestCase {
    func testTrainPrintsTheRunIDLastAndCommitsEveryEpoch() throws {
        let workspace = try Workspace()
        let result = try workspace.ok(["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "5", "--validation-split", "0.2"])
        let id = try XCTUnwrap(result.lastLine)
        XCTAssertNotNil(UUID(uuidString: id), "last stdout line is a UUID: \(result.stdout)")
        XCTAssertEqual(id, id.lowercased())
        XCTAssertTrue(result.stderr.contains("epoch 5/5"), result.stderr)

        let runs = try workspace.runs()
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual(runs[0]["id"] as? String, id)
        XCTAssertEqual(runs[0]["short_id"] as? String, String(id.prefix(8)))
        XCTAssertEqual(runs[0]["first_epoch"] as? Int, 0)
        XCTAssertEqual(runs[0]["last_epoch"] as? Int, 5)
        XCTAssertEqual(runs[0]["epochs"] as? Int, 6)
        XCTAssertEqual(runs[0]["status"] as? String, "completed")
        XCTAssertTrue(runs[0]["parent"] is NSNull)

        let show = try workspace.show(String(id.prefix(6)))
        XCTAssertEqual(show["id"] as? String, id)
        XCTAssertEqual(show["architecture"] as? [Int], [64, 16, 10])
        XCTAssertEqual(show["activations"] as? [String], ["sigmoid", "softmax"])
        XCTAssertEqual(show["selected_epoch"] as? Int, 5)
        let epochs = try XCTUnwrap(show["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochs.map { $0["epoch"] as? Int }, [0, 1, 2, 3, 4, 5])
        for epoch in epochs {
            let metrics = try XCTUnwrap(epoch["metrics"] as? [String: Double])
            let number = try XCTUnwrap(epoch["epoch"] as? Int)
            XCTAssertEqual(metrics["train_loss"] != nil, number >= 1, "train_loss from epoch 1: \(number)")
            XCTAssertNotNil(metrics["val_loss"], "epoch \(number)")
            XCTAssertEqual((epoch["digest"] as? String)?.count, 64)
            XCTAssertEqual(epoch["pruned"] as? Bool, false)
        }

        // The human table, too.
        let text = try workspace.ok(["show", id]).stdout
        XCTAssertTrue(text.contains("network    64-16-10  sigmoid,softmax  loss cross-entropy"), text)
        XCTAssertTrue(text.contains("<- selected"), text)
    }

    /// SIGKILL mid-run: committed epochs survive, `resume RUN` completes the same
    /// run, and the result equals the uninterrupted run bit for bit.
    func testResumeAfterSIGKILLCompletesTheRunBitExactly() throws {
        let workspace = try Workspace()
        let options = ["--batch-size", "1", "--seed", "3", "--validation-split", "0.2"]
        let running = try workspace.start(["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "30"] + options)
        XCTAssertTrue(waitFor(60) { running.stderrSoFar.contains("epoch 3/30") }, running.stderrSoFar)
        kill(running.process.processIdentifier, SIGKILL)
        let killed = running.wait()
        XCTAssertEqual(killed.status, SIGKILL)
        XCTAssertEqual(killed.stdout, "", "killed before printing the id")

        let runs = try workspace.runs()
        XCTAssertEqual(runs.count, 1)
        let id = try XCTUnwrap(runs[0]["id"] as? String)
        XCTAssertEqual(runs[0]["status"] as? String, "running", "nobody marked it: it was killed")
        let last = try XCTUnwrap(runs[0]["last_epoch"] as? Int)
        XCTAssertGreaterThanOrEqual(last, 3)
        XCTAssertLessThan(last, 30, "killed before the end")
        XCTAssertEqual(workspace.verifyStatus(), 0, "the store holds complete checkpoints only")

        let resumed = try workspace.ok(["resume", String(id.prefix(8))])
        XCTAssertEqual(resumed.lastLine, id, "the same run continues")
        XCTAssertTrue(resumed.stderr.contains("resuming \(id.prefix(8))@\(last)"), resumed.stderr)
        let after = try workspace.run(id: id)
        XCTAssertEqual(after["status"] as? String, "completed")
        XCTAssertEqual(after["last_epoch"] as? Int, 30)
        XCTAssertEqual(try workspace.runs().count, 1)

        let straight = try workspace.train(options, epochs: 30)
        try workspace.assertIdentical(id, straight)
        try workspace.assertIdentical("\(id)@\(last + 1)", "\(straight)@\(last + 1)")
    }

    /// SIGINT: a clean stop with status 130, the last committed epoch named, the
    /// run marked interrupted; `resume` completes it.
    func testSIGINTStopsCleanlyAndResumeCompletes() throws {
        let workspace = try Workspace()
        let options = ["--batch-size", "1", "--seed", "4"]
        let running = try workspace.start(["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "30"] + options)
        XCTAssertTrue(waitFor(60) { running.stderrSoFar.contains("epoch 2/30") }, running.stderrSoFar)
        kill(running.process.processIdentifier, SIGINT)
        let stopped = running.wait()
        XCTAssertEqual(stopped.status, 130, stopped.stderr)
        let id = try XCTUnwrap(stopped.lastLine)
        let run = try workspace.run(id: id)
        XCTAssertEqual(run["status"] as? String, "interrupted")
        let last = try XCTUnwrap(run["last_epoch"] as? Int)
        XCTAssertLessThan(last, 30)
        XCTAssertEqual(stopped.stderrLines.last,
                       "interrupted: run \(id.prefix(8)) stopped after epoch \(last), the last committed epoch; continue with 'fcstore resume \(id.prefix(8))'")

        let resumed = try workspace.ok(["resume", id])
        XCTAssertEqual(resumed.lastLine, id)
        XCTAssertEqual(try workspace.run(id: id)["status"] as? String, "completed")
        let straight = try workspace.train(options, epochs: 30)
        try workspace.assertIdentical(id, straight)
    }

    /// A SIGINT the moment training starts (the handlers are installed before it) stops the
    /// resume in its first epoch with status 130; an ignored signal would train on for
    /// 100,000 epochs.
    func testSIGINTAtTheStartOfTrainingIsNotLost() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--seed", "3"], epochs: 1)
        let running = try CLI.start(["resume", id, "--epochs", "100000"], in: workspace.directory,
                                    environment: ["FCSTORE_TIMINGS": "1"])
        XCTAssertTrue(waitFor(60) { running.stderrSoFar.contains("phase=training-started") }, running.stderrSoFar)
        kill(running.process.processIdentifier, SIGINT)
        let stopped = waitFor(60) { !running.process.isRunning }
        if !stopped { running.process.terminate() }
        let result = running.wait()
        XCTAssertTrue(stopped, "the SIGINT was lost: \(result.stderr.suffix(300))")
        XCTAssertEqual(result.status, 130, result.stderr)
        let last = try XCTUnwrap(try workspace.run(id: id)["last_epoch"] as? Int)
        XCTAssertLessThan(last, 100, result.stderr.suffix(300).description)
    }

    func testResumeFromAnEarlierEpochForksAndLeavesTheParentUnchanged() throws {
        let workspace = try Workspace()
        let parent = try workspace.train(["--name", "base"], epochs: 4)
        let before = try workspace.digests(parent)
        let parentShowBefore = try workspace.show(parent)

        let forked = try workspace.ok(["resume", "base@2", "--epochs", "5"])
        let fork = try XCTUnwrap(forked.lastLine)
        XCTAssertNotEqual(fork, parent)
        XCTAssertTrue(forked.stderr.contains("forking from \(parent.prefix(8))@2"), forked.stderr)

        let show = try workspace.show(fork)
        let parentRef = try XCTUnwrap(show["parent"] as? [String: Any])
        XCTAssertEqual(parentRef["run"] as? String, parent)
        XCTAssertEqual(parentRef["epoch"] as? Int, 2)
        XCTAssertEqual(show["status"] as? String, "completed")
        let epochs = try XCTUnwrap(show["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochs.map { $0["epoch"] as? Int }, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(epochs.map { $0["inherited"] as? Bool }, [true, true, true, false, false, false])
        let forkDigests = try workspace.digests(fork)
        for epoch in 0...2 { XCTAssertEqual(forkDigests[epoch], before[epoch], "inherited epoch \(epoch)") }

        XCTAssertEqual(try workspace.digests(parent), before, "the parent's checkpoints are unchanged")
        let parentShowAfter = try workspace.show(parent)
        XCTAssertEqual(parentShowAfter["status"] as? String, parentShowBefore["status"] as? String)
        XCTAssertEqual((parentShowAfter["epochs"] as? [Any])?.count, 5)
        let run = try workspace.run(id: fork)
        XCTAssertEqual((run["parent"] as? [String: Any])?["epoch"] as? Int, 2)
        // The fork trained the parent's recipe from its epoch 2: its epochs 3 and 4 are the parent's.
        try workspace.assertIdentical("base@4", "\(fork)@4")
    }

    func testDiffOfACheckpointWithItselfIsAllZeros() throws {
        let workspace = try Workspace()
        let id = try workspace.train(epochs: 2)
        let diff = try workspace.diff("\(id)@1", "\(id)@1")
        XCTAssertEqual(diff["a"] as? String, "\(id.prefix(8))@1")
        try workspace.assertIdentical("\(id)@1", "\(id)@1")
        let layers = try XCTUnwrap(diff["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.map { "\($0["layer"] as? Int ?? -1)/\($0["role"] as? String ?? "?")" }, ["1/weight", "1/bias", "2/weight", "2/bias"])
        for layer in layers {
            XCTAssertEqual(layer["relative"] as? Double, 0)
            XCTAssertEqual(layer["mean_abs"] as? Double, 0)
            XCTAssertEqual(layer["cosine"] as? Double ?? 0, 1, accuracy: 1e-12)
        }
        // Between two epochs, everything changed.
        let moved = try workspace.diff("\(id)@0", "\(id)@2")
        XCTAssertEqual(moved["identical"] as? Bool, false)
        let text = try workspace.ok(["diff", "\(id)@1", "\(id)@1"]).stdout
        XCTAssertTrue(text.hasPrefix("\(id.prefix(8))@1 -> \(id.prefix(8))@1  (identical weights)\n"), text)
    }

    func testDiffOfDifferentArchitecturesIsRefused() throws {
        let workspace = try Workspace()
        let a = try workspace.train(epochs: 1)
        let b = try workspace.train(layers: "8,10", epochs: 1)
        assertError(try workspace.run(["diff", a, b]),
                    "\(a.prefix(8))@1 and \(b.prefix(8))@1 have different architectures (64-16-10 and 64-8-10); diff compares checkpoints of one architecture.")
    }

    func testEvaluateAccuracyAgreesWithPredict() throws {
        let workspace = try Workspace()
        let id = try workspace.train(data: CLI.iris, layers: "6,3", epochs: 8)
        let evaluation = try workspace.json(["evaluate", id, "--data", CLI.iris])
        XCTAssertEqual(evaluation["rows"] as? Int, 150)
        let accuracy = try XCTUnwrap(evaluation["accuracy"] as? Double)

        let predictions = try XCTUnwrap(try workspace.json(["predict", id, "--data", CLI.iris])["predictions"] as? [[String: Any]])
        let labels = try String(contentsOfFile: CLI.iris, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").last.flatMap { Int($0) } }
        XCTAssertEqual(predictions.count, labels.count)
        let correct = zip(predictions, labels).filter { $0.0["class"] as? Int == $0.1 }.count
        XCTAssertEqual(accuracy, Double(correct) / Double(labels.count), accuracy: 1e-12)
        // The confusion matrix counts the same predictions.
        let confusion = try XCTUnwrap(evaluation["confusion"] as? [[Int]])
        XCTAssertEqual((0..<3).map { confusion[$0][$0] }.reduce(0, +), correct)
        XCTAssertEqual(confusion.flatMap { $0 }.reduce(0, +), 150)

        // The text output: one line per row, class first.
        let text = try workspace.ok(["predict", id, "--data", CLI.iris]).stdout.split(separator: "\n")
        XCTAssertEqual(text.count, 150)
        XCTAssertEqual(text.map { Int($0.split(separator: " ")[0]) }, predictions.map { $0["class"] as? Int })
    }

    func testPlotWritesAnSVGWithBothRunsAxesAndLegend() throws {
        let workspace = try Workspace()
        let a = try workspace.train(["--name", "first", "--validation-split", "0.2"], epochs: 3)
        let b = try workspace.train(["--validation-split", "0.2", "--seed", "2"], epochs: 4)
        let result = try workspace.ok(["plot", "first", b, "--output", "curves.svg"])
        XCTAssertEqual(result.stdout, "")
        let svg = try workspace.bytes("curves.svg")

        let collector = SVGCollector()
        let parser = XMLParser(data: svg)
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "the SVG is well-formed XML: \(String(describing: parser.parserError))")
        XCTAssertEqual(collector.elements.first, "svg")
        XCTAssertGreaterThanOrEqual(collector.elements.filter { $0 == "path" }.count, 4, "train and validation curves of two runs")
        let texts = collector.texts
        XCTAssertTrue(texts.contains("first (\(a.prefix(8)))"), "\(texts)")
        XCTAssertTrue(texts.contains(String(b.prefix(8))), "\(texts)")
        XCTAssertTrue(texts.contains("epoch"), "x axis label")
        XCTAssertTrue(texts.contains("loss"), "y axis label: \(texts)")
        XCTAssertTrue(texts.contains("train") && texts.contains("validation"), "legend line styles: \(texts)")
    }
}

/// Collects element names and text nodes of an XML document.
final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [String] = []
    var texts: [String] = []
    private var current = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(name)
        current = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let text = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if name == "text", !text.isEmpty { texts.append(text) }
        current = ""
    }
}

extension Workspace {
    /// `fcstore verify`'s exit status.
    func verifyStatus() -> Int32 { (try? run(["verify"]).status) ?? -1 }
}
