"""`grader check`: the public checks on a student's folder, on the grading code path.

It needs no solutions/ and no sandbox (a plain child process with the grading limits),
shows no hidden check and no hidden value, and warns about what loses points silently,
in words for the student.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.selfcheck import run_self_check

ROOT = Path(__file__).resolve().parents[1]
HIDDEN_WORDS = (".hidden", "hidden-", "handcalc.", "questions.", "cifar.baseline")


def _working_copy(tmp_path: Path, source: str) -> Path:
    """A student's folder: the starter's files, with notebook and module from `source`."""
    folder = tmp_path / f"hw-{source}"
    shutil.copytree(ROOT / "assignment", folder)
    for name in ("toy_nn.ipynb", "hw3code/neural_net.py"):
        shutil.copy(ROOT / source / name, folder / name)
    return folder


def test_quick_check_of_a_finished_module_passes_every_public_check(tmp_path, capsys):
    folder = _working_copy(tmp_path, "solutions")
    assert main(["check", str(folder), "--quick"]) == 0
    out = capsys.readouterr().out
    for check_id in ("toy.scores", "toy.loss", "toy.gradients", "toy.train", "bonus.softmax"):
        assert re.search(rf"✔ {re.escape(check_id)}\s", out), out
    assert "needs the notebook: not run with --quick" in out
    assert "graded after you submit" in out
    assert not any(word in out for word in HIDDEN_WORDS)
    # No alarm about isolation for a student's own code; what limits it ran under instead.
    assert "ISOLATED" not in out.upper() and "sandbox" not in out
    assert "Your code ran in a separate process under the grading limits: 2400 s in all, 900 s per cell" in out


def test_quick_check_of_the_starter_fails_and_says_why(tmp_path, capsys):
    folder = _working_copy(tmp_path, "assignment")
    assert main(["check", str(folder), "--quick"]) == 1
    out = capsys.readouterr().out
    assert "✘ toy.scores" in out and "not implemented yet?" in out
    assert "Section 1, forward pass: not answered yet" in out


def test_the_check_warns_about_what_loses_points_silently(tmp_path):
    folder = _working_copy(tmp_path, "solutions")
    path = folder / "toy_nn.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.get("id") != "cifar-baseline-history"]  # a deleted starter cell
    for cell in nb.cells:
        if cell.get("id") == "toy-train":  # a hyperparameter changed in a given cell
            cell.source = cell.source.replace("num_iters=100", "num_iters=300")
        if cell.get("id") == "cifar-search":  # and outside the region of a region cell
            cell.source = cell.source.replace("opt_settings_str = ''\n", "opt_settings_str = 'none'\n")
        if cell.get("id") == "handcalc-backward-answer":
            cell.source = "**Answers:** I used the chain rule and the sigmoid's derivative."
    nbformat.write(nb, path)
    check = run_self_check(folder, quick=True)
    warnings = "\n".join(check.warnings)
    # Addressed to the student who wrote the code, not to the TA who reads the report.
    assert "you deleted 1 code cell(s) of the starter notebook (cifar-baseline-history)" in warnings
    assert "you changed the given cell toy-train: the grader runs the course's version of a given cell" in warnings
    assert "you changed code outside the START/END regions in cell cifar-search: the homework asks" in warnings
    assert "undo any change you did not mean to make" in warnings
    assert "Section 1, backward pass: the answer has no numbers in it" in warnings
    assert "forward pass" not in warnings
    assert "check that it was highlighted" not in warnings  # the TA's wording stays in the report
    assert "check that it was highlighted" in check.result.check("integrity.code").message


@pytest.mark.slow
def test_the_check_runs_on_the_grading_code_path(tmp_path, demo_results):
    check = run_self_check(_working_copy(tmp_path, "solutions"), quick=True)
    graded = demo_results["reference"]
    for result in check.result.checks:
        if result.id.startswith("toy."):
            assert result.message == graded.check(result.id).message
            assert result.score == graded.check(result.id).score
    # The student's own code needs limits and a clean child process, not the sandbox.
    assert not check.result.sandboxed and "isolation='none'" in check.result.sandbox_note


@pytest.mark.slow
def test_a_full_check_runs_the_notebook_with_progress(tmp_path, cifar_dir, cache, capsys, finished_notebook):
    folder = _working_copy(tmp_path, "solutions")
    shutil.copy(finished_notebook, folder / "toy_nn.ipynb")
    progress = []
    check = run_self_check(folder, cifar_dir=cifar_dir, cache=cache, progress=progress.append)
    assert [c.cell_id for c in progress][:3] == ["setup", "toy-import", "toy-setup"]
    assert len(progress) == 15 and all(c.status == "ok" for c in progress)
    tuned = check.result.check("cifar.tuned")
    assert tuned.status == "passed" and tuned.score == tuned.max_score
    assert check.passed
    assert {c.id for c in check.result.checks} == {
        "toy.scores", "toy.loss", "toy.gradients", "toy.train", "cifar.tuned", "cifar.test", "bonus.softmax",
        "integrity.cells", "integrity.code", "integrity.unseen",
    }  # fmt: skip


@pytest.mark.slow
def test_the_command_needs_no_solutions_folder(tmp_path):
    """Run from a folder where no checkout is in sight: only the starter the grader ships."""
    folder = _working_copy(tmp_path, "solutions")
    run = subprocess.run(
        [sys.executable, "-m", "grader", "check", "--quick", "--starter", str(ROOT / "assignment")],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "public checks: 14 of 14 points" in run.stdout


@pytest.mark.parametrize("bad", ["missing-folder", "a-file"])
def test_a_wrong_path_is_a_clear_error(tmp_path, capsys, bad):
    path = tmp_path / bad
    if bad == "a-file":
        path.write_text("x")
    assert main(["check", str(path), "--quick"]) == 2
    assert "not a folder; run `grader check` in your assignment folder" in capsys.readouterr().err


def test_without_the_sandbox_every_result_says_it_was_not_isolated(tmp_path):
    from grader.grading import Course, grade_submission
    from grader.intake import read_submission
    from grader.results import read_result
    from grader.rubric import load_rubric

    folder = _working_copy(tmp_path, "solutions")
    course = Course(load_rubric(ROOT / "assignment" / "rubric.toml"), ROOT / "assignment", None, None, "none")
    out = tmp_path / "out"
    result = grade_submission(read_submission(folder), course, reference=None, out_dir=out, run_notebook=False)
    assert not result.sandboxed and "NOT ISOLATED" in result.sandbox_note
    assert result.check("toy.scores").status == "passed"  # graded all the same
    stored = read_result(out / "results.json")
    assert stored.to_gradescope()["output"].splitlines()[1].startswith("WARNING: ")
    assert "NOT ISOLATED" in (out / "grading.log").read_text()
