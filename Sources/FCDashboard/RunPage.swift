import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// `/runs/RUN`: configuration, data fingerprints, lineage, curves of any metric
/// and the per-epoch table. The curves and the table are the live section:
/// the page's script polls `/api/runs/RUN/state` every second and, when a new
/// epoch is committed, replaces the section with `/runs/RUN/live`.
struct RunPage {
    let dashboard: Dashboard
    let store: Store
    let run: RunRecord
    let query: Query
    let checkpoints: [CheckpointSummary]

    init(dashboard: Dashboard, store: Store, runText: String, query: Query) throws {
        self.dashboard = dashboard
        self.store = store
        self.query = query
        run = try dashboard.run(store, runText)
        checkpoints = try store.checkpoints(runID: run.id)
    }

    var title: String { run.name ?? run.shortID }

    func render() throws -> String {
        let config = dashboard.config(run)
        var html = "<h1>\(HTML.escape(title)) <span class=\"id\">\(HTML.escape(run.id))</span></h1>\n"
        html += "<p class=\"links\"><a href=\"/runs/\(HTML.escape(run.id))/weights\">Weights over time</a> · "
            + "<a href=\"/runs/\(HTML.escape(run.id))/verify\">Verify</a>"
        if let first = checkpoints.first, let last = checkpoints.last, first.epoch != last.epoch {
            html += " · <a class=\"diff-link\" href=\"/diff?a=\(HTML.escape(run.id))@\(first.epoch)&amp;b=\(HTML.escape(run.id))@\(last.epoch)\">Diff epoch \(first.epoch) → \(last.epoch)</a>"
        }
        html += "</p>\n<section class=\"facts\"><table class=\"kv\">\n"
        html += row("status", "<span class=\"status \(HTML.escape(run.status.rawValue))\">\(HTML.escape(run.status.rawValue))</span>")
        html += row("created", HTML.escape(Self.timestamp(run.createdAt)))
        let tags = try store.tags(runID: run.id)
        if !tags.isEmpty {
            html += row("tags", tags.sorted { $0.key < $1.key }.map { "<span class=\"tag\">\(HTML.escape($0.key))=\(HTML.escape($0.value))</span>" }.joined(separator: " "))
        }
        if let note = try store.note(runID: run.id) { html += row("note", "<span class=\"note\">\(HTML.escape(note))</span>") }
        html += row("seed", HTML.escape(String(run.seed)))
        html += row("lineage", try lineage())
        let forks = try store.forks(of: run.id)
        if !forks.isEmpty {
            html += row("forks", forks.map { fork in
                "<a class=\"fork-link\" href=\"/runs/\(HTML.escape(fork.id))\">\(HTML.escape(fork.name ?? fork.shortID))</a>@\(fork.parent?.epoch ?? 0)"
            }.joined(separator: ", "))
        }
        if let from = config?.initializedFrom {
            let runPart = String(from.prefix { $0 != "@" })
            html += row("initialized from", "<a href=\"/runs/\(HTML.escape(runPart))\">\(HTML.escape(from))</a>")
        }
        if let config {
            let spec = config.spec
            html += row("network", HTML.escape(spec.sizes.map(String.init).joined(separator: "-") + "  loss " + spec.loss.rawValue))
            if let data = config.data {
                html += row("data", "\(HTML.escape(data.path)) · \(data.rows) rows × \(data.columns) columns · fingerprint <code>\(HTML.escape(data.fingerprint))</code>")
            } else {
                html += row("data", "none recorded (imported model)")
            }
            switch config.validation {
            case .split(let fraction)?: html += row("validation", HTML.escape("\(Int((fraction * 100).rounded()))% held out of the data (seeded)"))
            case .file(let source)?:
                html += row("validation", "\(HTML.escape(source.path)) · \(source.rows) rows · fingerprint <code>\(HTML.escape(source.fingerprint))</code>")
            case nil: html += row("validation", "none")
            }
        }
        html += "</table></section>\n"
        html += "<div id=\"live-container\">\n\(try liveSection())</div>\n"
        html += "<details><summary>Configuration</summary>\n<table class=\"kv config\">\n"
        for (key, value) in ConfigFlattening.pairs(run.config) { html += row(key, HTML.escape(value)) }
        html += "</table></details>\n"
        return HTML.page(title: title, body: html, script: true)
    }

    private func row(_ key: String, _ valueHTML: String) -> String {
        "<tr><th>\(HTML.escape(key))</th><td>\(valueHTML)</td></tr>\n"
    }

    /// The run, then its parent and their parents, as links with the fork points.
    func lineage() throws -> String {
        var parts = ["<a href=\"/runs/\(HTML.escape(run.id))\">\(HTML.escape(run.name ?? run.shortID))</a>"]
        var cursor = run.parent
        while let parent = cursor, parts.count < 100 {
            let record = try? store.run(id: parent.runID)
            parts.append("<a href=\"/runs/\(HTML.escape(parent.runID))\">\(HTML.escape(record?.name ?? String(parent.runID.prefix(8))))</a>@\(parent.epoch)")
            cursor = record?.parent
        }
        return parts.count == 1 ? parts[0] + " (root run)" : parts.joined(separator: " ← ")
    }

    /// Charts and the per-epoch table, in `<div id="live">` with the state the script compares.
    func liveSection() throws -> String {
        let chosen = query.all("metric").filter { !$0.isEmpty }
        let logScale = query.flag("log")
        let series = RunSeries(run: run, checkpoints: checkpoints)
        let charts = CurvePanels.charts([series], metrics: chosen, logScale: logScale)
        var html = "<div id=\"live\" data-run=\"\(HTML.escape(run.id))\" data-epochs=\"\(checkpoints.count)\" data-status=\"\(HTML.escape(run.status.rawValue))\">\n"
        html += "<section class=\"charts\">\n"
        for (index, chart) in charts.enumerated() { html += chart.svg(id: "chart\(index)") }
        if charts.isEmpty { html += "<p>No metrics to draw yet.</p>\n" }
        html += "</section>\n"
        html += metricForm(chosen: chosen, logScale: logScale)
        html += epochTable()
        html += "</div>\n"
        return html
    }

