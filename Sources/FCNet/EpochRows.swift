import CKernels

/// The training rows of one epoch in the epoch's order, and the buffers a shuffled epoch
/// gathers each batch into: the one place rows are gathered (`Trainer` on one thread,
/// `SplitStep` part by part).
struct EpochRows {
    /// The whole data set: `count` rows of `width` features, and their labels.
    let features: UnsafePointer<Float>
    let labels: UnsafePointer<Float>
    let count: Int
    let width: Int
    /// Epoch position i holds row order[i] (a shuffled epoch); nil: row i (the rows are read in place).
    let order: UnsafePointer<Int32>?
    /// A batch's gathered A^0 (batch capacity × width) and labels.
    let xBatch: UnsafeMutablePointer<Float>
    let labelBatch: UnsafeMutablePointer<Float>

    /// A^0 and the labels of the batch that starts at epoch position `offset`. In a shuffled
    /// epoch, first copies its rows r0 ..< r1 into `xBatch`/`labelBatch` (row r from epoch
    /// position offset + r), then asks the CPU to fetch the rows at epoch positions `ahead`
    /// into cache while these compute: a shuffled data set larger than the cache is otherwise
    /// read row by row at memory latency.
    func batch(at offset: Int, gathering r0: Int, _ r1: Int, ahead: Range<Int>) -> (x: UnsafePointer<Float>, labels: UnsafePointer<Float>) {
        let w = width
        guard let order else { return (features + offset * w, labels + offset) }
        for r in r0..<r1 {
            let i = Int(order[offset + r])
            (xBatch + r * w).update(from: features + i * w, count: w)
            labelBatch[r] = labels[i]
        }
        let next = ahead.clamped(to: 0..<count)
        if !next.isEmpty { fck_prefetch_rows(features, order + next.lowerBound, next.count, w) }
        return (UnsafePointer(xBatch), UnsafePointer(labelBatch))
    }
}
