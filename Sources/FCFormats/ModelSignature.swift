import Foundation

/// What a model's inputs and outputs mean: the feature columns in input order,
/// the label column, and the task (the classes with their labels, or the
/// regression target). Stored in the run's configuration (`runs.config`,
/// key `signature`), in every model file as the `fcstore.signature` metadata,
/// and used by `predict` and `evaluate` to find the columns of a data file.
///
///     {"classes":["0","1","2"],"feature_count":4,"features":["sepal_length",...],
///      "label":"label","matching":"name","task":"classification"}
///
///     {"feature_count":3,"features":[...],"label":"sepal_length","matching":"name",
///      "target":"sepal_length","task":"regression"}
///
/// `matching` is `name` when the features carry column names (a CSV header) and
/// `position` when they do not (IDX images: feature i is pixel i; `features` is then null).
public struct ModelSignature: Codable, Equatable, Sendable {
    public enum Task: String, Codable, Sendable { case classification, regression }
    public enum Matching: String, Codable, Sendable { case name, position }

    /// The feature column names, in the order of the model's inputs; nil when positional.
    public var features: [String]?
    /// N_0, the number of features.
    public var featureCount: Int
    /// How input columns are found: by `features`' names, or by position.
    public var matching: Matching
    /// The label column's name in the training data; nil when the labels came from
    /// their own file (IDX).
    public var label: String?
    public var task: Task
    /// Classification: the label of each class, by output index (class k is `classes[k]`).
    public var classes: [String]?
    /// Regression: the name of the predicted quantity (the label column).
    public var target: String?

    enum CodingKeys: String, CodingKey {
        case features, matching, label, task, classes, target
        case featureCount = "feature_count"
    }

    public init(features: [String]?, featureCount: Int, label: String?, task: Task, classes: [String]? = nil, target: String? = nil) {
        self.features = features
        self.featureCount = featureCount
        self.matching = features == nil ? .position : .name
        self.label = label
        self.task = task
        self.classes = classes
        self.target = target
    }

    /// Checks that the signature describes a model of `inputs` inputs and `outputs` outputs.
    /// - Throws: `ModelFormatError` (format `.model`) naming the first problem.
    public func validate(inputs: Int, outputs: Int) throws {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.model, "The model's signature \(message)") }
        guard featureCount == inputs else { throw fail("lists \(featureCount) features but the model has \(inputs) inputs.") }
        if let features {
            guard matching == .name else { throw fail("lists feature names but says they match by position.") }
            guard features.count == inputs else { throw fail("names \(features.count) features but the model has \(inputs) inputs.") }
        } else if matching == .name {
            throw fail("matches features by name but lists no names.")
        }
        switch task {
        case .classification:
            let count = max(outputs, 2)
            guard let classes, classes.count == count else {
                throw fail("lists \(classes?.count ?? 0) classes but the model has \(count).")
            }
        case .regression:
            guard classes == nil else { throw fail("lists classes for a regression model.") }
        }
    }

    /// The JSON text stored in metadata (keys sorted, so equal signatures are equal text).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, numbers and arrays of strings cannot fail.
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// The text is held to the strict reader's rules first (valid UTF-8, no duplicate keys,
    /// bounded depth), the policy of every format's JSON, then decoded.
    /// - Throws: `ModelFormatError` in `format` when the text is not a signature.
    public static func decode(_ text: String, format: ModelFormatError.Format) throws -> ModelSignature {
        do {
            _ = try JSONParser.parse(Array(text.utf8)[...])
            return try JSONDecoder().decode(ModelSignature.self, from: Data(text.utf8))
        } catch {
            throw ModelFormatError(format, "The \"\(ModelFile.signatureKey)\" metadata is not a model signature; expected {\"feature_count\":N,\"features\":[...] or null,\"matching\":\"name\" or \"position\",\"label\":...,\"task\":\"classification\" or \"regression\",...}.")
        }
    }
}
