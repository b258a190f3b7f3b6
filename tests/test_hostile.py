"""The hostile corpus, graded in one batch with a good submission: nothing may stop the
batch, reach outside the sandbox, or earn more than the submission honestly does.

The cases are `tests/files/hostile.toml` (the reference with one trick each; each case's
`expect` says its outcome) and the malformed submissions of `tests/hostile_corpus.py`. The
batch runs without CIFAR-10 data (the CIFAR checks are skipped) and with short limits, to
stay fast. Corpus-wide, every test here holds for every case: a result and a report each;
no process left behind; no canary read, no byte written outside the workspace; nothing sent
to the host's loopback listeners; no hidden expected value in what a student sees. The same
corpus runs without the sandbox in `test_the_fallback_*`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from field_user import as_user, hiding_bwrap
from hostile_corpus import (
    DATA_TWIN,
    MALFORMED_EXPECT,
    build_corpus,
    files_named,
    leftover_processes,
    load_expectations,
    loopback_listeners,
    make_places,
    ports_of,
)
from scratch import scratch
from test_release import hidden_expected_values, hidden_tokens

from grader.confine import landlock_abi
from grader.errors import ConfigError
from grader.gradebook import LEDGER, ManualScore, apply_manual_scores
from grader.gradescope.feedback import gradescope_results
from grader.grading import grade_batch, open_course
from grader.intake.submission import safe_id
from grader.report import write_report
from grader.results import GraderScore, SubmissionResult, read_result
from grader.sandbox import isolation_available

ROOT = Path(__file__).resolve().parents[1]
MARKER = Path("/tmp/grader-test-unpickled-marker")
README = (ROOT / "README.md").read_text()
SECRET = "GRADER_TEST_SECRET"  # set in the grader's environment for the run: never seen inside

# Every test reads the corpus graded by the module fixtures (12 to 18 minutes in all).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not isolation_available()[0], reason=isolation_available()[1])]

SHORT_LIMITS = {"timeout": 150, "cell_timeout": 5, "probe_timeout": 30, "memory_mb": 2048, "max_processes": 128}
SHORT_LIMITS["disk_mb"] = 512


def _short_limits_rubric(source: Path, target: Path) -> Path:
    text = source.read_text()
    limits = "[limits]\n" + "".join(f"{k} = {v}\n" for k, v in SHORT_LIMITS.items())
    text = re.sub(r"\[limits\]\n(?:[^\[]*\n)", limits + "\n", text, count=1)
    target.write_text(text)
    return target


def _broken_submissions(folder: Path, solutions: Path) -> list[str]:
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
    return list(made)


def _with_text(notebook: str, text: str) -> str:
    """`notebook` (JSON) with `text` added to its first cell, escaped as json.dumps does."""
    data = json.loads(notebook)
    data["cells"][0]["source"] = [*data["cells"][0]["source"], "\n", text]
    return json.dumps(data)


@pytest.fixture(scope="module")
def host_loopback():
    """(TCP, UDP) on the host's loopback: the network cases aim at them (never outside)."""
    with loopback_listeners() as listeners:
        yield listeners


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """The corpus's folders and canaries; the home canary is removed afterwards."""
    with scratch(tmp_path_factory, "hostile") as folder:
        places = make_places(folder, Path.home())
        yield places
        for canary in places.canaries:
            canary.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def corpus(places, host_loopback) -> list[str]:
    """Every case written into the class folders, under the short limits; the students' ids."""
    _short_limits_rubric(places.solutions / "rubric.toml", places.solutions / "rubric.toml")
    students = build_corpus(places, ports_of(*host_loopback), sandboxed=True)
    return students + _broken_submissions(places.submissions, places.solutions)


@pytest.fixture(scope="module")
def hostile(places, corpus):
    """The corpus graded in one batch with the sandbox, the grader's environment holding a secret."""
    course = open_course(places.solutions, places.assignment, cifar_dir=None, cache=places.cache, skip_cifar=True)
    MARKER.unlink(missing_ok=True)
    before = places.fingerprint()
    os.environ[SECRET] = places.token
    try:
        batch = grade_batch([places.submissions], places.out, course, jobs=2, log=lambda _: None)
    finally:
        del os.environ[SECRET]
    return batch, places.out, course, corpus, before


