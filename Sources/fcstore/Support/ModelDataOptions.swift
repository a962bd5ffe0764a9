import ArgumentParser
import FCFormats
import FCNet
import FCStorage
import FCTraining

/// The checkpoint and data arguments `predict` and `evaluate` share.
struct ModelDataOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("A run, RUN@EPOCH or RUN@best.", valueName: "ref"))
    var ref: CheckpointRef

    @Option(help: ArgumentHelp(
        "A CSV file (the label column is optional for predict) or an IDX image file.", valueName: "file"))
    var data: String

    @Option(help: ArgumentHelp(
        "The label column (a name or 0-based index), if not the model's recorded one.", valueName: "column"))
    var label: String?

    struct Loaded {
        /// `RUN-ID@EPOCH`, full id.
        var checkpoint: String
        var shortName: String
        var model: Model
        var data: Dataset
        var labelled: Bool
        /// False for regression (mse with one output).
        var classify: Bool
        var signature: ModelSignature?
        /// The label column looked for, when it has a name.
        var labelColumn: String?
        /// Columns of the data file the model does not use.
        var ignored: [String]
    }

    /// The stored model, and the data's columns matched to its signature (with the stored
    /// normalisation applied later by the model itself).
    func load(from store: Store) throws -> Loaded {
        let (run, config, checkpoint, model) = try Workflow.model(store, run: ref.run, epoch: ref.selector)
        let classify = model.spec.loss != .mse || model.spec.outputSize > 1
        let matched = try ModelColumns.load(
            path: self.data, labelOverride: label, signature: config.signature, recordedLabel: config.data?.labelColumn,
            inputSize: model.spec.inputSize, task: classify ? .classification : .regression)
        return Loaded(checkpoint: "\(run.id)@\(checkpoint.epoch)", shortName: "\(run.shortID)@\(checkpoint.epoch)",
                      model: model, data: matched.data, labelled: matched.labelled, classify: classify,
                      signature: config.signature, labelColumn: matched.labelColumn, ignored: matched.ignored)
    }
}
