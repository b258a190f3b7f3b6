"""The HTML reports: golden files, the student view's secrecy, a real browser, a wheel.

Golden files pin what a report says for two stored results (see
tests/files/golden/README.md). The student view is checked against every hidden
expected value of the demo class, and its plots against the reference's arrays.
Headless Chromium opens the demo's reports from disk, at desktop and phone width and
as printed. A wheel built from the checkout renders reports with its own templates.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html import escape
from pathlib import Path

import numpy as np
import pytest

from grader.report import rerender, write_class_files
from grader.report.console import grade_table
from grader.report.files import CLASS_FILES
from grader.report.render import ClassRow, render_class_summary, render_student_report
from grader.results import CheckResult, Diff, Item, SubmissionResult, read_result
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "files" / "golden"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RUBRIC = load_rubric(ROOT / "solutions" / "rubric.toml")


def _normalise(html: str) -> str:
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,IMAGE", html)
    html = re.sub(r"Rendered \d{4}-\d\d-\d\d \d\d:\d\d UTC", "Rendered TIME", html)
    # The digest of the result shown (report.result_digest) changes with the stored form's layout.
    return re.sub(
        r'<meta name="grader-result" content="[0-9a-f]+">', '<meta name="grader-result" content="DIGEST">', html
    )


def _plotted_arrays(seed: int) -> dict[str, np.ndarray]:
    """What grading saves for the plots (artifacts.npz), made up but plausible."""
    rng = np.random.default_rng(seed)
    return {
        "baseline.loss_history": 0.5 - 0.003 * np.linspace(0, 1, 1000) ** 2 + 1e-4 * rng.standard_normal(1000),
        "baseline.train_acc_history": np.array([0.1, 0.15, 0.19, 0.2, 0.21]),
        "baseline.val_acc_history": np.array([0.11, 0.14, 0.18, 0.2, 0.2]),
        "best_net.grid": rng.integers(0, 256, (283, 283, 3), dtype=np.uint8),
        "subopt_net.grid": rng.integers(0, 64, (283, 283, 3), dtype=np.uint8),
    }


def _graded_folder(out: Path) -> Path:
    """`out` made a graded folder of the two golden results, as `grader report` expects one."""
    shutil.copytree(GOLDEN / "out", out)
    (out / ".reference").mkdir()
    shutil.copy(ROOT / "solutions" / "rubric.toml", out / ".reference" / "rubric.toml")
    return out


@pytest.fixture(scope="module")
def golden_out(tmp_path_factory) -> Path:
    out = _graded_folder(tmp_path_factory.mktemp("golden") / "out")
    np.savez_compressed(out / ".reference" / "artifacts.npz", **_plotted_arrays(0))
    np.savez_compressed(out / "forgot-half" / "artifacts.npz", **_plotted_arrays(1))
    rerender(out)
    rerender(out, student_view=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rendered", "golden"),
    [
        ("forgot-half/report.html", "forgot-half.report.html"),
        ("forgot-half/student-report.html", "forgot-half.student-report.html"),
        ("hardcoded-seed/report.html", "hardcoded-seed.report.html"),
        ("index.html", "index.html"),
        ("questions.html", "questions.html"),
    ],
)
def test_reports_match_their_golden_files(golden_out, rendered, golden):
    html = _normalise((golden_out / rendered).read_text())
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(html)
    assert html == path.read_text(), f"{rendered} differs from {path}; UPDATE_GOLDEN=1 if intended"


@pytest.mark.slow
def test_a_report_is_self_contained(golden_out):
    html = (golden_out / "forgot-half" / "report.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing to fetch
    # The training curves, the weight grids and the rubric curve, embedded.
    assert re.findall(r'<img src="([^"]{0,22})', html) == ["data:image/png;base64,"] * 3
    assert "@media print" in html and 'name="viewport"' in html


@pytest.mark.slow
def test_a_report_shows_errors_as_tracebacks_into_the_students_code(golden_out):
    html = (golden_out / "hardcoded-seed" / "report.html").read_text()
    assert "File /workspace/hw3code/neural_net.py:32, in MSE_loss(x, y)" in html
    assert '<h3>Cell 22 <span class="muted">toy-train</span>' in html


def _images(html: str) -> list[str]:
    """The embedded pictures of a page, in order."""
    return re.findall(r'<img src="(data:image/png;base64,[^"]+)"', html)


def _render(result, artifacts, reference, student_view: bool) -> str:
    return render_student_report(
        result, artifacts=artifacts, reference=reference, rule=RUBRIC.accuracy, title="t", student_view=student_view
    )


@pytest.mark.slow
def test_the_student_view_draws_nothing_of_the_reference(golden_out):
    # The reference's validation curve ends at cifar.baseline's hidden expected value; these
    # reference arrays are unlike the student's, so any of them drawn changes the pictures.
    result = read_result(golden_out / "forgot-half" / "results.json")
    student = _plotted_arrays(1)
    reference = {**_plotted_arrays(7), "baseline.val_acc_history": np.array([0.05, 0.12, 0.209, 0.5, 0.9])}
    alone = _images(_render(result, student, {}, student_view=True))
    assert len(alone) == 3  # curves, weights, rubric
    assert _images(_render(result, student, reference, student_view=True)) == alone
    # What `grader report --student-view` wrote, with the golden folder's reference arrays beside.
    written = (golden_out / "forgot-half" / "student-report.html").read_text()
    assert _images(written) == _images(_render(result, student, {}, student_view=True))
    # The instructor's report does draw them: the comparison above can fail.
    beside = _images(_render(result, student, reference, student_view=False))
    assert beside[0] != alone[0] and beside[1] != alone[1] and beside[2] == alone[2]


@pytest.mark.slow
def test_without_a_best_net_no_weights_are_drawn(golden_out):
    result = read_result(golden_out / "forgot-half" / "results.json")
    student = {k: v for k, v in _plotted_arrays(1).items() if k != "best_net.grid"}
    for student_view in (False, True):
        html = _render(result, student, _plotted_arrays(0), student_view)
        assert len(_images(html)) == 2 and "No first-layer weights to show" in html  # curves and rubric


@pytest.mark.slow
def test_numbers_that_cannot_be_drawn_cost_their_picture_not_the_report(golden_out):
    result = read_result(golden_out / "forgot-half" / "results.json")
    student = {**_plotted_arrays(1), "baseline.loss_history": np.array([1e308, -1e308])}
    html = _render(result, student, _plotted_arrays(0), student_view=False)
    assert len(_images(html)) == 2  # weights and rubric; the loss history has no axis range
    assert "toy.loss" in html


def _png_width(uri: str) -> int:
    return int.from_bytes(base64.b64decode(uri.split(",", 1)[1])[16:20], "big")  # the IHDR chunk's width


@pytest.mark.slow
def test_the_weights_show_subopt_net_best_net_and_the_reference(golden_out):
    """The weights question compares subopt_net with best_net: the TA sees both, then the reference's."""
    result = read_result(golden_out / "forgot-half" / "results.json")
    both = _plotted_arrays(1)
    best_only = {k: v for k, v in both.items() if k != "subopt_net.grid"}
    widths = [
        _png_width(_images(_render(result, arrays, reference, student_view=False))[1])
        for arrays, reference in [(both, _plotted_arrays(0)), (best_only, _plotted_arrays(0)), (best_only, {})]
    ]
    assert widths[0] > widths[1] > widths[2]  # three panels, two, one


