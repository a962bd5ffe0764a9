import FCCore
import FCFormats
import FCStorage
import FCTraining
import Foundation

/// `/`: every run in a table, sorted and filtered on the server (links and a GET
/// form, so it works without JavaScript); tick runs and press Compare.
struct RunsPage {
    let dashboard: Dashboard
    let store: Store
    let query: Query

    struct Row {
        var summary: RunSummary
        var facts: RunFacts
        var valAccuracy: Double?
        /// The validation accuracy of the best epoch (the one of "Best val loss").
        var bestValAccuracy: Double?
        var trainLoss: Double?
        var architecture: String { facts.architecture }
        var optimizer: String { facts.optimizer }
        var learningRate: Double? { facts.learningRate }
        var batch: String { facts.batch }
    }

    /// Rows per page: sorting and filtering see every run, the page shows this many.
    static let pageSize = 500

    /// Sortable columns: query key, heading, and the order it defines.
    static let columns: [(key: String, heading: String)] = [
        ("name", "Run"), ("status", "Status"), ("epochs", "Epochs"), ("best_val_loss", "Best val loss"),
        ("best_val_accuracy", "Val acc (best)"), ("val_accuracy", "Val acc (last)"), ("train_loss", "Train loss (last)"), ("architecture", "Network"),
        ("optimizer", "Optimizer"), ("learning_rate", "LR"), ("batch", "Batch"), ("created", "Created"),
    ]

    /// The columns that need every run's last metrics: sorting by them reads all of them.
    static let lastMetricColumns: Set<String> = ["val_accuracy", "train_loss"]

    func rows(latestMetrics: Bool) throws -> [Row] {
        try store.runs(latestMetrics: latestMetrics).map { summary in
            Row(summary: summary, facts: dashboard.facts(summary.run), valAccuracy: summary.latestMetrics["val_accuracy"],
                trainLoss: summary.latestMetrics["train_loss"])
        }
    }

    func render() throws -> String {
        let filter = (query["q"] ?? "").lowercased()
        let status = query["status"] ?? ""
        let sort = query["sort"].flatMap { key in Self.columns.contains { $0.key == key } ? key : nil } ?? "created"
        let descending = query["order"].map { $0 == "desc" } ?? (sort == "created")
        // The last epoch's metrics are read for the rows shown (one lookup each), unless
        // the sort needs them for every run.
        let everyRunsMetrics = Self.lastMetricColumns.contains(sort)
        var rows = try rows(latestMetrics: everyRunsMetrics)
        // The best epoch's accuracy: one lookup a run, for every run only when sorting by it.
        func fillBestAccuracy(_ index: Int) {
            guard let best = rows[index].summary.bestValidationEpoch,
                  let metrics = try? store.metrics(runID: rows[index].summary.run.id, epoch: best) else { return }
            rows[index].bestValAccuracy = metrics["val_accuracy"]
        }
        if sort == "best_val_accuracy" { rows.indices.forEach(fillBestAccuracy) }
        let total = rows.count
        if !status.isEmpty { rows = rows.filter { $0.summary.run.status.rawValue == status } }
        if !filter.isEmpty {
            rows = rows.filter { row in
                ([row.summary.run.name ?? "", row.summary.run.id, row.summary.run.status.rawValue, row.architecture, row.optimizer]
                    + row.summary.tags.map { "\($0.key)=\($0.value)" })
                    .contains { $0.lowercased().contains(filter) }
            }
        }
        rows.sort { a, b in
            let order = Self.compare(a, b, by: sort)
            return descending ? order == .orderedDescending : order == .orderedAscending
        }
        let matching = rows.count
        let pages = max(1, (matching + Self.pageSize - 1) / Self.pageSize)
        let pageNumber = min(max(Int(query["page"] ?? "1") ?? 1, 1), pages)
        rows = Array(rows[min((pageNumber - 1) * Self.pageSize, matching)..<min(pageNumber * Self.pageSize, matching)])
        if sort != "best_val_accuracy" { rows.indices.forEach(fillBestAccuracy) }
        if !everyRunsMetrics {
            for index in rows.indices {
                guard let last = rows[index].summary.lastEpoch,
                      let metrics = try? store.metrics(runID: rows[index].summary.run.id, epoch: last) else { continue }
                rows[index].valAccuracy = metrics["val_accuracy"]
                rows[index].trainLoss = metrics["train_loss"]
            }
        }
        func link(sort: String, descending: Bool, page: Int) -> String {
            var link = "/?sort=\(sort)&order=\(descending ? "desc" : "asc")"
            if !filter.isEmpty { link += "&q=\(HTML.queryValue(query["q"] ?? ""))" }
            if !status.isEmpty { link += "&status=\(HTML.queryValue(status))" }
            if page > 1 { link += "&page=\(page)" }
            return HTML.escape(link)
        }

        var html = ""
        html.reserveCapacity(600 * rows.count + 4096)
        html += "<h1>Runs</h1>\n<form class=\"filter\" method=\"get\" action=\"/\">"
        html += "<input type=\"search\" name=\"q\" id=\"filter\" placeholder=\"filter: name, id, network, optimizer, tag\" value=\"\(HTML.escape(query["q"] ?? ""))\"> "
        html += "<select name=\"status\" id=\"status\"><option value=\"\">any status</option>"
        for candidate in RunStatus.allCases.map(\.rawValue) {
            html += "<option\(candidate == status ? " selected" : "")>\(HTML.escape(candidate))</option>"
        }
        html += "</select> <input type=\"hidden\" name=\"sort\" value=\"\(HTML.escape(sort))\">"
        html += "<input type=\"hidden\" name=\"order\" value=\"\(descending ? "desc" : "asc")\">"
        html += "<button type=\"submit\" id=\"apply\">Filter</button> <span class=\"count\" id=\"count\">\(matching) of \(total) runs</span></form>\n"
        if pages > 1 {
            html += "<p class=\"pages\">Page \(pageNumber) of \(pages) (\(Self.pageSize) runs a page)"
            if pageNumber > 1 { html += " <a id=\"previous\" href=\"\(link(sort: sort, descending: descending, page: pageNumber - 1))\">« previous</a>" }
            if pageNumber < pages { html += " <a id=\"next\" href=\"\(link(sort: sort, descending: descending, page: pageNumber + 1))\">next »</a>" }
            html += "</p>\n"
        }

        html += "<form method=\"get\" action=\"/compare\" id=\"compare-form\">\n"
        html += "<p><button type=\"submit\" id=\"compare\">Compare ticked runs</button></p>\n"
        html += "<table id=\"runs\" class=\"data\"><thead><tr><th></th>"
        for column in Self.columns {
            let active = column.key == sort
            let arrow = active ? (descending ? " ▼" : " ▲") : ""
            html += "<th><a class=\"sort\" data-key=\"\(column.key)\" href=\"\(link(sort: column.key, descending: active && !descending, page: 1))\">\(HTML.escape(column.heading))\(arrow)</a></th>"
        }
        html += "</tr></thead>\n<tbody>\n"
        for row in rows {
            let run = row.summary.run
            html += "<tr data-run=\"\(HTML.escape(run.id))\"><td><input type=\"checkbox\" name=\"run\" value=\"\(HTML.escape(run.id))\" aria-label=\"tick\"></td>"
            html += "<td class=\"name\"><a href=\"/runs/\(HTML.escape(run.id))\">\(HTML.escape(run.name ?? run.shortID))</a>"
            if run.name != nil { html += " <span class=\"id\">\(HTML.escape(run.shortID))</span>" }
            if let parent = run.parent {
                html += " <span class=\"fork\">fork of <a href=\"/runs/\(HTML.escape(parent.runID))\">\(HTML.escape(String(parent.runID.prefix(8))))@\(parent.epoch)</a></span>"
            }
            for (key, value) in row.summary.tags.sorted(by: { $0.key < $1.key }) {
                html += " <span class=\"tag\">\(HTML.escape(key))=\(HTML.escape(value))</span>"
            }
            html += "</td><td class=\"status \(HTML.escape(run.status.rawValue))\">\(HTML.escape(run.status.rawValue))</td>"
            html += "<td class=\"num\">\(row.summary.lastEpoch.map(String.init) ?? "-")</td>"
            html += "<td class=\"num\">\(HTML.number(row.summary.bestValidationLoss))</td><td class=\"num\">\(HTML.number(row.bestValAccuracy))</td>"
            html += "<td class=\"num\">\(HTML.number(row.valAccuracy))</td><td class=\"num\">\(HTML.number(row.trainLoss))</td>"
            html += "<td>\(HTML.escape(row.architecture))</td><td>\(HTML.escape(row.optimizer))</td>"
            html += "<td class=\"num\">\(HTML.number(row.learningRate))</td><td class=\"num\">\(HTML.escape(row.batch))</td>"
            html += "<td>\(HTML.timestamp(run.createdAt))</td></tr>\n"
        }
        html += "</tbody></table>\n</form>\n"
        if total == 0 { html += "<p>No runs yet: train one with <code>fcstore train</code>.</p>\n" }
        return HTML.page(title: "Runs", body: html)
    }

