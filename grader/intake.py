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
for the paths the instructor names; one found inside is never followed, and is reported. A
submission with a missing or unreadable part is still returned, with `problems` that say what
is missing: it is graded as far as possible. A loose homework file where a submission was
expected (a notebook beside the students' folders) becomes an entry of its own, with no files
and a problem that says so, so that it shows in the gradebook.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import yaml

from .errors import ConfigError, SubmissionError

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_ENTRIES",
    "MAX_COMPRESSION_RATIO",
    "Member",
    "Submission",
    "discover",
    "read_submission",
]

MAX_FILE_BYTES = 64 << 20  # a notebook with every plot is a few MB
# Every zip (the instructor's, and a student's inside it) is checked against these before any
# of it is unpacked, from the sizes its directory declares: zipfile never unpacks more than an
# entry declares (and fails on a CRC mismatch), so a lying directory cannot get past them.
MAX_ARCHIVE_BYTES = 4 << 30  # unpacked: a class of 500 at 8 MB each (a notebook with its plots), twice over
MAX_ARCHIVE_ENTRIES = 100_000  # 500 students with 200 files each; a zipped virtualenv or data set is more
MAX_COMPRESSION_RATIO = 100  # notebooks and code deflate 3-20 times; a zip bomb's zeros 1000 times
_RATIO_FLOOR = 1 << 20  # below 1 MB unpacked a ratio means nothing (a page of blank lines deflates 100 times)

_MODULE = re.compile(r"(^|[/_])neural_net(-\d+|\s*\(\d+\))?\.py$")
_NOTEBOOK_NAME = "toy_nn"
_METADATA = "submission_metadata.yml"
_HOMEWORK = (".ipynb", ".py")
_READ = (*_HOMEWORK, ".zip", ".txt", ".yml")  # homework, students' zips, Blackboard receipts, Gradescope metadata
_SAFE_ID = re.compile(r"[^\w.@+-]+")  # \w: letters of any script are safe in folder names

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
_BLACKBOARD = re.compile(
    r"(?P<assignment>.+)_(?P<student>[^_/]+)_attempt_(?P<attempt>\d{4}(-\d\d){5})(_(?P<original>.+)|\.txt)"
)
_RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<username>[^()]*)\)\s*$", re.MULTILINE)

# What a folder or a zip holds: relative POSIX names, each with its bytes, or the error that
# kept it from being read (an unreadable file, a link, a folder that cannot be listed).
_Files = Mapping[str, "bytes | SubmissionError"]


@dataclass(frozen=True)
class Member:
    """One student a group submission is graded for."""

    student: str  # safe as a folder name
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Submission:
    """One student's (or one group's) files, as read from disk, and what is wrong with them."""

    student: str  # safe as a folder name
    source: Path  # where it came from
    notebook: bytes | None = None
    notebook_name: str = ""  # as the student named it
    module: bytes | None = None
    problems: tuple[str, ...] = ()
    # Who it is and which upload: e.g. Gradescope's name, email, group and submission id, the
    # Canvas name and `late`, the Blackboard attempt graded; each becomes a gradebook column.
    names: Mapping[str, str] = field(default_factory=dict)
    # A group submission's members, `student` first: it is graded once and the result is each one's.
    members: tuple[Member, ...] = ()

    @property
    def graded_for(self) -> tuple[Member, ...]:
        """Everyone this submission's result is written for: its members, or its one student."""
        return self.members or (Member(self.student, self.names),)


def _safe_id(raw: str) -> str:
    cleaned = _SAFE_ID.sub("_", raw.strip()).strip("._")
    if cleaned.lower().endswith((".html", ".csv")):  # OUT/<id> beside OUT/index.html, gradebook.csv ...
        cleaned = cleaned.replace(".", "_")
    return cleaned or "unnamed"