def _clear_render_caches() -> None:
    from grader.report import charts, plots, render

    for cached in (plots.rubric_curve, plots._title_strip, charts._font, render._environment_for):
        cached.cache_clear()


@pytest.mark.parametrize("student_view", [False, True])
def test_a_report_from_the_caches_is_the_report_without_them(student_view):
    """The pictures and templates kept across reports (rubric curve, weight titles, fonts, the Jinja
    environment) change nothing: a page rendered warm is byte for byte a page rendered cold."""
    result = read_result(GOLDEN / "out" / "forgot-half" / "results.json")
    _clear_render_caches()
    cold = _render(result, _plotted_arrays(1), _plotted_arrays(0), student_view)
    _render(read_result(GOLDEN / "out" / "hardcoded-seed" / "results.json"), _plotted_arrays(2), {}, student_view)
    warm = _render(result, _plotted_arrays(1), _plotted_arrays(0), student_view)
    assert re.sub(r"Rendered [^<]+UTC", "", warm) == re.sub(r"Rendered [^<]+UTC", "", cold)
    assert len(_images(warm)) == 3


def test_a_warm_cache_never_draws_the_arrays_of_an_earlier_report():
    """Nothing is cached by student: other arrays, or another accuracy, give other pictures."""
    result = read_result(GOLDEN / "out" / "forgot-half" / "results.json")
    before = _images(_render(result, _plotted_arrays(1), _plotted_arrays(0), student_view=False))
    changed = {k: v.copy() for k, v in _plotted_arrays(1).items()}
    changed["baseline.loss_history"][500] += 0.01
    changed["best_net.grid"][0, 0] ^= 255
    after = _images(_render(result, changed, _plotted_arrays(0), student_view=False))
    assert after[0] != before[0] and after[1] != before[1] and after[2] == before[2]
    other = dataclasses.replace(result, validation_accuracy=0.301)
    assert _images(_render(other, changed, _plotted_arrays(0), student_view=False))[2] != after[2]


