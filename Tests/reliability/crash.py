#!/usr/bin/env python3
"""Crash campaign: SIGKILL `fcstore train` / `fcstore resume` at random instants
and prove nothing committed is lost and the run still finishes bit-identical.

    python3 Tests/reliability/crash.py --kills 60

A large network (64-1024-1024-10, Adam: ~12 MB written per epoch) on a small
full batch makes each epoch mostly checkpoint writing, so most kills land
inside the commit path (hashing, the transaction, the fsync). Each kill is
timed after the latest "epoch E/N ... committed" line on stderr, in turn:
0-30 ms after it; uniformly over 1.5 epoch lengths; or 0-1.5 ms after the
process next takes SQLite's WAL write lock (inside the next checkpoint's
transaction). Just before each kill the WAL write lock is probed, so the
report says how many kills landed inside a write transaction. After every kill:

  1. the WAL is classified before anything reopens it (an uncommitted tail
     means the process died inside a write transaction after SQLite had
     written some of its pages), and no run exists without epoch 0;
  2. PRAGMA integrity_check is ok;
  3. `fcstore verify` passes (every tensor re-hashed, every digest chain);
  4. every epoch reported committed on stderr so far is listed by
     `show --json`, and the newly reported ones load with `show RUN@E`;
  5. `fcstore resume RUN` continues the run (and is killed again...).

When a run completes, every epoch's tensors (weights, biases, Adam moments),
RNG and optimizer state must equal those of an uninterrupted reference run,
and `diff --json` of the final epochs against the reference (imported as a
bundle) must say identical. Then a new run starts, until --kills is reached.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import fcntl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import rel  # noqa: E402

MODES = ["line+0-30ms", "uniform", "in-write-transaction+0-1.5ms"]
EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+ .*committed$")
START_LINE = re.compile(r"^(?:training run|resuming) ([0-9a-f]{8})")


def writer_holds_wal_lock(store):
    """True when some process holds SQLite's WAL write lock (an fcntl lock on
    byte 120 of the -shm file, taken by BEGIN IMMEDIATE until COMMIT ends):
    the writer is inside a write transaction."""
    try:
        fd = os.open(store + "-shm", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        query = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 120, 1, 0)
        l_type = struct.unpack("hhqqi4x", fcntl.fcntl(fd, fcntl.F_GETLK, query))[0]
        return l_type != fcntl.F_UNLCK
    finally:
        os.close(fd)


def wal_state(path):
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        return None


def train_args(data, epochs):
    return ["--data", data, "--layers", "1024,1024,10", "--optimizer", "adam", "--batch-size", "128",
            "--epochs", str(epochs), "--seed", "7"]


class Attempt:
    """One train/resume process whose stderr lines are collected as they arrive."""

    def __init__(self, argv):
        self.lines = []
        self.times = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self.times.append(time.monotonic())

    def committed(self):
        return [int(m.group(1)) for m in map(EPOCH_LINE.match, self.lines) if m]

    def run_prefix(self):
        for line in self.lines:
            m = START_LINE.match(line)
            if m:
                return m.group(1)
            m = re.match(r"^resuming ([0-9a-f]{8})@", line)
            if m:
                return m.group(1)
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=60)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--rows", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="fcstore-crash-")
    data = rel.make_subset_csv(os.path.join(rel.EXAMPLES, "digits.csv"), os.path.join(work, "data.csv"), args.rows)
    ref_store, store = os.path.join(work, "reference.db"), os.path.join(work, "crash.db")
    started = time.monotonic()

    rel.log(f"binary {rel.binary()}; work folder {work}")
    t0 = time.monotonic()
    rc, out, err = rel.fc(ref_store, "train", *train_args(data, args.epochs), check=True)
    ref_run = out.strip().splitlines()[-1]
    epoch_time = (time.monotonic() - t0) / (args.epochs + 1)
    reference = rel.tensor_manifest(ref_store, ref_run)
    bundle = os.path.join(work, "reference.fcbundle")
    rel.fc(ref_store, "export", ref_run, "--format", "bundle", "--output", bundle, check=True)
    rel.log(f"reference run {ref_run[:8]}: {args.epochs} epochs, {epoch_time * 1000:.0f} ms per epoch")

    kills = 0
    tails = {"none": 0, "clean": 0, "uncommitted": 0}
    by_mode = {}
    known_runs = set()
    failures = []
    completed_runs = 0
    orphans = 0
    run = None          # short id of the run being crashed
    reported = set()    # epochs of `run` that stderr reported committed
    while kills < args.kills:
        argv = [rel.binary(), "--store", store]
        argv += ["resume", run] if run else ["train", *train_args(data, args.epochs)]
        attempt = Attempt(argv)
        # Wait for the first epoch line of this attempt (or the start line), then kill.
        deadline = time.monotonic() + 120
        target = rng.randrange(0, 4)  # which committed line of this attempt to time from
        while time.monotonic() < deadline and attempt.proc.poll() is None:
            if len(attempt.committed()) > target or (target == 0 and attempt.run_prefix() and rng.random() < 0.02):
                break
            time.sleep(0.001)
        mode = MODES[kills % len(MODES)]
        if attempt.proc.poll() is None:
            if mode == "line+0-30ms":
                time.sleep(rng.uniform(0, 0.030))
            elif mode == "uniform":
                time.sleep(rng.uniform(0, 1.5 * epoch_time))
            else:
                # Wait for the next checkpoint's write transaction, then kill inside it.
                limit = time.monotonic() + 10 * epoch_time + 1
                while not writer_holds_wal_lock(store) and attempt.proc.poll() is None and time.monotonic() < limit:
                    pass
                time.sleep(rng.uniform(0, 0.0015))
        finished = attempt.proc.poll() is not None
        in_transaction = False
        if not finished:
            in_transaction = writer_holds_wal_lock(store)
            attempt.proc.send_signal(signal.SIGKILL)
        attempt.proc.wait()
        attempt.reader.join(timeout=5)
        prefix = attempt.run_prefix()
        kind = rel.wal_tail(store)  # before anything opens the store again
        rc, out, _ = rel.fc(store, "runs", "--json")
        listed = json.loads(out)["runs"] if rc == 0 else []
        orphans = sum(1 for r in listed if r.get("epochs", 0) == 0)
        if orphans:
            failures.append(f"after kill {kills}: {orphans} run(s) without epoch 0")
        if run is None and prefix is None:
            # Killed before the run was announced: adopt a run created meanwhile, if any.
            fresh = [r["id"][:8] for r in listed if r["id"][:8] not in known_runs and r["id"] != ref_run]
            prefix = fresh[0] if fresh else None
        run = run or prefix
        known_runs.update(r["id"][:8] for r in listed)
        new = set(attempt.committed())
        done = finished and (attempt.proc.returncode == 0 or any("is already at epoch" in l for l in attempt.lines))
        if finished:
            if not done:
                failures.append(f"{run}: exited {attempt.proc.returncode} without a kill: {attempt.lines[-1:]}")
        else:
            kills += 1
            tails[kind.split()[0]] += 1
            by_mode.setdefault(mode, {"kills": 0, "inside_write_transaction": 0, "uncommitted_wal_tail": 0})
            by_mode[mode]["kills"] += 1
            by_mode[mode]["inside_write_transaction"] += in_transaction
            by_mode[mode]["uncommitted_wal_tail"] += kind.startswith("uncommitted")
        problems = check(store, run, reported | new, new)
        reported |= new
        if problems:
            failures.extend(f"kill {kills} ({run}): {p}" for p in problems)
            rel.log(f"kill {kills}: FAILED {problems}")
        elif not finished:
            rel.log(f"kill {kills}: run {run}, reported epochs up to {max(reported) if reported else '-'}, wal {kind}: ok")
        if run and done:
            # Also covers a kill after the last epoch committed but before the run was
            # marked completed: resume then says the run is already at its last epoch.
            problems = compare(store, run, reference, bundle, ref_run)
            failures.extend(f"run {run} final: {p}" for p in problems)
            rel.log(f"run {run} completed: {'bit-identical to the reference' if not problems else problems}")
            completed_runs += 1
            run, reported = None, set()

    # Finish the last run so it too is compared with the reference.
    if run:
        rc, _, err = rel.fc(store, "resume", run)
        if rc != 0 and "is already at epoch" not in err:
            failures.append(f"final resume of {run}: {err.strip()}")
        else:
            problems = compare(store, run, reference, bundle, ref_run)
            failures.extend(f"run {run} final: {p}" for p in problems)
            completed_runs += 1
    elapsed = time.monotonic() - started
    print(json.dumps({
        "campaign": "crash", "kills": kills, "kills_passing": kills - len({f.split(" (")[0] for f in failures if f.startswith("kill ")}),
        "wal_after_kill": tails, "by_kill_timing": by_mode, "runs_completed_and_identical": completed_runs - sum(1 for f in failures if " final:" in f),
        "runs_completed": completed_runs,
        "failures": failures, "seconds": round(elapsed, 1),
    }, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


def check(store, run, reported, new):
    problems = []
    integrity = rel.integrity(store)
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    rc, out, err = rel.fc(store, "verify")
    if rc != 0:
        problems.append(f"verify exit {rc}: {(out + err).strip()[:300]}")
    if run is None:
        return problems
    rc, out, err = rel.fc(store, "show", run, "--json")
    if rc != 0:
        if reported:
            problems.append(f"show --json exit {rc}: {err.strip()}")
        return problems
    listed = {e["epoch"] for e in json.loads(out)["epochs"]}
    missing = sorted(reported - listed)
    if missing:
        problems.append(f"epochs reported committed but missing: {missing}")
    for epoch in sorted(new | {max(listed)} if listed else new):
        rc, _, err = rel.fc(store, "show", f"{run}@{epoch}")
        if rc != 0:
            problems.append(f"show {run}@{epoch} exit {rc}: {err.strip()}")
    return problems


def compare(store, run, reference, bundle, ref_run):
    problems = []
    mine = rel.tensor_manifest(store, run)
    if mine != reference:
        differing = sorted({r[0] for r in set(mine) ^ set(reference)})
        problems.append(f"tensors differ from the uninterrupted run at epochs {differing[:10]}")
    rc, _, err = rel.fc(store, "import", bundle)
    if rc != 0:
        problems.append(f"import of the reference bundle: {err.strip()}")
        return problems
    rc, out, err = rel.fc(store, "diff", ref_run[:8], run, "--json")
    if rc != 0 or not json.loads(out).get("identical"):
        problems.append(f"diff --json {ref_run[:8]} {run}: exit {rc}, {err.strip() or 'not identical'}")
    return problems


if __name__ == "__main__":
    main()
