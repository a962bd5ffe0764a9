#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The fast path of `CSVLoader.parse`: the records after the header, split into chunks at
/// line ends and parsed on two threads straight into the preallocated feature and label
/// buffers, with no allocation per record or field.
///
/// It takes only records it can decide alone: unquoted fields, each a number it accepts
/// exactly as the general path does (the same value, bit for bit). At the first record it
/// does not take (a quoted field, a ragged row, a cell that is empty, not a number, not
/// finite, not a class label, a line over the length limit) it stops, and the general reader
/// (`CSVLoader.records`) goes on from that record's start, so that every error is found and
/// worded by the same code as before, in the same order. Chunks after the one that stopped
/// are dropped. A chunk boundary is a true record boundary whenever the chunks before it
/// were taken whole, since they hold no quote.
///
/// Numbers: `[+-]digits[.digits][(e|E)[+-]digits]` with blanks around, at most 19 digits,
/// is m · 10^e with m < 2^53 exact; for |e| ≤ 22, 10^e is exact in a Double, so one
/// multiplication or division gives the correctly rounded Double, which is what strtod
/// returns (Clinger's fast path); then `Float(_:)`, as the general path converts. Any other
/// text (more digits, larger exponents, hex, `inf`, `nan`) goes through the general path's
/// strtod call (`CSVLoader.number`).
enum CSVChunks {
    /// What a record holds.
    struct Layout {
        /// Fields per record: the header's column count.
        let columns: Int
        /// The label's field, or -1 when every field is a feature.
        let labelColumn: Int
        /// Features per record.
        let width: Int
        /// True when labels must be class indices.
        let classLabels: Bool
        /// Class labels must be below this: 2^24, or the output layer's class count if lower.
        let labelLimit: Double

        init(columns: Int, labelIndex: Int?, classLabels: Bool, classes: Int?) {
            self.columns = columns
            self.labelColumn = labelIndex ?? -1
            self.width = labelIndex == nil ? columns : columns - 1
            self.classLabels = classLabels
            self.labelLimit = min(16_777_216, classes.map(Double.init) ?? .infinity)
        }
    }

    /// Bodies below this are parsed as one chunk on the calling thread.
    static let parallelBytes = 1 << 20
    /// Chunks per body: enough that two threads share the work evenly when one of them is
    /// slowed by another process.
    static let chunksPerBody = 16

    /// Parses the records from `body` (the byte after the header, on line `line`) on, in
    /// up to `chunks` chunks.
    /// - Returns: the features and labels of the records taken, and where the general path
    ///   must go on (the first record not taken, and its line), or nil when every record was
    ///   taken. When no record was taken, that is `body` itself.
    static func parse(_ bytes: [UInt8], body: Int, line: Int, layout: Layout, chunks: Int, file: String,
                      observer: ((LoadingProgress.Report) -> Void)?) -> (features: [Float], labels: [Float], rest: (offset: Int, line: Int)?) {
        return bytes.withUnsafeBufferPointer { buffer in
            // The fast path ends after the last line end: every record it reads ends with one,
            // so its scans stop there without a bounds check. A last line without a line end
            // is left to the general reader.
            let base = buffer.baseAddress!
            var end = buffer.count
            while end > body, base[end - 1] != 0x0A, base[end - 1] != 0x0D { end -= 1 }
            guard end > body else { return ([], [], (body, line)) }
            let bounds = boundaries(base, from: body, to: end, chunks: chunks)
            let count = bounds.count - 1

            // Row capacity of each chunk: its line ends, at most what its bytes can hold (a
            // record takes at least two bytes a field). Each chunk's results go to its own
            // element of these buffers.
            let capacity = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
            let outcomes = UnsafeMutableBufferPointer<Outcome>.allocate(capacity: count)
            defer { capacity.deallocate(); outcomes.deallocate() }
            inParallel(count) { c, _ in
                let bytes = bounds[c + 1] - bounds[c]
                let lines = lineEnds(base + bounds[c], count: bytes)
                capacity[c] = min(lines, (bytes + 1) / (2 * layout.columns))
                return true
            }
            // The first row of each chunk in the matrix.
            var starts = [Int](repeating: 0, count: count + 1)
            for c in 0..<count { starts[c + 1] = starts[c] + capacity[c] }
            let first = starts
            let rowCapacity = first[count]
            guard rowCapacity > 0 else { return ([], [], (body, line)) }

            _ = outcomes.initialize(repeating: Outcome())
            var labels = [Float](repeating: 0, count: 0)
            var rest: (offset: Int, line: Int)?
            let features = [Float](unsafeUninitializedCapacity: rowCapacity * layout.width) { f, initialized in
                labels = [Float](unsafeUninitializedCapacity: rowCapacity) { l, labelCount in
                    let progress = Progress(file: file, body: body, total: buffer.count, observer: observer)
                    inParallel(count) { c, reports in
                        let outcome = parseChunk(base, from: bounds[c], to: bounds[c + 1], layout: layout, rowCapacity: capacity[c],
                                                 features: f.baseAddress! + first[c] * layout.width, labels: l.baseAddress! + first[c],
                                                 progress: progress, reports: reports)
                        outcomes[c] = outcome
                        return outcome.stop == nil
                    }
                    // The chunks in order, up to the first that stopped; rows moved down over
                    // the rows a chunk did not fill (blank lines).
                    var rows = 0, lines = line
                    rest = end < buffer.count ? (end, line) : nil
                    for c in 0..<count {
                        let outcome = outcomes[c]
                        if first[c] != rows, outcome.rows > 0 {
                            memmove(f.baseAddress! + rows * layout.width, f.baseAddress! + first[c] * layout.width,
                                    outcome.rows * layout.width * MemoryLayout<Float>.stride)
                            memmove(l.baseAddress! + rows, l.baseAddress! + first[c], outcome.rows * MemoryLayout<Float>.stride)
                        }
                        rows += outcome.rows
                        lines += outcome.lineEnds
                        if let stop = outcome.stop {
                            rest = (stop, lines)
                            break
                        }
                        if c == count - 1, rest != nil { rest = (end, lines) }
                    }
                    if rows == 0 { rest = (body, line) }
                    labelCount = rows
                    initialized = rows * layout.width
                }
            }
            return (features, labels, rest)
        }
    }

