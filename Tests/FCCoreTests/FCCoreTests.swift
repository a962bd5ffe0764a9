import FCCore
import Foundation
import XCTest

final class TensorNameTests: XCTestCase {
    func testNamesAndRoles() {
        XCTAssertEqual(TensorName.weight(layer: 1), "layers.1.weight")
        XCTAssertEqual(TensorName.bias(layer: 12), "layers.12.bias")
        XCTAssertEqual(TensorName.name(layer: 2, role: TensorRole.slot("m", of: TensorRole.bias)), "layers.2.bias.m")
        XCTAssertEqual(TensorRole.parameters, ["weight", "bias"])
        XCTAssertEqual([TensorRole.normalizeShift, TensorRole.normalizeScale], ["normalize.shift", "normalize.scale"])
    }

    func testModelFileNamesParseStrictly() {
        XCTAssertEqual(TensorName.parseParameter("layers.3.weight")?.layer, 3)
        XCTAssertEqual(TensorName.parseParameter("layers.123456789.bias")?.role, "bias")
        for name in ["layers.0.weight", "layers.01.bias", "layers.1234567890.weight", "layers.1.weight.m", "layers.1.Weight",
                     "layers..bias", "layer.1.bias", "layers.+1.bias", "layers.١.bias", "layers.1.bias."] {
            XCTAssertNil(TensorName.parseParameter(name), name)
        }
        XCTAssertEqual(TensorRole.parse("weight.velocity")?.slot, "velocity")
        XCTAssertNil(TensorRole.parse("normalize.shift"))
        XCTAssertNil(TensorRole.parse("weight."))
    }

    func testActivationAndLossNamesAreTheFileVocabulary() {
        XCTAssertEqual(Activation.allCases.map(\.rawValue), ["sigmoid", "tanh", "relu", "leaky-relu", "identity", "softmax"])
        XCTAssertEqual(Loss.allCases.map(\.rawValue), ["mse", "cross-entropy", "binary-cross-entropy"])
    }
}

final class AtomicFileTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fccore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(atPath: folder) }

    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }

    func testWriteReplacesOnlyWhenAllowedAndLeavesNoTemporaryFile() throws {
        let path = folder + "/model.bin"
        try AtomicFile.write([1, 2, 3] as [UInt8], to: path, replace: false)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data([1, 2, 3]))
        XCTAssertThrowsError(try AtomicFile.write([9] as [UInt8], to: path, replace: false)) { error in
            XCTAssertEqual(error as? AtomicFileError, .exists(path: path))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data([1, 2, 3]))
        try AtomicFile.write([9] as [UInt8], to: path, replace: true)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data([9]))
        XCTAssertEqual(try contents(), ["model.bin"])
    }

    func testRefusalsSayWhy() throws {
        XCTAssertThrowsError(try AtomicFile.write([1] as [UInt8], to: folder, replace: true)) { error in
            XCTAssertEqual(error as? AtomicFileError, .isFolder(path: folder))
        }
        let missing = folder + "/nope/model.bin"
        XCTAssertThrowsError(try AtomicFile.write([1] as [UInt8], to: missing, replace: true)) { error in
            XCTAssertEqual(error as? AtomicFileError, .folderMissing(path: missing, folder: folder + "/nope"))
        }
        XCTAssertEqual(try contents(), [])
    }

    func testPublishMovesAFinishedTemporaryFileIntoPlace() throws {
        let path = folder + "/bundle.db"
        let temporary = AtomicFile.temporaryPath(for: path)
        XCTAssertTrue(temporary.hasPrefix(folder + "/.bundle.db.") && temporary.hasSuffix(".partial"), temporary)
        XCTAssertTrue(FileManager.default.createFile(atPath: temporary, contents: Data("abc".utf8)))
        try AtomicFile.publish(temporary, as: path, replace: false)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "abc")
        XCTAssertEqual(try contents(), ["bundle.db"])
        // Without replace, a second publish is refused and its temporary file removed.
        let second = AtomicFile.temporaryPath(for: path)
        XCTAssertTrue(FileManager.default.createFile(atPath: second, contents: Data("xyz".utf8)))
        XCTAssertThrowsError(try AtomicFile.publish(second, as: path, replace: false)) { error in
            XCTAssertEqual(error as? AtomicFileError, .exists(path: path))
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "abc")
        XCTAssertEqual(try contents(), ["bundle.db"])
    }
}

final class KeyCaseTests: XCTestCase {
    func testCamelCaseKeysBecomeSnakeCaseAndSnakeCaseStays() {
        XCTAssertEqual(KeyCase.snakeCase("learningRate"), "learning_rate")
        XCTAssertEqual(KeyCase.snakeCase("blasCore"), "blas_core")
        XCTAssertEqual(KeyCase.snakeCase("kernelsISA"), "kernels_i_s_a")
        XCTAssertEqual(KeyCase.snakeCase("batch_size"), "batch_size")
        XCTAssertEqual(KeyCase.snakeCase("already_Snake"), "already_snake")
        XCTAssertEqual(KeyCase.snakeCase("Leading"), "leading")
        XCTAssertEqual(KeyCase.snakeCase(""), "")
    }
}
