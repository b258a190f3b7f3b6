"""The paths an instructor names, read: one submission (`read_submission`), or every submission
under them with unique ids (`discover`), each path a folder or a zip in any layout `layouts` reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError, SubmissionError
from .layouts import LAYOUTS, layout_of, open_path
from .submission import ASSIGNMENT, Homework, Submission, from_files, not_graded

__all__ = ["discover", "read_submission"]


def read_submission(
    path: Path,
    student: str | None = None,
    names: Mapping[str, str] | None = None,
    homework: Homework = ASSIGNMENT,
) -> Submission:
    """One submission of `homework` (`Homework.of(rubric)`) from a folder or a zip; its id
    defaults to the folder's or zip's name.

    `path` itself may be a symbolic link (the caller chose it); none inside it is followed.
    """
    student = student or (path.stem if path.suffix.lower() == ".zip" else path.name)
    try:
        source = open_path(path, homework)
    except SubmissionError as exc:
        return replace(not_graded(student, path, str(exc)), names=dict(names or {}))
    return from_files(source.files, path, student, homework, names)


def _id(path: Path) -> str:
    """The id of the submission a path named on the command line is: a zip's name without `.zip`, a folder's name."""
    return path.stem if path.is_file() else path.name


def _from_path(path: Path, homework: Homework) -> Iterator[Submission]:
    """Every submission in a folder or zip named on the command line (followed if it is a link:
    the instructor's choice). Raises `SubmissionError` for a folder that cannot be listed."""
    try:
        source = open_path(path, homework)
    except SubmissionError as exc:
        if not path.is_file():  # the instructor's folder: theirs to make readable, not a student's row
            raise
        return iter([not_graded(_id(path), path, str(exc))])
    layout = layout_of(source.files, homework)
    if layout == "submission":
        return iter([from_files(source.files, path, _id(path), homework)])
    return LAYOUTS[layout](source, homework)


def discover(paths: Iterable[Path], homework: Homework = ASSIGNMENT) -> list[Submission]:
    """Every submission of `homework` (`Homework.of(rubric)`) under `paths`, in a stable order,
    with unique student ids (a group's members' included).

    Raises `ConfigError` for a path that does not exist or when none holds a submission (one
    that holds nothing beside others that do is a student's empty submission, a row), and
    `SubmissionError` for one that cannot be listed; a file that cannot be read is a
    problem of its submission, never an error.
    """
    paths = list(map(Path, paths))
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() != ".zip":
            raise ConfigError(f"{path}: a submission is a folder or a .zip")
    found = {path: list(_from_path(path, homework)) for path in paths}
    if not any(found.values()):  # the wrong folder, most likely
        raise ConfigError("no submissions found in " + ", ".join(map(str, paths)))
    # Beside others, a path holding nothing to grade is a student who submitted nothing: a row.
    rows = [got or [from_files({}, path, _id(path), homework)] for path, got in found.items()]
    return _unique([submission for row in rows for submission in row])


def _unique(submissions: list[Submission]) -> list[Submission]:
    """Give a repeated student id (a submission's, or a group member's) a numbered suffix, and say so."""
    seen: dict[str, int] = {}

    def unique(student: str, notes: list[str]) -> str:
        count = seen.get(student, 0)
        seen[student] = count + 1
        if not count:
            return student
        renamed = f"{student}~{count + 1}"
        notes.append(f"the id {student} appears more than once; graded as {renamed}")
        return renamed

    out = []
    for sub in submissions:
        notes: list[str] = []
        members = tuple(replace(m, student=unique(m.student, notes)) for m in sub.members)
        student = members[0].student if members else unique(sub.student, notes)
        out.append(replace(sub, student=student, members=members, problems=(*sub.problems, *notes)))
    return out
