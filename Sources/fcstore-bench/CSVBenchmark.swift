import ArgumentParser
import FCNet
import FCTraining
import Foundation

/// `fcstore-bench csv FILE`: how long fcstore takes to read a numeric CSV file into the
/// training matrix, as `train --data FILE` does (`InputFile.read`, then `CSVLoader.parse`:
/// checks, the `Dataset`), and the data fingerprint computed after it. `benchmarks/csv_peers.py` runs it side by side
/// with pandas, pyarrow and polars on the same file.
struct CSVBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "Time reading a numeric CSV file into the training matrix (float32).",
        discussion: """
            Each repeat reads the file from the start (from the page cache after the first \
            untimed warm-up read) and parses it with the label column chosen as by \
            'fcstore train' (a column named 'label', else the last). Prints the time of every \
            repeat, the median and the minimum, and MB/s (10^6 bytes) of the file.
            """)

    @Argument(help: "The CSV file (a header row and numeric rows).") var file: String
    @Option(help: "Timed repeats.") var repeats = 5
    @Option(help: "The label column, by name or 0-based index (default: 'label', else the last).") var label: String?
    @Flag(help: "One JSON object on stdout instead of the text report.") var json = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1.") }
    }

    func run() throws {
        let path = DataLoading.absolutePath(file)
        let bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        let loader = CSVLoader(label: label.map { .name($0) } ?? .automatic)
        // Warm-up: the file into the page cache, the code paths taken once.
        let name = (path as NSString).lastPathComponent
        var data = try loader.load(path: path)
        var read: [Double] = [], parse: [Double] = [], fingerprint: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now()
            let bytes = try InputFile.read(path, limit: CSVLoader.maximumFileBytes, what: "CSV files")
            let wasRead = DispatchTime.now()
            data = try loader.parse(bytes, file: name)
            let parsed = DispatchTime.now()
            data.cacheFingerprint()
            let end = DispatchTime.now()
            read.append(Double(wasRead.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            parse.append(Double(parsed.uptimeNanoseconds - wasRead.uptimeNanoseconds) / 1e9)
            fingerprint.append(Double(end.uptimeNanoseconds - parsed.uptimeNanoseconds) / 1e9)
        }
        let load = zip(read, parse).map { $0 + $1 }
        let megabytes = Double(bytes) / 1e6
        if json {
            let object: [String: Any] = [
                "file": path, "bytes": bytes, "rows": data.count, "width": data.width,
                "load_seconds": load, "read_seconds": read, "parse_seconds": parse, "fingerprint_seconds": fingerprint,
                "fingerprint": data.fingerprint,
            ]
            let encoded = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: encoded, as: UTF8.self))
            return
        }
        print(String(format: "%@: %.1f MB, %d rows x %d features + label", (path as NSString).lastPathComponent, megabytes, data.count, data.width))
        print("read+parse s: " + load.map { String(format: "%.3f", $0) }.joined(separator: " "))
        print(String(format: "read+parse: median %.3f s, min %.3f s, %.0f MB/s at the median", Self.median(load), load.min() ?? 0,
                     megabytes / Self.median(load)))
        print(String(format: "medians: read %.3f s, parse %.3f s; fingerprint (after parsing) %.3f s", Self.median(read), Self.median(parse),
                     Self.median(fingerprint)))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
