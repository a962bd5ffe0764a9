import FCCore
/// The string metadata that safetensors (`__metadata__`), npz (the
/// `fcstore_metadata` member) and ONNX (`metadata_props`) carry, and the
/// assembly of a `ModelFile` from named tensors plus that metadata.
///
/// Keys (all values are strings):
///
/// | key | example | required on import |
/// |---|---|---|
/// | `format` | `fcstore` | no |
/// | `fcstore.architecture` | `5-7-3` (N_0-N_1-...-N_L, input size first) | no; checked against the tensors when present |
/// | `fcstore.activations` | `sigmoid,softmax` (one per layer, l = 1...L) | **yes** |
/// | `fcstore.loss` | `cross-entropy` | no |
/// | `fcstore.normalization` | `{"kind":"standard","shift":[0.5],"scale":[2.0]}` | no |
/// | `fcstore.signature` | `{"feature_count":4,"features":["a","b","c","d"],...}` (see `ModelSignature`) | no |
///
/// In npz files the metadata member is one JSON object whose `fcstore.normalization`
/// and `fcstore.signature` values are nested objects (older files hold them as JSON
/// text inside a string; both forms are read).
///
/// Every other key is the caller's provenance and lands in `ModelFile.metadata`.
extension ModelFile {
    public static let formatKey = "format"
    public static let architectureKey = "fcstore.architecture"
    public static let activationsKey = "fcstore.activations"
    public static let lossKey = "fcstore.loss"
    public static let normalizationKey = "fcstore.normalization"
    public static let signatureKey = "fcstore.signature"

    /// Keys the writers fill in from the model's fields; `metadata` must not use them.
    public static let reservedMetadataKeys: Set<String> = [formatKey, architectureKey, activationsKey, lossKey, normalizationKey, signatureKey]

    /// Keys whose values are JSON objects: text in a string for safetensors and ONNX
    /// (whose metadata values are strings), nested objects in npz.
    static let objectMetadataKeys: Set<String> = [normalizationKey, signatureKey]

    /// The tensor names of layer l (counted from 1).
    public static func weightName(layer l: Int) -> String { TensorName.weight(layer: l) }
    public static func biasName(layer l: Int) -> String { TensorName.bias(layer: l) }

    /// The metadata every format writes, sorted by key. Call after `validate()`.
    func formatMetadata() -> [(key: String, value: String)] {
        var entries = metadata
        entries[ModelFile.formatKey] = "fcstore"
        entries[ModelFile.architectureKey] = architecture.map(String.init).joined(separator: "-")
        entries[ModelFile.activationsKey] = layers.map(\.activation).joined(separator: ",")
        if let loss { entries[ModelFile.lossKey] = loss }
        if let normalization {
            entries[ModelFile.normalizationKey] = "{\"kind\":" + JSONWriter.quote(normalization.kind)
                + ",\"shift\":[" + normalization.shift.map(JSONWriter.number).joined(separator: ",")
                + "],\"scale\":[" + normalization.scale.map(JSONWriter.number).joined(separator: ",") + "]}"
        }
        if let signature { entries[ModelFile.signatureKey] = signature.json() }
        return entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { (key: $0.key, value: $0.value) }
    }

    /// The metadata as one JSON object whose `objectMetadataKeys` values are nested
    /// objects rather than strings (the npz form). Call after `validate()`.
    func nestedMetadataJSON() -> String {
        "{" + formatMetadata().map { entry in
            JSONWriter.quote(entry.key) + ":"
                + (ModelFile.objectMetadataKeys.contains(entry.key) ? entry.value : JSONWriter.quote(entry.value))
        }.joined(separator: ",") + "}"
    }

    /// The tensors every format writes, in file order: layer 1's weight, its bias, layer 2's weight, ...
    func namedTensors() -> [(name: String, tensor: TensorValue)] {
        layers.enumerated().flatMap { index, layer in
            [(ModelFile.weightName(layer: index + 1), layer.weight), (ModelFile.biasName(layer: index + 1), layer.bias)]
        }
    }

    /// Builds and validates a model from `layers.<l>.weight` / `layers.<l>.bias`
    /// tensors and the metadata described above.
    /// - Throws: `ModelFormatError` in `format` when a tensor name is unknown, a
    ///   layer is missing, `fcstore.activations` is absent or malformed, or the
    ///   model does not validate.
    static func assemble(tensors: [String: TensorValue], metadata: [String: String], format: ModelFormatError.Format) throws -> ModelFile {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(format, message) }
        let what = "The \(format.rawValue) file"