def test_a_weight_grid_is_a_png_of_exactly_its_pixels():
    from PIL import Image

    from grader.report.plots import png_bytes

    rgb = np.random.default_rng(3).integers(0, 256, (7, 11, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(png_bytes(rgb))) as image:
        assert image.mode == "RGB" and np.array_equal(np.asarray(image), rgb)


def test_a_curve_with_gaps_is_drawn_and_one_without_a_range_is_not():
    from grader.report.plots import training_curves

    stats = _plotted_arrays(1)
    gaps = {
        "loss_history": np.array([2.3, np.nan, 2.1, np.inf, 1.9]),
        "val_acc_history": stats["baseline.val_acc_history"],
    }
    assert training_curves(gaps).startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="range"):
        training_curves({"loss_history": np.array([1e308, -1e308])})


def test_the_rubric_marker_sits_where_the_exact_counts_put_it():
    from grader.report.plots import rubric_point

    rule = RUBRIC.accuracy  # min(floor(X - 23) / 22, 1)
    assert rubric_point(rule, 0.29) == pytest.approx((29.0, 6 / 22))  # 0.29 * 100 < 29 in floats
    # 869 of 3000 is 28.97%: 5 steps. Rounded to a count out of 1000 it would be 29% and 6.
    assert rubric_point(rule, 869 / 3000)[1] == pytest.approx(5 / 22)
    assert rubric_point(rule, 4499 / 10000)[1] == pytest.approx(21 / 22)
    assert rubric_point(rule, 0.1)[1] == 0 and rubric_point(rule, 0.62)[1] == 1


@pytest.mark.slow
def test_a_deleted_cell_is_shown_once(golden_out):
    result = read_result(golden_out / "forgot-half" / "results.json")
    source = "stats['train_acc_history']\nplt.plot(stats['loss_history'])"
    flagged = CheckResult(
        id="integrity.cells",
        name="Integrity: starter cells kept",
        status="flagged",
        score=0.0,
        max_score=0.0,
        message="1 starter code cell(s) deleted: cifar-baseline-history",
        details=(Item("cell cifar-baseline-history", False, source, note="deleted: stats['train_acc_history']"),),
        public=True,
    )  # fmt: skip
    checks = tuple(flagged if c.id == "integrity.cells" else c for c in result.checks)
    html = _render(dataclasses.replace(result, checks=checks), {}, {}, student_view=False)
    section = html.split('id="integrity.cells"')[1].split("</section>")[0]
    assert section.count("stats[&#39;train_acc_history&#39;]") == 1, section
    assert section.count("cifar-baseline-history") == 2  # the message, the cell's heading


