-- fcstore schema on PostgreSQL, version 4: nothing to do. 0001_initial.sql
-- already holds what SQLite's migrations/0004_run_heads_and_prune_log.sql adds; this file keeps the
-- version numbers of the two backends equal.
SELECT 1;
