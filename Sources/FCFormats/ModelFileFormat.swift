/// The model-file formats fcstore writes, and the three it reads: one dispatch from a
/// format to its encoder and decoder.
public enum ModelFileFormat: String, CaseIterable, Sendable {
    case safetensors, onnx, npz, json

    /// The format of a file of this kind; nil for kinds that are not model files.
    public init?(_ kind: FileKind) {
        switch kind {
        case .safetensors: self = .safetensors
        case .onnx: self = .onnx
        case .npz: self = .npz
        case .json: self = .json
        default: return nil
        }
    }

    /// Whether fcstore reads this format (ONNX is written only).
    public var isReadable: Bool { self != .onnx }

    /// The file's bytes.
    /// - Throws: `ModelFormatError` when the model does not validate.
    public func encode(_ model: ModelFile) throws -> [UInt8] {
        switch self {
        case .safetensors: return try Safetensors.encode(model)
        case .onnx: return try ONNX.encode(model)
        case .npz: return try NPZ.encode(model)
        case .json: return try JSONModel.encode(model)
        }
    }

    /// The model in `bytes`, checked completely.
    /// - Throws: `ModelFormatError`; for ONNX, which fcstore does not read, always.
    public func decode(_ bytes: [UInt8]) throws -> ModelFile {
        switch self {
        case .safetensors: return try Safetensors.decode(bytes)
        case .npz: return try NPZ.decode(bytes)
        case .json: return try JSONModel.decode(bytes)
        case .onnx: throw ModelFormatError(.onnx, "fcstore exports ONNX but does not import it.")
        }
    }
}
