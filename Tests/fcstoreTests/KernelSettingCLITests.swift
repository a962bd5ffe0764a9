import Foundation
import XCTest

/// `FCSTORE_KERNELS`: the CLI's way to force the engine's kernel path.
final class KernelSettingCLITests: XCTestCase {
    /// The paths this machine's CPU runs, from /proc/cpuinfo's flags (portable always).
    private func supportedPaths() throws -> [String] {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set(info.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        return ["portable"] + (flags.contains("avx2") ? ["avx2"] : []) + (flags.contains("avx512f") ? ["avx512"] : [])
    }

    func testEveryPathTrainsTheSameBits() throws {
        let workspace = try Workspace()
        let automatic = try workspace.train(["--name", "automatic", "--batch-size", "32"], epochs: 2)
        for path in try supportedPaths() {
            let result = try CLI.run(
                ["train", "--data", CLI.digits, "--layers", "16,10", "--epochs", "2", "--batch-size", "32", "--name", path],
                in: workspace.directory, environment: ["FCSTORE_KERNELS": path])
            XCTAssertEqual(result.status, 0, result.stderr)
            try workspace.assertIdentical(automatic, path)
        }
    }

    func testAnUnknownPathIsOneErrorLine() throws {
        let workspace = try Workspace()
        let result = try CLI.run(["runs"], in: workspace.directory, environment: ["FCSTORE_KERNELS": "sse\u{1B}[2J"])
        assertError(result, "FCSTORE_KERNELS must be one of avx512, avx2, portable (got 'sse\\u{1b}[2J').", status: 1)
        // An empty value is the default.
        XCTAssertEqual(try CLI.run(["runs"], in: workspace.directory, environment: ["FCSTORE_KERNELS": ""]).stderr.contains("FCSTORE_KERNELS"), false)
    }

    func testAPathTheCPUCannotRunIsRefused() throws {
        let missing = ["avx2", "avx512"].filter { !((try? supportedPaths()) ?? []).contains($0) }
        guard let path = missing.last else { throw XCTSkip("This CPU runs every kernel path.") }
        let workspace = try Workspace()
        let result = try CLI.run(["runs"], in: workspace.directory, environment: ["FCSTORE_KERNELS": path])
        assertError(result, "FCSTORE_KERNELS=\(path): this CPU cannot run the \(path) kernels.", status: 1)
    }
}
