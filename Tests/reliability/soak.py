#!/usr/bin/env python3
"""Concurrency campaign: readers against a writing store, two writers, two
resumes of one run.

    python3 Tests/reliability/soak.py --seconds 40 --resume-trials 5

1. Readers (`runs --json`, `show --json`, `show RUN@E`, `diff`, `export`,
   `verify RUN`) loop in two threads for --seconds while `train` commits an
   epoch every few hundred milliseconds. Every epoch `show --json` lists must
   load (the newest listed one is loaded every time, a random older one too):
   a partially written checkpoint would be listed and fail to load.
   Figure: reads done, reads failed (must be 0).
2. Two `train` processes on one new store, then two more on the same store:
   both succeed, and the store verifies.
3. --resume-trials times: a run is SIGKILLed mid-training, then two `resume`
   of it start at once: exactly one trains to the end, the other exits 1 with
   one line saying the run is being trained by another process, and no
   fork is created behind the user's back.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import rel  # noqa: E402


def readers(store, run, seconds, work, seed, results):
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    reads, errors = 0, []
    out = os.path.join(work, f"export-{seed}.safetensors")
    while time.monotonic() < deadline:
        rc, text, err = rel.fc(store, "show", run, "--json")
        reads += 1
        if rc != 0:
            errors.append(f"show --json: {err.strip()}")
            continue
        epochs = [e["epoch"] for e in json.loads(text)["epochs"]]
        last, older = epochs[-1], rng.choice(epochs)
        commands = [["show", f"{run}@{last}"], ["show", f"{run}@{older}"], ["runs", "--json"],
                    ["diff", f"{run}@0", f"{run}@{last}", "--json"]]
        if rng.random() < 0.3:
            commands.append(["export", f"{run}@{last}", "--format", "safetensors", "--output", out])
        if rng.random() < 0.1:
            commands.append(["verify", run])
        for command in commands:
            if os.path.exists(out):
                os.remove(out)
            rc, _, err = rel.fc(store, *command)
            reads += 1
            if rc != 0:
                errors.append(f"{' '.join(command)}: exit {rc}: {err.strip()}")
    results.append((reads, errors))


def phase_readers(work, data, seconds):
    store = os.path.join(work, "readers.db")
    argv = [rel.binary(), "--store", store, "train", "--data", data, "--layers", "256,256,10", "--optimizer", "adam",
            "--epochs", "100000", "--seed", "3"]
    writer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    threading.Thread(target=lambda: [lines.append(l) for l in writer.stderr], daemon=True).start()
    while not any(l.startswith("epoch 1/") for l in lines):
        time.sleep(0.01)
    run = re.match(r"training run ([0-9a-f]{8})", lines[0]).group(1)
    results = []
    threads = [threading.Thread(target=readers, args=(store, run, seconds, work, seed, results)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.send_signal(signal.SIGINT)
    writer.wait()
    committed = sum(1 for l in lines if l.rstrip().endswith("committed"))
    reads = sum(r for r, _ in results)
    errors = [e for _, es in results for e in es]
    rc, out, err = rel.fc(store, "verify")
    return {"seconds": seconds, "epochs_committed_meanwhile": committed, "reads": reads, "read_errors": len(errors),
            "error_samples": errors[:5], "writer_exit": writer.returncode, "verify_after": rc}


def phase_two_writers(work, data):
    store = os.path.join(work, "writers.db")
    outcomes = []
    for round_ in range(2):  # a new store, then the same store again
        procs = [subprocess.Popen([rel.binary(), "--store", store, "train", "--data", data, "--layers", "64,10",
                                   "--epochs", "15", "--seed", str(10 * round_ + i)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
        for p in procs:
            _, err = p.communicate()
            outcomes.append((p.returncode, err.strip().splitlines()[-1] if err.strip() else ""))
    rc, out, err = rel.fc(store, "verify")
    return {"processes": len(outcomes), "succeeded": sum(1 for c, _ in outcomes if c == 0),
            "failures": [o for o in outcomes if o[0] != 0], "verify_after": rc}


def phase_two_resumes(work, data, trials):
    store = os.path.join(work, "resumes.db")
    ok = 0
    details = []
    for trial in range(trials):
        p = subprocess.Popen([rel.binary(), "--store", store, "train", "--data", data, "--layers", "128,10",
                              "--epochs", "40", "--seed", str(trial)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append(l) for l in p.stderr], daemon=True).start()
        while sum(1 for l in lines if l.rstrip().endswith("committed")) < 3 and p.poll() is None:
            time.sleep(0.005)
        p.send_signal(signal.SIGKILL)
        p.wait()
        run = re.match(r"training run ([0-9a-f]{8})", lines[0]).group(1)
        pair = [subprocess.Popen([rel.binary(), "--store", store, "resume", run], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(q.wait(), q.stderr.read()) for q in pair]
        winners = [r for r in results if r[0] == 0]
        losers = [r for r in results if r[0] != 0]
        rc, out, _ = rel.fc(store, "show", run, "--json")
        epochs = [e["epoch"] for e in json.loads(out)["epochs"]] if rc == 0 else []
        good = (len(winners) == 1 and len(losers) == 1 and losers[0][0] == 1
                and len(losers[0][1].strip().splitlines()) == 1
                and ("is being trained by another process" in losers[0][1]
                     # The winner may finish before the loser reads the run (a loaded machine):
                     or "is already at epoch 40" in losers[0][1])
                and epochs == list(range(41)))
        ok += good
        details.append({"trial": trial, "exits": [r[0] for r in results], "good": bool(good),
                        "refusal": losers[0][1].strip() if losers else None, "epochs": len(epochs)})
    rc, _, _ = rel.fc(store, "verify")
    _, out, _ = rel.fc(store, "runs", "--json")
    forks = sum(1 for r in json.loads(out)["runs"] if r.get("parent"))
    kinds = {"being trained by another process": 0, "already at its last epoch": 0}
    for d in details:
        if d["refusal"] and "is being trained by another process" in d["refusal"]:
            kinds["being trained by another process"] += 1
        elif d["refusal"] and "is already at epoch" in d["refusal"]:
            kinds["already at its last epoch"] += 1
    return {"trials": trials, "exactly_one_trained": ok, "refused_because": kinds, "forks_created": forks, "verify_after": rc, "first": details[0],
            "not_exactly_one": [d for d in details if not d["good"]]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--resume-trials", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fcstore-soak-")
    data = os.path.join(rel.EXAMPLES, "digits.csv")
    small = rel.make_subset_csv(data, os.path.join(work, "small.csv"), 400)
    started = time.monotonic()
    report = {"campaign": "soak"}
    rel.log("readers against a writer")
    report["readers_vs_writer"] = phase_readers(work, data, args.seconds)
    rel.log("two writers")
    report["two_writers"] = phase_two_writers(work, small)
    rel.log("two resumes")
    report["two_resumes"] = phase_two_resumes(work, small, args.resume_trials)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    r = report
    bad = (r["readers_vs_writer"]["read_errors"] or r["readers_vs_writer"]["verify_after"]
           or r["two_writers"]["succeeded"] != r["two_writers"]["processes"] or r["two_writers"]["verify_after"]
           or r["two_resumes"]["exactly_one_trained"] != r["two_resumes"]["trials"] or r["two_resumes"]["verify_after"]
           or r["two_resumes"]["forks_created"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
