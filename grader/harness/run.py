"""Entry point of one sandboxed run: the module probes, then the notebook and harvest.

Runs INSIDE the sandbox as `python run.py JOB_JSON`, with this folder mounted
read-only. The job file (written by `grader.execute`) says where the workspace, the
probe inputs and the output folder are, which probes to run and the time limits:
probes and notebook share a budget that ends before the sandbox's own limit, so that
a notebook still running then is stopped and harvested rather than killed.
The probes run in a child process with their own time limit, so a module that
hangs on import cannot stop the notebook from running, and vice versa. What this
run writes is read back, and validated, by the grader outside the sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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


def _run_probes(job_path, job, deadline):
    started = time.monotonic()
    harness = os.getpid()
    argv = [sys.executable, str(HERE / "probes.py"), job_path]
    child = subprocess.Popen(argv, start_new_session=True, preexec_fn=lambda: _die_with(harness))
    try:
        code = child.wait(timeout=max(0.0, min(job["probe_timeout"], deadline - started)))
        status = "ok" if code == 0 else f"exited with status {code}"
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        status = "timeout"
    return {"status": status, "seconds": round(time.monotonic() - started, 3)}


def _run_notebook(job, deadline):
    sys.path.insert(0, str(HERE))
    from execute_notebook import run_notebook

    started = time.monotonic()
    try:
        run_notebook(job["notebook"], job["workspace"], job["out_dir"], job["cell_timeout"], deadline, job["timeout"])
        status = {"status": "ok"}
    except Exception:
        status = {"status": "error", "error": traceback.format_exc()[-6000:]}
    status["seconds"] = round(time.monotonic() - started, 3)
    return status


def main(job_path):
    job = json.loads(Path(job_path).read_text())
    # The sandbox kills everything at the whole limit; stop the work early enough to harvest.
    deadline = time.monotonic() + job["budget"]
    out_dir = Path(job["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    if job["probes"]:
        summary["probes"] = _run_probes(job_path, job, deadline)
        print(f"probes: {summary['probes']['status']}", flush=True)
    if job.get("notebook"):
        summary["notebook"] = _run_notebook(job, deadline)
        print(f"notebook: {summary['notebook']['status']}", flush=True)
    (out_dir / "run.json").write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
