"""What every check compares against (`Context`) and how it reports (`outcome`).

A check is a function `(spec, evidence, context) -> CheckResult`. It never runs
student code: it reads what the sandboxed run left behind (`grader.evidence.Evidence`),
compares it with the public values the notebook prints or with the reference solution's
run on the same inputs (`Context.reference`), and says what it found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nbformat import NotebookNode

from ..datasets.cifar import PreparedSplit
from ..evidence import Evidence
from ..probe_plan import ProbeSpec
from ..results import CheckResult, Item, Status, status_for
from ..rubric import CheckSpec, Rubric
from .netmath import rel_error

__all__ = [
    "CheckFn",
    "Context",
    "Item",
    "compare_with_reference",
    "hidden_skipped",
    "outcome",
    "shape_note",
    "why_not_compared",
]


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


def outcome(
    spec: CheckSpec,
    items: Sequence[Item],
    message: str,
    *,
    fraction: float | None = None,
    status: Status | None = None,
    expected: Any = None,
    observed: Any = None,
) -> CheckResult:
    """A CheckResult for `spec`: by default the score is the share of items that are ok."""
    if fraction is None:
        fraction = sum(i.ok for i in items) / len(items) if items else 0.0
    if status is None:
        status = status_for(fraction)
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
        details=tuple(items),
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


def shape_note(array: np.ndarray, shape: tuple[int, ...]) -> str:
    """ "" when `array` has `shape`, else what it has instead."""
    return "" if array.shape == shape else f"shape {array.shape}, expected {shape}"


def _compare(label: str, observed: np.ndarray | None, expected: np.ndarray, tol: float) -> Item:
    """A hidden item: relative error against the reference within `tol`."""
    if observed is None:
        return Item(label, False, note="missing", hidden=True)
    if observed.shape != expected.shape:
        return Item(label, False, observed=observed, note=shape_note(observed, expected.shape), hidden=True)
    error = rel_error(observed, expected)
    ok = error < tol  # rel_error is inf where a value is not finite
    return Item(label, ok, expected=expected, observed=observed, note=f"relative error {error:.2e}", hidden=True)


def compare_with_reference(
    evidence: Evidence, reference: Evidence, pairs: list[tuple[str, str]], tol: float
) -> list[Item]:
    """One hidden item per (probe, output key): the student's output against the reference's."""
    items: list[Item] = []
    for name, key in pairs:
        probe, ref = evidence.probe(name), reference.probe(name)
        if not ref.ok:
            raise RuntimeError(f"the reference solution failed probe {name}: {ref.summary()}")
        label = f"{name}: {key}"
        if not probe.ok:
            items.append(Item(label, False, note=probe.summary(), hidden=True))
        else:
            items.append(_compare(label, probe.arrays.get(key), ref.arrays[key], tol))
    return items
