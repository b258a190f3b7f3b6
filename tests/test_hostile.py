"""Hostile and broken submissions, graded in one batch with a good one.

Each trick of `tests/files/hostile.toml` runs for real in the sandbox. None may stop
the batch, reach outside the sandbox, or fool the grader; each costs only the
checks that depend on what it broke. The batch runs without CIFAR-10 data (the
CIFAR checks are skipped) and with short time limits, to stay fast.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from grader.errors import ConfigError
from grader.examples import materialize_examples
from grader.gradebook import LEDGER, ManualScore, apply_manual_scores
from grader.grading import grade_batch, open_course
from grader.results import SubmissionResult, read_result
from grader.sandbox import isolation_available

ROOT = Path(__file__).resolve().parents[1]
MARKER = Path("/tmp/grader-test-unpickled-marker")

pytestmark = pytest.mark.skipif(not isolation_available()[0], reason=isolation_available()[1])


def _short_limits_rubric(source: Path, target: Path) -> Path:
    text = source.read_text()
    limits = "[limits]\ntimeout = 150\ncell_timeout = 5\nprobe_timeout = 30\nmemory_mb = 4096\nmax_processes = 128\n"
    text = re.sub(r"\[limits\]\n(?:[^\[]*\n)", limits + "\n", text, count=1)
    target.write_text(text)
    return target


def _broken_submissions(folder: Path, solutions: Path) -> list[Path]:
    module = (solutions / "hw3code" / "neural_net.py").read_text()
    notebook = (solutions / "toy_nn.ipynb").read_text()
    made = {
        "invalid-json": {"toy_nn.ipynb": notebook[: len(notebook) // 2], "hw3code/neural_net.py": module},
        "no-module": {"toy_nn.ipynb": notebook},
        "syntax-error": {
            "toy_nn.ipynb": notebook,
            "hw3code/neural_net.py": module.replace("def predict(", "def predict(:"),
        },
        "empty-module": {"toy_nn.ipynb": notebook, "hw3code/neural_net.py": ""},
        "no-notebook": {"hw3code/neural_net.py": module},
        # Half an emoji, as JSON may spell it ("\ud83d"): valid JSON that UTF-8 cannot hold.
        "lone-surrogate": {"toy_nn.ipynb": _with_text(notebook, "Good luck \ud83d!"), "hw3code/neural_net.py": module},
    }
    for student, files in made.items():
        for name, text in files.items():
            (folder / student / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / student / name).write_text(text)
    return [folder / student for student in made]


def _with_text(notebook: str, text: str) -> str:
    """`notebook` (JSON) with `text` added to its first cell, escaped as json.dumps does."""
    data = json.loads(notebook)
    data["cells"][0]["source"] = [*data["cells"][0]["source"], "\n", text]
    return json.dumps(data)


@pytest.fixture(scope="module")
def host_listener():
    """A TCP listener on the host's loopback: the `network` case aims at it (never outside)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


