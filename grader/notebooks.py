"""Reading and writing notebooks, and finding the cells the grader cares about.

Students' notebooks arrive in every state: valid, hand-edited, saved by an old
Jupyter (nbformat 3, no cell ids), truncated. `load_notebook` reads what can be read
and says what it had to fix; only a file that is not a notebook at all is an error.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .errors import SubmissionError

__all__ = [
    "answer_role",
    "load_notebook",
    "read_notebook",
    "write_notebook_bytes",
]

_VALID_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def load_notebook(path: Path) -> tuple[NotebookNode, list[str]]:
    """Read the notebook at `path` as nbformat 4, and the notes of what was repaired.

    Raises `SubmissionError` naming the file when it cannot be read as a notebook.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read the notebook ({exc.strerror})") from exc
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{path}: not a notebook (not UTF-8 text at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise SubmissionError(
            f"{path}: not a notebook: invalid JSON at line {exc.lineno} column {exc.colno} "
            f"({exc.msg}); open it in Jupyter and save it again"
        ) from exc
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):
        raise SubmissionError(f"{path}: not a notebook: the JSON has no 'cells'")
    notes: list[str] = []
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # JSON may spell half an emoji ("\ud83d"); UTF-8 cannot hold it
        data = _replace_lone_surrogates(data)
        notes.append("it held invalid characters (unpaired UTF-16 surrogates), replaced by �")
    version = data.get("nbformat")
    if not isinstance(version, int) or version < 4:
        notes.append(f"saved as nbformat {version}; read as nbformat 4")
    elif isinstance(data.get("cells"), list):
        # Before nbformat reads it: nbformat would replace missing or repeated ids with
        # random ones, and the grader's ids must be the same in every run.
        notes += _repair_ids(data["cells"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises many types for malformed documents
        raise SubmissionError(f"{path}: not a readable notebook: {exc}") from exc
    if not isinstance(version, int) or version < 4:
        _repair_ids(nb.cells, converted=True)
    for cell in nb.cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 0), 5)
    return nb, notes


def _replace_lone_surrogates(value: object) -> object:
    """`value` (parsed JSON) with every unpaired surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_replace_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    return value


def _repair_ids(cells: list, converted: bool = False) -> list[str]:
    """Give every cell a valid, unique id (`cell-N` when it has none); notes of repairs.

    A converted nbformat 3 notebook never had ids: all of them are made afresh.
    """
    notes = []
    taken = set() if converted else {c.get("id") for c in cells if isinstance(c, dict)}
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        cell_id = None if converted else cell.get("id")
        if isinstance(cell_id, str) and _VALID_ID.match(cell_id) and cell_id not in seen:
            seen.add(cell_id)
            continue
        new_id, suffix = f"cell-{index + 1}", 1
        while new_id in taken or new_id in seen:
            suffix += 1
            new_id = f"cell-{index + 1}-{suffix}"
        if cell_id is not None:
            notes.append(f"cell {index + 1} had an invalid or repeated id {cell_id!r}")
        cell["id"] = new_id
        seen.add(new_id)
    return notes


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook of our own (the reference or the starter); any repair is an error."""
    nb, notes = load_notebook(path)
    if notes:
        raise SubmissionError(f"{path}: " + "; ".join(notes))
    return nb


def write_notebook_bytes(nb: NotebookNode) -> bytes:
    """The notebook as deterministic JSON (sorted keys, one-space indent, final newline)."""
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def answer_role(cell: NotebookNode) -> str | None:
    """The answer a Markdown cell holds (e.g. `"handcalc.forward"`), or None."""
    grader = cell.get("metadata", {}).get("grader")
    if cell.get("cell_type") != "markdown" or not isinstance(grader, dict):
        return None
    role = grader.get("answer")
    return role if isinstance(role, str) else None
