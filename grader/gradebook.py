"""The class gradebook (CSV) and the TA's manual scores that merge into it.

`gradebook.csv` has one row per student: identity (the id, then every name intake
recorded), total, maximum, then one column per check (its points), then how the run
went. The manual-scores file is a CSV with the columns `student,check,score` and
optionally `comment`; its scores replace the `pending` results of manual checks (the
free-text questions) or override an automatic check (a regrade request), and the totals
follow, without regrading anything. `questions.csv` is that file ready to fill in: a row
per student and question with the answer beside an empty score (rows left empty stay
pending; other columns are ignored when it is read back).

Every score merged is also recorded in `OUT/manual-scores.csv`, and every run applies
that record again: a TA's work survives regrading (`--force`, a resubmission).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError
from .fsutil import atomic_write_text
from .results import CheckResult, GraderScore, SubmissionResult, check_ids, status_for, write_result

__all__ = [
    "LEDGER",
    "ManualScore",
    "apply_manual_scores",
    "merge_manual_scores",
    "read_manual_scores",
    "write_gradebook",
    "write_question_sheet",
]

LEDGER = "manual-scores.csv"  # in OUT: every TA score merged so far

_SCORED_BY_TA = "scored by a TA"  # how a merged score's message begins


@dataclass(frozen=True)
class ManualScore:
    """A TA's score for one manual check of one student."""

    student: str
    check: str
    score: float
    comment: str = ""


def read_manual_scores(path: Path) -> list[ManualScore]:
    """Read the manual-scores CSV (rows with an empty score are skipped); a ConfigError
    names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the manual scores ({exc.strerror})") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = {"student", "check", "score"} - set(reader.fieldnames or ())
    if missing:
        raise ConfigError(
            f"{path}: the header needs the columns student,check,score (missing {', '.join(sorted(missing))})"
        )
    scores = []
    for line, row in enumerate(reader, start=2):
        if not (row.get("score") or "").strip():  # not scored yet (a row of questions.csv): stays pending
            continue
        try:
            value = float(row["score"])
        except (TypeError, ValueError):
            raise ConfigError(f"{path}, line {line}: score {row['score']!r} is not a number") from None
        scores.append(
            ManualScore(row["student"].strip(), row["check"].strip(), value, (row.get("comment") or "").strip())
        )
    return scores


def apply_manual_scores(
    results: Sequence[SubmissionResult], scores: Sequence[ManualScore], source: Path | str = "manual scores"
) -> list[SubmissionResult]:
    """`results` with the TA's scores merged in; a ConfigError for an unknown student or
    check, or a score outside 0..max.

    A score for a manual check (a free-text question) fills it in; one for an automatic
    check overrides the grader (a regrade request). Either way the grader's own verdict stays
    on record in the check's `automatic`. Applying the same scores again changes nothing."""
    updated: dict[str, SubmissionResult] = {r.student: r for r in results}
    for score in scores:
        result = updated.get(score.student)
        if result is None:
            raise ConfigError(f"{source}: no graded student {score.student!r}")
        check = result.check(score.check)
        if check is None:
            known = ", ".join(c.id for c in result.checks)
            raise ConfigError(f"{source}: {score.student} has no check {score.check!r} (the checks: {known})")
        if not 0 <= score.score <= check.max_score:
            raise ConfigError(
                f"{source}: {score.student} {score.check}: {score.score:g} is outside 0..{check.max_score:g}"
            )
        status = status_for(score.score / check.max_score if check.max_score else 1.0)
        message = f"{_SCORED_BY_TA}: {score.score:g}/{check.max_score:g}" + (
            f"; {score.comment}" if score.comment else ""
        )
        automatic = check.automatic or GraderScore(check.score, check.status, check.message)
        if not check.manual:  # a free-text answer's own verdict (awaiting a TA) says nothing
            message += f" (the grader gave {automatic.score:g}: {automatic.message})"
        scored = replace(check, score=score.score, status=status, message=message, automatic=automatic)
        updated[score.student] = result.with_checks([scored])
    return [updated[r.student] for r in results]


