"""The layouts intake reads, each once, from a `Source` (a folder or a zip alike): a class
folder, a Gradescope export, and the Canvas, Moodle and Blackboard downloads; and which of them
a source is (`layout_of`). The homework's file names come from the rubric (`Homework`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

import yaml

from ..errors import SubmissionError
from .sources import Files, Source
from .submission import (
    HOMEWORK,
    Homework,
    Member,
    Submission,
    from_files,
    not_graded,
    own_name,
    safe_id,
    with_problems,
)

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


# ---------------------------------------------------------------- opening


def open_path(path: Path, homework: Homework) -> Source:
    """The folder or zip file `path` (named by the instructor, so followed if it is a link).

    Raises `SubmissionError` for a folder that cannot be listed or a zip that cannot be read."""
    return _unzip(path, path, homework) if path.is_file() else Source.of_folder(path)


def _unzip(archive: Path | bytes, shown: Path, homework: Homework) -> Source:
    """`Source.of_zip`, without the top folder (or a few nested ones) many zips wrap their files in."""
    source = Source.of_zip(archive, shown)
    return replace(source, files=_strip_common_folder(source.files, homework))


def _open_zip(source: Source, name: str, homework: Homework) -> Source:
    """The zip `name` of `source` (a student's); raises `SubmissionError` if it cannot be read, or
    if the entry itself could not be (a link, a FIFO)."""
    return _unzip(source.read(name), source.shown / name, homework)


def _strip_common_folder(files: Files, homework: Homework) -> Files:
    """Zips often hold one top folder (`alice/toy_nn.ipynb`), or a few nested ones: drop them
    (not the module's folder, `hw3code/`, nor a Moodle student's folder: both say what is inside)."""
    module_top = homework.module_folder.split("/", 1)[0]
    while files and all("/" in n for n in files):
        tops = {n.split("/", 1)[0] for n in files}
        if len(tops) > 1 or (module_top and tops == {module_top}) or any(_MOODLE.fullmatch(n) for n in files):
            break
        files = {n.split("/", 1)[1]: data for n, data in files.items()}
    return files


def _zip_submission(source: Source, name: str, homework: Homework) -> Submission:
    """The submission the zip `name` of `source` holds (a class folder's entry); a zip that cannot
    be read is its only problem."""
    shown, student = source.shown / name, PurePosixPath(name).stem
    try:
        files = _open_zip(source, name, homework).files
    except SubmissionError as exc:
        return not_graded(student, shown, str(exc))
    return from_files(files, shown, student, homework)


# ---------------------------------------------------------------- layouts


def _ignored_top(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _homework_or_zip(name: str) -> bool:
    return name.lower().endswith((*HOMEWORK, ".zip"))


def _canvas_name(name: str) -> re.Match[str] | None:
    """The parts of a Canvas download's file name (`student`, `late`, `file`, `original`, maybe `name`), or None."""
    return _CANVAS_ANONYMOUS.fullmatch(name) or _CANVAS.fullmatch(name)


def layout_of(names: Collection[str], homework: Homework) -> str:
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
    if homework.module_folder and any(n.startswith(homework.module_folder) for n in names):
        return "submission"
    top = [n for n in names if "/" not in n and not _ignored_top(n)]
    folders = {n.split("/", 1)[0] for n in names if "/" in n and _homework_or_zip(n) and not _ignored_top(n)}
    if not folders and any(_BLACKBOARD.fullmatch(n) for n in top):
        return "blackboard"
    if not folders and any(_canvas_name(n) for n in top if _homework_or_zip(n)):
        return "canvas"
    entries = len(folders) + sum(n.lower().endswith(".zip") for n in top)
    loose = [n for n in top if n.endswith(HOMEWORK)]
    if any(own_name(n, homework) for n in loose) and entries < 2:
        return "submission"
    if entries:
        return "class"
    return "submission" if loose else "class"


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


def _class(source: Source, homework: Homework) -> Iterator[Submission]:
    """Each top folder and zip of a class folder; each loose homework file or unreadable entry as a problem."""
    # A folder listed with nothing intake reads in it is a student's row, not a silent drop.
    tops = {n.split("/", 1)[0] for n in source.files} | {f for f in source.folders if "/" not in f}
    for top in sorted(t for t in tops if not _ignored_top(t)):
        if top not in source.files:  # a folder
            yield from_files(source.sub(top).files, source.shown / top, top, homework)
        elif top.lower().endswith(".zip"):
            yield _zip_submission(source, top, homework)
        else:
            yield from _stray(top, source.files[top], source.shown, "class")


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


def _gradescope(source: Source, homework: Homework) -> Iterator[Submission]:
    """Each submission folder a Gradescope export's metadata names, a group's once, with its `members`."""
    shown = source.shown / _METADATA
    try:
        metadata = yaml.safe_load(source.read(_METADATA).decode("utf-8")) or {}
    except (SubmissionError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SubmissionError(f"{shown}: unreadable Gradescope metadata ({exc})") from exc
    if not isinstance(metadata, dict):
        raise SubmissionError(f"{shown}: expected a mapping of submission folders")
    for folder, info in sorted((str(k), v) for k, v in metadata.items()):
        members = _members(info, folder)
        sub = from_files(
            source.sub(folder).files, source.shown / folder, members[0].student, homework, members[0].names
        )
        yield replace(sub, members=members if len(members) > 1 else ())


# ---------------------------------------------------------------- Canvas, Moodle, Blackboard

# How one student's files of an LMS download make a submission: (what the names' `student`
# group holds: the id, or Blackboard's prefix; the matches of the student's file names, the
# download, the homework) -> Submission.
_Student = Callable[[str, list[re.Match[str]], Source, Homework], Submission]


def _download(
    source: Source,
    homework: Homework,
    *,
    system: str,
    parse: Callable[[str], re.Match[str] | None],
    student: _Student,
) -> Iterator[Submission]:
    """Each student's submission of an LMS download, whose file names `parse` reads (a match with
    a `student` group), made by `student`; each other homework file as a problem."""
    groups: dict[str, list[re.Match[str]]] = {}
    for name, data in source.files.items():
        if _ignored_top(name.split("/", 1)[0]):
            continue
        match = parse(name)
        if match:
            groups.setdefault(match["student"], []).append(match)
        else:
            yield from _stray(name, data, source.shown, system)
    for who in sorted(groups):
        yield student(who, groups[who], source, homework)


def _uploads(
    matches: Iterable[re.Match[str]], source: Source, homework: Homework
) -> dict[str, bytes | SubmissionError]:
    """The files of a download named by `matches`, under the student's own names (`original`),
    each `.zip` among them replaced by its files (`hw3.zip/toy_nn.ipynb`) or by why it cannot be read."""
    out: dict[str, bytes | SubmissionError] = {}
    for match in matches:
        name = match["original"]
        if not name.lower().endswith(".zip"):
            out[name] = source.files[match.string]
            continue
        try:
            out.update({f"{name}/{inner}": d for inner, d in _open_zip(source, match.string, homework).files.items()})
        except SubmissionError as exc:
            out[name] = exc
    return out


def _without_copy_suffix(name: str) -> str:
    match = _CANVAS_COPY.fullmatch(name)
    return match["base"] + match["ext"] if match else name


def _canvas_student(student: str, matches: list[re.Match[str]], source: Source, homework: Homework) -> Submission:
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
    uploads = _uploads(newest.values(), source, homework)
    return with_problems(from_files(uploads, source.shown, student, homework, names), notes)


def _moodle_student(student: str, matches: list[re.Match[str]], source: Source, homework: Homework) -> Submission:
    """A Moodle student's files, with the paths they uploaded them under, from their folder."""
    first = matches[0]
    shown = source.shown / first.string.split("/", 1)[0] if "/" in first["sep"] else source.shown
    return from_files(_uploads(matches, source, homework), shown, student, homework, {"name": first["name"]})


def _blackboard_student(prefix: str, matches: list[re.Match[str]], source: Source, homework: Homework) -> Submission:
    """A Blackboard student's latest attempt (its date-time sorts as text); the id is the username
    the receipt gives (`Name: Jane Doe (jdoe)`), else the prefix's part after its last `_`.

    The older attempts are listed in `names` (a gradebook column), not as a problem: resubmitting
    is allowed when the assignment allows several attempts, and the last is what the student meant."""
    attempts = sorted({m["attempt"] for m in matches})
    latest = [m for m in matches if m["attempt"] == attempts[-1]]
    receipt = next((source.files[m.string] for m in latest if not m["original"]), None)
    found = _RECEIPT_NAME.search(receipt.decode("utf-8", "replace")) if isinstance(receipt, bytes) else None
    username = found["username"] if found else ""
    student = username if username and prefix.endswith(f"_{username}") else prefix.rsplit("_", 1)[-1]
    names = {"name": found["name"]} if found else {}
    names["attempt"] = attempts[-1]
    if len(attempts) > 1:
        names["ignored_attempts"] = ", ".join(attempts[:-1])
    uploads = _uploads((m for m in latest if m["original"]), source, homework)
    return from_files(uploads, source.shown, student, homework, names)


# Each layout `layout_of` names but `submission`: (the source, the homework) -> its submissions.
LAYOUTS: dict[str, Callable[[Source, Homework], Iterator[Submission]]] = {
    "gradescope": _gradescope,
    "class": _class,
    "canvas": functools.partial(_download, system="Canvas", parse=_canvas_name, student=_canvas_student),
    "moodle": functools.partial(_download, system="Moodle", parse=_MOODLE.fullmatch, student=_moodle_student),
    "blackboard": functools.partial(
        _download, system="Blackboard", parse=_BLACKBOARD.fullmatch, student=_blackboard_student
    ),
}