def test_a_diff_shows_as_one_and_a_text_that_looks_like_one_does_not() -> None:
    """The report knows a diff by its type, kept through results.json: a student's own text
    shaped like a diff stays text."""
    diff = "--- starter/cell toy-setup\n+++ submitted/cell toy-setup\n@@ -1 +1 @@\n-a = 1\n+a = 2"
    rows = (Item("cell toy-setup", False, observed=Diff(diff)), Item("answer", False, observed=diff))
    check = CheckResult("integrity.code", "Integrity: code", "flagged", 0.0, 0.0, "changed", details=rows)
    result = SubmissionResult("ann", (check,), 1.0, True)
    stored = SubmissionResult.from_gradescope(json.loads(json.dumps(result.to_gradescope())))
    assert [type(d.observed) for d in stored.checks[0].details] == [Diff, str]
    html = _render(stored, {}, {}, student_view=False)
    assert html.count('<pre class="diff">') == 1


def test_the_class_files_are_kept_when_they_were_written_from_the_same_results(tmp_path) -> None:
    """A batch that regraded nobody keeps the class files (drawing their histograms was most of
    its time); any change of a result, or a missing file, writes them all again."""
    out = _graded_folder(tmp_path / "out")
    results = [read_result(out / s / "results.json") for s in ("forgot-half", "hardcoded-seed")]
    assert write_class_files(results, out, RUBRIC, only_if_changed=True)  # nothing there yet
    before = {name: (out / name).stat().st_mtime_ns for name in CLASS_FILES}
    assert not write_class_files(results, out, RUBRIC, only_if_changed=True)
    assert {name: (out / name).stat().st_mtime_ns for name in CLASS_FILES} == before
    assert write_class_files(results, out, RUBRIC)  # `grader report` always writes them
    changed = dataclasses.replace(results[0], validation_accuracy=0.5)
    assert write_class_files([changed, results[1]], out, RUBRIC, only_if_changed=True)
    assert "50.0%" in (out / "index.html").read_text(encoding="utf-8")
    (out / "questions.html").unlink()
    assert write_class_files([changed, results[1]], out, RUBRIC, only_if_changed=True)
    assert (out / "questions.html").is_file()


def test_the_class_summary_and_the_terminal_show_the_same_flags() -> None:
    """One list of what an instructor should look at (`SubmissionResult.flags`): the class
    summary shows it per student, the terminal too, but "not sandboxed" once under its table."""
    checks = (
        CheckResult("integrity.code", "Integrity: code", "flagged", 0.0, 0.0, "code outside the regions changed"),
        *(CheckResult(f"toy.c{i}", f"c{i}", "error", 0.0, 1.0, f"raised E{i}") for i in range(4)),
    )
    loose = SubmissionResult("ann", checks, 1.0, False, "NOT ISOLATED: no bwrap", problems=("no answers file",))
    kept = SubmissionResult("bob", (), 1.0, True)
    assert loose.flags == (
        "not sandboxed",
        "code outside the regions changed",
        *(f"toy.c{i}: raised E{i}" for i in range(3)),  # the first three errors
        "no answers file",
    )
    assert kept.flags == ()
    page = render_class_summary([ClassRow(loose, "ann/report.html", loose.flags)], rule=RUBRIC.accuracy, title="t")
    assert all(escape(flag, quote=False) in page for flag in loose.flags)
    lines = grade_table([loose, kept]).splitlines()
    assert [line[4:] for line in lines if line.startswith("  ! ")] == list(loose.flags[1:])
    assert "1 of 2 ran without the sandbox: NOT ISOLATED: no bwrap" in lines


@pytest.mark.slow
def test_report_with_student_view_writes_both_reports(tmp_path):
    out = _graded_folder(tmp_path / "out")
    stale = out / "forgot-half" / "report.html"
    stale.write_text("stale")
    rerender(out, student_view=True)
    for student in ("forgot-half", "hardcoded-seed"):
        assert "instructor's report" in (out / student / "report.html").read_text()
        assert "your report" in (out / student / "student-report.html").read_text()


@pytest.mark.slow
def test_student_content_is_escaped(tmp_path):
    out = _graded_folder(tmp_path / "out")
    results = out / "forgot-half" / "results.json"
    text = results.read_text().replace("awaiting manual grading", "<script>alert(1)</script>")
    results.write_text(text.replace("**Answers:**", "<script>alert(2)</script>"))
    rerender(out)
    for page, script in [("forgot-half/report.html", "alert(1)"), ("questions.html", "alert(2)")]:
        rendered = (out / page).read_text()
        assert f"<script>{script}</script>" not in rendered and f"&lt;script&gt;{script}&lt;/script&gt;" in rendered


