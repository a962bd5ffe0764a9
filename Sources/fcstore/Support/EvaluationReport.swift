import FCNet
import FCTraining
import Foundation

/// What `evaluate` prints: as text, or as its `--json` document.
///
/// JSON keys: `model`, `rows`, `loss`, `label_column`, `ignored_columns`; for
/// regression `mse`, `rmse`, `mae`, `r2`; for classification `accuracy`,
/// `confusion`, `classes`, `precision`, `recall`, `f1`, `support` (per class, by
/// class index), `macro_f1` and `roc_auc`. Keys of the other task are null.
struct EvaluationReport: Encodable {
    var model: String
    var rows: Int
    var loss: Double
    var labelColumn: String?
    var ignoredColumns: [String]
    var regression: Metrics.Regression?
    var classification: Metrics.Classification?
    /// The class labels from the signature, when recorded.
    var classes: [String]?

    enum CodingKeys: String, CodingKey {
        case model, rows, loss, accuracy, confusion, classes, precision, recall, f1, support, mse, rmse, mae, r2
        case labelColumn = "label_column"
        case ignoredColumns = "ignored_columns"
        case macroF1 = "macro_f1"
        case rocAUC = "roc_auc"
    }

    /// The label of class k.
    func classLabel(_ k: Int) -> String { classes.flatMap { k < $0.count ? $0[k] : nil } ?? String(k) }

    /// The label of class k for a terminal (control characters escaped).
    func shownLabel(_ k: Int) -> String { ModelColumns.escaped(classLabel(k)) }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(rows, forKey: .rows)
        try container.encode(loss, forKey: .loss)
        try container.encodeOrNull(labelColumn, forKey: .labelColumn)
        try container.encode(ignoredColumns, forKey: .ignoredColumns)
        let c = classification, r = regression
        try container.encode(c?.accuracy, forKey: .accuracy)
        try container.encode(c?.confusion, forKey: .confusion)
        try container.encode(c.map { (0..<$0.support.count).map(classLabel) }, forKey: .classes)
        try container.encode(c?.precision, forKey: .precision)
        try container.encode(c?.recall, forKey: .recall)
        try container.encode(c?.f1, forKey: .f1)
        try container.encode(c?.support, forKey: .support)
        try container.encode(c?.macroF1, forKey: .macroF1)
        try container.encode(c?.rocAUC, forKey: .rocAUC)
        try container.encode(r?.mse, forKey: .mse)
        try container.encode(r?.rmse, forKey: .rmse)
        try container.encode(r?.mae, forKey: .mae)
        try container.encode(r?.r2, forKey: .r2)
    }

    func text(name: String) -> String {
        var lines = ["model     \(name)", "rows      \(rows)", "loss      \(Format.metric(loss))"]
        if let r = regression {
            lines.append("mse       \(Format.metric(r.mse))")
            lines.append("rmse      \(Format.metric(r.rmse))")
            lines.append("mae       \(Format.metric(r.mae))")
            lines.append("r2        \(Format.metric(r.r2))")
        }
        guard let c = classification else { return lines.joined(separator: "\n") }
        let correct = (0..<c.confusion.count).reduce(0) { $0 + c.confusion[$1][$1] }
        lines.append("accuracy  \(Format.percent(c.accuracy))  (\(correct)/\(rows))")
        lines.append("macro-F1  \(Format.metric(c.macroF1))")
        if c.support.count == 2 { lines.append("ROC-AUC   \(Format.metric(c.rocAUC))") }
        lines.append("")
        var perClass = TextTable("CLASS", "PRECISION", "RECALL", "F1", "SUPPORT")
        for k in c.support.indices {
            perClass.add([shownLabel(k), Format.metric(c.precision[k]), Format.metric(c.recall[k]), Format.metric(c.f1[k]), "\(c.support[k])"])
        }
        lines.append(perClass.rendered)
        lines.append("")
        lines.append("confusion matrix (rows: true label, columns: predicted)")
        var table = TextTable(["label"] + c.confusion.indices.map(shownLabel))
        for (index, row) in c.confusion.enumerated() { table.add([shownLabel(index)] + row.map(String.init)) }
        lines.append(table.rendered)
        return lines.joined(separator: "\n")
    }
}