def merge_manual_scores(
    results: Sequence[SubmissionResult], out: Path, new: Sequence[ManualScore] = (), source: Path | str = ""
) -> list[SubmissionResult]:
    """`results` with every score of `OUT/manual-scores.csv` merged in, after `new` (read
    from `source`) is checked against them (ConfigError) and recorded there. The results
    that change are written back to their `results.json`. Recorded scores of students not
    among `results` (graded in another batch) are kept, not applied."""
    apply_manual_scores(results, new, source or "manual scores")  # only to check them
    ledger_path = out / LEDGER
    ledger = {(s.student, s.check): s for s in (read_manual_scores(ledger_path) if ledger_path.is_file() else ())}
    if new:
        ledger.update({(s.student, s.check): s for s in new})
        _write_scores(list(ledger.values()), ledger_path)
    graded = {r.student for r in results}
    merged = apply_manual_scores(results, [s for s in ledger.values() if s.student in graded], ledger_path)
    for before, after in zip(results, merged, strict=True):
        if after != before:
            write_result(after, out / after.student / "results.json")
    return merged


def _write_scores(scores: Sequence[ManualScore], path: Path) -> None:
    ordered = sorted(scores, key=lambda s: (s.student, s.check))
    rows = [[s.student, s.check, repr(s.score), s.comment] for s in ordered]  # the comment: a TA's own words
    _write_csv(path, ["student", "check", "score", "comment"], rows)


def _write_csv(path: Path, header: list[str], rows: Iterable[list[str]]) -> None:
    """Write a CSV file atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, out.getvalue())


def _text(value: str) -> str:
    """A free-text cell a spreadsheet will show, not run: text from a submission that starts
    like a formula (`=HYPERLINK(...)`) gets a leading apostrophe."""
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def _points(value: float) -> str:
    """Points with six decimals at most, no trailing zeros: 72.222222, 15, 0.5."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _cell(check: CheckResult | None) -> str:
    """A check's gradebook cell: its points; "skipped" for one not run (it is in no total)."""
    if check is None:
        return ""
    return "skipped" if check.status == "skipped" else _points(check.score)


def write_gradebook(results: Sequence[SubmissionResult], path: Path) -> None:
    """Write `gradebook.csv` atomically, one row per student in the given order.

    After `name` and `email`, every other name intake recorded has a column (e.g. Gradescope's
    `sid`, `gradescope_submission` and `group`, Canvas's `late`, Blackboard's `attempt`), so that
    an instructor can map each row back to the system the submissions came from."""
    columns = check_ids(results)
    name_keys = list(dict.fromkeys(["name", "email", *(k for r in results for k in r.names)]))
    header = ["student", *name_keys, "total", "max", *columns, "validation_accuracy", "sandboxed", "problems"]
    rows = []
    for r in results:
        cells = [_cell(r.check(i)) for i in columns]
        accuracy = "" if r.validation_accuracy is None else f"{r.validation_accuracy:.4f}"
        rows.append(
            [
                r.student,
                *(_text(r.names.get(k, "")) for k in name_keys),
                _points(r.score),
                _points(r.max_score),
                *cells,
                accuracy,
                "yes" if r.sandboxed else "NO",
                _text(" | ".join(r.problems)),
            ]
        )
    _write_csv(path, header, rows)


def write_question_sheet(results: Sequence[SubmissionResult], path: Path) -> None:
    """Write `questions.csv` atomically: per student and manual check, the answer and an
    empty score to fill in (a TA copies it, fills the scores, passes it as manual scores)."""
    rows = []
    for r in results:
        for check in (c for c in r.checks if c.manual):
            status: str = check.status if check.answer else "no answer found"
            if check.automatic is not None:  # a TA scored it: the sheet says how
                status = check.message
            rows.append([r.student, check.id, "", "", _points(check.max_score), status, _text(check.answer)])
    _write_csv(path, ["student", "check", "score", "comment", "max_points", "status", "answer"], rows)
