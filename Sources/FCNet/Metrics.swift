/// The metrics `evaluate` reports, computed from a model's outputs and the true
/// labels in Double precision. Edge cases follow scikit-learn (1.9) with
/// `zero_division=0`: a precision, recall or F1 whose denominator is 0 is 0.
public enum Metrics {
    /// Regression metrics of predictions ŷ against targets y (n rows).
    public struct Regression: Equatable, Sendable {
        /// (1/n) Σ (y − ŷ)².
        public var mse: Double
        /// √MSE.
        public var rmse: Double
        /// (1/n) Σ |y − ŷ|.
        public var mae: Double
        /// 1 − Σ (y − ŷ)² / Σ (y − ȳ)²; when every y is equal: 1 if every ŷ = y, else 0
        /// (scikit-learn's `force_finite`). Nil with fewer than two rows (undefined).
        public var r2: Double?
    }

    /// Classification metrics over K classes (K = the outputs, or 2 for one sigmoid output).
    public struct Classification: Equatable, Sendable {
        /// Correct predictions / n.
        public var accuracy: Double
        /// confusion[true][predicted], K × K.
        public var confusion: [[Int]]
        /// Per class k: TP_k / (TP_k + FP_k), 0 when nothing was predicted as k.
        public var precision: [Double]
        /// Per class k: TP_k / (TP_k + FN_k), 0 when no row has label k.
        public var recall: [Double]
        /// Per class k: 2·TP_k / (2·TP_k + FP_k + FN_k), 0 when the denominator is 0.
        public var f1: [Double]
        /// Per class k: the number of rows with label k.
        public var support: [Int]
        /// The unweighted mean of `f1` over all K classes.
        public var macroF1: Double
        /// Two classes only: the area under the ROC curve of the class-1 score (output 1
        /// of a softmax pair, or the single sigmoid output); ties count one half. Nil for
        /// more classes, or when the labels hold only one class (undefined).
        public var rocAUC: Double?
    }

    /// - Parameters:
    ///   - predictions: ŷ, one per row.
    ///   - targets: y, as many.
    public static func regression(predictions: [Float], targets: [Float]) -> Regression {
        let n = targets.count
        guard n > 0, predictions.count == n else { return Regression(mse: .nan, rmse: .nan, mae: .nan, r2: nil) }
        var squares = 0.0, absolutes = 0.0, sum = 0.0
        for i in 0..<n {
            let error = Double(targets[i]) - Double(predictions[i])
            squares += error * error
            absolutes += abs(error)
            sum += Double(targets[i])
        }
        let mean = sum / Double(n)
        var total = 0.0
        for y in targets { total += (Double(y) - mean) * (Double(y) - mean) }
        let r2: Double?
        if n < 2 {
            r2 = nil
        } else if total == 0 {
            r2 = squares == 0 ? 1 : 0
        } else {
            r2 = 1 - squares / total
        }
        let mse = squares / Double(n)
        return Regression(mse: mse, rmse: mse.squareRoot(), mae: absolutes / Double(n), r2: r2)
    }

    /// The predicted class of one row of outputs: the first largest output, or
    /// output ≥ 0.5 for a single (sigmoid) output.
    public static func predictedClass(_ row: ArraySlice<Float>) -> Int {
        if row.count == 1 { return row[row.startIndex] >= 0.5 ? 1 : 0 }
        var best = row.startIndex
        for index in row.indices where row[index] > row[best] { best = index }
        return best - row.startIndex
    }

    /// - Parameters:
    ///   - outputs: n rows of `width` outputs, row-major.
    ///   - labels: n class labels (whole numbers below K).
    public static func classification(outputs: [Float], width: Int, labels: [Float]) -> Classification {
        let n = labels.count
        let k = width == 1 ? 2 : width
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var correct = 0
        for r in 0..<n {
            let predicted = predictedClass(outputs[(r * width)..<((r + 1) * width)])
            let label = Int(labels[r])
            guard label >= 0, label < k else { continue }
            confusion[label][predicted] += 1
            if label == predicted { correct += 1 }
        }
        var precision: [Double] = [], recall: [Double] = [], f1: [Double] = [], support: [Int] = []
        for c in 0..<k {
            let tp = confusion[c][c]
            let actual = confusion[c].reduce(0, +)
            let predicted = confusion.reduce(0) { $0 + $1[c] }
            precision.append(predicted == 0 ? 0 : Double(tp) / Double(predicted))
            recall.append(actual == 0 ? 0 : Double(tp) / Double(actual))
            let denominator = predicted + actual  // (TP + FP) + (TP + FN) = 2·TP + FP + FN
            f1.append(denominator == 0 ? 0 : Double(2 * tp) / Double(denominator))
            support.append(actual)
        }
        var rocAUC: Double? = nil
        if k == 2 {
            let scores = (0..<n).map { outputs[$0 * width + width - 1] }
            rocAUC = areaUnderROC(scores: scores, positive: labels.map { $0 == 1 })
        }
        return Classification(
            accuracy: n == 0 ? .nan : Double(correct) / Double(n), confusion: confusion, precision: precision,
            recall: recall, f1: f1, support: support, macroF1: f1.reduce(0, +) / Double(k), rocAUC: rocAUC)
    }

    /// The area under the ROC curve by the rank-sum (Mann–Whitney U) formula,
    /// AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋), with tied scores given their mean rank;
    /// nil when either class is absent.
    static func areaUnderROC(scores: [Float], positive: [Bool]) -> Double? {
        let positives = positive.filter { $0 }.count, negatives = positive.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, scores[order[end]] == scores[order[start]] { end += 1 }
            // Ranks start + 1 ... end share their mean.
            let rank = Double(start + 1 + end) / 2
            for i in start..<end where positive[order[i]] { rankSum += rank }
            start = end
        }
        let p = Double(positives)
        return (rankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }
}
