import FCCore
@testable import FCFormats
import Foundation
import XCTest
@testable import FCStorage
import FCSQLite

/// Issues 14/15, import side: the file-kind detector, the strict JSON model
/// reader, values float32 cannot hold, run-name rules, references that are
/// both a name and an id prefix.
final class FileKindTests: XCTestCase {
    func testEachKindIsRecognisedFromItsContent() throws {
        let model = try FormatFixtures.randomModel([4, 3, 2])
        let json = try JSONModel.encode(model)
        let safetensors = try Safetensors.encode(model)
        let cases: [(String, [UInt8], FileKind)] = [
            ("safetensors", safetensors, .safetensors),
            ("npz", try NPZ.encode(model), .npz),
            ("onnx", try ONNX.encode(model), .onnx),
            ("json", json, .json),
            ("json with a BOM", FileKind.byteOrderMark + json, .json),
            ("indented json", Array("\n  \t{\"a\": 1}".utf8), .json),
            ("sqlite", Array("SQLite format 3\0".utf8) + [UInt8](repeating: 0, count: 84), .bundle),
            ("npy", NPY.encode(try TensorValue(shape: [2], values: [1, 2])), .npy),
            ("pickle", [0x80, 0x04, 0x95, 0x10], .pickle),
            ("torch.save", try ZIP.storedArchive([("model/data.pkl", [0x80, 0x02]), ("model/version", [0x33])]), .pickle),
            ("gzip", [0x1F, 0x8B, 0x08, 0x00], .gzip),
            ("hdf5", [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A, 0], .hdf5),
            ("csv", Array("fixed acidity,volatile acidity,alcohol\n7.4,0.7,9.4\n7.8,0.88,9.8\n".utf8), .csv),
            ("semicolon csv", Array("a;b\n1;2\n".utf8), .csv),
            ("one csv line", Array("1,2,3".utf8), .csv),
            ("text", Array("hello world\nsecond line\n".utf8), .text),
            ("uneven commas", Array("a,b\nno commas here\n".utf8), .text),
            ("empty", [], .empty),
            ("binary", [0xFF, 0x00, 0x13, 0x37, 0x00, 0x01], .binary),
            ("NUL in text", Array("abc\0def".utf8), .binary),
        ]
        for (name, bytes, kind) in cases {
            XCTAssertEqual(FileKind.detect(head: bytes, fileSize: bytes.count), kind, name)
        }
        // A truncated safetensors file is still one (its reader says it is truncated),
        // down to its 8-byte header length alone.
        XCTAssertEqual(FileKind.detect(head: Array(safetensors.prefix(40)), fileSize: 40), .safetensors)
        XCTAssertEqual(FileKind.detect(head: Array(safetensors.prefix(8)), fileSize: 8), .safetensors)
        // What made "wine.csv" a damaged safetensors file: its first 8 bytes as a length.
        XCTAssertEqual(FileKind.detect(head: Array("fixed,ac\n1,2\n".utf8), fileSize: 13), .csv)
        // A head cut inside a multi-byte character, of a longer file, is still text.
        let text = Array("caf\u{E9} au lait\nligne deux \u{E9}".utf8)
        XCTAssertEqual(FileKind.detect(head: Array(text.dropLast()), fileSize: 10_000), .text)
        XCTAssertEqual(FileKind.detect(head: Array(text.dropLast()), fileSize: text.count - 1), .binary)
        XCTAssertEqual(FileKind.allCases.filter(\.isImportable), [.bundle, .safetensors, .npz, .json])
    }

    func testDetectFromAPathReadsOnlyTheHeadAndRefusesAFIFO() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kind-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("wine.csv").path
        let lines = (0..<2000).map { "\($0),\(Double($0) / 3),\($0 % 7)" }
        try ("a,b,c\n" + lines.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertEqual(try FileKind.detect(path: csv), .csv)
        let fifo = folder.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try FileKind.detect(path: fifo)) { error in
            XCTAssertEqual("\(error)", "\(fifo) is not a regular file; give a model file or a bundle.")
        }
    }
}

final class StrictJSONModelTests: XCTestCase {
    var model: ModelFile { get throws { try FormatFixtures.randomModel([3, 2, 2], activations: ["tanh", "softmax"]) } }

    func text() throws -> String { String(decoding: try JSONModel.encode(try model), as: UTF8.self) }

    func message(_ text: String) -> String? {
        do {
            _ = try JSONModel.decode(Array(text.utf8))
            return nil
        } catch {
            return (error as? ModelFormatError)?.message
        }
    }

