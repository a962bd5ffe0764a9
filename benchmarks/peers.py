#!/usr/bin/env python3
"""fcstore peer benchmark: the same fully-connected training workloads in
PyTorch (CPU), hand-written NumPy and JAX, next to `fcstore-bench engine --json`.

Run (after `bash benchmarks/setup.sh` once):

    benchmarks/.venv/bin/python benchmarks/peers.py              # everything, 3 rounds x 2 repeats
    benchmarks/.venv/bin/python benchmarks/peers.py --rounds 1 --repeats 1 --workloads W1,W4   # smoke

Every peer configuration runs in its own subprocess (a fresh interpreter with
its thread count fixed through the environment before any library loads), so
one library's thread pool or BLAS never leaks into another's timing, and so
does fcstore-bench. A round runs every system once, the order reversed every
other round; the samples of all rounds are pooled. The driver prints one table
per workload (Markdown), and writes benchmarks/results/peers.json and
benchmarks/results/peers.svg.

Conventions shared by every peer (see BENCHMARKS.md):
  * float32 data, weights, activations and gradients;
  * W[l] has shape (out, in), b[l] (out,); Glorot-uniform init from a fixed
    seed, biases 0; every peer starts from the same bytes;
  * sigmoid hidden layers, softmax + cross-entropy averaged over the batch;
  * plain SGD (no momentum, no weight decay), lr 0.1: W <- W - 0.1 * dW;
  * mini-batch workloads (W1-W3) shuffle every epoch, as the workloads are
    defined (the engine issue; ../shared/peers/common.py) and as fcstore does:
    a fresh permutation per epoch from a seeded numpy Generator (the same bytes
    for every peer), each batch gathered through it in the peer's own idiom;
    drawing the permutation and gathering are timed. The last partial batch is
    kept. `--no-shuffle` times consecutive slices instead (this script's setting
    before 2026-11-29; fcstore still shuffles);
  * in each process one warm-up unit (untimed; includes JIT compilation), then
    N timed units, each from the initial weights; time.perf_counter; median and
    min of all rounds' samples reported.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

DATA_SEED = 20260601
INIT_SEED = 7
SHUFFLE_SEED = 12345
LR = 0.1
BLAS_ENV_TRAP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple          # (in, hidden..., out)
    n: int                # samples in the data set
    batch: int            # mini-batch size (== n for full-batch GD)
    steps: int = 0        # >0: full-batch GD steps per unit instead of one epoch
    desc: str = ""

    @property
    def full_batch(self) -> bool:
        return self.steps > 0

    @property
    def samples_per_unit(self) -> int:
        return self.n * self.steps if self.full_batch else self.n

    @property
    def unit(self) -> str:
        return f"{self.steps} GD steps" if self.full_batch else "1 epoch"


WORKLOADS = {
    "W1": Workload("W1", (784, 128, 64, 10), 60_000, 64,
                   desc="784-128-64-10, batch 64, 60,000 samples, 1 epoch"),
    "W2": Workload("W2", (784, 128, 64, 10), 5_000, 1,
                   desc="784-128-64-10, batch 1 (pure SGD), 5,000 samples, 1 epoch"),
    "W3": Workload("W3", (784, 1024, 1024, 10), 20_000, 256,
                   desc="784-1024-1024-10, batch 256, 20,000 samples, 1 epoch"),
    "W4": Workload("W4", (64, 32, 10), 10_000, 10_000, steps=100,
                   desc="64-32-10, full-batch GD on 10,000 samples, 100 steps"),
}
CKPT_WORKLOADS = ("W1", "W3")
# fcstore is faster than the best peer by at least this factor (best-peer s / fcstore s)
GOALS = {"W1": 1.8, "W2": 2.5, "W3": 1.0, "W4": 1.2}
CKPT_GOAL_PCT = 3.0


def make_data(wl: Workload):
    """Synthetic, learnable data (fixed seed, float32).

    X ~ N(0, 1) of shape (n, in); labels y = argmax(X @ T) for a fixed random
    linear "teacher" T of shape (in, classes), so a network can learn them.
    """
    import numpy as np
    rng = np.random.default_rng(DATA_SEED + 7919 * wl.sizes[0] + wl.n)
    X = rng.standard_normal((wl.n, wl.sizes[0]), dtype=np.float32)
    T = rng.standard_normal((wl.sizes[0], wl.sizes[-1]), dtype=np.float32)
    y = np.argmax(X @ T, axis=1).astype(np.int64)
    return np.ascontiguousarray(X), y


def init_params(wl: Workload):
    """Glorot-uniform W[l]: (out, in) float32, b[l] = 0; same bytes for every peer."""
    import numpy as np
    rng = np.random.default_rng(INIT_SEED)
    params = []
    for fan_in, fan_out in zip(wl.sizes[:-1], wl.sizes[1:]):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        params.append((W, np.zeros(fan_out, dtype=np.float32)))
    return params


def reference_loss(params, X, y, limit=10_000):
    """Untimed float32 NumPy forward pass: mean cross-entropy and accuracy."""
    import numpy as np
    X, y = X[:limit], y[:limit]
    a = X
    for i, (W, b) in enumerate(params):
        z = a @ np.asarray(W, dtype=np.float32).T + np.asarray(b, dtype=np.float32)
        a = 1.0 / (1.0 + np.exp(-z)) if i < len(params) - 1 else z
    z = a - a.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean()), float((logp.argmax(1) == y).mean())


SHUFFLE = True   # False with --no-shuffle (set in the worker)


def shuffles(wl: Workload) -> bool:
    """Whether a unit of `wl` reshuffles (mini-batch workloads, unless --no-shuffle)."""
    return not wl.full_batch and SHUFFLE


def new_permutations():
    """The per-epoch permutations: one Generator from SHUFFLE_SEED per timed unit."""
    import numpy as np
    return np.random.default_rng(SHUFFLE_SEED)


def batch_bounds(wl: Workload):
    if wl.full_batch:
        return [(0, wl.n)] * wl.steps
    return [(i, min(i + wl.batch, wl.n)) for i in range(0, wl.n, wl.batch)]


# --------------------------------------------------------------------------
# Peers. Each runner: reset() (untimed), run(units, ckpt=None) (timed),
# params() -> list of (W, b) numpy arrays, and info() -> dict.
# --------------------------------------------------------------------------
class NumpyRunner:
    """Textbook backprop in NumPy, buffers preallocated per batch size."""

    name = "numpy"

    def __init__(self, wl, X, y, threads):
        import numpy as np
        self.np, self.wl, self.X, self.y = np, wl, X, y
        self.init = init_params(wl)
        self.P = [(W.copy(), b.copy()) for W, b in self.init]
        self.bufs = {}
        self.grads = [(np.empty_like(W), np.empty_like(b)) for W, b in self.P]
        self.rng = new_permutations()

    def _buffers(self, B):
        np = self.np
        if B not in self.bufs:
            sizes = self.wl.sizes
            self.bufs[B] = {
                "z": [np.empty((B, o), np.float32) for o in sizes[1:]],
                "da": [np.empty((B, i), np.float32) for i in sizes[1:-1]],  # grad wrt hidden acts
                "tmp": [np.empty((B, i), np.float32) for i in sizes[1:-1]],
                "rows": np.arange(B),
                "x": np.empty((B, sizes[0]), np.float32),
                "y": np.empty(B, np.int64),
            }
        return self.bufs[B]

    def reset(self):
        for (W, b), (W0, b0) in zip(self.P, self.init):
            W[...] = W0
            b[...] = b0
        self.rng = new_permutations()

    def step(self, x, yb):
        np, P = self.np, self.P
        B = x.shape[0]
        buf = self._buffers(B)
        L = len(P)
        acts = [x]
        a = x
        for l, (W, b) in enumerate(P):                  # forward
            z = buf["z"][l]
            np.matmul(a, W.T, out=z)
            z += b
            if l < L - 1:                               # sigmoid in place
                np.negative(z, out=z)
                np.exp(z, out=z)
                z += 1.0
                np.reciprocal(z, out=z)
            acts.append(z)
            a = z
        p = acts[-1]                                    # softmax in place
        p -= p.max(axis=1, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=1, keepdims=True)
        p[buf["rows"], yb] -= 1.0                       # delta^L = (p - onehot) / B
        p *= 1.0 / B
        delta = p
        for l in range(L - 1, -1, -1):                  # backward
            W, b = P[l]
            dW, db = self.grads[l]
            np.matmul(delta.T, acts[l], out=dW)
            np.sum(delta, axis=0, out=db)
            if l > 0:
                da = buf["da"][l - 1]
                np.matmul(delta, W, out=da)             # uses W before its update
                a_prev, tmp = acts[l], buf["tmp"][l - 1]
                np.subtract(1.0, a_prev, out=tmp)       # sigmoid' = a (1 - a)
                tmp *= a_prev
                da *= tmp
                delta = da
            dW *= LR
            W -= dW
            db *= LR
            b -= db

    def run(self, units=1, ckpt=None):
        np, X, y = self.np, self.X, self.y
        bounds = batch_bounds(self.wl)
        for e in range(units):
            perm = self.rng.permutation(self.wl.n) if shuffles(self.wl) else None
            for s, t in bounds:
                if perm is None:
                    self.step(X[s:t], y[s:t])
                    continue
                buf = self._buffers(t - s)
                np.take(X, perm[s:t], axis=0, out=buf["x"])
                np.take(y, perm[s:t], out=buf["y"])
                self.step(buf["x"], buf["y"])
            if ckpt is not None:
                ckpt(e)

    def params(self):
        return self.P

    def info(self):
        return {}


class TorchRunner:
    """Idiomatic PyTorch: nn.Sequential, F.cross_entropy, autograd, optim.SGD."""

    name = "torch"

    def __init__(self, wl, X, y, threads):
        import torch
        import torch.nn.functional as F
        self.torch, self.F, self.wl = torch, F, wl
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y)
        layers = []
        for l, (i, o) in enumerate(zip(wl.sizes[:-1], wl.sizes[1:])):
            layers.append(torch.nn.Linear(i, o))
            if l < len(wl.sizes) - 2:
                layers.append(torch.nn.Sigmoid())
        self.model = torch.nn.Sequential(*layers)
        self.linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        self.init = [(torch.from_numpy(W), torch.from_numpy(b)) for W, b in init_params(wl)]
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.reset()

    def reset(self):
        with self.torch.no_grad():
            for m, (W, b) in zip(self.linears, self.init):
                m.weight.copy_(W)
                m.bias.copy_(b)
        self.rng = new_permutations()

    def run(self, units=1, ckpt=None):
        model, opt, F = self.model, self.opt, self.F
        X, y = self.X, self.y
        bounds = batch_bounds(self.wl)
        for e in range(units):
            perm = self.torch.from_numpy(self.rng.permutation(self.wl.n)) if shuffles(self.wl) else None
            for s, t in bounds:
                if perm is None:
                    xb, yb = X[s:t], y[s:t]
                else:
                    xb, yb = X.index_select(0, perm[s:t]), y.index_select(0, perm[s:t])
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
            if ckpt is not None:
                ckpt(e)

    def save(self, path):
        """Durable checkpoint: torch.save of model + optimizer state, then fsync."""
        with open(path, "wb") as f:
            self.torch.save({"model": self.model.state_dict(),
                             "optimizer": self.opt.state_dict()}, f)
            f.flush()
            os.fsync(f.fileno())

    def params(self):
        return [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in self.linears]

    def info(self):
        torch = self.torch
        cfg = torch.__config__.show()
        blas = [ln.strip() for ln in cfg.splitlines()
                if any(k in ln for k in ("BLAS_INFO", "LAPACK_INFO", "Intel(R)", "oneDNN", "MKL", "CPU capability"))]
        return {"torch_threads": torch.get_num_threads(),
                "torch_interop_threads": torch.get_num_interop_threads(),
                "torch_blas": blas[:8],
                "torch_cpu_capability": getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")(),
                "mkl_available": torch.backends.mkl.is_available(),
                "mkldnn_available": torch.backends.mkldnn.is_available()}


class JaxRunner:
    """JAX with a jit'ed SGD step; mode 'step' loops over batches in Python,
    mode 'scan' runs one jit'ed lax.scan over all full batches per epoch."""

    def __init__(self, wl, X, y, threads, mode):
        import jax
        import jax.numpy as jnp
        self.jax, self.jnp, self.wl, self.mode = jax, jnp, wl, mode
        self.name = f"jax-{mode}"

        def loss_fn(params, x, yb):
            a = x
            for l, (W, b) in enumerate(params):
                z = a @ W.T + b
                a = jax.nn.sigmoid(z) if l < len(params) - 1 else z
            logp = jax.nn.log_softmax(a, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def step(params, x, yb):
            g = jax.grad(loss_fn)(params, x, yb)
            return jax.tree_util.tree_map(lambda p, gp: p - LR * gp, params, g)

        self.step = jax.jit(step)

        def step_idx(params, X, Y, idx):
            # The batch gathered inside the compiled step (jnp.take of its rows).
            return step(params, jnp.take(X, idx, axis=0), jnp.take(Y, idx, axis=0))

        self.step_idx = jax.jit(step_idx)

        def step_at(params, X, Y, perm, i):
            idx = jax.lax.dynamic_slice(perm, (i * wl.batch,), (wl.batch,))
            return step_idx(params, X, Y, idx)

        self.step_at = jax.jit(step_at)

        def scan_epoch(params, xs, ys):
            def body(p, xy):
                return step(p, xy[0], xy[1]), None
            return jax.lax.scan(body, params, (xs, ys))[0]

        def scan_shuffled(params, X, Y, idx):
            # idx: (batches, B) rows of the permutation; each scan step gathers its batch.
            def body(p, i):
                return step_idx(p, X, Y, i), None
            return jax.lax.scan(body, params, idx)[0]

        self.scan_shuffled = jax.jit(scan_shuffled)

        def scan_full(params, x, yb):
            def body(p, _):
                return step(p, x, yb), None
            return jax.lax.scan(body, params, None, length=wl.steps)[0]

        self.scan_epoch = jax.jit(scan_epoch)
        self.scan_full = jax.jit(scan_full)
        self.init = [(jnp.asarray(W), jnp.asarray(b)) for W, b in init_params(wl)]
        # Data is put on the device once, untimed (the data loader's job).
        bounds = batch_bounds(wl)
        self.nfull = wl.n // wl.batch
        if shuffles(wl):
            self.Xd, self.yd = jnp.asarray(X), jnp.asarray(y.astype("int32"))
        elif wl.full_batch:
            self.Xf, self.yf = jnp.asarray(X), jnp.asarray(y)
        elif mode == "step":
            self.batches = [(jnp.asarray(X[s:t]), jnp.asarray(y[s:t])) for s, t in bounds]
        else:
            nfull = wl.n // wl.batch
            k = nfull * wl.batch
            self.xs = jnp.asarray(X[:k].reshape(nfull, wl.batch, -1))
            self.ys = jnp.asarray(y[:k].reshape(nfull, wl.batch))
            self.rest = (jnp.asarray(X[k:]), jnp.asarray(y[k:])) if k < wl.n else None
        self.reset()

    def reset(self):
        self.P = self.init
        self.rng = new_permutations()

    def run(self, units=1, ckpt=None):
        P, wl = self.P, self.wl
        for e in range(units):
            if shuffles(wl):
                perm = self.rng.permutation(wl.n).astype("int32")
                k = self.nfull * wl.batch
                if self.mode == "scan":
                    idx = self.jax.device_put(perm[:k].reshape(self.nfull, wl.batch))
                    P = self.scan_shuffled(P, self.Xd, self.yd, idx)
                else:
                    permd = self.jax.device_put(perm)
                    for i in range(self.nfull):
                        P = self.step_at(P, self.Xd, self.yd, permd, i)
                if k < wl.n:
                    P = self.step_idx(P, self.Xd, self.yd, self.jax.device_put(perm[k:]))
            elif wl.full_batch:
                if self.mode == "scan":
                    P = self.scan_full(P, self.Xf, self.yf)
                else:
                    for _ in range(wl.steps):
                        P = self.step(P, self.Xf, self.yf)
            elif self.mode == "step":
                for xb, yb in self.batches:
                    P = self.step(P, xb, yb)
            else:
                P = self.scan_epoch(P, self.xs, self.ys)
                if self.rest is not None:
                    P = self.step(P, *self.rest)
            if ckpt is not None:
                ckpt(e)
        self.jax.block_until_ready(P)
        self.P = P

    def params(self):
        import numpy as np
        return [(np.asarray(W), np.asarray(b)) for W, b in self.P]

    def info(self):
        jax = self.jax
        import jaxlib
        return {"jax_devices": [str(d) for d in jax.devices()],
                "jaxlib": getattr(jaxlib, "__version__", "?"),
                "xla_flags": os.environ.get("XLA_FLAGS")}


PEERS = {
    # name: (library, thread count or None for "--threads", extra env)
    "numpy": ("numpy", None),
    "numpy-1t": ("numpy", 1),
    "torch": ("torch", None),
    "torch-1t": ("torch", 1),
    "jax-step": ("jax-step", None),
    "jax-scan": ("jax-scan", None),
}
DEFAULT_PEERS = "numpy,numpy-1t,torch,torch-1t,jax-step,jax-scan"


def make_runner(lib, wl, X, y, threads):
    if lib == "numpy":
        return NumpyRunner(wl, X, y, threads)
    if lib == "torch":
        return TorchRunner(wl, X, y, threads)
    if lib in ("jax-step", "jax-scan"):
        return JaxRunner(wl, X, y, threads, lib.split("-")[1])
    raise ValueError(lib)


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------
def _proc_stat():
    """(busy seconds of the whole machine, steal seconds) from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz


def _own_cpu():
    t = os.times()
    return t.user + t.system


def time_units(runner, units, repeats, warmup, ckpt_factory=None):
    """warm-up untimed, then `repeats` timed runs of `units` units from the
    initial weights. Also returns, per repeat, the share of the machine's CPUs
    used by OTHER processes (plus hypervisor steal) while it ran."""
    for _ in range(warmup):
        runner.reset()
        runner.run(units, ckpt_factory() if ckpt_factory else None)
    times, other = [], []
    ncpu = os.cpu_count() or 1
    for _ in range(repeats):
        runner.reset()
        ckpt = ckpt_factory() if ckpt_factory else None     # untimed: fresh directory
        b0, s0 = _proc_stat()
        o0 = _own_cpu()
        t0 = time.perf_counter()
        runner.run(units, ckpt)
        dt = time.perf_counter() - t0
        b1, s1 = _proc_stat()
        o1 = _own_cpu()
        times.append(dt)
        other.append(round(max(0.0, (b1 - b0) - (o1 - o0) + (s1 - s0)) / (dt * ncpu), 3))
    return times, other


def time_pairs(runner, units, repeats, warmup, new_dir, save):
    """Alternates a plain run of `units` units and one that checkpoints after every unit
    (`save(directory, epoch)`), warm-up pairs first. The previous pair's checkpoint
    directory is deleted before the plain run, so the disk's trimming of the freed blocks
    does not land on the timed saves. Returns the plain times, the checkpointed times,
    both runs' other-CPU shares and the last directory (still on disk)."""
    plain, ck, o_plain, o_ck = [], [], [], []
    previous = None
    for i in range(warmup + repeats):
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
        t, o = time_units(runner, units, 1, 0)
        d = new_dir()
        previous = d
        t2, o2 = time_units(runner, units, 1, 0, lambda: (lambda epoch: save(d, epoch)))
        if i >= warmup:
            plain += t
            o_plain += o
            ck += t2
            o_ck += o2
    return plain, ck, o_plain, o_ck, previous


def summarize(times):
    return {"median_s": statistics.median(times), "min_s": min(times),
            "samples": [round(t, 6) for t in times]}


# --------------------------------------------------------------------------
# Worker (one peer configuration, in its own process)
# --------------------------------------------------------------------------
def numpy_blas_info():
    try:
        import threadpoolctl
        return [{k: d.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                        "num_threads", "threading_layer", "filepath")}
                for d in threadpoolctl.threadpool_info()]
    except Exception as e:  # noqa: BLE001
        return repr(e)


