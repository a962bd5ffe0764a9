@testable import FCFormats
import XCTest
@testable import FCStorage

/// The model signature in the model file formats, and npz's nested metadata.
final class SignatureFormatTests: XCTestCase {
    typealias F = FormatFixtures

    static let signature = ModelSignature(features: ["a", "b \"quoted\"", "ç"], featureCount: 3, label: "species",
                                          task: .classification, classes: ["0", "1"])

    func signed() throws -> ModelFile {
        var model = try F.randomModel([3, 4, 2])
        model.signature = Self.signature
        return model
    }

    func testSignatureRoundTripsThroughSafetensorsAndNPZ() throws {
        let model = try signed()
        XCTAssertEqual(try Safetensors.decode(Safetensors.encode(model)), model)
        XCTAssertEqual(try NPZ.decode(NPZ.encode(model)), model)
        var regression = try F.randomModel([2, 1], activations: ["identity"], loss: "mse")
        regression.signature = ModelSignature(features: nil, featureCount: 2, label: nil, task: .regression, target: "y")
        XCTAssertEqual(regression.signature?.matching, .position)
        XCTAssertEqual(try Safetensors.decode(Safetensors.encode(regression)), regression)
        XCTAssertEqual(try NPZ.decode(NPZ.encode(regression)), regression)
        XCTAssertEqual(Self.signature.json(),
                       #"{"classes":["0","1"],"feature_count":3,"features":["a","b \"quoted\"","ç"],"label":"species","matching":"name","task":"classification"}"#)
    }

    /// The npz metadata member is one JSON object: normalisation and signature nested.
    func testNPZMetadataNestsObjects() throws {
        let model = try signed()
        let members = try ZIP.readStored(NPZ.encode(model))
        let member = try XCTUnwrap(members.first { $0.name == "fcstore_metadata.npy" })
        let text = try NPY.decodeString(member.data)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let signature = try XCTUnwrap(object["fcstore.signature"] as? [String: Any], text)
        XCTAssertEqual(signature["features"] as? [String], ["a", "b \"quoted\"", "ç"])
        let normalization = try XCTUnwrap(object["fcstore.normalization"] as? [String: Any], text)
        XCTAssertEqual(normalization["kind"] as? String, "standard")
        XCTAssertEqual(object["fcstore.activations"] as? String, "sigmoid,softmax")
    }

    /// npz files of earlier versions hold the objects as JSON text in strings: still read.
    func testNPZReadsTheOlderStringForm() throws {
        let model = try signed()
        var members = model.namedTensors().map { (name: $0.name + ".npy", data: NPY.encode($0.tensor)) }
        members.append((name: "fcstore_metadata.npy", data: NPY.encodeString(JSONWriter.object(model.formatMetadata()))))
        let old = try ZIP.storedArchive(members)
        XCTAssertNotEqual(old, try NPZ.encode(model))
        XCTAssertEqual(try NPZ.decode(old), model)
    }

    func testInvalidSignaturesAreRefused() throws {
        var model = try signed()
        model.signature?.featureCount = 4
        XCTAssertThrowsError(try Safetensors.encode(model)) { error in
            XCTAssertEqual((error as? ModelFormatError)?.message, "The model's signature lists 4 features but the model has 3 inputs.")
        }
        model = try signed()
        model.signature?.classes = ["0", "1", "2"]
        XCTAssertThrowsError(try NPZ.encode(model)) { error in
            XCTAssertEqual((error as? ModelFormatError)?.message, "The model's signature lists 3 classes but the model has 2.")
        }
        // A file whose signature is not one: refused on reading.
        let encoded = try Safetensors.encode(try F.randomModel([3, 4, 2]))
        let headerLength = encoded.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        let header = String(decoding: encoded[8..<(8 + headerLength)], as: UTF8.self)
        let tampered = Array(header.replacingOccurrences(
            of: #""format":"fcstore""#, with: #""fcstore.signature":"{\"features\":1}","format":"fcstore""#).utf8)
        XCTAssertNotEqual(tampered.count, headerLength)
        let length = UInt64(tampered.count)
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + tampered + encoded[(8 + headerLength)...]
        XCTAssertThrowsError(try Safetensors.decode(bytes)) { error in
            XCTAssertTrue((error as? ModelFormatError)?.message.hasPrefix("The \"fcstore.signature\" metadata is not a model signature") == true, "\(error)")
        }
    }

    func testASignatureWithADuplicateKeyIsRefusedLikeEveryOtherJSON() throws {
        let text = try signed().signature?.json() ?? ""
        XCTAssertNoThrow(try ModelSignature.decode(text, format: .safetensors))
        let duplicated = text.replacingOccurrences(of: #""feature_count":3"#, with: #""feature_count":3,"feature_count":3"#)
        XCTAssertNotEqual(duplicated, text)
        XCTAssertThrowsError(try ModelSignature.decode(duplicated, format: .safetensors)) { error in
            XCTAssertEqual((error as? ModelFormatError)?.format, .safetensors)
            XCTAssertTrue((error as? ModelFormatError)?.message.hasPrefix("The \"fcstore.signature\" metadata is not a model signature") == true, "\(error)")
        }
    }
}
