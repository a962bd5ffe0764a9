#!/usr/bin/env python3
"""Writes a deterministic MNIST-train-shaped CSV: a header row (label,pixel0,...,pixel783),
then 60,000 rows of an integer label 0-9 and 784 pixel integers 0-255.

Real MNIST is not on this machine (no network, and no PyPI package here ships the data),
so the CSV benchmark uses this file instead. Its shape follows MNIST's CSV form: each
"image" is 3-4 thick pen strokes drawn inside the central 20x20 box of a 28x28 grid, with
255 at a stroke's centre falling off to its edge, so that about 80% of the pixels are 0
(MNIST: 80.9%), many of the rest are 25x, and the file is about 110 MB (MNIST's
mnist_train.csv: 109.6 MB). Same seed, same bytes (a SHA-256 is printed).

    python3 benchmarks/make_mnist_csv.py /tmp/mnist_train.csv [--rows 60000] [--seed 1]
Standard library and numpy only.
"""
import argparse
import hashlib
import os

import numpy as np


def images(rows, seed):
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:28, 0:28]
    ys = ys.reshape(-1).astype(np.float32)
    xs = xs.reshape(-1).astype(np.float32)
    out = np.zeros((rows, 784), dtype=np.uint8)
    for r in range(rows):
        intensity = np.zeros(784, dtype=np.float32)
        for _ in range(rng.integers(3, 5)):
            (y0, x0), (y1, x1) = rng.uniform(4, 24, size=(2, 2))
            dy, dx = y1 - y0, x1 - x0
            t = np.clip(((ys - y0) * dy + (xs - x0) * dx) / max(dy * dy + dx * dx, 1e-6), 0, 1)
            d = np.hypot(ys - (y0 + t * dy), xs - (x0 + t * dx))
            intensity = np.maximum(intensity, np.clip(1.25 - 0.62 * d, 0, 1))
        out[r] = np.round(intensity * 255).astype(np.uint8)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    pixels = images(args.rows, args.seed)
    labels = np.random.default_rng(args.seed + 1).integers(0, 10, size=args.rows)
    text = [str(i).encode() for i in range(256)]
    digest = hashlib.sha256()
    with open(args.path, "wb") as f:
        header = ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n").encode()
        f.write(header)
        digest.update(header)
        for r in range(args.rows):
            line = text[labels[r]] + b"," + b",".join(map(text.__getitem__, pixels[r].tolist())) + b"\n"
            f.write(line)
            digest.update(line)
    zeros = float((pixels == 0).mean())
    size = os.path.getsize(args.path)
    print(f"{args.path}: {args.rows} rows x 785 columns, {size / 1e6:.1f} MB, {zeros:.1%} zero pixels, sha256 {digest.hexdigest()}")


if __name__ == "__main__":
    main()
