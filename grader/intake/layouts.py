"""The layouts intake reads, each once, from the mapping `sources` makes of a folder or a zip:
a class folder, a Gradescope export, and the Canvas, Moodle and Blackboard downloads."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

import yaml

from ..errors import SubmissionError
from .sources import Files, read_zip
from .submission import HOMEWORK, Member, Submission, from_files, not_graded, own_name, safe_id, with_problems

_METADATA = "submission_metadata.yml"
# Canvas (lib/content_zipper.rb): `{sortable name}_{LATE_}{user id}_{file id}_{file}`, the name
# lowercased and stripped to word characters (it may hold `_`, never `_<digits>_`, which Canvas
# removes so that the first two numbers are the ids); anonymous grading: `{LATE_}anon_{id}_...`.
_CANVAS = re.compile(r"(?P<name>.*?)_(?P<late>LATE_)?(?P<student>\d+)_(?P<file>\d+)_(?P<original>.+)")
_CANVAS_ANONYMOUS = re.compile(
    r"(?P<late>LATE_)?(?P<student>anon_[1-9A-HJ-NP-Za-km-z]+)_(?P<file>\d+)_(?P<original>.+)"
)
# Canvas names a re-upload of a file the student already has `toy_nn-1.ipynb` (Attachment.make_unique_filename).
_CANVAS_COPY = re.compile(r"(?P<base>.+)-\d+(?P<ext>(\.[A-Za-z][A-Za-z0-9]*)*\.[A-Za-z0-9]*)")
# Moodle (mod/assign/classes/downloader.php): `{Full Name}_{participant id}_assignsubmission_file/`
# and the student's own paths under it; `..._file_/` before 4.1, `..._file_{file}` without folders.
_MOODLE = re.compile(r"(?P<name>[^/]+?)_(?P<student>\d+)_assignsubmission_file(?P<sep>_?/|_)(?P<original>.+)")
# Blackboard: `{assignment}_{username}_attempt_{yyyy-mm-dd-hh-mm-ss}_{file}`, and `... .txt` the receipt.
# Both the assignment and the username may hold `_`: a student's files are those of one prefix
# (`student` here), and the receipt says which end of it is the username.
_BLACKBOARD = re.compile(r"(?P<student>[^/]+)_attempt_(?P<attempt>\d{4}(-\d\d){5})(_(?P<original>.+)|\.txt)")
_RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<username>[^()]*)\)\s*$", re.MULTILINE)


# ---------------------------------------------------------------- zips


def unzip(archive: Path | bytes, shown: Path) -> dict[str, bytes | SubmissionError]:
    """`read_zip`, without the top folder (or a few nested ones) many zips wrap their files in."""
    return _strip_common_folder(read_zip(archive, shown))


def _strip_common_folder(files: dict[str, bytes | SubmissionError]) -> dict[str, bytes | SubmissionError]:
    """Zips often hold one top folder (`alice/toy_nn.ipynb`), or a few nested ones: drop them
    (not `hw3code/`, nor a Moodle student's folder: both say what is inside)."""
    while files and all("/" in n for n in files):
        tops = {n.split("/", 1)[0] for n in files}
        if len(tops) > 1 or tops == {"hw3code"} or any(_MOODLE.fullmatch(n) for n in files):
            break
        files = {n.split("/", 1)[1]: data for n, data in files.items()}
    return files


def _zip_submission(data: bytes | SubmissionError, shown: Path, student: str) -> Submission:
    """The submission a zip's bytes hold (a class folder's entry); a zip that cannot be read is its only problem."""
    try:
        if isinstance(data, SubmissionError):  # the entry itself could not be read (a link, a FIFO)
            raise data
        files = unzip(data, shown)
    except SubmissionError as exc:
        return not_graded(student, shown, str(exc))
    return from_files(files, shown, student)


# ---------------------------------------------------------------- layouts


def _ignored_top(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _homework_or_zip(name: str) -> bool:
    return name.lower().endswith((*HOMEWORK, ".zip"))


def _canvas_name(name: str) -> re.Match[str] | None:
    """The parts of a Canvas download's file name (`student`, `late`, `file`, `original`, maybe `name`), or None."""
    return _CANVAS_ANONYMOUS.fullmatch(name) or _CANVAS.fullmatch(name)


def layout_of(names: Collection[str]) -> str:
    """How to read a folder or zip holding `names` (relative POSIX paths): `gradescope`, `moodle`,
    `blackboard`, `canvas`, `submission` or `class`.

    Students' folders or zips inside make a class folder, whatever loose files lie beside them;
    but a student's own `toy_nn.ipynb` or `neural_net.py` at the top make a submission, unless at
    least two folders or zips look like submissions (one may be the student's `old/` copy). Only
    flat files can be a Canvas or Blackboard download, whose names those systems chose.
    """
    if _METADATA in names:
        return "gradescope"
    if any(_MOODLE.fullmatch(n) for n in names):
        return "moodle"
    if any(n.startswith("hw3code/") for n in names):
        return "submission"
    top = [n for n in names if "/" not in n and not _ignored_top(n)]
    folders = {n.split("/", 1)[0] for n in names if "/" in n and _homework_or_zip(n) and not _ignored_top(n)}
    if not folders and any(_BLACKBOARD.fullmatch(n) for n in top):
        return "blackboard"
    if not folders and any(_canvas_name(n) for n in top if _homework_or_zip(n)):
        return "canvas"
    entries = len(folders) + sum(n.lower().endswith(".zip") for n in top)
    homework = [n for n in top if n.endswith(HOMEWORK)]
    if any(own_name(n) for n in homework) and entries < 2:
        return "submission"
    if entries:
        return "class"
    return "submission" if homework else "class"


def _stray(name: str, data: bytes | SubmissionError, where: Path, layout: str) -> Iterator[Submission]:
    """An entry that is no student's submission: a row that says why (an unreadable entry, a loose
    homework file or zip), or nothing for a file intake ignores (a receipt, notes)."""
    shown = where / name
    if isinstance(data, SubmissionError):
        yield not_graded(name, shown, str(data))
    elif _homework_or_zip(name) and layout == "class":
        yield not_graded(
            name,
            shown,
            f"{shown}: a loose file beside the submissions; not graded (a submission is a folder or a .zip: "
            "put a student's files in a folder named after the student, move anything else out)",
        )
    elif _homework_or_zip(name):
        yield not_graded(
            name, shown, f"{shown}: not named as {layout} names a student's file; not graded (move it out)"
        )


def _class(files: Files, where: Path) -> Iterator[Submission]:
    """Each top folder and zip of a class folder; each loose homework file or unreadable entry as a problem."""
    groups: dict[str, dict[str, bytes | SubmissionError]] = {}
    if where.is_dir():  # a student's folder with nothing intake reads is a row, not a silent drop
        groups = {e.name: {} for e in os.scandir(where) if e.is_dir(follow_symlinks=False) and not _ignored_top(e.name)}
    for name, data in files.items():
        top, _, rest = name.partition("/")
        if not _ignored_top(top):
            groups.setdefault(top, {}).update({rest: data} if rest else {})
    for top in sorted(groups):
        if top not in files:  # a folder
            yield from_files(groups[top], where / top, top)
        elif top.lower().endswith(".zip"):
            yield _zip_submission(files[top], where / top, PurePosixPath(top).stem)
        else:
            yield from _stray(top, files[top], where, "class")


# ---------------------------------------------------------------- Gradescope


def _members(info: object, folder: str) -> tuple[Member, ...]:
    """The submitters of a Gradescope submission, with their names (`name`, `sid`, `email`), the
    submission's id and, for a group, `group`: everyone's names."""
    submitters = info.get(":submitters") if isinstance(info, dict) else None
    people = [s for s in submitters if isinstance(s, dict)] if isinstance(submitters, list) else []
    found = [{str(k).lstrip(":"): str(v) for k, v in s.items() if v is not None} for s in people] or [{}]
    shared = {"gradescope_submission": folder.removeprefix("submission_")}
    if len(found) > 1:
        shared["group"] = ", ".join(m.get("name", "?") for m in found)
    return tuple(
        Member(safe_id(m.get("sid") or m.get("email") or m.get("name") or folder), {**m, **shared}) for m in found
    )


def _gradescope(files: Files, where: Path) -> Iterator[Submission]:
    """Each submission folder a Gradescope export's metadata names, a group's once, with its `members`."""
    shown = where / _METADATA
    data = files[_METADATA]
    try:
        if isinstance(data, SubmissionError):
            raise data
        metadata = yaml.safe_load(data.decode("utf-8")) or {}
    except (SubmissionError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SubmissionError(f"{shown}: unreadable Gradescope metadata ({exc})") from exc
    if not isinstance(metadata, dict):
        raise SubmissionError(f"{shown}: expected a mapping of submission folders")
    for folder, info in sorted((str(k), v) for k, v in metadata.items()):
        mine = {n[len(folder) + 1 :]: d for n, d in files.items() if n.startswith(folder + "/")}
        members = _members(info, folder)
        sub = from_files(mine, where / folder, members[0].student, members[0].names)
        yield replace(sub, members=members if len(members) > 1 else ())


# ---------------------------------------------------------------- Canvas, Moodle, Blackboard

# How one student's files of an LMS download make a submission: (what the names' `student`
# group holds: the id, or Blackboard's prefix; the matches of the student's file names, every
# file, the download's path) -> Submission.
_Student = Callable[[str, list[re.Match[str]], Files, Path], Submission]


def _download(
    files: Files, where: Path, *, system: str, parse: Callable[[str], re.Match[str] | None], student: _Student
) -> Iterator[Submission]:
    """Each student's submission of an LMS download, whose file names `parse` reads (a match with
    a `student` group), made by `student`; each other homework file as a problem."""
    groups: dict[str, list[re.Match[str]]] = {}
    for name, data in files.items():
        if _ignored_top(name.split("/", 1)[0]):
            continue
        match = parse(name)
        if match:
            groups.setdefault(match["student"], []).append(match)
        else:
            yield from _stray(name, data, where, system)
    for who in sorted(groups):
        yield student(who, groups[who], files, where)


def _uploads(matches: Iterable[re.Match[str]], files: Files, where: Path) -> dict[str, bytes | SubmissionError]:
    """The files of a download named by `matches`, under the student's own names (`original`),
    each `.zip` among them replaced by its files (`hw3.zip/toy_nn.ipynb`) or by why it cannot be read."""
    out: dict[str, bytes | SubmissionError] = {}
    for match in matches:
        name, data = match["original"], files[match.string]
        if not (name.lower().endswith(".zip") and isinstance(data, bytes)):
            out[name] = data
            continue
        try:
            out.update({f"{name}/{inner}": d for inner, d in unzip(data, where / match.string).items()})
        except SubmissionError as exc:
            out[name] = exc
    return out


def _without_copy_suffix(name: str) -> str:
    match = _CANVAS_COPY.fullmatch(name)
    return match["base"] + match["ext"] if match else name


def _canvas_student(student: str, matches: list[re.Match[str]], files: Files, where: Path) -> Submission:
    """A Canvas student's files under their own names. Canvas keeps only the latest attempt, but
    a file uploaded again is named `toy_nn-1.ipynb`: of two such, the newest is graded."""
    newest: dict[str, re.Match[str]] = {}
    ignored = []
    for match in sorted(matches, key=lambda m: int(m["file"])):  # Canvas's file ids grow with each upload
        same = _without_copy_suffix(match["original"])
        if same in newest:
            ignored.append(newest[same]["original"])
        newest[same] = match
    name = matches[0].groupdict().get("name")  # absent when grading is anonymous
    names = {"name": name} if name else {}
    if any(m["late"] for m in matches):
        names["late"] = "yes"
    notes = [f"re-uploaded files: graded the newest of each (ignored {', '.join(ignored)})"] if ignored else []
    return with_problems(from_files(_uploads(newest.values(), files, where), where, student, names), notes)


def _moodle_student(student: str, matches: list[re.Match[str]], files: Files, where: Path) -> Submission:
    """A Moodle student's files, with the paths they uploaded them under, from their folder."""
    first = matches[0]
    source = where / first.string.split("/", 1)[0] if "/" in first["sep"] else where
    return from_files(_uploads(matches, files, where), source, student, {"name": first["name"]})


def _blackboard_student(prefix: str, matches: list[re.Match[str]], files: Files, where: Path) -> Submission:
    """A Blackboard student's latest attempt (its date-time sorts as text); the id is the username
    the receipt gives (`Name: Jane Doe (jdoe)`), else the prefix's part after its last `_`.

    The older attempts are listed in `names` (a gradebook column), not as a problem: resubmitting
    is allowed when the assignment allows several attempts, and the last is what the student meant."""
    attempts = sorted({m["attempt"] for m in matches})
    latest = [m for m in matches if m["attempt"] == attempts[-1]]
    receipt = next((files[m.string] for m in latest if not m["original"]), None)
    found = _RECEIPT_NAME.search(receipt.decode("utf-8", "replace")) if isinstance(receipt, bytes) else None
    username = found["username"] if found else ""
    student = username if username and prefix.endswith(f"_{username}") else prefix.rsplit("_", 1)[-1]
    names = {"name": found["name"]} if found else {}
    names["attempt"] = attempts[-1]
    if len(attempts) > 1:
        names["ignored_attempts"] = ", ".join(attempts[:-1])
    uploads = _uploads((m for m in latest if m["original"]), files, where)
    return from_files(uploads, where, student, names)


# Each layout `layout_of` names but `submission`: (the files, where they were read from) -> its submissions.
LAYOUTS: dict[str, Callable[[Files, Path], Iterator[Submission]]] = {
    "gradescope": _gradescope,
    "class": _class,
    "canvas": functools.partial(_download, system="Canvas", parse=_canvas_name, student=_canvas_student),
    "moodle": functools.partial(_download, system="Moodle", parse=_MOODLE.fullmatch, student=_moodle_student),
    "blackboard": functools.partial(
        _download, system="Blackboard", parse=_BLACKBOARD.fullmatch, student=_blackboard_student
    ),
}
