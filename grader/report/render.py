"""Render the HTML reports: one per student, beside the reference, and the class summary.

Everything a report shows comes from stored results (`results.json`, the saved
artifacts), so `grader report OUT` can re-render without regrading. Values are
turned into small view objects here and the Jinja2 templates (`templates/`) only
lay them out, with autoescaping on: submissions are untrusted, and an instructor
opens these files in a browser.

The student view (`student_view=True`) never shows an expected value, the student's own
output (on hidden inputs a correct one is the reference's), a note or a difference of a
hidden item, and its plots draw nothing of the reference (its curves
and weights): those could give a hidden check's answer away.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from ..checks.families import FAMILIES, family_of
from ..checks.netmath import rel_error
from ..project import templates_dir
from ..results import CheckResult, Diff, SubmissionResult, check_ids
from ..rubric import AccuracyRule

__all__ = ["ClassRow", "render_class_summary", "render_questions", "render_student_report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One entry of a displayed matrix; `marked` when it differs from the other side."""

    text: str
    marked: bool = False


@dataclass(frozen=True)
class Value:
    """A displayed value: `kind` is none, hidden, scalar, matrix, text or diff."""

    kind: str
    text: str = ""
    rows: tuple[tuple[Cell, ...], ...] = ()


@dataclass(frozen=True)
class Row:
    """One compared quantity of a check, as the report shows it."""

    label: str
    ok: bool
    observed: Value
    expected: Value
    difference: str
    note: str


@dataclass(frozen=True)
class CheckView:
    """One check, as the report shows it."""

    result: CheckResult
    family: str
    rows: tuple[Row, ...]
    expected: Value
    observed: Value


@dataclass(frozen=True)
class ClassRow:
    """One student in the class summary."""

    result: SubmissionResult
    report: str  # the report's path, relative to the summary
    flags: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class QuestionView:
    """One free-text question on the TA's page: the reference's answer, then every student's."""

    id: str
    name: str
    max_score: float
    model_answer: str
    answers: tuple[tuple[ClassRow, CheckResult], ...]

    @property
    def pending(self) -> int:
        """How many answers still wait for a score."""
        return sum(check.status == "pending" for _, check in self.answers)


def _number(value: float) -> str:
    """Every digit of a float ("correct to the last digit"); whole numbers without ".0"."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(float(value))
    if isinstance(value, list) and value:
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return None
        return array if array.ndim <= 2 else None
    return None


def _value(value: Any, other: Any = None, tolerance: float = 0.0) -> Value:
    """`value` for display; a matrix marks the entries that differ from `other`."""
    if value is None:
        return Value("none")
    if isinstance(value, str):
        return Value("diff" if isinstance(value, Diff) else "text", value)
    array, against = _as_array(value), _as_array(other)
    if array is None:
        return Value("text", str(value))
    if array.ndim == 0:
        return Value("scalar", _number(float(array)))
    matrix = array.reshape(1, -1) if array.ndim == 1 else array
    differs = np.zeros(matrix.shape, dtype=bool)
    if against is not None and against.size == array.size:
        other_matrix = against.reshape(matrix.shape)
        scale = np.maximum(np.abs(matrix) + np.abs(other_matrix), 1e-8)
        differs = np.abs(matrix - other_matrix) / scale > max(tolerance, 1e-9)
    rows = tuple(
        tuple(Cell(f"{x:.8g}", bool(d)) for x, d in zip(row, mark, strict=True))
        for row, mark in zip(matrix, differs, strict=True)
    )
    return Value("matrix", rows=rows)


def _difference(observed: Any, expected: Any) -> str:
    a, b = _as_array(observed), _as_array(expected)
    if a is None or b is None or a.shape != b.shape:
        return ""
    absolute = float(np.max(np.abs(a - b), initial=0.0))
    relative = rel_error(a, b)
    return f"{absolute:.3g} (relative {relative:.2g})" if a.ndim else f"{absolute:.3g}"


def _rows(check: CheckResult, student_view: bool) -> tuple[Row, ...]:
    rows = []
    tolerance = float(check.tolerance or 0.0)
    for detail in check.details:
        secret = student_view and bool(detail.hidden)
        expected, observed = detail.expected, detail.observed
        rows.append(
            Row(
                label=str(detail.label),
                ok=bool(detail.ok),
                # On hidden inputs a correct output is the reference's: the view shows neither.
                observed=Value("hidden") if secret else _value(observed, expected, tolerance),
                expected=Value("hidden") if secret else _value(expected, observed, tolerance),
                difference="" if secret else _difference(observed, expected),
                note="" if secret else str(detail.note or ""),
            )
        )
    return tuple(rows)


def _check_view(check: CheckResult, student_view: bool) -> CheckView:
    secret = student_view and not check.public
    return CheckView(
        result=check,
        family=family_of(check.id),
        rows=_rows(check, student_view),
        expected=Value("hidden") if secret and check.expected is not None else _value(check.expected),
        observed=_value(check.observed),
    )


def _environment() -> jinja2.Environment:
    return _environment_for(str(templates_dir()))


@functools.lru_cache(maxsize=4)
def _environment_for(folder: str) -> jinja2.Environment:
    """One environment per templates folder and process: it keeps the compiled templates (the
    three pages' took 0.1 s of CPU to compile, again for every page). Jinja still reloads a
    template whose file changed, so an edited template is never served stale."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["points"] = lambda x: f"{x:.2f}".rstrip("0").rstrip(".")
    env.filters["percent"] = lambda x: "–" if x is None else f"{x:.1%}"
    return env


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _figures(
    result: SubmissionResult,
    artifacts: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    rule: AccuracyRule,
) -> dict[str, str | None]:
    """A report's pictures as data URIs (None: nothing to draw), the reference's beside the
    student's where `reference` has them."""
    from . import plots  # Pillow's import: only when drawing

    student_stats = {k.split(".", 1)[1]: v for k, v in artifacts.items() if k.startswith("baseline.")}
    reference_stats = {k.split(".", 1)[1]: v for k, v in reference.items() if k.startswith("baseline.")}
    grid = artifacts.get("best_net.grid")
    return {
        "curves": _drawn(plots.training_curves, student_stats, reference_stats) if student_stats else None,
        "weights": (
            _drawn(plots.weight_grids, grid, reference.get("best_net.grid"), artifacts.get("subopt_net.grid"))
            if grid is not None
            else None
        ),
        "rubric": _drawn(plots.rubric_curve, rule, result.validation_accuracy),
    }


def _drawn(plot: Callable[..., str], *args: Any) -> str | None:
    """`plot(*args)`, or None when the student's numbers cannot be drawn (a history of 1e308
    and -1e308 has no axis range): one missing picture, never a missing report."""
    try:
        with warnings.catch_warnings():  # matplotlib's overflow warnings on such numbers
            warnings.simplefilter("ignore", RuntimeWarning)
            return plot(*args)
    except Exception as exc:
        log.warning("could not draw %s: %s", plot.__name__, exc)
        return None


def render_student_report(
    result: SubmissionResult,
    *,
    artifacts: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    rule: AccuracyRule,
    title: str,
    student_view: bool = False,
    stamp: str = "",
) -> str:
    """One student's report as a self-contained HTML page; `reference` (the reference
    solution's saved arrays) is drawn beside the student's, except in the student view.
    `stamp` (the result's digest) goes into a `<meta name="grader-result">` of its head."""
    checks = [_check_view(c, student_view) for c in result.checks]
    families = [(f.key, f.title, [c for c in checks if c.family == f.key]) for f in FAMILIES]
    # The reference's curves end at the expected value of a hidden check (cifar.baseline):
    # the student view draws nothing of the reference, so it cannot be read off a chart.
    figures = _figures(result, artifacts, {} if student_view else reference, rule)
    failed_cells = [c for c in (result.info.cells if result.info else ()) if c.status != "ok"]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            result=result,
            families=[f for f in families if f[2]],
            figures=figures,
            failed_cells=failed_cells,
            student_view=student_view,
            rule=rule,
            seconds=result.info.seconds if result.info else {},
            rendered_at=_now(),
            stamp=stamp,
        )
    )


