"""The homework as an otter-grader assignment, graded with `otter run` (no Docker).

The master notebook is the reference with otter's assignment format around the checked cells: an
`# ASSIGNMENT CONFIG` raw cell, and per check a question (`# BEGIN QUESTION` / `# END QUESTION`)
holding the notebook's own cell and its test cells (`# BEGIN TESTS` / `# END TESTS`). The
accuracy rule becomes one question of `span` test cases, `X >= offset + k` for k = 1..span, each
worth points/span: exactly points * min(floor(X - offset) / span, 1), floored at 0. `otter assign`
writes the student notebook and the autograder zip (tests, the data helpers and the data set as
`files`); each submission is zipped as a student would hand it in (their notebook, made from the
student version's metadata, and `hw3code/neural_net.py`) and graded by `otter run`, one after
another: in this version `otter grade` runs only in Docker containers (its `--containers`
parallelism with them), so `otter run` is the way without Docker.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import nbformat

from ..timing import ChildClock
from . import notebooks
from .checks import Check, accuracy_expression, public_checks, validation_accuracy_source
from .common import PeerRun, installed_version, link_data, peer_env, run, venv_bin

__all__ = ["build_assignment", "measure_otter"]

NOTEBOOK = "toy_nn.ipynb"
MODULE = "hw3code/neural_net.py"
NAME = "hw3"
VENV = "otter"

_CONFIG = f"""# ASSIGNMENT CONFIG
name: {NAME}
files:
  - data
run_tests: false
check_all_cell: false
export_cell: false
generate: true
"""


def _raw(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(source)


def _questions(solutions: Path) -> list[tuple[Check, list[str]]]:
    """Each question: its check and the source of its test cells (OK format: doctests of asserts)."""
    questions = [(check, [check.source]) for check in public_checks(solutions)]
    points, offset, span = accuracy_expression(solutions)
    thresholds = [
        validation_accuracy_source() + f"assert _val_pct >= {offset + k!r}, _val_pct\n" for k in range(1, int(span) + 1)
    ]
    questions.append((Check("cifar.tuned", "cifar_tuned", "cifar-search", points, ""), thresholds))
    return questions


def master_notebook(solutions: Path) -> nbformat.NotebookNode:
    """The reference notebook in otter's assignment format, a question around each checked cell."""
    questions = {check.after: (check, tests) for check, tests in _questions(solutions)}
    reference = notebooks.read(solutions / NOTEBOOK)
    cells = [_raw(_CONFIG)]
    for cell in reference.cells:
        entry = questions.get(cell.get("id", ""))
        if entry is None:
            cells.append(cell)
            continue
        check, tests = entry
        cells.append(_raw(f"# BEGIN QUESTION\nname: {check.name}\npoints: {check.points!r}\n"))
        cells.append(cell)
        cells.append(_raw("# BEGIN TESTS"))
        cells.extend(nbformat.v4.new_code_cell(test.strip()) for test in tests)
        cells.append(_raw("# END TESTS"))
        cells.append(_raw("# END QUESTION"))
    master = nbformat.from_dict(reference)
    master.cells = cells
    return master


def build_assignment(work: Path, solutions: Path, cifar_dir: Path, env: dict[str, str], log: Path) -> Path:
    """Run `otter assign` on the master notebook under `work`; return its output folder."""
    master_dir = work / "master"
    if master_dir.exists():
        shutil.rmtree(master_dir)
    notebooks.write(master_notebook(solutions), master_dir / NOTEBOOK)
    shutil.copytree(solutions / "data", master_dir / "data", ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    link_data(master_dir, cifar_dir)  # shipped in the autograder zip, as otter ships support files
    dist = work / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    run([venv_bin(VENV, "otter"), "assign", master_dir / NOTEBOOK, dist], work, env, log)
    return dist


def _student_notebook(folder: Path, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's notebook as if worked in otter's student version: the release's notebook
    metadata (assignment name, tests) and the cells otter added (its init cell, the `grader.check`
    calls), each after the student cell it follows in the release (at the top if none)."""
    student = notebooks.read(folder / NOTEBOOK)
    original_ids = {cell.get("id") for cell in student.cells}
    added: dict[str, nbformat.NotebookNode] = {}
    places: list[Check] = []
    anchor = ""
    for index, cell in enumerate(release.cells):
        if cell.get("id") in original_ids:
            anchor = cell["id"]
            continue
        key = f"otter-added-{index}"
        added[key] = cell
        places.append(Check("", key, anchor, 0.0, ""))
    converted = notebooks.insert_after(student, [c for c in places if c.after], lambda c: [added[c.name]])
    converted.cells[:0] = [added[c.name] for c in places if not c.after]
    if "otter" in release.metadata:
        converted.metadata["otter"] = release.metadata["otter"]
    return converted


def measure_otter(
    submissions: Sequence[Path], work: Path, cifar_dir: Path, solutions: Path, starter: Path, cell_timeout: float
) -> tuple[PeerRun, dict[str, tuple[float, float]]]:
    """Grade `submissions` with `otter run`, one after another; the run and each (score, max)."""
    del starter, cell_timeout  # otter's student version is made from the master; no per-cell bound in `otter run`
    otter = venv_bin(VENV, "otter")
    env = peer_env(VENV)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "otter.log"
    dist = build_assignment(work, solutions, cifar_dir, env, log)
    autograder = next((dist / "autograder").glob("*.zip"))
    release = notebooks.read(dist / "student" / NOTEBOOK)
    zips = {}
    for folder in submissions:
        zipped = work / "submissions" / f"{folder.name}.zip"
        zipped.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr(NOTEBOOK, nbformat.writes(_student_notebook(folder, release)))
            archive.write(folder / MODULE, MODULE)
        zips[folder.name] = zipped
    results = {}
    clock = ChildClock()
    for name, zipped in zips.items():
        out = work / "results" / name
        out.mkdir(parents=True, exist_ok=True)
        one = ChildClock()
        with clock, one:  # one `otter run`: unzip the autograder, execute, run the tests
            run([otter, "run", "-a", autograder, "-o", out, "--no-logo", zipped], work, env, log)
        with log.open("a") as note:  # so that a batch cut short still says what each run cost
            note.write(f"[{name}: {one.wall:.1f} s wall, {one.cpu:.1f} s CPU]\n")
        results[name] = json.loads((out / "results.json").read_text())
    n_questions = len(_questions(solutions))
    scores = {}
    for name, result in results.items():  # Gradescope's results.json: a score per question
        tests = result.get("tests", [])
        scores[name] = (sum(t.get("score") or 0 for t in tests), sum(t.get("max_score") or 0 for t in tests))
    caught = {name: max_score == 0 or score < max_score - 1e-9 for name, (score, max_score) in scores.items()}
    peer = PeerRun(
        tool=f"otter-grader {installed_version(VENV, 'otter-grader')}",
        mode="otter run per submission, sequential, no Docker",
        submissions=len(results),
        wall=clock.wall,
        cpu=clock.cpu,
        parallel="no (otter grade --containers N parallelises only with Docker)",
        caught=caught,
        checks=n_questions,
    )
    return peer, scores
