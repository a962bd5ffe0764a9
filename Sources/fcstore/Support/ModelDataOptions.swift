import ArgumentParser
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

    @Option(help: ArgumentHelp("The label column, if it is not 'label' or the last.", valueName: "column"))
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
    }

    /// The stored model, and the data loaded to fit its input width (with the stored
    /// normalisation applied later by the model itself).
    func load(from store: Store) throws -> Loaded {
        let (run, _, checkpoint, model) = try Workflow.model(store, run: ref.run, epoch: ref.selector)
        let classify = model.spec.loss != .mse || model.spec.outputSize > 1
        let (data, labelled) = try DataLoading.loadForModel(
            path: self.data, labelColumn: label, inputSize: model.spec.inputSize,
            task: classify ? .classification : .regression)
        return Loaded(checkpoint: "\(run.id)@\(checkpoint.epoch)", shortName: "\(run.shortID)@\(checkpoint.epoch)",
                      model: model, data: data, labelled: labelled, classify: classify)
    }
}
