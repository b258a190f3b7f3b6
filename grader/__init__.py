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

from .errors import ConfigError, DataError, GraderError, MarkerError, SandboxError, SubmissionError
from .generate import check_assignment, generate_assignment
from .grading import BatchResult, Course, grade_batch, grade_submission, open_course
from .intake import Submission, discover
from .results import CheckResult, SubmissionResult
from .rubric import Rubric, load_rubric

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
