#!/usr/bin/env python3
"""Bad-input campaign through the CLI: hand-written broken files, then random
mutations of valid ones.

    python3 Tests/reliability/badinput.py --mutations 200

Every input goes to `fcstore train` (CSV, IDX) or `fcstore import` (model
files, bundles) against a store holding two runs. An input is either accepted
(exit 0) or refused: exit 1, exactly one `error:` line on stderr, no signal,
no "Fatal error", and the store unchanged (logical dump and `runs --json`).
Anything else is a failure.
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import rel  # noqa: E402


def outcome(store, argv):
    before = rel.content_dump(store)
    p = subprocess.run([rel.binary(), "--store", store] + argv, capture_output=True, text=True, timeout=300)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    if p.returncode == 0:
        return "accepted", ""
    if p.returncode < 0:
        return f"FAILED: signal {-p.returncode}", p.stderr[-300:]
    errors = [l for l in lines if l.startswith("error:")]
    if p.returncode != 1 or len(errors) != 1 or "Fatal error" in p.stderr:
        return f"FAILED: exit {p.returncode}, {len(errors)} error lines", p.stderr[-300:]
    if rel.content_dump(store) != before:
        return "FAILED: store changed", errors[0]
    return "refused", errors[0]


def mutate(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] = rng.randrange(256)
        elif op == 1 and b:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 2:
            del b[i:i + rng.randint(1, 64)]
        elif op == 3:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 4:
            b = b[:i]
        elif op == 5 and b:
            b[i:i] = b[i:i + rng.randint(1, 256)]
    return bytes(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mutations", type=int, default=200, help="random mutations per input kind")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="fcstore-badinput-")
    started = time.monotonic()
    store = os.path.join(work, "store.db")
    iris = os.path.join(rel.EXAMPLES, "iris.csv")
    _, out, _ = rel.fc(store, "train", "--data", iris, "--layers", "5,3", "--epochs", "2", "--name", "a", check=True)
    rel.fc(store, "train", "--data", iris, "--layers", "4,3", "--epochs", "1", check=True)
    valid = {}
    for fmt in ("safetensors", "npz", "json", "bundle"):
        path = os.path.join(work, f"valid.{fmt}")
        rel.fc(store, "export", "a", "--format", fmt, "--output", path, check=True)
        valid[fmt] = open(path, "rb").read()
    rel.fc(store, "runs", check=True)
    valid["csv"] = open(iris, "rb").read()

    idx = lambda dims, payload: struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload
    newer = os.path.join(work, "newer.bundle")
    open(newer, "wb").write(valid["bundle"])
    con = sqlite3.connect(newer)
    con.execute("PRAGMA user_version = 99")
    con.close()
    fixed = {
        "csv: ragged row": b"a,b,label\n1,2,0\n1,0\n",
        "csv: non-numeric cell": b"a,b,label\n1,x,0\n",
        "csv: NaN": b"a,b,label\n1,NaN,0\n",
        "csv: infinity": b"a,b,label\n1,1e999,0\n",
        "csv: label out of range": b"a,b,label\n1,2,12\n",
        "csv: empty file": b"",
        "csv: header only": b"a,b,label\n",
        "csv: one 10 MB line": b"1.5," * (10 << 18),
        "csv: 10 MB of binary garbage": bytes(rng.randrange(256) for _ in range(1 << 16)) * 160,
        "csv: unterminated quote": b'a,b,label\n"1,2,0\n',
        "csv: UTF-16 text": "a,b,label\n1,2,0\n".encode("utf-16"),
        "idx: truncated images": idx([2, 28, 28], b"\x01" * 100),
        "idx: 2^31 images claimed": idx([0x7FFFFFFF, 28, 28], b""),
        "idx: zero images": idx([0, 28, 28], b""),
        "idx: 3 images, 2 labels": idx([3, 2, 2], b"\x05" * 12),
        "idx: rank 1 image file": idx([4], b"\x00" * 4),
    }
    model_fixed = {
        "safetensors: truncated": valid["safetensors"][: len(valid["safetensors"]) // 2],
        "safetensors: header length 2^63": struct.pack("<Q", 1 << 63) + valid["safetensors"][8:],
        "npz: truncated": valid["npz"][:-40],
        "json: truncated": valid["json"][: len(valid["json"]) // 2],
        "bundle: truncated": valid["bundle"][: len(valid["bundle"]) // 2],
        "bundle: header only": b"SQLite format 3\x00",
        "bundle: newer schema": open(newer, "rb").read(),
    }
    results = Counter()
    failures = []
    examples = {}

    def record(label, kind, verdict, detail):
        results[f"{kind} {verdict.split(':')[0]}"] += 1
        if verdict.startswith("FAILED"):
            failures.append(f"{label}: {verdict}: {detail}")
            rel.log(failures[-1])
        elif label in fixed or label in model_fixed:
            examples[label] = detail

    # IDX image files are read with the label file next to them (2 labels).
    open(os.path.join(work, "input-labels-idx1-ubyte"), "wb").write(idx([2], b"\x01\x02"))
    for label, data in fixed.items():
        path = os.path.join(work, "input" + (".csv" if label.startswith("csv") else "-images-idx3-ubyte"))
        open(path, "wb").write(data)
        record(label, "fixed", *outcome(store, ["train", "--data", path, "--layers", "4,3", "--epochs", "1"]))
    for label, data in model_fixed.items():
        path = os.path.join(work, "input.model")
        open(path, "wb").write(data)
        record(label, "fixed", *outcome(store, ["import", path]))
    for kind in ("csv", "safetensors", "npz", "json", "bundle"):
        for i in range(args.mutations):
            data = mutate(valid[kind], rng)
            if kind == "csv":
                path = os.path.join(work, "mutated.csv")
                open(path, "wb").write(data)
                argv = ["train", "--data", path, "--layers", "4,3", "--epochs", "1"]
            else:
                path = os.path.join(work, f"mutated.{kind}")
                open(path, "wb").write(data)
                argv = ["import", path]
            verdict, detail = outcome(store, argv)
            record(f"{kind} mutation {i}", f"mutated {kind}", verdict, detail)
    print(json.dumps({"campaign": "badinput", "fixed_cases": len(fixed) + len(model_fixed),
                      "mutations_per_kind": args.mutations, "outcomes": dict(sorted(results.items())),
                      "fixed_case_messages": examples, "failures": failures,
                      "seconds": round(time.monotonic() - started, 1)}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
