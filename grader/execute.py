"""Run one submission in the sandbox and read back, validated, what the run left.

The workspace is a fresh folder holding the official course files (the `data/`
helpers, `hw3code/__init__.py`) plus the student's notebook and `neural_net.py`,
nothing else; the notebook's given cells (those without a START/END region) are the
course's own (`notebooks.with_given_cells`). The data set, the grader's split and the
harness are mounted into it read-only. One sandboxed run does everything that needs student code
(`grader/harness/run.py`): the module probes, then the notebook, then the harvest.
Everything it wrote is read back here as untrusted data: sizes are bounded,
arrays are loaded without pickle, shapes are checked.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from nbformat import NotebookNode

from .datasets.cifar import PreparedSplit
from .errors import SubmissionError
from .evidence import HARVESTED_NETS, PARAM_NAMES, CellRecord, Evidence, Harvest
from .fsutil import atomic_write_bytes
from .intake import Submission
from .leftovers import temp_dir
from .notebooks import load_notebook, read_notebook, with_given_cells, write_notebook_bytes
from .probe_plan import ProbeSpec, read_outcomes, write_plan
from .rubric import Rubric, SubmissionLimits
from .sandbox import Mount, SandboxLimits, SandboxResult, run_sandboxed

__all__ = ["RunInfo", "load_submitted", "read_evidence", "run_submission"]

HARNESS = Path(__file__).resolve().parent / "harness"
_STATE = ".grader"  # the workspace's folder for the job, the inputs and the outputs
_NOT_COPIED = ("rubric.toml", "__pycache__", ".ipynb_checkpoints", "datasets")
_MAX_SMALL_FILE = 4 << 20
_MAX_HARVEST = 256 << 20


def _harvest_reserve(timeout: float) -> float:
    """Seconds of a run's whole limit kept back from the student's code: enough to interrupt a
    cell, harvest best_net and write the results before the sandbox kills everything."""
    return min(60.0, timeout / 10)


@dataclass(frozen=True)
class RunInfo:
    """How the sandboxed run went, for the results and the report."""

    sandbox: SandboxResult | None
    executed_notebook: Path | None  # kept next to the results, for the report
    problems: tuple[str, ...] = ()
    seconds: dict[str, float] | None = None  # probes, notebook
    restored: tuple[str, ...] = ()  # given cells that ran as the course wrote them, not as submitted
    probes_beside_notebook: float = 0.0  # seconds the long probes ran beside the notebook


def load_submitted(submission: Submission, rubric: Rubric) -> tuple[NotebookNode | None, str | None, list[str]]:
    """The submission's notebook and module as the grader reads them, and the problems."""
    problems: list[str] = []
    notebook = None
    if submission.notebook is not None:
        with temp_dir("read") as tmp:
            path = Path(tmp) / rubric.notebook
            path.write_bytes(submission.notebook)
            try:
                notebook, notes = load_notebook(path)
                problems += [f"{submission.notebook_name}: {n}" for n in notes]
            except SubmissionError as exc:
                problems.append(str(exc).replace(str(path), submission.notebook_name))
    module = None
    if submission.module is not None:
        try:
            module = submission.module.decode("utf-8-sig")
        except UnicodeDecodeError:
            problems.append(f"{rubric.module} is not UTF-8 text")
        else:
            try:
                compile(module, rubric.module, "exec")
            except SyntaxError as exc:
                problems.append(f"{rubric.module}, line {exc.lineno}: syntax error: {exc.msg}")
            except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
                problems.append(f"{rubric.module}: cannot be compiled ({type(exc).__name__}: {exc})")
    return notebook, module, problems


def _build_workspace(
    root: Path, starter: Path, rubric: Rubric, notebook: NotebookNode | None, module: str | None
) -> None:
    for path in sorted(starter.rglob("*")):
        rel = path.relative_to(starter)
        if path.is_dir() or any(part in _NOT_COPIED for part in rel.parts):
            continue
        if rel.as_posix() in (rubric.notebook, rubric.module) or rel.suffix == ".ipynb":
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / rel)
    if module is not None:
        (root / rubric.module).parent.mkdir(parents=True, exist_ok=True)
        (root / rubric.module).write_text(module, encoding="utf-8")
    if notebook is not None:
        (root / rubric.notebook).write_bytes(write_notebook_bytes(notebook))
    # No data folder here: the sandbox makes its mount point (bwrap) or its symlink (fallback).
    (root / _STATE / "out").mkdir(parents=True)


