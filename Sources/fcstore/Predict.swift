import ArgumentParser
import FCNet
import FCStorage
import FCTraining
import Foundation

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict with a stored model: one line per data row.",
        discussion: """
            For classification: the predicted class, then the output probabilities. For \
            regression: the output. Columns are matched to the model's signature by name \
            (by position for models without one); the label column and extra columns, if \
            present, are ignored; the stored normalisation is applied.
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    @OptionGroup var input: ModelDataOptions

    struct PredictionsJSON: Encodable {
        var model: String
        var predictions: [PredictionJSON]
    }

    struct PredictionJSON: Encodable {
        var row: Int
        var `class`: Int?
        var outputs: [Float]
    }

    func run() throws {
        let loaded = try input.load(from: store.openExisting())
        let (model, data, classify) = (loaded.model, loaded.data, loaded.classify)
        let outputs = try model.predict(features: data.features, count: data.count)
        let width = model.spec.outputSize
        func predictedClass(_ row: ArraySlice<Float>) -> Int? {
            classify ? Metrics.predictedClass(row) : nil
        }
        if output.json {
            let rows = (0..<data.count).map { r -> PredictionJSON in
                let row = outputs[(r * width)..<((r + 1) * width)]
                return PredictionJSON(row: r, class: predictedClass(row), outputs: Array(row))
            }
            try Console.json(PredictionsJSON(model: loaded.checkpoint, predictions: rows))
            return
        }
        var text = ""
        text.reserveCapacity(data.count * width * 10)
        for r in 0..<data.count {
            let row = outputs[(r * width)..<((r + 1) * width)]
            let values = row.map { String(format: "%.6f", $0) }.joined(separator: " ")
            if let predicted = predictedClass(row) {
                text += "\(predicted) \(values)\n"
            } else {
                text += "\(values)\n"
            }
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

