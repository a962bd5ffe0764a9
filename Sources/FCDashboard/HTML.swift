import Foundation

/// HTML and SVG text. Every value from the store (run names, metric names,
/// configuration values, findings) reaches a page through `escape`, the one
/// escaping function: pages and charts build their markup from literals and
/// `escape(value)` only.
public enum HTML {
    /// One warning paragraph per distinct integrity problem of the checkpoints a page
    /// shows (a digest that no longer matches), escaped, naming `fcstore verify`.
    static func integrityWarnings(_ problems: [String?]) -> String {
        var seen = Set<String>()
        var html = ""
        for case let problem? in problems where seen.insert(problem).inserted {
            html += "<p class=\"error\">Integrity check failed: \(escape(problem)) "
                + "This page shows the rows as they are; run <code>fcstore verify</code> for every finding.</p>\n"
        }
        return html
    }

    /// `&`, `<`, `>`, `"` and `'` as character references, so the result is
    /// safe as element text and as a double- or single-quoted attribute value.
    public static func escape(_ text: String) -> String {
        // Most values (ids, numbers, plain names) need nothing: check the bytes first.
        let needsWork = text.utf8.contains { byte in
            byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0x27 || byte < 0x20 || byte == 0x7F
        }
        guard needsWork else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default:
                // Control characters (other than tab and newline) have no business in a page.
                if character.value < 0x20 && character != "\t" && character != "\n" || character.value == 0x7F {
                    result += "\u{FFFD}"
                } else {
                    result.unicodeScalars.append(character)
                }
            }
        }
        return result
    }

    /// A query-string value: everything but unreserved characters percent-encoded.
    public static func queryValue(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: "\u{0}"..."\u{7F}"))
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A number for a table cell: 6 significant digits, "-" when absent, the IEEE name when not finite.
    public static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == value.rounded(), abs(value) < 1e6 { return String(Int(value)) }
        // vsnprintf into a small buffer: String(format:) costs several times more, and
        // the runs page formats five numbers per run.
        var buffer = [CChar](repeating: 0, count: 32)
        let length = withVaList([value]) { vsnprintf(&buffer, 32, "%.6g", $0) }
        return String(decoding: buffer.prefix(max(0, min(Int(length), 31))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `YYYY-MM-DD HH:MM:SS` in UTC (gmtime_r: Foundation's formatters cost tens of
    /// microseconds a call, too much for 10,000 rows).
    public static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "-" }
        func two(_ value: Int32) -> String { value < 10 ? "0" + String(value) : String(value) }
        return String(parts.tm_year + 1900) + "-" + two(parts.tm_mon + 1) + "-" + two(parts.tm_mday) + " "
            + two(parts.tm_hour) + ":" + two(parts.tm_min) + ":" + two(parts.tm_sec)
    }

    /// The page around `body`: title, navigation, the stylesheet and script (same origin).
    public static func page(title: String, body: String, script: Bool = false) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) · fcstore</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/static/dashboard.css">
        \(script ? "<script src=\"/static/dashboard.js\" defer></script>\n" : "")</head>
        <body><nav><a href="/">fcstore</a> <a href="/">Runs</a></nav>
        <main>
        \(body)
        </main></body></html>

        """
    }

    /// The 404 page.
    public static func notFound(_ message: String) -> String {
        page(title: "Not found", body: "<h1>Not found</h1>\n<p class=\"error\">\(escape(message))</p>\n<p><a href=\"/\">All runs</a></p>")
    }
}
