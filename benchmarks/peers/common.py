"""What both peers share: the result type, the venvs, the clock, the environment of a run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..timing import ONE_THREAD

__all__ = [
    "BENCH",
    "ROOT",
    "PeerRun",
    "PeerUnavailableError",
    "installed_version",
    "link_data",
    "peer_env",
    "run",
    "venv_bin",
]

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / ".bench"  # the peers' venvs (gitignored); `make bench-peers` makes them


@dataclass(frozen=True)
class PeerRun:
    """One peer's grading of a batch: what it cost and what it caught."""

    tool: str  # "nbgrader 0.9.x" with the installed version
    mode: str  # e.g. "autograde, sequential, no Docker"
    submissions: int
    wall: float  # seconds for the whole batch
    cpu: float  # CPU seconds of the batch (children)
    parallel: str  # how it parallelises, or "no"
    caught: dict[str, bool]  # example id -> scored below full marks
    checks: int  # how many graded tests/assertions it runs per submission


class PeerUnavailableError(RuntimeError):
    """A peer cannot run here (its venv is missing); the message says how to make it."""


def venv_bin(name: str, program: str) -> Path:
    """`program` in the peer venv `name`, or PeerUnavailableError naming the make target that builds it."""
    path = BENCH / name / "bin" / program
    if not path.is_file():
        raise PeerUnavailableError(f"{name}: no {path.relative_to(ROOT)}; make it with `make bench-peers`")
    return path


def peer_env(venv: str) -> dict[str, str]:
    """The environment of a peer's commands: its venv first on PATH, one BLAS thread per process
    (as the product's benchmark gives everyone), and no user site or Jupyter config leaking in."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{BENCH / venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(ONE_THREAD, PYTHONNOUSERSITE="1")  # ONE_THREAD's Agg too: no display, as in our harness
    return env


def run(argv: Sequence[str | Path], cwd: Path, env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    """Run a peer's command, its output appended to `log`; a failure raises with the log's tail."""
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(map(str, argv))}\n{result.stdout}{result.stderr}\n[rc {result.returncode}]\n")
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise RuntimeError(f"{argv[0]} failed (rc {result.returncode}), see {log}:\n{tail}")
    return result


def link_data(folder: Path, cifar_dir: Path) -> None:
    """`./data/datasets/cifar-10-batches-py/*` under `folder`, one link per file of the data set.

    Not one link to the folder: nbgrader walks a submission without following linked folders, so
    the data would be left out of `autograded/`; a linked file it copies (its cost is in the run)."""
    dest = folder / "data" / "datasets" / "cifar-10-batches-py"
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(cifar_dir.resolve().iterdir()):
        link = dest / item.name
        if item.is_file() and not link.exists():
            link.symlink_to(item)


def installed_version(venv: str, distribution: str) -> str:
    """The version of `distribution` installed in the peer venv `venv` (its own metadata, not ours)."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    out = subprocess.run([str(venv_bin(venv, "python")), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()