@pytest.fixture(scope="module")
def results(hostile):
    batch, *_ = hostile
    return {r.student: r for r in batch.results}


def _cell(result, cell_id):
    return next(c for c in result.info.cells if c.id == cell_id)


def _outputs(out: Path, student: str, cell_id: str) -> str:
    """The text the cell `cell_id` printed, as the executed notebook kept it."""
    notebook = json.loads((out / student / "executed.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if c.get("id") == cell_id)
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))


# ---------------------------------------------------------------- for every case


def test_the_corpus_has_at_least_forty_cases_and_each_gets_a_result_and_a_report(hostile, results):
    batch, out, _, students, _ = hostile
    assert len(students) >= 40 + 1  # and the good one
    assert batch.complete
    ids = set(map(safe_id, students))
    assert set(results) == ids, set(results) ^ ids
    for student in results:
        for name in ("results.json", "grading.log", "report.html"):
            assert (out / student / name).is_file(), (student, name)
        stored = read_result(out / student / "results.json").to_gradescope()
        assert json.dumps(stored, sort_keys=True) == json.dumps(results[student].to_gradescope(), sort_keys=True)
        if results[student].info:
            assert results[student].sandboxed, student
    gradebook = (out / "gradebook.csv").read_text()
    assert len(gradebook.splitlines()) == 1 + len(results)


def test_no_process_of_any_submission_outlives_the_batch(hostile):
    assert leftover_processes() == []


def test_every_run_keeps_within_its_limits(results):
    """A timeout takes effect within seconds: no cell runs much past the cell limit (an ignored
    interrupt costs 15 s more, to tell a busy kernel from a slow one), no run past the whole."""
    for student, result in results.items():
        assert result.execution_time < SHORT_LIMITS["timeout"] + 30, student
        for cell in result.info.cells if result.info else ():
            assert cell.seconds < SHORT_LIMITS["cell_timeout"] + 20, (student, cell)


def test_no_byte_outside_a_workspace_was_written(hostile, places):
    *_, before = hostile
    assert places.fingerprint() == before
    for folder in (places.root, places.home):
        assert files_named(folder, "FORGED-*") == []
        assert files_named(folder, "escaped-by-*") == []
    assert not Path("/tmp/escaped-by-absolute-path.py").exists()


def test_nothing_a_submission_could_read_holds_a_canary_or_the_graders_environment(hostile, places, results):
    _, out, *_ = hostile
    for student in results:
        for path in (out / student).rglob("*"):
            if path.is_file():
                assert places.token not in path.read_text(errors="replace"), (student, path.name)


def test_nothing_reached_the_hosts_loopback(hostile, host_loopback):
    tcp, udp = host_loopback
    with pytest.raises(BlockingIOError):
        tcp.accept()
    with pytest.raises(BlockingIOError):
        udp.recvfrom(1024)


def test_no_hidden_expected_value_reaches_what_a_student_sees(hostile, results, tmp_path):
    course = hostile[2]
    tokens = hidden_tokens(hidden_expected_values())
    assert len(tokens) > 20
    number = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
    for student, result in results.items():
        feedback = json.dumps(gradescope_results(result, course.rubric))
        view = tmp_path / "views"
        (view / student).mkdir(parents=True, exist_ok=True)
        page = write_report(result, view, course.rubric, student_view=True).read_text()
        for where, text in (("results", feedback), ("student report", page)):
            leaked = set(number.findall(text)) & tokens
            assert not leaked, (student, where, sorted(leaked)[:5])


# ---------------------------------------------------------------- each case, as hostile.toml says