        // Tensor names: exactly layers.<l>.weight and layers.<l>.bias, l = 1...L without gaps.
        var found: [Int: (weight: TensorValue?, bias: TensorValue?)] = [:]
        for name in tensors.keys.sorted() {
            guard let (l, role) = TensorName.parseParameter(name) else {
                throw fail("\(what) holds a tensor named \"\(name)\"; fcstore model files hold only tensors named layers.<l>.weight and layers.<l>.bias, with l counted from 1.")
            }
            if role == TensorRole.weight { found[l, default: (nil, nil)].weight = tensors[name] } else { found[l, default: (nil, nil)].bias = tensors[name] }
        }
        guard !found.isEmpty else { throw fail("\(what) holds no tensors; it needs layers.1.weight and layers.1.bias at least.") }
        let layerNumbers = found.keys.sorted()
        let count = layerNumbers.count
        for l in 1...count {
            guard let entry = found[l] else {
                throw fail("\(what) has no tensors for layer \(l) (it has layers \(layerNumbers.map(String.init).joined(separator: ", "))); layers must be numbered 1...L without gaps.")
            }
            guard entry.weight != nil else { throw fail("\(what) has no tensor \"\(weightName(layer: l))\" to go with \"\(biasName(layer: l))\".") }
            guard entry.bias != nil else { throw fail("\(what) has no tensor \"\(biasName(layer: l))\" to go with \"\(weightName(layer: l))\".") }
        }

        guard let activationList = metadata[activationsKey] else {
            throw fail("\(what) has no \"\(activationsKey)\" metadata; add it with one activation per layer, e.g. \"sigmoid,softmax\" (each one of \(activations.joined(separator: ", "))).")
        }
        let activationNames = activationList.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard activationNames.count == count else {
            throw fail("The \"\(activationsKey)\" metadata \"\(activationList)\" names \(activationNames.count) activations but the file has \(count) layers; give one per layer.")
        }

        var layers: [Layer] = []
        for l in 1...count {
            layers.append(Layer(weight: found[l]!.weight!, bias: found[l]!.bias!, activation: activationNames[l - 1]))
        }

        var normalization: Normalization? = nil
        if let text = metadata[normalizationKey] {
            normalization = try parseNormalization(text, format: format)
        }

        let signature = try metadata[signatureKey].map { try ModelSignature.decode($0, format: format) }
        let model = ModelFile(layers: layers, normalization: normalization, loss: metadata[lossKey],
                              metadata: metadata.filter { !reservedMetadataKeys.contains($0.key) }, signature: signature)
        do {
            try model.validate()
        } catch let error as ModelFormatError {
            throw fail("\(what) does not hold a valid model: \(error.message)")
        }
        if let declared = metadata[architectureKey] {
            let actual = model.architecture.map(String.init).joined(separator: "-")
            guard declared == actual else {
                throw fail("The \"\(architectureKey)\" metadata says \"\(declared)\" but the tensors give \"\(actual)\"; fix or remove the key.")
            }
        }
        return model
    }

    private static func parseNormalization(_ text: String, format: ModelFormatError.Format) throws -> Normalization {
        func fail(_ detail: String) -> ModelFormatError {
            ModelFormatError(format, "The \"\(normalizationKey)\" metadata is not valid: \(detail); expected {\"kind\":\"standard\",\"shift\":[...],\"scale\":[...]}.")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(text.utf8)[...])
        } catch {
            throw fail("\(error.message) at byte \(error.offset)")
        }
        guard case let .object(members) = value else { throw fail("it is \(value.kindName), not an object") }
        var kind: String?, shift: [Float]?, scale: [Float]?
        for (key, member) in members {
            switch key {
            case "kind":
                guard case let .string(text) = member else { throw fail("\"kind\" is \(member.kindName), not a string") }
                kind = text
            case "shift", "scale":
                guard case let .array(elements) = member else { throw fail("\"\(key)\" is \(member.kindName), not an array") }
                var floats: [Float] = []
                for element in elements {
                    guard case let .number(text) = element, let float = Float(text), float.isFinite else {
                        throw fail("\"\(key)\" holds \(element.kindName) that is not a finite float")
                    }
                    floats.append(float)
                }
                if key == "shift" { shift = floats } else { scale = floats }
            default:
                throw fail("it has the unknown key \"\(key)\"")
            }
        }
        guard let kind, let shift, let scale else { throw fail("it needs the keys kind, shift and scale") }
        return Normalization(kind: kind, shift: shift, scale: scale)
    }
}