    func testDuplicateKeysAreRefusedWithTheirLineAndColumn() throws {
        let valid = try text()
        // At the top level, in a layer, in the metadata: refused, never first or last wins.
        let top = valid.replacingOccurrences(of: "{\"activations\"", with: "{\"loss\":\"mse\",\n\"activations\"")
        let second = String(top.split(separator: "\n")[1])
        let column = try XCTUnwrap(second.range(of: "\"loss\"")).lowerBound.utf16Offset(in: second) + 1
        XCTAssertEqual(message(top), "The JSON model is not valid JSON: duplicate key \"loss\" in the top level (line 2, column \(column)).")
        let layer = valid.replacingOccurrences(of: "{\"bias\":", with: "{\"weight\":[[1]],\"bias\":")
        let layerMessage = try XCTUnwrap(message(layer))
        XCTAssertTrue(layerMessage.hasPrefix("The JSON model is not valid JSON: duplicate key \"weight\" in layer 1 (line 1, column "), layerMessage)
        let metadata = valid.replacingOccurrences(of: "\"metadata\":{", with: "\"metadata\":{\"epoch\":\"9\",")
        XCTAssertTrue(message(metadata)?.hasPrefix("The JSON model is not valid JSON: duplicate key \"epoch\" in \"metadata\"") ?? false,
                      message(metadata) ?? "accepted")
        XCTAssertNil(message(valid))
    }

    func testErrorsSayWhereInCharacters() throws {
        // Line 3, column 9 (byte 10): after a two-byte character, columns count characters.
        let text = "{\n\"format\": \"fcstore-model\",\n\"\u{E9}\": 1, x}"
        XCTAssertEqual(message(text), "The JSON model is not valid JSON: expected a string key (line 3, column 9).")
        XCTAssertEqual(message(""), "The JSON model is not valid JSON: unexpected end of JSON (line 1, column 1).")
        XCTAssertEqual(message("{\"layers\": {}}"),
                       "The file is not an fcstore JSON model: \"layers\" is an object, not an array (line 1, column 12).")
    }

    func testAByteOrderMarkIsSkipped() throws {
        let bytes = try JSONModel.encode(try model)
        XCTAssertEqual(try JSONModel.decode(FileKind.byteOrderMark + bytes), try model)
    }

    func testNumbersFloat32CannotHoldAreRefused() throws {
        let valid = try text()
        let first = String(try model.layers[0].weight.values[1].description)
        let edited = valid.replacingOccurrences(of: "," + first + ",", with: ",1e39,")
        XCTAssertNotEqual(edited, valid)
        let text = try XCTUnwrap(message(edited))
        XCTAssertTrue(text.hasPrefix("The JSON model was refused: the value 1e39 at flat index 1 of layers.1.weight overflows float32"), text)
        // Python writes NaN and Infinity, which are not JSON: named as non-finite weights.
        let nan = valid.replacingOccurrences(of: "," + first + ",", with: ",-Infinity,")
        let nanText = try XCTUnwrap(message(nan))
        XCTAssertTrue(nanText.hasPrefix("The JSON model was refused: the value -Infinity at flat index 1 of layers.1.weight is not a finite number (nor JSON)"), nanText)
    }

    func testNonFiniteWeightsAreRefusedNamingTensorAndIndex() throws {
        var bad = try model
        bad.layers[1].bias.values[1] = .nan
        assertRefuses("Tensor \"layers.2.bias\" holds NaN at flat index 1") { try bad.checkFinite() }
        bad.layers[1].bias.values[1] = 0
        bad.layers[0].weight.values[4] = -.infinity
        assertRefuses("Tensor \"layers.1.weight\" holds -infinity at flat index 4") { try bad.checkFinite() }
        XCTAssertNoThrow(try model.checkFinite())
    }

    func testFloat64ThatOverflowsFloat32IsRefusedInSafetensorsAndNPZ() throws {
        // One F64 weight of 1e300 among finite ones.
        let values: [Double] = [0.5, -1, 1e300, 2]
        let data = values.flatMap { littleEndianBytes($0.bitPattern) } + FormatFixtures.floats([0, 0])
        let header = "{\"__metadata__\":{\"fcstore.activations\":\"identity\"},"
            + "\"layers.1.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
            + "\"layers.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}"
        assertRefuses("The float64 value 1e+300 at flat index 2 of tensor \"layers.1.weight\" overflows float32") {
            try Safetensors.decode(FormatFixtures.safetensors(header, data: data))
        }
        // F64 NaN is not an overflow: it reads, and import's checkFinite refuses it by name.
        let nan = [0.5, -1, Double.nan, 2].flatMap { littleEndianBytes($0.bitPattern) } + FormatFixtures.floats([0, 0])
        let decoded = try Safetensors.decode(FormatFixtures.safetensors(header, data: nan))
        assertRefuses("Tensor \"layers.1.weight\" holds NaN at flat index 2") { try decoded.checkFinite() }

        let npy = FormatFixtures.npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                                     data: [1.0, -1e300, 0].flatMap { littleEndianBytes($0.bitPattern) })
        let archive = try ZIP.storedArchive([("layers.1.weight.npy", npy)])
        assertRefuses("In the npz member \"layers.1.weight.npy\": The float64 value -1e+300 at flat index 1 of the array overflows float32") {
            try NPZ.readTensors(archive)
        }
    }
}

