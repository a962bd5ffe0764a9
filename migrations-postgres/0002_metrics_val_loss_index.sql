-- fcstore schema on PostgreSQL, version 2: nothing to do. 0001_initial.sql
-- already holds what SQLite's migrations/0002_metrics_val_loss_index.sql adds; this file keeps the
-- version numbers of the two backends equal.
SELECT 1;
