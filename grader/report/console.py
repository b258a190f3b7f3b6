"""What `grader grade` prints when a batch is done: the class at a glance, in a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..checks.families import FAMILIES, family_of
from ..results import NOT_SANDBOXED, SubmissionResult

__all__ = ["grade_table"]


def grade_table(results: Sequence[SubmissionResult], descriptions: Mapping[str, str] | None = None) -> str:
    """The table `grader grade` prints: a student a line, their points by family, the
    validation accuracy, then its flags (`SubmissionResult.flags`); `descriptions` (the demo's)
    under each name."""
    groups = [f.key for f in FAMILIES if f.column]
    header = f"{'student':<20} {'total':>15} " + " ".join(f"{g:>9}" for g in groups) + f" {'val acc':>8}"
    lines = [header, "-" * len(header)]
    for r in results:
        cells = []
        for group in groups:
            mine = [c for c in r.checks if family_of(c.id) == group]
            pending = sum(c.max_score for c in mine if c.status == "pending")
            score = f"{sum(c.score for c in mine):.4g}/{sum(c.counted_max for c in mine):g}"
            if mine and all(c.status == "skipped" for c in mine):
                score = "skipped"
            cells.append("pending" if pending and pending == sum(c.max_score for c in mine) else score)
        total = f"{r.score:.4g}/{r.max_score:g}" + ("*" if r.pending_points else "")
        accuracy = "-" if r.validation_accuracy is None else f"{r.validation_accuracy:.1%}"
        lines.append(f"{r.student:<20} {total:>15} " + " ".join(f"{c:>9}" for c in cells) + f" {accuracy:>8}")
        if descriptions and r.student in descriptions:
            lines.append(f"  {descriptions[r.student]}")
        lines += [f"  ! {flag}" for flag in r.flags if flag != NOT_SANDBOXED]
    unsandboxed = [r for r in results if not r.sandboxed]
    if unsandboxed:  # once, not a line per student: a batch runs all with the sandbox or all without
        note = unsandboxed[0].sandbox_note or "the code ran in plain subprocesses"
        lines.append(f"{len(unsandboxed)} of {len(results)} ran without the sandbox: {note}")
    skipped = {r.skipped_points for r in results} - {0}
    if skipped:
        lines.append(
            f"skipped checks ({', '.join(f'{p:g}' for p in sorted(skipped))} points) were not run and count in no total"
        )
    if any(r.pending_points for r in results):
        lines.append(
            "* manual checks (the free-text questions) wait for a TA: score a copy of OUT/questions.csv, "
            "then grader report OUT --manual-scores FILE"
        )
    return "\n".join(lines)
