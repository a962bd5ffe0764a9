import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// `/compare?run=A&run=B...`: the runs' curves overlaid, a colour per run, and a
/// table of only the configuration values that differ between them.
struct ComparePage {
    let dashboard: Dashboard
    let store: Store
    let query: Query

    static let maximumRuns = 12

    func render() throws -> String {
        let texts = query.all("run").filter { !$0.isEmpty }
        guard !texts.isEmpty else { throw NotFound("Tick at least one run to compare.") }
        guard texts.count <= Self.maximumRuns else { throw NotFound("Compare at most \(Self.maximumRuns) runs at once.") }
        var runs: [RunRecord] = []
        for text in texts {
            let run = try dashboard.run(store, text)
            if !runs.contains(where: { $0.id == run.id }) { runs.append(run) }
        }
        let series = try runs.map { RunSeries(run: $0, checkpoints: try store.checkpoints(runID: $0.id)) }
        let chosen = query.all("metric").filter { !$0.isEmpty }
        let logScale = query.flag("log")
        let charts = CurvePanels.charts(series, metrics: chosen, logScale: logScale)

        var html = "<h1>Compare \(runs.count) run\(runs.count == 1 ? "" : "s")</h1>\n<ul class=\"runs\">\n"
        for (index, run) in runs.enumerated() {
            html += "<li><svg width=\"14\" height=\"14\" aria-hidden=\"true\"><rect width=\"14\" height=\"14\" fill=\"\(Chart.colour(index))\"/></svg> "
                + "<a href=\"/runs/\(HTML.escape(run.id))\">\(HTML.escape(RunSeries.label(run)))</a></li>\n"
        }
        html += "</ul>\n"
        if runs.count == 2 {
            html += "<p><a class=\"diff-link\" href=\"/diff?a=\(HTML.escape(runs[0].id))&amp;b=\(HTML.escape(runs[1].id))\">Diff their latest checkpoints</a></p>\n"
        }
        html += "<section class=\"charts\">\n"
        for (index, chart) in charts.enumerated() { html += chart.svg(id: "chart\(index)") }
        html += "</section>\n"
        var names = Set<String>()
        for run in series { for entry in run.epochs { names.formUnion(entry.metrics.keys) } }
        html += "<form class=\"metrics\" method=\"get\" action=\"/compare\"><fieldset><legend>Curves</legend>\n"
        for run in runs { html += "<input type=\"hidden\" name=\"run\" value=\"\(HTML.escape(run.id))\">" }
        for name in names.sorted() {
            html += "<label><input type=\"checkbox\" name=\"metric\" value=\"\(HTML.escape(name))\"\(chosen.contains(name) ? " checked" : "")> \(HTML.escape(name))</label>\n"
        }
        html += "<label><input type=\"checkbox\" name=\"log\" value=\"1\"\(logScale ? " checked" : "")> log scale</label>\n"
        html += "<button type=\"submit\">Draw</button></fieldset></form>\n"

        // Only the keys whose values are not the same in every run.
        let flattened = runs.map { Dictionary(ConfigFlattening.pairs($0.config), uniquingKeysWith: { first, _ in first }) }
        let keys = Set(flattened.flatMap(\.keys)).sorted().filter { key in Set(flattened.map { $0[key] ?? "" }).count > 1 }
        html += "<h2>Differing hyper-parameters</h2>\n"
        if keys.isEmpty {
            html += "<p id=\"no-differences\">The runs' configurations are the same.</p>\n"
        } else {
            html += "<table class=\"data\" id=\"differences\"><thead><tr><th>key</th>"
            for run in runs { html += "<th>\(HTML.escape(run.name ?? run.shortID))</th>" }
            html += "</tr></thead><tbody>\n"
            for key in keys {
                html += "<tr><th>\(HTML.escape(key))</th>"
                for values in flattened { html += "<td>\(HTML.escape(values[key] ?? "-"))</td>" }
                html += "</tr>\n"
            }
            html += "</tbody></table>\n"
        }
        return HTML.page(title: "Compare", body: html)
    }
}

/// `/runs/RUN/verify`: `fcstore verify RUN` as a page.
struct VerifyPage {
    let store: Store
    let runText: String

    func render() throws -> String {
        let run = try store.resolveRun(runText)
        let findings = try store.verify(runID: run.id)
        var html = "<h1>Verify <a href=\"/runs/\(HTML.escape(run.id))\">\(HTML.escape(run.name ?? run.shortID))</a></h1>\n"
        html += "<p>SQLite's integrity and foreign-key checks, every tensor re-hashed, every checkpoint digest and the hash chain "
            + "from epoch 0 (through the parents of a fork) recomputed.</p>\n"
        if findings.isEmpty {
            html += "<p class=\"ok\" id=\"verdict\">ok: no problem found</p>\n"
        } else {
            html += "<p class=\"error\" id=\"verdict\">\(findings.count) problem\(findings.count == 1 ? "" : "s") found</p>\n<ul id=\"findings\">\n"
            for finding in findings { html += "<li>\(HTML.escape(finding.description))</li>\n" }
            html += "</ul>\n"
        }
        return HTML.page(title: "Verify", body: html)
    }
}

/// `/runs/RUN/epochs/N/model.FORMAT`: a checkpoint through the exporters of `fcstore export`.
enum Downloads {
    static func model(_ store: Store, dashboard: Dashboard, runText: String, epoch text: String, file: String) throws -> DashboardResponse {
        guard let epoch = Int(text), epoch >= 0, String(epoch) == text else { throw NotFound("\(text) is not an epoch.") }
        let run = try dashboard.run(store, runText)
        let config = try RunConfig.decode(run.config, run: run.shortID)
        let checkpoint = try store.loadCheckpoint(runID: run.id, epoch: epoch)
        let model = try ModelExchange.modelFile(run: run, config: config, checkpoint: checkpoint)
        let name = "\(run.shortID)-epoch\(epoch)"
        switch file {
        case "model.safetensors":
            return .download(try Safetensors.encode(model), filename: name + ".safetensors", contentType: "application/octet-stream")
        case "model.onnx":
            return .download(try ONNX.encode(model), filename: name + ".onnx", contentType: "application/octet-stream")
        case "model.npz":
            return .download(try NPZ.encode(model), filename: name + ".npz", contentType: "application/zip")
        default:
            throw NotFound("Models download as model.safetensors, model.onnx or model.npz.")
        }
    }
}
