"""Intake: turn what an instructor downloaded into one `Submission` per student (or group).

Accepted layouts, for each path given to `grader grade`, each a folder or a `.zip` of it:

- one submission: the notebook (`toy_nn.ipynb`, or the only `.ipynb`) and
  `hw3code/neural_net.py` (or a lone `neural_net.py`); the id is the folder's or zip's name;
- a class folder whose entries are such folders or zips; the id is the entry's name;
- a Gradescope "export submissions" folder (`submission_metadata.yml` and one
  `submission_<n>/` folder each): the id is the submitter's SID (else email, name); a group
  submission is one `Submission` whose `members` are every member, graded once for all;
- a Canvas "Download Submissions" zip: flat files `{name}_{LATE_}{user id}_{file id}_{file}`
  (or `{LATE_}anon_{id}_{file id}_{file}` when grading is anonymous); the id is the Canvas
  user id (or `anon_<id>`), and of a re-upload Canvas renamed `toy_nn-1.ipynb` the newest is graded;
- a Moodle "Download all submissions" zip: a folder `{Full Name}_{id}_assignsubmission_file`
  per student (`..._file_` before Moodle 4.1; flat `..._file_{file}` names without folders);
  the id is Moodle's participant id;
- a Blackboard "Download Assignment" zip: flat files `{assignment}_{username}_attempt_{date}_{file}`
  and a receipt `{assignment}_{username}_attempt_{date}.txt` per attempt; the id is the username,
  the latest attempt is graded and its receipt gives the student's name.

A student's own `.zip` in a Canvas, Moodle or Blackboard download, or among a class
folder's entries, is read as (part of) their submission. Files are read into memory here
(zips are never extracted, so no archive can write outside its folder), and every zip is
bounded (`MAX_ARCHIVE_BYTES`, `MAX_ARCHIVE_ENTRIES`, `MAX_COMPRESSION_RATIO`) before any of
it is unpacked; everything else in a submission is ignored. Symbolic links are followed only
for the paths the instructor names; one found inside is never followed, and is reported,
as is a hard link (another name of a file that may be the solution's), which is not read. A
submission with a missing or unreadable part is still returned, with `problems` that say what
is missing: it is graded as far as possible. A loose homework file where a submission was
expected (a notebook beside the students' folders) becomes an entry of its own, with no files
and a problem that says so, so that it shows in the gradebook.

Inside: `sources` reads a folder or a zip into one mapping (each relative name to its bytes, or
to why it could not be read), `layouts` reads every layout once from that mapping, and
`submission` chooses a submission's notebook and module among its files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError, SubmissionError
from .layouts import LAYOUTS, layout_of, unzip
from .sources import MAX_ARCHIVE_BYTES, MAX_ARCHIVE_ENTRIES, MAX_COMPRESSION_RATIO, read_folder
from .submission import Member, Submission, from_files, not_graded

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_ENTRIES",
    "MAX_COMPRESSION_RATIO",
    "Member",
    "Submission",
    "discover",
    "read_submission",
]


def read_submission(path: Path, student: str | None = None, names: Mapping[str, str] | None = None) -> Submission:
    """One submission from a folder or a zip; its id defaults to the folder's or zip's name.

    `path` itself may be a symbolic link (the caller chose it); none inside it is followed.
    """
    student = student or (path.stem if path.suffix.lower() == ".zip" else path.name)
    try:
        files = read_folder(path) if not path.is_file() else unzip(path, path)
    except SubmissionError as exc:
        return replace(not_graded(student, path, str(exc)), names=dict(names or {}))
    return from_files(files, path, student, names)


# ---------------------------------------------------------------- discover


def _from_path(path: Path) -> Iterator[Submission]:
    """Every submission in a folder or zip named on the command line (followed if it is a link:
    the instructor's choice). Raises `SubmissionError` for a folder that cannot be listed."""
    is_zip = path.is_file()
    try:
        files = unzip(path, path) if is_zip else read_folder(path)
    except SubmissionError as exc:
        if not is_zip:
            raise
        return iter([not_graded(path.stem, path, str(exc))])
    layout = layout_of(files)
    if layout == "submission":
        return iter([from_files(files, path, path.stem if is_zip else path.name)])
    return LAYOUTS[layout](files, path)


def discover(paths: Iterable[Path]) -> list[Submission]:
    """Every submission under `paths`, in a stable order, with unique student ids (a group's
    members' included).

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
    found = {path: list(_from_path(path)) for path in paths}
    if not any(found.values()):  # the wrong folder, most likely
        raise ConfigError("no submissions found in " + ", ".join(map(str, paths)))
    # Beside others, a path holding nothing to grade is a student who submitted nothing: a row.
    rows = [got or [from_files({}, path, path.stem if path.is_file() else path.name)] for path, got in found.items()]
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
