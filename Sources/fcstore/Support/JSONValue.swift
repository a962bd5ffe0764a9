import FCCore
import Foundation

/// Any JSON document, to re-emit a stored one with its keys renamed: `show
/// --json` prints the run's configuration (stored camelCase, as Swift encodes
/// it) with snake_case keys like every other key fcstore prints.
enum JSONValue: Codable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(UInt64.self) {
            self = .unsigned(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .unsigned(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// `value` as JSON, through its own Encodable conformance.
    static func encoding<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    /// The same document with every object key in snake_case, except inside
    /// objects under the keys in `verbatim` (text from elsewhere, such as an
    /// imported file's own metadata).
    func snakeCased(keepingKeysUnder verbatim: Set<String> = []) -> JSONValue {
        switch self {
        case .array(let values):
            return .array(values.map { $0.snakeCased(keepingKeysUnder: verbatim) })
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, value) in members {
                result[KeyCase.snakeCase(key)] = verbatim.contains(key) ? value : value.snakeCased(keepingKeysUnder: verbatim)
            }
            return .object(result)
        default:
            return self
        }
    }


    /// The member `key` of an object, nil otherwise.
    subscript(key: String) -> JSONValue? {
        get { if case .object(let members) = self { return members[key] } else { return nil } }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }
}
