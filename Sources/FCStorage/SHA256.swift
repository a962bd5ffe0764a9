import CLibCrypto

/// SHA-256 through the system libcrypto (OpenSSL 3 EVP interface); all
/// libcrypto calls of the store live here.
struct SHA256Hasher: ~Copyable {
    private let context: OpaquePointer

    init() {
        // EVP_MD_CTX_new and EVP_DigestInit_ex fail only when out of memory.
        guard let context = EVP_MD_CTX_new() else { fatalError("libcrypto: EVP_MD_CTX_new failed (out of memory)") }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else { fatalError("libcrypto: SHA-256 is unavailable") }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = EVP_DigestUpdate(context, base, bytes.count)
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Appends the 8 little-endian bytes of `value`.
    mutating func update(uint64 value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Appends the length (u64 LE) then the bytes, so concatenations are unambiguous.
    mutating func update(lengthPrefixed bytes: [UInt8]) {
        update(uint64: UInt64(bytes.count))
        update(bytes)
    }

    mutating func update(lengthPrefixed text: String) {
        update(lengthPrefixed: Array(text.utf8))
    }

    consuming func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = digest.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return digest
    }

    /// The SHA-256 of `bytes` in one call (`EVP_Digest`).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { output in
            EVP_Digest(bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), bytes.count, output.baseAddress, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "libcrypto: SHA-256 failed")
        return digest
    }

    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    static func hash(_ text: String) -> [UInt8] {
        hash(Array(text.utf8))
    }
}

extension SHA256Hasher {
    /// Lowercase hexadecimal digits of `bytes`.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SHA-256 for the store's callers (provenance of imported files).
public enum SHA256Digest {
    /// The lowercase hex SHA-256 of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        SHA256Hasher.hex(SHA256Hasher.hash(bytes))
    }
}