    private func metricForm(chosen: [String], logScale: Bool) -> String {
        var names = Set<String>()
        for checkpoint in checkpoints { names.formUnion(checkpoint.metrics.keys) }
        var html = "<form class=\"metrics\" method=\"get\" action=\"/runs/\(HTML.escape(run.id))\"><fieldset><legend>Curves</legend>\n"
        for name in names.sorted() {
            html += "<label><input type=\"checkbox\" name=\"metric\" value=\"\(HTML.escape(name))\"\(chosen.contains(name) ? " checked" : "")> \(HTML.escape(name))</label>\n"
        }
        html += "<label><input type=\"checkbox\" name=\"log\" value=\"1\"\(logScale ? " checked" : "")> log scale</label>\n"
        html += "<button type=\"submit\">Draw</button> <a href=\"/runs/\(HTML.escape(run.id))\">default</a></fieldset></form>\n"
        return html
    }

    private func epochTable() -> String {
        let id = HTML.escape(run.id)
        var html = "<table class=\"data\" id=\"epochs\"><thead><tr><th>Epoch</th><th>Train loss</th><th>Train acc</th><th>Val loss</th>"
            + "<th>Val acc</th><th>LR</th><th>Time (s)</th><th>Digest</th><th>Stored</th><th>Download</th><th>Diff</th></tr></thead>\n<tbody>\n"
        html.reserveCapacity(checkpoints.count * 700 + 512)
        var previous: Int?
        for checkpoint in checkpoints {
            let m = checkpoint.metrics
            let hex = checkpoint.digestHex
            html += "<tr data-epoch=\"\(checkpoint.epoch)\"><td class=\"num\">\(checkpoint.epoch)</td>"
            for name in ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "wall_time_s"] {
                html += "<td class=\"num\">\(HTML.number(m[name]))</td>"
            }
            html += "<td><code title=\"\(HTML.escape(hex))\">\(HTML.escape(String(hex.prefix(16))))</code></td><td>"
            if checkpoint.inherited {
                html += "from <a href=\"/runs/\(HTML.escape(checkpoint.ownerRunID))\">\(HTML.escape(String(checkpoint.ownerRunID.prefix(8))))</a>"
            }
            html += checkpoint.pruned ? " <span class=\"pruned\">pruned</span>" : (checkpoint.inherited ? "" : "kept")
            html += "</td><td>"
            if !checkpoint.pruned {
                let base = "/runs/\(id)/epochs/\(checkpoint.epoch)/model."
                html += "<a href=\"\(base)safetensors\">safetensors</a> <a href=\"\(base)onnx\">onnx</a> <a href=\"\(base)npz\">npz</a>"
            }
            html += "</td><td>"
            if let previous {
                html += "<a class=\"diff-link\" href=\"/diff?a=\(id)@\(previous)&amp;b=\(id)@\(checkpoint.epoch)\">vs \(previous)</a>"
            }
            html += "</td></tr>\n"
            if !checkpoint.pruned { previous = checkpoint.epoch }
        }
        html += "</tbody></table>\n"
        return html
    }

    /// `/api/runs/RUN/state`: what the live script polls.
    static func state(_ store: Store, runText: String) throws -> String {
        let run = try store.resolveRun(runText)
        let last = try? store.latestEpoch(runID: run.id)
        let object: [String: Any] = ["run": run.id, "status": run.status.rawValue, "epochs": last.map { $0 + 1 } ?? 0,
                                     "last_epoch": last.map { $0 as Any } ?? NSNull()]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func timestamp(_ date: Date) -> String { HTML.timestamp(date) }
}

/// A run's configuration JSON as sorted `dotted.key = value` pairs.
enum ConfigFlattening {
    indirect enum Value: Decodable {
        case text(String), number(Double), bool(Bool), null, list([Value]), object([String: Value])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .text(value) }
            else if let value = try? container.decode([Value].self) { self = .list(value) }
            else { self = .object(try container.decode([String: Value].self)) }
        }
    }

    static func pairs(_ json: String) -> [(String, String)] {
        guard let value = try? JSONDecoder().decode(Value.self, from: Data(json.utf8)) else { return [("config", json)] }
        var result: [(String, String)] = []
        flatten(value, prefix: "", into: &result)
        return result.sorted { $0.0 < $1.0 }
    }

    private static func flatten(_ value: Value, prefix: String, into result: inout [(String, String)]) {
        switch value {
        case .object(let dictionary):
            if dictionary.isEmpty { result.append((prefix, "{}")); return }
            for (key, inner) in dictionary { flatten(inner, prefix: prefix.isEmpty ? key : "\(prefix).\(key)", into: &result) }
        case .list(let items):
            if items.allSatisfy({ if case .object = $0 { return false }; if case .list = $0 { return false }; return true }) {
                result.append((prefix, items.map(scalar).joined(separator: ",")))
            } else {
                for (index, inner) in items.enumerated() { flatten(inner, prefix: "\(prefix)[\(index)]", into: &result) }
            }
        default:
            result.append((prefix, scalar(value)))
        }
    }

    private static func scalar(_ value: Value) -> String {
        switch value {
        case .text(let text): return text
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return "\(number)"
        case .list, .object: return ""
        }
    }
}