def _ends_as_expected(
    out: Path, results: dict[str, SubmissionResult], student: str, expect: dict, baseline: str = "good"
) -> None:
    """Assert each entry of a case's `expect` table (see hostile.toml) of its result; scores are
    compared with the honest `baseline`'s."""
    result, good = results[student], results[baseline]
    for cell_id, status in expect.get("cells", {}).items():  # statuses are regular expressions
        assert re.fullmatch(status, _cell(result, cell_id).status), (cell_id, _cell(result, cell_id))
    for cell_id, text in expect.get("cell_error", {}).items():
        assert text in _cell(result, cell_id).error, _cell(result, cell_id)
    for check_id, status in expect.get("checks", {}).items():
        assert re.fullmatch(status, result.check(check_id).status), (check_id, result.check(check_id))
    for check_id, text in expect.get("messages", {}).items():
        assert text in result.check(check_id).message
    for cell_id, pattern in expect.get("output", {}).items():
        assert re.search(pattern, _outputs(out, student, cell_id).strip(), re.M), _outputs(out, student, cell_id)
    for name, note in expect.get("harvest", {}).items():
        assert re.search(note, result.info.harvest[name]), result.info.harvest
    if "problem" in expect:
        assert any(re.search(expect["problem"], p) for p in result.problems), result.problems
    if expect.get("unforged"):  # the harness's own records, not the forged ones
        assert "FORGED" not in json.loads((out / student / "executed.ipynb").read_text())
        indexes = [c.index for c in result.info.cells]
        assert len(indexes) == len(set(indexes)) > 10
    lost = [(c.id, c.message) for c in result.checks if c.score < good.check(c.id).score]
    if expect.get("score") == "same":
        assert result.score == good.score, lost
    if expect.get("score") == "less":
        assert result.score < good.score
    assert result.score <= good.score  # never more than the reference earns


@pytest.mark.parametrize(("student", "expect"), sorted(load_expectations(sandboxed=True).items()))
def test_each_case_ends_as_its_expect_entry_says(hostile, results, student, expect):
    if not expect:
        pytest.skip("checked by its own test below")
    _ends_as_expected(hostile[1], results, student, expect)


@pytest.fixture(scope="module")
def with_data(places, corpus, cifar_dir):
    """The cases about best_net, graded with the synthetic CIFAR-10 data beside their twin."""
    limits = {"timeout": 600, "cell_timeout": 120, "probe_timeout": 300, "memory_mb": 8192}  # a real notebook's
    course = open_course(places.solutions, places.assignment, cifar_dir=cifar_dir, cache=places.cache, **limits)
    out = places.root / "out-with-data"
    batch = grade_batch([places.with_data], out, course, jobs=2, log=lambda _: None)
    return out, {r.student: r for r in batch.results}


@pytest.mark.parametrize(("student", "expect"), sorted(load_expectations(sandboxed=True, data=True).items()))
def test_each_case_about_best_net_ends_as_its_expect_entry_says(with_data, student, expect):
    out, results = with_data
    assert results[DATA_TWIN].check("cifar.tuned").score > 0  # the twin's best_net was graded
    _ends_as_expected(out, results, student, expect, baseline=DATA_TWIN)


@pytest.mark.parametrize(("student", "expect"), sorted(MALFORMED_EXPECT.items()))
def test_each_malformed_submission_gets_a_precise_message(results, student, expect):
    result = results[safe_id(student)]
    if expect.problem:
        assert any(re.search(expect.problem, p) for p in result.problems), result.problems
    if expect.score == "same":
        assert result.score == results["good"].score, [(c.id, c.message) for c in result.checks if c.status != "passed"]
    else:
        assert result.score < results["good"].score


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
    assert bomb.status == "error"
    assert "Resource temporarily unavailable" in bomb.error or "BlockingIOError" in bomb.error
    assert _cell(result, "toy-gradients").status == "ok"
    assert result.check("toy.scores").status == "passed"


def test_an_endless_cell_times_out_and_the_next_cells_run(results):
    result = results["endless-cell"]
    assert _cell(result, "trick").status == "timeout"
    assert _cell(result, "toy-setup").status == "ok"
    assert _cell(result, "toy-scores").status == "ok"


