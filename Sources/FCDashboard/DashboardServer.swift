import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `fcstore ui`'s HTTP server, on Hummingbird.
///
/// - Only GET and HEAD are served; any other method gets 405 (with `Allow: GET, HEAD`)
///   before the path is looked at. Request bodies are never read.
/// - The raw request target is checked (`Dashboard.isWellFormed`): `..`,
///   percent-encoded and over-long paths get the 404 page. No request value reaches
///   the filesystem: the store's path is fixed at start.
/// - A slow client cannot hold the server: connections are handled by SwiftNIO's event
///   loops, never by a thread per connection; a connection that sends nothing for
///   `idleTimeout` (a request head dribbled byte by byte included, since only a
///   complete head counts as activity) is closed; request heads are capped at 16 KiB;
///   and pages are rendered on a dispatch queue, off the event loops and Swift's
///   cooperative pool.
public enum DashboardServer {
    public struct Settings: Sendable {
        public var host = "127.0.0.1"
        public var port = 8765
        public var idleTimeout: TimeAmount = .seconds(10)
        public init() {}
    }

    /// Serves `dashboard` until the process is interrupted (SIGINT/SIGTERM end it
    /// gracefully). `ready` gets the URL once the socket is bound (port 0: the
    /// port the system chose).
    public static func run(_ dashboard: Dashboard, settings: Settings, ready: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "fcstore-ui")
        logger.logLevel = .error
        let host = settings.host
        let app = Application(
            responder: Responder(dashboard: dashboard),
            server: .http1(configuration: .init(
                idleTimeout: settings.idleTimeout,
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 16 * 1024, maxHeaderFieldCount: 100))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: settings.port), serverName: "fcstore"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                let shown = host.contains(":") ? "[\(host)]" : host
                ready("http://\(shown):\(port)/")
                // Parse every run's configuration now, in the background, so the first
                // runs page a user opens does not pay for it (see `Dashboard.facts`).
                DispatchQueue.global(qos: .utility).async { _ = dashboard.respond(path: "/") }
            },
            logger: logger)
        do {
            try await app.runService()
        } catch let error as IOError {
            // NIO's text names the system call; the user needs the reason.
            throw ServerError(description: String(cString: strerror(error.errnoCode)))
        }
    }

    /// Why the server could not start, as a sentence fragment ("Address already in use").
    public struct ServerError: Error, CustomStringConvertible {
        public var description: String
    }

    struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        let dashboard: Dashboard

        func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
            let method = request.method
            guard method == .get || method == .head else {
                var response = Self.html(status: .methodNotAllowed, HTML.page(title: "Method not allowed", body:
                    "<h1>Method not allowed</h1>\n<p class=\"error\">The dashboard only reads: GET and HEAD.</p>"), head: method == .head)
                response.headers[.allow] = "GET, HEAD"
                return response
            }
            let target = request.head.path ?? "/"
            let split = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(split.first ?? "/"), query = split.count > 1 ? String(split[1]) : nil
            let dashboard = self.dashboard
            let result: DashboardResponse = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: dashboard.respond(path: path, query: query)) }
            }
            let head = method == .head
            switch result {
            case .page(let text):
                return Self.html(status: .ok, text, head: head)
            case .json(let text):
                return Self.body(status: .ok, Array(text.utf8), contentType: "application/json", head: head)
            case .asset(let text, let contentType):
                return Self.body(status: .ok, Array(text.utf8), contentType: contentType, head: head)
            case .download(let bytes, let filename, let contentType):
                var response = Self.body(status: .ok, bytes, contentType: contentType, head: head)
                response.headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
                return response
            case .failure(let status, let message):
                let page = HTML.page(title: status == 404 ? "Not found" : "Error", body:
                    "<h1>\(status == 404 ? "Not found" : "Error")</h1>\n<p class=\"error\">\(HTML.escape(message))</p>\n<p><a href=\"/\">All runs</a></p>")
                return Self.html(status: HTTPResponse.Status(code: status), page, head: head)
            }
        }

        static func html(status: HTTPResponse.Status, _ text: String, head: Bool) -> Response {
            body(status: status, Array(text.utf8), contentType: "text/html; charset=utf-8", head: head)
        }

        /// A response with the security headers every response carries.
        static func body(status: HTTPResponse.Status, _ bytes: [UInt8], contentType: String, head: Bool) -> Response {
            var headers = HTTPFields()
            headers[.contentType] = contentType
            headers[.contentLength] = String(bytes.count)
            headers[.cacheControl] = "no-store"
            headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
            headers[.init("X-Content-Type-Options")!] = "nosniff"
            headers[.init("Referrer-Policy")!] = "no-referrer"
            let buffer = ByteBuffer(bytes: head ? [] : bytes)
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
        }
    }
}
