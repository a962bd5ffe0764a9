/// How far the parsing of a data file has got, for a progress line. The
/// loaders report to `observer` when one is set (the CLI sets it on a
/// terminal); they never print.
public enum LoadingProgress {
    public struct Report: Sendable {
        /// The file's last path component.
        public var file: String
        public var bytesRead: Int
        public var totalBytes: Int
        public var rows: Int
        /// True for the last report of a file, sent once it is parsed.
        public var finished: Bool

        public init(file: String, bytesRead: Int, totalBytes: Int, rows: Int, finished: Bool) {
            self.file = file
            self.bytesRead = bytesRead
            self.totalBytes = totalBytes
            self.rows = rows
            self.finished = finished
        }
    }

    /// Told at the start of a file, every `interval` rows, and at its end, always on the
    /// thread that called the loader (the CSV loader's second thread only adds to the
    /// counts); set this before loading starts.
    nonisolated(unsafe) public static var observer: ((Report) -> Void)?

    /// Rows between two reports (the CSV fast path: rows of the calling thread's chunk).
    public static let interval = 1024
}