def _pick(files: Mapping[str, bytes], source: Path, student: str, names: Mapping[str, str]) -> Submission:
    """Choose the notebook and the module among a submission's files."""
    problems: list[str] = []
    notebooks = sorted(n for n in files if n.lower().endswith(".ipynb") and ".ipynb_checkpoints" not in n)
    preferred = [n for n in notebooks if _NOTEBOOK_NAME in PurePosixPath(n).name]
    # `toy_nn.ipynb` itself, nearest the top, before copies such as `toy_nn-Copy1.ipynb`,
    # `toy_nn (1).ipynb` or `old/toy_nn.ipynb`, which sort before it by name.
    exact = f"{_NOTEBOOK_NAME}.ipynb"
    preferred.sort(key=lambda n: (PurePosixPath(n).name != exact, n.count("/"), n))
    notebook_name = ""
    if preferred or len(notebooks) == 1:
        notebook_name = (preferred or notebooks)[0]
        if len(notebooks) > 1:
            others = ", ".join(n for n in notebooks if n != notebook_name)
            problems.append(f"several notebooks; graded {notebook_name} (ignored {others})")
    elif notebooks:
        problems.append(f"several notebooks and none named {_NOTEBOOK_NAME}.ipynb: {', '.join(notebooks)}")
    else:
        problems.append(f"no notebook ({_NOTEBOOK_NAME}.ipynb) in the submission")
    # hw3code/neural_net.py first, and the plain name before duplicates such as `neural_net (1).py`.
    modules = sorted(
        (n for n in files if _MODULE.search(n)),
        key=lambda n: ("hw3code/" not in n, PurePosixPath(n).name != "neural_net.py", n),
    )
    if not modules:
        problems.append("no hw3code/neural_net.py in the submission")
    elif len(modules) > 1:
        problems.append(f"several neural_net.py files; graded {modules[0]}")
    module = files[modules[0]] if modules else None
    if module is not None and not module.strip():
        problems.append(f"{modules[0]} is empty")
    return Submission(
        student=student,
        source=source,
        notebook=files.get(notebook_name),
        notebook_name=notebook_name,
        module=module,
        problems=tuple(problems),
        names=dict(names),
    )


def _with_problems(sub: Submission, problems: Iterable[str]) -> Submission:
    """`sub` with `problems` (what could not be read) before its own (what is therefore missing)."""
    problems = tuple(problems)
    return replace(sub, problems=(*problems, *sub.problems)) if problems else sub


def _submission(files: _Files, source: Path, student: str, names: Mapping[str, str] | None = None) -> Submission:
    """The submission of `files`: the notebook and module picked, each file that could not be read a problem."""
    readable = {n: data for n, data in files.items() if isinstance(data, bytes)}
    unreadable = [str(data) for data in files.values() if isinstance(data, SubmissionError)]
    return _with_problems(_pick(readable, source, _safe_id(student), names or {}), unreadable)


def _not_graded(entry: str, source: Path, problem: str) -> Submission:
    """An entry that is no submission (a loose file, a link): a row with no files and `problem`, not a silent drop."""
    return Submission(_safe_id(entry), source, problems=(problem,))


# ---------------------------------------------------------------- reading folders


def _symlink_problem(shown: object) -> str:
    return f"{shown} is a symbolic link and was not read (links are never followed: copy in the file itself)"


def _kind(entry: os.DirEntry[str]) -> str:
    """`dir`, `file`, `link` or `other` (a FIFO, a socket, a device), without following a link."""
    try:
        if entry.is_symlink():
            return "link"
        if entry.is_dir(follow_symlinks=False):
            return "dir"
        return "file" if entry.is_file(follow_symlinks=False) else "other"
    except OSError:  # vanished since the listing: reading it will say so
        return "file"


