"""Results: what a check found, what a student got, and the Gradescope results file.

A failed check is data, not an exception: `CheckResult` carries the status, the
points, a one-line message and the structured evidence (expected, observed,
tolerance, per-item details). `SubmissionResult` gathers one student's checks;
totals are derived from the checks, never stored twice. `results.json` follows the
Gradescope autograder specification, with our own structured details under
`extra_data`, and it is also what `grader report` and resumed runs read back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from .errors import GraderError
from .fsutil import atomic_write_text

__all__ = [
    "NOT_SANDBOXED",
    "STATUSES",
    "CellSummary",
    "CheckResult",
    "Diff",
    "GraderScore",
    "Item",
    "RunSummary",
    "Status",
    "SubmissionResult",
    "check_ids",
    "jsonable",
    "read_result",
    "status_for",
    "write_result",
]

# passed/failed/partial: scored automatically; error: the code raised or timed out;
# pending: waits for a TA's manual score; flagged: an integrity finding for the TA;
# skipped: not run here (hidden checks in a student's self-check, the CIFAR-10 checks when
# grading without the data on purpose); a skipped check counts in no maximum.
Status = Literal["passed", "partial", "failed", "error", "pending", "flagged", "skipped"]
STATUSES: tuple[Status, ...] = get_args(Status)
RESULTS_VERSION = 1


def status_for(fraction: float) -> Status:
    """The status of a score that is `fraction` of the points: passed, partial or failed."""
    return "passed" if fraction >= 1 else "partial" if fraction > 0 else "failed"


def jsonable(value: Any) -> Any:
    """`value` with numpy types, tuples and non-finite floats made valid JSON."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class Diff(str):
    """A unified diff (of code a student changed), which the report shows as one."""

    __slots__ = ()


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
        """The item as a `details` row of results.json (a diff's row says it is one)."""
        row = {
            "label": self.label,
            "ok": self.ok,
            "expected": self.expected,
            "observed": self.observed,
            "note": self.note,
            "hidden": self.hidden,
        }
        return {**row, "format": "diff"} if isinstance(self.observed, Diff) else row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Item:
        """Read back a row written by `as_dict`."""
        return cls(
            label=row.get("label", ""),
            ok=row.get("ok", False),
            expected=row.get("expected"),
            observed=Diff(row["observed"]) if row.get("format") == "diff" else row.get("observed"),
            note=row.get("note", ""),
            hidden=row.get("hidden", False),
        )


