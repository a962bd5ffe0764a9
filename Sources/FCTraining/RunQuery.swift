import FCStorage
import Foundation

// Finding runs: `KEY OP VALUE` conditions, sort keys and columns over a store's
// run listing, evaluated in Swift over the decoded rows (the same for every SQL
// backend). The keys are resolved by `RunFields`.

/// A run's value under a query key: a number (compared numerically) or text.
public enum RunValue: Equatable, Sendable {
    case number(Double)
    case text(String)

    /// The value as text: integers without a decimal point, other numbers in Swift's shortest form (0.05).
    public var text: String {
        switch self {
        case .number(let value): return RunValue.format(value)
        case .text(let text): return text
        }
    }

    static func format(_ value: Double) -> String {
        if value.isFinite, value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// Why a condition, sort key or column cannot be used; the facts for the CLI to word.
public enum RunQueryError: Error, Equatable, Sendable {
    /// The text is not `KEY OP VALUE` with OP one of `= != < <= > >=`.
    case malformedCondition(String)
    /// No run field, configuration field, metric or tag has this key; `valid` lists the keys there are.
    case unknownKey(String, valid: [String])
}

/// One `KEY OP VALUE` condition.
public struct RunCondition: Equatable, Sendable {
    public enum Operator: String, CaseIterable, Sendable {
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    public var key: String
    public var op: Operator
    public var value: String

    /// Parses `KEY OP VALUE`, spaces around OP optional: `learning_rate<0.05`,
    /// `tag.team = vision`. The key ends at the first of `< > ! =`; the value is
    /// the rest, trimmed (it may contain any character, `=` included).
    /// - Throws: `RunQueryError.malformedCondition`.
    public init(parsing text: String) throws {
        let malformed = RunQueryError.malformedCondition(text)
        guard let start = text.firstIndex(where: { "<>!=".contains($0) }) else { throw malformed }
        let rest = text[start...]
        guard let op = Operator(rawValue: String(rest.prefix(2))) ?? Operator(rawValue: String(rest.prefix(1))) else { throw malformed }
        key = text[..<start].trimmingCharacters(in: .whitespaces)
        self.op = op
        value = rest.dropFirst(op.rawValue.count).trimmingCharacters(in: .whitespaces)
        // "a==b" and "a=<b" are typing mistakes, not a value starting with an operator.
        guard !key.isEmpty, !value.hasPrefix("="), !value.hasPrefix("<"), !value.hasPrefix(">") else { throw malformed }
    }

    /// Whether `actual` satisfies the condition. A missing value never does (as
    /// SQL's NULL), for `!=` too. A number is compared numerically with a VALUE
    /// that reads as a number, text compared as text (Unicode order) otherwise.
    public func matches(_ actual: RunValue?) -> Bool {
        guard let actual else { return false }
        let order: ComparisonResult
        if case .number(let number) = actual, let wanted = Double(value) {
            guard !number.isNaN, !wanted.isNaN else { return false }
            order = number < wanted ? .orderedAscending : (number > wanted ? .orderedDescending : .orderedSame)
        } else {
            let text = actual.text
            order = text < value ? .orderedAscending : (text > value ? .orderedDescending : .orderedSame)
        }
        switch op {
        case .equal: return order == .orderedSame
        case .notEqual: return order != .orderedSame
        case .less: return order == .orderedAscending
        case .lessOrEqual: return order != .orderedDescending
        case .greater: return order == .orderedDescending
        case .greaterOrEqual: return order != .orderedAscending
        }
    }
}

/// `[-]KEY`: a sort key, descending with a leading `-` (`+` or nothing: ascending).
public struct RunSortKey: Equatable, Sendable {
    public var key: String
    public var descending: Bool

    public init(parsing text: String) {
        descending = text.hasPrefix("-")
        key = text.hasPrefix("-") || text.hasPrefix("+") ? String(text.dropFirst()) : text
    }

    /// The order of two values: missing values last in either direction, numbers
    /// before text, numbers numerically (NaN after numbers), text in Unicode order.
    public func compare(_ a: RunValue?, _ b: RunValue?) -> ComparisonResult {
        switch (a, b) {
        case (nil, nil): return .orderedSame
        case (nil, _): return .orderedDescending
        case (_, nil): return .orderedAscending
        case let (a?, b?):
            let order: ComparisonResult
            switch (a, b) {
            case let (.number(x), .number(y)):
                if x.isNaN || y.isNaN { return x.isNaN == y.isNaN ? .orderedSame : (x.isNaN ? .orderedDescending : .orderedAscending) }
                order = x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
            case (.number, .text): order = .orderedAscending
            case (.text, .number): order = .orderedDescending
            case let (.text(x), .text(y)): order = x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
            }
            guard descending, order != .orderedSame else { return order }
            return order == .orderedAscending ? .orderedDescending : .orderedAscending
        }
    }
}

/// Filters and sorts run listings. Rows keep the listing's order (creation) on ties.
public enum RunQuery {
    /// The indices of `fields.summaries` that satisfy every condition, ordered by `sort`.
    /// - Throws: `RunQueryError.unknownKey`.
    public static func select(_ fields: inout RunFields, where conditions: [RunCondition], sort: [RunSortKey]) throws -> [Int] {
        let filters = try conditions.map { (condition: $0, field: try fields.field($0.key)) }
        var indices: [Int] = []
        for index in fields.summaries.indices {
            var keep = true
            for filter in filters where !filter.condition.matches(try fields.value(filter.field, at: index)) {
                keep = false
                break
            }
            if keep { indices.append(index) }
        }
        guard !sort.isEmpty else { return indices }
        let sortFields = try sort.map { try fields.field($0.key) }
        var values: [[RunValue?]] = []
        for index in indices { values.append(try sortFields.map { try fields.value($0, at: index) }) }
        let order = Array(indices.indices).sorted { a, b in
            for (position, key) in sort.enumerated() {
                let result = key.compare(values[a][position], values[b][position])
                if result != .orderedSame { return result == .orderedAscending }
            }
            return a < b
        }
        return order.map { indices[$0] }
    }
}