def run_submission(
    notebook: NotebookNode | None,
    module: str | None,
    *,
    starter: Path,
    rubric: Rubric,
    probes: Sequence[ProbeSpec],
    split: PreparedSplit | None,
    keep_dir: Path,
    isolation: Literal["auto", "bwrap", "none"] = "auto",
    uid: int | None = None,
    run_notebook: bool = True,
    keep_raw: bool = False,
    progress: Callable[[CellRecord], None] | None = None,
) -> tuple[Evidence, RunInfo]:
    """Run probes and notebook for one submission; the evidence and how the run went.

    `keep_dir` receives the executed notebook (and with `keep_raw` the run's raw
    outputs, which `read_evidence` reads again later). `progress` is called with each
    notebook cell's outcome as it finishes. A sandbox that cannot start raises
    SandboxError (a harness failure); anything the student's code does is evidence.
    """
    limits = rubric.limits
    with temp_dir("ws") as tmp:  # named after this grader: a killed one's are swept (leftovers)
        root = Path(tmp) / "workspace"
        root.mkdir()
        to_run, restored = None, ()  # the evidence keeps the notebook as submitted; this one runs
        if notebook is not None and run_notebook:
            to_run, restored = with_given_cells(notebook, read_notebook(starter / rubric.notebook))
        _build_workspace(root, starter, rubric, to_run, module)
        state = root / _STATE
        mounts = [Mount(HARNESS, f"{_STATE}/harness")]
        if split is not None:
            mounts.append(Mount(split.folder, f"{_STATE}/split"))
            mounts.append(Mount(split.batches, "data/datasets/cifar-10-batches-py"))
        job = {
            "workspace": ".",
            "module": rubric.module,
            "notebook": rubric.notebook if (notebook is not None and run_notebook) else None,
            "out_dir": f"{_STATE}/out",
            "probe_inputs": f"{_STATE}/inputs.npz",
            "probes": write_plan(probes, state / "inputs.npz", f"{_STATE}/split"),
            "probe_timeout": limits.probe_timeout,
            # The import and each probe get a share of the budget, so that one
            # that hangs is reported as such before the whole budget is gone.
            "probe_timeout_each": min(60.0, limits.probe_timeout / 3),
            "cell_timeout": limits.cell_timeout,
            "timeout": limits.timeout,
            "budget": limits.timeout - _harvest_reserve(limits.timeout),
        }
        (state / "job.json").write_text(json.dumps(job))
        out = state / "out"
        with _watching(out / "cells.jsonl", progress):
            result = run_sandboxed(
                [sys.executable, f"{_STATE}/harness/run.py", f"{_STATE}/job.json"],
                workdir=root,
                mounts=mounts,
                limits=SandboxLimits(
                    timeout=limits.timeout,
                    memory_mb=limits.memory_mb,
                    max_processes=limits.max_processes,
                    disk_mb=limits.disk_mb,
                ),
                env={"PYTHONHASHSEED": "0"},
                isolation=isolation,
                uid=uid,
            )
        problem = _run_problem(result, out, limits)
        evidence = read_evidence(out, probes, notebook, module, problem)
        if keep_raw:  # nothing of an earlier run may stay beside this one's (read_evidence reads all)
            shutil.rmtree(keep_dir / "run", ignore_errors=True)
            shutil.copytree(out, keep_dir / "run", ignore=shutil.ignore_patterns("executed.ipynb"))
        executed = _keep_executed(out / "executed.ipynb", keep_dir)
        summary = _read_json(out / "run.json") or {}
        seconds = {
            part: float(summary[part].get("seconds", 0.0))
            for part in ("probes", "notebook")
            if isinstance(summary.get(part), dict)
        }
        probes_part = summary.get("probes")
        beside = probes_part.get("beside_notebook") if isinstance(probes_part, dict) else None
        beside = float(beside) if isinstance(beside, (int, float)) else 0.0  # run.json is the run's: checked
    return evidence, RunInfo(result, executed, (problem,) if problem else (), seconds, restored, beside)


