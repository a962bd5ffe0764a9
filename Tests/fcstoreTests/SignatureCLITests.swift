import FCFormats
import FCStorage
import Foundation
import XCTest

/// The model signature through the real binary: recorded by `train`, used by
/// `predict` and `evaluate` to find columns by name, carried by every export.
final class SignatureCLITests: XCTestCase {
    /// iris.csv's columns: sepal_length, sepal_width, petal_length, petal_width, label.
    static func irisRows() throws -> [[String]] {
        let text = try String(contentsOfFile: CLI.iris, encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",").map(String.init) }
    }

    /// Writes iris.csv's columns `columns` (by index, in that order) as `name`.
    @discardableResult
    static func writeIris(_ workspace: Workspace, _ name: String, columns: [Int], rename: [String: String] = [:]) throws -> String {
        let rows = try irisRows()
        var lines: [String] = []
        for (index, row) in rows.enumerated() {
            lines.append(columns.map { index == 0 ? rename[row[$0]] ?? row[$0] : row[$0] }.joined(separator: ","))
        }
        return try workspace.write(name, lines.joined(separator: "\n") + "\n")
    }

    /// A regression run predicting petal_width (the FIRST column of its file) from the three other measurements.
    static func regressionRun(_ workspace: Workspace) throws -> String {
        let data = try writeIris(workspace, "reg.csv", columns: [3, 0, 1, 2])
        return try workspace.train(["--label", "petal_width", "--loss", "mse", "--seed", "3"], data: data, layers: "6,1", epochs: 15)
    }

    func testTrainingRecordsTheSignature() throws {
        let workspace = try Workspace()
        let regression = try Self.regressionRun(workspace)
        let config = try XCTUnwrap(try workspace.show(regression)["config"] as? [String: Any])
        let signature = try XCTUnwrap(config["signature"] as? [String: Any])
        XCTAssertEqual(signature["features"] as? [String], ["sepal_length", "sepal_width", "petal_length"])
        XCTAssertEqual(signature["feature_count"] as? Int, 3)
        XCTAssertEqual(signature["matching"] as? String, "name")
        XCTAssertEqual(signature["label"] as? String, "petal_width")
        XCTAssertEqual(signature["task"] as? String, "regression")
        XCTAssertEqual(signature["target"] as? String, "petal_width")
        XCTAssertNil(signature["classes"])

        // --label by index records the column's name.
        let classification = try workspace.train(["--label", "4"], data: CLI.iris, layers: "3", epochs: 1)
        let classSignature = try XCTUnwrap((try workspace.show(classification)["config"] as? [String: Any])?["signature"] as? [String: Any])
        XCTAssertEqual(classSignature["label"] as? String, "label")
        XCTAssertEqual(classSignature["task"] as? String, "classification")
        XCTAssertEqual(classSignature["classes"] as? [String], ["0", "1", "2"])
        XCTAssertEqual(classSignature["features"] as? [String], ["sepal_length", "sepal_width", "petal_length", "petal_width"])

        let text = try workspace.ok(["show", String(regression.prefix(8))]).stdout
        XCTAssertTrue(text.contains("\nsignature  3 features by name (sepal_length, sepal_width, petal_length)  label 'petal_width'  regression of 'petal_width'\n"), text)
        let classText = try workspace.ok(["show", String(classification.prefix(8))]).stdout
        XCTAssertTrue(classText.contains("\nsignature  4 features by name (sepal_length, sepal_width, petal_length, petal_width)  label 'label'  classification, 3 classes (0,1,2)\n"), classText)
    }

    func testRegressionPredictAndEvaluateMatchColumnsByName() throws {
        let workspace = try Workspace()
        let id = try Self.regressionRun(workspace)
        let rows = try Self.irisRows().dropFirst()

        // Without --label: the recorded label column, not the last one.
        let evaluation = try workspace.json(["evaluate", id, "--data", workspace.path("reg.csv")])
        let outputs = try workspace.predictions(id, data: workspace.path("reg.csv")).map { try XCTUnwrap($0.first) }
        XCTAssertEqual(outputs.count, 150)
        XCTAssertGreaterThan(Set(outputs).count, 100, "one prediction per row, not one value for all")
        let targets = try rows.map { try XCTUnwrap(Float($0[3])) }
        var squares = 0.0
        for (output, target) in zip(outputs, targets) { squares += (Double(target) - Double(Float(output))) * (Double(target) - Double(Float(output))) }
        let mse = try XCTUnwrap(evaluation["mse"] as? Double)
        XCTAssertEqual(mse, squares / 150, accuracy: 1e-9)
        XCTAssertLessThan(mse, 0.2, "petal width is predictable from the other measurements")
        XCTAssertEqual(evaluation["label_column"] as? String, "petal_width")
        XCTAssertEqual(evaluation["ignored_columns"] as? [String], [])
        let explicit = try workspace.json(["evaluate", id, "--data", workspace.path("reg.csv"), "--label", "petal_width"])
        XCTAssertEqual(explicit["loss"] as? Double, evaluation["loss"] as? Double)
        XCTAssertEqual(explicit["mse"] as? Double, mse)

        // Reordered columns: the same results.
        let reordered = try Self.writeIris(workspace, "reordered.csv", columns: [2, 3, 1, 0])
        let reorderedEvaluation = try workspace.json(["evaluate", id, "--data", reordered])
        for key in ["loss", "mse", "rmse", "mae", "r2"] {
            XCTAssertEqual(reorderedEvaluation[key] as? Double, evaluation[key] as? Double, key)
        }
        XCTAssertEqual(try workspace.predictions(id, data: reordered).compactMap(\.first), outputs)

        // Without the label column: predict works, evaluate says what is missing.
        let unlabelled = try Self.writeIris(workspace, "unlabelled.csv", columns: [1, 2, 0])
        XCTAssertEqual(try workspace.predictions(id, data: unlabelled).compactMap(\.first), outputs)
        assertError(try workspace.run(["evaluate", id, "--data", unlabelled]),
                    "unlabelled.csv has no column 'petal_width' (the model's label); evaluate needs labelled data: pass --label, or use predict for unlabelled rows.", status: 1)

        // A missing feature column: refused, one line.
        let missing = try Self.writeIris(workspace, "missing.csv", columns: [3, 0, 1])
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, id, "--data", missing]),
                        "missing.csv: expected 3 features, found 2 (column 'petal_length' is missing).", status: 1)
        }
        let renamed = try Self.writeIris(workspace, "renamed.csv", columns: [3, 0, 1, 2], rename: ["petal_length": "petal_len"])
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, id, "--data", renamed]), "renamed.csv: column 'petal_length' is missing.", status: 1)
        }

        // An extra column: ignored; evaluate says so once, predict stays quiet.
        let extra = try Self.writeIris(workspace, "extra.csv", columns: [3, 0, 4, 1, 2])
        let result = try workspace.ok(["evaluate", id, "--data", extra, "--json"])
        XCTAssertEqual(result.stderrLines, ["note: extra.csv has 1 column the model does not use ('label'); it is ignored."])
        let extraEvaluation = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(extraEvaluation["mse"] as? Double, mse)
        XCTAssertEqual(extraEvaluation["ignored_columns"] as? [String], ["label"])
        let text = try workspace.ok(["evaluate", id, "--data", extra])
        XCTAssertEqual(text.stderrLines, ["note: extra.csv has 1 column the model does not use ('label'); it is ignored."])
        XCTAssertTrue(text.stdout.contains("\nmse       "), text.stdout)
        let predicted = try workspace.ok(["predict", id, "--data", extra])
        XCTAssertEqual(predicted.stderr, "")
        XCTAssertEqual(try workspace.predictions(id, data: extra).compactMap(\.first), outputs)

        // --label only with a column that exists; a feature taken as the label leaves it missing.
        assertError(try workspace.run(["evaluate", id, "--data", workspace.path("reg.csv"), "--label", "petal"]),
                    "reg.csv:1: no column is named \"petal\"; the columns are petal_width, sepal_length, sepal_width, petal_length.", status: 1)
        assertError(try workspace.run(["evaluate", id, "--data", workspace.path("reg.csv"), "--label", "9"]),
                    "reg.csv:1: there is no column 9; the columns are numbered 0 to 3.", status: 1)
        assertError(try workspace.run(["evaluate", id, "--data", workspace.path("reg.csv"), "--label", "1"]),
                    "reg.csv: column 'sepal_length' is missing.", status: 1)
    }

    func testClassificationPredictAndEvaluateMatchColumnsByName() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--seed", "5"], data: CLI.iris, layers: "5,3", epochs: 10)
        let evaluation = try workspace.json(["evaluate", id, "--data", CLI.iris])
        let outputs = try workspace.predictions(id, data: CLI.iris)
        XCTAssertEqual(evaluation["label_column"] as? String, "label")
        XCTAssertEqual(evaluation["classes"] as? [String], ["0", "1", "2"])
        XCTAssertEqual((evaluation["support"] as? [Int]), [50, 50, 50])
        XCTAssertTrue(evaluation["mse"] is NSNull)
        XCTAssertTrue(evaluation["roc_auc"] is NSNull, "three classes have no ROC-AUC")

        // Label first, features shuffled: the same results.
        let reordered = try Self.writeIris(workspace, "reordered.csv", columns: [4, 2, 0, 3, 1])
        let reorderedEvaluation = try workspace.json(["evaluate", id, "--data", reordered])
        for key in ["loss", "accuracy", "macro_f1"] {
            XCTAssertEqual(reorderedEvaluation[key] as? Double, evaluation[key] as? Double, key)
        }
        XCTAssertEqual(reorderedEvaluation["confusion"] as? [[Int]], evaluation["confusion"] as? [[Int]])
        XCTAssertEqual(try workspace.predictions(id, data: reordered), outputs)

        let missing = try Self.writeIris(workspace, "missing.csv", columns: [0, 1, 3, 4])
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, id, "--data", missing]),
                        "missing.csv: expected 4 features, found 3 (column 'petal_length' is missing).", status: 1)
        }

        let extra = try Self.writeIris(workspace, "extra.csv", columns: [0, 1, 2, 3, 0, 4])
        // Two columns named sepal_length: ambiguous, refused.
        assertError(try workspace.run(["predict", id, "--data", extra]),
                    "extra.csv: column 'sepal_length' appears 2 times; the model's features are matched by name, so each must appear once.", status: 1)
        let rows = try Self.irisRows()
        let withIDs = rows.enumerated().map { index, row in ([index == 0 ? "id" : String(index)] + row).joined(separator: ",") }
        let idFile = try workspace.write("ids.csv", withIDs.joined(separator: "\n") + "\n")
        let result = try workspace.ok(["evaluate", id, "--data", idFile, "--json"])
        XCTAssertEqual(result.stderrLines, ["note: ids.csv has 1 column the model does not use ('id'); it is ignored."])
        let extraEvaluation = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(extraEvaluation["accuracy"] as? Double, evaluation["accuracy"] as? Double)
        XCTAssertEqual(extraEvaluation["ignored_columns"] as? [String], ["id"])
        XCTAssertEqual(try workspace.ok(["predict", id, "--data", idFile]).stderr, "")
        XCTAssertEqual(try workspace.predictions(id, data: idFile), outputs)

        // Text output: accuracy, macro-F1, per-class table, confusion matrix.
        let text = try workspace.ok(["evaluate", id, "--data", CLI.iris]).stdout
        XCTAssertTrue(text.contains("\nmacro-F1  "), text)
        XCTAssertTrue(text.contains("CLASS  PRECISION  RECALL"), text)
        XCTAssertTrue(text.contains("confusion matrix (rows: true label, columns: predicted)"), text)
        XCTAssertFalse(text.contains("ROC-AUC"), text)
    }

    /// A digits run's columns (p0...p63) are not in iris.csv.
    func testAnotherDataSetIsRefusedByName() throws {
        let workspace = try Workspace()
        let id = try workspace.train(epochs: 1)
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, id, "--data", CLI.iris]),
                        "iris.csv: expected 64 features, found 4 (columns 'p0', 'p1' and 62 more are missing).", status: 1)
        }
    }

    func testExportsCarryTheSignatureAndImportsRestoreIt() throws {
        let workspace = try Workspace()
        let id = try Self.regressionRun(workspace)
        let config = try XCTUnwrap(try workspace.show(id)["config"] as? [String: Any])
        let expected = try XCTUnwrap(config["signature"] as? [String: Any])
        let signature = ModelSignature(features: ["sepal_length", "sepal_width", "petal_length"], featureCount: 3,
                                       label: "petal_width", task: .regression, target: "petal_width")
        for format in ["safetensors", "npz", "json", "onnx"] {
            let file = workspace.path("model.\(format)")
            try workspace.ok(["export", id, "--format", format, "--output", file])
            let bytes = [UInt8](try workspace.bytes("model.\(format)"))
            switch format {
            case "safetensors": XCTAssertEqual(try Safetensors.decode(bytes).signature, signature)
            case "npz": XCTAssertEqual(try NPZ.decode(bytes).signature, signature)
            case "onnx":
                // metadata_props holds the key and the signature's JSON text as protobuf strings.
                XCTAssertNotNil(bytes.firstRange(of: Array("fcstore.signature".utf8)))
                XCTAssertNotNil(bytes.firstRange(of: Array(signature.json().utf8)))
                continue
            default: break
            }
            let other = try Workspace()
            let imported = try XCTUnwrap(try other.ok(["import", file]).lastLine)
            let importedConfig = try XCTUnwrap(try other.show(imported)["config"] as? [String: Any])
            XCTAssertEqual(importedConfig["signature"] as? NSDictionary, expected as NSDictionary, format)
            // The imported model finds its columns by name too.
            try Self.writeIris(other, "reordered.csv", columns: [2, 3, 1, 0])
            XCTAssertEqual(try other.predictions(imported, data: other.path("reordered.csv")),
                           try workspace.predictions(id, data: workspace.path("reg.csv")), format)
        }
        // npz metadata: one JSON object, the signature and normalisation nested (not strings).
        let npz = try NPZ.readTensors([UInt8](try workspace.bytes("model.npz")))
        XCTAssertNotNil(npz.metadata?["fcstore.signature"])

        // Bundles carry the run config, signature included.
        let bundle = workspace.path("runs.fcbundle")
        try workspace.ok(["export", id, "--format", "bundle", "--output", bundle])
        let other = try Workspace()
        try other.ok(["import", bundle])
        let bundled = try XCTUnwrap(try other.show(id)["config"] as? [String: Any])
        XCTAssertEqual(bundled["signature"] as? NSDictionary, expected as NSDictionary)
    }

    /// A model file without a signature: imported, shown as positional, used by position.
    func testImportedModelWithoutSignatureWorksByPosition() throws {
        let workspace = try Workspace()
        let id = try workspace.train(["--seed", "2"], data: CLI.iris, layers: "3", epochs: 2)
        try workspace.ok(["export", id, "--format", "safetensors", "--output", workspace.path("model.safetensors")])
        var model = try Safetensors.decode([UInt8](try workspace.bytes("model.safetensors")))
        XCTAssertNotNil(model.signature)
        model.signature = nil
        let bare = try workspace.write("bare.safetensors", "")
        try Data(try Safetensors.encode(model)).write(to: URL(fileURLWithPath: bare))
        let imported = try XCTUnwrap(try workspace.ok(["import", bare]).lastLine)
        let text = try workspace.ok(["show", String(imported.prefix(8))]).stdout
        XCTAssertTrue(text.contains("\nsignature  none recorded (inputs matched by position)\n"), text)
        XCTAssertEqual(try workspace.predictions(imported, data: CLI.iris), try workspace.predictions(id, data: CLI.iris))
        // By position: a file of another width is refused with the counts.
        let narrow = try Self.writeIris(workspace, "narrow.csv", columns: [0, 1, 4])
        for command in ["evaluate", "predict"] {
            assertError(try workspace.run([command, imported, "--data", narrow]), "narrow.csv: expected 4 features, found 2.", status: 1)
        }
    }

    /// IDX images have positional features; the signature says so and CSV rows are matched by position.
    func testIDXTrainingRecordsPositionalFeatures() throws {
        let workspace = try Workspace()
        let rows = try String(contentsOfFile: CLI.digits, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst().prefix(200)
        var images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, UInt8(rows.count), 0, 0, 0, 8, 0, 0, 0, 8]
        var labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, UInt8(rows.count)]
        for row in rows {
            let cells = row.split(separator: ",").compactMap { UInt8($0) }
            XCTAssertEqual(cells.count, 65)
            images += cells.prefix(64)
            labels.append(cells[64])
        }
        try Data(images).write(to: URL(fileURLWithPath: workspace.path("train-images-idx3-ubyte")))
        try Data(labels).write(to: URL(fileURLWithPath: workspace.path("train-labels-idx1-ubyte")))
        let id = try workspace.train(data: workspace.path("train-images-idx3-ubyte"), layers: "10", epochs: 1)
        let signature = try XCTUnwrap((try workspace.show(id)["config"] as? [String: Any])?["signature"] as? [String: Any])
        XCTAssertEqual(signature["matching"] as? String, "position")
        XCTAssertTrue(signature["features"] is NSNull || signature["features"] == nil)
        XCTAssertEqual(signature["feature_count"] as? Int, 64)
        XCTAssertEqual(signature["classes"] as? [String], (0..<10).map(String.init))
        let text = try workspace.ok(["show", String(id.prefix(8))]).stdout
        XCTAssertTrue(text.contains("\nsignature  64 features by position  labels from their own file  classification, 10 classes (0,1,2,3,4,5,6,7,8,9)\n"), text)
        // digits.csv's 64 pixel columns, taken by position, give the IDX predictions.
        let evaluation = try workspace.json(["evaluate", id, "--data", workspace.path("train-images-idx3-ubyte")])
        XCTAssertEqual(evaluation["rows"] as? Int, rows.count)
        XCTAssertEqual(Array(try workspace.predictions(id, data: CLI.digits).prefix(rows.count)),
                       try workspace.predictions(id, data: workspace.path("train-images-idx3-ubyte")))
    }

    /// A validation file is read by position like the training data: its columns must agree by name.
    func testValidationFileWithOtherColumnsIsRefused() throws {
        let workspace = try Workspace()
        let reordered = try Self.writeIris(workspace, "val.csv", columns: [0, 1, 3, 2, 4])
        assertError(try workspace.run(["train", "--data", CLI.iris, "--validation", reordered, "--layers", "3", "--epochs", "1"]),
                    "val.csv: feature column 3 is 'petal_width' where iris.csv has 'petal_length'; a validation file needs the training data's feature columns in the same order.", status: 1)
        let same = try Self.writeIris(workspace, "same.csv", columns: [0, 1, 2, 3, 4])
        try workspace.train(["--validation", same], data: CLI.iris, layers: "3", epochs: 1)
    }
}
