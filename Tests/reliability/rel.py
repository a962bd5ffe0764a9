"""Shared helpers of the reliability campaigns (crash.py, soak.py, tamper.py,
resources.py, badinput.py): find the binary, run it, check a store.

Every campaign drives the built `fcstore` binary as a subprocess, exactly as a
user does. Set FCSTORE_BIN to choose the binary; the default is the release
build when present, else the debug build.
"""
import hashlib
import json
import os
import sqlite3
import struct
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "examples")


def binary():
    if os.environ.get("FCSTORE_BIN"):
        return os.environ["FCSTORE_BIN"]
    for config in ("release", "debug"):
        path = os.path.join(ROOT, ".build", config, "fcstore")
        if os.path.exists(path):
            return path
    sys.exit("no fcstore binary: run 'swift build -c release' (or set FCSTORE_BIN)")


def fc(store, *args, timeout=600, check=False):
    """Runs `fcstore --store STORE ARGS`; returns (rc, stdout, stderr)."""
    argv = [binary()] + (["--store", store] if store else []) + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env={k: v for k, v in os.environ.items() if k != "FCSTORE_DB"})
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {p.returncode}: {p.stderr.strip()}")
    return p.returncode, p.stdout, p.stderr


def integrity(store):
    """PRAGMA integrity_check through Python's sqlite3 (the same SQLite as the CLI on Debian)."""
    con = sqlite3.connect(store)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    return "ok" if rows == [("ok",)] else "; ".join(r[0] for r in rows)


def file_hashes(*paths):
    """SHA-256 of each file that exists (the store, its -wal and -shm are passed separately)."""
    out = {}
    for path in paths:
        if os.path.exists(path):
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def content_dump(store):
    """A logical dump of every table, for 'the store is unchanged' checks that
    do not depend on page layout (SQLite may rewrite the header on open)."""
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        for (name,) in con.execute("SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name"):
            for row in sorted(repr(row) for row in con.execute(f'SELECT * FROM "{name}"')):
                h.update(row.encode())
        h.update(repr(con.execute("PRAGMA user_version").fetchall()).encode())
        return h.hexdigest()
    finally:
        con.close()


def tensor_manifest(store, run_prefix):
    """(epoch, layer, role, hash) of every own checkpoint of a run, plus rng and optimizer state."""
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = con.execute("""
            SELECT c.epoch, t.layer, t.role, hex(t.hash), hex(c.rng_state), c.optimizer_state
            FROM checkpoints c JOIN tensors t ON t.checkpoint_id = c.id
            WHERE substr(c.run_id, 1, length(?1)) = ?1 ORDER BY 1, 2, 3""", (run_prefix,)).fetchall()
    finally:
        con.close()
    return rows


def wal_tail(store):
    """Classifies the WAL of a store that was just killed, before anything
    opens it again: 'none' (no WAL or empty), 'clean' (the last valid frame
    commits), or 'uncommitted N' (N valid frames after the last commit: the
    process died inside a write transaction, after SQLite spilled pages)."""
    path = store + "-wal"
    if not os.path.exists(path) or os.path.getsize(path) < 32:
        return "none"
    with open(path, "rb") as f:
        data = f.read()
    magic, _version, page_size, _seq, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in (0x377F0682, 0x377F0683):
        return "none"
    big = magic & 1
    fmt = ">" if big else "<"

    def checksum(buf, s0, s1):
        words = struct.unpack(fmt + f"{len(buf) // 4}I", buf)
        for i in range(0, len(words), 2):
            s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
            s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
        return s0, s1

    s0, s1 = checksum(data[:24], 0, 0)
    if (s0, s1) != (c1, c2):
        return "none"
    offset, valid, since_commit = 32, 0, 0
    frame = 24 + page_size
    while offset + frame <= len(data):
        pgno, commit, fs1, fs2, fc1, fc2 = struct.unpack(">6I", data[offset:offset + 24])
        if (fs1, fs2) != (salt1, salt2):
            break
        s0, s1 = checksum(data[offset:offset + 8], s0, s1)
        s0, s1 = checksum(data[offset + 24:offset + frame], s0, s1)
        if (s0, s1) != (fc1, fc2):
            break
        valid += 1
        since_commit = 0 if commit else since_commit + 1
        offset += frame
    if valid == 0:
        return "none"
    return "clean" if since_commit == 0 else f"uncommitted {since_commit}"


def make_subset_csv(source, path, rows):
    with open(source) as f:
        lines = f.readlines()
    with open(path, "w") as f:
        f.writelines(lines[:rows + 1])
    return path


def short(run_id):
    return run_id[:8]


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)
