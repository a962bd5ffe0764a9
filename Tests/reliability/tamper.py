#!/usr/bin/env python3
"""Tamper campaign: change one stored value through raw SQL and check that
`fcstore verify` finds it.

    python3 Tests/reliability/tamper.py --trials 1200

The base store holds a root run (Adam, so tensors include moments), a fork of
it with other hyper-parameters, and a second root run. Each trial copies the
store, flips one random bit of one value in one random row of a covered
column (blob bytes, text characters, integer or float bits; a NULL becomes 32
random bytes) or, in one trial of ten, changes the value's type, commits it
with Python's sqlite3 (foreign keys off, as any sqlite3 user would), and runs
`fcstore verify`. A trial counts as detected when verify exits 2 with at least
one finding; SQLite itself may refuse the change (a CHECK constraint): those
are counted apart. Any other outcome (exit 0, 1, a signal) is a failure.

Covered columns are those the schema documents as tamper-evident
(migrations/0001_initial.sql): every column of checkpoints, tensors, metrics
and blobs except row ids, and of runs every column except name, status and
owner; since migration 0004 also checkpoints.pruned_at and origin_run_id, and
run_heads' seq, run_id, run_digest, epoch and digest (the signature columns
are checked only by `verify --trusted-keys`).
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import struct
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import rel  # noqa: E402

COLUMNS = {
    "blobs": ["hash", "size", "data"],
    "tensors": ["layer", "role", "shape", "dtype", "hash"],
    "checkpoints": ["epoch", "created_at", "digest", "parent_digest", "optimizer_state", "rng_state"],
    "metrics": ["name", "value"],
    "runs": ["id", "created_at", "config", "seed", "parent_run_id", "parent_epoch", "digest"],
    # Schema version 4: run heads (the ledger) and the prune state.
    "run_heads": ["seq", "run_id", "run_digest", "epoch", "digest"],
}
COLUMNS["checkpoints"] += ["pruned_at", "origin_run_id"]


def build_base(work):
    store = os.path.join(work, "base.db")
    data = rel.make_subset_csv(os.path.join(rel.EXAMPLES, "digits.csv"), os.path.join(work, "data.csv"), 100)
    _, out, _ = rel.fc(store, "train", "--data", data, "--layers", "12,10", "--optimizer", "adam", "--epochs", "3",
                       "--validation-split", "0.2", "--name", "root", check=True)
    root = out.strip().splitlines()[-1]
    rel.fc(store, "resume", f"{root[:8]}@1", "--epochs", "3", "--learning-rate", "0.01", "--name", "fork", check=True)
    rel.fc(store, "train", "--data", data, "--layers", "8,10", "--epochs", "2", "--seed", "9", check=True)
    rel.fc(store, "runs", check=True)  # closes the last connection: the WAL is checkpointed away
    rc, out, err = rel.fc(store, "verify")
    assert rc == 0, out + err
    return store


def mutate(value, rng):
    """A different value of the same type (or a NULL replaced by 32 random bytes)."""
    if value is None:
        return bytes(rng.randrange(256) for _ in range(32))
    if isinstance(value, bytes):
        if not value:
            return b"\x00"
        b = bytearray(value)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if isinstance(value, str):
        if not value:
            return "x"
        raw = bytearray(value.encode())
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(7 if raw[i] < 0x80 else 6)
        return raw.decode("utf-8", errors="surrogateescape").encode("utf-8", errors="replace").decode("utf-8", errors="replace")
    if isinstance(value, int):
        return value ^ (1 << rng.randrange(63))
    if isinstance(value, float):
        bits = struct.unpack("<Q", struct.pack("<d", value))[0] ^ (1 << rng.randrange(64))
        return struct.unpack("<d", struct.pack("<Q", bits))[0]
    raise TypeError(type(value))


def retype(value, rng):
    """The same content in another storage class (text '3' for integer 3, a blob for text...)."""
    choices = [lambda v: str(v) if not isinstance(v, bytes) else v.hex(),
               lambda v: v.encode() if isinstance(v, str) else struct.pack("<d", float(v)) if isinstance(v, (int, float)) else None,
               lambda v: float(v) if isinstance(v, int) else 0.5,
               lambda v: None]
    new = rng.choice(choices)(value)
    return new if new != value or type(new) is not type(value) else None


def trial(base, work, rng, index):
    path = os.path.join(work, f"trial-{index % 4}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    shutil.copyfile(base, path)
    table = rng.choice(list(COLUMNS))
    column = rng.choice(COLUMNS[table])
    con = sqlite3.connect(path, isolation_level=None)
    try:
        # Rows are addressed by their primary key (metrics is a WITHOUT ROWID table).
        key = [r[1] for r in sorted(con.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5]] or ["rowid"]
        where = " AND ".join(f"{k} IS ?" for k in key)
        keys = con.execute(f"SELECT {', '.join(key)} FROM {table}").fetchall()
        rowid = rng.choice(keys)
        (old,) = con.execute(f"SELECT {column} FROM {table} WHERE {where}", rowid).fetchone()
        kind = "retype" if rng.random() < 0.1 else "flip"
        new = retype(old, rng) if kind == "retype" else mutate(old, rng)
        if new == old and type(new) is type(old):
            return table, column, kind, "unchanged", ""
        try:
            con.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (new, *rowid))
        except sqlite3.IntegrityError as error:
            return table, column, kind, "rejected by SQLite", str(error)
        row = con.execute(f"SELECT {column} FROM {table} WHERE {where}",
                          tuple(new if k == column else v for k, v in zip(key, rowid))).fetchone()
        if row is not None and row[0] == old and type(row[0]) is type(old):
            return table, column, kind, "unchanged", ""  # affinity converted it back (e.g. '3' -> 3)
    finally:
        con.close()
    rc, out, err = rel.fc(path, "verify")
    if rc == 2 and out.strip():
        return table, column, kind, "detected", out.strip().splitlines()[0]
    return table, column, kind, f"NOT DETECTED (exit {rc})", (out + err).strip()[:300]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="fcstore-tamper-")
    started = time.monotonic()
    base = build_base(work)
    outcomes = Counter()
    per_column = Counter()
    failures = []
    for i in range(args.trials):
        table, column, kind, outcome, detail = trial(base, work, rng, i)
        outcomes[outcome.split(" (")[0]] += 1
        per_column[f"{table}.{column} {outcome.split(' (')[0]}"] += 1
        if outcome.startswith("NOT"):
            failures.append(f"trial {i}: {kind} {table}.{column}: {outcome}: {detail}")
            rel.log(failures[-1])
        if (i + 1) % 200 == 0:
            rel.log(f"{i + 1} trials: {dict(outcomes)}")
    applied = args.trials - outcomes["rejected by SQLite"] - outcomes["unchanged"]
    print(json.dumps({
        "campaign": "tamper", "trials": args.trials, "applied": applied, "detected": outcomes["detected"],
        "rejected_by_sqlite": outcomes["rejected by SQLite"], "unchanged": outcomes["unchanged"],
        "per_column": dict(sorted(per_column.items())), "failures": failures,
        "seconds": round(time.monotonic() - started, 1)}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