    /// The order of two rows by a column; absent values last, ties by creation then id.
    static func compare(_ a: Row, _ b: Row, by key: String) -> ComparisonResult {
        func numbers(_ x: Double?, _ y: Double?) -> ComparisonResult {
            switch (x, y) {
            case let (x?, y?) where x < y: return .orderedAscending
            case let (x?, y?) where x > y: return .orderedDescending
            case (nil, _?): return .orderedDescending
            case (_?, nil): return .orderedAscending
            default: return .orderedSame
            }
        }
        func texts(_ x: String, _ y: String) -> ComparisonResult { x == y ? .orderedSame : (x < y ? .orderedAscending : .orderedDescending) }
        let result: ComparisonResult
        switch key {
        case "name": result = texts((a.summary.run.name ?? a.summary.run.id).lowercased(), (b.summary.run.name ?? b.summary.run.id).lowercased())
        case "status": result = texts(a.summary.run.status.rawValue, b.summary.run.status.rawValue)
        case "epochs": result = numbers(a.summary.lastEpoch.map(Double.init), b.summary.lastEpoch.map(Double.init))
        case "best_val_loss": result = numbers(a.summary.bestValidationLoss, b.summary.bestValidationLoss)
        case "best_val_accuracy": result = numbers(a.bestValAccuracy, b.bestValAccuracy)
        case "val_accuracy": result = numbers(a.valAccuracy, b.valAccuracy)
        case "train_loss": result = numbers(a.trainLoss, b.trainLoss)
        case "architecture": result = texts(a.architecture, b.architecture)
        case "optimizer": result = texts(a.optimizer, b.optimizer)
        case "learning_rate": result = numbers(a.learningRate, b.learningRate)
        case "batch": result = numbers(Double(a.batch) ?? .infinity, Double(b.batch) ?? .infinity)
        default: result = .orderedSame
        }
        if result != .orderedSame { return result }
        let created = numbers(a.summary.run.createdAt.timeIntervalSince1970, b.summary.run.createdAt.timeIntervalSince1970)
        return created != .orderedSame ? created : texts(a.summary.run.id, b.summary.run.id)
    }
}
