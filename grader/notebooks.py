"""Reading and writing notebooks, and finding the cells the grader cares about.

Students' notebooks arrive in every state: valid, hand-edited, saved by an old
Jupyter (nbformat 3, no cell ids), truncated. `load_notebook` reads what can be read
and says what it had to fix; only a file that is not a notebook at all is an error.

`match_cells` pairs the starter's code cells with a student's; `with_given_cells`
builds the notebook that runs: the *given* cells (starter code cells without a
START/END region, such as the one that loads the data) as the course wrote them,
as nbgrader restores its read-only cells, and everything else as submitted.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .errors import MarkerError, SubmissionError
from .markers import find_regions, outside_regions

__all__ = [
    "answer_role",
    "is_given",
    "load_notebook",
    "match_cells",
    "read_notebook",
    "with_given_cells",
    "write_notebook_bytes",
]

_SIMILAR_ENOUGH = 0.6

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


def _code_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def match_cells(starter: NotebookNode, student: NotebookNode) -> list[tuple[NotebookNode, NotebookNode | None]]:
    """Pair every starter code cell with the student's cell (None when deleted)."""
    candidates = _code_cells(student)
    by_id = {c.get("id"): c for c in candidates}
    pairs: list[tuple[NotebookNode, NotebookNode | None]] = []
    used: set[int] = set()
    for cell in _code_cells(starter):
        twin = by_id.get(cell.get("id"))
        if twin is not None and id(twin) not in used:
            used.add(id(twin))
            pairs.append((cell, twin))
        else:
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


def is_given(starter_cell: NotebookNode) -> bool:
    """A starter code cell with no START/END region: the course's code, which the student runs."""
    return starter_cell.cell_type == "code" and not find_regions(starter_cell.source)


def with_given_cells(submitted: NotebookNode, starter: NotebookNode) -> tuple[NotebookNode, tuple[str, ...]]:
    """The notebook to run: `submitted` with every given cell as the course wrote it (a student's
    edit there, such as the path to their own copy of the data, does not run; a deleted one is
    put back where it was), its region cells and its own added cells as they are. Also the ids
    of the given cells whose code was changed or missing (whitespace and blank lines aside)."""
    notebook = copy.deepcopy(submitted)
    restored: list[str] = []
    after = -1  # the position in `notebook` of the last starter cell's twin: a deleted cell goes after it
    for cell, twin in match_cells(starter, notebook):
        if twin is not None:
            after = next(i for i, c in enumerate(notebook.cells) if c is twin)
        if not is_given(cell):
            continue
        if twin is None:
            taken = {c.get("id") for c in notebook.cells}
            new_id = cell.get("id") if cell.get("id") not in taken else f"{cell.get('id')}-given"
            twin = nbformat.v4.new_code_cell(cell.source, id=new_id)
            notebook.cells.insert(after + 1, twin)
            after += 1
        elif _code_lines(twin.source) == _code_lines(cell.source):
            twin.source = cell.source
            continue
        twin.source = cell.source
        restored.append(str(cell.get("id")))
    return notebook, tuple(restored)


def _code_lines(source: str) -> list[str]:
    return [line.rstrip() for line in source.splitlines() if line.strip()]
