import FCSQLite
import CLibCrypto
import Foundation

// Ed25519 signatures over run heads, through libcrypto (OpenSSL 3). A key is
// a 32-byte seed kept in a PEM file (PKCS#8, as `openssl genpkey -algorithm
// ed25519` writes it) outside the store; its public half is written as
// `ed25519:<64 hex digits>`, the form `verify --trusted-keys` reads.

/// What a run head's signature covers (recipe v1). Ed25519 over the bytes:
///
/// 1. str("fcstore.head.v1") (u64 little-endian length, then the bytes)
/// 2. str(run id)
/// 3. the run digest (32 bytes, `runs.digest`, which covers configuration,
///    seed, creation time and parent)
/// 4. the head epoch as 8 bytes little-endian, or -1 for a run without checkpoints
/// 5. str(head checkpoint digest), empty for a run without checkpoints
///
/// The checkpoint digest chains back to epoch 0 and (recipe v2) names the run,
/// so one signature covers the run's whole visible history. The message holds
/// nothing local to one store, so a signature stays valid in a bundle.
public enum HeadSignature {
    public static func message(runID: String, runDigest: [UInt8], epoch: Int?, digest: [UInt8]?) -> [UInt8] {
        var bytes: [UInt8] = []
        func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func append(lengthPrefixed part: [UInt8]) { append(UInt64(part.count)); bytes += part }
        append(lengthPrefixed: Array("fcstore.head.v1".utf8))
        append(lengthPrefixed: Array(runID.utf8))
        bytes += runDigest
        append(UInt64(bitPattern: Int64(epoch ?? -1)))
        append(lengthPrefixed: digest ?? [])
        return bytes
    }
}

/// An Ed25519 public key (32 raw bytes).
public struct PublicKey: Hashable, Sendable {
    public let raw: [UInt8]

    public init?(raw: [UInt8]) {
        guard raw.count == 32 else { return nil }
        self.raw = raw
    }

    /// `ed25519:<64 lowercase hex digits>`.
    public var text: String { "ed25519:" + SHA256Hasher.hex(raw) }

    /// The first 16 hex digits of the SHA-256 of the raw key.
    public var fingerprint: String { String(SHA256Hasher.hex(SHA256Hasher.hash(raw)).prefix(16)) }

    /// Parses `ed25519:<hex>` (a trusted-keys line's first word).
    public init?(text: String) {
        guard text.hasPrefix("ed25519:") else { return nil }
        let hex = Array(text.dropFirst(8).utf8)
        guard hex.count == 64 else { return nil }
        var raw: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            raw.append(byte)
        }
        self.raw = raw
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard signature.count == 64,
              let key = raw.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(fcstore_evp_pkey_ed25519, nil, $0.baseAddress, 32) })
        else { return false }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        return signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                EVP_DigestVerify(context, sig.baseAddress, 64, msg.baseAddress, msg.count) == 1
            }
        }
    }

    /// Reads a trusted-keys file: one `ed25519:<hex>` per line, anything after
    /// it a comment; blank lines and lines starting with '#' are skipped.
    /// - Throws: `StoreError.invalidInput` naming the first line that is not a key.
    public static func readTrusted(path: String) throws -> Set<PublicKey> {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw StoreError.invalidInput("The trusted keys file \(path) cannot be read as UTF-8 text.")
        }
        var keys: Set<PublicKey> = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let word = String(trimmed.prefix { !$0.isWhitespace })
            guard let key = PublicKey(text: word) else {
                throw StoreError.invalidPublicKey(path: path, line: index + 1)
            }
            keys.insert(key)
        }
        return keys
    }
}

/// An Ed25519 private key.
public final class SigningKey: @unchecked Sendable {
    private let key: OpaquePointer
    public let publicKey: PublicKey
    /// The 32-byte seed.
    private let seed: [UInt8]

