"""Integrity: starter cells the student deleted, and code changed outside the regions.

The homework says: do not delete code cells, and highlight any change made outside
the START/END regions (hyperparameters, say). These checks do not take points; they
flag what a TA should look at, with a diff. Each starter code cell is matched with
the student's cell of the same id, or else with the most similar unmatched cell.
"""

from __future__ import annotations

import difflib

from nbformat import NotebookNode

from ..errors import MarkerError
from ..markers import outside_regions
from ..results import CheckResult
from ..rubric import CheckSpec
from .base import Context, Evidence, Item, outcome

__all__ = ["CHANGED", "CHECKS", "match_cells"]

_SIMILAR_ENOUGH = 0.6
CHANGED = "changed outside the START/END regions"  #: an item's note for a plain change (else: what broke)


def _code_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def match_cells(starter: NotebookNode, student: NotebookNode) -> list[tuple[NotebookNode, NotebookNode | None]]:
    """Pair every starter code cell with the student's cell (None when deleted)."""
    candidates = _code_cells(student)
    by_id = {c.get("id"): c for c in candidates}
    pairs: list[tuple[NotebookNode, NotebookNode | None]] = []
    unmatched: list[NotebookNode] = []
    used: set[int] = set()
    for cell in _code_cells(starter):
        twin = by_id.get(cell.get("id"))
        if twin is not None and id(twin) not in used:
            used.add(id(twin))
            pairs.append((cell, twin))
        else:
            unmatched.append(cell)
            pairs.append((cell, None))
    # Cells without a matching id (an old Jupyter drops ids): the most similar one.
    for index, (cell, twin) in enumerate(pairs):
        if twin is not None:
            continue
        best, best_ratio = None, _SIMILAR_ENOUGH
        for other in candidates:
            if id(other) in used:
                continue
            ratio = difflib.SequenceMatcher(None, _skeleton(cell.source), _skeleton(other.source)).ratio()
            if ratio > best_ratio:
                best, best_ratio = other, ratio
        if best is not None:
            used.add(id(best))
            pairs[index] = (cell, best)
    return pairs


def _skeleton(source: str) -> str:
    """A cell's code outside its regions, or all of it when its markers are broken."""
    try:
        return "\n".join(outside_regions(source))
    except MarkerError:
        return source


def _preview(source: str) -> str:
    first = next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")
    return first.strip()[:60]


def _diff(starter: str, student: str, name: str) -> tuple[str, str]:
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
    return diff, note or CHANGED


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
    return outcome(spec, items, f"{len(missing)} starter code cell(s) deleted: {names}", status="flagged", fraction=1.0)


def check_code(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Flag code changed outside the START/END regions, in the notebook and the module."""
    items: list[Item] = []
    if evidence.notebook is not None and context.starter_notebook is not None:
        for cell, twin in match_cells(context.starter_notebook, evidence.notebook):
            if twin is not None:
                diff, note = _diff(cell.source, twin.source, f"cell {cell.get('id')}")
                if diff or note:
                    items.append(Item(f"cell {cell.get('id')}", False, note=note, observed=diff))
    if evidence.module_source is not None and context.starter_module is not None:
        name = context.rubric.module
        diff, note = _diff(context.starter_module, evidence.module_source, name)
        if diff or note:
            items.append(Item(name, False, note=note, observed=diff))
    if not items:
        return outcome(spec, [], "no code changed outside the START/END regions", status="passed", fraction=1.0)
    where = ", ".join(i.label for i in items)
    return outcome(
        spec,
        items,
        f"changed outside the regions in {where}: check that it was highlighted",
        status="flagged",
        fraction=1.0,
    )


CHECKS = {"integrity.cells": check_cells, "integrity.code": check_code}
