import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// `fcstore ui` as a process, without a browser: its errors, its first stdout line,
/// the methods it serves and how it stops.
final class DashboardCLITests: XCTestCase {
    /// One request; returns the status and the body.
    func fetch(_ url: String, method: String = "GET") throws -> (status: Int, body: String) {
        var request = URLRequest(url: try XCTUnwrap(URL(string: url)))
        request.httpMethod = method
        request.timeoutInterval = 10
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, String)?
        URLSession.shared.dataTask(with: request) { data, response, _ in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 15)
        return try XCTUnwrap(result)
    }

    func testErrorsAreOneLine() throws {
        let workspace = try Workspace()
        assertError(try workspace.run(["ui"]), "No store at fcstore.db; train a run first, or pass --store PATH (or set FCSTORE_DB).", status: 1)
        assertError(try workspace.run(["ui", "--port", "70000"]), "--port must be between 0 and 65535. Run 'fcstore ui --help' for usage.", status: 64)
    }

    func testServesGetAndHeadOnlyRefusesABusyPortAndStopsOnSIGINT() throws {
        let workspace = try Workspace()
        try workspace.ok(["train", "--data", CLI.iris, "--layers", "8,3", "--epochs", "2", "--name", "<b>bold</b>"])
        let before = try workspace.bytes("fcstore.db")
        let server = try Browser.startServer(workspace, idleTimeout: 10)
        defer { server.stop() }
        XCTAssertTrue(server.url.hasPrefix("http://127.0.0.1:"), server.url)
        let page = try fetch(server.url)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("&lt;b&gt;bold&lt;/b&gt;"))
        XCTAssertFalse(page.body.contains("<b>bold"))
        XCTAssertEqual(try fetch(server.url, method: "HEAD").status, 200)
        for method in ["POST", "PUT", "DELETE"] {
            XCTAssertEqual(try fetch(server.url, method: method).status, 405, method)
        }
        XCTAssertEqual(try fetch(server.url + "runs/nope").status, 404)

        let second = try workspace.run(["ui", "--port", String(server.port)])
        assertError(second, "Could not serve on 127.0.0.1:\(server.port): Address already in use.", status: 1)

        kill(server.process.process.processIdentifier, SIGINT)
        let result = server.process.wait()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, server.url + "\n", "the URL is all it prints")
        XCTAssertEqual(try workspace.bytes("fcstore.db"), before, "the store's bytes are unchanged")
    }
}
