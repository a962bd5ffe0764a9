import Foundation
import XCTest
@testable import FCStorage

/// The hostile-numbers corpus for model files: the numbers at the edges in the shapes and
/// data offsets of a safetensors header, the shapes of the .npy members of an npz, and
/// the architecture of a JSON model. Each file is a real export with one number changed;
/// `import` must refuse it with exit 1 and one line naming what is wrong, and leave the
/// store as it was.
final class HostileModelFileTests: XCTestCase {
    private var workspace: Workspace!
    private var root = ""

    /// The edges as JSON (or Python literal) text; NaN is not JSON, which a reader must refuse too.
    private let values = HostileNumbers.jsonEdges.map(\.json) + ["NaN"]

    override func setUpWithError() throws {
        workspace = try Workspace()
        (root, _) = try HostileNumbers.makeStore(in: workspace)
    }

    override func tearDown() {
        workspace = nil
    }

    private func export(_ format: String) throws -> [UInt8] {
        let path = workspace.path("model.\(format)")
        try workspace.ok(["export", root, "--format", format, "--output", path, "--force"])
        return [UInt8](try workspace.bytes("model.\(format)"))
    }

    /// Imports `bytes` and checks the refusal contract and that the store did not change.
    private func assertRefused(_ bytes: [UInt8], _ label: String, names: [String],
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let path = workspace.path("hostile.model")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let before = try Reliability.fingerprint(workspace.store, in: workspace.directory)
        let outcome = try Reliability.run(["import", path], in: workspace.directory)
        HostileNumbers.check(outcome, label, mustRefuse: true, names: names, file: file, line: line)
        XCTAssertEqual(try Reliability.fingerprint(workspace.store, in: workspace.directory), before,
                       "\(label): the store changed", file: file, line: line)
    }

    func testSafetensorsShapesAndOffsets() throws {
        let original = try export("safetensors")
        let length = Int(original[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let header = String(decoding: original[8..<(8 + length)], as: UTF8.self)
        let data = Array(original[(8 + length)...])
        let entry = #""layers.1.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}"#
        XCTAssertTrue(header.contains(entry), "the export's header: \(header.prefix(400))")
        // The control: the file rebuilt from its parts imports.
        let control = workspace.path("control.safetensors")
        try Data(withUnsafeBytes(of: UInt64(length).littleEndian, Array.init) + Array(header.utf8) + data)
            .write(to: URL(fileURLWithPath: control))
        try workspace.ok(["import", control])
        for value in values {
            for (label, replacement) in [
                ("shape[0]", #""layers.1.weight":{"dtype":"F32","shape":[\#(value),4],"data_offsets":[0,48]}"#),
                ("shape[1]", #""layers.1.weight":{"dtype":"F32","shape":[3,\#(value)],"data_offsets":[0,48]}"#),
                ("data_offsets[0]", #""layers.1.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[\#(value),48]}"#),
                ("data_offsets[1]", #""layers.1.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,\#(value)]}"#),
            ] where replacement != entry {
                let text = Array(header.replacingOccurrences(of: entry, with: replacement).utf8)
                var bytes = withUnsafeBytes(of: UInt64(text.count).littleEndian, Array.init)
                bytes += text + data
                try assertRefused(bytes, "safetensors \(label) = \(value)", names: ["layers.1.weight", "shape", "offset", "header"])
            }
        }
        // The 8-byte header length itself: larger than the file, and at the edges.
        for declared: UInt64 in [0, UInt64(Int32.max) + 1, 1 << 32, UInt64(Int64.max), UInt64.max] {
            var bytes = withUnsafeBytes(of: declared.littleEndian, Array.init)
            bytes += original[8...]
            try assertRefused(bytes, "safetensors header length = \(declared)", names: ["header length", "header"])
        }
    }

    func testNPYShapesInsideAnNPZ() throws {
        let members = try StoredZIP.read(export("npz"))
        let name = "layers.1.weight.npy"
        let weight = try XCTUnwrap(members.first { $0.name == name }?.data)
        XCTAssertEqual(Array(weight.prefix(6)), [0x93] + Array("NUMPY".utf8))
        let headerLength = Int(weight[8]) | Int(weight[9]) << 8
        let body = Array(weight[(10 + headerLength)...])
        // The control: the archive rewritten unchanged imports.
        let control = workspace.path("control.npz")
        try Data(StoredZIP.write(members)).write(to: URL(fileURLWithPath: control))
        try workspace.ok(["import", control])
        for value in values + ["-9223372036854775808"] {
            for shape in ["(\(value), 4)", "(3, \(value))", "(\(value),)"] {
                var text = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
                while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
                text += "\n"
                let npy = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.utf8.count & 0xFF), UInt8(text.utf8.count >> 8)]
                    + Array(text.utf8) + body
                let edited = members.map { $0.name == name ? StoredZIP.Member(name: name, data: npy) : $0 }
                try assertRefused(StoredZIP.write(edited), "npz \(name) shape \(shape)", names: ["layers.1.weight", "shape"])
            }
        }
    }

    func testJSONArchitecture() throws {
        let original = String(decoding: try export("json"), as: UTF8.self)
        let architecture = #""architecture":[4,3,3]"#
        XCTAssertTrue(original.contains(architecture))
        for value in values {
            for replacement in [#""architecture":[\#(value),3,3]"#, #""architecture":[4,\#(value),3]"#, #""architecture":[4,3,\#(value)]"#] {
                let bytes = Array(original.replacingOccurrences(of: architecture, with: replacement).utf8)
                try assertRefused(bytes, "json \(replacement)", names: ["architecture", "layer", "shape", "JSON", "json"])
            }
        }
    }
}

/// Reads and writes ZIP archives of stored (uncompressed) members, as fcstore's npz
/// export writes them, so that a test can change one member.
enum StoredZIP {
    struct Member {
        var name: String
        var data: [UInt8]
    }

    static func read(_ bytes: [UInt8]) throws -> [Member] {
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        var members: [Member] = []
        var offset = 0
        while offset + 30 <= bytes.count, u32(offset) == 0x0403_4B50 {
            XCTAssertEqual(u16(offset + 8), 0, "stored members only")
            let size = u32(offset + 18), nameLength = u16(offset + 26), extra = u16(offset + 28)
            let start = offset + 30 + nameLength + extra
            members.append(Member(name: String(decoding: bytes[(offset + 30)..<(offset + 30 + nameLength)], as: UTF8.self),
                                  data: Array(bytes[start..<(start + size)])))
            offset = start + size
        }
        return members
    }

    static func write(_ members: [Member]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func u16(_ value: Int, _ into: inout [UInt8]) { into += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func u32(_ value: Int, _ into: inout [UInt8]) { u16(value & 0xFFFF, &into); u16(value >> 16 & 0xFFFF, &into) }
        for member in members {
            let name = Array(member.name.utf8), crc = Int(crc32(member.data)), offset = out.count
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0x21, &out)
            u32(crc, &out); u32(member.data.count, &out); u32(member.data.count, &out)
            u16(name.count, &out); u16(0, &out); out += name + member.data
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0x21, &central); u32(crc, &central); u32(member.data.count, &central)
            u32(member.data.count, &central); u16(name.count, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central); central += name
        }
        let centralOffset = out.count
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(members.count, &out); u16(members.count, &out)
        u32(central.count, &out); u32(centralOffset, &out); u16(0, &out)
        return out
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
