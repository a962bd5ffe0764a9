#!/usr/bin/env python3
"""Resource campaign: a full disk, a file-size limit, read-only stores, paths
that are not stores. Needs root for tmpfs mounts and setpriv (else those
parts are skipped and say so).

    sudo python3 Tests/reliability/resources.py

1. Full disk: the store lives on a tmpfs of 2, 3, 4, 6 and 8 MiB; `train`
   runs until the disk fills. Expected: exit 1, exactly one `error:` line that
   says the disk is full, every epoch reported committed loads, verify passes;
   after the tmpfs is grown, `resume` completes the run and verify passes.
2. File-size limit (ulimit -f, SIGXFSZ ignored): the same, on any machine.
3. Read-only: the store file 0444, and its folder 0555, used by an
   unprivileged user: runs/show/verify work, train/rm/import refused in one
   line, the store unchanged.
4. Not a store: a folder, a text file, random bytes, and a store whose
   user_version is newer than this build: refused in one line, unchanged.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import rel  # noqa: E402

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def run(argv, prefix=()):
    p = subprocess.run(list(prefix) + [rel.binary()] + [str(a) for a in argv], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return len([l for l in lines if l.startswith("error:")]) == 1 and not any("Fatal error" in l for l in lines)


def fill_and_check(store, data, prefix=(), grow=None):
    """Trains until the disk fills; checks the refusal and what survived."""
    rc, out, err = run(["--store", store, "train", "--data", data, "--layers", "256,10", "--epochs", "400"], prefix)
    committed = [int(m.group(1)) for m in re.finditer(r"^epoch (\d+)/\d+ .*committed$", err, re.M)]
    errors = [l for l in err.splitlines() if l.startswith("error:")]
    result = {"exit": rc, "epochs_committed": len(committed), "error": errors[0][:160] if errors else None,
              "one_error_line": one_line(err)}
    m = re.search(r"training run ([0-9a-f]{8})", err)
    loads = 0
    if m:
        run_id = m.group(1)
        for epoch in committed:
            loads += run(["--store", store, "show", f"{run_id}@{epoch}"])[0] == 0
        if grow:
            grow()
            rc2, _, err2 = run(["--store", store, "resume", run_id, "--epochs", str(max(committed or [0]) + 3)])
            result["resume_after_freeing_space"] = rc2
    result["committed_epochs_loading"] = loads
    if os.path.exists(store) or committed:
        result["verify"] = run(["--store", store, "verify"])[0]
    else:
        result["verify"] = "no store file left (the first commit failed)"
    result["ok"] = (rc == 1 and result["one_error_line"] and loads == len(committed)
                    and result["verify"] in (0, "no store file left (the first commit failed)")
                    and result.get("resume_after_freeing_space", 0) == 0)
    return result


def full_disk(work, data):
    results = []
    for size in (2, 3, 4, 6, 8):
        mount = os.path.join(work, f"tmpfs-{size}")
        os.makedirs(mount)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}m", "tmpfs", mount]).returncode != 0:
            return {"skipped": "cannot mount tmpfs (not root?)"}
        try:
            grow = lambda: subprocess.run(["mount", "-o", "remount,size=64m", mount], check=True)
            r = fill_and_check(os.path.join(mount, "store.db"), data, grow=grow)
            r["tmpfs_mib"] = size
            results.append(r)
        finally:
            subprocess.run(["umount", mount])
    return {"trials": len(results), "ok": sum(r["ok"] for r in results), "results": results}


def file_size_limit(work, data):
    results = []
    for blocks in (200, 1000, 3000, 6000):
        folder = os.path.join(work, f"ulimit-{blocks}")
        os.makedirs(folder)
        prefix = ["/bin/sh", "-c", f"ulimit -f {blocks}; trap '' XFSZ; exec \"$0\" \"$@\""]
        r = fill_and_check(os.path.join(folder, "store.db"), data, prefix)
        r["ulimit_blocks"] = blocks
        results.append(r)
    return {"trials": len(results), "ok": sum(r["ok"] for r in results), "results": results}


def read_only(work, data):
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return {"skipped": "root without setpriv: permissions would not apply"}
    prefix = NOBODY if os.geteuid() == 0 else []
    folder = os.path.join(work, "ro")
    os.makedirs(folder)
    os.chmod(work, 0o755)
    store = os.path.join(folder, "store.db")
    _, out, _ = rel.fc(store, "train", "--data", data, "--layers", "8,10", "--epochs", "2", check=True)
    run_id = out.strip().splitlines()[-1][:8]
    rel.fc(store, "runs", check=True)
    os.chmod(store, 0o444)
    checks = []
    for mode in (0o777, 0o555):
        os.chmod(folder, mode)
        before = rel.content_dump(store), rel.file_hashes(store)
        for argv in (["runs"], ["show", run_id], ["show", f"{run_id}@1", "--json"], ["verify"]):
            rc, _, err = run(["--store", store] + argv, prefix)
            checks.append({"folder": oct(mode), "command": argv[0], "expect": "works", "exit": rc, "ok": rc == 0})
        for argv in (["train", "--data", data, "--layers", "8,10", "--epochs", "1"], ["rm", run_id, "--force"],
                     ["prune", run_id, "--keep-last", "1"]):
            rc, _, err = run(["--store", store] + argv, prefix)
            checks.append({"folder": oct(mode), "command": argv[0], "expect": "refused", "exit": rc,
                           "message": err.strip()[:120], "ok": rc == 1 and one_line(err)})
        after = rel.content_dump(store), rel.file_hashes(store)
        checks.append({"folder": oct(mode), "command": "(store unchanged)", "ok": before == after})
        os.chmod(folder, 0o755)
    return {"checks": len(checks), "ok": sum(c["ok"] for c in checks), "failures": [c for c in checks if not c["ok"]],
            "refusal_example": next(c["message"] for c in checks if c.get("expect") == "refused")}


def not_a_store(work, data):
    cases = {}
    folder = os.path.join(work, "folder.db")
    os.makedirs(folder)
    cases["folder"] = folder
    text = os.path.join(work, "notes.db")
    open(text, "w").write("hello\n")
    cases["text file"] = text
    garbage = os.path.join(work, "garbage.db")
    open(garbage, "wb").write(os.urandom(100_000))
    cases["random bytes"] = garbage
    other = os.path.join(work, "other-app.db")
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    cases["another app's SQLite file"] = other
    newer = os.path.join(work, "newer.db")
    rel.fc(newer, "train", "--data", data, "--layers", "8,10", "--epochs", "1", check=True)
    con = sqlite3.connect(newer)
    con.execute("PRAGMA user_version = 99")
    con.close()
    cases["newer schema (user_version 99)"] = newer
    results = []
    for label, path in cases.items():
        before = rel.file_hashes(path) if os.path.isfile(path) else None
        for argv in (["runs"], ["verify"], ["train", "--data", data, "--layers", "8,10", "--epochs", "1"]):
            rc, _, err = run(["--store", path] + argv)
            results.append({"case": label, "command": argv[0], "exit": rc, "message": err.strip()[:160],
                            "ok": rc == 1 and one_line(err)})
        if before is not None and rel.file_hashes(path) != before:
            results.append({"case": label, "command": "(file unchanged)", "ok": False})
    return {"checks": len(results), "ok": sum(r["ok"] for r in results), "failures": [r for r in results if not r["ok"]],
            "messages": {r["case"]: r["message"] for r in results if r["command"] == "runs"}}


def main():
    work = tempfile.mkdtemp(prefix="fcstore-resources-")
    data = rel.make_subset_csv(os.path.join(rel.EXAMPLES, "digits.csv"), os.path.join(work, "data.csv"), 200)
    started = time.monotonic()
    report = {"campaign": "resources", "full_disk_tmpfs": full_disk(work, data),
              "file_size_limit": file_size_limit(work, data), "read_only": read_only(work, data),
              "not_a_store": not_a_store(work, data)}
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    bad = any(part.get("ok") != part.get("trials", part.get("checks")) for part in report.values()
              if isinstance(part, dict) and "skipped" not in part)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
