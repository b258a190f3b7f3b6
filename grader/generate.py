"""Generate the student starter (`assignment/`) from the reference (`solutions/`).

Every file of `solutions/` is carried over, transformed by its kind:

- `.py` files: each START/END region keeps its markers and leading instruction
  comments; its solution becomes `pass`.
- `.ipynb` notebooks: code cells as `.py` files; Markdown answer cells (those with
  `metadata.grader.answer`) go back to their empty template; outputs and
  execution counts are cleared.
- `handcalc.toml`, the correct values of the hand calculation, is left out;
- everything else is copied byte for byte.

The result depends only on `solutions/`, so `generate --check` can tell whether the
committed `assignment/` is stale, and running `generate` twice changes nothing.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import nbformat

from .errors import ConfigError
from .fsutil import replace_dir
from .handcalc import ANSWERS_FILE
from .markers import strip_solutions
from .notebooks import answer_role, read_notebook, write_notebook_bytes

__all__ = ["StaleFile", "check_assignment", "generate_assignment", "starter_files"]

# Never carried over: caches, and the data set a TA may have unpacked for a test run.
_IGNORED = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store", "datasets")
# Instructors only, at the top of solutions/: answers the starter must not carry.
_SOLUTION_ONLY = (ANSWERS_FILE,)


@dataclass(frozen=True)
class StaleFile:
    """A file of `assignment/` that differs from what `generate` would write."""

    path: str
    problem: str  # "missing", "extra" or "differs"
    diff: str  # a unified diff for text files that differ, else ""


def _ignored(rel: Path) -> bool:
    return any(fnmatch(part, pattern) for part in rel.parts for pattern in _IGNORED)


def _source_files(solutions: Path) -> list[Path]:
    if not solutions.is_dir():
        raise ConfigError(f"{solutions}: no solutions folder here; pass --solution DIR")
    files = []
    for path in sorted(solutions.rglob("*")):
        if _ignored(path.relative_to(solutions)):
            continue
        if path.is_file():
            files.append(path)
    return files


def _starter_notebook(path: Path, rel: str) -> bytes:
    nb = read_notebook(path)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            where = f"{rel} (cell {index + 1}, id {cell.get('id', '?')})"
            cell.source = strip_solutions(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        elif answer_role(cell) is not None:
            cell.source = cell.metadata["grader"].get("template") or ""
            # The reference answer's images go with its text; a question's own
            # attachments (e.g. the network diagram) stay for the students.
            cell.pop("attachments", None)
    return write_notebook_bytes(nb)


def starter_files(solutions: Path) -> dict[str, bytes]:
    """What `assignment/` should hold: relative POSIX path -> file content."""
    out: dict[str, bytes] = {}
    for path in _source_files(solutions):
        rel = path.relative_to(solutions).as_posix()
        if rel in _SOLUTION_ONLY:
            continue
        if path.suffix == ".py":
            out[rel] = strip_solutions(path.read_text(encoding="utf-8"), rel).encode("utf-8")
        elif path.suffix == ".ipynb":
            out[rel] = _starter_notebook(path, rel)
        else:
            out[rel] = path.read_bytes()
    return out


def generate_assignment(solutions: Path, assignment: Path) -> list[str]:
    """Write the starter for `solutions` to `assignment`, replacing it whole; return its files.

    A data set a TA unpacked into `assignment/data/datasets` is kept: it is not
    generated, and it is a large download.
    """
    files = starter_files(solutions)
    assignment.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{assignment.name}.", dir=assignment.parent))
    datasets, kept = assignment / "data" / "datasets", staging / "data" / "datasets"
    try:
        for rel, content in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if datasets.is_dir():
            kept.parent.mkdir(exist_ok=True)
            datasets.rename(kept)
        staging.chmod(0o755)
        replace_dir(staging, assignment)
    except BaseException:
        if kept.is_dir():  # put the data set back before the staging folder goes
            datasets.parent.mkdir(parents=True, exist_ok=True)
            kept.rename(datasets)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(files)


def check_assignment(solutions: Path, assignment: Path) -> list[StaleFile]:
    """How `assignment` differs from a fresh `generate`; empty when it is up to date."""
    wanted = starter_files(solutions)
    # What a TA's test run leaves in assignment/ (caches, checkpoints, the data set the
    # notebook reads from data/datasets/) is ignored here as it is in solutions/.
    present = {
        p.relative_to(assignment).as_posix(): p
        for p in (assignment.rglob("*") if assignment.is_dir() else [])
        if p.is_file() and not _ignored(p.relative_to(assignment))
    }
    stale: list[StaleFile] = []
    for rel in sorted(wanted.keys() | present.keys()):
        if rel not in present:
            stale.append(StaleFile(rel, "missing", ""))
        elif rel not in wanted:
            stale.append(StaleFile(rel, "extra", ""))
        elif present[rel].read_bytes() != wanted[rel]:
            old, new, label = present[rel].read_bytes(), wanted[rel], f"{assignment.name}/{rel}"
            diff = _notebook_diff(label, old, new) if rel.endswith(".ipynb") else None
            if diff is None:
                diff = _text_diff(label, f"generated/{rel}", old, new)
            stale.append(StaleFile(rel, "differs", diff))
    return stale


def _text_diff(old_label: str, new_label: str, old: bytes, new: bytes) -> str:
    try:
        old_lines = old.decode("utf-8").splitlines(keepends=True)
        new_lines = new.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return ""
    if old_lines and not old_lines[-1].endswith("\n"):  # the diff of a cell's source stays readable
        old_lines[-1] += "\n"
    if new_lines and not new_lines[-1].endswith("\n"):
        new_lines[-1] += "\n"
    return "".join(difflib.unified_diff(old_lines, new_lines, old_label, new_label))


def _notebook_diff(label: str, old: bytes, new: bytes) -> str | None:
    """Cell by cell: each changed cell's source as a diff, named by its number and id; other
    changes (outputs, metadata, added or removed cells) in one line each. None when either
    side is not a readable notebook (the caller diffs the JSON instead)."""
    try:
        old_nb, new_nb = (nbformat.reads(b.decode("utf-8"), as_version=4) for b in (old, new))
    except Exception:  # nbformat raises many types for malformed documents
        return None
    old_cells = {c.get("id"): (i, c) for i, c in enumerate(old_nb.cells)}
    new_ids = {c.get("id") for c in new_nb.cells}
    extra = [(i, cid) for cid, (i, _) in old_cells.items() if cid not in new_ids]
    parts = [f"{label}: cell {i + 1} (id {cid}) should not be there\n" for i, cid in extra]
    for index, cell in enumerate(new_nb.cells):
        where = f" cell {index + 1} (id {cell.get('id')})"
        if cell.get("id") not in old_cells:
            parts.append(f"{label}:{where} is missing\n")
            continue
        was = old_cells[cell.get("id")][1]
        if was.source != cell.source:
            parts.append(_text_diff(f"{label}{where}", f"generated{where}", was.source.encode(), cell.source.encode()))
        elif was != cell:
            parts.append(f"{label}:{where}: its outputs, metadata or position differ\n")
    if not parts and old_nb.metadata != new_nb.metadata:
        parts.append(f"{label}: the notebook's metadata differs\n")
    return "".join(parts) or f"{label}: the JSON is formatted differently (run `grader generate`)\n"