final class RunNameTests: StoreTestCase {
    func testTheRules() {
        for valid in ["base", "run-1", "wine regression", "abc", "cafe-123", "deadbee", "résumé", "1234567", "run-deadbeef"] {
            XCTAssertNil(RunName.flaw(valid), valid)
        }
        let flawed: [(String, String)] = [
            ("", "is empty"),
            ("deadbeef", "looks like a run id (8 or more hex digits)"),
            ("DEADBEEF", "looks like a run id (8 or more hex digits)"),
            ("12345678", "looks like a run id (8 or more hex digits)"),
            ("0a1b2c3d-4e", "looks like a run id (8 or more hex digits)"),
            ("a@b", "contains '@', which separates a run from its epoch in references (RUN@EPOCH)"),
            ("two\nlines", "contains a control character or line break"),
            ("bell\u{7}", "contains a control character or line break"),
            ("esc\u{1B}[31m", "contains a control character or line break"),
            ("sep\u{2028}", "contains a control character or line break"),
        ]
        for (name, flaw) in flawed { XCTAssertEqual(RunName.flaw(name), flaw, RunName.quoted(name)) }
        XCTAssertEqual(RunName.replacement(for: "deadbeef", runID: "0123abcd-0000"), "run-0123abcd")
        XCTAssertEqual(RunName.replacement(for: "a@b\nc", runID: "0123abcd-0000"), "a-b-c")
        XCTAssertEqual(RunName.replacement(for: "@\n", runID: "0123abcd-0000"), "run-0123abcd")
        XCTAssertEqual(RunName.replacement(for: "dead@beef", runID: "0123abcd-0000"), "run-0123abcd")
        XCTAssertEqual(RunName.quoted("a\"b\n\u{1B}"), "\"a\\\"b\\n\\u{1b}\"")
    }

    func testTheStoreRefusesBadNames() throws {
        let store = try Store(path: path())
        XCTAssertEqual(storeError { try store.createRun(name: "cafebabe", config: "{}", seed: 1) }?.description,
                       "The run name \"cafebabe\" looks like a run id (8 or more hex digits); choose another name.")
        XCTAssertEqual(storeError { try store.createRun(name: "x\ny", config: "{}", seed: 1) }?.description,
                       "The run name \"x\\ny\" contains a control character or line break; choose another name.")
        XCTAssertEqual(storeError { try store.createRun(name: "", config: "{}", seed: 1) }?.description,
                       "A run name cannot be empty; leave it out instead.")
        let parent = try store.createRun(name: "ok", config: "{}", seed: 1)
        var generator = SplitMix64(seed: 3)
        try store.appendCheckpoint(runID: parent.id, checkpointInput(epoch: 0, generator: &generator))
        XCTAssertNotNil(storeError { try store.forkRun(from: parent.id, atEpoch: 0, name: "a@b", config: "{}", seed: 1) })
        XCTAssertEqual(try store.runs().count, 1)
    }

    /// A run given a name before the rules (or a short hex name) that is also
    /// the start of another run's id: no guess, both runs named.
    func testAReferenceThatIsANameAndAnotherRunsIdPrefixIsRefused() throws {
        let store = try Store(path: path())
        let target = try store.createRun(name: nil, config: "{}", seed: 1)
        let other = try store.createRun(name: "legacy", config: "{}", seed: 2)
        let prefix = String(target.id.prefix(8))
        // As an old store or a bundle from before the rules could hold it.
        try raw(path()).execute("UPDATE runs SET name = ? WHERE id = ?", [.text(prefix), .text(other.id)])
        let error = storeError { try store.resolveRun(prefix) }
        XCTAssertEqual(error?.description, "\"\(prefix)\" is both the name of run \(other.shortID) and the start of the id of run \(prefix); nothing was chosen. Give the full id of the run you mean.")
        XCTAssertEqual(try store.resolveRun(target.id).id, target.id)
        XCTAssertEqual(try store.resolveRun(other.id).id, other.id)
        // A short hex name that is a prefix of its own id only is no conflict.
        try raw(path()).execute("UPDATE runs SET name = ? WHERE id = ?", [.text(String(other.id.prefix(3))), .text(other.id)])
        if !target.id.hasPrefix(other.id.prefix(3)) {
            XCTAssertEqual(try store.resolveRun(String(other.id.prefix(3))).id, other.id)
        }
        // A name that prefixes no id still resolves.
        try raw(path()).execute("UPDATE runs SET name = 'legacy' WHERE id = ?", [.text(other.id)])
        XCTAssertEqual(try store.resolveRun("legacy").id, other.id)
    }
}