def _texts(value) -> set[str]:
    """`value` (a number, a matrix, a text) as a report could print it."""
    if isinstance(value, list):
        return set().union(*(_texts(item) for item in value)) if value else set()
    if isinstance(value, float) and not value.is_integer():
        return {repr(value), f"{value:.8g}"}
    if isinstance(value, str) and len(value) > 4:  # with the numbers written in it
        return {value} | set(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", value))
    return set()


def _secrets(result) -> set[str]:
    """Every hidden expected value of `result` as a report could print it, except those
    that read the same as one of the student's own values (showing those reveals nothing)."""
    secrets: set[str] = set()
    own: set[str] = set()
    for check in result.checks:
        for row in check.details:
            if row.hidden and row.expected is not None:  # a comparison with a hidden value
                secrets |= _texts(row.expected) | _texts(row.note)
            own |= _texts(row.observed)
        if not check.public:
            secrets |= _texts(check.expected)
        own |= _texts(check.observed)
    written = "\n".join(own)  # "0.13850" written by the student shows "0.1385" too
    return {t for t in secrets if len(t) >= 5 and t not in written}


@pytest.mark.slow
def test_the_student_view_never_shows_a_hidden_expected_value(demo):
    _, out = demo
    rerender(out, student_view=True)
    leaks, shown = [], 0
    for path in sorted(out.glob("*/results.json")):
        result = read_result(path)
        secrets = _secrets(result)
        student = (path.parent / "student-report.html").read_text()
        instructor = (path.parent / "report.html").read_text()
        leaks += [(result.student, s) for s in secrets if s in student]
        shown += sum(s in instructor for s in secrets)
    assert not leaks
    assert shown > 50  # the instructor's reports do show them: the test can fail


@pytest.mark.slow
def test_rerendering_writes_every_report_and_merges_manual_scores(demo, tmp_path):
    from grader.gradebook import ManualScore

    _, graded = demo
    out = tmp_path / "out"
    shutil.copytree(graded, out, ignore=shutil.ignore_patterns(".examples", "*.html"))
    stats = rerender(out, manual_scores=[ManualScore("reference", "questions.weights", 5.0)])
    assert stats.reports == 7
    assert all((out / s / "report.html").is_file() for s in ("reference", "starter", "forgot-half"))
    assert read_result(out / "reference" / "results.json").check("questions.weights").score == 5.0
    assert "questions.weights" in (out / "gradebook.csv").read_text()
    assert 'href="reference/report.html"' in (out / "index.html").read_text()


def _read_sheet(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_ta_reads_the_answers_by_question_and_merges_the_filled_in_sheet(demo, tmp_path):
    from grader.gradebook import read_manual_scores

    _, graded = demo
    out = tmp_path / "out"
    shutil.copytree(graded, out, ignore=shutil.ignore_patterns(".examples", "*.html"))
    rerender(out)
    results = {p.parent.name: read_result(p) for p in out.glob("*/results.json")}
    questions = [c.id for c in results["reference"].checks if c.manual]
    assert len(questions) == 4
    # The page: each question with the reference's answer, then every student's, linked to the report.
    page = (out / "questions.html").read_text()
    assert 'href="questions.html"' in (out / "index.html").read_text()
    model = json.loads((out / ".reference" / "answers.json").read_text())
    for question in questions:
        assert len(model[question]) > 100 and escape(model[question], quote=False) in page
        section = page.split(f'id="{question}"')[1].split("<h2")[0]
        assert section.count('href="') == 7 and "No answer found" in section  # the starter has none
        for student in ("forgot-half", "seed-answers"):
            answer = results[student].check(question).answer
            assert answer and escape(answer, quote=False) in section
    # The sheet: a row per student and question, answers beside empty scores.
    sheet = out / "questions.csv"
    rows = _read_sheet(sheet)
    assert len(rows) == 7 * 4 and all(r["score"] == "" for r in rows)
    assert {r["status"] for r in rows if r["student"] == "starter"} == {"no answer found"}
    assert read_manual_scores(sheet) == []  # nothing scored yet: everything stays pending
    # A TA fills in two scores in a copy; the empty rows stay pending, the totals follow.
    for row in rows:
        if row["student"] == "seed-answers" and row["check"] in ("questions.tuning", "questions.test"):
            row["score"], row["comment"] = ("4", "vague on decay") if row["check"] == "questions.tuning" else ("5", "")
    filled = tmp_path / "scores.csv"
    with filled.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = results["seed-answers"]
    rerender(out, manual_scores=read_manual_scores(filled))
    after = read_result(out / "seed-answers" / "results.json")
    assert after.score == before.score + 9 and after.pending_points == before.pending_points - 10
    assert after.check("questions.tuning").message == "scored by a TA: 4/5; vague on decay"
    assert after.check("questions.weights").status == "pending"
    assert len(_read_sheet(out / "manual-scores.csv")) == 2  # recorded: a regrade will not lose them
    rescored = {(r["student"], r["check"]): r["status"] for r in _read_sheet(sheet)}
    assert rescored["seed-answers", "questions.test"] == "scored by a TA: 5/5"
    assert rescored["seed-answers", "questions.weights"] == "pending"


@pytest.mark.slow
def test_a_formula_in_an_answer_is_not_run_by_a_spreadsheet(tmp_path):
    out = _graded_folder(tmp_path / "out")
    results = out / "forgot-half" / "results.json"
    formula = '=HYPERLINK(\\"http://evil.example\\", \\"click\\")'
    results.write_text(results.read_text().replace("**Answers:**", formula, 1))
    rerender(out)
    answers = [r["answer"] for r in _read_sheet(out / "questions.csv") if r["student"] == "forgot-half"]
    assert any(a.startswith("'=HYPERLINK(") for a in answers)
    assert not any(a.startswith(("=", "+", "-", "@")) for a in answers)


def test_a_bad_score_in_the_sheet_names_the_file_and_line(tmp_path):
    from grader.errors import ConfigError
    from grader.gradebook import read_manual_scores

    sheet = tmp_path / "scores.csv"
    sheet.write_text("student,check,score,comment\nalice,questions.test,,\nbob,questions.test,five,\n")
    with pytest.raises(ConfigError, match=r"scores.csv, line 3: score 'five' is not a number"):
        read_manual_scores(sheet)


# At 390 px (a phone) the demo's tallest report is about 26,000 px: its content, every value
# under its column's name. Notes and tracebacks squeezed into a narrow table column, a few
# characters a line, made the same pages 85,000-87,000 px; 40,000 px fails that layout and
# leaves room for the content to grow.
PHONE_WIDTH, PHONE_MAX_HEIGHT = 390, 40_000
PAPER_WIDTH = 700  # about the printable width of A4 or Letter at 96 px per inch
# Every element's right edge, except inside the containers that scroll on purpose.
_OVERFLOWING = """() => Array.from(document.body.querySelectorAll("*"))
  .filter(e => !e.closest(".scroll, pre") && e.getBoundingClientRect().right > innerWidth + 0.5)
  .map(e => e.tagName + "." + e.className)"""
_CLIPPED = """() => Array.from(document.querySelectorAll(".scroll, pre"))
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.tagName + "." + e.className)"""


def _open(browser, path: Path, width: int, problems: list[str]):
    """A page of `browser` showing `path`, its errors and requests collected into `problems`."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


def _check_on_a_phone(page, name: str) -> None:
    """Readable at 390 px: no long page of narrow columns, nothing wider than the screen."""
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < PHONE_MAX_HEIGHT, (name, height)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH, name
    assert page.evaluate(_OVERFLOWING) == [], name
    narrow = page.eval_on_selector_all("td pre", "ps => ps.map(p => p.clientWidth).filter(w => w < 250)")
    assert narrow == [], (name, narrow)  # a note or a traceback gets the screen's width


def _check_printed(page, name: str) -> None:
    """On paper: every comparison open (the page's beforeprint), nothing cut off at the right."""
    page.emulate_media(media="print")
    page.evaluate("dispatchEvent(new Event('beforeprint'))")
    assert page.eval_on_selector_all("details:not([open])", "ds => ds.length") == 0, name
    assert page.evaluate(_CLIPPED) == [] and page.evaluate(_OVERFLOWING) == [], name
    page.evaluate("dispatchEvent(new Event('afterprint'))")


def _check_sorting(browser, results, tmp_path: Path) -> None:
    """The class table sorts numbers as numbers, from the mouse and from the keyboard."""
    counts = [10, 2, 0, 1, 3]  # as text, 10 would sort between 1 and 2
    rows = [ClassRow(r, f"{r.student}/report.html", ("flag",) * n) for r, n in zip(results, counts, strict=False)]
    index = tmp_path / "index.html"
    index.write_text(render_class_summary(rows, rule=RUBRIC.accuracy, title="t"))
    problems: list[str] = []
    page = _open(browser, index, 1100, problems)
    column = "#students tbody tr td:nth-child({})"
    as_numbers = "cells => cells.map(c => +c.dataset.sort)"
    page.click("#students th:nth-child(5) button")  # flags
    flags = page.eval_on_selector_all(column.format(5), as_numbers)
    assert flags == sorted(flags) and flags[-1] == 10, flags  # 10 after 2, not between 1 and 2
    assert page.get_attribute("#students th:nth-child(5)", "aria-sort") == "ascending"
    page.focus("#students th:nth-child(2) button")  # total, from the keyboard
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    totals = page.eval_on_selector_all(column.format(2), as_numbers)
    assert totals == sorted(totals, reverse=True), totals
    assert page.get_attribute("#students th:nth-child(2)", "aria-sort") == "descending"
    assert page.get_attribute("#students th:nth-child(5)", "aria-sort") == "none"
    assert problems == []
    page.close()


@pytest.mark.slow
def test_reports_open_in_a_real_browser_without_errors(demo, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "no chromium on PATH: install Debian's chromium (.ci/system-packages, run by `make test`)"
    batch, out = demo
    rerender(out, student_view=True)  # report.html and student-report.html
    pages = ["index.html", "questions.html"] + [
        f"{student}/{report}"
        for student in ("reference", "starter", "seed-answers", "hardcoded-seed")
        for report in ("report.html", "student-report.html")
    ]
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            for name in pages:
                problems: list[str] = []
                page = _open(browser, out / name, 1100, problems)
                images = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
                assert all(images) and (images or name == "questions.html"), (name, images)  # it has none
                shot = tmp_path / (name.replace("/", "-") + ".png")
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 20_000
                page.close()
                page = _open(browser, out / name, PHONE_WIDTH, problems)
                _check_on_a_phone(page, name)
                page.screenshot(path=str(tmp_path / (name.replace("/", "-") + ".phone.png")), full_page=True)
                page.close()
                page = _open(browser, out / name, PAPER_WIDTH, problems)
                _check_printed(page, name)
                page.close()
                assert problems == [], (name, problems)
            _check_sorting(browser, batch.results, tmp_path)
        finally:
            browser.close()


@pytest.mark.slow
def test_an_installed_wheel_finds_its_templates_and_ships_no_solution(golden_out, wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert "grader/templates/report.html.j2" in names and "grader/starter/rubric.toml" in names
    assert not [n for n in names if n.startswith("solutions/")]
    body = zipfile.ZipFile(wheel).read("grader/starter/hw3code/neural_net.py").decode()
    assert "loss = np.sum(diff**2) / (2 * N)" not in body  # the reference's line is not in the starter
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)  # fmt: skip
    out = tmp_path / "out"
    shutil.copytree(golden_out, out)
    for page in out.rglob("*.html"):
        page.unlink()
    run = subprocess.run(
        [sys.executable, "-c",
         "import grader, sys; from grader.project import templates_dir, starter_dir; "
         "print(grader.__file__); print(templates_dir()); print(starter_dir()); "
         "from grader.cli import main; sys.exit(main(['report', sys.argv[1]]))", str(out)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    where, templates, starter = run.stdout.splitlines()[:3]
    assert where.startswith(str(site)) and templates.startswith(str(site)) and starter.startswith(str(site))
    assert (out / "forgot-half" / "report.html").is_file() and (out / "index.html").is_file()
