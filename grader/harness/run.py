"""Entry point of one sandboxed run: the module probes, then the notebook and harvest.

Runs INSIDE the sandbox as `python run.py JOB_JSON`, with this folder mounted
read-only. The job file (written by `grader.execute`) says where the workspace, the
probe inputs and the output folder are, which probes to run and the time limits:
probes and notebook share a budget that ends before the sandbox's own limit, so that
a notebook still running then is stopped and harvested rather than killed.
The probes run in a child process with their own time limit, so a module that
hangs on import cannot stop the notebook from running, and vice versa. The notebook
starts once only the long probes (the CIFAR-10 training, seconds of it) are left, and
they run beside it, on another core where there is one: the short probes' outputs are
recorded before any of the notebook's code runs, and the long ones' are only as
trustworthy as the student's module that computes them anyway (its code runs in that
process; the grader checks their values against the reference outside). What this
run writes is read back, and validated, by the grader outside the sandbox.

The student's processes run as the same user as this one and could rewrite these files. In
bwrap's pid namespace, once the notebook is done, this harness kills every other process
of the run and writes again what it recorded (the probes' outputs, the cells' log, the
executed notebook), so that what the grader reads is the harness's own. Without bwrap it
cannot (killing all it may signal would reach the grader's user's other processes): there
the grader's validation is all that stands, and nothing in these files is believed anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _die_with(parent):
    """In the probe process, before exec: be SIGKILLed when this harness dies. Without bwrap
    nothing else would stop it when the grader is killed (the harness itself dies the same way;
    see grader/confine.py). Linux only; the harness is single-threaded here, so the hook is safe."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(ctypes.c_int(1), ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if os.getppid() != parent:  # the harness died before the request: it would never fire
        os._exit(137)


# probes.py's sign (its LONG_BEGUN), a file beside the outcomes, that only its long probes (the
# CIFAR-10 training) are left: the notebook starts then, and they go on beside it.
LONG_PROBES_BEGUN = "_long.json"


def _start_probes(job_path):
    """The probe process, started; and a dict that gets its end time ("ended") when it ends."""
    harness = os.getpid()
    argv = [sys.executable, str(HERE / "probes.py"), job_path]
    child = subprocess.Popen(argv, start_new_session=True, preexec_fn=lambda: _die_with(harness))
    clock = {"started": time.monotonic()}
    # A watcher, started after the fork (the hook above needs a single-threaded process),
    # notes when the process ends, while the notebook may be running.
    threading.Thread(target=lambda: (child.wait(), clock.setdefault("ended", time.monotonic())), daemon=True).start()
    return child, clock


def _wait_probes(child, clock, job, deadline, *, until_long=False):
    """Wait for the probe process to end (or, `until_long`, until only its long probes are
    left: None then, and it goes on); its status, stopping it at its time limit."""
    started = clock["started"]
    limit = started + max(0.0, min(job["probe_timeout"], deadline - started))
    marker = Path(job["out_dir"]) / "probes" / LONG_PROBES_BEGUN
    while until_long and child.poll() is None and time.monotonic() < limit:
        if marker.exists():
            return None
        time.sleep(0.01)
    try:
        code = child.wait(timeout=max(0.0, limit - time.monotonic()))
        status = "ok" if code == 0 else f"exited with status {code}"
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        status = "timeout"
    return {"status": status, "seconds": round(clock.get("ended", time.monotonic()) - started, 3)}


def _run_notebook(job, deadline, kept):
    sys.path.insert(0, str(HERE))
    from notebook_runner import run_notebook

    started = time.monotonic()
    try:
        out, limit = job["out_dir"], job["timeout"]
        run_notebook(job["notebook"], job["workspace"], out, job["cell_timeout"], deadline, limit, kept=kept)
        status = {"status": "ok"}
    except Exception:
        status = {"status": "error", "error": traceback.format_exc()[-6000:]}
    status["seconds"] = round(time.monotonic() - started, 3)
    return status


def _snapshot(folder, budget=256 << 20):
    """Every file under `folder` by relative name (None if they are more than `budget` bytes)."""
    files, total = {}, 0
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[str(path.relative_to(folder))] = data = path.read_bytes()
            total += len(data)
            if total > budget:
                return None
    return files


def _alone():
    """In bwrap's pid namespace (this harness is its pid 2, bwrap its pid 1): kill every other
    process of the run and wait until they are gone; True then. False elsewhere, untouched."""
    try:
        init = Path("/proc/1/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    if os.getpid() != 2 or os.path.basename(init) != b"bwrap":
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)  # everyone this process may signal but itself and init
    for _ in range(100):
        others = [p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", "2") and not _zombie(p)]
        if not others:
            break
        time.sleep(0.02)
    return True


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True  # gone already


def _write_again(out_dir, probes, kept):
    """What the harness recorded, written over whatever the student's processes left."""
    import nbformat

    folder = out_dir / "probes"
    if probes is not None:
        shutil.rmtree(folder, ignore_errors=True)
        for name, data in probes.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    if "notebook" in kept:
        nbformat.write(kept["notebook"], str(out_dir / "executed.ipynb"))
        lines = "".join(json.dumps(record) + "\n" for record in kept["cells"])
        (out_dir / "cells.jsonl.new").write_text(lines)
        os.replace(out_dir / "cells.jsonl.new", out_dir / "cells.jsonl")


def main(job_path):
    job = json.loads(Path(job_path).read_text())
    # The sandbox kills everything at the whole limit; stop the work early enough to harvest.
    deadline = time.monotonic() + job["budget"]
    out_dir = Path(job["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, kept, probes = {}, {}, None
    if job["probes"]:
        child, clock = _start_probes(job_path)
        summary["probes"] = _wait_probes(child, clock, job, deadline, until_long=bool(job.get("notebook")))
        probes = _snapshot(out_dir / "probes")  # before any of the notebook's code runs
    if job.get("notebook"):
        begun = time.monotonic()
        summary["notebook"] = _run_notebook(job, deadline, kept)
        print(f"notebook: {summary['notebook']['status']}", flush=True)
    if job["probes"] and summary["probes"] is None:  # the long probes ran beside the notebook
        summary["probes"] = _wait_probes(child, clock, job, deadline)
        ended = clock.get("ended", time.monotonic())
        summary["probes"]["beside_notebook"] = round(max(0.0, ended - begun), 3)
        later = _snapshot(out_dir / "probes")
        # What the short probes left is kept as it was before the notebook ran.
        probes = None if probes is None or later is None else {**later, **probes}
    if job["probes"]:
        print(f"probes: {summary['probes']['status']}", flush=True)
    if _alone():
        _write_again(out_dir, probes, kept)
    (out_dir / "run.json").write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