def worker_main(args):
    global SHUFFLE
    SHUFFLE = args.shuffle
    lib, _ = PEERS[args.worker]
    threads = args.threads
    out = {"peer": args.worker, "library": lib.split("-")[0], "threads": threads,
           "env": {k: os.environ.get(k) for k in BLAS_ENV_TRAP + THREAD_ENV + ("XLA_FLAGS",)},
           "results": []}
    try:
        import numpy as np
        out["versions"] = {"numpy": np.__version__}
        if lib == "torch":
            import torch
            out["versions"]["torch"] = torch.__version__
        elif lib.startswith("jax"):
            import jax
            import jaxlib
            out["versions"]["jax"] = jax.__version__
            out["versions"]["jaxlib"] = getattr(jaxlib, "__version__", "?")
    except Exception as e:  # noqa: BLE001
        out["error"] = f"{type(e).__name__}: {e}"
        _write(args.json_out, out)
        return 0

    ckpt_root = args.ckpt_dir
    for name in args.workloads.split(","):
        wl = WORKLOADS[name]
        X, y = make_data(wl)
        runner = make_runner(lib, wl, X, y, threads)
        loss0, acc0 = reference_loss(init_params(wl), X, y)
        times, other = time_units(runner, 1, args.repeats, args.warmup)
        loss1, acc1 = reference_loss(runner.params(), X, y)
        row = {"workload": name, "units": 1, **summarize(times), "other_cpu": other,
               "loss_before": loss0, "loss_after": loss1, "acc_before": acc0, "acc_after": acc1,
               "learned": loss1 < 0.99 * loss0}
        out["results"].append(row)
        print(f"  {args.worker:9s} {name:8s} median {row['median_s']:.4f} s  min {row['min_s']:.4f} s"
              f"  loss {loss0:.3f} -> {loss1:.3f}", file=sys.stderr, flush=True)

        if args.checkpoint and lib == "torch" and name in CKPT_WORKLOADS:
            E = args.ckpt_epochs
            os.makedirs(ckpt_root, exist_ok=True)

            def save(d, epoch):
                runner.save(os.path.join(d, f"epoch-{epoch + 1:04d}.pt"))
                fd = os.open(d, os.O_RDONLY)      # make the new directory entry durable
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

            t_plain, t_ck, o_plain, o_ck, last = time_pairs(
                runner, E, args.repeats, args.warmup,
                lambda: tempfile.mkdtemp(prefix=f"{name}-", dir=ckpt_root), save)
            size = sum(os.path.getsize(os.path.join(last, f)) for f in os.listdir(last))
            shutil.rmtree(last, ignore_errors=True)
            plain = {"workload": f"{name}x{E}", "units": E, **summarize(t_plain), "other_cpu": o_plain}
            ck = {"workload": f"{name}+ckpt", "units": E, **summarize(t_ck), "other_cpu": o_ck,
                  "ckpt_bytes_per_epoch": size // E}
            out["results"] += [plain, ck]
            print(f"  {args.worker:9s} {name}x{E}   median {plain['median_s']:.4f} s;"
                  f" {name}+ckpt median {ck['median_s']:.4f} s", file=sys.stderr, flush=True)
        del runner
    out["info"] = {}
    try:
        out["info"] = make_runner(lib, WORKLOADS["W4"], *make_data(WORKLOADS["W4"]), threads).info()
    except Exception as e:  # noqa: BLE001
        out["info"] = {"error": repr(e)}
    out["info"]["blas_threadpools"] = numpy_blas_info()
    _write(args.json_out, out)
    return 0


def _write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------
def machine_info():
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cores": os.cpu_count(), "loadavg_at_start": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            txt = f.read()
        for line in txt.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next((ln.split(":", 1)[1].split() for ln in txt.splitlines() if ln.startswith("flags")), [])
        info["simd"] = [f for f in flags if f in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512vnni")]
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    info["inherited_blas_env"] = {k: os.environ.get(k) for k in BLAS_ENV_TRAP}
    return info


def run_peer(peer, args, workloads):
    lib, t = PEERS[peer]
    threads = t or args.threads
    env = dict(os.environ)
    for k in THREAD_ENV:
        env[k] = str(threads)
    if not args.keep_openblas_env:
        # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on some machines for old
        # OpenBLAS builds; they make a current numpy pick a slower kernel. Unset
        # both together, for the peer processes only (see BENCHMARKS.md).
        for k in BLAS_ENV_TRAP:
            env.pop(k, None)
    if lib.startswith("jax") and threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                            " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    fd, path = tempfile.mkstemp(prefix=f"peer-{peer}-", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer, "--threads", str(threads),
           "--workloads", ",".join(workloads), "--repeats", str(args.repeats),
           "--warmup", str(args.warmup), "--json-out", path, "--ckpt-dir", args.ckpt_dir,
           "--ckpt-epochs", str(args.ckpt_epochs)]
    cmd.append("--checkpoint" if args.checkpoint else "--no-checkpoint")
    if not args.shuffle:
        cmd.append("--no-shuffle")
    print(f"peer {peer} ({threads} thread{'s' if threads != 1 else ''}) ...", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, env=env)
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {"peer": peer, "threads": threads, "error": f"worker exited {p.returncode} without results"}
    os.unlink(path)
    if p.returncode != 0 and "error" not in res:
        res["error"] = f"worker exited {p.returncode}"
    return res


# ---- fcstore ---------------------------------------------------------------
def find_fcstore_bench(args):
    if args.fcstore_bench:
        return args.fcstore_bench if os.access(args.fcstore_bench, os.X_OK) else None, \
            f"--fcstore-bench {args.fcstore_bench} is not an executable file"
    path = os.path.join(REPO, ".build-release", "release", "fcstore-bench")
    if os.access(path, os.X_OK) and not args.rebuild:
        return path, None
    if args.no_build:
        return None, f"{path} missing and --no-build given"
    if not shutil.which("swift"):
        return None, "swift not found, cannot build fcstore-bench"
    cmd = ["swift", "build", "-c", "release", "--scratch-path", ".build-release", "--product", "fcstore-bench"]
    print(f"building fcstore-bench: {' '.join(cmd)}", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, cwd=REPO)
    if p.returncode != 0 or not os.access(path, os.X_OK):
        return None, f"swift build failed (exit {p.returncode})"
    return path, None


def _extract_json(text):
    """The JSON document in fcstore-bench's stdout (tolerates log lines around it)."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    s, e = text.find("{"), text.rfind("}")
    if s >= 0 and e > s:
        return json.loads(text[s:e + 1])
    raise ValueError("no JSON document in fcstore-bench output")


def _num(d, *keys):
    for k in keys:
        v = d.get(k)
        if isinstance(v, (int, float)):
            return float(v)
    return None


def parse_fcstore(doc):
    """{name: {median_s, min_s, samples, ...}} from a tolerant reading of the contract."""
    wls = doc.get("workloads", doc.get("results", []))
    if isinstance(wls, dict):
        wls = [dict(v, name=k) for k, v in wls.items()]
    out = {}
    for w in wls:
        if not isinstance(w, dict):
            continue
        name = str(w.get("name") or w.get("workload") or "")
        samples = w.get("samples") or w.get("samples_s") or w.get("times_s") or w.get("seconds") or []
        samples = [float(s) for s in samples if isinstance(s, (int, float))] if isinstance(samples, list) else []
        med = _num(w, "median_s", "median", "median_seconds")
        mn = _num(w, "min_s", "min", "min_seconds")
        if med is None and samples:
            med = statistics.median(samples)
        if mn is None and samples:
            mn = min(samples)
        if not name or med is None:
            continue
        out[name] = {k: v for k, v in w.items() if k not in ("name",)}
        out[name].update({"median_s": med, "min_s": mn if mn is not None else med, "samples": samples})
    return out


def run_fcstore(path, args, workloads, checkpoint):
    if checkpoint:
        cmd = [path, "checkpoint", "--json", "--repeats", str(args.repeats), "--epochs", str(args.ckpt_epochs),
               "--directory", args.ckpt_dir]
    else:
        cmd = [path, "engine", "--json", "--repeats", str(args.repeats)]
    docs, errors = [], []
    # One call for all workloads when all are wanted, else one per workload.
    wanted = [w for w in workloads if w in CKPT_WORKLOADS] if checkpoint else list(workloads)
    everything = set(CKPT_WORKLOADS) if checkpoint else set(WORKLOADS)
    targets = [None] if set(wanted) == everything else wanted
    for w in targets:
        c = cmd + (["--workloads", w] if w else [])
        print(f"fcstore: {' '.join(c)}", file=sys.stderr, flush=True)
        try:
            p = subprocess.run(c, capture_output=True, text=True, timeout=args.fcstore_timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{' '.join(c)}: {e}")
            continue
        if p.returncode != 0:
            errors.append(f"{' '.join(c)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}")
            continue
        try:
            docs.append(_extract_json(p.stdout))
        except ValueError as e:
            errors.append(f"{' '.join(c)}: {e}")
    results, blas = {}, None
    for d in docs:
        if isinstance(d, dict):
            results.update(parse_fcstore(d))
            blas = d.get("blas", blas)
    return results, blas, errors


# ---- report ------------------------------------------------------------------
def fmt_s(x):
    return "-" if x is None else (f"{x:.4f}" if x < 10 else f"{x:.2f}")


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def fc_loss(f):
    """fcstore's loss cell: the training loss fcstore-bench reports (the mean over the last
    epoch's forward passes), when it gives one. fcstore-bench trains on synthetic data of its
    own, of the same shapes, and shuffles with its own generator, so its losses are not
    comparable with the peers'."""
    loss = f.get("train_loss")
    if isinstance(loss, (int, float)):
        return f"train loss {loss:.4f} (own data)"
    return f"{f.get('loss_before', '?')} -> {f.get('loss_after', '?')}"


def fmt_pct(x):
    return "-" if x is None else f"{x:+.1f}%"


def paired_overhead(plain, ck):
    """Median over the pairs (a plain run, then the checkpointed run right after it) of
    ckpt / plain - 1, in percent: a slow stretch of the machine longer than a pair then
    cancels out. None when the samples do not pair up."""
    a, b = plain.get("samples") or [], ck.get("samples") or []
    if not a or len(a) != len(b):
        return None
    return 100.0 * statistics.median(y / x - 1.0 for x, y in zip(a, b) if x)


def build_report(peers, fc, fc_ck, fc_blas, fc_err, workloads, args):
    """Returns (markdown text, summary dict)."""
    lines, summary = [], {"workloads": {}, "checkpoint": {}}
    by = {}
    for p in peers:
        for r in p.get("results", []):
            by.setdefault(r["workload"], []).append((p, r))
    if fc_err:
        lines.append(f"**fcstore was not measured**: {fc_err}\n")

    for name in workloads:
        wl = WORKLOADS[name]
        rows = by.get(name, [])
        lines.append(f"### {name}: {wl.desc}\n")
        lines.append("| system | threads | median s | min s | samples/s (median) | loss before -> after | learns | same result | other CPU |")
        lines.append("|---|---:|---:|---:|---:|---|---|---|---:|")
        best = None
        consensus = statistics.median([r["loss_after"] for _, r in rows]) if rows else None
        for p, r in sorted(rows, key=lambda pr: pr[1]["median_s"]):
            # "same result": the trained weights give the same loss as the other
            # peers' (all start from the same bytes and do the same updates), and
            # training changed them. Only such rows can be the best peer.
            same = (math.isfinite(r["loss_after"]) and r["loss_after"] != r["loss_before"]
                    and abs(r["loss_after"] - consensus) <= 1e-3 * abs(consensus))
            r["same_result"] = same
            if same and (best is None or r["median_s"] < best[1]["median_s"]):
                best = (p, r)
            lines.append(f"| {p['peer']} | {p['threads']} | {fmt_s(r['median_s'])} | {fmt_s(r['min_s'])} | "
                         f"{fmt_rate(wl.samples_per_unit / r['median_s'])} | "
                         f"{r['loss_before']:.4f} -> {r['loss_after']:.4f} | {'yes' if r['learned'] else 'NO'} | "
                         f"{'yes' if same else 'NO'} | {statistics.median(r['other_cpu']):.0%} |")
        f = fc.get(name)
        if f:
            thr = (fc_blas or {}).get("threads", "?")
            lines.append(f"| **fcstore** | {thr} | {fmt_s(f['median_s'])} | {fmt_s(f['min_s'])} | "
                         f"{fmt_rate(wl.samples_per_unit / f['median_s'])} | "
                         f"{fc_loss(f)} | | | |")
        s = {"best_peer": best[0]["peer"] if best else None,
             "best_peer_median_s": best[1]["median_s"] if best else None,
             "best_peer_min_s": best[1]["min_s"] if best else None,
             "fcstore_median_s": f["median_s"] if f else None,
             "fcstore_min_s": f["min_s"] if f else None,
             "goal_x": GOALS[name]}
        if best and f:
            rb, rf = best[1].get("round_medians", []), f.get("round_medians", [])
            s["x_faster_per_round"] = [b / x for b, x in zip(rb, rf) if x]
            s["x_faster"] = best[1]["median_s"] / f["median_s"]
            s["x_faster_min"] = best[1]["min_s"] / f["min_s"] if f["min_s"] else None
            s["goal_met"] = s["x_faster"] >= GOALS[name]
        summary["workloads"][name] = s
        lines.append("")

    lines.append("### Summary: best peer vs fcstore (ratio = best-peer median / fcstore median)\n")
    lines.append("| workload | best peer | best peer median s | fcstore median s | x faster | (ratio of mins) | per round | goal | met |")
    lines.append("|---|---|---:|---:|---:|---:|---|---:|---|")
    for name in workloads:
        s = summary["workloads"][name]
        xf, xm = s.get("x_faster"), s.get("x_faster_min")
        lines.append(f"| {name} | {s['best_peer'] or '-'} | {fmt_s(s['best_peer_median_s'])} | "
                     f"{fmt_s(s['fcstore_median_s'])} | {'-' if xf is None else f'{xf:.2f}x'} | "
                     f"{'-' if not xm else f'{xm:.2f}x'} | "
                     f"{', '.join(f'{x:.2f}x' for x in s.get('x_faster_per_round', [])) or '-'} | "
                     f">= {s['goal_x']}x | {'-' if xf is None else ('yes' if s['goal_met'] else 'NO')} |")
    lines.append("")

    if args.checkpoint:
        lines.append(f"### Checkpoint overhead ({args.ckpt_epochs} epochs, one durable checkpoint per epoch)\n")
        lines.append("| workload | system | plain median s | with checkpoints median s | overhead (medians) | overhead (median of pairs) | bytes/ckpt | goal | met |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for name in CKPT_WORKLOADS:
            if name not in workloads:
                continue
            for p, r in by.get(f"{name}+ckpt", []):
                plain = next((r2 for p2, r2 in by.get(f"{name}x{args.ckpt_epochs}", []) if p2 is p), None)
                if not plain:
                    continue
                ov = 100.0 * (r["median_s"] / plain["median_s"] - 1.0)
                op = paired_overhead(plain, r)
                summary["checkpoint"].setdefault(name, {})[p["peer"]] = {
                    "plain_median_s": plain["median_s"], "ckpt_median_s": r["median_s"], "overhead_pct": ov,
                    "overhead_pairs_pct": op}
                lines.append(f"| {name} | {p['peer']} (torch.save+fsync) | {fmt_s(plain['median_s'])} | "
                             f"{fmt_s(r['median_s'])} | {ov:+.1f}% | {fmt_pct(op)} | {r.get('ckpt_bytes_per_epoch', 0):,} | | |")
            ck = fc_ck.get(f"{name}+ckpt")
            plain = fc_ck.get(name)
            note = ""
            if ck and not plain and fc.get(name):
                # contract fallback: no plain multi-epoch entry; scale the 1-epoch time
                plain = {"median_s": fc[name]["median_s"] * args.ckpt_epochs}
                note = " (plain = 1-epoch x epochs, estimated)"
            if ck and plain:
                ov = 100.0 * (ck["median_s"] / plain["median_s"] - 1.0)
                op = paired_overhead(plain, ck)
                judged = op if op is not None else ov
                summary["checkpoint"].setdefault(name, {})["fcstore"] = {
                    "plain_median_s": plain["median_s"], "ckpt_median_s": ck["median_s"],
                    "overhead_pct": ov, "overhead_pairs_pct": op, "note": note.strip()}
                lines.append(f"| {name} | **fcstore** (SQLite store){note} | {fmt_s(plain['median_s'])} | "
                             f"{fmt_s(ck['median_s'])} | {ov:+.1f}% | {fmt_pct(op)} | {ck.get('bytes_per_checkpoint', '?')} | "
                             f"<= {CKPT_GOAL_PCT:.0f}% | {'yes' if judged <= CKPT_GOAL_PCT else 'NO'} |")
            else:
                lines.append(f"| {name} | **fcstore** | - | - | not measured | | | <= {CKPT_GOAL_PCT:.0f}% | - |")
        lines.append("")
    return "\n".join(lines), summary


def write_svg(path, peers, fc, fc_ck, workloads, args):
    """Hand-written SVG: one panel per workload, a horizontal bar per system
    (median seconds, whisker = min), each panel on its own scale."""
    panels = []
    for name in workloads:
        bars = [(p["peer"], r["median_s"], r["min_s"], False)
                for p in peers for r in p.get("results", []) if r["workload"] == name]
        if fc.get(name):
            bars.append(("fcstore", fc[name]["median_s"], fc[name]["min_s"], True))
        if bars:
            panels.append((f"{name}", f"seconds per {WORKLOADS[name].unit}", bars))
    E = args.ckpt_epochs
    for name in (CKPT_WORKLOADS if args.checkpoint else ()):
        if name not in workloads:
            continue
        bars = []
        for p in peers:
            for suffix, tag in ((f"x{E}", ""), ("+ckpt", " +ckpt")):
                for r in p.get("results", []):
                    if r["workload"] == name + suffix:
                        bars.append((p["peer"] + tag, r["median_s"], r["min_s"], False))
        for key, tag in ((name, ""), (name + "+ckpt", " +ckpt")):
            if fc_ck.get(key):
                bars.append(("fcstore" + tag, fc_ck[key]["median_s"], fc_ck[key]["min_s"], True))
        if bars:
            panels.append((f"{name}: {E} epochs without / with a checkpoint per epoch",
                           f"seconds per {E} epochs", bars))
    W, left, right, bar_h, gap = 760, 110, 90, 16, 4
    colors = {"numpy": "#4c72b0", "torch": "#dd8452", "jax": "#55a868", "fcstore": "#c44e52"}
    y = 40
    body = []
    for title, unit, bars in panels:
        body.append(f'<text x="10" y="{y}" font-size="13" font-weight="bold">{_esc(title)}</text>'
                    f'<text x="{W - 10}" y="{y}" font-size="11" text-anchor="end" fill="#555">{_esc(unit)} (median; tick = min)</text>')
        y += 8
        vmax = max(b[1] for b in bars) * 1.05
        span = W - left - right
        for label, med, mn, is_fc in bars:
            col = colors["fcstore"] if is_fc else colors.get(label.split(" ")[0].split("-")[0], "#8172b2")
            w = max(1.0, span * med / vmax)
            xm = left + span * (mn or med) / vmax
            weight = ' font-weight="bold"' if is_fc else ""
            body.append(f'<text x="{left - 6}" y="{y + bar_h - 4}" font-size="11" text-anchor="end"'
                        f'{weight}>{_esc(label)}</text>'
                        f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{col}"/>'
                        f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{y - 1}" y2="{y + bar_h + 1}" stroke="#222" stroke-width="1.5"/>'
                        f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}" font-size="11">{fmt_s(med)} s</text>')
            y += bar_h + gap
        y += 26
    H = y
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'font-family="Helvetica, Arial, sans-serif">'
            f'<rect width="{W}" height="{H}" fill="white"/>'
            f'<text x="10" y="20" font-size="15" font-weight="bold">fcstore vs peers: training time per workload '
            f'(lower is better){"" if fc or fc_ck else "; fcstore not measured"}</text>')
    with open(path, "w") as f:
        f.write(head + "".join(body) + "</svg>\n")


def _pooled(rows):
    """One row from the same measurement in several rounds: every sample pooled."""
    out = dict(rows[-1])
    samples = [x for r in rows for x in r.get("samples", [])]
    if samples:
        out.update(median_s=statistics.median(samples), min_s=min(samples), samples=samples)
    out["round_medians"] = [r["median_s"] for r in rows]
    if any("other_cpu" in r for r in rows):
        out["other_cpu"] = [x for r in rows for x in r.get("other_cpu", [])]
    return out


def merge_peer_rounds(results):
    """A peer's worker outputs of all rounds as one, samples pooled per workload."""
    good = [r for r in results if not r.get("error")]
    if not good:
        return results[-1]
    out = dict(good[-1])
    names = []
    for r in good:
        for row in r.get("results", []):
            if row["workload"] not in names:
                names.append(row["workload"])
    out["results"] = [_pooled([row for r in good for row in r.get("results", []) if row["workload"] == n])
                      for n in names]
    out["rounds"] = len(good)
    errors = [r["error"] for r in results if r.get("error")]
    if errors:
        out["round_errors"] = errors
    return out


def merge_samples(docs):
    """fcstore's parsed results ({name: row}) of all rounds as one, samples pooled."""
    names = []
    for d in docs:
        names += [n for n in d if n not in names]
    return {n: _pooled([d[n] for d in docs if n in d]) for n in names}


def _esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def driver_main(args):
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in WORKLOADS:
            sys.exit(f"unknown workload {w}; choose from {', '.join(WORKLOADS)}")
    peer_names = [p.strip() for p in args.peers.split(",") if p.strip()]
    for p in peer_names:
        if p not in PEERS:
            sys.exit(f"unknown peer {p}; choose from {', '.join(PEERS)}")
    os.makedirs(args.out_dir, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    minfo = machine_info()
    print(f"machine: {minfo.get('cpu')} , {minfo['cores']} cores; rounds {args.rounds} x repeats {args.repeats}, "
          f"warm-up {args.warmup}; workloads {','.join(workloads)}", file=sys.stderr)
    if any(minfo["inherited_blas_env"].values()) and not args.keep_openblas_env:
        print(f"note: {minfo['inherited_blas_env']} set in this environment; unset for the peer processes "
              f"(--keep-openblas-env keeps them)", file=sys.stderr)

    fc_path, fc_path_err = (None, "--no-fcstore given") if args.no_fcstore else find_fcstore_bench(args)
    # Rounds: every system once per round (a fresh process each time), the order reversed
    # every other round, so a slow stretch of the machine falls on all systems alike.
    per_peer = {p: [] for p in peer_names}
    fc_docs, fc_ck_docs, fc_blas, fc_errs = [], [], None, []
    for rnd in range(args.rounds):
        print(f"round {rnd + 1} of {args.rounds}", file=sys.stderr, flush=True)
        order = peer_names + ["fcstore"]
        if rnd % 2:
            order.reverse()
        for system in order:
            if system != "fcstore":
                per_peer[system].append(run_peer(system, args, workloads))
            elif fc_path:
                res, blas, errs = run_fcstore(fc_path, args, workloads, False)
                fc_docs.append(res)
                fc_blas = fc_blas or blas
                fc_errs += errs
                if args.checkpoint and any(w in workloads for w in CKPT_WORKLOADS):
                    res2, b2, errs2 = run_fcstore(fc_path, args, workloads, True)
                    fc_ck_docs.append(res2)
                    fc_blas = fc_blas or b2
                    fc_errs += [f"checkpoint run: {e}" for e in errs2]
    peers = [merge_peer_rounds(per_peer[p]) for p in peer_names]
    for p in peers:
        if p.get("error"):
            print(f"peer {p['peer']} not measured: {p['error']}", file=sys.stderr)
        for r in p.get("results", []):
            if "loss_before" in r and not r["learned"]:
                print(f"WARNING: {p['peer']} {r['workload']}: loss did not decrease "
                      f"({r['loss_before']:.4f} -> {r['loss_after']:.4f})", file=sys.stderr)

    fc, fc_ck = merge_samples(fc_docs), merge_samples(fc_ck_docs)
    fc_err = fc_path_err if not fc_path else ("; ".join(fc_errs) if fc_errs and not fc else None)
    for e in fc_errs:
        print(f"fcstore-bench: {e}", file=sys.stderr)

    md, summary = build_report(peers, fc, fc_ck, fc_blas, fc_err, workloads, args)
    blas_lines = []
    for p in peers:
        tp = (p.get("info") or {}).get("blas_threadpools")
        if p.get("library") == "jax" and not p.get("error"):
            blas_lines.append(f"- {p['peer']}: XLA CPU backend (its own GEMM kernels), "
                              f"threads: {'1 (XLA_FLAGS)' if p['threads'] == 1 else 'XLA default = all cores'}; "
                              f"devices {p.get('info', {}).get('jax_devices')}")
        if p.get("library") == "numpy" and isinstance(tp, list):
            for d in tp:
                blas_lines.append(f"- {p['peer']}: {d.get('internal_api')} {d.get('version')} "
                                  f"kernel={d.get('architecture')} threads={d.get('num_threads')}"
                                  f" ({os.path.basename(d.get('filepath') or '')})")
        if p.get("library") == "torch" and p.get("info", {}).get("torch_blas"):
            blas_lines.append(f"- {p['peer']}: torch threads={p['info'].get('torch_threads')}, "
                              f"cpu capability {p['info'].get('torch_cpu_capability')}; "
                              + "; ".join(p["info"]["torch_blas"][:3]))
    if fc_blas:
        blas_lines.append(f"- fcstore: {json.dumps(fc_blas)}")
    versions = {}
    for p in peers:
        versions.update(p.get("versions", {}))
    header = [f"Run {started} on {minfo.get('cpu')} ({minfo['cores']} cores, SIMD {'/'.join(minfo.get('simd', []))}), "
              f"Python {minfo['python']}; " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
              f"{args.rounds} rounds x {args.repeats} repeats (median and min of the pooled samples), "
              f"warm-up {args.warmup} per process; peers {'shuffle every epoch' if args.shuffle else 'do NOT shuffle (--no-shuffle)'}; "
              f"load average at start "
              f"{', '.join(f'{x:.2f}' for x in minfo['loadavg_at_start'])}; "
              f"OPENBLAS_CORETYPE/L2_SIZE in the environment: {minfo['inherited_blas_env']}"
              f"{' (kept for peers)' if args.keep_openblas_env else ' (unset for peers)'}",
              "", "BLAS per peer (threadpoolctl / torch.__config__):", *blas_lines, ""]
    text = "\n".join(header) + "\n" + md
    print(text)

    result = {"started": started, "machine": minfo, "args": vars(args), "versions": versions,
              "workload_defs": {k: {"sizes": v.sizes, "n": v.n, "batch": v.batch, "steps": v.steps,
                                    "unit": v.unit, "samples_per_unit": v.samples_per_unit, "lr": LR,
                                    "dtype": "float32"} for k, v in WORKLOADS.items()},
              "peers": peers,
              "fcstore": {"binary": fc_path, "error": fc_err, "blas": fc_blas, "workloads": fc,
                          "checkpoint": fc_ck},
              "summary": summary}
    jpath = os.path.join(args.out_dir, "peers.json")
    with open(jpath, "w") as f:
        json.dump(result, f, indent=1, default=str)
    with open(os.path.join(args.out_dir, "peers.md"), "w") as f:
        f.write(text + "\n")
    spath = os.path.join(args.out_dir, "peers.svg")
    write_svg(spath, peers, fc, fc_ck, workloads, args)
    print(f"\nwrote {jpath}, {spath}, {os.path.join(args.out_dir, 'peers.md')}", file=sys.stderr)
    return 0


def verify_main(args):
    """One unit of each workload (W1-W3 cut to 2,000 samples) in every installed
    peer, from the same initial weights: the trained weights must agree with
    the NumPy textbook version to float32 rounding."""
    import dataclasses
    import numpy as np
    ok = True
    for name in [w for w in args.workloads.split(",") if w]:
        wl = WORKLOADS[name]
        if not wl.full_batch:
            wl = dataclasses.replace(wl, n=min(wl.n, 2000))
        X, y = make_data(wl)
        ref = None
        for lib in ("numpy", "torch", "jax-step", "jax-scan"):
            try:
                r = make_runner(lib, wl, X, y, args.threads)
            except ImportError as e:
                print(f"{name} {lib}: not installed ({e})")
                continue
            r.reset()
            r.run(1)
            P = [(np.array(W), np.array(b)) for W, b in r.params()]
            ref = ref or P
            diff = max(float(np.abs(a - b).max()) for pa, pb in zip(P, ref) for a, b in zip(pa, pb))
            loss = reference_loss(P, X, y)[0]
            good = diff < 1e-4
            ok &= good
            print(f"{name} {lib:9s} loss after {loss:.5f}  max |param - numpy| {diff:.2e}  {'ok' if good else 'MISMATCH'}")
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds: each system runs once per round, in a fresh process (default 3)")
    ap.add_argument("--repeats", type=int, default=2,
                    help="timed repetitions per measurement in each round (default 2)")
    ap.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                    help="peers train on consecutive batches without the per-epoch shuffle (fcstore still shuffles)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up units (default 1)")
    ap.add_argument("--workloads", default="W1,W2,W3,W4")
    ap.add_argument("--peers", default=DEFAULT_PEERS, help=f"comma list from: {', '.join(PEERS)}")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="thread count for the multi-threaded peers (default: all cores)")
    ap.add_argument("--no-checkpoint", dest="checkpoint", action="store_false",
                    help="skip the W1+ckpt / W3+ckpt measurements")
    ap.add_argument("--checkpoint", dest="checkpoint", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ckpt-epochs", type=int, default=5, help="epochs per checkpoint measurement (default 5)")
    ap.add_argument("--ckpt-dir", default=os.path.join(HERE, ".ckpt-tmp"),
                    help="where torch checkpoints are written (same disk as fcstore's store)")
    ap.add_argument("--fcstore-bench", help="path of the fcstore-bench release binary")
    ap.add_argument("--no-build", action="store_true", help="do not build fcstore-bench if it is missing")
    ap.add_argument("--rebuild", action="store_true", help="run swift build even if the binary exists")
    ap.add_argument("--no-fcstore", action="store_true", help="measure the peers only")
    ap.add_argument("--fcstore-timeout", type=float, default=3600)
    ap.add_argument("--keep-openblas-env", action="store_true",
                    help="do not unset OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for the peers")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--verify", action="store_true",
                    help="only check that all peers compute the same SGD update (small data), then exit")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--json-out", help=argparse.SUPPRESS)
    ap.set_defaults(checkpoint=True)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if args.verify:
        return verify_main(args)
    return driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
