-- fcstore schema, version 5: training segments and run leases.
--
--   * segments: one row per stretch of epochs one 'train' or 'resume' process
--     trained in a run: where it read its data (paths as that machine saw
--     them: hints, like the paths in runs.config), the fingerprints it
--     checked, and the engine setting it ran with (OpenBLAS core and thread
--     limit, the element-wise kernels' instruction set, the fcstore
--     version). A bit-exact replay of an epoch needs its segment's setting.
--     The row is written in the transaction of the segment's first
--     checkpoint and its last_epoch advanced in each later one, so it never
--     names an epoch that was not committed. Not covered by any digest.
--   * runs.lease_expires_at: while status = 'running', the time until which
--     runs.owner holds the run. The owner renews it in every epoch's commit
--     transaction and from a heartbeat; once it has passed, 'resume' on any
--     host may take the run over. NULL otherwise. Not covered by the digest
--     (it changes in normal use, as owner does).

ALTER TABLE runs ADD COLUMN lease_expires_at TEXT;

CREATE TABLE segments (
    run_id                 TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- The epochs first_epoch..last_epoch were committed by this segment
    -- (first_epoch is 0 for the segment that created the run).
    first_epoch            INTEGER NOT NULL CHECK (first_epoch >= 0),
    last_epoch             INTEGER NOT NULL CHECK (last_epoch >= first_epoch),
    started_at             TEXT NOT NULL,
    host                   TEXT NOT NULL,
    -- Absolute paths as read by this segment; NULL when not used.
    data_path              TEXT,
    labels_path            TEXT,
    validation_path        TEXT,
    data_fingerprint       TEXT,
    validation_fingerprint TEXT,
    blas_core              TEXT NOT NULL,
    blas_threads           INTEGER NOT NULL CHECK (blas_threads >= 1),
    kernels_isa            TEXT NOT NULL,
    fcstore_version        TEXT NOT NULL,
    PRIMARY KEY (run_id, first_epoch)
);
