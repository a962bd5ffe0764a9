-- fcstore schema, version 4: run heads, pruning records, checkpoints bound to
-- their run.
--
-- Until version 3 the hash chain only pointed backwards: deleting a run's
-- newest epochs, or a whole run, left a history that still verified, and the
-- checkpoint digest (recipe v1) did not name the run, so two runs' complete
-- histories could be swapped. Version 4 adds:
--
--   * run_heads: one row per run ever created in (or imported into) this
--     store, never deleted. It holds the run's digest and its head (last
--     epoch and that checkpoint's digest), updated in the transaction that
--     writes the epoch, and an optional Ed25519 signature over the head
--     (recipe in Sources/FCStorage/Signing.swift). 'fcstore rm' marks the row
--     removed instead of deleting it, so a run deleted by other means shows.
--   * prunes: one row per 'fcstore prune' that released epochs, with the
--     time (equal to checkpoints.pruned_at) and the epochs. verify reports a
--     pruned checkpoint that no record lists, and checks the prune
--     invariants (epoch 0, the latest epoch and fork points stay complete).
--   * checkpoints.origin_run_id: NULL for a row written by its own run. A
--     fork detached from its parent ('fcstore rm --force' on the parent)
--     receives copies of the rows it inherited; each copy records here the
--     run that wrote it, because checkpoint digests of recipe v2 include that
--     run's id (see Sources/FCStorage/CheckpointDigest.swift).
--
-- Existing stores: this migration fills run_heads from the rows as they are
-- (each run's last visible epoch and its digest, no signature) and prunes
-- from the existing pruned_at values. It trusts the store as it is at the
-- moment of the upgrade, as verify did before; from then on truncation and
-- removal show. Existing checkpoints keep their v1 digests.

CREATE TABLE run_heads (
    -- Creation order in this store: 1, 2, 3... without gaps (verify checks).
    seq          INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL UNIQUE
                 CHECK (length(run_id) = 36 AND NOT run_id GLOB '*[^0-9a-f-]*'),
    -- runs.digest of the run (a detached fork's new digest after detaching).
    run_digest   BLOB NOT NULL CHECK (length(run_digest) = 32),
    -- The last epoch the run sees and that checkpoint's digest; NULL for a
    -- run without any checkpoint yet.
    epoch        INTEGER CHECK (epoch IS NULL OR epoch >= 0),
    digest       BLOB CHECK (digest IS NULL OR length(digest) = 32),
    updated_at   TEXT NOT NULL,
    -- When 'fcstore rm' deleted the run; NULL while it exists.
    removed_at   TEXT,
    -- When the run came from a bundle ('fcstore import'); NULL for a run
    -- created here. The data paths in such a run's configuration are hints:
    -- 'fcstore resume' opens only a file given with --data.
    imported_at  TEXT,
    -- Ed25519 over the head (Sources/FCStorage/Signing.swift): the signer's
    -- raw 32-byte public key and the 64-byte signature; NULL when unsigned.
    public_key   BLOB CHECK (public_key IS NULL OR length(public_key) = 32),
    signature    BLOB CHECK (signature IS NULL OR length(signature) = 64),
    CHECK ((epoch IS NULL) = (digest IS NULL)),
    CHECK ((public_key IS NULL) = (signature IS NULL))
);

CREATE TABLE prunes (
    id        INTEGER PRIMARY KEY,
    -- The run whose own rows were pruned (no foreign key: the record outlives the run).
    run_id    TEXT NOT NULL,
    -- Equal to checkpoints.pruned_at of the epochs released.
    pruned_at TEXT NOT NULL,
    -- JSON array of the epochs released, ascending: [1,2,3]
    epochs    TEXT NOT NULL CHECK (json_valid(epochs))
);

ALTER TABLE checkpoints ADD COLUMN origin_run_id TEXT
    CHECK (origin_run_id IS NULL OR (length(origin_run_id) = 36 AND NOT origin_run_id GLOB '*[^0-9a-f-]*'));

WITH RECURSIVE lineage (run_id, owner_run_id, min_epoch, max_epoch, next_run_id, next_epoch) AS (
    SELECT id, id, coalesce(parent_epoch + 1, 0), 9223372036854775807, parent_run_id, parent_epoch
    FROM runs
    UNION ALL
    SELECT l.run_id, p.id, coalesce(p.parent_epoch + 1, 0), min(l.max_epoch, l.next_epoch),
           p.parent_run_id, p.parent_epoch
    FROM lineage AS l JOIN runs AS p ON p.id = l.next_run_id
),
visible (run_id, epoch, digest) AS (
    SELECT l.run_id, c.epoch, c.digest
    FROM lineage AS l
    JOIN checkpoints AS c ON c.run_id = l.owner_run_id AND c.epoch BETWEEN l.min_epoch AND l.max_epoch
)
INSERT INTO run_heads (run_id, run_digest, epoch, digest, updated_at)
SELECT r.id, r.digest,
       (SELECT v.epoch FROM visible AS v WHERE v.run_id = r.id ORDER BY v.epoch DESC LIMIT 1),
       (SELECT v.digest FROM visible AS v WHERE v.run_id = r.id ORDER BY v.epoch DESC LIMIT 1),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM runs AS r
ORDER BY r.created_at, r.id;

INSERT INTO prunes (run_id, pruned_at, epochs)
SELECT run_id, pruned_at, json_group_array(epoch)
FROM (SELECT run_id, pruned_at, epoch FROM checkpoints WHERE pruned_at IS NOT NULL ORDER BY run_id, pruned_at, epoch)
GROUP BY run_id, pruned_at;
