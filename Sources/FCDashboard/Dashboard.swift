import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// What a request gets: the server (`DashboardServer`) turns it into HTTP.
public enum DashboardResponse {
    case page(String)
    case json(String)
    case asset(String, contentType: String)
    case download([UInt8], filename: String, contentType: String)
    /// A 404 page (missing run or checkpoint, malformed path or reference) or a
    /// 500 page (the store could not be read), with its message.
    case failure(status: Int, message: String)
}

public typealias TensorPair = (layer: Int, role: String, a: TensorValue, b: TensorValue)

/// The dashboard's pages, rendered from the store without a server (the server,
/// the benchmark and tests call `respond`). Read-only: every connection is
/// opened with `SQLITE_OPEN_READONLY`; one connection serves one request at a
/// time, from a small pool, and each request reads in its own transaction, so
/// a run being trained shows its newest committed epoch.
public final class Dashboard: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var idle: [Store] = []
    /// Parsed configurations by run id (a run's configuration never changes: it is in its digest).
    private var configs: [String: RunConfig?] = [:]
    /// The runs page's columns from each configuration, by run id.
    private var facts: [String: RunFacts] = [:]

    /// How a store error reads on a page: the CLI passes its own wording (flags and
    /// commands named), as its error lines have; by default the library's description.
    let errorText: @Sendable (Error) -> String

    /// Opens the store read-only (a missing file, a folder, a newer schema and the like throw here).
    public init(path: String, errorText: @escaping @Sendable (Error) -> String = { String(describing: $0) }) throws {
        self.path = path
        self.errorText = errorText
        idle = [try Store(path: path, readOnly: true)]
    }

    func withStore<T>(_ body: (Store) throws -> T) throws -> T {
        lock.lock()
        let pooled = idle.popLast()
        lock.unlock()
        let store = try pooled ?? Store(path: path, readOnly: true)
        defer {
            lock.lock()
            if idle.count < 4 { idle.append(store) }
            lock.unlock()
        }
        return try body(store)
    }

    func config(_ run: RunRecord) -> RunConfig? {
        lock.lock()
        if let cached = configs[run.id] { lock.unlock(); return cached }
        lock.unlock()
        let config = try? RunConfig.decode(run.config, run: run.shortID)
        lock.lock()
        configs[run.id] = config
        lock.unlock()
        return config
    }

    /// The runs page's figures from a run's configuration, parsed once per run.
    func facts(_ run: RunRecord) -> RunFacts {
        lock.lock()
        if let cached = facts[run.id] { lock.unlock(); return cached }
        lock.unlock()
        let config = self.config(run)
        let made = RunFacts(
            architecture: config.map { $0.spec.sizes.map(String.init).joined(separator: "-") } ?? "-",
            optimizer: config?.training.optimizer.kind.rawValue ?? "-",
            learningRate: config?.training.optimizer.learningRate,
            batch: config.map { $0.training.batchSize.map(String.init) ?? "full" } ?? "-")
        lock.lock()
        facts[run.id] = made
        lock.unlock()
        return made
    }

    /// Paths are ASCII letters, digits and `._-/` only, at most 256 bytes, with no
    /// `..` or empty segment: anything else (percent-encoding included) is a 404.
    public static func isWellFormed(path: String) -> Bool {
        guard path.utf8.count <= 256, path.hasPrefix("/") else { return false }
        guard path.utf8.allSatisfy({ byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D || byte == 0x2F
        }) else { return false }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if path == "/" { return true }
        return !segments.contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }

    /// The response for a GET of `path` with the raw query string `query`.
    public func respond(path: String, query rawQuery: String? = nil) -> DashboardResponse {
        guard Self.isWellFormed(path: path), (rawQuery?.utf8.count ?? 0) <= 4096 else {
            return .failure(status: 404, message: "No page at this address.")
        }
        let query = Query(rawQuery ?? "")
        let parts = path.split(separator: "/").map(String.init)
        do {
            switch parts.count {
            case 0:
                return .page(try withStore { try RunsPage(dashboard: self, store: $0, query: query).render() })
            case 1 where parts[0] == "compare":
                return .page(try withStore { try ComparePage(dashboard: self, store: $0, query: query).render() })
            case 1 where parts[0] == "diff":
                return .page(try withStore { try DiffPage(dashboard: self, store: $0, query: query).render() })
            case 2 where parts[0] == "static":
                return Assets.response(parts[1])
            case 2 where parts[0] == "runs":
                return .page(try withStore { try RunPage(dashboard: self, store: $0, runText: parts[1], query: query).render() })
            case 3 where parts[0] == "runs" && parts[2] == "live":
                return .page(try withStore { try RunPage(dashboard: self, store: $0, runText: parts[1], query: query).liveSection() })
            case 3 where parts[0] == "runs" && parts[2] == "weights":
                return .page(try withStore { try WeightsPage(dashboard: self, store: $0, runText: parts[1]).render() })
            case 3 where parts[0] == "runs" && parts[2] == "verify":
                return .page(try withStore { try VerifyPage(store: $0, runText: parts[1]).render() })
            case 4 where parts[0] == "api" && parts[1] == "runs" && parts[3] == "state":
                return .json(try withStore { try RunPage.state($0, runText: parts[2]) })
            case 5 where parts[0] == "runs" && parts[2] == "epochs" && parts[4].hasPrefix("model."):
                return try withStore { try Downloads.model($0, dashboard: self, runText: parts[1], epoch: parts[3], file: parts[4]) }
            default:
                return .failure(status: 404, message: "No page at this address.")
            }
        } catch let error as NotFound {
            return .failure(status: 404, message: error.message)
        } catch let error as StoreError {
            switch error {
            case .noSuchRun, .ambiguousRun, .noSuchCheckpoint, .noCheckpoints, .noSuchMetric, .pruned:
                return .failure(status: 404, message: errorText(error))
            default:
                return .failure(status: 500, message: errorText(error))
            }
        } catch {
            return .failure(status: 500, message: String(describing: error))
        }
    }

    /// A run from a path segment or query value: an id, an id prefix or a name.
    func run(_ store: Store, _ text: String) throws -> RunRecord {
        guard !text.isEmpty, text.utf8.count <= 200 else { throw NotFound("No such run.") }
        return try store.resolveRun(text)
    }

    /// `RUN@EPOCH` (or `RUN`, its latest epoch) from a query value.
    func checkpointRef(_ store: Store, _ text: String?) throws -> (run: RunRecord, epoch: Int) {
        guard let text, !text.isEmpty else { throw NotFound("Name two checkpoints, as a=RUN@EPOCH&b=RUN@EPOCH.") }
        guard let at = text.lastIndex(of: "@") else {
            let run = try run(store, text)
            return (run, try store.latestEpoch(runID: run.id))
        }
        guard let epoch = Int(text[text.index(after: at)...]), epoch >= 0 else { throw NotFound("\(text) is not RUN@EPOCH.") }
        return (try run(store, String(text[..<at])), epoch)
    }
}

/// A run's configuration as the runs page shows it.
struct RunFacts {
    var architecture: String
    var optimizer: String
    var learningRate: Double?
    var batch: String
}

/// A 404 with its message.
struct NotFound: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// A parsed query string: `+` as space, percent-decoded, repeated keys kept.
struct Query {
    var pairs: [(key: String, value: String)] = []

    init(_ raw: String) {
        for item in raw.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            pairs.append((decode(parts[0]), parts.count > 1 ? decode(parts[1]) : ""))
        }
    }

    subscript(_ key: String) -> String? { pairs.first { $0.key == key }?.value }
    func all(_ key: String) -> [String] { pairs.filter { $0.key == key }.map(\.value) }
    var flag: (String) -> Bool { { key in ["1", "on", "true"].contains(self[key] ?? "") } }
}
