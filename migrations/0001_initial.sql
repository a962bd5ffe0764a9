-- fcstore schema, version 1.
--
-- This file is the definition of the schema: fcstore embeds it at build time
-- and applies it, once, inside one BEGIN IMMEDIATE transaction together with
-- PRAGMA user_version = 1 and PRAGMA application_id = 0x46435354 ('FCST').
-- A migration is never edited once shipped: later changes go into
-- 0002_....sql and so on. The runner records each applied file's SHA-256 in
-- the table schema_migrations (version, name, checksum, applied_at), which it
-- creates itself, and refuses a store whose recorded checksum differs from the
-- embedded file.
--
-- Conventions for auditors:
--   * Times are TEXT, ISO 8601 in UTC with milliseconds: 2026-11-29T04:31:07.123Z.
--   * Run ids are lowercase UUIDs; the CLI shows the first 8 characters.
--   * Hashes and digests are 32-byte BLOBs (SHA-256); the views show them as
--     lowercase hex.
--   * A fork (a run with parent_run_id) owns only the epochs after
--     parent_epoch; epochs 0..parent_epoch are read from the parent, by
--     reference. The view run_checkpoints resolves this for every run.
--   * Epochs of a run are consecutive: 0, 1, 2, ... with no gaps.
--   * What is tamper-evident (`fcstore verify` recomputes it): every column of
--     checkpoints, tensors, metrics and blobs except checkpoints.pruned_at and
--     the row ids; of runs every column except name, status and owner, which
--     change in normal use (see runs.digest and checkpoints.digest).

