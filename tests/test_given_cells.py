"""Given code runs as the course wrote it: a student's edit of a given cell costs no points.

A given cell is a starter code cell without a START/END region (the one that loads the data,
the toy cells). The most common innocent edit there is the path to a student's own copy of
the data, which fails in the grader's workspace: the grader runs the course's version of every
given cell (as nbgrader restores its read-only cells), keeps the student's region cells and
added cells, and shows the edit to the TA as an integrity finding with its diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from grader.checks.integrity import COURSE_RAN
from grader.datasets.cifar import prepare_split
from grader.grading import Course, grade_submission
from grader.intake import read_submission
from grader.notebooks import is_given, read_notebook, with_given_cells
from grader.report import write_report
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
STARTER = read_notebook(ROOT / "assignment" / "toy_nn.ipynb")
SOLUTION = read_notebook(ROOT / "solutions" / "toy_nn.ipynb")
COURSE_PATH = "cifar10_dir = './data/datasets/cifar-10-batches-py'"
OWN_PATH = "cifar10_dir = '/Users/alice/Downloads/cifar-10-batches-py'"


def _cell(nb, cell_id):
    (cell,) = [c for c in nb.cells if c.get("id") == cell_id]
    return cell


def test_the_given_cells_are_those_without_a_region():
    given = {c.get("id") for c in STARTER.cells if is_given(c)}
    assert "cifar-load" in given and "toy-train" in given
    assert not given & {"cifar-search", "bonus"}  # the regions the student fills


def test_an_untouched_solution_runs_as_it_is():
    run, restored = with_given_cells(SOLUTION, STARTER)
    assert restored == () and [c.source for c in run.cells] == [c.source for c in SOLUTION.cells]


def test_an_edited_given_cell_runs_as_the_course_wrote_it_and_the_rest_as_submitted():
    submitted = nbformat.from_dict(SOLUTION)
    _cell(submitted, "cifar-load").source = _cell(submitted, "cifar-load").source.replace(COURSE_PATH, OWN_PATH)
    _cell(submitted, "cifar-search").source += "\nprint('my own line, outside the region too')"
    submitted.cells.insert(1, nbformat.v4.new_code_cell("helper = 42", id="mine"))
    run, restored = with_given_cells(submitted, STARTER)
    assert restored == ("cifar-load",)
    assert COURSE_PATH in _cell(run, "cifar-load").source and OWN_PATH not in _cell(run, "cifar-load").source
    assert _cell(run, "cifar-search").source == _cell(submitted, "cifar-search").source  # a region cell: as submitted
    assert _cell(run, "mine").source == "helper = 42" and run.cells.index(_cell(run, "mine")) == 1
    assert OWN_PATH in _cell(submitted, "cifar-load").source  # the submitted notebook itself is untouched


def test_a_deleted_given_cell_is_put_back_where_it_was():
    submitted = nbformat.from_dict(SOLUTION)
    submitted.cells = [c for c in submitted.cells if c.get("id") != "cifar-baseline-history"]
    run, restored = with_given_cells(submitted, STARTER)
    assert restored == ("cifar-baseline-history",)
    ids = [c.get("id") for c in run.cells if c.cell_type == "code"]
    assert ids.index("cifar-baseline-history") == ids.index("cifar-baseline") + 1


def test_whitespace_is_not_an_edit():
    submitted = nbformat.from_dict(SOLUTION)
    _cell(submitted, "toy-train").source += "\n\n   "
    assert with_given_cells(submitted, STARTER)[1] == ()


@pytest.mark.slow
def test_a_changed_data_path_costs_no_points_and_is_shown_to_the_ta(tmp_path, cifar_dir, cache, finished_notebook):
    folder = tmp_path / "alice"
    (folder / "hw3code").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "hw3code" / "neural_net.py", folder / "hw3code")
    submitted = read_notebook(finished_notebook)
    _cell(submitted, "cifar-load").source = _cell(submitted, "cifar-load").source.replace(COURSE_PATH, OWN_PATH)
    nbformat.write(submitted, folder / "toy_nn.ipynb")
    rubric = load_rubric(ROOT / "solutions" / "rubric.toml")
    course = Course(rubric, ROOT / "assignment", None, prepare_split(cifar_dir, cache), isolation="none")
    out = tmp_path / "out"
    result = grade_submission(read_submission(folder), course, reference=None, out_dir=out / "alice")
    tuned, test = result.check("cifar.tuned"), result.check("cifar.test")
    assert (tuned.status, tuned.score, test.status) == ("passed", tuned.max_score, "passed"), tuned.message
    code = result.check("integrity.code")
    assert code.status == "flagged" and code.details[0].note == COURSE_RAN
    assert f"+{OWN_PATH}" in code.details[0].observed.replace("    ", "")  # the diff, for the TA
    assert "the course's version of the given cell cifar-load ran instead" in code.message
    write_report(result, out, rubric)
    report = (out / "alice" / "report.html").read_text()
    assert "version of the given cell(s) cifar-load ran instead of the submitted one" in report
