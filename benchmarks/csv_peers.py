#!/usr/bin/env python3
"""Reading a numeric CSV into a float32 matrix: fcstore against pandas, pyarrow and polars.

    python3 -m venv /tmp/csvvenv && /tmp/csvvenv/bin/pip install -r benchmarks/requirements-csv.txt
    swift build -c release --scratch-path .build-release --product fcstore-bench
    /tmp/csvvenv/bin/python benchmarks/csv_peers.py [--file F] [--rounds 5] [--repeats 2]

The file defaults to /tmp/mnist_train.csv, written by benchmarks/make_mnist_csv.py when
missing (a deterministic MNIST-train-shaped file: 60,000 rows of a label and 784 pixels,
about 110 MB). Every round runs each system in a fresh process, in an order reversed every
other round; a process reads the file once untimed (page cache, library start-up), then
--repeats timed reads. The peers:
  pandas   read_csv(engine="c", dtype=float32).to_numpy(float32)       (C parser, one thread)
  pyarrow  csv.read_csv(column_types=float32) -> one float32 tensor     (multi-threaded)
  polars   read_csv(schema_overrides=Float32).to_numpy()                (multi-threaded)
and fcstore: `fcstore-bench csv FILE` (read, parse and check into the training matrix of
features and labels, as `fcstore train --data FILE` does; the data fingerprint computed
after it is reported apart). Prints each system's median and minimum, and how many times
faster fcstore is than the fastest peer, by medians and by minima.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ["pandas", "pyarrow", "polars"]


def read_pandas(path):
    import numpy as np
    import pandas as pd
    return pd.read_csv(path, engine="c", dtype=np.float32).to_numpy(dtype=np.float32, copy=False)


def read_pyarrow(path):
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv
    with open(path, "rb") as f:
        names = f.readline().decode().strip().split(",")
    table = csv.read_csv(path, convert_options=csv.ConvertOptions(column_types={n: pa.float32() for n in names}))
    return np.asarray(table.combine_chunks().to_batches()[0].to_tensor(row_major=True))


def read_polars(path):
    import polars as pl
    with open(path, "rb") as f:
        names = f.readline().decode().strip().split(",")
    return pl.read_csv(path, schema_overrides={n: pl.Float32 for n in names}).to_numpy()


def one(system, path, repeats):
    """Runs in the child process: prints a JSON list of timed seconds."""
    read = {"pandas": read_pandas, "pyarrow": read_pyarrow, "polars": read_polars}[system]
    m = read(path)  # untimed: page cache, imports, thread pools
    assert str(m.dtype) == "float32" and m.ndim == 2, (m.dtype, m.shape)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        m = read(path)
        times.append(time.perf_counter() - start)
        del m
    print(json.dumps({"seconds": times}))


def versions():
    out = {}
    for name in PEERS + ["numpy"]:
        try:
            out[name] = __import__(name).__version__
        except Exception as error:  # a missing peer is reported, not fatal
            out[name] = f"missing ({error.__class__.__name__})"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", default="/tmp/mnist_train.csv")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--fcstore-bench", default=os.path.join(ROOT, ".build-release/release/fcstore-bench"))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.one, args.file, args.repeats)
    if not os.path.exists(args.file):
        subprocess.run([sys.executable, os.path.join(HERE, "make_mnist_csv.py"), args.file], check=True)
    peers = [p for p in args.peers.split(",") if p]
    systems = peers + ["fcstore"]
    samples = {s: [] for s in systems}
    fingerprint = []
    size = os.path.getsize(args.file)
    print(f"{args.file}: {size / 1e6:.1f} MB; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}; {versions()}")
    for r in range(args.rounds):
        order = systems if r % 2 == 0 else systems[::-1]
        for system in order:
            if system == "fcstore":
                out = subprocess.run([args.fcstore_bench, "csv", args.file, "--repeats", str(args.repeats), "--json"],
                                     check=True, capture_output=True, text=True).stdout
                result = json.loads(out)
                samples[system] += result["load_seconds"]
                fingerprint += result["fingerprint_seconds"]
            else:
                out = subprocess.run([sys.executable, __file__, "--one", system, "--file", args.file, "--repeats", str(args.repeats)],
                                     check=True, capture_output=True, text=True).stdout
                samples[system] += json.loads(out)["seconds"]
        print(f"round {r + 1}: " + ", ".join(f"{s} {min(samples[s][-args.repeats:]):.3f}" for s in systems), flush=True)
    print()
    print("| system | median s | min s | MB/s (median) |")
    print("|---|---:|---:|---:|")
    for s in systems:
        med = statistics.median(samples[s])
        print(f"| {s} | {med:.3f} | {min(samples[s]):.3f} | {size / 1e6 / med:.0f} |")
    if fingerprint:
        print(f"| fcstore + fingerprint (train's load) | {statistics.median(samples['fcstore']) + statistics.median(fingerprint):.3f} | "
              f"{min(samples['fcstore']) + min(fingerprint):.3f} | |")
    if peers:
        best_med = min(peers, key=lambda p: statistics.median(samples[p]))
        best_min = min(peers, key=lambda p: min(samples[p]))
        print()
        print(f"fcstore is {statistics.median(samples[best_med]) / statistics.median(samples['fcstore']):.2f}x faster than the "
              f"fastest peer ({best_med}) by medians, {min(samples[best_min]) / min(samples['fcstore']):.2f}x ({best_min}) by minima; "
              f"load {os.getloadavg()[0]:.1f}")
    print("samples: " + json.dumps({s: [round(x, 4) for x in v] for s, v in samples.items()}))


if __name__ == "__main__":
    main()