-- One training run. A run is created by `fcstore train`, `resume` (a fork
-- when resuming from an earlier epoch or with changed settings) or `import`.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY NOT NULL
                  CHECK (length(id) = 36 AND NOT id GLOB '*[^0-9a-f-]*'),
    name          TEXT UNIQUE CHECK (name IS NULL OR length(name) > 0),
    created_at    TEXT NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('running', 'completed', 'interrupted', 'diverged', 'imported')),
    -- The training configuration as JSON (architecture, activations, loss,
    -- optimizer, schedule, data fingerprint...); opaque to the store.
    -- Query it with json_extract(config, '$.key').
    config        TEXT NOT NULL CHECK (json_valid(config)),
    -- The seed, a 64-bit unsigned number stored as the signed integer with the
    -- same bits (seeds >= 2^63 appear negative here).
    seed          INTEGER NOT NULL,
    -- The checkpoint this run was forked from: (parent_run_id, parent_epoch).
    parent_run_id TEXT REFERENCES runs (id),
    parent_epoch  INTEGER CHECK (parent_epoch IS NULL OR parent_epoch >= 0),
    -- The process training the run while status = 'running', as the CLI
    -- writes it (e.g. 'hostname:pid:processStartTime'); NULL otherwise. Lets
    -- the CLI tell a crashed 'running' run from one still being trained.
    owner         TEXT,
    -- SHA-256 over the run's immutable fields: id, created_at, config, seed,
    -- parent_run_id, parent_epoch (recipe in Sources/FCStorage/RunDigest.swift).
    -- name, status and owner are left out: they change in normal use.
    -- Detaching a fork ('fcstore rm --force' on its parent) rewrites its
    -- parent fields and therefore this digest; nothing else ever does.
    digest        BLOB NOT NULL CHECK (length(digest) = 32),
    CHECK ((parent_run_id IS NULL) = (parent_epoch IS NULL))
);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- One epoch of one run: everything except the tensors and metrics, which
-- have their own tables. A checkpoint row, its tensors and its metrics are
-- written in one transaction.
CREATE TABLE checkpoints (
    id              INTEGER PRIMARY KEY,
    run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch           INTEGER NOT NULL CHECK (epoch >= 0),
    created_at      TEXT NOT NULL,
    -- SHA-256 over this checkpoint's epoch, created_at, tensor manifest,
    -- metrics, optimizer_state, rng_state and parent_digest (a hash chain);
    -- the recipe is in Sources/FCStorage/CheckpointDigest.swift and in the
    -- README. The owning run's id is not included, so a fork detached from
    -- its parent can take copies of the inherited rows unchanged.
    digest          BLOB NOT NULL CHECK (length(digest) = 32),
    -- The digest of the previous epoch (for a fork's first own epoch: the
    -- parent run's checkpoint at parent_epoch); NULL for epoch 0 of a root run.
    parent_digest   BLOB CHECK (parent_digest IS NULL OR length(parent_digest) = 32),
    -- The optimizer's state (step counts, schedule position...) as text,
    -- usually JSON; opaque to the store. Its tensors (e.g. Adam's moments)
    -- are rows in tensors with roles such as 'weight.m'.
    optimizer_state TEXT NOT NULL,
    -- The random generator's state, so a resume continues the same stream.
    rng_state       BLOB NOT NULL,
    -- When 'fcstore prune' released this checkpoint's tensor bytes; NULL for a
    -- complete checkpoint. A pruned checkpoint keeps this row, its digest,
    -- its metrics and its tensor rows (the manifest: layer, role, shape,
    -- hash), so the hash chain stays verifiable; only the blobs no other
    -- complete checkpoint uses are deleted, by 'fcstore gc'. Not covered by
    -- the digest (pruning happens after the fact).
    pruned_at       TEXT,
    UNIQUE (run_id, epoch)
);

-- Content-addressed tensor bytes: raw little-endian float32, stored once per
-- distinct content, whichever checkpoints and runs use it. A rowid table with
-- the data column unindexed, so it can be streamed with sqlite3_blob_read.
CREATE TABLE blobs (
    id   INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),   -- SHA-256 of data
    size INTEGER NOT NULL CHECK (size >= 0),               -- length(data) in bytes
    data BLOB
);

-- The tensors of a checkpoint. hash is deliberately not a foreign key to
-- blobs: a pruned checkpoint keeps its tensor rows after gc deleted the bytes.
-- For a checkpoint with pruned_at IS NULL every hash has a row in blobs
-- ('fcstore verify' checks it). layer 1..L holds W^l (role 'weight', shape
-- [N_l, N_{l-1}]) and b^l (role 'bias', shape [N_l]); optimizer slots use
-- roles such as 'weight.m', 'weight.v', 'bias.m'; layer 0 holds the input
-- normalisation ('normalize.shift', 'normalize.scale').
CREATE TABLE tensors (
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
    layer         INTEGER NOT NULL CHECK (layer >= 0),
    role          TEXT NOT NULL CHECK (length(role) > 0),
    shape         TEXT NOT NULL,   -- JSON array of dimensions, row-major: [1024,784]
    dtype         TEXT NOT NULL DEFAULT 'f32' CHECK (dtype = 'f32'),
    hash          BLOB NOT NULL CHECK (length(hash) = 32),   -- blobs.hash
    PRIMARY KEY (checkpoint_id, layer, role)
) WITHOUT ROWID;
CREATE INDEX tensors_hash ON tensors (hash);

-- One row per metric value of a checkpoint: train_loss, val_loss,
-- val_accuracy, learning_rate, wall_time_s, per-layer norms...
-- value has no declared type on purpose: a REAL column would store -0.0 as
-- the integer 0 and lose its sign. NULL means NaN (SQLite has no NaN).
CREATE TABLE metrics (
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) > 0),
    value         CHECK (value IS NULL OR typeof(value) = 'real'),
    PRIMARY KEY (checkpoint_id, name)
) WITHOUT ROWID;

-- Every checkpoint a run sees, its own and those inherited from its
-- ancestors (inherited = 1), with the run that owns the row.
--   SELECT epoch, inherited, digest FROM run_checkpoints WHERE run_id LIKE '3fa2%';
CREATE VIEW run_checkpoints AS
WITH RECURSIVE lineage (run_id, owner_run_id, min_epoch, max_epoch, next_run_id, next_epoch) AS (
    SELECT id, id, coalesce(parent_epoch + 1, 0), 9223372036854775807, parent_run_id, parent_epoch
    FROM runs
    UNION ALL
    SELECT l.run_id, p.id, coalesce(p.parent_epoch + 1, 0), min(l.max_epoch, l.next_epoch),
           p.parent_run_id, p.parent_epoch
    FROM lineage AS l JOIN runs AS p ON p.id = l.next_run_id
)
SELECT l.run_id                     AS run_id,
       c.epoch                      AS epoch,
       c.id                         AS checkpoint_id,
       l.owner_run_id               AS owner_run_id,
       l.owner_run_id <> l.run_id   AS inherited,
       c.created_at                 AS created_at,
       c.pruned_at IS NOT NULL      AS pruned,
       lower(hex(c.digest))         AS digest,
       lower(hex(c.parent_digest))  AS parent_digest