@contextlib.contextmanager
def _watching(cells: Path, progress: Callable[[CellRecord], None] | None) -> Iterator[None]:
    """While the run goes on, report each cell that `cells.jsonl` gains to `progress`."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        seen = 0
        while True:
            finished = done.wait(0.3)
            records = _read_cells(cells)
            for record in records[seen:]:
                progress(record)
            seen = len(records)
            if finished:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def read_evidence(
    out: Path, probes: Sequence[ProbeSpec], notebook: NotebookNode | None, module: str | None, run_problem: str = ""
) -> Evidence:
    """The evidence in a run's output folder, every file validated."""
    summary = _read_json(out / "run.json")
    probes_part = summary.get("probes") if isinstance(summary, dict) else None
    status = probes_part.get("status") if isinstance(probes_part, dict) else None
    ended = re.fullmatch(r"exited with status (-?\d+)", status) if isinstance(status, str) else None
    return Evidence(
        probes=read_outcomes(out, probes, status == "timeout", int(ended[1]) if ended else None),
        cells=_read_cells(out / "cells.jsonl"),
        harvest=_read_harvest(out),
        notebook=notebook,
        module_source=module,
        run_problem=run_problem,
    )


def _run_problem(result: SandboxResult, out: Path, limits: SubmissionLimits) -> str:
    if result.timed_out:
        return f"the run was stopped: it took longer than the {limits.timeout:g} s limit for a submission"
    if result.over_disk:
        return f"the run was stopped: the files it wrote grew past the {limits.disk_mb} MB limit for a submission"
    summary = _read_json(out / "run.json")
    if not isinstance(summary, dict):
        tail = result.stderr_tail.strip().splitlines()[-1:] or ["no message"]
        return f"the run ended early (exit status {result.returncode}): {tail[0][:300]}"
    notebook = summary.get("notebook")
    if isinstance(notebook, dict) and notebook.get("status") != "ok":
        last = str(notebook.get("error", "")).strip().splitlines()[-1:] or ["no message"]
        return f"the notebook could not be run: {last[0][:300]}"
    return ""


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > _MAX_SMALL_FILE:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_cells(path: Path) -> tuple[CellRecord, ...]:
    records = []
    try:
        if path.stat().st_size > _MAX_SMALL_FILE:
            return ()
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    for line in lines:
        try:
            raw = json.loads(line)
            error = raw.get("error") or {}
            records.append(
                CellRecord(
                    index=int(raw["index"]),
                    cell_id=str(raw.get("id")),
                    status=str(raw["status"]),
                    seconds=float(raw.get("seconds", 0.0)),
                    ename=str(error.get("ename", ""))[:200],
                    evalue=str(error.get("evalue", ""))[:2000],
                    traceback=str(error.get("traceback", ""))[-6000:],
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line the student's code forged or broke: ignore it
    return tuple(records)


def _read_harvest(out: Path) -> Harvest | None:
    info = _read_json(out / "harvest.json")
    path = out / "harvest.npz"
    if not isinstance(info, dict) or not path.is_file() or path.stat().st_size > _MAX_HARVEST:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.array(data[k], dtype=np.float64) for k in data.files}
    except (OSError, ValueError, TypeError):
        return None
    nets, notes = {}, {}
    for name in HARVESTED_NETS:
        params = {p: arrays.get(f"{name}.{p}") for p in PARAM_NAMES}
        note = str(info.get(name, "missing"))[:200]
        if note == "ok":
            note = _params_problem(params)
        if note:
            notes[name] = note
        else:
            nets[name] = params
    numbers = {}
    for key in ("test_acc", "best_valid_acc", "val_acc"):
        value = info.get(key)
        numbers[key] = float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None
    return Harvest(nets=nets, notes=notes, numbers=numbers)


def _params_problem(params: dict[str, np.ndarray | None]) -> str:
    """'' when W1 (H, D), b1 (H,), W2 (C, H), b2 (C,) fit together, else what does not."""
    if any(v is None for v in params.values()):
        return "its params lack " + ", ".join(k for k, v in params.items() if v is None)
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    assert W1 is not None and b1 is not None and W2 is not None and b2 is not None
    if (
        W1.ndim != 2
        or W2.ndim != 2
        or b1.shape != (W1.shape[0],)
        or W2.shape[1] != W1.shape[0]
        or b2.shape != (W2.shape[0],)
    ):
        shapes = ", ".join(f"{k} {v.shape}" for k, v in params.items() if v is not None)
        return f"its params do not fit together ({shapes})"
    return ""


def _keep_executed(path: Path, keep_dir: Path) -> Path | None:
    if not path.is_file() or path.stat().st_size > 64 << 20:
        return None
    try:
        notebook, _ = load_notebook(path)
    except SubmissionError:
        return None
    keep_dir.mkdir(parents=True, exist_ok=True)
    target = keep_dir / "executed.ipynb"
    atomic_write_bytes(target, write_notebook_bytes(notebook))
    return target