@pytest.fixture(scope="module")
def hostile(project, tmp_path_factory, host_listener):
    root = tmp_path_factory.mktemp("hostile")
    rubric = _short_limits_rubric(project.solutions / "rubric.toml", root / "rubric.toml")
    course = open_course(
        project.solutions, project.assignment, cifar_dir=None, cache=root / "cache", skip_cifar=True, rubric_path=rubric
    )
    manifest = root / "hostile.toml"
    port = str(host_listener.getsockname()[1])
    manifest.write_text((ROOT / "tests" / "files" / "hostile.toml").read_text().replace("HOST_PORT", port))
    folders = materialize_examples(
        manifest,
        {"solutions": project.solutions},
        root / "submissions",
        notebook=course.rubric.notebook,
        module=course.rubric.module,
    )
    (root / "submissions" / "good").mkdir()
    for name in ("toy_nn.ipynb", "hw3code/neural_net.py"):
        (root / "submissions" / "good" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submissions" / "good" / name).write_bytes((project.solutions / name).read_bytes())
    folders += [root / "submissions" / "good", *_broken_submissions(root / "submissions", project.solutions)]
    MARKER.unlink(missing_ok=True)
    out = root / "out"
    batch = grade_batch(folders, out, course, jobs=2, log=lambda _: None)
    return batch, out, course, folders


@pytest.fixture(scope="module")
def results(hostile):
    batch, *_ = hostile
    return {r.student: r for r in batch.results}


def _cell(result, cell_id):
    return next(c for c in result.info["cells"] if c["id"] == cell_id)


def test_every_submission_gets_a_result_and_the_batch_completes(hostile, results):
    batch, out, _, folders = hostile
    assert batch.complete
    assert set(results) == {f.name for f in folders}
    for student in results:
        assert (out / student / "results.json").is_file()
        assert (out / student / "grading.log").is_file()
        assert results[student].sandboxed


def test_the_good_submission_passes_everything_it_can_without_data(results):
    good = results["good"]
    for check in good.checks:
        if check.id.startswith(("handcalc.", "toy.", "bonus.")):
            assert check.status == "passed", (check.id, check.message)
        if check.id.startswith("cifar."):
            assert check.status == "skipped"
    # Graded without the data on purpose: the 35 CIFAR-10 points are in no maximum, anywhere.
    assert (good.max_score, good.skipped_points) == (65, 35)
    written = good.to_gradescope()
    tuned = next(t for t in written["tests"] if t["extra_data"]["check_id"] == "cifar.tuned")
    assert (tuned["score"], tuned["max_score"], tuned["extra_data"]["max_points"]) == (0, 0, 25)
    assert sum(t["max_score"] for t in written["tests"] if not t["extra_data"]["bonus"]) == 65
    read_back = SubmissionResult.from_gradescope(json.loads(json.dumps(written)))
    assert (read_back.max_score, read_back.check("cifar.tuned").max_score) == (65, 25)


def test_the_reference_solution_is_not_visible_from_the_sandbox(results):
    check = results["looks-for-solutions"].check("toy.scores")
    assert check.status == "error"
    assert "no reference solution visible from here" in check.message


def test_a_process_bomb_hits_the_process_limit_and_the_run_goes_on(results):
    result = results["process-bomb"]
    bomb = _cell(result, "trick")
    assert bomb["status"] == "error"
    assert "Resource temporarily unavailable" in bomb["error"] or "BlockingIOError" in bomb["error"]
    assert _cell(result, "toy-gradients")["status"] == "ok"
    assert result.check("toy.scores").status == "passed"


def test_an_endless_cell_times_out_and_the_next_cells_run(results):
    result = results["endless-cell"]
    assert _cell(result, "trick")["status"] == "timeout"
    assert _cell(result, "toy-setup")["status"] == "ok"
    assert _cell(result, "toy-scores")["status"] == "ok"


def test_a_cell_that_ignores_interrupts_stops_the_notebook_but_not_the_probes(results):
    result = results["stubborn-cell"]
    assert _cell(result, "trick")["status"] == "timeout"
    later = _cell(result, "toy-scores")
    assert later["status"] == "not-run" and "stayed busy" in later["error"]
    assert result.check("toy.scores").status == result.check("toy.train").status == "passed"


def test_a_dead_kernel_costs_the_later_cells_only(results):
    result = results["kernel-exit"]
    assert _cell(result, "trick")["status"] == "dead"
    assert _cell(result, "toy-train")["status"] == "not-run"
    assert result.check("toy.loss.hidden").status == "passed"


def test_a_memory_hog_gets_a_memory_error_in_its_cell(results):
    result = results["memory-hog"]
    hog = _cell(result, "trick")
    assert hog["status"] == "error" and "MemoryError" in hog["error"]
    assert _cell(result, "toy-setup")["status"] == "ok"


def test_a_module_that_never_imports_fails_every_probe_on_time(results):
    result = results["import-hang"]
    for check_id in ("toy.scores", "toy.loss", "toy.train"):
        assert result.check(check_id).status == "error"
        assert "ran out of time" in result.check(check_id).message
    assert result.check("toy.scores").score == 0


def test_probes_grade_the_submitted_module_even_if_the_notebook_replaces_it(results):
    result = results["rewrites-module"]
    assert result.check("toy.scores").status == result.check("toy.scores.hidden").status == "passed"
    assert _cell(result, "toy-scores")["status"] == "error"  # the notebook saw its replacement


def test_a_given_cell_runs_as_the_course_wrote_it(results):
    """The trick of `rewrites-module`, put in a given cell instead of a cell of its own, never runs."""
    result = results["tampers-with-given-cell"]
    assert _cell(result, "toy-scores")["status"] == "ok"  # the module was not replaced
    assert result.info["restored_cells"] == ["toy-import"]
    code = result.check("integrity.code")
    assert code.status == "flagged" and "the course's version of the given cell toy-import ran instead" in code.message
    assert "raise SystemExit('replaced')" in code.details[0]["observed"]  # the TA sees the edit as a diff
    assert result.score == results["good"].score


def test_there_is_no_network_in_the_sandbox(results, host_listener):
    cell = _cell(results["network"], "trick")
    assert cell["status"] == "error"
    assert "ConnectionRefusedError" in cell["error"]  # the sandbox's own loopback: nobody listens
    with pytest.raises(BlockingIOError):  # and the host's listener never heard of it
        host_listener.accept()


def test_a_flood_of_output_is_trimmed(hostile, results):
    _, out, *_ = hostile
    assert _cell(results["output-flood"], "trick")["status"] == "ok"
    executed = out / "output-flood" / "executed.ipynb"
    assert executed.stat().st_size < 1_000_000
    assert "output trimmed by the grader" in executed.read_text()


def test_a_poisoned_harvest_is_never_unpickled(hostile, results):
    assert not MARKER.exists()
    result = results["poisoned-harvest"]
    assert result.check("toy.scores").status == "passed"  # the rest of the grade stands


@pytest.mark.parametrize(
    ("student", "problem"),
    [
        ("invalid-json", r"toy_nn\.ipynb: not a notebook: invalid JSON at line \d+ column \d+"),
        ("no-module", r"no hw3code/neural_net\.py in the submission"),
        ("syntax-error", r"hw3code/neural_net\.py, line \d+: syntax error"),
        ("empty-module", r"hw3code/neural_net\.py is empty"),
        ("no-notebook", r"no notebook \(toy_nn\.ipynb\) in the submission"),
    ],
)
def test_a_broken_submission_is_graded_as_far_as_possible_with_a_precise_message(results, student, problem):
    result = results[student]
    assert any(re.search(problem, p) for p in result.problems), result.problems
    assert result.score < results["good"].score


def test_a_notebook_with_half_an_emoji_is_graded_whole(results):
    result = results["lone-surrogate"]
    assert any("unpaired UTF-16 surrogates), replaced by �" in p for p in result.problems), result.problems
    assert (result.score, result.harness_failed) == (results["good"].score, False)


def test_a_missing_notebook_still_gets_its_module_graded(results):
    result = results["no-notebook"]
    assert result.check("toy.scores.hidden").status == "passed"
    assert result.check("handcalc.forward").message == "no answer found in the notebook"


def test_force_regrades_keeping_the_tas_scores_and_otherwise_results_are_kept(hostile, results):
    _, out, course, folders = hostile
    good = [f for f in folders if f.name == "good"]
    ta = ManualScore("good", "questions.test", 3.0, "- too short on the gap")
    kept = grade_batch(good, out, course, jobs=1, manual_scores=[ta], manual_source="ta.csv", log=lambda _: None)
    assert kept.reused == ("good",)
    assert kept.results[0].score == results["good"].score + 3.0
    assert read_result(out / "good" / "results.json") == kept.results[0]
    assert "good,questions.test,3.0,- too short on the gap" in (out / LEDGER).read_text()
    # A regrade starts from scratch, then the recorded TA score comes back.
    forced = grade_batch(good, out, course, jobs=1, force=True, log=lambda _: None)
    assert forced.reused == ()
    assert forced.results[0].score == kept.results[0].score
    assert forced.results[0].graded_at >= kept.results[0].graded_at
    check = read_result(out / "good" / "results.json").check("questions.test")
    assert (check.score, check.message) == (3.0, "scored by a TA: 3/5; - too short on the gap")
    # Regrading one student keeps everyone else in the class files.
    gradebook = (out / "gradebook.csv").read_text().splitlines()
    assert len(gradebook) == 1 + len(folders) and gradebook[1].startswith("good,")
    assert f"{len(folders)} submissions" in (out / "index.html").read_text()
    assert "scored by a TA: 3/5; - too short on the gap" in (out / "good" / "report.html").read_text()
    # A score for a student who is not there is refused before anything is graded.
    with pytest.raises(ConfigError, match=r"ta\.csv: no submission of nobody to grade here"):
        unknown = [ManualScore("nobody", "questions.test", 1.0)]
        grade_batch(good, out, course, manual_scores=unknown, manual_source="ta.csv", log=lambda _: None)


def test_manual_scores_merge_into_the_totals(results):
    good = results["good"]
    merged = apply_manual_scores(
        [good], [ManualScore("good", "questions.tuning", 4.0, "clear, but say why decay helps")]
    )[0]
    check = merged.check("questions.tuning")
    assert (check.status, check.score) == ("partial", 4.0)
    assert "clear, but say why decay helps" in check.message
    assert merged.score == pytest.approx(good.score + 4.0)
    gradescope = merged.to_gradescope()
    assert gradescope["score"] == pytest.approx(sum(t["score"] for t in gradescope["tests"]))
    assert json.dumps(gradescope)  # still valid JSON


def test_a_ta_overrides_an_automatic_check_and_the_graders_score_stays_on_record(results):
    good = results["good"]
    graders = good.check("handcalc.backward")
    regrade = [ManualScore("good", "handcalc.backward", 7.0, "sign slip in dL/dW2")]
    once = apply_manual_scores([good], regrade, "ta.csv")
    assert apply_manual_scores(once, regrade, "ta.csv") == once  # the record is applied on every run
    check = once[0].check("handcalc.backward")
    assert (check.status, check.score, graders.score) == ("partial", 7.0, 9.0)
    assert check.automatic == {"score": 9.0, "status": "passed", "message": graders.message}
    assert check.message == f"scored by a TA: 7/9; sign slip in dL/dW2 (the grader gave 9: {graders.message})"
    assert once[0].score == good.score - 2
    stored = SubmissionResult.from_gradescope(json.loads(json.dumps(once[0].to_gradescope())))
    kept = stored.check("handcalc.backward")
    assert (kept.score, kept.status, kept.message, kept.automatic) == (7.0, "partial", check.message, check.automatic)
    # A 0 for an integrity finding (worth no points) dismisses it.
    flagged = good.with_checks([replace(good.check("integrity.code"), status="flagged", message="code changed")])
    dismissed = apply_manual_scores([flagged], [ManualScore("good", "integrity.code", 0.0, "only a comment")])[0]
    assert dismissed.check("integrity.code").status == "passed" and dismissed.score == good.score
    with pytest.raises(ConfigError, match=r"ta\.csv: good has no check 'handcalc\.sideways'"):
        apply_manual_scores([good], [ManualScore("good", "handcalc.sideways", 1.0)], "ta.csv")
    with pytest.raises(ConfigError, match=r"ta\.csv: good handcalc\.backward: 10 is outside 0\.\.9"):
        apply_manual_scores([good], [ManualScore("good", "handcalc.backward", 10.0)], "ta.csv")
