"""What the benchmark measures with, and the one table it prints.

A row is a measurement beside its baseline from the same run, their ratio, and the
target the row is held to (with whether this run met it). Commands are timed as a user
would run them, in a child process: wall seconds, and CPU seconds from the children's
resource usage (the sandbox, the kernel and every process under them are waited for, so
their CPU is counted), and the peak resident memory of the largest of them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ONE_THREAD", "ChildClock", "Measured", "Table", "measure", "stages_of", "timed"]

# One BLAS/OpenMP thread, as the sandbox gives every run, so that bare runs compare fairly.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


@dataclass(frozen=True)
class Measured:
    """One command's cost: wall and CPU seconds, and the largest child's peak memory (MB)."""

    wall: float
    cpu: float
    peak_mb: float
    stdout: str = ""


def measure(argv: Sequence[str | Path], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Measured:
    """Run `argv` to the end; raise with its output if it fails."""
    clock = ChildClock()
    # As on a user's machine, Python keeps its compiled modules (a session's environment may
    # forbid that, and then every command compiles the grader again: half a second).
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with clock:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                              text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    # ru_maxrss of the children is the largest one's peak (Linux, kB), whichever ran.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Measured(clock.wall, clock.cpu, peak, done.stdout)


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds `function(*args, **kwargs)` took in this process, and what it returned."""
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def stages_of(log: Path) -> dict[str, float]:
    """The `stages:` line of a grading.log (grading.grade_submission writes it)."""
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("stages: "):
            return {k: float(v) for k, v in json.loads(line[len("stages: ") :]).items()}
    raise ValueError(f"{log}: no stages line")


@dataclass
class Table:
    """The benchmark's rows, printed as they come (to stderr) and all at the end (to stdout)."""

    rows: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(
        self,
        what: str,
        ours: float,
        baseline: float | None = None,
        unit: str = "s",
        *,
        target: str = "",
        met: bool | None = None,
        ratio: float | None = None,
    ) -> None:
        """A measurement; `ratio` defaults to baseline / ours (higher is better)."""
        if ratio is None and baseline is not None:
            ratio = baseline / ours if ours else float("inf")
        verdict = "" if met is None else ("met" if met else "NOT met")
        cells = (what, _amount(ours, unit), _amount(baseline, unit), "" if ratio is None else f"{ratio:.2f}x")
        self.rows.append((*cells, target, verdict))
        print(f"  {' | '.join(c for c in (*cells, target, verdict) if c)}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """A line printed under the table (how a row was measured, a projection)."""
        self.notes.append(text)
        print(f"  note: {text}", file=sys.stderr, flush=True)

    def markdown(self) -> str:
        """The table as the README shows it."""
        lines = ["| measurement | ours | baseline | ratio | target | |", "| --- | --- | --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join([*lines, "", *(f"- {n}" for n in self.notes)])


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:.0f} {unit}" if unit == "MB" or value >= 100 else f"{value:.3g} {unit}"


class ChildClock:
    """Wall seconds and the CPU seconds of children waited for inside the block.

    RUSAGE_CHILDREN counts every terminated, waited-for descendant (a kernel the peer started and
    reaped is in the peer's total), so the delta around a subprocess is its whole tree's CPU; but
    not what runs inside bwrap, whose usage does not reach us (see README, Performance)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> ChildClock:
        self._wall = time.perf_counter()
        self._cpu = _children_cpu()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += _children_cpu() - self._cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