    /// What one chunk's parse found.
    struct Outcome {
        /// Records taken.
        var rows = 0
        /// Line ends passed before `stop` (all of the chunk's when it was taken whole).
        var lineEnds = 0
        /// The start of the first record not taken, if any.
        var stop: Int?
    }

    /// Chunk boundaries: `from`, then the byte after the first line end at or after each
    /// even share of the bytes, then `to`; no chunk is empty.
    static func boundaries(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, chunks: Int) -> [Int] {
        var bounds = [start]
        for k in 1..<max(chunks, 1) {
            var i = max(start + (end - start) / chunks * k, bounds[bounds.count - 1])
            while i < end, base[i] != 0x0A, base[i] != 0x0D { i += 1 }
            guard i < end else { break }
            i += base[i] == 0x0D && i + 1 < end && base[i + 1] == 0x0A ? 2 : 1
            if i < end, i > bounds[bounds.count - 1] { bounds.append(i) }
        }
        bounds.append(end)
        return bounds
    }

    /// Line ends (LF, CRLF, lone CR, each one) in `count` bytes.
    static func lineEnds(_ p: UnsafePointer<UInt8>, count: Int) -> Int {
        var lf = 0, q = UnsafeRawPointer(p), left = count
        while left > 0, let hit = memchr(q, 0x0A, left) {
            let next = UnsafeRawPointer(hit) + 1
            left -= next - q
            q = next
            lf += 1
        }
        guard memchr(p, 0x0D, count) != nil else { return lf }
        var ends = 0, i = 0
        while i < count {
            if p[i] == 0x0A {
                ends += 1
            } else if p[i] == 0x0D {
                ends += 1
                if i + 1 < count, p[i + 1] == 0x0A { i += 1 }
            }
            i += 1
        }
        return ends
    }

    /// Runs `body(chunk, reports)` for chunks 0..<count on two threads (the calling one, with
    /// `reports` true, and one more), taking chunks in order; once a body returns false, no
    /// later chunk is started. All are done when this returns.
    static func inParallel(_ count: Int, _ body: (Int, Bool) -> Bool) {
        guard count > 1 else {
            if count == 1 { _ = body(0, true) }
            return
        }
        let queue = ChunkQueue(count: count)
        func work(_ reports: Bool) {
            while let c = queue.take() {
                if !body(c, reports) { queue.stop(after: c) }
            }
        }
        _ = Concurrently.run({ work(false) }, { work(true) })
    }

    /// Hands out chunk indices in order, up to a limit that a stopped chunk lowers.
    final class ChunkQueue: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var limit: Int

        init(count: Int) { limit = count }

        func take() -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard next < limit else { return nil }
            next += 1
            return next - 1
        }

        func stop(after chunk: Int) {
            lock.lock()
            limit = min(limit, chunk + 1)
            lock.unlock()
        }
    }

    /// Bytes and rows parsed so far by all chunks; the calling thread tells the observer.
    final class Progress: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: Int
        private var rows = 0
        let file: String
        let total: Int
        let observer: ((LoadingProgress.Report) -> Void)?

        init(file: String, body: Int, total: Int, observer: ((LoadingProgress.Report) -> Void)?) {
            self.file = file
            self.bytes = body
            self.total = total
            self.observer = observer
        }

        /// Adds a chunk's progress since its last call; `reports` on the calling thread only.
        func add(bytes: Int, rows: Int, reports: Bool) {
            guard let observer else { return }
            lock.lock()
            self.bytes += bytes
            self.rows += rows
            let (b, r) = (self.bytes, self.rows)
            lock.unlock()
            if reports { observer(.init(file: file, bytesRead: b, totalBytes: total, rows: r, finished: false)) }
        }
    }
}
