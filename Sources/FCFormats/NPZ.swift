import FCCore
/// NumPy's `.npz`: a ZIP archive of `.npy` members, one per array.
///
/// fcstore writes, in order, `layers.1.weight.npy` ([N_1, N_0], `'<f4'`),
/// `layers.1.bias.npy`, ..., `layers.L.bias.npy`, and `fcstore_metadata.npy`:
/// a zero-dimensional unicode array holding one JSON object with the same keys
/// as the safetensors `__metadata__` (see `ModelFile`): string values, except
/// `fcstore.normalization` and `fcstore.signature`, which are nested objects
/// (files from earlier versions hold them as JSON text in a string; the
/// reader accepts both). numpy reads all of it with `allow_pickle=False`:
///
/// ```python
/// z = numpy.load("model.npz")                       # allow_pickle=False is the default
/// meta = json.loads(z["fcstore_metadata"].item())   # {"fcstore.activations": "sigmoid,softmax", ...}
/// meta["fcstore.signature"]["features"]             # ["sepal_length", ...]
/// W1 = z["layers.1.weight"]
/// ```
///
/// Members are stored (ZIP method 0) so each `.npy` is byte for byte what
/// `numpy.save` writes. The reader accepts files numpy writes with
/// `numpy.savez` (ZIP64 extra fields included) but not `savez_compressed`.
public enum NPZ {
    /// The metadata member's array name (its file in the archive adds ".npy").
    public static let metadataKey = "fcstore_metadata"

    /// Writes `model` as npz bytes.
    /// - Throws: `ModelFormatError` when `model.validate()` fails or the archive would exceed 4 GiB.
    public static func encode(_ model: ModelFile) throws -> [UInt8] {
        try model.validate()
        var members = model.namedTensors().map { (name: $0.name + ".npy", data: NPY.encode($0.tensor)) }
        members.append((name: metadataKey + ".npy", data: NPY.encodeString(model.nestedMetadataJSON())))
        return try ZIP.storedArchive(members)
    }

    /// Reads an npz file into a model. A file fcstore did not write needs
    /// `layers.<l>.weight` / `layers.<l>.bias` arrays (float32, or float64
    /// which is rounded) and a `fcstore_metadata` string array holding at least
    /// `{"fcstore.activations": "..."}`, e.g.
    /// `numpy.savez(path, **arrays, fcstore_metadata=json.dumps({"fcstore.activations": "relu,softmax"}))`.
    /// - Throws: `ModelFormatError` (format `.npz`, or `.zip` for archive damage) naming the first problem.
    public static func decode(_ bytes: [UInt8]) throws -> ModelFile {
        let (tensors, metadata) = try readTensors(bytes)
        guard let metadata else {
            throw ModelFormatError(.npz, "The npz file has no \(metadataKey) array; add one holding a JSON object with at least \"\(ModelFile.activationsKey)\", e.g. numpy.savez(path, **arrays, \(metadataKey)=json.dumps({\"\(ModelFile.activationsKey)\": \"relu,softmax\"})).")
        }
        return try ModelFile.assemble(tensors: tensors, metadata: metadata, format: .npz)
    }

    /// Reads every float array of an npz file, keyed by array name (member
    /// name without ".npy"), and the metadata member when there is one.
    /// - Throws: `ModelFormatError` naming the first problem.
    public static func readTensors(_ bytes: [UInt8]) throws -> (tensors: [String: TensorValue], metadata: [String: String]?) {
        var tensors: [String: TensorValue] = [:]
        var metadata: [String: String]? = nil
        for member in try ZIP.readStored(bytes) {
            guard member.name.hasSuffix(".npy"), member.name.count > 4 else {
                throw ModelFormatError(.npz, "The npz file holds the member \"\(member.name)\"; every member of an npz file is an .npy array.")
            }
            let key = String(member.name.dropLast(4))
            do {
                if key == metadataKey {
                    metadata = try parseMetadata(NPY.decodeString(member.data))
                } else {
                    tensors[key] = try NPY.decode(member.data)
                }
            } catch let error as ModelFormatError {
                throw ModelFormatError(.npz, "In the npz member \"\(member.name)\": \(error.message)")
            }
        }
        return (tensors, metadata)
    }

    private static func parseMetadata(_ text: String) throws -> [String: String] {
        func fail(_ detail: String) -> ModelFormatError {
            ModelFormatError(.npz, "The \(metadataKey) array is not a JSON object of strings: \(detail).")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(text.utf8)[...])
        } catch {
            throw fail("\(error.message) at byte \(error.offset)")
        }
        guard case let .object(members) = value else { throw fail("it is \(value.kindName)") }
        var metadata: [String: String] = [:]
        for (key, item) in members {
            switch item {
            case let .string(string):
                metadata[key] = string
            case .object where ModelFile.objectMetadataKeys.contains(key):
                metadata[key] = JSONWriter.value(item)
            default:
                throw fail("the value for \"\(key)\" is \(item.kindName)")
            }
        }
        return metadata
    }
}
