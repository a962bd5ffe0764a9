import ArgumentParser
import FCDashboard
import FCStorage
import Foundation

/// `fcstore ui`: the read-only dashboard (see FCDashboard).
struct UI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Serve a read-only dashboard of the store in the browser.",
        discussion: """
            Runs, a run's curves and epochs, compare, diff, weights over time, verify and \
            downloads, as server-rendered pages with SVG charts (no external assets). The store \
            is opened read-only. Prints the URL first on stdout; stop with Ctrl-C.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("The address to listen on (another host than 127.0.0.1 exposes the store to the network).", valueName: "host"))
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("The port (0: any free port).", valueName: "port"))
    var port = 8765

    @Option(help: ArgumentHelp("Close a connection that sends nothing for this many seconds.", valueName: "seconds"))
    var idleTimeout = 10

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535.") }
        if !(1...3600).contains(idleTimeout) { throw ValidationError("--idle-timeout must be between 1 and 3600 seconds.") }
        if host.isEmpty || host.utf8.count > 255 { throw ValidationError("--host needs an address, such as 127.0.0.1.") }
    }

    func run() throws {
        guard store.isPostgres || FileManager.default.fileExists(atPath: store.path) else {
            throw CLIError("No store at \(store.displayPath); train a run first, or pass --store PATH (or set FCSTORE_DB).")
        }
        let dashboard = try Dashboard(path: store.path, errorText: { StoreMessages.text(for: $0) })
        if !["127.0.0.1", "localhost", "::1"].contains(host) {
            Console.err("note: listening on \(host), not 127.0.0.1: anyone who can reach this address can read the store.")
        }
        var settings = DashboardServer.Settings()
        settings.host = host
        settings.port = port
        settings.idleTimeout = .seconds(Int64(idleTimeout))
        let failure = ServerFailure()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                try await DashboardServer.run(dashboard, settings: settings) { url in
                    Console.out(url)
                }
            } catch {
                failure.set(error)
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw CLIError("Could not serve on \(host):\(port): \(String(describing: error)).") }
    }
}

/// The server task's error, handed to the main thread.
private final class ServerFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    var error: Error? { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ error: Error) { lock.lock(); stored = error; lock.unlock() }
}
