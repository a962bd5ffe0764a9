-- fcstore schema, version 3: hashes in the views as the tables hold them.
--
-- In the tables every hash is a 32-byte BLOB: blobs.hash, tensors.hash,
-- checkpoints.digest and checkpoints.parent_digest. Versions 1 and 2 of the
-- views gave them as lowercase hex text under the same names, so a join from a
-- view to a table (checkpoint_tensors.hash = blobs.hash) matched nothing.
-- From this version one rule holds for every view: a column named like a
-- table's hash column holds the same BLOB, and the same name with the suffix
-- _hex holds its lowercase hex text (for reading and for LIKE 'ab12%'), NULL
-- where the BLOB is NULL (epoch 0's parent_digest; before, it was '').
--
--   run_checkpoints:    digest, digest_hex, parent_digest, parent_digest_hex
--   checkpoint_tensors: hash, hash_hex
--   blob_usage:         hash, hash_hex
--
-- run_summary.best_val_loss now covers the run's own epochs only, as
-- 'fcstore runs' and RUN@best do: a fork's inherited epochs are its parent's
-- results. The views read the same rows as before; no table changes.

DROP VIEW run_summary;
DROP VIEW checkpoint_tensors;
DROP VIEW blob_usage;
DROP VIEW epoch_summary;
DROP VIEW epoch_metrics;
DROP VIEW run_checkpoints;

-- Every checkpoint a run sees, its own and those inherited from its
-- ancestors (inherited = 1), with the run that owns the row.
--   SELECT epoch, inherited, digest_hex FROM run_checkpoints WHERE run_id LIKE '3fa2%';
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
       c.digest                     AS digest,
       lower(hex(c.digest))         AS digest_hex,
       c.parent_digest              AS parent_digest,
       CASE WHEN c.parent_digest IS NOT NULL
            THEN lower(hex(c.parent_digest)) END AS parent_digest_hex
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
-- run's own checkpoints, and the best validation loss among its own epochs.
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
       (SELECT min(m.value) FROM checkpoints AS c JOIN metrics AS m ON m.checkpoint_id = c.id
         WHERE c.run_id = r.id AND m.name = 'val_loss') AS best_val_loss
FROM runs AS r;

-- The tensors of every checkpoint with their size, inherited epochs included.
-- bytes is NULL once a pruned checkpoint's blob has been collected.
--   SELECT epoch, layer, role, shape, bytes, hash_hex FROM checkpoint_tensors WHERE run_id LIKE '3fa2%' AND epoch = 0;
--   SELECT ct.epoch, ct.role, length(b.data) FROM checkpoint_tensors AS ct JOIN blobs AS b ON b.hash = ct.hash;
CREATE VIEW checkpoint_tensors AS
SELECT rc.run_id, rc.epoch, rc.pruned, t.layer, t.role, t.shape, t.dtype,
       b.size AS bytes, t.hash AS hash, lower(hex(t.hash)) AS hash_hex
FROM run_checkpoints AS rc
JOIN tensors AS t ON t.checkpoint_id = rc.checkpoint_id
LEFT JOIN blobs AS b ON b.hash = t.hash;

-- Space used by distinct tensor contents and how often each is referenced by
-- complete (not pruned) checkpoints; 'fcstore gc' deletes the rows with refs = 0.
--   SELECT count(*), sum(size), sum(refs = 0) AS unreferenced FROM blob_usage;
CREATE VIEW blob_usage AS
SELECT b.id, b.hash AS hash, lower(hex(b.hash)) AS hash_hex, b.size,
       (SELECT count(*) FROM tensors AS t JOIN checkpoints AS c ON c.id = t.checkpoint_id
         WHERE t.hash = b.hash AND c.pruned_at IS NULL) AS refs
FROM blobs AS b;
