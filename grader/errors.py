"""The one exception tree of the grader: failures of the harness, never of a student.

A student's mistake is data (a failed `CheckResult`); these exceptions are for the
cases where the grader itself cannot go on, and each names the file and what to do::

    GraderError                 base; `exit_code` is what the CLI exits with
    ├── ConfigError             the rubric, a path or an option is wrong
    ├── DataError               the CIFAR-10 data set is missing, corrupt or cannot be fetched
    ├── MarkerError             START/END markers are malformed in a solution file
    ├── SubmissionError         a submission cannot be read at all (no files, bad archive)
    └── SandboxError            the sandbox could not be started
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "GraderError",
    "MarkerError",
    "SandboxError",
    "SubmissionError",
]


class GraderError(Exception):
    """Base of every harness failure. The message says what went wrong and what to do."""

    exit_code = 1


class ConfigError(GraderError):
    """A rubric value, a path or a command-line option is wrong."""

    exit_code = 2


class DataError(GraderError):
    """The CIFAR-10 data set is missing, malformed or cannot be downloaded."""


class MarkerError(GraderError):
    """START/END YOUR CODE HERE markers are malformed at `path`:`line`."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line}: {problem}")


class SubmissionError(GraderError):
    """A submission cannot be read at all (it is not a folder, a zip or a known layout)."""


class SandboxError(GraderError):
    """The sandbox could not be started (not: the student's code failed inside it)."""
