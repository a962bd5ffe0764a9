import ArgumentParser
import FCStorage
import FCTraining
import Foundation

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List runs: id, name, parent, status, epochs, best validation loss, created.",
        discussion: """
            --where 'KEY OP VALUE' keeps the runs whose KEY satisfies it (repeatable: all must hold); OP is \
            one of = != < <= > >=, quoted for the shell: --where 'learning_rate<0.05'. KEY is a run field \
            (status, name, last_epoch, best_val_loss...), a configuration field (learning_rate, batch_size, \
            epochs, optimizer, layers...), a metric of the latest epoch (val_loss, train_loss...) or of the \
            best epoch (best_val_accuracy), or a tag (tag.KEY). Numbers compare as numbers, anything else \
            as text; a run without the value never matches. --sort [-]KEY (- for descending; missing \
            values last) and --columns KEY,KEY,... take the same keys.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @Option(name: .customLong("where"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Keep runs where KEY OP VALUE holds (repeatable).", valueName: "key op value"))
    var conditions: [String] = []

    @Option(name: .long, parsing: .unconditionalSingleValue,
            help: ArgumentHelp("Sort by KEY, descending with a leading - (repeatable: later keys break ties).", valueName: "[-]key"))
    var sort: [String] = []

    @Option(name: .long, help: ArgumentHelp("Show only these keys, in this order (text and --json).", valueName: "key,key,..."))
    var columns: String?

    /// `runs --json`: `{"runs": [RunJSON]}`, oldest first.
    struct RunJSON: Encodable {
        var id: String
        var shortID: String
        var name: String?
        var parent: ParentJSON?
        var status: String
        var firstEpoch: Int?
        var lastEpoch: Int?
        var epochs: Int
        var bestValLoss: Double?
        var bestValEpoch: Int?
        var latestMetrics: [String: Double]
        var createdAt: String
        var tags: [String: String]
        var note: String?

        enum CodingKeys: String, CodingKey {
            case id, name, parent, status, epochs, tags, note
            case shortID = "short_id"
            case firstEpoch = "first_epoch"
            case lastEpoch = "last_epoch"
            case bestValLoss = "best_val_loss"
            case bestValEpoch = "best_val_epoch"
            case latestMetrics = "latest_metrics"
            case createdAt = "created_at"
        }

        func encode(to encoder: Encoder) throws {
            // Absent values are null rather than missing keys, so the keys are stable.
            // Concrete types throughout: the encoder's generic path (optionals,
            // dictionaries) costs a dynamic cast per value, which adds up to
            // tens of milliseconds over a thousand runs.
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(shortID, forKey: .shortID)
            try container.encodeOrNull(name, forKey: .name)
            if let parent {
                var nested = container.nestedContainer(keyedBy: ParentJSON.CodingKeys.self, forKey: .parent)
                try nested.encode(parent.run, forKey: .run)
                try nested.encode(parent.epoch, forKey: .epoch)
            } else {
                try container.encodeNil(forKey: .parent)
            }
            try container.encode(status, forKey: .status)
            try container.encodeOrNull(firstEpoch, forKey: .firstEpoch)
            try container.encodeOrNull(lastEpoch, forKey: .lastEpoch)
            try container.encode(epochs, forKey: .epochs)
            try container.encodeOrNull(bestValLoss, forKey: .bestValLoss)
            try container.encodeOrNull(bestValEpoch, forKey: .bestValEpoch)
            var metrics = container.nestedContainer(keyedBy: MetricKey.self, forKey: .latestMetrics)
            for (name, value) in latestMetrics { try metrics.encode(value, forKey: MetricKey(name)) }
            try container.encode(createdAt, forKey: .createdAt)
            var tagContainer = container.nestedContainer(keyedBy: MetricKey.self, forKey: .tags)
            for (key, value) in tags { try tagContainer.encode(value, forKey: MetricKey(key)) }
            try container.encodeOrNull(note, forKey: .note)
        }
    }

    /// A metric name as a JSON key.
    struct MetricKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct ParentJSON: Encodable {
        var run: String
        var epoch: Int

        enum CodingKeys: String, CodingKey { case run, epoch }
    }

    /// `--columns` as keys; nil without the option.
    var columnKeys: [String]? {
        columns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    func validate() throws {
        for condition in conditions {
            do { _ = try RunCondition(parsing: condition) } catch {
                throw ValidationError("--where \(RunName.quoted(condition)) is not KEY OP VALUE with OP one of = != < <= > >= (e.g. --where 'learning_rate<0.05').")
            }
        }
        if sort.contains(where: { RunSortKey(parsing: $0).key.isEmpty }) { throw ValidationError("--sort needs a KEY, e.g. --sort -best_val_loss.") }
        if let keys = columnKeys, keys.isEmpty || keys.contains(where: \.isEmpty) {
            throw ValidationError("--columns takes keys separated by commas, e.g. --columns name,learning_rate,best_val_loss.")
        }
    }

    func run() throws {
        let store = try self.store.openExisting()
        let querying = !conditions.isEmpty || !sort.isEmpty || columns != nil
        // The latest metrics are read only when shown (runs --json) or asked for by a key.
        let keys = conditions.compactMap { try? RunCondition(parsing: $0).key } + sort.map { RunSortKey(parsing: $0).key } + (columnKeys ?? [])
        var summaries = try store.runs(latestMetrics: (output.json && columns == nil) || keys.contains(where: RunFields.mayNeedLatestMetrics))
        if querying {
            var fields = RunFields(store: store, summaries: summaries)
            let selected: [Int]
            var shown: [RunFields.Field]?
            do {
                selected = try RunQuery.select(&fields, where: try conditions.map(RunCondition.init(parsing:)),
                                               sort: sort.map(RunSortKey.init(parsing:)))
                shown = try columnKeys?.map { try fields.field($0) }
            } catch let RunQueryError.unknownKey(key, valid) {
                throw ValidationError("Unknown key \(RunName.quoted(key)); the keys are \(valid.joined(separator: ", ")).")
            }
            if let shown {
                try printColumns(shown, rows: selected, fields: &fields)
                return
            }
            summaries = selected.map { summaries[$0] }
        }
        if output.json {
            let runs = summaries.map { summary in
                RunJSON(
                    id: summary.run.id, shortID: summary.run.shortID, name: summary.run.name,
                    parent: summary.run.parent.map { ParentJSON(run: $0.runID, epoch: $0.epoch) },
                    status: summary.run.status.rawValue, firstEpoch: summary.firstEpoch, lastEpoch: summary.lastEpoch,
                    epochs: summary.checkpointCount, bestValLoss: summary.bestValidationLoss,
                    bestValEpoch: summary.bestValidationEpoch, latestMetrics: summary.latestMetrics,
                    createdAt: Format.timestamp(summary.run.createdAt), tags: summary.tags, note: summary.note)
            }
            try Console.json(["runs": runs])
            return
        }
        guard !summaries.isEmpty else {
            Console.out(querying ? "No runs match." : "No runs yet. Train one with 'fcstore train --data FILE --layers 32,10'.")
            return
        }
        // TAGS and NOTE (its first line, cut at 40 characters) only when a listed run has them.
        let showTags = summaries.contains { !$0.tags.isEmpty }, showNotes = summaries.contains { $0.note != nil }
        var table = TextTable(["ID", "NAME", "PARENT", "STATUS", "EPOCHS", "BEST VAL LOSS", "CREATED"]
                              + (showTags ? ["TAGS"] : []) + (showNotes ? ["NOTE"] : []))
        for summary in summaries {
            let run = summary.run
            let epochs = summary.lastEpoch.map { "\(summary.firstEpoch ?? 0)-\($0)" } ?? "-"
            let best = summary.bestValidationLoss.map { "\(Format.metric($0))@\(summary.bestValidationEpoch ?? 0)" } ?? "-"
            table.add([
                run.shortID, run.name ?? "-", run.parent.map { "\($0.runID.prefix(8))@\($0.epoch)" } ?? "-",
                run.status.rawValue, epochs, best, Format.timestamp(run.createdAt),
            ] + (showTags ? [summary.tags.isEmpty ? "-" : summary.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")] : [])
              + (showNotes ? [summary.note.map(Self.firstLine) ?? "-"] : []))
        }
        Console.out(lines: table.lines)
    }

    /// The first line of a note, cut at 40 characters.
    static func firstLine(_ note: String) -> String {
        let line = note.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let scalars = line.unicodeScalars
        return scalars.count <= 40 && !note.contains("\n") ? line : String(String.UnicodeScalarView(scalars.prefix(39))) + "…"
    }

    /// `--columns`: a table of those keys (metrics with 4 significant decimals), or with
    /// --json `{"runs": [{KEY: value}]}`: numbers as numbers, `tags` as an object, null when missing.
    func printColumns(_ shown: [RunFields.Field], rows: [Int], fields: inout RunFields) throws {
        if output.json {
            var runs: [[String: JSONValue]] = []
            for index in rows {
                var object: [String: JSONValue] = [:]
                for field in shown {
                    if field.source == .run("tags") {
                        object[field.key] = .object(fields.summaries[index].tags.mapValues(JSONValue.string))
                        continue
                    }
                    switch try fields.value(field, at: index) {
                    case .number(let value)?: object[field.key] = value.isFinite ? .number(value) : .string(RunValue.number(value).text)
                    case .text(let text)?: object[field.key] = .string(text)
                    case nil: object[field.key] = .null
                    }
                }
                runs.append(object)
            }
            try Console.json(["runs": runs])
            return
        }
        guard !rows.isEmpty else {
            Console.out("No runs match.")
            return
        }
        var table = TextTable(shown.map { $0.key.uppercased() })
        for index in rows {
            table.add(try shown.map { field in
                guard let value = try fields.value(field, at: index) else { return "-" }
                if field.isMetric, case .number(let number) = value { return Format.metric(number) }
                if field.source == .run("note") { return Self.firstLine(value.text) }
                return value.text
            })
        }
        Console.out(lines: table.lines)
    }
}
