import XCTest
@testable import FCNet

final class DataTests: XCTestCase {
    func refusal(_ text: String, _ loader: CSVLoader = CSVLoader(), file: String = "digits.csv",
                 line: UInt = #line) -> String {
        do {
            _ = try loader.parse(text, file: file)
            XCTFail("accepted", line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testEveryCSVRefusalNamesFileLineAndColumn() {
        XCTAssertEqual(refusal(""), "digits.csv:1: the file is empty; expected a header row and data rows.")
        XCTAssertEqual(refusal("\u{FEFF}\r\n\n"), "digits.csv:1: the file is empty; expected a header row and data rows.")
        XCTAssertEqual(refusal("a,b,label\n"), "digits.csv:2: the file has a header but no data rows.")
        XCTAssertEqual(refusal("a,b,label"), "digits.csv:1: the file has a header but no data rows.")
        XCTAssertEqual(refusal("label\n1\n"), "digits.csv:1: the header has 1 column; it needs at least one feature column and a label column.")
        XCTAssertEqual(refusal("a,b,label\n1,2,0\n1,2\n"), "digits.csv:3:3: the row has 2 fields but the header has 3.")
        XCTAssertEqual(refusal("a,b,label\n1,2,0,4\n"), "digits.csv:2:4: the row has 4 fields but the header has 3.")
        XCTAssertEqual(refusal("a,b,label\n1,2,0\n1,abc,0\n"), "digits.csv:3:2: \"abc\" is not a number.")
        XCTAssertEqual(refusal("a,b,label\n1,,0\n"), "digits.csv:2:2: the cell is empty; expected a number.")
        XCTAssertEqual(refusal("a,b,label\n1,2,0\n\n\nNaN,2,0\n"), "digits.csv:5:1: \"NaN\" is not a finite number.")
        XCTAssertEqual(refusal("a,b,label\n1,inf,0\n"), "digits.csv:2:2: \"inf\" is not a finite number.")
        XCTAssertEqual(refusal("a,b,label\n1,1e999,0\n"), "digits.csv:2:2: \"1e999\" is not a finite number.")
        XCTAssertEqual(refusal("a,b,label\n1,2,-1\n"), "digits.csv:2:3: \"-1\" is not a class label; labels must be whole numbers 0, 1, 2, ...")
        XCTAssertEqual(refusal("a,b,label\n1,2,1.5\n"), "digits.csv:2:3: \"1.5\" is not a class label; labels must be whole numbers 0, 1, 2, ...")
        XCTAssertEqual(refusal("a,b,label\n1,2,0\n1,2,10\n", CSVLoader(classes: 10)),
                       "digits.csv:3:3: the label \"10\" is out of range; the output layer has 10 classes, labelled 0 to 9.")
        XCTAssertEqual(refusal("a,b,label\n\"1,2,0\n"), "digits.csv:2:1: a quoted field is not closed; add the closing quote.")
        XCTAssertEqual(refusal("a,b,label\n\"1\"x,2,0\n"), "digits.csv:2:1: unexpected text after a closing quote; quote the whole field.")
        XCTAssertEqual(refusal("a,b,c\n1,2,0\n", CSVLoader(label: .name("species"))),
                       "digits.csv:1: no column is named \"species\"; the columns are a, b, c.")
        XCTAssertEqual(refusal("a,b,c\n1,2,0\n", CSVLoader(label: .index(3))),
                       "digits.csv:1: there is no column 3; the columns are numbered 0 to 2.")
    }

    func testCSVAcceptsBOMCRLFQuotesAndLabelChoices() throws {
        let text = "\u{FEFF}\"x 1\",label,\"y\"\r\n\"1.5\", 2 ,\"-3\"\r\n4,0,5e-1\r\n\r\n"
        let d = try CSVLoader().parse(text)
        XCTAssertEqual(d.featureNames, ["x 1", "y"])
        XCTAssertEqual(d.features, [1.5, -3, 4, 0.5])
        XCTAssertEqual(d.labels, [2, 0])
        XCTAssertEqual(d.count, 2)
        XCTAssertEqual(d.width, 2)
        XCTAssertEqual(d.classCount, 3)
        // No column named label: the last one.
        let last = try CSVLoader().parse("a,b,c\n1,2,3\n")
        XCTAssertEqual(last.labels, [3])
        XCTAssertEqual(try CSVLoader(label: .index(0)).parse("a,b,c\n1,2,3\n").labels, [1])
        XCTAssertEqual(try CSVLoader(label: .name("b")).parse("a,b,c\n1,2,3\n").labels, [2])
        XCTAssertEqual(try CSVLoader(label: .name("1")).parse("a,b,c\n1,2,3\n").labels, [2])
        // Regression targets may be fractional and negative.
        let r = try CSVLoader(task: .regression).parse("a,target\n1,-2.5\n")
        XCTAssertEqual(r.labels, [-2.5])
        XCTAssertEqual(r.task, .regression)
        // Quoted fields with "" and a line break inside keep later line numbers right.
        XCTAssertEqual(refusal("\"a\n\",label\n1,0\n2,x\n", CSVLoader(task: .regression)), "digits.csv:4:2: \"x\" is not a number.")
        XCTAssertEqual(refusal("\"a\"\"q\",label\n1,0\r2,x\r", CSVLoader(task: .regression)), "digits.csv:3:2: \"x\" is not a number.")
    }

    func testFixturesLoad() throws {
        let path = try TrainingTests.fixture("digits.csv")
        let d = try CSVLoader().load(path: path)
        XCTAssertEqual(d.count, 1797)
        XCTAssertEqual(d.width, 64)
        XCTAssertEqual(d.classCount, 10)
        XCTAssertEqual(d.fingerprint.count, 16)
        XCTAssertEqual(d.fingerprint, try CSVLoader().load(path: path).fingerprint)
        var changed = d
        changed.features[100] += 1
        XCTAssertNotEqual(changed.fingerprint, d.fingerprint)
        let iris = try CSVLoader().load(path: TrainingTests.fixture("iris.csv"))
        XCTAssertEqual(iris.count, 150)
        XCTAssertEqual(iris.featureNames, ["sepal_length", "sepal_width", "petal_length", "petal_width"])
        XCTAssertThrowsError(try CSVLoader().load(path: "/nonexistent/x.csv")) {
            XCTAssertEqual("\($0)", "/nonexistent/x.csv: cannot be read; check that the file exists and is readable.")
        }
    }

    func testSplitIsSeededAndDisjoint() throws {
        let d = try Dataset(features: (0..<100).map(Float.init), labels: [Float](repeating: 0, count: 100), width: 1)
        let (a, b) = try d.split(validationFraction: 0.2, seed: 5)
        let (a2, b2) = try d.split(validationFraction: 0.2, seed: 5)
        let (_, b3) = try d.split(validationFraction: 0.2, seed: 6)
        XCTAssertEqual(b.count, 20)
        XCTAssertEqual(a.count, 80)
        XCTAssertEqual(a, a2); XCTAssertEqual(b, b2)
        XCTAssertNotEqual(b.features, b3.features)
        XCTAssertEqual(Set(a.features + b.features).count, 100)
        XCTAssertThrowsError(try d.split(validationFraction: 1, seed: 1))
    }

    func testNormalizerMinMaxAndStandard() throws {
        let d = try Dataset(features: [0, 5, 2, 5, 4, 5], labels: [0, 0, 0], width: 2)
        let mm = Normalizer.fit(.minmax, to: d)
        XCTAssertEqual(mm.shift, [0, 5]); XCTAssertEqual(mm.scale, [0.25, 1])
        XCTAssertEqual(try mm.applied(to: d).features, [0, 0, 0.5, 0, 1, 0])
        let st = Normalizer.fit(.standard, to: d)
        XCTAssertEqual(st.shift, [2, 5])
        XCTAssertEqual(Double(st.scale[0]), 1 / (8.0 / 3).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(st.scale[1], 1)
        let json = try JSONEncoder().encode(st)
        XCTAssertEqual(try JSONDecoder().decode(Normalizer.self, from: json), st)
        XCTAssertEqual(try Normalizer.fit(.none, to: d).applied(to: d), d)
        var wrong = [Float](repeating: 0, count: 3)
        XCTAssertThrowsError(try mm.apply(to: &wrong, width: 3))
    }

    // MARK: IDX

    static func idx(type: UInt8 = 8, dims: [Int], data: [UInt8]) -> [UInt8] {
        var b: [UInt8] = [0, 0, type, UInt8(dims.count)]
        for d in dims { b += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return b + data
    }

    func testIDXReadsImagesAndLabels() throws {
        let images = Self.idx(dims: [2, 2, 3], data: [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255])
        let labels = Self.idx(dims: [2], data: [7, 3])
        let d = try IDXLoader.parse(images: images, labels: labels)
        XCTAssertEqual(d.count, 2)
        XCTAssertEqual(d.width, 6)
        XCTAssertEqual(d.features, [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255])
        XCTAssertEqual(d.labels, [7, 3])
    }

    func testIDXHeadersAreChecked() {
        let labels = Self.idx(dims: [2], data: [1, 2])
        func refusal(_ images: [UInt8], _ labels: [UInt8], classes: Int? = nil) -> String {
            do { _ = try IDXLoader.parse(images: images, labels: labels, classes: classes); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal([0, 0], labels), "images.idx3-ubyte: is too short (2 bytes) to be an IDX file.")
        XCTAssertEqual(refusal([1, 0, 8, 3], labels), "images.idx3-ubyte: is not an IDX file: it does not start with two zero bytes.")
        XCTAssertEqual(refusal(Self.idx(type: 0x0D, dims: [2, 1, 1], data: [1, 2]), labels),
                       "images.idx3-ubyte: uses IDX data type 0xd; only unsigned bytes (0x08) are supported.")
        XCTAssertEqual(refusal(Self.idx(dims: [2, 2], data: [1, 2, 3, 4]), labels),
                       "images.idx3-ubyte: has 2 dimensions; an image file (idx3-ubyte) has 3.")
        XCTAssertEqual(refusal([0, 0, 8, 3, 0, 0, 0, 2], labels), "images.idx3-ubyte: is truncated inside its header.")
        XCTAssertEqual(refusal(Self.idx(dims: [2, 2, 2], data: [1, 2, 3]), labels),
                       "images.idx3-ubyte: is truncated: its header declares 8 data bytes but only 3 follow.")
        XCTAssertEqual(refusal(Self.idx(dims: [2, 1, 1], data: [1, 2, 3]), labels),
                       "images.idx3-ubyte: has 1 byte more than the 2 data bytes its header declares.")
        XCTAssertEqual(refusal(Self.idx(dims: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], data: []), labels),
                       "images.idx3-ubyte: declares more data than the 2147483648-byte limit.")
        XCTAssertEqual(refusal(Self.idx(dims: [3, 1, 1], data: [1, 2, 3]), labels),
                       "labels.idx1-ubyte: holds 2 labels but images.idx3-ubyte holds 3 images.")
        XCTAssertEqual(refusal(Self.idx(dims: [2, 1, 1], data: [1, 2]), Self.idx(dims: [2], data: [1, 12]), classes: 10),
                       "labels.idx1-ubyte: label 12 of item 1 is out of range; the output layer has 10 classes, labelled 0 to 9.")
        XCTAssertEqual(refusal(Self.idx(dims: [0, 1, 1], data: []), Self.idx(dims: [0], data: [])),
                       "images.idx3-ubyte: holds no images.")
    }
}
