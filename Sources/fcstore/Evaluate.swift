import ArgumentParser
import FCNet
import FCStorage
import FCTraining
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Loss and metrics of a stored model on labelled data.",
        discussion: """
            Regression: MSE, RMSE, MAE and R². Classification: accuracy, per-class \
            precision, recall and F1, macro-F1, the confusion matrix, and ROC-AUC for two \
            classes. Columns are matched to the model's signature by name; extra columns \
            are ignored (and said so once on stderr).
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @OptionGroup var input: ModelDataOptions

    func run() throws {
        let loaded = try input.load(from: store.openExisting())
        let (model, data, classify) = (loaded.model, loaded.data, loaded.classify)
        let file = (input.data as NSString).lastPathComponent
        guard loaded.labelled else {
            if let label = loaded.labelColumn {
                throw CLIError("\(file) has no column \(ModelColumns.quoted(label)) (the model's label); evaluate needs labelled data: pass --label, or use predict for unlabelled rows.")
            }
            throw CLIError("\(file) has no label column; evaluate needs labelled data (use predict for unlabelled rows).")
        }
        if classify, let top = data.labels.max(), Int(top) >= max(model.spec.outputSize, 2) {
            throw CLIError("\(file) has the label \(Int(top)), but the model has \(max(model.spec.outputSize, 2)) classes.")
        }
        if !loaded.ignored.isEmpty {
            let names = loaded.ignored.prefix(3).map(ModelColumns.quoted).joined(separator: ", ")
                + (loaded.ignored.count > 3 ? " and \(loaded.ignored.count - 3) more" : "")
            let count = loaded.ignored.count
            Console.err("note: \(file) has \(count) \(count == 1 ? "column" : "columns") the model does not use (\(names)); \(count == 1 ? "it is" : "they are") ignored.")
        }
        let evaluation = try model.evaluate(data)
        let outputs = try model.predict(data)
        let width = model.spec.outputSize
        let report = EvaluationReport(
            model: loaded.checkpoint, rows: evaluation.count, loss: evaluation.loss, labelColumn: loaded.labelColumn,
            ignoredColumns: loaded.ignored,
            regression: classify ? nil : Metrics.regression(predictions: outputs, targets: data.labels),
            classification: classify ? Metrics.classification(outputs: outputs, width: width, labels: data.labels) : nil,
            classes: loaded.signature?.classes)
        if output.json {
            try Console.json(report)
        } else {
            Console.out(lines: report.text(name: loaded.shortName).components(separatedBy: "\n"))
        }
    }
}
