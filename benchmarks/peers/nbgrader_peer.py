"""The homework as an nbgrader course, graded the nbgrader way.

The course tree is written under `work` at benchmark time: `source/hw3/` holds the reference
notebook with autograded test cells (nbgrader metadata: grade, locked, points), the starter's
`hw3code/neural_net.py` (what a release gives students) and the data helpers. `nbgrader
generate_assignment` makes the release; each submission becomes `submitted/<student>/hw3/`: the
student's notebook with the release's test cells in their places (a student of an nbgrader course
works in the released notebook, so the test cells are there), their `neural_net.py`, the helpers
and the data. `nbgrader autograde hw3` grades them one after another (it has no parallel
option); the scores come from the gradebook database.

What nbgrader 0.9 does by default that matters here, and what this version sets: autograde
overwrites every non-notebook file of the source folder in the submission (the student's
`neural_net.py` would become the starter's: `exclude_overwriting` keeps it); a cell may run 30 s
(`Execute.timeout` is set to the rubric's cell timeout); a test cell scores 0 when it writes to
stderr, warnings included; a test cell whose output is a number scores that many points (the
accuracy rule uses it).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import nbformat

from ..timing import ChildClock
from . import notebooks
from .checks import Check, accuracy_expression, public_checks, validation_accuracy_source
from .common import PeerRun, installed_version, link_data, peer_env, run, venv_bin

__all__ = ["ASSIGNMENT", "build_course", "measure_nbgrader", "nbgrader_cells"]

ASSIGNMENT = "hw3"
NOTEBOOK = "toy_nn.ipynb"
MODULE = "hw3code/neural_net.py"
VENV = "nbgrader"

# Read inside the peer's venv: the gradebook API is nbgrader's, not ours.
_READ_GRADEBOOK = """
import json, sys
from nbgrader.api import Gradebook
out = {}
with Gradebook(sys.argv[1]) as gb:
    for sub in gb.assignment_submissions(sys.argv[2]):  # one notebook per submission here
        nb = sub.notebooks[0]
        out[sub.student_id] = {"score": sub.score, "max_score": sub.max_score,
                               "cells": {g.name: g.score for g in nb.grades}}
print(json.dumps(out))
"""


def _all_checks(solutions: Path) -> list[Check]:
    points, offset, span = accuracy_expression(solutions)
    # nbgrader's partial credit: a test cell whose output is a number scores that many points.
    accuracy = (
        validation_accuracy_source()
        + f"import math\nmax(0.0, min(math.floor(_val_pct - {offset!r}) / {span!r}, 1.0)) * {points!r}\n"
    )
    return [*public_checks(solutions), Check("cifar.tuned", "cifar_tuned", "cifar-search", points, accuracy)]


def nbgrader_cells(check: Check) -> list[nbformat.NotebookNode]:
    """The autograded test cell of `check`: graded, locked, worth the rubric's points."""
    cell = nbformat.v4.new_code_cell(check.source.strip() + "\n")
    cell.id = check.name.replace("_", "-") + "-test"
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": check.name,
        "locked": True,
        "points": check.points,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return [cell]


def _config(course: Path, cell_timeout: float) -> str:
    return f"""c = get_config()
c.CourseDirectory.root = {str(course)!r}
c.CourseDirectory.course_id = "cs145"
# A full training cell takes longer than the default 30 s; the same bound as our rubric's.
c.Execute.timeout = {int(cell_timeout)}
# By default autograde overwrites every file of the source folder in the submission with the
# instructor's copy: the student's neural_net.py would be replaced by the starter's.
c.Autograde.exclude_overwriting = {{{ASSIGNMENT!r}: [{MODULE!r}]}}
"""


def build_course(work: Path, solutions: Path, starter: Path, cell_timeout: float) -> tuple[Path, int]:
    """Write the nbgrader course tree under `work`; return its root and the graded cells per notebook."""
    course = work / "course"
    if course.exists():
        shutil.rmtree(course)
    source = course / "source" / ASSIGNMENT
    checks = _all_checks(solutions)
    notebooks.write(notebooks.insert_after(notebooks.read(solutions / NOTEBOOK), checks, nbgrader_cells),
                    source / NOTEBOOK)  # fmt: skip
    (source / MODULE).parent.mkdir(parents=True)
    shutil.copyfile(starter / MODULE, source / MODULE)
    shutil.copytree(solutions / "data", source / "data", ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    (course / "nbgrader_config.py").write_text(_config(course, cell_timeout))
    return course, len(checks)


def _submit(course: Path, student: str, folder: Path, release_nb: nbformat.NotebookNode, cifar_dir: Path) -> None:
    """`folder` as `submitted/<student>/hw3/`, its notebook carrying the release's test cells."""
    dest = course / "submitted" / student / ASSIGNMENT
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in release_nb.cells if "nbgrader" in c.metadata}
    anchors = {}
    previous = None
    for cell in release_nb.cells:  # each test cell follows the student cell it tests
        if "nbgrader" in cell.metadata and previous is not None:
            anchors[cell.metadata["nbgrader"]["grade_id"]] = previous
        elif "nbgrader" not in cell.metadata:
            previous = cell.get("id")
    # Check here only carries a placement (name, anchor) for insert_after; the code is the release's.
    placed = [Check("", grade_id, anchors.get(grade_id, ""), 0.0, "") for grade_id in tests]
    student_nb = notebooks.insert_after(notebooks.read(folder / NOTEBOOK), placed, lambda c: [tests[c.name]])
    notebooks.write(student_nb, dest / NOTEBOOK)
    (dest / MODULE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / MODULE, dest / MODULE)
    shutil.copytree(course / "release" / ASSIGNMENT / "data", dest / "data", dirs_exist_ok=True)
    link_data(dest, cifar_dir)


def measure_nbgrader(
    submissions: Sequence[Path], work: Path, cifar_dir: Path, solutions: Path, starter: Path, cell_timeout: float
) -> tuple[PeerRun, dict[str, tuple[float, float]]]:
    """Grade `submissions` with nbgrader autograde; the run and each student's (score, max) from the gradebook."""
    nbgrader = venv_bin(VENV, "nbgrader")
    env = peer_env(VENV)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "nbgrader.log"
    course, checks = build_course(work, solutions, starter, cell_timeout)
    run([nbgrader, "generate_assignment", ASSIGNMENT, "--force"], course, env, log)
    release_nb = notebooks.read(course / "release" / ASSIGNMENT / NOTEBOOK)
    students = [folder.name for folder in submissions]
    for student, folder in zip(students, submissions, strict=True):
        _submit(course, student, folder, release_nb, cifar_dir)
    clock = ChildClock()
    with clock:  # the grading, all of it: execution, test cells, the gradebook's writes
        run([nbgrader, "autograde", ASSIGNMENT, "--force"], course, env, log)
    db = f"sqlite:///{course / 'gradebook.db'}"
    read = run([venv_bin(VENV, "python"), "-c", _READ_GRADEBOOK, db, ASSIGNMENT], course, env, log)
    grades = json.loads(read.stdout)
    caught = {s: grades[s]["score"] < grades[s]["max_score"] for s in students}
    peer = PeerRun(
        tool=f"nbgrader {installed_version(VENV, 'nbgrader')}",
        mode="autograde, sequential, no Docker",
        submissions=len(students),
        wall=clock.wall,
        cpu=clock.cpu,
        parallel="no",
        caught=caught,
        checks=checks,
    )
    return peer, {s: (grades[s]["score"], grades[s]["max_score"]) for s in students}
