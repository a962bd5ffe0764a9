-- fcstore schema on PostgreSQL, version 3: nothing to do. 0001_initial.sql
-- already holds what SQLite's migrations/0003_view_hashes.sql adds; this file keeps the
-- version numbers of the two backends equal.
SELECT 1;
