"""The example submissions: made from the reference or the starter plus small edits.

`examples/examples.toml` lists them (see its header). `materialize_examples` writes
each as a submission folder (`<id>/toy_nn.ipynb`, `<id>/hw3code/neural_net.py`),
which is what `grader demo` grades and what the tests use.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .errors import ConfigError
from .notebooks import read_notebook, write_notebook_bytes
from .rubric import read_toml

__all__ = ["Example", "load_examples", "materialize_examples"]


@dataclass(frozen=True)
class Example:
    """One example submission: where it starts from and what is changed."""

    id: str
    base: str  # "solutions" or "assignment"
    description: str
    edits: tuple[Mapping[str, Any], ...]


def load_examples(manifest: Path) -> list[Example]:
    """Read the examples manifest; ConfigError naming the file when it is malformed."""
    data = read_toml(manifest, "the examples manifest")
    try:
        return [Example(e["id"], e["from"], e["description"], tuple(e.get("edit", ()))) for e in data["example"]]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{manifest}: not a valid examples manifest ({exc})") from exc


def _replace_once(text: str, find: str, replace: str, where: str) -> str:
    count = text.count(find)
    if count != 1:
        raise ConfigError(f"{where}: the edit's `find` text occurs {count} times, not once: update the example")
    return text.replace(find, replace)


def _apply(folder: Path, edit: Mapping[str, Any], where: str) -> None:
    path = folder / edit["file"]
    if path.suffix != ".ipynb":
        path.write_text(_replace_once(path.read_text(encoding="utf-8"), edit["find"], edit["replace"], where))
        return
    nb = read_notebook(path)
    if "cell" in edit or "after" in edit:
        wanted = edit.get("cell", edit.get("after"))
        cells = [c for c in nb.cells if c.get("id") == wanted]
        if len(cells) != 1:
            raise ConfigError(f"{where}: no single cell with id {wanted!r}")
        if "cell" in edit:
            cells[0].source = edit["source"].strip("\n")
        else:  # a code cell of the student's own, right after that one
            added = nbformat.v4.new_code_cell(edit["source"].strip("\n"), id=edit.get("id", "added"))
            nb.cells.insert(nb.cells.index(cells[0]) + 1, added)
    else:
        hits = [c for c in nb.cells if edit["find"] in c.source]
        if len(hits) != 1:
            raise ConfigError(f"{where}: the edit's `find` text is in {len(hits)} cells, not one")
        hits[0].source = _replace_once(hits[0].source, edit["find"], edit["replace"], where)
    path.write_bytes(write_notebook_bytes(nb))


def materialize_examples(
    manifest: Path, bases: Mapping[str, Path], dest: Path, *, notebook: str, module: str
) -> list[Path]:
    """Write every example as a submission folder under `dest`; return the folders."""
    folders = []
    for example in load_examples(manifest):
        if example.base not in bases:
            raise ConfigError(f"{manifest}: example {example.id}: unknown base {example.base!r}")
        folder = dest / example.id
        if folder.exists():
            shutil.rmtree(folder)
        for rel in (notebook, module):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bases[example.base] / rel, folder / rel)
        for number, edit in enumerate(example.edits, start=1):
            _apply(folder, edit, f"{manifest}: example {example.id}, edit {number}")
        folders.append(folder)
    return folders
