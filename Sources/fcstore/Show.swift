import ArgumentParser
import FCFormats
import FCNet
import FCStorage
import FCTraining
import Foundation

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a run's configuration, architecture, data, lineage and per-epoch metrics.")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("A run, RUN@EPOCH or RUN@best.", valueName: "ref"))
    var ref: CheckpointRef

    @Flag(help: "List the changes of the run's name, status, tags and note (instead of the epochs).")
    var history = false

    struct ShowJSON: Encodable {
        var id: String
        var name: String?
        var status: String
        var createdAt: String
        /// nil for an imported model: it was not trained here.
        var seed: UInt64?
        var parent: Runs.ParentJSON?
        var lineage: [Runs.ParentJSON]
        var architecture: [Int]
        var activations: [String]
        var loss: String
        /// The stored configuration with snake_case keys (see `configJSON`).
        var config: JSONValue
        var selectedEpoch: Int
        var epochs: [EpochJSON]
        /// The early stop the run ended with, or null.
        var earlyStop: EarlyStopJSON?
        /// Where each train / resume process read its data and the engine setting it ran with.
        var segments: [SegmentJSON]
        var tags: [String: String]
        var note: String?
        var history: [EventJSON]

        enum CodingKeys: String, CodingKey {
            case id, name, status, seed, parent, lineage, architecture, activations, loss, config, epochs, segments
            case tags, note, history
            case earlyStop = "early_stop"
            case createdAt = "created_at"
            case selectedEpoch = "selected_epoch"
        }

        /// Absent values are null, not missing keys, as in every --json document.
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encodeOrNull(name, forKey: .name)
            try container.encode(status, forKey: .status)
            try container.encode(createdAt, forKey: .createdAt)
            if let seed { try container.encode(seed, forKey: .seed) } else { try container.encodeNil(forKey: .seed) }
            if let parent { try container.encode(parent, forKey: .parent) } else { try container.encodeNil(forKey: .parent) }
            try container.encode(lineage, forKey: .lineage)
            try container.encode(architecture, forKey: .architecture)
            try container.encode(activations, forKey: .activations)
            try container.encode(loss, forKey: .loss)
            try container.encode(config, forKey: .config)
            try container.encode(selectedEpoch, forKey: .selectedEpoch)
            try container.encode(epochs, forKey: .epochs)
            if let earlyStop { try container.encode(earlyStop, forKey: .earlyStop) } else { try container.encodeNil(forKey: .earlyStop) }
            try container.encode(segments, forKey: .segments)
            try container.encode(tags, forKey: .tags)
            try container.encodeOrNull(note, forKey: .note)
            try container.encode(history, forKey: .history)
        }
    }

    struct SegmentJSON: Encodable {
        var run: String
        var firstEpoch: Int
        var lastEpoch: Int
        var startedAt: String
        var host: String
        var data: String?
        var labels: String?
        var validation: String?
        var dataFingerprint: String?
        var validationFingerprint: String?
        var blasCore: String
        var blasThreads: Int
        var kernelsISA: String
        var fcstoreVersion: String

        init(_ record: SegmentRecord) {
            let s = record.input
            run = record.runID
            firstEpoch = s.firstEpoch
            lastEpoch = record.lastEpoch
            startedAt = Format.timestamp(s.startedAt)
            host = s.host
            data = s.dataPath
            labels = s.labelsPath
            validation = s.validationPath
            dataFingerprint = s.dataFingerprint
            validationFingerprint = s.validationFingerprint
            blasCore = s.blasCore
            blasThreads = s.blasThreads
            kernelsISA = s.kernelsISA
            fcstoreVersion = s.fcstoreVersion
        }

        enum CodingKeys: String, CodingKey {
            case run, host, data, labels, validation
            case firstEpoch = "first_epoch", lastEpoch = "last_epoch", startedAt = "started_at"
            case dataFingerprint = "data_fingerprint", validationFingerprint = "validation_fingerprint"
            case blasCore = "blas_core", blasThreads = "blas_threads", kernelsISA = "kernels_isa", fcstoreVersion = "fcstore_version"
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(run, forKey: .run)
            try c.encode(firstEpoch, forKey: .firstEpoch)
            try c.encode(lastEpoch, forKey: .lastEpoch)
            try c.encode(startedAt, forKey: .startedAt)
            try c.encode(host, forKey: .host)
            try c.encodeOrNull(data, forKey: .data)
            try c.encodeOrNull(labels, forKey: .labels)
            try c.encodeOrNull(validation, forKey: .validation)
            try c.encodeOrNull(dataFingerprint, forKey: .dataFingerprint)
            try c.encodeOrNull(validationFingerprint, forKey: .validationFingerprint)
            try c.encode(blasCore, forKey: .blasCore)
            try c.encode(blasThreads, forKey: .blasThreads)
            try c.encode(kernelsISA, forKey: .kernelsISA)
            try c.encode(fcstoreVersion, forKey: .fcstoreVersion)
        }
    }

    /// One line per segment: its epochs, host, data paths and engine setting.
    static func segmentLines(_ segments: [SegmentRecord], runID: String) -> [String] {
        segments.enumerated().map { index, record in
            let s = record.input
            var parts = ["epochs \(s.firstEpoch)-\(record.lastEpoch)"]
            if record.runID != runID { parts.append("of \(record.runID.prefix(8))") }
            parts.append("host \(s.host)")
            if let data = s.dataPath { parts.append("data \(data)") }
            if let labels = s.labelsPath { parts.append("labels \(labels)") }
            if let validation = s.validationPath { parts.append("validation \(validation)") }
            parts.append("OpenBLAS \(s.blasCore), \(Format.count(s.blasThreads, "thread"))  kernels \(s.kernelsISA)")
            return (index == 0 ? "segments   " : "           ") + parts.joined(separator: "  ")
        }
    }

    /// One row of the events table: `show --json`'s `history[]`.
    struct EventJSON: Encodable {
        var time: String
        var host: String
        var user: String
        var field: String
        var old: String?
        var new: String?

        init(_ event: RunEvent) {
            (time, host, user, field, old, new) = (event.changedAt, event.host, event.user, event.field, event.oldValue, event.newValue)
        }

        enum CodingKeys: String, CodingKey { case time, host, user, field, old, new }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(time, forKey: .time)
            try container.encode(host, forKey: .host)
            try container.encode(user, forKey: .user)
            try container.encode(field, forKey: .field)
            try container.encodeOrNull(old, forKey: .old)
            try container.encodeOrNull(new, forKey: .new)
        }
    }

    struct EpochJSON: Encodable {
        var epoch: Int
        var createdAt: String
        var digest: String
        var inherited: Bool
        var pruned: Bool
        var metrics: [String: Double]
        enum CodingKeys: String, CodingKey {
            case epoch, digest, inherited, pruned, metrics
            case createdAt = "created_at"
        }
    }

    func run() throws {
        let store = try self.store.openExisting()
        let run = try store.resolveRun(ref.run)
        let checkpoints = try store.checkpoints(runID: run.id)
        // show needs only the selected epoch's number and digest, not its tensors: a
        // pruned epoch (tensors released, metrics and digest kept) can be shown too.
        let config = try RunConfig.decode(run.config, run: run.shortID)
        guard let selected = Workflow.select(ref.selector, in: checkpoints, earlyStopping: config.training.earlyStopping) else {
            // Not in the listing: let the store say why (no such epoch, no checkpoints).
            _ = try Workflow.checkpoint(store, run: run.id, epoch: ref.selector)
            throw CLIError("Run \(run.shortID) has no checkpoint \(ref).")
        }
        let checkpoint = (epoch: selected.epoch, digestHex: selected.digestHex)
        var lineage: [Runs.ParentJSON] = []
        var cursor = run.parent
        while let parent = cursor, lineage.count < 1000 {
            lineage.append(Runs.ParentJSON(run: parent.runID, epoch: parent.epoch))
            cursor = try store.run(id: parent.runID).parent
        }
        let spec = config.spec
        let activations = (1...spec.layerCount).map { spec.activation(layer: $0).rawValue }

        // A model file imported as a run has no training configuration: the store's
        // row holds placeholders (optimizer, batch size, seed, epochs) that mean nothing.
        let imported = run.status == .imported
        let earlyStop = EarlyStopJSON(run: run, checkpoints: checkpoints, config: config)
        let segments = try store.segments(runID: run.id)
        let tags = try store.tags(runID: run.id)
        let note = try store.note(runID: run.id)
        let events = output.json || history ? try store.events(runID: run.id) : []
        if output.json {
            try Console.json(ShowJSON(
                id: run.id, name: run.name, status: run.status.rawValue, createdAt: Format.timestamp(run.createdAt),
                seed: imported ? nil : run.seed, parent: lineage.first, lineage: lineage, architecture: spec.sizes,
                activations: activations, loss: spec.loss.rawValue, config: try Self.configJSON(config, imported: imported),
                selectedEpoch: checkpoint.epoch,
                epochs: checkpoints.map {
                    EpochJSON(epoch: $0.epoch, createdAt: Format.timestamp($0.createdAt), digest: $0.digestHex,
                              inherited: $0.inherited, pruned: $0.pruned, metrics: $0.metrics)
                }, earlyStop: earlyStop, segments: segments.map(SegmentJSON.init),
                tags: tags, note: note, history: events.map(EventJSON.init)))
            return
        }

        var lines: [String] = []
        lines.append("run        \(run.id)\(run.name.map { "  (\($0))" } ?? "")")
        lines.append("status     \(run.status.rawValue)" + (earlyStop.map { "  (\($0.text))" } ?? ""))
        lines.append("created    \(Format.timestamp(run.createdAt))")
        if !tags.isEmpty { lines.append("tags       " + tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
        if let note {
            // Each line of the note on a line of its own (each escaped by Console).
            for (index, line) in note.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                lines.append((index == 0 ? "note       " : "           ") + line)
            }
        }
        if lineage.isEmpty {
            lines.append("lineage    root run")
        } else {
            lines.append("lineage    " + ([run.shortID] + lineage.map { "\($0.run.prefix(8))@\($0.epoch)" }).joined(separator: " <- "))
        }
        if let from = config.initializedFrom { lines.append("init       weights of \(from.prefix(8))\(from.drop { $0 != "@" })") }
        lines.append("network    \(spec.sizes.map(String.init).joined(separator: "-"))  \(activations.joined(separator: ","))  loss \(spec.loss.rawValue)")
        if imported {
            lines.append("optimizer  imported (not trained in fcstore: no optimizer, batch size or seed recorded)")
            lines.append("training   imported  normalize \(config.normalization.rawValue)")
        } else {
            lines.append(contentsOf: Self.trainingLines(config))
        }
        if let data = config.data {
            lines.append("data       \(data.path)  \(Format.count(data.rows, "row")) x \(Format.count(data.columns, "column"))  fingerprint \(data.fingerprint)")
        } else {
            lines.append("data       none recorded (imported model)")
        }
        lines.append("signature  " + Self.signatureText(config.signature))
        switch config.validation {
        case .split(let fraction)?: lines.append("validation \(Int((fraction * 100).rounded()))% held out of the data (seeded)")
        case .file(let source)?: lines.append("validation \(source.path)  \(Format.count(source.rows, "row"))  fingerprint \(source.fingerprint)")
        case nil: lines.append("validation none")
        }
        if let core = config.blasCore { lines.append("blas       \(core), \(Format.count(config.blasThreads ?? 0, "thread"))") }
        lines.append(contentsOf: Self.segmentLines(segments, runID: run.id))
        lines.append("selected   epoch \(checkpoint.epoch)  digest \(checkpoint.digestHex.prefix(16))")
        Console.out(lines: lines)
        Console.out()
        if history {
            Console.out(lines: Self.historyTable(events))
            return
        }

        var table = TextTable("EPOCH", "TRAIN LOSS", "TRAIN ACC", "VAL LOSS", "VAL ACC", "LR", "TIME", "NOTE")
        for summary in checkpoints {
            let m = summary.metrics
            var note: [String] = []
            if summary.inherited { note.append("from \(summary.ownerRunID.prefix(8))") }
            if summary.pruned { note.append("pruned") }
            if summary.epoch == checkpoint.epoch { note.append("<- selected") }
            table.add([
                "\(summary.epoch)", Format.metric(m["train_loss"]), Format.percent(m["train_accuracy"]),
                Format.metric(m["val_loss"]), Format.percent(m["val_accuracy"]),
                m["learning_rate"].map { String(format: "%g", $0) } ?? "-",
                m["wall_time_s"].map { Format.duration($0) } ?? "-", note.joined(separator: ", "),
            ])
        }
        Console.out(lines: table.lines)
    }

    /// `show --history`: one row per event, oldest first; long values cut at 60 characters.
    static func historyTable(_ events: [RunEvent]) -> [String] {
        guard !events.isEmpty else { return ["No changes recorded."] }
        func cell(_ value: String?) -> String {
            guard let value else { return "-" }
            let scalars = value.unicodeScalars
            return scalars.count <= 60 ? value : String(String.UnicodeScalarView(scalars.prefix(59))) + "…"
        }
        var table = TextTable("TIME", "HOST", "USER", "FIELD", "OLD", "NEW")
        for event in events { table.add([event.changedAt, event.host, event.user, event.field, cell(event.oldValue), cell(event.newValue)]) }
        return table.lines
    }

    /// One line: the features (by name or position), the label column and the task.
    static func signatureText(_ signature: ModelSignature?) -> String {
        guard let signature else { return "none recorded (inputs matched by position)" }
        let count = "\(signature.featureCount) \(signature.featureCount == 1 ? "feature" : "features")"
        var parts: [String]
        if let names = signature.features {
            let shown = names.prefix(4).map(ModelColumns.escaped).joined(separator: ", ") + (names.count > 4 ? ", ..." : "")
            parts = ["\(count) by name (\(shown))"]
        } else {
            parts = ["\(count) by position"]
        }
        parts.append(signature.label.map { "label \(ModelColumns.quoted($0))" } ?? "labels from their own file")
        switch signature.task {
        case .classification:
            let classes = signature.classes ?? []
            parts.append("classification, \(classes.count) classes (\(classes.prefix(10).map(ModelColumns.escaped).joined(separator: ","))\(classes.count > 10 ? ",..." : ""))")
        case .regression:
            parts.append("regression of \(ModelColumns.quoted(signature.target ?? signature.label ?? "the output"))")
        }
        return parts.joined(separator: "  ")
    }

    /// The optimizer and training lines of a run trained in fcstore.
    static func trainingLines(_ config: RunConfig) -> [String] {
        let optimizer = config.training.optimizer
        var optimizerText = "\(optimizer.kind.rawValue)  learning rate \(optimizer.learningRate)"
        if optimizer.kind == .momentum { optimizerText += "  momentum \(optimizer.momentum)" }
        if case let .stepDecay(every, factor) = optimizer.schedule {
            optimizerText += "  step decay x\(factor) every \(Format.count(every, "epoch"))"
        }
        if let lambda = optimizer.weightDecay {
            optimizerText += "  weight decay \(lambda)\(optimizer.kind == .adam ? " (decoupled, AdamW)" : " (L2)")"
        }
        let batch = config.training.batchSize.map { $0 == 1 ? "1 (SGD)" : "\($0)" } ?? "full (GD)"
        var lines = [
            "optimizer  \(optimizerText)",
            "training   batch \(batch)  epochs \(config.epochs)  seed \(config.training.seed)  normalize \(config.normalization.rawValue)",
        ]
        var regularization: [String] = []
        if let p = config.training.dropout { regularization.append("dropout \(p)") }
        if let rule = config.training.earlyStopping {
            regularization.append("early stopping on \(rule.monitor.rawValue), patience \(rule.patience), min delta \(rule.minDelta)")
        }
        if !regularization.isEmpty { lines.append("regularize \(regularization.joined(separator: "  "))") }
        return lines
    }

    /// `show --json`'s `config`: the stored configuration (camelCase keys, as
    /// Swift encodes it) with snake_case keys, the keys of an imported file's
    /// own metadata (`provenance`) as they are. For an imported model the
    /// training fields it never had (`training.optimizer`, `training.batch_size`,
    /// `training.seed`, `epochs`) are null.
    static func configJSON(_ config: RunConfig, imported: Bool) throws -> JSONValue {
        var json = try JSONValue.encoding(config).snakeCased(keepingKeysUnder: ["provenance"])
        if imported {
            json["epochs"] = .null
            if var training = json["training"] {
                for key in ["optimizer", "batch_size", "seed"] { training[key] = .null }
                json["training"] = training
            }
        }
        return json
    }
}