def render_class_summary(
    rows: Sequence[ClassRow], *, rule: AccuracyRule, title: str, failed: Sequence[str] = ()
) -> str:
    """The class summary page: distributions, pass rates, the sortable table, the problems."""
    from . import histograms  # matplotlib's import, most of a second: only for the class page

    results = [row.result for row in rows]
    maximum = max((r.max_score for r in results), default=0.0)
    accuracies = [r.validation_accuracy for r in results if r.validation_accuracy is not None]
    pass_rates = []
    for check_id in check_ids(results):
        found = [c for r in results if (c := r.check(check_id))]
        graded = [c for c in found if c.status != "skipped"]
        # Integrity takes no points; a manual check means nothing until all of it is scored.
        if graded and not check_id.startswith("integrity.") and not any(c.status == "pending" for c in found):
            share = sum(c.score for c in graded) / max(sum(c.max_score for c in graded), 1e-12)
            name = next(c.name for c in graded)
            pass_rates.append((check_id, name, share, sum(c.status == "passed" for c in graded), len(graded)))
    mean = sum(r.score for r in results) / len(results) if results else math.nan
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            title=title,
            rows=rows,
            maximum=maximum,
            mean=mean,
            pass_rates=pass_rates,
            score_plot=histograms.score_histogram([r.score for r in results], maximum) if results else None,
            accuracy_plot=histograms.accuracy_histogram(accuracies, rule) if accuracies else None,
            flagged=[row for row in rows if row.flags],
            failed=failed,
            rendered_at=_now(),
        )
    )


def render_questions(rows: Sequence[ClassRow], *, title: str, model_answers: Mapping[str, str]) -> str:
    """The TA's page: question by question, every student's free-text answer."""
    answers: dict[str, list[tuple[ClassRow, CheckResult]]] = {}
    for row in rows:
        for check in (c for c in row.result.checks if c.manual):
            answers.setdefault(check.id, []).append((row, check))
    questions = []
    for check_id, found in answers.items():
        check = found[0][1]  # the question's name and points, as any student's result has them
        model = model_answers.get(check_id, "")
        questions.append(QuestionView(check_id, check.name, check.max_score, model, tuple(found)))
    return _environment().get_template("questions.html.j2").render(title=title, questions=questions, rendered_at=_now())


def report_path(folder: Path, student_view: bool) -> Path:
    """Where a student's report goes: report.html, or student-report.html for the student view."""
    return folder / ("student-report.html" if student_view else "report.html")
