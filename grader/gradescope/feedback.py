"""What Gradescope shows: a graded submission as Gradescope's `results.json`, and the file that
says a submission could not be graded.

The student reads the top-level `output` (Markdown) and the tests Gradescope lets them
see. A hidden check's test stays invisible until the instructor publishes the grades
(its `visibility` comes from the rubric), and nothing visible gives it away: the output
counts only the visible tests' points while hidden ones exist (Gradescope itself hides
the total then), and a hidden test's expected values are left out of its `extra_data`.
What only the instructor should read (the sandbox, the run's problems, a harness
failure) goes into a test of visibility `hidden` worth no points. The free-text
questions are no autograder tests: Gradescope grades them by hand (as questions of
the assignment's outline), so they are left out here, not reported as failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..checks.families import FAMILIES, family_of
from ..results import NOT_SANDBOXED, SubmissionResult, jsonable
from ..rubric import Rubric

__all__ = ["HARNESS_FAILURE", "INSTRUCTOR_NOTES", "gradescope_results", "not_graded"]

INSTRUCTOR_NOTES = "Grader notes (instructors only)"
HARNESS_FAILURE = "Autograder failure (instructors only)"  # run_autograder writes the same name
_STUDENT_SEES = ("visible",)  # before the due date and before publishing
_NOT_GRADED = (
    "The autograder could not grade this submission: this is not a mistake of yours, and the course staff "
    "can see why. Tell them, or resubmit later."
)


def _notes_test(lines: Sequence[str]) -> dict[str, Any]:
    return {
        "name": INSTRUCTOR_NOTES,
        "score": 0,
        "max_score": 0,
        "status": "passed",
        "visibility": "hidden",
        "output": "\n".join(lines) or "nothing to note",
        "output_format": "text",
    }


def _sealed(test: dict[str, Any]) -> dict[str, Any]:
    """A test without the values that would give a hidden check away: all of a hidden check's,
    and a visible check's hidden parts' (a correct student's output on hidden inputs is the
    reference's)."""
    extra = test["extra_data"]
    if test["visibility"] in _STUDENT_SEES:
        details = [_without_values(d) if d.get("hidden") else d for d in extra.get("details") or []]
        return {**test, "extra_data": {**extra, "details": details}}
    sealed = {k: v for k, v in extra.items() if k not in ("expected", "observed", "details", "tolerance")}
    return {**test, "extra_data": sealed}


def _without_values(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k not in ("expected", "observed")}


def _summary(result: SubmissionResult, rubric: Rubric) -> str:
    """The Markdown a student reads first: the visible parts' points, then what is still to come."""
    shown = [c for c in result.checks if c.visibility in _STUDENT_SEES]
    held = [c for c in result.checks if c.visibility not in _STUDENT_SEES and c.status != "skipped" and not c.manual]
    automatic = [c for c in result.checks if not c.manual and not c.bonus]
    lines = [f"## {rubric.title}", ""]
    if held:
        lines.append(f"{len(held)} more checks are graded; they and your total are shown once grades are published.")
    else:
        lines.append(f"**{result.score:g} / {sum(c.counted_max for c in automatic):g} points**")
    lines += ["", "| part | points (visible checks) |", "| --- | --- |"]
    for family in FAMILIES:
        mine = [c for c in shown if family_of(c.id) == family.key and c.status != "skipped"]
        if mine:
            lines.append(f"| {family.title} | {sum(c.score for c in mine):g} / {sum(c.max_score for c in mine):g} |")
    if result.validation_accuracy is not None:
        lines += ["", f"Validation accuracy of your `best_net`: **{result.validation_accuracy:.1%}**."]
    manual = [c for c in result.checks if c.manual]
    if manual:
        points = sum(c.max_score for c in manual)
        lines += ["", f"The {len(manual)} free-text questions ({points:g} points) are graded by hand, in Gradescope."]
    if result.problems:
        lines += ["", "What the grader found in your files:", *(f"- {p}" for p in result.problems)]
    return "\n".join(lines)


def gradescope_results(
    result: SubmissionResult,
    rubric: Rubric,
    *,
    members: Sequence[Mapping[str, Any]] = (),
    submission_id: object = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The results file of one graded submission; `members` are every submitter of a group
    (from Gradescope's metadata), `notes` what the instructor should know about the run."""
    data = result.to_gradescope()
    instructor = list(notes)
    if not result.sandboxed:
        instructor.append(f"{NOT_SANDBOXED}: {result.sandbox_note or 'the code ran without the sandbox'}")
    instructor += [f"problem: {p}" for p in result.problems]
    tests = [_sealed(t) for t in data["tests"] if not t["extra_data"]["manual"]]
    data.update(
        output=_summary(result, rubric),
        output_format="md",
        test_output_format="text",
        stdout_visibility="hidden",
        tests=[*tests, _notes_test(instructor)],
    )
    data["extra_data"].update(
        members=jsonable([dict(m) for m in members]), gradescope_submission=jsonable(submission_id)
    )
    return data


def not_graded(
    reason: str, *, execution_time: float = 0.0, members: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The results file of a submission the grader could not grade: score 0, a word for the
    student, and `reason` for the instructor (in a test only the instructor sees)."""
    return {
        "score": 0,
        "execution_time": round(execution_time, 3),
        "output": _NOT_GRADED,
        "output_format": "md",
        "stdout_visibility": "hidden",
        "tests": [{**_notes_test([reason]), "name": HARNESS_FAILURE, "status": "failed"}],
        "extra_data": {"harness_failed": True, "reason": reason, "members": jsonable([dict(m) for m in members])},
    }
