import Foundation
import XCTest

/// `fcstore key new` and how train picks the key.
final class SigningCLITests: XCTestCase {
    func testKeyNewWritesAPrivateFileAndNeverReplacesIt() throws {
        let workspace = try Workspace()
        // The default location: $XDG_CONFIG_HOME/fcstore/key.pem (the harness points it into the workspace).
        let created = try workspace.ok(["key", "new"])
        let key = workspace.path(".config/fcstore/key.pem")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int, 0o600)
        let publicKey = created.stdout.trimmingCharacters(in: .newlines)
        XCTAssertTrue(publicKey.hasPrefix("ed25519:") && publicKey.count == 8 + 64, publicKey)
        XCTAssertEqual(try String(contentsOfFile: key + ".pub", encoding: .utf8), publicKey + " fcstore\n")
        XCTAssertTrue(try String(contentsOfFile: key, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let pem = try Data(contentsOf: URL(fileURLWithPath: key))

        assertError(try workspace.run(["key", "new"]), "\(key) already exists; choose another file with --output.", status: 1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: key)), pem)

        // train finds the default key and signs; the heads verify against its public key.
        let trusted = try workspace.write("trusted", publicKey + "\n")
        _ = try workspace.train(data: CLI.iris, layers: "4,3", epochs: 2)
        XCTAssertEqual(try workspace.run(["verify", "--trusted-keys", trusted]).status, 0)
        let other = try workspace.write("other", "# nobody\n")
        let unknown = try workspace.run(["verify", "--trusted-keys", other])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stdout.contains("its head is signed by an unknown key"), unknown.stdout)
        let malformed = try workspace.write("malformed", "ssh-ed25519 AAAA\n")
        assertError(try workspace.run(["verify", "--trusted-keys", malformed]),
                    "Line 1 of \(malformed) is not a public key (expected ed25519: and 64 hex digits, as 'fcstore key new' prints).", status: 1)

        // A key others may read is refused before anything is written.
        chmod(key, 0o644)
        let before = try workspace.bytes("fcstore.db")
        assertError(try workspace.run(["train", "--data", CLI.iris, "--layers", "4,3", "--epochs", "1"]),
                    "The signing key \(key) may be read by other users (mode 644); run 'chmod 600 \(key)'.", status: 1)
        XCTAssertEqual(try workspace.bytes("fcstore.db"), before)
    }
}
