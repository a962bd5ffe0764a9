import XCTest
@testable import FCNet

final class VectorMathTests: XCTestCase {
    /// The vectorised exp is within a few ulp of libm's, and vector lanes equal the scalar tail.
    func testExpSigmoidTanhAccuracyAndLaneConsistency() {
        let xs: [Float] = stride(from: -100.0, through: 100.0, by: 0.0137).map { Float($0) } + [0, -0, 88.0, -87.3, 1e-30]
        var e = [Float](repeating: 0, count: xs.count), s = e, t = e
        xs.withUnsafeBufferPointer { x in
            e.withUnsafeMutableBufferPointer { VectorMath.exp(x.baseAddress!, $0.baseAddress!, xs.count) }
            s.withUnsafeMutableBufferPointer { VectorMath.sigmoid(x.baseAddress!, $0.baseAddress!, xs.count) }
            t.withUnsafeMutableBufferPointer { VectorMath.tanh(x.baseAddress!, $0.baseAddress!, xs.count) }
        }
        for (i, x) in xs.enumerated() {
            XCTAssertEqual(e[i], VectorMath.exp(x), "lane vs scalar at \(x)")
            XCTAssertEqual(s[i], VectorMath.sigmoid(x))
            XCTAssertEqual(t[i], VectorMath.tanh(x))
            let d = Double(x)
            if d > -87, d < 88 {
                let want = Foundation.exp(d)
                XCTAssertEqual(Double(e[i]), want, accuracy: 4e-7 * want, "exp(\(x))")
            }
            XCTAssertEqual(Double(s[i]), 1 / (1 + Foundation.exp(-d)), accuracy: 2e-7, "sigmoid(\(x))")
            XCTAssertEqual(Double(t[i]), Foundation.tanh(d), accuracy: 4e-7, "tanh(\(x))")
            XCTAssertTrue(e[i].isFinite && s[i] >= 0 && s[i] <= 1 && abs(t[i]) <= 1)
        }
    }
}