/// Bundles: names that break the rules are renamed, runs that cannot be loaded
/// are refused, and the schema check escapes LIKE's `_`.
final class BundleImportRulesTests: StoreTestCase {
    private func altered(_ good: String, _ name: String, _ change: (Database) throws -> Void) throws -> String {
        let altered = path(name)
        try FileManager.default.copyItem(atPath: good, toPath: altered)
        do { try change(try raw(altered)) }
        return altered
    }

    private func assertRefused(_ bundle: String, into target: Store, reason expected: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let dump = try contentDump(target.path)
        let error = storeError({ try target.importBundle(from: bundle) }, file: file, line: line)
        guard case let .refusedBundle(_, reason)? = error else {
            return XCTFail("not refused as a bundle: \(String(describing: error))", file: file, line: line)
        }
        XCTAssertEqual(reason, expected, file: file, line: line)
        XCTAssertEqual(try contentDump(target.path), dump, "the store changed", file: file, line: line)
    }

    func testNamesThatBreakTheRulesAreRenamedAndReported() throws {
        let lineage = try Lineage(path: path("origin.db"))
        let good = path("good.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.fork.id], to: good)
        // A hostile bundle plants an id-shaped name and a name with a newline and an '@'.
        let hostile = try altered(good, "hostile.fcbundle") { db in
            try db.execute("UPDATE runs SET name = 'deadbeef01' WHERE id = ?", [.text(lineage.base.id)])
            try db.execute("UPDATE runs SET name = ? WHERE id = ?", [.text("evil\nline@x"), .text(lineage.fork.id)])
        }
        let target = try Store(path: path("target.db"))
        _ = try target.createRun(name: "evil-line-x", config: "{}", seed: 1)
        let summary = try target.importBundle(from: hostile)
        XCTAssertEqual(summary.renamed, [
            .init(runID: lineage.base.id, bundleName: "deadbeef01", newName: "run-\(lineage.base.shortID)",
                  reason: "looks like a run id (8 or more hex digits)"),
            .init(runID: lineage.fork.id, bundleName: "evil\nline@x", newName: "evil-line-x-2",
                  reason: "contains a control character or line break"),
        ])
        XCTAssertEqual(try target.run(id: lineage.base.id).name, "run-\(lineage.base.shortID)")
        XCTAssertEqual(try target.resolveRun("evil-line-x-2").id, lineage.fork.id)
        XCTAssertEqual(try target.verify(), [])
    }

    func testARunWithNoUsableCheckpointIsRefused() throws {
        let lineage = try Lineage(path: path("origin.db"))
        let good = path("base.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.base.id], to: good)
        let target = try Store(path: path("target.db"))
        let pruned = try altered(good, "pruned.fcbundle") { db in
            try db.execute("UPDATE checkpoints SET pruned_at = '2026-01-01T00:00:00Z'")
        }
        try assertRefused(pruned, into: target,
                          reason: "its run \(lineage.base.shortID) has no usable checkpoint: all 4 of its checkpoints were pruned")
        let emptied = try altered(good, "emptied.fcbundle") { db in
            try db.execute("DELETE FROM metrics; DELETE FROM tensors; DELETE FROM checkpoints; DELETE FROM blobs")
        }
        try assertRefused(emptied, into: target,
                          reason: "its run \(lineage.base.shortID) has no checkpoint, so nothing of it could be loaded")
        // A fork whose own epochs were all pruned still sees its parent's kept fork point: usable.
        let forkBundle = path("fork.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.fork.id], to: forkBundle)
        let snapshot = try StoreSnapshot(raw(try altered(forkBundle, "fork-pruned.fcbundle") { db in
            try db.execute("UPDATE checkpoints SET pruned_at = '2026-01-01T00:00:00Z' WHERE run_id = ?", [.text(lineage.fork.id)])
        }))
        XCTAssertNil(snapshot.unusable(runID: lineage.fork.id))
        XCTAssertEqual(try target.importBundle(from: good).runsAdded, [lineage.base.id])
    }

    /// `NOT LIKE 'sqlite_%'` let any object named sqlite<any character>... pass unchecked.
    func testTheSchemaCheckTreatsUnderscoreLiterally() throws {
        let lineage = try Lineage(path: path("origin.db"))
        let good = path("good.fcbundle")
        _ = try lineage.store.exportBundle(runIDs: [lineage.base.id], to: good)
        let planted = try altered(good, "planted.fcbundle") { db in
            try db.execute("CREATE TABLE sqlitexevil (x); CREATE TRIGGER sqlitextrigger AFTER INSERT ON runs BEGIN DELETE FROM blobs; END")
        }
        try assertRefused(planted, into: try Store(path: path("target.db")),
                          reason: "it has an object sqlitexevil that fcstore's schema does not define")
    }
}