@dataclass(frozen=True)
class GraderScore:
    """The grader's own verdict on a check a TA has scored since: kept on record beside the TA's."""

    score: float
    status: Status
    message: str

    def as_dict(self) -> dict[str, Any]:
        """As results.json keeps it."""
        return {"score": self.score, "status": self.status, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GraderScore:
        """Read back what `as_dict` wrote."""
        return cls(data["score"], data["status"], data["message"])


@dataclass(frozen=True)
class CellSummary:
    """How one notebook cell ran, as the results keep it for the report."""

    index: int  # position in the notebook, 0-based
    id: str
    status: str  # ok, error, timeout, dead, not-run
    seconds: float
    error: str  # in a student's words ('' when it ran)
    traceback: str

    def as_dict(self) -> dict[str, Any]:
        """As results.json keeps it."""
        return {
            "index": self.index,
            "id": self.id,
            "status": self.status,
            "seconds": self.seconds,
            "error": self.error,
            "traceback": self.traceback,
        }


@dataclass(frozen=True)
class RunSummary:
    """How a submission's sandboxed run went: its timings, its cells, what the harvest found."""

    seconds: Mapping[str, float] = field(default_factory=dict)  # probes, notebook
    cells: tuple[CellSummary, ...] = ()
    executed_notebook: str | None = None  # its file name next to results.json
    harvest: Mapping[str, str] = field(default_factory=dict)  # best_net: "ok" or why it cannot be graded
    restored_cells: tuple[str, ...] = ()  # given cells that ran as the course wrote them

    def as_dict(self) -> dict[str, Any]:
        """As results.json keeps it."""
        return {
            "seconds": dict(self.seconds),
            "cells": [c.as_dict() for c in self.cells],
            "executed_notebook": self.executed_notebook,
            "harvest": dict(self.harvest),
            "restored_cells": list(self.restored_cells),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """Read back what `as_dict` wrote."""
        return cls(
            seconds=dict(data.get("seconds") or {}),
            cells=tuple(CellSummary(**c) for c in data.get("cells") or ()),
            executed_notebook=data.get("executed_notebook"),
            harvest=dict(data.get("harvest") or {}),
            restored_cells=tuple(data.get("restored_cells") or ()),
        )


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check for one student."""

    id: str
    name: str
    status: Status
    score: float
    max_score: float
    message: str  # one line that says what was found
    expected: Any = None
    observed: Any = None
    tolerance: float | None = None
    details: tuple[Item, ...] = ()
    visibility: str = "visible"
    public: bool = False
    bonus: bool = False
    manual: bool = False
    automatic: GraderScore | None = None  # the grader's own verdict, once a TA scored the check

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def answer(self) -> str:
        """The free-text answer a manual check extracted for the TA ('' if none)."""
        return next((str(d.observed or "") for d in self.details if d.label == "answer"), "")

    @property
    def counted_max(self) -> float:
        """What this check adds to the maximum: its points, or 0 when it was not run."""
        return 0.0 if self.status == "skipped" else self.max_score

    def to_gradescope(self, number: str) -> dict[str, Any]:
        """This check as one entry of Gradescope's `tests` list."""
        return {
            "name": self.name,
            "number": number,
            "score": self.score,
            "max_score": self.counted_max,  # its worth, also when skipped: extra_data's max_points
            # Gradescope knows only passed and failed; ours is in extra_data.
            "status": "passed" if self.status in ("passed", "flagged") and self.score >= self.max_score else "failed",
            "output": self.message,
            "visibility": self.visibility,
            "extra_data": jsonable(
                {
                    "check_id": self.id,
                    "status": self.status,
                    "max_points": self.max_score,
                    "expected": self.expected,
                    "observed": self.observed,
                    "tolerance": self.tolerance,
                    "details": [d.as_dict() for d in self.details],
                    "public": self.public,
                    "bonus": self.bonus,
                    "manual": self.manual,
                    "automatic": self.automatic.as_dict() if self.automatic else None,
                }
            ),
        }

    @classmethod
    def from_gradescope(cls, test: Mapping[str, Any]) -> CheckResult:
        """Read back an entry written by `to_gradescope`."""
        extra = test["extra_data"]
        return cls(
            id=extra["check_id"],
            name=test["name"],
            status=extra["status"],
            score=float(test["score"]),
            max_score=float(extra.get("max_points", test["max_score"])),
            message=test.get("output", ""),
            expected=extra.get("expected"),
            observed=extra.get("observed"),
            tolerance=extra.get("tolerance"),
            details=tuple(Item.from_dict(d) for d in extra.get("details") or ()),
            visibility=test.get("visibility", "visible"),
            public=bool(extra.get("public")),
            bonus=bool(extra.get("bonus")),
            manual=bool(extra.get("manual")),
            automatic=GraderScore.from_dict(extra["automatic"]) if extra.get("automatic") else None,
        )


NOT_SANDBOXED = "not sandboxed"  #: the flag of a submission whose code ran without the sandbox


@dataclass(frozen=True)
class SubmissionResult:
    """Everything the grader concluded about one submission."""

    student: str
    checks: tuple[CheckResult, ...]
    execution_time: float  # seconds, for the whole grading of this submission
    sandboxed: bool
    sandbox_note: str = ""
    problems: tuple[str, ...] = ()  # intake and run problems, for the student and the TA
    names: Mapping[str, str] = field(default_factory=dict)
    validation_accuracy: float | None = None  # of best_net, recomputed: the leaderboard value
    fingerprint: str = ""  # of the inputs: unchanged inputs need no regrading
    graded_at: str = ""
    info: RunSummary | None = None  # how the run went; None when there was no run
    harness_failed: bool = False  # the grader could not grade it (its checks say why)

    @property
    def score(self) -> float:
        """Points earned, bonus included."""
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        """Points available, bonus excluded, and so are checks that were skipped (never a 0)."""
        return sum(c.counted_max for c in self.checks if not c.bonus)

    @property
    def skipped_points(self) -> float:
        """Points of checks that were not run (left out of `max_score`), bonus excluded."""
        return sum(c.max_score for c in self.checks if c.status == "skipped" and not c.bonus)

    @property
    def pending_points(self) -> float:
        """Points of manual checks that still wait for a TA's score."""
        return sum(c.max_score for c in self.checks if c.status == "pending")

    @property
    def flags(self) -> tuple[str, ...]:
        """What an instructor should look at, in this order: a run without the sandbox
        ("not sandboxed"), the flagged checks (tampering), the first three errors, then the
        intake and run problems. The class summary lists them all; the terminal's table too,
        but says "not sandboxed" once under the table."""
        flags = [] if self.sandboxed else [NOT_SANDBOXED]
        flags += [c.message for c in self.checks if c.status == "flagged"]
        flags += [f"{c.id}: {c.message}" for c in self.checks if c.status == "error"][:3]
        return (*flags, *self.problems)

    def check(self, check_id: str) -> CheckResult | None:
        """The result of `check_id`, if it ran."""
        return next((c for c in self.checks if c.id == check_id), None)

    def with_checks(self, checks: Sequence[CheckResult]) -> SubmissionResult:
        """A copy with `checks` replacing the results of the same ids."""
        by_id = {c.id: c for c in checks}
        return replace(self, checks=tuple(by_id.pop(c.id, c) for c in self.checks) + tuple(by_id.values()))

    def to_gradescope(self) -> dict[str, Any]:
        """The whole results file, as Gradescope reads it."""
        lines = [f"{self.student}: {self.score:g} / {self.max_score:g} points"]
        if not self.sandboxed:
            lines.append(f"WARNING: {self.sandbox_note or 'the code was not run in a sandbox'}")
        lines += [f"- {p}" for p in self.problems]
        out: dict[str, Any] = {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": "\n".join(lines),
            "stdout_visibility": "hidden",
            "tests": [c.to_gradescope(str(i + 1)) for i, c in enumerate(self.checks)],
            "extra_data": jsonable(
                {
                    "results_version": RESULTS_VERSION,
                    "student": self.student,
                    "names": dict(self.names),
                    "sandboxed": self.sandboxed,
                    "sandbox_note": self.sandbox_note,
                    "problems": list(self.problems),
                    "fingerprint": self.fingerprint,
                    "graded_at": self.graded_at,
                    "max_score": self.max_score,
                    "validation_accuracy": self.validation_accuracy,
                    "info": self.info.as_dict() if self.info else {},
                    "harness_failed": self.harness_failed,
                }
            ),
        }
        if self.validation_accuracy is not None:
            out["leaderboard"] = [
                {"name": "Validation accuracy", "value": round(self.validation_accuracy, 4), "order": "desc"}
            ]
        return out

    @classmethod
    def from_gradescope(cls, data: Mapping[str, Any]) -> SubmissionResult:
        """Read back a results file written by `to_gradescope`."""
        extra = data["extra_data"]
        if extra.get("results_version") != RESULTS_VERSION:
            raise ValueError(f"results_version {extra.get('results_version')!r}")
        return cls(
            student=extra["student"],
            checks=tuple(CheckResult.from_gradescope(t) for t in data["tests"]),
            execution_time=float(data["execution_time"]),
            sandboxed=bool(extra["sandboxed"]),
            sandbox_note=extra.get("sandbox_note", ""),
            problems=tuple(extra.get("problems", ())),
            names=dict(extra.get("names", {})),
            validation_accuracy=extra.get("validation_accuracy"),
            fingerprint=extra.get("fingerprint", ""),
            graded_at=extra.get("graded_at", ""),
            info=RunSummary.from_dict(extra["info"]) if extra.get("info") else None,
            harness_failed=bool(extra.get("harness_failed")),
        )


def check_ids(results: Sequence[SubmissionResult]) -> list[str]:
    """Every check id of `results`, in the order they first appear (a class's columns)."""
    return list(dict.fromkeys(c.id for r in results for c in r.checks))


def write_result(result: SubmissionResult, path: Path) -> None:
    """Write `results.json` atomically."""
    atomic_write_text(path, json.dumps(result.to_gradescope(), indent=2, sort_keys=False) + "\n")


def read_result(path: Path) -> SubmissionResult:
    """Read a `results.json` written by this grader; GraderError naming the file if not."""
    try:
        return SubmissionResult.from_gradescope(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GraderError(f"{path}: not a results file of this grader ({exc}); regrade with --force") from exc
