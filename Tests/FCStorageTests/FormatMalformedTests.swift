import FCCore
@testable import FCFormats
import XCTest
@testable import FCStorage

/// A corpus of malformed files: each must be refused with a specific sentence.
final class FormatMalformedTests: XCTestCase {
    typealias F = FormatFixtures

    /// A valid 2-1 model's tensor entries and data, for splicing into bad headers.
    static let meta = #""__metadata__":{"fcstore.activations":"identity"}"#
    static let w = #""layers.1.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}"#
    static let b = #""layers.1.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}"#
    static let data = FormatFixtures.floats([1, 2, 3])

    func testSafetensorsCorpus() throws {
        let (meta, w, b, data) = (Self.meta, Self.w, Self.b, Self.data)
        // Sanity: the pieces make a valid file.
        XCTAssertEqual(try Safetensors.decode(F.safetensors("{\(meta),\(w),\(b)}", data: data)).architecture, [2, 1])

        let cases: [(name: String, fragment: String, bytes: [UInt8])] = [
            ("empty file", "0 bytes long", []),
            ("truncated length", "5 bytes long", [1, 2, 3, 4, 5]),
            ("header length over 100 MB (big-endian length)", "larger than the limit of 100000000", [0, 0, 0, 0, 0, 0, 0, 0x40] + Array("{}      ".utf8)),
            ("header length larger than file", "larger than the 8 bytes that follow it", littleEndianBytes(UInt64(64)) + Array("{}      ".utf8)),
            ("invalid UTF-8", "not valid UTF-8", F.safetensors("{\"__metadata__\":{\"a\":\"\u{FF}\"}}").map { $0 == 0xC3 ? 0xFF : $0 }),
            ("invalid JSON", "not valid JSON", F.safetensors("{\"a\":")),
            ("NUL padding", "trailing characters", littleEndianBytes(UInt64(8)) + Array("{}".utf8) + [0, 0, 0, 0, 0, 0]),
            ("top-level array", "is an array, not a JSON object", F.safetensors("[]")),
            ("non-string metadata", "metadata values must be strings", F.safetensors(#"{"__metadata__":{"epoch":3}}"#)),
            ("duplicate tensor names", "duplicate key \"layers.1.weight\"", F.safetensors("{\(meta),\(w),\(w),\(b)}", data: data)),
            ("duplicate __metadata__", "duplicate key \"__metadata__\"", F.safetensors("{\(meta),\(meta),\(w),\(b)}", data: data)),
            ("offsets past EOF", "the data section has only 12 bytes", F.safetensors("{\(meta),\(w),\(b.replacingOccurrences(of: "[8,12]", with: "[8,16]"))}", data: data)),
            ("overlapping offsets", "overlaps", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[0,8]", with: "[4,12]")),\(b.replacingOccurrences(of: "[8,12]", with: "[0,4]")),\(#""pad":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}"#)}", data: data)),
            ("gap between tensors", "gap of 4 bytes", F.safetensors("{\(meta),\(w),\(b.replacingOccurrences(of: "[8,12]", with: "[12,16]"))}", data: data + [0, 0, 0, 0])),
            ("first tensor not at 0", "gap of 4 bytes before tensor \"layers.1.weight\" at data byte 0", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[0,8]", with: "[4,12]")),\(b.replacingOccurrences(of: "[8,12]", with: "[12,16]"))}", data: data + [0, 0, 0, 0])),
            ("trailing bytes", "4 trailing bytes", F.safetensors("{\(meta),\(w),\(b)}", data: data + [9, 9, 9, 9])),
            ("shape overflow [2^40, 2^40]", "too large", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[1,2]", with: "[1099511627776,1099511627776]")),\(b)}", data: data)),
            ("negative dimension", "holds the number -1; it must hold non-negative integers", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[1,2]", with: "[-1,2]")),\(b)}", data: data)),
            ("fractional dimension", "holds the number 2.0", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[1,2]", with: "[1,2.0]")),\(b)}", data: data)),
            ("offset beyond Int", "holds the number 99999999999999999999", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[0,8]", with: "[0,99999999999999999999]")),\(b)}", data: data)),
            ("unsupported dtype", "has dtype I64; fcstore reads F32", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "F32", with: "I64")),\(b)}", data: data)),
            ("lower-case dtype", "unknown dtype \"f32\"", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "F32", with: "f32")),\(b)}", data: data)),
            ("size does not match shape", "take 12 bytes, but its data_offsets [0, 8] span 8 bytes", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[1,2]", with: "[1,3]")),\(b)}", data: data)),
            ("end before begin", "end before they begin", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[0,8]", with: "[8,0]")),\(b)}", data: data)),
            ("three offsets", "they must be [begin, end]", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[0,8]", with: "[0,4,8]")),\(b)}", data: data)),
            ("missing activations metadata", "has no \"fcstore.activations\" metadata; add it", F.safetensors("{\(w),\(b)}", data: data)),
            ("activation count mismatch", "names 2 activations but the file has 1 layers", F.safetensors("{\(meta.replacingOccurrences(of: "identity", with: "relu,relu")),\(w),\(b)}", data: data)),
            ("unknown activation", "unknown activation \"gelu\"", F.safetensors("{\(meta.replacingOccurrences(of: "identity", with: "gelu")),\(w),\(b)}", data: data)),
            ("PyTorch names", "holds a tensor named \"0.weight\"", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "layers.1", with: "0")),\(b)}", data: data)),
            ("weight without bias", "has no tensor \"layers.1.bias\"", F.safetensors("{\(meta),\(w.replacingOccurrences(of: "[0,8]", with: "[0,12]").replacingOccurrences(of: "[1,2]", with: "[1,3]"))}", data: data)),
            ("architecture mismatch", "says \"3-1\" but the tensors give \"2-1\"", F.safetensors("{\(meta.replacingOccurrences(of: "}", with: ",\"fcstore.architecture\":\"3-1\"}")),\(w),\(b)}", data: data)),
            ("bad normalisation JSON", "\"fcstore.normalization\" metadata is not valid", F.safetensors("{\(meta.replacingOccurrences(of: "}", with: ",\"fcstore.normalization\":\"{\\\"kind\\\":1}\"}")),\(w),\(b)}", data: data)),
            ("deep nesting", "nesting deeper than 64", F.safetensors("{\"x\":" + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}")),
            ("tensor entry not an object", "is a string, not an object", F.safetensors(#"{"layers.1.weight":"F32"}"#)),
            ("unpaired surrogate", "unpaired surrogate", F.safetensors(#"{"__metadata__":{"a":"\ud800"}}"#)),
        ]
        for (name, fragment, bytes) in cases {
            assertRefuses(fragment, name) { try Safetensors.decode(bytes) }
        }
        XCTAssertGreaterThanOrEqual(cases.count, 30)
    }

    func testSafetensorsModelShapeErrors() throws {
        // layers 1 and 3 only.
        let l3w = #""layers.3.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[12,16]}"#
        let l3b = #""layers.3.bias":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}"#
        assertRefuses("no tensors for layer 2 (it has layers 1, 3)", "layers 1 and 3") {
            try Safetensors.decode(F.safetensors("{\(Self.meta.replacingOccurrences(of: "identity", with: "relu,relu")),\(Self.w),\(Self.b),\(l3w),\(l3b)}", data: Self.data + F.floats([4, 5])))
        }
        // Layer 2's weight has 3 columns but layer 1 has 1 neuron.
        let l2w = #""layers.2.weight":{"dtype":"F32","shape":[1,3],"data_offsets":[12,24]}"#
        let l2b = #""layers.2.bias":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}"#
        assertRefuses("has 3 columns but layer 1 has 1 neurons", "weight chain") {
            try Safetensors.decode(F.safetensors("{\(Self.meta.replacingOccurrences(of: "identity", with: "relu,relu")),\(Self.w),\(Self.b),\(l2w),\(l2b)}", data: Self.data + F.floats([4, 5, 6, 7])))
        }
        // Bias of the wrong length.
        let bias2 = #""layers.1.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}"#
        assertRefuses("bias of layer 1 has shape [2]", "bias shape") {
            try Safetensors.decode(F.safetensors("{\(Self.meta),\(Self.w),\(bias2)}", data: F.floats([1, 2, 3, 4])))
        }
    }

    func testNPZCorpus() throws {
        let model = try F.randomModel([2, 3, 2])
        let valid = try NPZ.encode(model)
        let weight = NPY.encode(model.layers[0].weight)
        let metadataMember = (name: "fcstore_metadata.npy", data: NPY.encodeString(#"{"fcstore.activations":"identity"}"#))
        func archive(_ members: [(String, [UInt8])]) throws -> [UInt8] { try ZIP.storedArchive(members.map { (name: $0.0, data: $0.1) }) }
        func oneLayer(weight: [UInt8]) throws -> [UInt8] {
            try archive([("layers.1.weight.npy", weight), ("layers.1.bias.npy", NPY.encode(try TensorValue(shape: [1], values: [0]))), (metadataMember.name, metadataMember.data)])
        }
        func patched(_ bytes: [UInt8], at offset: Int, _ values: [UInt8]) -> [UInt8] {
            var copy = bytes
            copy.replaceSubrange(offset..<(offset + values.count), with: values)
            return copy
        }
        let centralStart = Int(readUInt32LE(valid, at: valid.count - 22 + 16))
        let firstDataStart = 30 + "layers.1.weight.npy".utf8.count
        let fw = [Float(1), 2]

        // Two members sharing bytes: member "b.npy" lives inside member "a.npy"'s data.
        let inner = try archive([("b.npy", NPY.encode(try TensorValue(shape: [1], values: [1])))])
        let innerCentralStart = Int(readUInt32LE(inner, at: inner.count - 22 + 16))
        let outer = try archive([("a.npy", Array(inner[0..<innerCentralStart]))])
        let outerCentralStart = Int(readUInt32LE(outer, at: outer.count - 22 + 16))
        let movedCentral = patched(Array(inner[innerCentralStart..<(inner.count - 22)]), at: 42, littleEndianBytes(UInt32(30 + 5)))
        let central = Array(outer[outerCentralStart..<(outer.count - 22)]) + movedCentral
        let overlapping = Array(outer[0..<outerCentralStart]) + central + littleEndianBytes(ZIP.endSignature) + [0, 0, 0, 0, 2, 0, 2, 0]
            + littleEndianBytes(UInt32(central.count)) + littleEndianBytes(UInt32(outerCentralStart)) + [0, 0]

        let cases: [(name: String, fragment: String, bytes: [UInt8])] = [
            ("empty file", "The file is empty", []),
            ("garbage bytes", "no ZIP end-of-central-directory record", Array(repeating: 0x41, count: 300)),
            ("truncated archive", "no ZIP end-of-central-directory record", Array(valid.dropLast(5))),
            ("bad CRC", "fails its CRC-32 check", patched(valid, at: firstDataStart + 130, [0x55])),
            ("central directory past EOF", "lies outside the file", patched(valid, at: valid.count - 22 + 16, littleEndianBytes(UInt32(0x7FFF_FFFF)))),
            ("local header offset past EOF", "outside the file's member area", patched(valid, at: centralStart + 42, littleEndianBytes(UInt32(0x7FFF_FFF0)))),
            ("member size runs into the central directory", "runs past the member area", patched(patched(valid, at: centralStart + 20, littleEndianBytes(UInt32(0x10_0000))), at: centralStart + 24, littleEndianBytes(UInt32(0x10_0000)))),
            ("deflated member", "is deflated", patched(valid, at: centralStart + 10, [8, 0])),
            ("encrypted member", "is encrypted", patched(valid, at: centralStart + 8, [1, 0])),
            ("too many members claimed", "more than the limit of 10000", patched(patched(valid, at: valid.count - 22 + 8, [0x10, 0x27 + 1]), at: valid.count - 22 + 10, [0x10, 0x27 + 1])),
            ("duplicate members", "two members named \"layers.1.weight.npy\"", try archive([("layers.1.weight.npy", weight), ("layers.1.weight.npy", weight)])),
            ("overlapping members", "overlap", overlapping),
            ("member that is not .npy", "every member of an npz file is an .npy array", try archive([("readme.txt", [1, 2, 3])])),
            ("bad .npy magic", "does not start with the .npy magic", try oneLayer(weight: [0x93] + Array("NUMPX".utf8) + Array(weight.dropFirst(6)))),
            ("fortran_order True", "Fortran (column-major) order", try oneLayer(weight: F.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", data: F.floats(fw)))),
            ("big-endian '>f4'", "big-endian ('>f4')", try oneLayer(weight: F.npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", data: F.floats(fw)))),
            ("integer dtype", "dtype '<i8'", try oneLayer(weight: F.npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }", data: F.floats(fw + fw)))),
            ("object dtype (pickle)", "dtype '|O'", try oneLayer(weight: F.npy("{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }", data: F.floats(fw + fw)))),
            ("header over 10,000 bytes", "more than the limit of 10000", try oneLayer(weight: F.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }" + String(repeating: " ", count: 10_000), data: F.floats(fw)))),
            ("truncated .npy data", "needs 24 bytes but only 20 follow", try oneLayer(weight: Array(weight.dropLast(4)))),
            ("trailing .npy bytes", "4 trailing bytes after the array data", try oneLayer(weight: weight + [0, 0, 0, 0])),
            ("duplicate .npy header key", "duplicate key 'descr'", try oneLayer(weight: F.npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", data: F.floats(fw)))),
            ("negative .npy dimension", "negative dimension -1", try oneLayer(weight: F.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }", data: F.floats(fw)))),
            ("missing .npy key", "exactly descr, fortran_order and shape", try oneLayer(weight: F.npy("{'descr': '<f4', 'shape': (1, 2), }", data: F.floats(fw)))),
            ("shape (2) is not a tuple", "not a tuple", try oneLayer(weight: F.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", data: F.floats(fw)))),
            ("shape overflow", "too large", try oneLayer(weight: F.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", data: F.floats(fw)))),
            ("missing metadata member", "has no fcstore_metadata array", try archive([("layers.1.weight.npy", weight)])),
            ("metadata not an object", "is not a JSON object of strings: it is an array", try archive([(metadataMember.name, NPY.encodeString("[]"))])),
            ("metadata with a number value", "the value for \"epoch\" is a number", try archive([(metadataMember.name, NPY.encodeString(#"{"epoch":3}"#))])),
            ("weight chain mismatch", "columns but layer 1 has", try archive([
                ("layers.1.weight.npy", weight), ("layers.1.bias.npy", NPY.encode(model.layers[0].bias)),
                ("layers.2.weight.npy", weight), ("layers.2.bias.npy", NPY.encode(model.layers[0].bias)),
                (metadataMember.name, NPY.encodeString(#"{"fcstore.activations":"relu,relu"}"#))])),
        ]
        for (name, fragment, bytes) in cases {
            assertRefuses(fragment, name) { try NPZ.decode(bytes) }
        }
        XCTAssertGreaterThanOrEqual(cases.count, 25)
    }
}
