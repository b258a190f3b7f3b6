"""The demo class, graded end to end: each example gets the grade its mistake deserves.

Everything here ran for real: the sandbox, nbclient kernels, the full-size synthetic
CIFAR-10 data set, the reference solution's run for the hidden checks.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from grader.grading import grade_batch, open_course, reference_evidence
from grader.probe_plan import plan_probes
from grader.sandbox import isolation_available

pytestmark = pytest.mark.slow  # every test reads the demo class, graded for real (minutes)

AUTOMATIC = ("handcalc.", "toy.", "cifar.", "bonus.")
GRADESCOPE_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def _status(result, check_id):
    return result.check(check_id).status


def test_every_example_was_graded_in_the_sandbox_where_there_is_one(demo, demo_results):
    batch, _ = demo
    assert batch.complete
    assert set(demo_results) == {
        "reference",
        "starter",
        "forgot-half",
        "no-regularization",
        "sigmoid-hidden",
        "seed-answers",
        "hardcoded-seed",
    }
    isolated, why = isolation_available()
    for result in demo_results.values():
        # Where bwrap cannot run, the fallback grades as well and says it was not isolated.
        assert result.sandboxed is isolated, result.sandbox_note
        assert isolated or result.sandbox_note.startswith(f"NOT ISOLATED ({why})")
        assert result.problems == ()


def test_the_reference_gets_full_marks_on_every_automatic_check(demo_results, cifar_dir):
    """On the realistic profile, which learns like the real CIFAR-10: full credit with a margin."""
    assert cifar_dir.parent.name == "synthetic-realistic"  # the demo's data, and what the reference is sized for
    reference = demo_results["reference"]
    for check in reference.checks:
        if check.id.startswith(AUTOMATIC):
            assert (check.status, check.score) == ("passed", check.max_score), (check.id, check.message)
    assert {c.status for c in reference.checks if c.manual} == {"pending"}
    # Full credit from 45%; the issue asks for 47%, above the noise of 1000 validation images.
    assert reference.validation_accuracy >= 0.47
    # The synthetic data's calibration: the untuned 1.6.1 settings stay near 15-20%.
    assert 0.15 <= reference.check("cifar.baseline").details[0].observed <= 0.22
    assert reference.check("integrity.cells").status == reference.check("integrity.code").status == "passed"
    assert reference.check("integrity.unseen").status == "passed"  # an honest search is not flagged
    # The whole notebook ran headlessly through nbclient on the synthetic data.
    cells = reference.info.cells
    assert len(cells) == 15 and all(c.status == "ok" for c in cells), cells


def test_the_long_probe_trains_beside_the_notebook_and_grades_the_same(demo, demo_results):
    """The 1.6.1 retraining probe runs while the notebook does (grading.log's stages say for
    how long); the short probes ran before the notebook began. The grades are the demo's."""
    _, out = demo
    log = (out / "reference" / "grading.log").read_text().splitlines()
    stages = json.loads(next(line for line in log if line.startswith("stages: ")).removeprefix("stages: "))
    assert 0 < stages["run.probes.beside_notebook"] < stages["run.notebook"], stages
    assert stages["run.probes"] > stages["run.probes.beside_notebook"], stages  # the short ones, first
    assert demo_results["reference"].check("cifar.baseline").status == "passed"


def test_the_long_probe_computes_beside_the_notebook_what_it_computes_alone(demo, project, cache, cifar_dir, tmp_path):
    """Grades stay bit for bit: the reference's 1.6.1 retraining, run beside its notebook in the
    demo, left the very weights and history it leaves in a run of the module alone."""
    _, out = demo
    course = open_course(project.solutions, project.assignment, cifar_dir=cifar_dir, cache=cache)
    beside = reference_evidence(course, out, lambda _: None).probe("cifar-baseline")  # the demo's, stored
    (long,) = [p for p in plan_probes(hidden=True, cifar=True) if p.kind == "cifar_train"]
    module = (project.solutions / course.rubric.module).read_text(encoding="utf-8")
    alone, _ = course.run(None, module, [long], tmp_path, run_notebook=False)
    alone = alone.probe("cifar-baseline")
    assert beside.ok and alone.ok
    assert sorted(beside.arrays) == sorted(alone.arrays)
    for name, array in beside.arrays.items():
        assert np.array_equal(array, alone.arrays[name]), name


def test_the_starter_gets_zero_on_everything_it_leaves_unimplemented(demo_results):
    starter = demo_results["starter"]
    assert starter.score == 0
    for check in starter.checks:
        if not check.id.startswith("integrity."):
            assert check.status in ("failed", "error"), (check.id, check.status)
    assert "not implemented" in starter.check("toy.scores").message
    assert starter.check("bonus.softmax").message.startswith("not attempted")
    assert starter.check("handcalc.forward").message == "no answer found in the notebook"
    # It imports and runs up to its first unimplemented part, the forward pass.
    statuses = {c.id: c.status for c in starter.info.cells}
    assert [statuses[i] for i in ("setup", "toy-import", "toy-setup", "toy-scores")] == ["ok", "ok", "ok", "error"]
    # The untouched starter changes nothing outside the regions and deletes no cell.
    assert _status(starter, "integrity.cells") == _status(starter, "integrity.code") == "passed"


