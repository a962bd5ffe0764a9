/// The digest of a run's immutable fields, stored in `runs.digest`, so that a
/// changed configuration, seed, creation time or lineage is detected by
/// `Store.verify`. Checkpoint digests do not cover these fields.
///
/// Recipe, version 1, with the encoding of `CheckpointDigest`
/// (integers as 8 bytes little-endian, str(x) = u64 length + bytes). SHA-256 over:
///
/// 1. str("fcstore.run.v1")
/// 2. str(id)
/// 3. str(created_at): the stored text
/// 4. str(config): the stored JSON text, byte for byte
/// 5. seed (its 64 bits)
/// 6. str(parent_run_id), empty for a run without parent
/// 7. parent_epoch, or -1 for a run without parent
///
/// Left out on purpose, because they change in normal use: name (renames,
/// imports that resolve a name collision), status and owner. Detaching a
/// fork rewrites its parent fields and recomputes this digest.
public enum RunDigest {
    public static func compute(id: String, createdAt: String, config: String, seed: UInt64,
                               parent: CheckpointLocation?) -> [UInt8] {
        var hasher = SHA256Hasher()
        hasher.update(lengthPrefixed: "fcstore.run.v1")
        hasher.update(lengthPrefixed: id)
        hasher.update(lengthPrefixed: createdAt)
        hasher.update(lengthPrefixed: config)
        hasher.update(uint64: seed)
        hasher.update(lengthPrefixed: parent?.runID ?? "")
        hasher.update(uint64: UInt64(bitPattern: Int64(parent?.epoch ?? -1)))
        return hasher.finalize()
    }
}
