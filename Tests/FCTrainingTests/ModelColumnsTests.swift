import FCFormats
import FCNet
import FCStorage
import Foundation
import XCTest
@testable import FCTraining

/// `ModelColumns.load` for runs without a signature (recorded before signatures
/// existed, or imported without one): the recorded label column, features by position.
final class ModelColumnsTests: XCTestCase {
    /// iris with the label column first, named "species".
    func labelFirst(_ fixture: TrainingFixture) throws -> String {
        let lines = try String(contentsOfFile: fixture.dataPath, encoding: .utf8).split(whereSeparator: \.isNewline)
        let moved = lines.enumerated().map { index, line -> String in
            var cells = line.split(separator: ",").map(String.init)
            let label = cells.removeLast()
            return ([index == 0 ? "species" : label] + cells).joined(separator: ",")
        }
        let path = fixture.directory.appendingPathComponent("first.csv").path
        try (moved.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testRunsWithoutSignatureUseTheRecordedLabelColumn() throws {
        let fixture = try TrainingFixture()
        let path = try labelFirst(fixture)
        let reference = try CSVLoader(label: .name("species")).load(path: path)
        let matched = try ModelColumns.load(path: path, labelOverride: nil, signature: nil, recordedLabel: "species",
                                            inputSize: 4, task: .classification)
        XCTAssertTrue(matched.labelled)
        XCTAssertEqual(matched.matching, .position)
        XCTAssertEqual(matched.data.features, reference.features)
        XCTAssertEqual(matched.data.labels, reference.labels)
        // The recorded column absent from the file: as before signatures, by position.
        let plain = try ModelColumns.load(path: fixture.dataPath, labelOverride: nil, signature: nil, recordedLabel: "species",
                                          inputSize: 4, task: .classification)
        XCTAssertEqual(plain.data.labels, try CSVLoader().load(path: fixture.dataPath).labels)
    }

    func testNamedSignatureReordersColumns() throws {
        let fixture = try TrainingFixture()
        let path = try labelFirst(fixture)
        let signature = ModelSignature(features: ["sepal_length", "sepal_width", "petal_length", "petal_width"], featureCount: 4,
                                       label: "label", task: .classification, classes: ["0", "1", "2"])
        let original = try ModelColumns.load(path: fixture.dataPath, labelOverride: nil, signature: signature, inputSize: 4, task: .classification)
        XCTAssertEqual(original.data, try CSVLoader().load(path: fixture.dataPath).renamed(source: original.data.source))
        // "species" is not the recorded label: the file is unlabelled and the column unused...
        let moved = try ModelColumns.load(path: path, labelOverride: nil, signature: signature, inputSize: 4, task: .classification)
        XCTAssertFalse(moved.labelled)
        XCTAssertEqual(moved.ignored, ["species"])
        XCTAssertEqual(moved.data.features, original.data.features)
        // ...unless --label names it.
        let named = try ModelColumns.load(path: path, labelOverride: "species", signature: signature, inputSize: 4, task: .classification)
        XCTAssertTrue(named.labelled)
        XCTAssertEqual(named.ignored, [])
        XCTAssertEqual(named.data.labels, original.data.labels)
        XCTAssertEqual(named.data.features, original.data.features)
    }
}

private extension Dataset {
    func renamed(source: String) -> Dataset {
        var copy = self
        copy.source = source
        return copy
    }
}