def test_a_forgotten_half_fails_the_loss_but_not_the_forward_pass(demo_results):
    result = demo_results["forgot-half"]
    assert _status(result, "toy.scores") == _status(result, "toy.scores.hidden") == "passed"
    assert _status(result, "toy.loss") == "failed"
    assert "is the 1/2 missing?" in result.check("toy.loss").message
    # Loss and gradient agree with each other (the numerical check passes), not with the reference.
    assert _status(result, "toy.gradients") == "passed"
    assert _status(result, "toy.gradients.hidden") == "failed"
    assert result.score < demo_results["reference"].score


def test_a_missing_regularisation_breaks_loss_and_weight_gradients(demo_results):
    result = demo_results["no-regularization"]
    assert _status(result, "toy.loss") == "failed"
    gradients = {row.label: row.ok for row in result.check("toy.gradients").details}
    # The given backward pass adds reg * W: only the weight gradients disagree now.
    assert gradients == {"W1": False, "b1": True, "W2": False, "b2": True}
    assert _status(result, "toy.scores") == "passed"


def test_a_sigmoid_hidden_layer_fails_the_forward_pass(demo_results):
    result = demo_results["sigmoid-hidden"]
    assert _status(result, "toy.scores") == _status(result, "toy.scores.hidden") == "failed"
    assert result.check("toy.scores.hidden").score == 0


def test_the_seed_students_backward_answers_are_wrong_and_say_what_was_found(demo_results):
    result = demo_results["seed-answers"]
    assert (result.check("handcalc.forward").status, result.check("handcalc.forward").score) == ("passed", 6)
    backward = result.check("handcalc.backward")
    assert (backward.status, backward.score) == ("failed", 0)
    # Students read the message (Gradescope shows it): the found values, never the right ones.
    assert "0.1662" in backward.message and "0.1385" not in backward.message and "0.0821" not in backward.message
    # Per quantity, the value found as a number (the report diffs it), as written in the note.
    found = {row.label: row for row in backward.details}
    assert found["∂l/∂b⁽²⁾"].observed == 0.1662 and found["∂l/∂b⁽²⁾"].note.startswith("0.1662 ≠ ")
    assert list(found["∂l/∂W⁽²⁾"].observed) == [0.0986, 0.0992]
    assert found["∂l/∂W⁽²⁾"].note.startswith("[0.0986, 0.0992] ")


def test_hard_coding_the_seeds_numbers_passes_public_and_fails_hidden_checks(demo_results):
    result = demo_results["hardcoded-seed"]
    assert _status(result, "toy.scores") == _status(result, "toy.loss") == "passed"
    assert result.check("toy.scores.hidden").score == 0
    assert result.check("toy.loss.hidden").score < result.check("toy.loss.hidden").max_score


def test_results_files_follow_the_gradescope_specification(demo, demo_results):
    _, out = demo
    for student, result in demo_results.items():
        data = json.loads((out / student / "results.json").read_text())
        assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], (int, float))
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
        assert data["score"] == pytest.approx(result.score)
        assert [t["number"] for t in data["tests"]] == [str(i + 1) for i in range(len(data["tests"]))]
        for test in data["tests"]:
            assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}
            assert test["status"] in ("passed", "failed")
            assert test["visibility"] in GRADESCOPE_VISIBILITY
            assert set(test["extra_data"]) >= {"check_id", "expected", "observed", "tolerance"}
        if result.validation_accuracy is not None:
            assert data["leaderboard"] == [
                {"name": "Validation accuracy", "value": round(result.validation_accuracy, 4), "order": "desc"}
            ]
        assert (out / student / "grading.log").read_text().startswith(f"student: {student}\n")


def test_the_gradebook_has_a_row_and_a_column_per_check(demo, demo_results):
    _, out = demo
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(demo_results)
    for student, result in demo_results.items():
        assert float(rows[student]["total"]) == pytest.approx(result.score, abs=1e-5)
        for check in result.checks:
            if check.status == "skipped":  # not run (no best_net to compare): in no total, and said so
                assert rows[student][check.id] == "skipped"
            else:
                assert float(rows[student][check.id]) == pytest.approx(check.score, abs=1e-5)


def test_a_second_run_keeps_unchanged_results_without_regrading(demo, project, cache, cifar_dir):
    batch, out = demo
    course = open_course(project.solutions, project.assignment, cifar_dir=cifar_dir, cache=cache)
    again = grade_batch([out / ".examples"], out, course, jobs=2, log=lambda _: None)
    assert sorted(again.reused) == sorted(r.student for r in batch.results)
    assert {r.student: r.score for r in again.results} == {r.student: r.score for r in batch.results}
