"""Exercise package and autograder for CS145 HW3 part 2 (a two-layer network on CIFAR-10).

The pipeline, one module per stage::

    intake     submissions (folders, zips, Gradescope, Canvas, Moodle, Blackboard) -> Submission
    execute    a fresh workspace, run in the sandbox (sandbox, harness/)  -> Evidence
    checks     Evidence vs. the public values and the reference           -> CheckResult
    results    Gradescope results.json; gradebook: the class CSV
    grading    grade_submission / grade_batch tie the stages together

and, around it: `generate` (the student starter from the reference), `datasets`
(CIFAR-10: reading, synthesising, fetching), `rubric`, `demo`, `leftovers` (what a killed
grader left, swept by the next).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DataError, GraderError, MarkerError, SandboxError, SubmissionError

# The rest is imported when first used (PEP 562): `import grader` runs for every command, and a
# command should load only what it needs (`grader check` needs no starter generator, `grader
# data` no grading pipeline).
_LAZY = {
    "check_assignment": "generate",
    "generate_assignment": "generate",
    "BatchResult": "grading",
    "Course": "grading",
    "grade_batch": "grading",
    "grade_submission": "grading",
    "open_course": "grading",
    "Submission": "intake",
    "discover": "intake",
    "CheckResult": "results",
    "SubmissionResult": "results",
    "Rubric": "rubric",
    "load_rubric": "rubric",
}

if TYPE_CHECKING:
    from .generate import check_assignment, generate_assignment
    from .grading import BatchResult, Course, grade_batch, grade_submission, open_course
    from .intake import Submission, discover
    from .results import CheckResult, SubmissionResult
    from .rubric import Rubric, load_rubric


def __getattr__(name: str) -> Any:
    """The public names of the stages, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "BatchResult",
    "CheckResult",
    "ConfigError",
    "Course",
    "DataError",
    "GraderError",
    "MarkerError",
    "Rubric",
    "SandboxError",
    "Submission",
    "SubmissionError",
    "SubmissionResult",
    "check_assignment",
    "discover",
    "generate_assignment",
    "grade_batch",
    "grade_submission",
    "load_rubric",
    "open_course",
]