    /// DER prefix of a PKCS#8 Ed25519 private key (RFC 8410), before the 32-byte seed.
    static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                       0x04, 0x22, 0x04, 0x20]

    public init(seed: [UInt8]) throws {
        guard seed.count == 32,
              let key = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(fcstore_evp_pkey_ed25519, nil, $0.baseAddress, 32) })
        else { throw StoreError.invalidInput("libcrypto refused the Ed25519 key.") }
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32, let publicKey = PublicKey(raw: raw) else {
            EVP_PKEY_free(key)
            throw StoreError.invalidInput("libcrypto could not derive the Ed25519 public key.")
        }
        self.key = key
        self.seed = seed
        self.publicKey = publicKey
    }

    deinit { EVP_PKEY_free(key) }

    /// A new key from libcrypto's random generator.
    public static func generate() throws -> SigningKey {
        var seed = [UInt8](repeating: 0, count: 32)
        guard RAND_bytes(&seed, 32) == 1 else { throw StoreError.invalidInput("libcrypto's random generator failed.") }
        return try SigningKey(seed: seed)
    }

    /// The Ed25519 signature (64 bytes) of `message`.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw StoreError.invalidInput("libcrypto: out of memory.") }
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        // Ed25519 hashes internally: no digest (NULL md), one-shot EVP_DigestSign.
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1,
              message.withUnsafeBufferPointer({ EVP_DigestSign(context, &signature, &length, $0.baseAddress, $0.count) }) == 1,
              length == 64 else {
            throw StoreError.invalidInput("libcrypto could not sign with the Ed25519 key.")
        }
        return signature
    }

    /// The key as PEM (PKCS#8), readable by `openssl pkey`.
    public var pem: String {
        let body = Data(Self.pkcs8Prefix + seed).base64EncodedString()
        return "-----BEGIN PRIVATE KEY-----\n\(body)\n-----END PRIVATE KEY-----\n"
    }

    /// Parses the PEM written by `pem` (or by `openssl genpkey -algorithm ed25519`).
    public convenience init(pem text: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(of: "-----BEGIN PRIVATE KEY-----"),
              let end = lines.firstIndex(of: "-----END PRIVATE KEY-----"), begin < end,
              let der = Data(base64Encoded: lines[(begin + 1)..<end].joined()),
              der.count == 48, Array(der.prefix(16)) == Self.pkcs8Prefix else {
            throw StoreError.invalidInput("it is not an Ed25519 private key in PEM (PKCS#8) form")
        }
        try self.init(seed: Array(der.suffix(32)))
    }

    /// Reads a key file, refusing one that other users may read (as ssh does).
    /// - Throws: `StoreError.invalidInput` with one sentence naming the file.
    public static func read(path: String) throws -> SigningKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StoreError.unreadableSigningKey(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw StoreError.invalidInput("The signing key \(path) is not a regular file.") }
        guard info.st_mode & 0o077 == 0 else {
            throw StoreError.invalidInput("The signing key \(path) may be read by other users (mode \(String(info.st_mode & 0o777, radix: 8))); run 'chmod 600 \(path)'.")
        }
        guard info.st_size <= 4096, let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else {
            throw StoreError.invalidInput("The signing key \(path) cannot be read as a PEM file.")
        }
        do {
            return try SigningKey(pem: text)
        } catch StoreError.invalidInput(let reason) {
            throw StoreError.invalidInput("The signing key \(path) cannot be used: \(reason).")
        }
    }

    /// Writes the key to `path` with mode 0600, never replacing an existing file
    /// (`O_CREAT|O_EXCL|O_NOFOLLOW`), and its public key to `path.pub`.
    public func write(to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                                      attributes: [.posixPermissions: 0o700]) }
        for file in [path, path + ".pub"] where FileManager.default.fileExists(atPath: file) {
            throw StoreError.fileExists(path: file)
        }
        for (file, text, mode) in [(path, pem, mode_t(0o600)), (path + ".pub", publicKey.text + " fcstore\n", mode_t(0o644))] {
            let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard descriptor >= 0 else {
                if errno == EEXIST { throw StoreError.fileExists(path: file) }
                throw FileSystem.error("create \(file)")
            }
            defer { close(descriptor) }
            let bytes = Array(text.utf8)
            guard fchmod(descriptor, mode) == 0, bytes.withUnsafeBytes({ Foundation.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count,
                  fsync(descriptor) == 0 else { throw FileSystem.error("write \(file)") }
        }
    }
}