FROM lineage AS l
JOIN checkpoints AS c
  ON c.run_id = l.owner_run_id AND c.epoch BETWEEN l.min_epoch AND l.max_epoch;

-- Metrics in long form, one row per (run, epoch, name), inherited epochs included.
--   SELECT epoch, value FROM epoch_metrics WHERE run_id LIKE '3fa2%' AND name = 'val_loss';
CREATE VIEW epoch_metrics AS
SELECT rc.run_id, rc.epoch, rc.inherited, m.name, m.value
FROM run_checkpoints AS rc
JOIN metrics AS m ON m.checkpoint_id = rc.checkpoint_id;

-- Metrics in wide form for the usual names, one row per (run, epoch).
CREATE VIEW epoch_summary AS
SELECT rc.run_id, rc.epoch, rc.inherited, rc.created_at,
       max(CASE WHEN m.name = 'train_loss'    THEN m.value END) AS train_loss,
       max(CASE WHEN m.name = 'val_loss'      THEN m.value END) AS val_loss,
       max(CASE WHEN m.name = 'val_accuracy'  THEN m.value END) AS val_accuracy,
       max(CASE WHEN m.name = 'learning_rate' THEN m.value END) AS learning_rate,
       max(CASE WHEN m.name = 'wall_time_s'   THEN m.value END) AS wall_time_s
FROM run_checkpoints AS rc
LEFT JOIN metrics AS m ON m.checkpoint_id = rc.checkpoint_id
GROUP BY rc.run_id, rc.epoch;

-- One row per run: lineage, status, epochs seen (inherited included), the
-- run's own checkpoints, and its best validation loss.
--   SELECT short_id, name, status, epochs, best_val_loss FROM run_summary ORDER BY created_at;
CREATE VIEW run_summary AS
SELECT r.id                                   AS run_id,
       substr(r.id, 1, 8)                     AS short_id,
       r.name                                 AS name,
       r.status                               AS status,
       r.created_at                           AS created_at,
       CASE WHEN r.parent_run_id IS NOT NULL
            THEN substr(r.parent_run_id, 1, 8) || '@' || r.parent_epoch END AS parent,
       (SELECT count(*) FROM run_checkpoints AS rc WHERE rc.run_id = r.id) AS epochs,
       (SELECT max(epoch) FROM run_checkpoints AS rc WHERE rc.run_id = r.id) AS last_epoch,
       (SELECT count(*) FROM checkpoints AS c WHERE c.run_id = r.id) AS own_checkpoints,
       (SELECT min(value) FROM epoch_metrics AS em
         WHERE em.run_id = r.id AND em.name = 'val_loss') AS best_val_loss
FROM runs AS r;

-- The tensors of every checkpoint with their size, inherited epochs included.
-- bytes is NULL once a pruned checkpoint's blob has been collected.
--   SELECT epoch, layer, role, shape, bytes FROM checkpoint_tensors WHERE run_id LIKE '3fa2%' AND epoch = 0;
CREATE VIEW checkpoint_tensors AS
SELECT rc.run_id, rc.epoch, rc.pruned, t.layer, t.role, t.shape, t.dtype,
       b.size AS bytes, lower(hex(t.hash)) AS hash
FROM run_checkpoints AS rc
JOIN tensors AS t ON t.checkpoint_id = rc.checkpoint_id
LEFT JOIN blobs AS b ON b.hash = t.hash;

-- Space used by distinct tensor contents and how often each is referenced by
-- complete (not pruned) checkpoints; 'fcstore gc' deletes the rows with refs = 0.
--   SELECT count(*), sum(size), sum(refs = 0) AS unreferenced FROM blob_usage;
CREATE VIEW blob_usage AS
SELECT b.id, lower(hex(b.hash)) AS hash, b.size,
       (SELECT count(*) FROM tensors AS t JOIN checkpoints AS c ON c.id = t.checkpoint_id
         WHERE t.hash = b.hash AND c.pruned_at IS NULL) AS refs
FROM blobs AS b;
