import ArgumentParser
import FCNet
import FCStorage
import FCTraining
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Loss, accuracy and confusion matrix of a stored model on labelled data.")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @OptionGroup var input: ModelDataOptions

    struct EvaluationJSON: Encodable {
        var model: String
        var rows: Int
        var loss: Double
        var accuracy: Double?
        var confusion: [[Int]]?

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(model, forKey: .model)
            try container.encode(rows, forKey: .rows)
            try container.encode(loss, forKey: .loss)
            try container.encode(accuracy, forKey: .accuracy)
            try container.encode(confusion, forKey: .confusion)
        }
        enum CodingKeys: String, CodingKey { case model, rows, loss, accuracy, confusion }
    }

    func run() throws {
        let loaded = try input.load(from: store.openExisting())
        let (model, data, classify) = (loaded.model, loaded.data, loaded.classify)
        let file = (input.data as NSString).lastPathComponent
        guard loaded.labelled else {
            throw CLIError("\(file) has no label column; evaluate needs labelled data (use predict for unlabelled rows).")
        }
        if classify, let top = data.labels.max(), Int(top) >= max(model.spec.outputSize, 2) {
            throw CLIError("\(file) has the label \(Int(top)), but the model has \(max(model.spec.outputSize, 2)) classes.")
        }
        let evaluation = try model.evaluate(data)
        let name = loaded.shortName
        if output.json {
            try Console.json(EvaluationJSON(model: loaded.checkpoint, rows: evaluation.count, loss: evaluation.loss,
                                            accuracy: evaluation.accuracy, confusion: evaluation.confusion))
            return
        }
        Console.out("model     \(name)")
        Console.out("rows      \(evaluation.count)")
        Console.out("loss      \(Format.metric(evaluation.loss))")
        if let accuracy = evaluation.accuracy {
            let correct = Int((accuracy * Double(evaluation.count)).rounded())
            Console.out("accuracy  \(Format.percent(accuracy))  (\(correct)/\(evaluation.count))")
        }
        if let confusion = evaluation.confusion {
            Console.out()
            Console.out("confusion matrix (rows: true label, columns: predicted)")
            var table = TextTable(["label"] + confusion.indices.map(String.init))
            for (index, row) in confusion.enumerated() { table.add(["\(index)"] + row.map(String.init)) }
            Console.out(lines: table.lines)
        }
    }
}
