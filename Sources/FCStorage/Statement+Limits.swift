import FCSQLite

extension Statement {
    /// An integer column that must lie in `range` (an epoch, a layer number, a size read
    /// from a store or a bundle, which anyone can edit), checked here so that no caller
    /// does arithmetic on a value out of range.
    /// - Throws: `StoreError.outOfRange` naming `field`.
    func int(at index: Int32, in range: ClosedRange<Int>, field: String) throws -> Int {
        let value = int64(at: index)
        guard isInteger(at: index), let int = Int(exactly: value), range.contains(int) else {
            throw StoreError.outOfRange(field: field, value: describedValue(at: index), range: range)
        }
        return int
    }

    /// As `int(at:in:field:)`, nil for NULL.
    func optionalInt(at index: Int32, in range: ClosedRange<Int>, field: String) throws -> Int? {
        isNull(at: index) ? nil : try int(at: index, in: range, field: field)
    }
}
