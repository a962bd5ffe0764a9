import XCTest
@testable import FCNet

/// Metrics with values fixed by hand (scikit-learn's definitions, zero_division=0).
final class MetricsTests: XCTestCase {
    func testRegression() {
        let m = Metrics.regression(predictions: [1, 2, 4], targets: [1, 3, 2])
        XCTAssertEqual(m.mse, 5.0 / 3)
        XCTAssertEqual(m.rmse, (5.0 / 3).squareRoot())
        XCTAssertEqual(m.mae, 1)
        // ȳ = 2, Σ(y−ȳ)² = 2, Σ(y−ŷ)² = 5.
        XCTAssertEqual(m.r2, 1 - 5.0 / 2)
        // Constant targets: 1 when exact, else 0; one row: undefined.
        XCTAssertEqual(Metrics.regression(predictions: [2, 2], targets: [2, 2]).r2, 1)
        XCTAssertEqual(Metrics.regression(predictions: [2, 3], targets: [2, 2]).r2, 0)
        XCTAssertNil(Metrics.regression(predictions: [2], targets: [3]).r2)
    }

    func testClassificationWithAClassNeverPredicted() {
        // Three classes, outputs argmax: predicted 0, 0, 1, 1, 0; labels 0, 1, 1, 2, 0.
        let outputs: [Float] = [0.9, 0.1, 0, 0.8, 0.2, 0, 0.1, 0.7, 0.2, 0.2, 0.5, 0.3, 0.6, 0.3, 0.1]
        let m = Metrics.classification(outputs: outputs, width: 3, labels: [0, 1, 1, 2, 0])
        XCTAssertEqual(m.confusion, [[2, 0, 0], [1, 1, 0], [0, 1, 0]])
        XCTAssertEqual(m.accuracy, 3.0 / 5)
        XCTAssertEqual(m.precision, [2.0 / 3, 1.0 / 2, 0])
        XCTAssertEqual(m.recall, [1, 1.0 / 2, 0])
        XCTAssertEqual(m.f1, [4.0 / 5, 2.0 / 4, 0])
        XCTAssertEqual(m.support, [2, 2, 1])
        XCTAssertEqual(m.macroF1, (4.0 / 5 + 0.5 + 0) / 3)
        XCTAssertNil(m.rocAUC)
    }

    func testBinaryROCAUCCountsTiesAsHalf() {
        // Sigmoid scores 0.1 (neg), 0.4 (pos), 0.4 (neg), 0.8 (pos): pairs (pos, neg) ordered
        // right: (0.4, 0.1), (0.8, 0.1), (0.8, 0.4); tied: (0.4, 0.4) → (3 + 0.5) / 4.
        let m = Metrics.classification(outputs: [0.1, 0.4, 0.4, 0.8], width: 1, labels: [0, 1, 0, 1])
        XCTAssertEqual(m.rocAUC, 3.5 / 4)
        XCTAssertEqual(m.confusion, [[2, 0], [1, 1]])
        // A softmax pair scores class 1 by its second output.
        let pair = Metrics.classification(outputs: [0.9, 0.1, 0.6, 0.4, 0.6, 0.4, 0.2, 0.8], width: 2, labels: [0, 1, 0, 1])
        XCTAssertEqual(pair.rocAUC, 3.5 / 4)
        // One class only: undefined.
        XCTAssertNil(Metrics.classification(outputs: [0.1, 0.7], width: 1, labels: [1, 1]).rocAUC)
    }
}
