/// Batched forward passes over a whole data set (validation, `Model.evaluate`).
enum Evaluator {
    /// Runs the network over `features` in chunks of the network's capacity.
    /// - Returns: Σ C_r and the number of correctly classified rows; fills `confusion`
    ///   (K × K, row = label, column = prediction) when given.
    static func run(
        net: Network, parameters: UnsafePointer<Float>, features: [Float], labels: [Float], width: Int,
        classify: Bool, confusion: UnsafeMutablePointer<Int>?, classes: Int = 0,
        outputs: UnsafeMutablePointer<Float>? = nil
    ) -> (loss: Double, correct: Int) {
        let count = labels.count, n = net.spec.outputSize
        var loss = 0.0, correct = 0
        features.withUnsafeBufferPointer { f in
            labels.withUnsafeBufferPointer { y in
                var offset = 0
                while offset < count {
                    let rows = min(net.capacity, count - offset)
                    net.forward(parameters: parameters, x: f.baseAddress! + offset * width, rows: rows)
                    let r = net.cost(labels: y.baseAddress! + offset, rows: rows, classify: classify)
                    loss += r.loss; correct += r.correct
                    if let outputs { (outputs + offset * n).update(from: net.output, count: rows * n) }
                    if let confusion {
                        for i in 0..<rows {
                            let t = Int(y[offset + i]), p = net.predictedClass(net.output + i * n, n)
                            if t < classes && p < classes { confusion[t * classes + p] += 1 }
                        }
                    }
                    offset += rows
                }
            }
        }
        return (loss, correct)
    }
}
