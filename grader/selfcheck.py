"""`grader check`: a student runs the public checks on their working folder.

It goes through the very code path of grading (`grade_submission`: intake, the
run, the checks), with no reference solution: only public checks run, so nothing
hidden is computed, let alone shown. The student's own code needs no sandbox here:
it runs in a clean child process under the grading limits, on any machine. `quick`
runs the module's checks without the notebook (a second or two). The result also
carries the warnings about things that lose points silently (deleted starter cells,
code changed outside the START/END regions, a Section 1 answer with no numbers in
it), worded for the student who wrote the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from .checks.answers import answer_text, has_numbers
from .checks.integrity import CHANGED, COURSE_RAN
from .datasets.cifar import batches_dir, prepare_split
from .errors import ConfigError
from .evidence import CellRecord
from .execute import load_submitted
from .grading import Course, grade_submission
from .intake import Homework, read_submission
from .leftovers import sweep, temp_dir
from .notebooks import read_notebook
from .project import cache_dir, starter_dir
from .results import CheckResult, SubmissionResult
from .rubric import SubmissionLimits, load_rubric

__all__ = ["SelfCheck", "run_self_check"]

SECTION_ONE = {"handcalc.forward": "Section 1, forward pass", "handcalc.backward": "Section 1, backward pass"}


@dataclass(frozen=True)
class SelfCheck:
    """The public checks' results for a working folder, and the warnings."""

    result: SubmissionResult
    warnings: tuple[str, ...]
    quick: bool
    limits: SubmissionLimits  # what the student's code ran under: the grading limits

    @property
    def passed(self) -> bool:
        """True when every public check that ran passed."""
        return all(c.status in ("passed", "flagged", "skipped") for c in self.result.checks)


def _for_the_student(check: CheckResult) -> str:
    """A flagged check in the words of the person who wrote the code (its message is for a TA)."""
    where = [str(item.label) for item in check.details]
    if check.id == "integrity.cells":
        cells = ", ".join(label.removeprefix("cell ") for label in where)
        return (
            f"you deleted {len(where)} code cell(s) of the starter notebook ({cells}): the homework asks you "
            "to keep every code cell; copy them back from a fresh copy of the starter"
        )
    if check.id == "integrity.code":
        given = [str(item.label) for item in check.details if item.note == COURSE_RAN]
        changed = [str(item.label) for item in check.details if item.note != COURSE_RAN]
        broken = [f"{item.label}: {item.note}" for item in check.details if item.note not in (CHANGED, COURSE_RAN)]
        said = []
        if given:
            said.append(
                f"you changed the given {', '.join(given)}: the grader runs the course's version of a given cell, "
                "so your change there does not count; keep your work in the START/END regions or in cells you add"
            )
        if changed:
            said.append(
                f"you changed code outside the START/END regions in {', '.join(changed)}: the homework asks you to "
                "highlight every such change in your notebook (a hyperparameter you tuned, say), so do that, and "
                "undo any change you did not mean to make" + (f" ({'; '.join(broken)})" if broken else "")
            )
        return "; and ".join(said)
    if check.id == "integrity.unseen":
        above = [f"{item.label} {item.observed:.1%}" for item in check.details if not item.ok]
        unseen = check.details[0].expected if check.details else "much less"
        return (
            f"your best_net's {' and '.join(above)} is far above its accuracy on images it never saw ({unseen}): "
            "it looks trained on those images; train on X_train only, and use X_val only to choose settings"
        )
    return check.message


def _warnings(result: SubmissionResult, notebook: NotebookNode | None, starter_notebook: NotebookNode) -> list[str]:
    warnings = [_for_the_student(c) for c in result.checks if c.status == "flagged"]
    for role, where in SECTION_ONE.items():
        text = answer_text(notebook, starter_notebook, role)
        if notebook is not None and not text:
            warnings.append(f"{where}: not answered yet")
        elif text and not has_numbers(text):
            warnings.append(f"{where}: the answer has no numbers in it (write each value out)")
    return warnings


def run_self_check(
    folder: Path,
    *,
    quick: bool = False,
    cifar_dir: Path | None = None,
    starter: Path | None = None,
    cache: Path | None = None,
    out: Path | None = None,
    progress: Callable[[CellRecord], None] | None = None,
) -> SelfCheck:
    """Run the public checks on `folder` (the student's copy of the assignment)."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder; run `grader check` in your assignment folder")
    starter = starter or starter_dir()
    rubric = load_rubric(starter / "rubric.toml")
    split = None
    if not quick:
        data = cifar_dir or folder / "data" / "datasets" / "cifar-10-batches-py"
        if cifar_dir is not None or data.is_dir():
            split = prepare_split(batches_dir(data), cache or cache_dir())
    # The student's own code on the student's own machine: limits and a clean child process,
    # not isolation, so the check runs the same on every machine (no bwrap, no root, macOS).
    course = Course(rubric, starter, None, split, isolation="none")
    submission = read_submission(folder, homework=Homework.of(rubric))
    notebook, _, _ = load_submitted(submission, rubric)
    sweep()  # what a killed check left: its kernel (no bwrap here) and its temporary folders
    with temp_dir("check") as tmp:
        result = grade_submission(
            submission,
            course,
            reference=None,
            out_dir=out or Path(tmp),
            run_notebook=not quick,
            progress=progress,
        )
    warnings = _warnings(result, notebook, read_notebook(starter / rubric.notebook))
    if not quick and split is None:
        warnings.append("no CIFAR-10 data in data/datasets/cifar-10-batches-py: the CIFAR-10 checks were skipped")
    return SelfCheck(result, tuple(warnings), quick, course.rubric.limits)
