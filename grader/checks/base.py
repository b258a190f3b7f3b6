"""What every check reads (`Evidence`, `Context`) and how it reports (`outcome`).

A check is a function `(spec, evidence, context) -> CheckResult`. It never runs
student code: it reads what the sandboxed run left behind (`Evidence`), compares it
with the public values the notebook prints or with the reference solution's run
on the same inputs (`Context.reference`), and says what it found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nbformat import NotebookNode

from ..datasets.cifar import PreparedSplit
from ..probes import ProbeOutcome, ProbeSpec
from ..results import CheckResult
from ..rubric import CheckSpec, Rubric

__all__ = [
    "WHOLE_LIMIT",
    "CellRecord",
    "CheckFn",
    "Context",
    "Evidence",
    "Harvest",
    "Item",
    "hidden_skipped",
    "outcome",
    "rel_error",
    "why_not_compared",
]


# The `ename` the harness gives a cell stopped by the submission's whole time limit rather than
# by its own (harness/execute_notebook.py writes it; a test keeps the two equal).
WHOLE_LIMIT = "SubmissionTimeLimit"


@dataclass(frozen=True)
class CellRecord:
    """How one code cell of the student's notebook ran."""

    index: int  # position in the notebook, 0-based
    cell_id: str
    status: str  # ok, error, timeout, dead, not-run
    seconds: float = 0.0
    ename: str = ""
    evalue: str = ""
    traceback: str = ""

    @property
    def stopped_by_whole_limit(self) -> bool:
        """The cell timed out because the whole submission ran out of time, not the cell."""
        return self.status == "timeout" and self.ename == WHOLE_LIMIT

    def describe(self) -> str:
        """`cell 31 (cifar-search) raised NameError: name 'x' is not defined`."""
        where = f"cell {self.index + 1} ({self.cell_id})"
        if self.status == "error":
            return f"{where} raised {self.ename}: {self.evalue}".strip()
        if self.status == "timeout":
            limit = "the whole submission's limit" if self.stopped_by_whole_limit else "the limit for one cell"
            return f"{where} ran out of time: it ran past {limit} and was stopped"
        if self.status == "dead":
            return (
                f"{where}: the kernel died while running it (a crash, memory running out, or code that exits "
                "or kills itself); the cells after it did not run"
            )
        if self.status == "not-run":
            return f"{where} did not run: {self.evalue or 'the notebook stopped before it'}"
        return f"{where}: {self.evalue or self.status}"


@dataclass(frozen=True)
class Harvest:
    """The notebook's objects after its last cell, validated: params and numbers."""

    nets: Mapping[str, Mapping[str, np.ndarray]]  # "best_net" -> {"W1": ..., ...}
    notes: Mapping[str, str]  # why a net is missing ("missing", "has no params dict", ...)
    numbers: Mapping[str, float | None]  # test_acc, best_valid_acc, val_acc


@dataclass(frozen=True)
class Evidence:
    """Everything one run of a submission left behind, validated."""

    probes: Mapping[str, ProbeOutcome] = field(default_factory=dict)
    cells: tuple[CellRecord, ...] = ()
    harvest: Harvest | None = None
    notebook: NotebookNode | None = None  # as submitted (answers and integrity read it)
    module_source: str | None = None
    run_problem: str = ""  # why the run as a whole failed (timeout, sandbox error), if it did

    def probe(self, name: str) -> ProbeOutcome:
        """The outcome of probe `name` (`missing` if it never reported)."""
        return self.probes.get(name) or ProbeOutcome("missing", error=self.run_problem or "not run")

    def failed_cells(self) -> list[CellRecord]:
        """Cells that raised, timed out or never ran."""
        return [c for c in self.cells if c.status != "ok"]


@dataclass(frozen=True)
class Context:
    """What the checks compare against: rubric, reference run, starter, data split."""

    rubric: Rubric
    reference: Evidence | None = None  # None in a student's self-check: hidden parts skip
    starter_notebook: NotebookNode | None = None
    starter_module: str | None = None
    split: PreparedSplit | None = None
    probe_inputs: Mapping[str, ProbeSpec] = field(default_factory=dict)  # by probe name
    answers: Mapping[str, Any] = field(default_factory=dict)  # Section 1's values; none in a self-check


CheckFn = Callable[[CheckSpec, Evidence, Context], CheckResult]


@dataclass(frozen=True)
class Item:
    """One compared quantity inside a check: a row of the report's table."""

    label: str
    ok: bool
    expected: Any = None
    observed: Any = None
    note: str = ""
    hidden: bool = False  # its expected value must never reach a student

    def as_dict(self) -> dict[str, Any]:
        """The item as a `details` row of a CheckResult."""
        return {
            "label": self.label,
            "ok": self.ok,
            "expected": self.expected,
            "observed": self.observed,
            "note": self.note,
            "hidden": self.hidden,
        }


def outcome(
    spec: CheckSpec,
    items: Sequence[Item],
    message: str,
    *,
    fraction: float | None = None,
    status: str | None = None,
    expected: Any = None,
    observed: Any = None,
) -> CheckResult:
    """A CheckResult for `spec`: by default the score is the share of items that are ok."""
    if fraction is None:
        fraction = sum(i.ok for i in items) / len(items) if items else 0.0
    if status is None:
        status = "passed" if fraction >= 1 else "partial" if fraction > 0 else "failed"
    return CheckResult(
        id=spec.id,
        name=spec.name,
        status=status,
        score=float(spec.points) * float(fraction),
        max_score=float(spec.points),
        message=message,
        expected=expected,
        observed=observed,
        tolerance=spec.tolerance or None,
        details=tuple(i.as_dict() for i in items),
        visibility=spec.visibility,
        public=spec.public,
        bonus=spec.bonus,
        manual=spec.manual,
    )


def hidden_skipped(spec: CheckSpec) -> CheckResult:
    """A hidden check in a self-check: there is no reference to compare with."""
    return outcome(spec, [], "hidden check: runs when your work is graded", status="skipped", fraction=0.0)


def why_not_compared(item: Item) -> str:
    """What a student may read about a wrong hidden item: why it could not be compared
    (" (ValueError: ...)"), never by how much it differs; "" when it was compared."""
    if item.observed is None:  # the probe raised or returned nothing: the error says why
        return f" ({item.note})" if item.note else ""
    if item.expected is None:
        return f" (wrong shape: {np.shape(item.observed)})"
    return ""


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The notebook's relative error: max |x - y| / max(1e-8, |x| + |y|); inf when either
    holds a value that is not finite (an overflow is as wrong as can be)."""
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("inf")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)), initial=0.0))