def test_a_cell_that_ignores_interrupts_stops_the_notebook_but_not_the_probes(results):
    result = results["stubborn-cell"]
    assert _cell(result, "trick").status == "timeout"
    later = _cell(result, "toy-scores")
    assert later.status == "not-run" and "stayed busy" in later.error
    assert result.check("toy.scores").status == result.check("toy.train").status == "passed"


def test_a_dead_kernel_costs_the_later_cells_only(results):
    result = results["kernel-exit"]
    assert _cell(result, "trick").status == "dead"
    assert _cell(result, "toy-train").status == "not-run"
    assert result.check("toy.loss.hidden").status == "passed"


def test_a_memory_hog_gets_a_memory_error_in_its_cell(results):
    result = results["memory-hog"]
    hog = _cell(result, "trick")
    assert hog.status == "error" and "MemoryError" in hog.error
    assert _cell(result, "toy-setup").status == "ok"


def test_a_module_that_never_imports_fails_every_probe_on_time(results):
    result = results["import-hang"]
    for check_id in ("toy.scores", "toy.loss", "toy.train"):
        assert result.check(check_id).status == "error"
        assert "ran out of time" in result.check(check_id).message
    assert result.check("toy.scores").score == 0


def test_probes_grade_the_submitted_module_even_if_the_notebook_replaces_it(results):
    result = results["rewrites-module"]
    assert result.check("toy.scores").status == result.check("toy.scores.hidden").status == "passed"
    assert _cell(result, "toy-scores").status == "error"  # the notebook saw its replacement


def test_a_given_cell_runs_as_the_course_wrote_it(results):
    """The trick of `rewrites-module`, put in a given cell instead of a cell of its own, never runs."""
    result = results["tampers-with-given-cell"]
    assert _cell(result, "toy-scores").status == "ok"  # the module was not replaced
    assert result.info.restored_cells == ("toy-import",)
    code = result.check("integrity.code")
    assert code.status == "flagged" and "the course's version of the given cell toy-import ran instead" in code.message
    assert "raise SystemExit('replaced')" in code.details[0].observed  # the TA sees the edit as a diff
    assert result.score == results["good"].score


def test_there_is_no_network_in_the_sandbox(results, host_loopback):
    cell = _cell(results["network"], "trick")
    assert cell.status == "error"
    assert "ConnectionRefusedError" in cell.error  # the sandbox's own loopback: nobody listens
    with pytest.raises(BlockingIOError):  # and the host's listener never heard of it
        host_loopback[0].accept()


def test_a_flood_of_output_is_trimmed(hostile, results):
    _, out, *_ = hostile
    assert _cell(results["output-flood"], "trick").status == "ok"
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


def test_force_regrades_keeping_the_tas_scores_and_otherwise_results_are_kept(hostile, places, results):
    _, out, course, *_ = hostile
    good = [places.submissions / "good"]
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
    assert len(gradebook) == 1 + len(results) and any(line.startswith("good,") for line in gradebook)
    assert f"{len(results)} submissions" in (out / "index.html").read_text()
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
    assert check.automatic == GraderScore(9.0, "passed", graders.message)
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


# ---------------------------------------------------------------- the same corpus, without the sandbox
# As instructors without bwrap grade: the CLI as an ordinary user, bwrap hidden. Every guarantee
# above holds there too, except what the README's Security model table marks **yes** in the
# column of the fallback with Landlock. Each such row has its case here: the UDP datagrams and
# the host's interfaces are shown to happen; the rewritten records (a race a daemon might win)
# are shown not to change the grade.

FALLBACK_CANNOT_STOP = {
    "UDP, such as a DNS lookup": "network-udp",
    "see the host's network interfaces": "network-interfaces",
    "rewrite its run's records (cell log, executed notebook) after the harness wrote them": "forges-executed-notebook",
}
BOMBS = ("process-bomb", "fork-bomb")  # graded alone: the fallback's process limit is the uid's


