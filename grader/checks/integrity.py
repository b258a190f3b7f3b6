"""Integrity: starter cells deleted, code changed outside the regions, a net fitted to its own yardstick.

The homework says: do not delete code cells, and highlight any change made outside
the START/END regions (hyperparameters, say). Each starter code cell is matched with
the student's cell of the same id, or else with the most similar unmatched cell.
And best_net's validation accuracy counts for 25 points, so a net trained on the
validation images (by mistake or not) would earn them unfairly: its accuracy there
is compared with its accuracy on test images the notebook never touches.

These checks take no points; they flag what a TA should look at, with the evidence
(a diff, or both accuracies and the test's p-value). The TA decides, through the
manual-scores file.
"""

from __future__ import annotations

import difflib
import math

from ..errors import MarkerError
from ..evidence import Evidence
from ..markers import outside_regions
from ..notebooks import is_given, match_cells
from ..results import CheckResult, Diff
from ..rubric import CheckSpec
from .base import Context, Item, outcome
from .cifar import correct_on, net_problem

__all__ = ["CHANGED", "CHECKS", "COURSE_RAN", "binomial_tail"]

CHANGED = "changed outside the START/END regions"  #: an item's note for a plain change (else: what broke)
COURSE_RAN = "a given cell, changed: the course's version of it ran"  #: the note of a changed given cell


def _preview(source: str) -> str:
    first = next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")
    return first.strip()[:60]


def _diff(starter: str, student: str, name: str) -> tuple[Diff | str, str]:
    """A unified diff of what lies outside the regions, and a problem note ('' if none)."""
    try:
        theirs = outside_regions(student, name)
        note = ""
    except MarkerError as exc:
        theirs = [line.rstrip() for line in student.splitlines()]
        note = f"markers broken: {exc.problem}"
    ours = outside_regions(starter, name)
    if [line for line in ours if line.strip()] == [line for line in theirs if line.strip()] and not note:
        return "", ""
    diff = "\n".join(difflib.unified_diff(ours, theirs, f"starter/{name}", f"submitted/{name}", lineterm="", n=1))
    return Diff(diff) if diff else "", note or CHANGED


def check_cells(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Flag starter code cells that are missing from the student's notebook."""
    if evidence.notebook is None or context.starter_notebook is None:
        return outcome(spec, [], "no notebook to compare", status="skipped", fraction=0.0)
    pairs = match_cells(context.starter_notebook, evidence.notebook)
    missing = [cell for cell, twin in pairs if twin is None]
    items = [
        Item(f"cell {cell.get('id')}", False, expected=cell.source, note=f"deleted: {_preview(cell.source)}")
        for cell in missing
    ]
    if not missing:
        return outcome(spec, [], f"all {len(pairs)} starter code cells are present", status="passed", fraction=1.0)
    names = ", ".join(str(c.get("id")) for c in missing)
    message = f"{len(missing)} starter code cell(s) deleted: {names}"
    put_back = [str(c.get("id")) for c in missing if is_given(c)]
    if put_back:
        message += f" (the course's version of {', '.join(put_back)} ran in its place)"
    return outcome(spec, items, message, status="flagged", fraction=1.0)


def check_code(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Flag code changed outside the START/END regions, in the notebook and the module."""
    items: list[Item] = []
    if evidence.notebook is not None and context.starter_notebook is not None:
        for cell, twin in match_cells(context.starter_notebook, evidence.notebook):
            if twin is not None:
                diff, note = _diff(cell.source, twin.source, f"cell {cell.get('id')}")
                if diff or note:
                    note = COURSE_RAN if is_given(cell) else note
                    items.append(Item(f"cell {cell.get('id')}", False, note=note, observed=diff))
    if evidence.module_source is not None and context.starter_module is not None:
        name = context.rubric.module
        diff, note = _diff(context.starter_module, evidence.module_source, name)
        if diff or note:
            items.append(Item(name, False, note=note, observed=diff))
    if not items:
        return outcome(spec, [], "no code changed outside the START/END regions", status="passed", fraction=1.0)
    where = ", ".join(i.label for i in items)
    message = f"changed outside the regions in {where}: check that it was highlighted"
    given = [i.label for i in items if i.note == COURSE_RAN]
    if given:
        message += f"; the course's version of the given {', '.join(given)} ran instead"
    return outcome(spec, items, message, status="flagged", fraction=1.0)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in logarithms (n is a few thousand)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k, n + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def check_unseen(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Flag a best_net that does better on the validation (or test) images than on images the
    notebook never touches, by more than chance allows: a one-sided binomial test of its
    validation hits against its accuracy on the unseen ones, at the rubric's level."""
    harvest = evidence.harvest
    params = harvest.nets.get("best_net") if harvest else None
    if context.split is None or params is None or net_problem(params):
        return outcome(spec, [], "no usable best_net and data to compare", status="skipped", fraction=0.0)
    unseen, rows = correct_on(params, context, "unseen")
    if rows == 0:
        return outcome(spec, [], "this data set has no test images the notebook leaves unseen", status="skipped")
    p = (unseen + 1) / (rows + 2)  # its accuracy on the unseen images, never exactly 0 or 1
    items, suspicious = [], []
    for part, name in (("val", "validation"), ("test", "test")):
        right, total = correct_on(params, context, part)
        chance = binomial_tail(right, total, p)
        ok = chance >= spec.tolerance
        note = f"P(at least {right} of {total} at {p:.1%}) = {chance:.2g}; below {spec.tolerance:g} is flagged"
        items.append(Item(f"{name} accuracy", ok, f"{unseen / rows:.1%} ({unseen}/{rows} unseen)", right / total, note))
        if not ok:
            suspicious.append(f"{name} {right / total:.1%} ({right}/{total})")
    if not suspicious:
        message = f"best_net does as well on {rows} images the notebook never touches ({unseen / rows:.1%})"
        return outcome(spec, items, message, status="passed", fraction=1.0)
    message = (
        f"best_net's {' and '.join(suspicious)} accuracy is far above its {unseen / rows:.1%} ({unseen}/{rows}) on "
        f"test images the notebook never touches (one-sided binomial test, level {spec.tolerance:g}): "
        "was it trained on those images?"
    )
    return outcome(spec, items, message, status="flagged", fraction=1.0)


CHECKS = {"integrity.cells": check_cells, "integrity.code": check_code, "integrity.unseen": check_unseen}
