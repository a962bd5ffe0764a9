import FCCore
@testable import FCFormats
import XCTest
@testable import FCStorage

final class FormatRoundTripTests: XCTestCase {
    func testSafetensorsRoundTripsRandomShapes() throws {
        var random = SplitMix64(seed: 42)
        for trial in 0..<40 {
            let depth = Int.random(in: 1...4, using: &random)
            let sizes = (0...depth).map { _ in Int.random(in: 1...9, using: &random) }
            let activations = try (0..<depth).map { _ in try XCTUnwrap(ModelFile.activations.randomElement(using: &random)) }
            let model = try FormatFixtures.randomModel(sizes, activations: activations, normalization: trial % 2 == 0,
                                                   loss: trial % 3 == 0 ? nil : "mse",
                                                   metadata: trial % 5 == 0 ? [:] : ["run": "r\(trial)", "note": "quote \" and é"], seed: UInt64(trial))
            let bytes = try Safetensors.encode(model)
            XCTAssertEqual(try Safetensors.decode(bytes), model, "trial \(trial), sizes \(sizes)")
            XCTAssertEqual(try Safetensors.encode(model), bytes, "deterministic bytes")
            XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
            XCTAssertEqual((8 + Int(readUInt64LE(bytes, at: 0))) % 8, 0)
        }
    }

    func testNPZRoundTripsRandomShapes() throws {
        var random = SplitMix64(seed: 7)
        for trial in 0..<40 {
            let depth = Int.random(in: 1...4, using: &random)
            let sizes = (0...depth).map { _ in Int.random(in: 1...9, using: &random) }
            let model = try FormatFixtures.randomModel(sizes, normalization: trial % 2 == 1, seed: UInt64(trial))
            let bytes = try NPZ.encode(model)
            XCTAssertEqual(try NPZ.decode(bytes), model, "trial \(trial), sizes \(sizes)")
            XCTAssertEqual(try NPZ.encode(model), bytes, "deterministic bytes")
        }
    }

    func testNormalizationFloatsRoundTripExactly() throws {
        let awkward: [Float] = [0.1, 1e-7, -3.4028235e38, Float.leastNormalMagnitude, Float.leastNonzeroMagnitude, 123456.79, -0.0, 1 / 3]
        var model = try FormatFixtures.randomModel([awkward.count, 2], activations: ["identity"])
        model.normalization = .init(kind: "minmax", shift: awkward, scale: awkward.reversed())
        XCTAssertEqual(try Safetensors.decode(Safetensors.encode(model)).normalization, model.normalization)
        XCTAssertEqual(try NPZ.decode(NPZ.encode(model)).normalization, model.normalization)
    }

    /// The header layout of the reference notes: u64 length, JSON starting with `{`,
    /// `__metadata__` first with sorted keys, tensors in layer order, space padding.
    func testSafetensorsGoldenBytes() throws {
        let model = ModelFile(layers: [
            .init(weight: try TensorValue(shape: [2, 1], values: [0.5, -1]), bias: try TensorValue(shape: [2], values: [0, 2]), activation: "relu"),
        ], metadata: ["run": "abc"])
        let bytes = try Safetensors.encode(model)
        let header = #"{"__metadata__":{"fcstore.activations":"relu","fcstore.architecture":"1-2","format":"fcstore","run":"abc"},"#
            + #""layers.1.weight":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"#
            + #""layers.1.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        let padded = Array(header.utf8) + [UInt8](repeating: 0x20, count: (8 - header.utf8.count % 8) % 8)
        XCTAssertEqual(Array(bytes[0..<8]), littleEndianBytes(UInt64(padded.count)))
        XCTAssertEqual(String(decoding: bytes[8..<(8 + padded.count)], as: UTF8.self), String(decoding: padded, as: UTF8.self))
        XCTAssertEqual(Array(bytes[(8 + padded.count)...]),
                       [0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x80, 0xBF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40])
    }

