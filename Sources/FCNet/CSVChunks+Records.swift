/// One chunk's records and numbers, on raw bytes (see `CSVChunks` for what is taken).
extension CSVChunks {
    private static let comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D, quote: UInt8 = 0x22
    private static let space: UInt8 = 0x20, tab: UInt8 = 0x09, plus: UInt8 = 0x2B, minus: UInt8 = 0x2D, dot: UInt8 = 0x2E
    /// 10^0 ... 10^22, each exact in a Double.
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Parses the records in bytes `start..<end` (a chunk that starts at a record) into
    /// `features` (`layout.width` a row) and `labels`, at most `rowCapacity` rows.
    static func parseChunk(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, layout: Layout, rowCapacity: Int,
                           features: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Float>,
                           progress: Progress, reports: Bool) -> Outcome {
        powersOfTen.withUnsafeBufferPointer { powers in
            parseChunk(base, from: start, to: end, layout: layout, rowCapacity: rowCapacity, features: features, labels: labels,
                       progress: progress, reports: reports, powers: powers.baseAddress!)
        }
    }

    /// The record loop. Every record in `start..<end` ends with a line end before `end` (the
    /// chunk ends with one), so the scans within a record stop at it without bounds checks.
    private static func parseChunk(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, layout: Layout, rowCapacity: Int,
                                   features: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Float>,
                                   progress: Progress, reports: Bool, powers: UnsafePointer<Double>) -> Outcome {
        var outcome = Outcome()
        var scratch = [CChar](repeating: 0, count: 64)
        var p = start, reported = start, reportedRows = 0
        let columns = layout.columns, labelColumn = layout.labelColumn, width = layout.width
        defer { progress.add(bytes: p - reported, rows: outcome.rows - reportedRows, reports: reports) }
        while p < end {
            // Blank lines are skipped, as the general reader does.
            if base[p] == lf {
                p += 1
                outcome.lineEnds += 1
                continue
            }
            if base[p] == cr {
                p += 1
                if p < end, base[p] == lf { p += 1 }
                outcome.lineEnds += 1
                continue
            }
            let recordStart = p
            guard outcome.rows < rowCapacity else {
                outcome.stop = recordStart
                return outcome
            }
            let row = features + outcome.rows * width
            var column = 0, feature = 0
            while true {
                // Most cells are whole numbers of up to 15 digits (below 2^53): read inline.
                var q = p, byte = base[q]
                let negative = byte == minus
                if negative {
                    q += 1
                    byte = base[q]
                }
                let digitsStart = q
                var m: UInt64 = 0
                while byte &- 0x30 <= 9 {
                    m = m &* 10 &+ UInt64(byte &- 0x30)
                    q += 1
                    byte = base[q]
                }
                var value: Double
                if byte == comma || byte == lf || byte == cr, q > digitsStart, q - digitsStart <= 15 {
                    value = Double(m)
                    if negative { value = -value }
                    p = q
                } else if case let (v, next)? = number(base, p, powers) {
                    value = v
                    p = next
                } else {
                    // Not a number the fast path reads: the field whole, through strtod.
                    q = p
                    while base[q] != comma, base[q] != lf, base[q] != cr { q += 1 }
                    guard q > p, base[p] != quote,
                          let v = CSVLoader.number(UnsafeBufferPointer(start: base + p, count: q - p)[...], &scratch),
                          v.isFinite, Float(v).isFinite
                    else {
                        outcome.stop = recordStart
                        return outcome
                    }
                    value = v
                    p = q
                }
                if column == labelColumn {
                    guard !layout.classLabels || (value >= 0 && value == value.rounded() && value < layout.labelLimit) else {
                        outcome.stop = recordStart
                        return outcome
                    }
                    labels[outcome.rows] = Float(value)
                } else {
                    row[feature] = Float(value)
                    feature += 1
                }
                column += 1
                // The field ends at a comma or a line end.
                if base[p] == comma {
                    guard column < columns else {
                        outcome.stop = recordStart
                        return outcome
                    }
                    p += 1
                    continue
                }
                guard column == columns, p - recordStart <= CSVLoader.maximumLineBytes else {
                    outcome.stop = recordStart
                    return outcome
                }
                p += base[p] == cr && p + 1 < end && base[p + 1] == lf ? 2 : 1
                outcome.lineEnds += 1
                break
            }
            if labelColumn < 0 { labels[outcome.rows] = 0 }
            outcome.rows += 1
            if outcome.rows - reportedRows == LoadingProgress.interval {
                progress.add(bytes: p - reported, rows: outcome.rows - reportedRows, reports: reports)
                reported = p
                reportedRows = outcome.rows
            }
        }
        return outcome
    }

    /// The number at `p` and the index of the comma or line end that follows it, when the
    /// field is `[blanks][+-]digits[.digits][(e|E)[+-]digits][blanks]` with 1 to 19 digits
    /// and a value the fast path computes exactly as strtod does; nil for any other field.
    /// The field must end with a line end at the latest (no bounds are checked).
    static func number(_ s: UnsafePointer<UInt8>, _ start: Int, _ powers: UnsafePointer<Double>) -> (Double, Int)? {
        var p = start
        while s[p] == space || s[p] == tab { p += 1 }
        var negative = false
        if s[p] == minus || s[p] == plus {
            negative = s[p] == minus
            p += 1
        }
        var m: UInt64 = 0
        let integerStart = p
        while s[p] &- 0x30 <= 9 {
            m = m &* 10 &+ UInt64(s[p] &- 0x30)
            p += 1
        }
        var digits = p - integerStart, scale = 0
        if s[p] == dot {
            p += 1
            let fractionStart = p
            while s[p] &- 0x30 <= 9 {
                m = m &* 10 &+ UInt64(s[p] &- 0x30)
                p += 1
            }
            scale = p - fractionStart
            digits += scale
        }
        guard digits > 0, digits <= 19 else { return nil }
        var exponent = -scale
        if s[p] | 0x20 == 0x65 {  // e or E
            p += 1
            var negativeExponent = false
            if s[p] == minus || s[p] == plus {
                negativeExponent = s[p] == minus
                p += 1
            }
            let exponentStart = p
            var x = 0
            while s[p] &- 0x30 <= 9 {
                if x < 100_000 { x = x * 10 + Int(s[p] &- 0x30) }
                p += 1
            }
            guard p > exponentStart else { return nil }
            exponent += negativeExponent ? -x : x
        }
        while s[p] == space || s[p] == tab { p += 1 }
        guard s[p] == comma || s[p] == lf || s[p] == cr else { return nil }
        var value = 0.0
        if m != 0 {
            guard m <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
            value = Double(m)
            if exponent > 0 {
                value *= powers[exponent]
            } else if exponent < 0 {
                value /= powers[-exponent]
            }
        }
        return (negative ? -value : value, p)
    }
}
