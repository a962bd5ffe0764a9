-- fcstore schema on PostgreSQL, version 5: training segments and run leases.
-- The twin of SQLite's migrations/0005_segments_and_leases.sql (see it for
-- what each column means), with PostgreSQL's types.

ALTER TABLE runs ADD COLUMN lease_expires_at text;

CREATE TABLE segments (
    run_id                 text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    first_epoch            bigint NOT NULL CHECK (first_epoch >= 0),
    last_epoch             bigint NOT NULL CHECK (last_epoch >= first_epoch),
    started_at             text NOT NULL,
    host                   text NOT NULL,
    data_path              text,
    labels_path            text,
    validation_path        text,
    data_fingerprint       text,
    validation_fingerprint text,
    blas_core              text NOT NULL,
    blas_threads           bigint NOT NULL CHECK (blas_threads >= 1),
    kernels_isa            text NOT NULL,
    fcstore_version        text NOT NULL,
    PRIMARY KEY (run_id, first_epoch)
);
