"""Writing the report files: a student's page, the class's files, and re-rendering a graded folder.

Every page is rendered from a result as it reads back from `results.json` and carries that
result's digest, so a report can be told current or stale without rendering it again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..fsutil import atomic_write_text
from ..gradebook import ManualScore, merge_manual_scores, write_gradebook, write_question_sheet
from ..leftovers import lock_out
from ..results import SubmissionResult, read_result
from ..rubric import Rubric, load_rubric
from .artifacts import load_artifacts
from .render import ClassRow, render_class_summary, render_questions, render_student_report, report_path

__all__ = [
    "MODEL_ANSWERS",
    "REFERENCE_FOLDER",
    "RUBRIC_COPY",
    "RenderStats",
    "refresh_reports",
    "report_is_current",
    "rerender",
    "result_digest",
    "write_class_files",
    "write_report",
]

REFERENCE_FOLDER = ".reference"
RUBRIC_COPY = "rubric.toml"  # in OUT/.reference: the rubric the batch was graded with
MODEL_ANSWERS = "answers.json"  # in OUT/.reference: the reference's free-text answers, for the TA


def _stored(result: SubmissionResult) -> SubmissionResult:
    """`result` as it reads back from its results.json."""
    return SubmissionResult.from_gradescope(json.loads(json.dumps(result.to_gradescope())))


def result_digest(result: SubmissionResult) -> str:
    """A digest of `result` as stored: each report carries the one of the result it shows."""
    return _digest_of_stored(_stored(result))


def _digest_of_stored(stored: SubmissionResult) -> str:
    """result_digest of a result already in its stored form (reading back is a fixed point),
    without serialising it twice more."""
    text = json.dumps(stored.to_gradescope(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def report_is_current(result: SubmissionResult, out: Path, *, student_view: bool = False) -> bool:
    """Whether the student's report (or student view) in `out` shows `result`: False when it is
    missing or was rendered from another result (one a killed run replaced, say)."""
    try:
        with report_path(out / result.student, student_view).open(encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return False
    return f'<meta name="grader-result" content="{result_digest(result)}">' in head


def refresh_reports(result: SubmissionResult, out: Path, rubric: Rubric) -> int:
    """Re-render the student's report.html, and student-report.html where one was handed out,
    unless they already show `result`; how many were written."""
    written = 0
    for view in (False, True):
        exists = report_path(out / result.student, view).is_file()
        if (exists or not view) and not report_is_current(result, out, student_view=view):
            write_report(result, out, rubric, student_view=view)
            written += 1
    return written


def write_report(result: SubmissionResult, out: Path, rubric: Rubric, *, student_view: bool = False) -> Path:
    """Render `OUT/<student>/report.html` (or the student view) and return its path."""
    # Rendered from the stored form, so that a report written while grading is the
    # very page `grader report` writes later from results.json.
    result = _stored(result)
    folder = out / result.student
    html = render_student_report(
        result,
        artifacts=load_artifacts(folder),
        reference={} if student_view else load_artifacts(out / REFERENCE_FOLDER),  # the view draws none of it
        rule=rubric.accuracy,
        title=rubric.title,
        student_view=student_view,
        stamp=_digest_of_stored(result),
    )
    path = report_path(folder, student_view)
    atomic_write_text(path, html)
    return path


CLASS_FILES = ("gradebook.csv", "questions.csv", "questions.html", "index.html")
_CLASS_STAMP = ".class-files"  # in OUT: the digest of what the class files were written from


def write_class_files(
    results: Sequence[SubmissionResult],
    out: Path,
    rubric: Rubric,
    failed: Sequence[str] = (),
    *,
    only_if_changed: bool = False,
) -> bool:
    """Write `gradebook.csv`, `index.html` (the class summary, linking every student's
    report), and for the TA `questions.html` and `questions.csv`; whether they were written.
    `only_if_changed` keeps them when they were written from the very same results, rubric
    and model answers (a batch that regraded nobody: drawing the class's histograms was
    nearly all of its time)."""
    model_answers = out / REFERENCE_FOLDER / MODEL_ANSWERS
    answers_text = model_answers.read_text(encoding="utf-8") if model_answers.is_file() else "{}"
    inputs = [[result_digest(r) for r in results], list(failed), rubric.title, repr(rubric.accuracy), answers_text]
    digest = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
    stamp = out / _CLASS_STAMP
    current = stamp.is_file() and stamp.read_text(encoding="utf-8") == digest
    if only_if_changed and current and all((out / name).is_file() for name in CLASS_FILES):
        return False
    stamp.unlink(missing_ok=True)  # unstamped while they are rewritten: a kill leaves them redone
    rows = [ClassRow(r, f"{r.student}/report.html", r.flags) for r in results]
    write_gradebook(results, out / "gradebook.csv")
    write_question_sheet(results, out / "questions.csv")
    answers = json.loads(answers_text)
    atomic_write_text(out / "questions.html", render_questions(rows, title=rubric.title, model_answers=answers))
    html = render_class_summary(rows, rule=rubric.accuracy, title=rubric.title, failed=failed)
    atomic_write_text(out / "index.html", html)
    atomic_write_text(stamp, digest)
    return True


@dataclass(frozen=True)
class RenderStats:
    """What `rerender` did: how many students' reports it wrote, and how long they took."""

    reports: int  # students (with --student-view, two pages each)
    seconds: float


def rerender(
    out: Path,
    *,
    student_view: bool = False,
    manual_scores: Sequence[ManualScore] = (),
    manual_source: Path | str = "",
) -> RenderStats:
    """Re-render every report and the class files of a graded folder from its stored results:
    `report.html` always, and with `student_view` also `student-report.html`.

    Manual scores, if given (read from `manual_source`), are merged into the stored
    results first. A ConfigError says when `out` is not a graded folder.
    """
    rubric_path = out / REFERENCE_FOLDER / RUBRIC_COPY
    if not rubric_path.is_file():
        raise ConfigError(f"{out}: not a folder written by `grader grade` (no {REFERENCE_FOLDER}/{RUBRIC_COPY})")
    rubric = load_rubric(rubric_path)
    with lock_out(out):  # never beside a batch grading into the same folder
        return _rerender(out, rubric, student_view, manual_scores, manual_source)


def _rerender(
    out: Path, rubric: Rubric, student_view: bool, manual_scores: Sequence[ManualScore], manual_source: Path | str
) -> RenderStats:
    """rerender's work, with `out` locked."""
    started = time.monotonic()
    results = [read_result(path) for path in sorted(out.glob("*/results.json"))]
    results = merge_manual_scores(results, out, manual_scores, manual_source)
    for result in results:
        # report.html is always rewritten: a student view written alone would leave the
        # instructor's report behind the merged manual scores or the changed templates.
        write_report(result, out, rubric)
        if student_view:
            write_report(result, out, rubric, student_view=True)
    write_class_files(results, out, rubric, [r.student for r in results if r.harness_failed])
    return RenderStats(len(results), time.monotonic() - started)