@pytest.fixture(scope="module")
def fallback(field, student, student_python):
    """The corpus graded by `grader grade` as the ordinary user with bwrap hidden."""
    if landlock_abi() < 4:
        pytest.skip("this kernel's Landlock cannot confine the fallback (the README's last column applies)")
    root = field / "hostile-fallback"
    home = field / "home-hostile"
    home.mkdir()
    places = make_places(root, home)
    _short_limits_rubric(places.solutions / "rubric.toml", places.solutions / "rubric.toml")
    with loopback_listeners() as (tcp, udp):
        build_corpus(places, ports_of(tcp, udp), sandboxed=False)
        _broken_submissions(places.submissions, places.solutions)
        secret = home / ".grader-secret"
        secret.write_text(places.token)
        subprocess.run(["chown", "-R", f"{student.pw_uid}:{student.pw_gid}", str(root), str(home)], check=True)
        secret.chmod(0o600)
        before = places.fingerprint()
        entries = sorted(places.submissions.iterdir())
        batches = [([e for e in entries if e.name not in BOMBS], "2"), ([e for e in entries if e.name in BOMBS], "1")]
        logs = []
        for paths, jobs in batches:
            argv = [str(student_python), "-m", "grader", "grade", "--solution", str(places.solutions)]
            argv += ["--assignment", str(places.assignment), "--out", str(places.out), "--cache", str(places.cache)]
            argv += ["--skip-cifar", "-j", jobs, *map(str, paths)]
            # The secret goes in by a file the grader reads, not on a command line: /proc shows those.
            argv = ["sh", "-c", f'export {SECRET}="$(cat "$0")"; exec "$@"', str(secret), *argv]
            argv, env = hiding_bwrap(*as_user(student, argv, home))
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
            assert done.returncode == 0, done.stderr[-3000:]
            logs.append(done.stdout + done.stderr)
        received = []
        with contextlib.suppress(BlockingIOError):
            while True:
                received.append(udp.recvfrom(1024)[0])
        with pytest.raises(BlockingIOError):
            tcp.accept()
    results = {p.parent.name: read_result(p) for p in places.out.glob("*/results.json")}
    return places, results, before, received, logs


def test_the_fallback_grades_every_case_and_says_it_was_not_isolated(fallback):
    places, results, _, _, logs = fallback
    assert "submissions run WITHOUT the sandbox" in logs[0]
    entries = {safe_id(e.stem if e.suffix == ".zip" else e.name) for e in places.submissions.iterdir()}
    assert set(results) == entries, (entries ^ set(results), logs[-1][-3000:])
    for student, result in results.items():
        assert not result.sandboxed and "NOT ISOLATED" in result.sandbox_note, student
        assert (places.out / student / "report.html").is_file()


def test_the_fallback_keeps_every_guarantee_the_readme_claims(fallback):
    places, results, before, _, _ = fallback
    assert leftover_processes() == []
    assert places.fingerprint() == before
    assert files_named(places.root, "FORGED-*") == [] and files_named(places.root, "escaped-by-*") == []
    for student in results:
        for path in (places.out / student).rglob("*"):
            if path.is_file():
                assert places.token not in path.read_text(errors="replace"), (student, path.name)
    shown = set(FALLBACK_CANNOT_STOP.values())
    for student, expect in load_expectations(sandboxed=False).items():
        if expect and student not in shown:
            _ends_as_expected(places.out, results, student, expect)
    for student, expect in MALFORMED_EXPECT.items():
        result = results[safe_id(student)]
        assert not expect.problem or any(re.search(expect.problem, p) for p in result.problems), result.problems


def test_what_the_fallback_cannot_stop_happens_and_the_readme_lists_exactly_that(fallback):
    places, results, _, received, _ = fallback
    assert results["forges-executed-notebook"].score == results["good"].score  # records only, never the grade
    assert b"from the sandbox" in received  # the UDP datagrams reached the host's loopback
    assert "'lo'" in _outputs(places.out, "network-interfaces", "trick")
    assert _outputs(places.out, "network-interfaces", "trick").strip() != "[(1, 'lo')]"
    table = README.split("## Security model", 1)[1].split("\n\n| |", 1)[1].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    cannot = {row[0] for row in rows if row[2].startswith("**yes**")}
    assert cannot == set(FALLBACK_CANNOT_STOP), cannot
