import FCNet
import FCStorage
import Foundation

/// The engine setting an epoch was trained with: the OpenBLAS kernel ("core") and
/// thread limit, the element-wise kernels' instruction set and the fcstore version.
/// Results are bit for bit the same for the same core, thread limit and version; the
/// element-wise kernels give the same bits on every instruction-set path, so their
/// path is recorded but never makes a difference.
public struct EngineSetting: Equatable, Sendable {
    public var blasCore: String
    public var blasThreads: Int
    public var kernelsISA: String
    public var fcstoreVersion: String

    public init(blasCore: String, blasThreads: Int, kernelsISA: String, fcstoreVersion: String) {
        self.blasCore = blasCore
        self.blasThreads = blasThreads
        self.kernelsISA = kernelsISA
        self.fcstoreVersion = fcstoreVersion
    }

    /// This process's setting (OpenBLAS must be loaded for the core name).
    public static var current: EngineSetting {
        EngineSetting(blasCore: BLAS.coreName, blasThreads: BLAS.maxThreads, kernelsISA: BLAS.elementwiseISA,
                      fcstoreVersion: FCStoreVersion.current)
    }

    /// The setting a segment recorded.
    public init(_ segment: SegmentInput) {
        self.init(blasCore: segment.blasCore, blasThreads: segment.blasThreads, kernelsISA: segment.kernelsISA,
                  fcstoreVersion: segment.fcstoreVersion)
    }

    /// The setting a run's configuration recorded when it was created (runs from
    /// before segments); nil when it recorded none.
    init?(_ config: RunConfig) {
        guard let core = config.blasCore, let threads = config.blasThreads else { return nil }
        self.init(blasCore: core, blasThreads: threads, kernelsISA: "", fcstoreVersion: config.fcstoreVersion)
    }

    /// `fcstore 0.2.0, OpenBLAS core SkylakeX, 2 threads`.
    public var summary: String {
        "fcstore \(fcstoreVersion), OpenBLAS core \(blasCore), \(blasThreads) thread\(blasThreads == 1 ? "" : "s")"
    }

    /// What differs from `self` (the recorded setting) in `other` in a way that changes bits.
    public func changes(to other: EngineSetting) -> [EngineChange] {
        var changes: [EngineChange] = []
        if blasCore != other.blasCore { changes.append(.blasCore(recorded: blasCore, now: other.blasCore)) }
        if blasThreads != other.blasThreads { changes.append(.blasThreads(recorded: blasThreads, now: other.blasThreads)) }
        if fcstoreVersion != other.fcstoreVersion { changes.append(.version(recorded: fcstoreVersion, now: other.fcstoreVersion)) }
        return changes
    }
}

/// One engine setting that differs between a recorded segment and this process.
public enum EngineChange: Equatable, Sendable, CustomStringConvertible {
    case blasCore(recorded: String, now: String)
    case blasThreads(recorded: Int, now: Int)
    case version(recorded: String, now: String)

    public var description: String {
        switch self {
        case let .blasCore(recorded, now): return "OpenBLAS core \(recorded) recorded, \(now) now"
        case let .blasThreads(recorded, now): return "OpenBLAS threads \(recorded) recorded, \(now) now"
        case let .version(recorded, now): return "fcstore \(recorded) recorded, \(now) now"
        }
    }
}
