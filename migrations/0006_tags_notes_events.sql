-- fcstore schema, version 6: tags and notes on runs, and the events trail.
--
-- Tags, notes and names are the mutable, user-given facts about a run. Like
-- runs.name, status and owner they are NOT covered by any digest: 'fcstore
-- verify' does not check them and a signed head does not cover them.
--
--   * run_tags: key=value pairs ('fcstore tag RUN key=value', '--remove KEY').
--     Keys are 1-64 characters from A-Z a-z 0-9 _ - . / : ; values at most
--     1000 characters without control characters (the CLI enforces the
--     characters, these checks the lengths).
--   * run_notes: one note per run ('fcstore note RUN "text"' replaces it), at
--     most 10000 characters, line breaks allowed.
--   * events: one row per change of a run's mutable fields (name, status,
--     tag.KEY, note), appended by the one function that writes them
--     (Sources/FCStorage/Store+RunMeta.swift). Never updated; no foreign key,
--     so the trail outlives a removed run. old_value / new_value are NULL for
--     a tag or note that did not exist before / was removed.
--       SELECT changed_at, field, old_value, new_value FROM events WHERE run_id LIKE '3fa2%' ORDER BY id;
--
-- All three travel in bundles with their runs.

CREATE TABLE run_tags (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key        TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    value      TEXT NOT NULL CHECK (length(value) <= 1000),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE run_notes (
    run_id     TEXT PRIMARY KEY NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    note       TEXT NOT NULL CHECK (length(note) BETWEEN 1 AND 10000),
    updated_at TEXT NOT NULL
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    host       TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    -- 'name', 'status', 'note' or 'tag.KEY'
    field      TEXT NOT NULL CHECK (length(field) > 0),
    old_value  TEXT,
    new_value  TEXT
);
CREATE INDEX events_run ON events (run_id, id);
