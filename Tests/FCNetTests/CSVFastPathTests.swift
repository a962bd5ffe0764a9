import FCTestSupport
import Foundation
import XCTest
@testable import FCNet

/// The fast CSV path against the parser it replaced (`ReferenceCSVLoader`, a frozen copy):
/// the same values bit for bit, the same fingerprint, the same first error word for word,
/// for the test corpus, generated files and every chunking, boundaries included.
final class CSVFastPathTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The loader settings the fuzz target and the CLI use.
    static let settings: [(label: CSVLoader.LabelColumn, task: Dataset.Task, classes: Int?)] = [
        (.automatic, .classification, nil),
        (.none, .regression, nil),
        (.index(0), .classification, 3),
        (.automatic, .regression, nil),
        (.name("label"), .classification, 10),
    ]

    static let strategies: [CSVLoader.Strategy] = [.automatic, .general, .chunks(1), .chunks(2), .chunks(3), .chunks(7), .chunks(64)]

    /// The data set, or the error's text.
    static func outcome(_ parse: () throws -> Dataset) -> Result<Dataset, FCNetError> {
        do { return .success(try parse()) } catch let error as FCNetError { return .failure(error) } catch {
            return .failure(.invalidConfiguration("unexpected error \(error)"))
        }
    }

    /// Asserts that every strategy and setting parses `bytes` as the reference does.
    func assertSameAsReference(_ bytes: [UInt8], _ what: String, strategies: [CSVLoader.Strategy] = strategies,
                               settings: [(label: CSVLoader.LabelColumn, task: Dataset.Task, classes: Int?)] = settings,
                               line: UInt = #line) {
        for setting in settings {
            let expected = Self.outcome {
                try ReferenceCSVLoader(label: setting.label, task: setting.task, classes: setting.classes).parse(bytes, file: "f.csv")
            }
            for strategy in strategies {
                let loader = CSVLoader(label: setting.label, task: setting.task, classes: setting.classes, strategy: strategy)
                let actual = Self.outcome { try loader.parse(bytes, file: "f.csv") }
                let context = "\(what), \(setting), \(strategy)"
                switch (expected, actual) {
                case let (.success(e), .success(a)):
                    XCTAssertEqual(a.features.map(\.bitPattern), e.features.map(\.bitPattern), context, line: line)
                    XCTAssertEqual(a.labels.map(\.bitPattern), e.labels.map(\.bitPattern), context, line: line)
                    XCTAssertEqual(a.count, e.count, context, line: line)
                    XCTAssertEqual(a.width, e.width, context, line: line)
                    XCTAssertEqual(a.featureNames, e.featureNames, context, line: line)
                    XCTAssertEqual(a.task, e.task, context, line: line)
                    XCTAssertEqual(a.fingerprint, e.fingerprint, context, line: line)
                case let (.failure(e), .failure(a)):
                    XCTAssertEqual("\(a)", "\(e)", context, line: line)
                    XCTAssertEqual(a, e, context, line: line)
                default:
                    XCTFail("\(context): expected \(expected), got \(actual)", line: line)
                }
            }
        }
    }

    func testTheCorpusParsesAsTheReferenceParserDoes() throws {
        var files: [URL] = []
        for folder in ["Tests/reliability/corpus/csv", "Tests/FCNetTests/Fixtures", "examples"] {
            let url = Self.root.appendingPathComponent(folder)
            files += try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "csv" }
        }
        XCTAssertGreaterThanOrEqual(files.count, 9)
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            assertSameAsReference(bytes, file.lastPathComponent)
        }
    }

    /// A fingerprint recorded by the parser before the fast path (the reference code, run at
    /// commit 5367e12): stores keep fingerprints, so they must not change.
    func testFingerprintsOfFixedFilesAreUnchanged() throws {
        let digits = try CSVLoader().load(path: TrainingTests.fixture("digits.csv"))
        XCTAssertEqual(digits.fingerprint, "2338c2a6a48f09b9")
        let iris = try CSVLoader().load(path: TrainingTests.fixture("iris.csv"))
        XCTAssertEqual(iris.fingerprint, "723b0f1c16b45088")
        XCTAssertEqual(digits.fingerprint, try ReferenceCSVLoader().load(path: TrainingTests.fixture("digits.csv")).fingerprint)
    }

    /// Number spellings at the edges of the fast path: exact and inexact decimals, 19 and
    /// 20 digits, 2^53 and beyond, exponents at ±22 and beyond, halfway cases of Float,
    /// signs and zeros, hex, infinities, NaN, blanks, and text that is no number.
    func testNumbersAtTheEdgesParseAsStrtodThenFloat() {
        let cells = [
            "0", "-0", "+0", "-0.0e5", "0e999999999999", "00000000000000000001", "0000000000000000000.1", ".5", "5.", "-.5",
            "1e", "1e+", "1e-", "e5", ".", "-", "+", "--1", "+-1", "1..2", "1.2.3", "1e5e5", "1E5", "1e+05", "1e-05",
            "0.1", "0.3", "0.30000000000000004", "3.14159265358979323846", "2.718281828459045", "1.17549435e-38",
            "16777216", "16777217", "16777218", "16777219", "33554433", "9007199254740992", "9007199254740993",
            "9007199254740994", "18446744073709551615", "18446744073709551616", "1234567890123456789", "12345678901234567890",
            "1e22", "1e23", "1e-22", "1e-23", "9007199254740991e22", "9007199254740993e-22", "4.5e15", "123456789e-22",
            "3.4028234e38", "3.4028235e38", "3.4028236e38", "3.5e38", "1e39", "-1e39", "1e308", "1e309", "1e-40", "1e-46",
            "1e-400", "1.00000005960464477539", "1.0000000596046448", "1.00000017881393432617", "0.500000029802322387695",
            "0x10", "0x1p3", "0X1P-2", "inf", "-inf", "INF", "infinity", "nan", "NaN", "-nan", "nan(1)",
            " 7", "7 ", "\t7\t", " \t-7.25 \t", "7 8", "\u{0B}7", "\u{0C}7", "1_000", "1,5", "١", "7\u{0}", "\u{0}7",
            "", " ", "\t", "abc", "12abc", "1d5", "1f", "0.0000000000000000001", "100000000000000000000e-20",
        ]
        for cell in cells {
            // The cell as a feature and as a label of each kind.
            let text = "x,label\n\(cell),1\n2,\(cell)\n"
            assertSameAsReference(Array(text.utf8), "cell \(cell.debugDescription)", strategies: [.chunks(1), .general])
        }
        // Random decimals of 1 to 22 significant digits and exponents -30...30, written as a
        // strtod user would: 3,000 of them in one column, parsed by chunks.
        var random = SplitMix64(seed: 20)
        var lines = ["x,label"]
        for i in 0..<3000 {
            let digits = 1 + Int(random.next() % 22)
            var mantissa = String((0..<digits).map { _ in Character(String(random.next() % 10)) })
            if random.next() % 3 == 0 {
                let point = Int(random.next() % UInt64(digits + 1))
                mantissa.insert(".", at: mantissa.index(mantissa.startIndex, offsetBy: point))
            }
            let sign = ["", "-", "+"][Int(random.next() % 3)]
            let exponent = random.next() % 2 == 0 ? "" : "e\(Int(random.next() % 61) - 30)"
            lines.append("\(sign)\(mantissa)\(exponent),\(i % 7)")
        }
        assertSameAsReference(Array((lines.joined(separator: "\n") + "\n").utf8), "random decimals",
                              strategies: [.chunks(1), .chunks(5), .general], settings: [(.automatic, .classification, nil)])
    }

    /// Decimals of 16 significant digits whose correctly rounded Double is exactly halfway
    /// between two Floats: Float(strtod(x)) then rounds to even, where a direct strtof, or a
    /// Double off by one unit in the last place, would round the other way. 1,000 of them,
    /// found from random Floats, as features and regression labels.
    func testDecimalsThatRoundToAFloatMidpointKeepStrtodsDoubleRounding() throws {
        var random = SplitMix64(seed: 24)
        var cells: [String] = []
        while cells.count < 1000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: random.next() % 0x7E00_0000) + 0x0080_0000)
            let midpoint = (Double(f) + Double(f.nextUp)) / 2
            let text = String(format: "%.15e", midpoint)
            guard strtod(text, nil) == midpoint else { continue }
            cells.append(random.next() % 2 == 0 ? text : text.replacingOccurrences(of: ".", with: "").replacingOccurrences(of: "e", with: "e-15+"))
        }
        // "1.234e5" and "1234e-15+5" (a 16-digit mantissa and an exponent, written as strtod
        // reads it: e-15+5 is not a number, so the second form is built as digits e(k-15)).
        cells = cells.map { cell in
            guard let range = cell.range(of: "e-15+") else { return cell }
            let exponent = Int(cell[range.upperBound...]) ?? 0
            return cell[..<range.lowerBound] + "e\(exponent - 15)"
        }
        let text = "x,y\n" + stride(from: 0, to: cells.count, by: 2).map { "\(cells[$0]),\(cells[$0 + 1])" }.joined(separator: "\n") + "\n"
        assertSameAsReference(Array(text.utf8), "float midpoints", strategies: [.automatic, .chunks(3)],
                              settings: [(.automatic, .regression, nil), (.none, .regression, nil)])
        let d = try CSVLoader(task: .regression).parse(text)
        XCTAssertEqual(d.features.count + d.labels.count, 1000)
    }

    /// Every refusal of the parser, alone and at rows in different chunks of a longer file,
    /// and two refusals in one file (the first is reported).
    func testEveryErrorIsTheReferencesError() {
        let broken = [
            "1,2", "1,2,0,4", "1,abc,0", "1,,0", "NaN,2,0", "1,inf,0", "1,1e999,0", "1,2,-1", "1,2,1.5", "1,2,10", "1,2,99999999",
            "\"1,2,0", "\"1\"x,2,0", "1,2,0,", ",1,2", "1, ,0", "\"1\",\"2\",\"0\"", "\"\",2,0", "1,2,\"1.5\"", "1,2\r1,2,0",
        ]
        let good = (0..<300).map { "\($0 % 13),\(Double($0) / 8),\($0 % 3)" }
        for bad in broken {
            for at in [0, 1, 150, 299, 300] {
                var rows = good
                rows.insert(bad, at: at)
                let text = "a,b,label\n" + rows.joined(separator: "\n") + "\n"
                assertSameAsReference(Array(text.utf8), "\(bad.prefix(20)) at \(at)",
                                      strategies: [.automatic, .chunks(2), .chunks(5), .chunks(40)],
                                      settings: [(.automatic, .classification, nil), (.automatic, .classification, 3),
                                                 (.automatic, .regression, nil)])
            }
        }
        // A line over the length limit, in the middle of a file.
        let long = String(repeating: "1,", count: CSVLoader.maximumLineBytes / 2 + 1) + "0"
        assertSameAsReference(Array(("a,b,label\n" + good[..<150].joined(separator: "\n") + "\n\(long)\n" + good[150...].joined(separator: "\n")).utf8),
                              "a long line", strategies: [.automatic, .chunks(3)], settings: [(.automatic, .classification, nil)])
        // Two refusals: the first in the file wins, whichever chunk finds its own first.
        var rows = good
        rows[250] = "1,x,0"
        rows[20] = "1,2"
        assertSameAsReference(Array(("a,b,label\n" + rows.joined(separator: "\n")).utf8), "two errors")
        // No data rows after blank lines, in any chunking.
        assertSameAsReference(Array("a,b,label\n\n\r\n\r\r\n\n".utf8), "blank lines only")
        assertSameAsReference(Array("a,b,label\n".utf8), "header only")
        assertSameAsReference(Array("a,b,label".utf8), "header without a line end")
        assertSameAsReference(Array("\u{FEFF}\"a\",\"b\nc\",label\r\n1,2,0\r\n".utf8), "quoted header with a line break")
    }

    /// Generated files: every line-end style (mixed too), blank lines, a last line with and
    /// without a line end, quoted cells here and there, blanks around numbers; parsed in
    /// every chunking from 1 chunk to one per line, so boundaries fall at every line.
    func testGeneratedFilesParseAsTheReferenceAtEveryChunking() {
        var random = SplitMix64(seed: 2026)
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        for file in 0..<60 {
            let columns = 2 + Int(random.next() % 5)
            let ends = file % 4 == 0 ? ["\n", "\r\n", "\r"] : [pick(["\n", "\r\n", "\r"])]
            var text = file % 5 == 0 ? "\u{FEFF}" : ""
            text += (0..<columns).map { file % 3 == 0 ? "\"c\($0)\"" : "c\($0)" }.joined(separator: ",") + pick(ends)
            let rows = 1 + Int(random.next() % 40)
            for r in 0..<rows {
                if random.next() % 6 == 0 { text += pick(ends) }  // a blank line
                let cells = (0..<columns).map { c -> String in
                    if c == columns - 1 { return String(random.next() % 4) }
                    var cell = pick(["\(random.next() % 256)", "\(Double(random.next() % 100_000) / 1000)", "-\(random.next() % 9).5",
                                     "\(random.next() % 10)e-\(random.next() % 4)", "0"])
                    if random.next() % 25 == 0 { cell = " \(cell)\t" }
                    if file % 7 == 0, random.next() % 30 == 0 { cell = "\"\(cell)\"" }
                    return cell
                }
                text += cells.joined(separator: ",")
                if r < rows - 1 || random.next() % 2 == 0 { text += pick(ends) }
            }
            let bytes = Array(text.utf8)
            let strategies = [CSVLoader.Strategy.automatic, .general] + (1...(rows + 2)).map { CSVLoader.Strategy.chunks($0) }
            assertSameAsReference(bytes, "file \(file)", strategies: strategies,
                                  settings: [(.automatic, .classification, nil), (.none, .regression, nil)])
        }
    }

    /// A file of over 1 MiB takes the parallel path with `.automatic`; blank lines scattered
    /// in it leave rows to move down, a CRLF pair may straddle a chunk's even share.
    func testALargeFileIsParsedInParallelAsTheReferenceDoes() {
        var random = SplitMix64(seed: 7)
        var text = "label," + (0..<64).map { "p\($0)" }.joined(separator: ",") + "\r\n"
        var rows = 0
        while text.utf8.count < 3 << 20 {
            if random.next() % 50 == 0 { text += "\r\n" }
            text += "\(random.next() % 10)," + (0..<64).map { _ in random.next() % 5 == 0 ? "\(random.next() % 256)" : "0" }.joined(separator: ",") + "\r\n"
            rows += 1
        }
        assertSameAsReference(Array(text.utf8), "3 MiB, \(rows) rows", strategies: [.automatic, .chunks(3)],
                              settings: [(.automatic, .classification, nil)])
    }

    /// Progress: the first report at 0 rows, the last one finished with every row, bytes and
    /// rows never decreasing, all from the calling thread.
    func testProgressIsReportedInOrderFromTheCallingThread() throws {
        let text = "label,x\n" + (0..<100_000).map { "\($0 % 10),\($0)" }.joined(separator: "\n") + "\n"
        var reports: [LoadingProgress.Report] = []
        var threads = Set<String>()
        let caller = "\(pthread_self())"
        LoadingProgress.observer = { report in
            reports.append(report)
            threads.insert("\(pthread_self())")
        }
        defer { LoadingProgress.observer = nil }
        let data = try CSVLoader(strategy: .chunks(4)).parse(text)
        XCTAssertEqual(data.count, 100_000)
        XCTAssertEqual(threads, [caller])
        let first = try XCTUnwrap(reports.first), last = try XCTUnwrap(reports.last)
        XCTAssertEqual(first.rows, 0)
        XCTAssertFalse(first.finished)
        XCTAssertTrue(last.finished)
        XCTAssertEqual(last.rows, 100_000)
        XCTAssertEqual(last.bytesRead, text.utf8.count)
        XCTAssertGreaterThan(reports.count, 10)
        for (a, b) in zip(reports, reports.dropFirst()) {
            XCTAssertLessThanOrEqual(a.rows, b.rows)
            XCTAssertLessThanOrEqual(a.bytesRead, b.bytesRead)
        }
    }
}
