"""Notebook surgery both peers need: a copy of a notebook with test cells after given cells."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat

from .checks import Check

__all__ = ["insert_after", "read", "write"]


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path` (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


def write(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write `notebook` to `path`, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def insert_after(
    notebook: nbformat.NotebookNode,
    checks: Sequence[Check],
    make_cells: Callable[[Check], list[nbformat.NotebookNode]],
) -> nbformat.NotebookNode:
    """A copy of `notebook` with `make_cells(check)` after the cell whose id is `check.after`.

    A cell a student deleted has no place: its test cells go at the end, so that the test still
    runs (and fails or passes on what the notebook defined), as a peer's release would have it."""
    copy = nbformat.from_dict(notebook)
    by_anchor: dict[str, list[nbformat.NotebookNode]] = {}
    for check in checks:
        by_anchor.setdefault(check.after, []).extend(make_cells(check))
    cells = []
    for cell in copy.cells:
        cells.append(cell)
        cells.extend(by_anchor.pop(cell.get("id", ""), []))
    for orphans in by_anchor.values():
        cells.extend(orphans)
    copy.cells = cells
    return copy
