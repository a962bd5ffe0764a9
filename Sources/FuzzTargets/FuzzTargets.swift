import FCFormats
import FCNet
import FCStorage
import Foundation

// libFuzzer entry points for fcstore's parsers of hostile input. One binary,
// five targets; FCSTORE_FUZZ_TARGET chooses: csv, safetensors, npz, json or bundle.
//
// Built for fuzzing by Tests/reliability/fuzz.sh:
//   swift build -c release --product fcstore-fuzz --sanitize=fuzzer --sanitize=address \
//     -Xswiftc -DFUZZING --build-path .build-fuzz
// With -DFUZZING main() runs libFuzzer's driver. In an ordinary build the same
// target is a replay driver: `fcstore-fuzz TARGET FILE...` runs each file
// through the target once (a crash reproducer, or the seed corpus in CI).

enum FuzzTarget: String, CaseIterable {
    case csv, safetensors, npz, json, bundle

    static let current: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["FCSTORE_FUZZ_TARGET"] ?? "csv"
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("FCSTORE_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue))")
        }
        return target
    }()

    /// Runs one input. Errors are the expected outcome for malformed input;
    /// only a trap, a crash or a sanitizer report counts as a finding.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .csv:
            CSVDifferential.check(bytes, CSVLoader())
            CSVDifferential.check(bytes, CSVLoader(label: .none, task: .regression))
            CSVDifferential.check(bytes, CSVLoader(label: .index(0), task: .classification, classes: 3))
        case .safetensors:
            _ = try? Safetensors.decode(bytes)
        case .npz:
            _ = try? NPZ.decode(bytes)
        case .json:
            // The JSON model reader, and the detector that sends files to it.
            _ = FileKind.detect(head: bytes, fileSize: bytes.count)
            _ = try? JSONModel.decode(bytes)
        case .bundle:
            BundleFuzzing.run(bytes)
        }
    }
}

/// The CSV parser's fast path in several chunkings against its general reader: the same
/// data set bit for bit, or the same error. A difference is a finding (a trap).
enum CSVDifferential {
    static func check(_ bytes: [UInt8], _ loader: CSVLoader) {
        func parse(_ strategy: CSVLoader.Strategy) -> String {
            var loader = loader
            loader.strategy = strategy
            do {
                let d = try loader.parse(bytes, file: "fuzz.csv")
                return "\(d.count)x\(d.width) \(d.featureNames) \(d.features.map(\.bitPattern)) \(d.labels.map(\.bitPattern)) \(d.fingerprint)"
            } catch {
                return "error: \(error)"
            }
        }
        let general = parse(.general)
        for strategy in [CSVLoader.Strategy.automatic, .chunks(2), .chunks(5)] where parse(strategy) != general {
            fatalError("csv: the \(strategy) parse differs from the general reader's")
        }
    }
}

/// Imports each input, written to a file, into one scratch store.
enum BundleFuzzing {
    nonisolated(unsafe) static var store: Store?
    static let folder: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = "\(base)/fcstore-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func run(_ bytes: [UInt8]) {
        if store == nil { store = try? Store(path: folder + "/store.db") }
        guard let store else { fatalError("cannot create the scratch store in \(folder)") }
        let input = folder + "/input.fcbundle"
        FileManager.default.createFile(atPath: input, contents: Data(bytes))
        _ = try? store.importBundle(from: input)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.current.run(bytes)
    return 0
}

#if FUZZING
/// libFuzzer's driver (in the runtime that `-sanitize=fuzzer` links). SwiftPM
/// names an executable's entry point itself, so libFuzzer's own main() cannot
/// be used; this main hands over to the driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif

@main
struct FuzzMain {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
        replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    /// `fcstore-fuzz TARGET FILE|FOLDER...`: runs every file through the target once.
    static func replay(_ arguments: [String]) {
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            FileHandle.standardError.write(Data("usage: fcstore-fuzz csv|safetensors|npz|json|bundle FILE|FOLDER...\n".utf8))
            exit(64)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run([UInt8](data))
                count += 1
            }
        }
        print("\(name): \(count) inputs ran without a crash")
    }
}