    /// numpy's header for a float32 3×2 array (reference notes §3).
    func testNPYGoldenHeader() throws {
        let bytes = NPY.encode(try TensorValue(shape: [3, 2], values: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(Array(bytes[0..<10]), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00])
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"
        XCTAssertEqual(String(decoding: bytes[10..<(10 + dict.utf8.count)], as: UTF8.self), dict)
        XCTAssertEqual(bytes[127], 0x0A)
        XCTAssertTrue(bytes[(10 + dict.utf8.count)..<127].allSatisfy { $0 == 0x20 })
        XCTAssertEqual(bytes.count, 128 + 24)
        XCTAssertEqual(try NPY.decode(bytes[...]).values, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(NPY.header(descr: "<f4", shape: [7]).count % 64, 0)
        XCTAssertEqual(try NPY.decodeString(NPY.encodeString("{\"a\":\"é😀\"}")[...]), "{\"a\":\"é😀\"}")
    }

    func testCRC32CheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
    }

    /// Byte sequences onnx.helper produces for the same graph (reference notes §2).
    func testONNXGoldenFragments() throws {
        let model = try FormatFixtures.randomModel([4, 3, 2], activations: ["sigmoid", "softmax"], normalization: false)
        let bytes = try ONNX.encode(model)
        XCTAssertEqual(Array(bytes[0..<11]), [0x08, 0x08, 0x12, 0x07] + Array("fcstore".utf8))
        func contains(_ fragment: [UInt8]) -> Bool {
            fragment.count <= bytes.count && (0...(bytes.count - fragment.count)).contains { bytes[$0..<($0 + fragment.count)].elementsEqual(fragment) }
        }
        let a = { (s: String) in Array(s.utf8) }
        let firstNode: [UInt8] = [0x0A, 0x29, 0x0A, 0x01] + a("x") + [0x0A, 0x02] + a("W1") + [0x0A, 0x02] + a("b1")
            + [0x12, 0x02] + a("z1") + [0x1A, 0x03] + a("fc1") + [0x22, 0x04] + a("Gemm")
            + [0x2A, 0x0D, 0x0A, 0x06] + a("transB") + [0x18, 0x01, 0xA0, 0x01, 0x02]
        XCTAssertTrue(contains(firstNode), "Gemm node")
        XCTAssertTrue(contains([0x2A, 0x3C, 0x08, 0x03, 0x08, 0x04, 0x10, 0x01, 0x42, 0x02] + a("W1") + [0x4A, 0x30]), "W1 initializer")
        XCTAssertTrue(contains([0x5A, 0x14, 0x0A, 0x01] + a("x") + [0x12, 0x0F, 0x0A, 0x0D, 0x08, 0x01, 0x12, 0x09, 0x0A, 0x03, 0x12, 0x01] + a("N") + [0x0A, 0x02, 0x08, 0x04]), "input x")
        XCTAssertTrue(contains([0x42, 0x04, 0x0A, 0x00, 0x10, 0x0D]), "opset 13")
        // Softmax axis = -1 is a ten-byte varint.
        XCTAssertTrue(contains([0x0A, 0x04] + a("axis") + [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0xA0, 0x01, 0x02]), "axis")
        XCTAssertEqual(try ONNX.encode(model), bytes, "deterministic bytes")
    }

    func testValidateRefusesBrokenModels() throws {
        let good = try FormatFixtures.randomModel([3, 4, 2])
        var model = good
        model.layers = []
        assertRefuses("no layers") { try model.validate() }
        model = good; model.layers[1].weight = try TensorValue(shape: [2, 5], values: Array(repeating: 0, count: 10))
        assertRefuses("has 5 columns but layer 1 has 4 neurons") { try model.validate() }
        model = good; model.layers[0].bias = try TensorValue(shape: [3], values: [0, 0, 0])
        assertRefuses("The bias of layer 1 has shape [3]") { try model.validate() }
        model = good; model.layers[0].activation = "gelu"
        assertRefuses("unknown activation \"gelu\"") { try model.validate() }
        model = good; model.loss = "hinge"
        assertRefuses("The loss \"hinge\" is unknown") { try model.validate() }
        model = good; model.normalization?.shift = [1]
        assertRefuses("1 shift and 3 scale values but the model has 3 inputs") { try model.validate() }
        model = good; model.normalization?.scale[0] = .nan
        assertRefuses("not finite") { try model.validate() }
        model = good; model.metadata["fcstore.loss"] = "x"
        assertRefuses("reserved") { try model.validate() }
        model = good; model.layers[0].weight = try TensorValue(shape: [4, 0], values: [])
        assertRefuses("at least one neuron") { try model.validate() }
        model = good; model.metadata["format"] = "pt"
        assertRefuses("reserved") { try Safetensors.encode(model) }
        assertRefuses("reserved") { try NPZ.encode(model) }
        assertRefuses("reserved") { try ONNX.encode(model) }
    }

    func testReadsOtherDTypesAsFloat32() throws {
        // layers.1.weight as F64, layers.1.bias as F16 and BF16 variants.
        let weight: [Double] = [0.5, -2, 1.0 / 3]
        let weightBytes = weight.flatMap { littleEndianBytes($0.bitPattern) }
        let half: [UInt16] = [0x3C00, 0xC000, 0x0001] // 1, -2, smallest subnormal 2^-24
        let bf16: [UInt16] = [0x3F80, 0xC000, 0x7F80] // 1, -2, +inf
        for (dtype, raw, expected) in [("F16", half, [Float(1), -2, 0x1p-24]), ("BF16", bf16, [Float(1), -2, .infinity])] {
            let header = #"{"__metadata__":{"fcstore.activations":"identity"},"layers.1.weight":{"dtype":"F64","shape":[3,1],"data_offsets":[0,24]},"layers.1.bias":{"dtype":""# + dtype + #"","shape":[3],"data_offsets":[24,30]}}"#
            let file = FormatFixtures.safetensors(header, data: weightBytes + raw.flatMap { littleEndianBytes($0) })
            let model = try Safetensors.decode(file)
            XCTAssertEqual(model.layers[0].weight.values, weight.map(Float.init))
            XCTAssertEqual(model.layers[0].bias.values, expected, dtype)
        }
    }

    /// ZIP64 everywhere: local and central extra fields (sizes and offset
    /// 0xFFFFFFFF), a ZIP64 end record and locator, as large numpy archives have.
    func testReadsZIP64Archives() throws {
        let model = try FormatFixtures.randomModel([3, 4, 2], seed: 5)
        let members = try ZIP.readStored(NPZ.encode(model))
        var archive: [UInt8] = [], central: [UInt8] = []
        let dosDate: UInt16 = 0x21
        for member in members {
            let name = Array(member.name.utf8), size = UInt64(member.data.count), offset = UInt64(archive.count)
            let crc = CRC32.checksum(member.data)
            let common = littleEndianBytes(UInt16(45)) + littleEndianBytes(UInt16(0)) + littleEndianBytes(UInt16(0))
                + littleEndianBytes(UInt16(0)) + littleEndianBytes(dosDate) + littleEndianBytes(crc)
                + littleEndianBytes(UInt32.max) + littleEndianBytes(UInt32.max) + littleEndianBytes(UInt16(name.count))
            archive += littleEndianBytes(ZIP.localSignature) + common + littleEndianBytes(UInt16(20)) + name
                + [1, 0, 16, 0] + littleEndianBytes(size) + littleEndianBytes(size) + Array(member.data)
            central += littleEndianBytes(ZIP.centralSignature) + littleEndianBytes(UInt16(45)) + common + littleEndianBytes(UInt16(28))
                + [UInt8](repeating: 0, count: 10) + littleEndianBytes(UInt32.max) + name
                + [1, 0, 24, 0] + littleEndianBytes(size) + littleEndianBytes(size) + littleEndianBytes(offset)
        }
        let centralOffset = UInt64(archive.count), count = UInt64(members.count)
        archive += central
        let record = UInt64(archive.count)
        archive += littleEndianBytes(ZIP.zip64EndSignature) + littleEndianBytes(UInt64(44)) + littleEndianBytes(UInt16(45)) + littleEndianBytes(UInt16(45))
            + littleEndianBytes(UInt32(0)) + littleEndianBytes(UInt32(0)) + littleEndianBytes(count) + littleEndianBytes(count)
            + littleEndianBytes(UInt64(central.count)) + littleEndianBytes(centralOffset)
        archive += littleEndianBytes(ZIP.zip64LocatorSignature) + littleEndianBytes(UInt32(0)) + littleEndianBytes(record) + littleEndianBytes(UInt32(1))
        archive += littleEndianBytes(ZIP.endSignature) + [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
            + littleEndianBytes(UInt32.max) + littleEndianBytes(UInt32.max) + [0, 0]
        XCTAssertEqual(try NPZ.decode(archive), model)

        var missingLocator = archive
        missingLocator[missingLocator.count - 22 - 20] = 0
        assertRefuses("no ZIP64 locator") { try NPZ.decode(missingLocator) }
    }
}
