/// PostgreSQL connection URIs as fcstore accepts them:
/// `postgresql://[user[:password]@]host[:port]/dbname[?param=value&...]`, `postgres://` too.
public enum ConnectionURI {
    /// Whether `text` is a PostgreSQL URI (anything else is a SQLite path).
    public static func isPostgres(_ text: String) -> Bool {
        let lowered = text.prefix(13).lowercased()
        return lowered.hasPrefix("postgresql://") || lowered.hasPrefix("postgres://")
    }

    /// `text` with its password replaced by `***`: the one in the user part
    /// (`user:secret@`) and any `password=` parameter. Everything shown (output,
    /// errors, the recorded configuration) goes through this.
    public static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        var result = String(text[..<schemeEnd.upperBound])
        var rest = Substring(text[schemeEnd.upperBound...])
        // The authority ends at the first '/', '?' or '#'; its user part at the last '@' in it.
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                result += userInfo[..<colon] + ":***"
            } else {
                result += userInfo
            }
            result += authority[at...]
        } else {
            result += authority
        }
        rest = rest[authorityEnd...]
        guard let question = rest.firstIndex(of: "?") else { return result + rest }
        result += rest[...question]
        let query = rest[rest.index(after: question)...]
        let fragmentStart = query.firstIndex(of: "#") ?? query.endIndex
        let parameters = query[..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            let key = parameter.split(separator: "=", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            return key == "password" ? "password=***" : String(parameter)
        }
        return result + parameters.joined(separator: "&") + query[fragmentStart...]
    }

    /// Replaces every occurrence of the URI's password (and the whole URI) in
    /// `text` by the redacted form: for messages that might quote it.
    public static func scrub(_ text: String, uri: String) -> String {
        var result = text.replacingOccurrences(of: uri, with: redacted(uri))
        if let password = password(in: uri), password.count >= 3 {
            result = result.replacingOccurrences(of: password, with: "***")
        }
        return result
    }

    /// The password in the URI's user part, if any (as written, percent-escapes included).
    static func password(in uri: String) -> String? {
        guard let schemeEnd = uri.range(of: "://") else { return nil }
        let rest = uri[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return nil }
        let password = String(authority[authority.index(after: colon)..<at])
        return password.isEmpty ? nil : password
    }
}

import Foundation