def _walk(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Every entry under `folder` by relative POSIX name, with its `_kind`, and the problem of each
    folder inside that cannot be listed. Links are listed, never followed (`folder` itself may be one).

    Raises `SubmissionError` when `folder` itself cannot be listed.
    """
    kinds: dict[str, str] = {}
    unlisted: dict[str, str] = {}
    pending = [""]
    while pending:
        rel = pending.pop()
        try:
            with os.scandir(folder / rel) as scan:
                entries = list(scan)
        except OSError as exc:
            problem = f"{folder / rel}: the folder cannot be listed ({exc.strerror}); make it readable and regrade"
            if not rel:
                raise SubmissionError(problem) from exc
            unlisted[rel.rstrip("/")] = problem
            continue
        for entry in entries:
            kinds[rel + entry.name] = kind = _kind(entry)
            if kind == "dir":
                pending.append(f"{rel}{entry.name}/")
    return kinds, unlisted


def _read_file(path: Path) -> bytes:
    """The bytes of the regular file `path`, never through a symbolic link, nor blocking on a FIFO.

    Raises `SubmissionError` naming the file and what to do when it cannot be read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link (made since the listing)
            raise SubmissionError(_symlink_problem(path)) from exc
        raise SubmissionError(f"{path} cannot be read ({exc.strerror}); make it readable and regrade") from exc
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SubmissionError(f"{path} is not a regular file and was not read")
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise SubmissionError(f"{path} cannot be read ({exc.strerror}); make it readable and regrade") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SubmissionError(f"{path}: over {MAX_FILE_BYTES} bytes; larger than any notebook, not read")
    return data


def _read_entry(path: Path, kind: str) -> bytes:
    """A file of a folder, of the `_kind` the listing saw."""
    if kind == "link":
        raise SubmissionError(_symlink_problem(path))
    if kind == "dir":
        raise SubmissionError(f"{path} is a folder, not a file, and was not read")
    return _read_file(path)


def _read_folder(folder: Path) -> dict[str, bytes | SubmissionError]:
    """The files under `folder` that intake reads (`_READ`), each link among its entries and each
    folder that cannot be listed as its error. Raises `SubmissionError` if `folder` cannot be listed."""
    kinds, unlisted = _walk(folder)
    files: dict[str, bytes | SubmissionError] = {rel: SubmissionError(p) for rel, p in unlisted.items()}
    for rel, kind in sorted(kinds.items()):
        if "__MACOSX" in rel or not (kind == "link" or rel.lower().endswith(_READ)):
            continue
        try:
            files[rel] = _read_entry(folder / rel, kind)
        except SubmissionError as exc:
            files[rel] = exc
    return dict(sorted(files.items()))


# ---------------------------------------------------------------- reading zips


def _bound_problem(shown: Path, bound: str) -> str:
    return (
        f"{shown}: {bound}; the zip was not read (a zip bomb, or more than a class's homework: "
        "look into it, unzip what belongs to the homework and grade that folder)"
    )


def _check_bounds(shown: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Raise `SubmissionError` naming the bound a zip is over (before anything is unpacked)."""
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        raise SubmissionError(_bound_problem(shown, f"{len(infos)} entries, over the {MAX_ARCHIVE_ENTRIES} allowed"))
    total = sum(i.file_size for i in infos)
    if total > MAX_ARCHIVE_BYTES:
        raise SubmissionError(_bound_problem(shown, f"{total} bytes unpacked, over the {MAX_ARCHIVE_BYTES} allowed"))
    for info in infos:
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            bound = f"{info.filename} unpacks {ratio} times its packed size, over the {MAX_COMPRESSION_RATIO} allowed"
            raise SubmissionError(_bound_problem(shown, bound))


def _zip_member(shown: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | SubmissionError | None:
    """A member's bytes if intake reads it (`_READ`), an error if it is too large, else None."""
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts:  # never extracted, but such a name is hand-made or hostile
        raise SubmissionError(
            f"{shown}: {name} points outside the archive; the zip was not read (look into it before unzipping it)"
        )
    if info.is_dir() or "__MACOSX" in name or not name.lower().endswith(_READ):
        return None
    if info.file_size > MAX_FILE_BYTES:
        return SubmissionError(f"{shown}: {name} is {info.file_size} bytes unpacked; too large, not read")
    return archive.read(info)


def _read_zip(archive: Path | bytes, shown: Path) -> dict[str, bytes | SubmissionError]:
    """The members intake reads of the zip file `archive` (or a zip's bytes), shown as `shown`
    in messages; one top folder (or a few nested ones) is dropped. Raises `SubmissionError` for
    a zip that cannot be read, is over a bound, or names a member outside itself."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else archive) as opened:
            infos = opened.infolist()
            _check_bounds(shown, infos)
            files = {}
            for info in infos:
                data = _zip_member(shown, opened, info)
                if data is not None:
                    files[info.filename] = data
            return _strip_common_folder(files)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise SubmissionError(f"{shown}: not a readable zip archive ({exc})") from exc


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
        files = _read_zip(data, shown)
    except SubmissionError as exc:
        return _not_graded(student, shown, str(exc))
    return _submission(files, shown, student)


def read_submission(path: Path, student: str | None = None, names: Mapping[str, str] | None = None) -> Submission:
    """One submission from a folder or a zip; its id defaults to the folder's or zip's name.

    `path` itself may be a symbolic link (the caller chose it); none inside it is followed.
    """
    student = student or (path.stem if path.suffix.lower() == ".zip" else path.name)
    try:
        files = _read_folder(path) if not path.is_file() else _read_zip(path, path)
    except SubmissionError as exc:
        return replace(_not_graded(student, path, str(exc)), names=dict(names or {}))
    return _submission(files, path, student, names)


# ---------------------------------------------------------------- layouts


def _ignored_top(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _homework_or_zip(name: str) -> bool:
    return name.lower().endswith((*_HOMEWORK, ".zip"))


def _own_name(name: str) -> bool:
    """A homework file named by the student (`toy_nn*.ipynb`, `neural_net*.py`), not by an LMS."""
    return name.startswith(_NOTEBOOK_NAME) or bool(_MODULE.match(name))


def _canvas_name(name: str) -> re.Match[str] | None:
    """The parts of a Canvas download's file name (`student`, `late`, `file`, `original`, maybe `name`), or None."""
    return _CANVAS_ANONYMOUS.fullmatch(name) or _CANVAS.fullmatch(name)


def _layout(names: Collection[str]) -> str:
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
    homework = [n for n in top if n.endswith(_HOMEWORK)]
    if any(_own_name(n) for n in homework) and entries < 2:
        return "submission"
    if entries:
        return "class"
    return "submission" if homework else "class"


def _stray(name: str, data: bytes | SubmissionError, where: Path, layout: str) -> Iterator[Submission]:
    """An entry that is no student's submission: a row that says why (an unreadable entry, a loose
    homework file or zip), or nothing for a file intake ignores (a receipt, notes)."""
    shown = where / name
    if isinstance(data, SubmissionError):
        yield _not_graded(name, shown, str(data))
    elif _homework_or_zip(name) and layout == "class":
        yield _not_graded(
            name,
            shown,
            f"{shown}: a loose file beside the submissions; not graded (a submission is a folder or a .zip: "
            "put a student's files in a folder named after the student, move anything else out)",
        )
    elif _homework_or_zip(name):
        yield _not_graded(
            name, shown, f"{shown}: not named as {layout} names a student's file; not graded (move it out)"
        )


def _class(files: _Files, where: Path) -> Iterator[Submission]:
    """Each top folder and zip of a class folder; each loose homework file or unreadable entry as a problem."""
    groups: dict[str, dict[str, bytes | SubmissionError]] = {}
    for name, data in files.items():
        top, _, rest = name.partition("/")
        if not _ignored_top(top):
            groups.setdefault(top, {}).update({rest: data} if rest else {})
    for top in sorted(groups):
        if top not in files:  # a folder
            yield _submission(groups[top], where / top, top)
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
        Member(_safe_id(m.get("sid") or m.get("email") or m.get("name") or folder), {**m, **shared}) for m in found
    )


def _gradescope(files: _Files, where: Path) -> Iterator[Submission]:
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
        sub = _submission(mine, where / folder, members[0].student, members[0].names)
        yield replace(sub, members=members if len(members) > 1 else ())


# ---------------------------------------------------------------- Canvas, Moodle, Blackboard

# How one student's files of an LMS download make a submission: (student id, the matches of
# the student's file names, every file, the download's path) -> Submission.
_Student = Callable[[str, list[re.Match[str]], _Files, Path], Submission]


def _download(
    files: _Files, where: Path, *, system: str, parse: Callable[[str], re.Match[str] | None], student: _Student
) -> Iterator[Submission]:
    """Each student's submission of an LMS download, whose file names `parse` reads (a match with
    a `student` group), made by `student`; each other homework file as a problem."""
    groups: dict[str, list[re.Match[str]]] = {}
    for name, data in files.items():
        match = None if _ignored_top(name.split("/", 1)[0]) else parse(name)
        if match:
            groups.setdefault(match["student"], []).append(match)
        elif not _ignored_top(name.split("/", 1)[0]):
            yield from _stray(name, data, where, system)
    for who in sorted(groups):
        yield student(who, groups[who], files, where)


def _uploads(matches: Iterable[re.Match[str]], files: _Files, where: Path) -> dict[str, bytes | SubmissionError]:
    """The files of a download named by `matches`, under the student's own names (`original`),
    each `.zip` among them replaced by its files (`hw3.zip/toy_nn.ipynb`) or by why it cannot be read."""
    out: dict[str, bytes | SubmissionError] = {}
    for match in matches:
        name, data = match["original"], files[match.string]
        if not (name.lower().endswith(".zip") and isinstance(data, bytes)):
            out[name] = data
            continue
        try:
            out.update({f"{name}/{inner}": d for inner, d in _read_zip(data, where / match.string).items()})
        except SubmissionError as exc:
            out[name] = exc
    return out


def _without_copy_suffix(name: str) -> str:
    match = _CANVAS_COPY.fullmatch(name)
    return match["base"] + match["ext"] if match else name


def _canvas_student(student: str, matches: list[re.Match[str]], files: _Files, where: Path) -> Submission:
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
    return _with_problems(_submission(_uploads(newest.values(), files, where), where, student, names), notes)


def _moodle_student(student: str, matches: list[re.Match[str]], files: _Files, where: Path) -> Submission:
    """A Moodle student's files, with the paths they uploaded them under, from their folder."""
    first = matches[0]
    source = where / first.string.split("/", 1)[0] if "/" in first["sep"] else where
    return _submission(_uploads(matches, files, where), source, student, {"name": first["name"]})


def _blackboard_student(student: str, matches: list[re.Match[str]], files: _Files, where: Path) -> Submission:
    """A Blackboard student's latest attempt (its date-time sorts as text), named from its receipt.

    The older attempts are listed in `names` (a gradebook column), not as a problem: resubmitting
    is allowed, and the latest attempt is the one Blackboard itself shows a grader first."""
    attempts = sorted({m["attempt"] for m in matches})
    latest = [m for m in matches if m["attempt"] == attempts[-1]]
    receipt = next((files[m.string] for m in latest if not m["original"]), None)
    found = _RECEIPT_NAME.search(receipt.decode("utf-8", "replace")) if isinstance(receipt, bytes) else None
    names = {"name": found["name"]} if found else {}
    names["attempt"] = attempts[-1]
    if len(attempts) > 1:
        names["ignored_attempts"] = ", ".join(attempts[:-1])
    uploads = _uploads((m for m in latest if m["original"]), files, where)
    return _submission(uploads, where, student, names)


_LAYOUTS: dict[str, Callable[[_Files, Path], Iterator[Submission]]] = {
    "gradescope": _gradescope,
    "class": _class,
    "canvas": functools.partial(_download, system="Canvas", parse=_canvas_name, student=_canvas_student),
    "moodle": functools.partial(_download, system="Moodle", parse=_MOODLE.fullmatch, student=_moodle_student),
    "blackboard": functools.partial(
        _download, system="Blackboard", parse=_BLACKBOARD.fullmatch, student=_blackboard_student
    ),
}


# ---------------------------------------------------------------- discover


def _from_path(path: Path) -> Iterator[Submission]:
    """Every submission in a folder or zip named on the command line (followed if it is a link:
    the instructor's choice). Raises `SubmissionError` for a folder that cannot be listed."""
    is_zip = path.is_file()
    try:
        files = _read_zip(path, path) if is_zip else _read_folder(path)
    except SubmissionError as exc:
        if not is_zip:
            raise
        return iter([_not_graded(path.stem, path, str(exc))])
    layout = _layout(files)
    if layout == "submission":
        return iter([_submission(files, path, path.stem if is_zip else path.name)])
    return _LAYOUTS[layout](files, path)


def discover(paths: Iterable[Path]) -> list[Submission]:
    """Every submission under `paths`, in a stable order, with unique student ids (a group's
    members' included).

    Raises `ConfigError` for a path that does not exist or holds no submission, and
    `SubmissionError` for one that cannot be listed; a file that cannot be read is a
    problem of its submission, never an error.
    """
    found: list[Submission] = []
    paths = list(map(Path, paths))
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() != ".zip":
            raise ConfigError(f"{path}: a submission is a folder or a .zip")
        found.extend(_from_path(path))
    if not found:
        raise ConfigError("no submissions found in " + ", ".join(map(str, paths)))
    return _unique(found)


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
