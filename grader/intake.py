"""Intake: turn what an instructor downloaded into one `Submission` per student.

Accepted layouts, for each path given to `grader grade`:

- one submission: a folder or a `.zip` holding the notebook (`toy_nn.ipynb`, or the
  only `.ipynb`) and `hw3code/neural_net.py` (or a lone `neural_net.py`); the student
  id is the folder's or zip's name;
- a class folder whose entries are such folders or zips;
- a Gradescope "export submissions" folder (`submission_metadata.yml` and one
  `submission_<n>/` folder each): the id is the submitter's SID (else email, name),
  and every member of a group submission gets the group's files;
- a flat folder of LMS downloads (Canvas, Moodle, ...) where each file name starts
  with the student's id and an underscore (`alice_1234_5678_toy_nn.ipynb`): files
  are grouped by that prefix;
- a zip of a Gradescope export, a class folder or an LMS folder, read as that folder.

Files are read into memory here (zips are never extracted, so no archive can write
outside its folder); everything else in a submission is ignored. Symbolic links are
followed only for the paths the instructor names; one found inside (a submission, a
class or an LMS folder) is never followed, and is reported. A submission with a
missing or unreadable part is still returned, with `problems` that say what is
missing: it is graded as far as possible. A loose homework file where a submission
was expected (a notebook beside the students' folders) becomes an entry of its own,
with no files and a problem that says so, so that it shows in the gradebook.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import yaml

from .errors import ConfigError, SubmissionError

__all__ = ["Submission", "discover", "read_submission"]

MAX_FILE_BYTES = 64 << 20  # a notebook with every plot is a few MB
_MODULE = re.compile(r"(^|[/_])neural_net(-\d+|\s*\(\d+\))?\.py$")
_NOTEBOOK_NAME = "toy_nn"
_METADATA = "submission_metadata.yml"
_HOMEWORK = (".ipynb", ".py")
_LMS_PREFIX = re.compile(r"^([^_]+)_")
# How Canvas and Moodle name a download: the student, `LATE` maybe, then a number (`alice_LATE_1234_...`).
_LMS_NAME = re.compile(r"^[^_]+_(LATE_)?\d+_")
_SAFE_ID = re.compile(r"[^\w.@+-]+")  # \w: letters of any script are safe in folder names


@dataclass(frozen=True)
class Submission:
    """One student's files, as read from disk, and what is wrong with them."""

    student: str  # safe as a folder name
    source: Path  # where it came from
    notebook: bytes | None = None
    notebook_name: str = ""  # as the student named it
    module: bytes | None = None
    problems: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # e.g. Gradescope name and email


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


def _walk(folder: Path) -> tuple[dict[str, str], list[str]]:
    """Every entry under `folder` by relative POSIX name, with its `_kind`, and a problem for each
    folder inside that cannot be listed. Links are listed, never followed (`folder` itself may be one).

    Raises `SubmissionError` when `folder` itself cannot be listed.
    """
    kinds: dict[str, str] = {}
    problems: list[str] = []
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
            problems.append(problem)
            continue
        for entry in entries:
            kinds[rel + entry.name] = kind = _kind(entry)
            if kind == "dir":
                pending.append(f"{rel}{entry.name}/")
    return kinds, problems


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
    """A homework file of a submission or an LMS folder, of the `_kind` the listing saw."""
    if kind == "link":
        raise SubmissionError(_symlink_problem(path))
    if kind == "dir":
        raise SubmissionError(f"{path} is a folder, not a file, and was not read")
    return _read_file(path)


def _read_folder(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """The homework files under `folder`, and a problem for each entry that could not be read."""
    try:
        kinds, problems = _walk(folder)
    except SubmissionError as exc:
        return {}, [str(exc)]
    files = {}
    for rel, kind in sorted(kinds.items()):
        if "__MACOSX" in rel or not (kind == "link" or rel.endswith(_HOMEWORK)):
            continue
        try:
            files[rel] = _read_entry(folder / rel, kind)
        except SubmissionError as exc:
            problems.append(str(exc))
    return files, problems


# ---------------------------------------------------------------- reading zips


def _zip_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A member's bytes: a homework file or the Gradescope metadata; b"" for a zip inside the
    zip (listed, never read); None for anything else."""
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts:  # never extracted, but such a name is hand-made or hostile
        raise SubmissionError(
            f"{path}: {name} points outside the archive; the zip was not read (look into it before unzipping it)"
        )
    if info.is_dir() or "__MACOSX" in name:
        return None
    if name.lower().endswith(".zip"):
        return b""
    if not name.endswith(_HOMEWORK) and PurePosixPath(name).name != _METADATA:
        return None
    if info.file_size > MAX_FILE_BYTES:
        raise SubmissionError(f"{path}: {name} is {info.file_size} bytes unpacked; too large")
    return archive.read(info)


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            files = {}
            for info in archive.infolist():
                data = _zip_member(path, archive, info)
                if data is not None:
                    files[info.filename] = data
            return _strip_common_folder(files)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise SubmissionError(f"{path}: not a readable zip archive ({exc})") from exc


def _strip_common_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """Zips often hold one top folder (`alice/toy_nn.ipynb`), or a few nested ones: drop them."""
    while files and all("/" in n for n in files):
        tops = {n.split("/", 1)[0] for n in files}
        if len(tops) > 1 or tops == {"hw3code"}:
            break
        files = {n.split("/", 1)[1]: data for n, data in files.items()}
    return files


def read_submission(path: Path, student: str | None = None, names: Mapping[str, str] | None = None) -> Submission:
    """One submission from a folder or a zip; its id defaults to the folder's or zip's name.

    `path` itself may be a symbolic link (the caller chose it); none inside it is followed.
    """
    student = _safe_id(student or (path.stem if path.suffix.lower() == ".zip" else path.name))
    if not path.is_file():
        files, problems = _read_folder(path)
        return _with_problems(_pick(files, path, student, names or {}), problems)
    try:
        files = _read_zip(path)
    except SubmissionError as exc:
        return Submission(student, path, problems=(str(exc),), names=dict(names or {}))
    return _pick(files, path, student, names or {})


# ---------------------------------------------------------------- layouts


def _own_name(name: str) -> bool:
    """A homework file named by the student (`toy_nn*.ipynb`, `neural_net*.py`), not by an LMS."""
    return name.startswith(_NOTEBOOK_NAME) or bool(_MODULE.match(name))


def _lms_prefix(name: str) -> str | None:
    """The student id an LMS put before a file's name, or None (a name the student chose)."""
    match = None if _own_name(name) else _LMS_PREFIX.match(name)
    return match.group(1) if match else None


def _lms_prefixes(names: Iterable[str]) -> set[str]:
    """The LMS prefixes (student ids) of the homework files among `names`.

    A student's own folder names its files `toy_nn.ipynb` and `neural_net.py`; an LMS
    download prefixes each with the student's id. Two prefixes mean two students,
    even when only one of them sent a notebook.
    """
    homework = (n for n in names if n.endswith(".ipynb") or _MODULE.search(n))
    return {p for p in map(_lms_prefix, homework) if p is not None}


def _ignored_top(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _layout(names: Collection[str]) -> str:
    """How to read a folder or zip holding `names` (relative POSIX paths; a folder's ends in `/`):
    `gradescope`, `submission`, `lms` or `class`.

    Students' folders or zips inside make a class folder, whatever loose files lie beside them;
    but a student's own `toy_nn.ipynb` or `neural_net.py` at the top make a submission, unless at
    least two folders or zips look like submissions (one may be the student's `old/` copy).
    """
    if _METADATA in names:
        return "gradescope"
    if any(n.startswith("hw3code/") for n in names):
        return "submission"
    top = [n for n in names if "/" not in n and not _ignored_top(n)]
    folders = {
        n.split("/", 1)[0]
        for n in names
        if n.endswith((*_HOMEWORK, ".zip")) and "/" in n and not _ignored_top(n.split("/", 1)[0])
    }
    entries = len(folders) + sum(n.lower().endswith(".zip") for n in top)
    homework = [n for n in top if n.endswith(_HOMEWORK)]
    prefixes = _lms_prefixes(homework)
    # One student's LMS files are told from a student's `hw3_toy_nn.ipynb` by the LMS's number.
    if not folders and (len(prefixes) > 1 or (prefixes and any(_LMS_NAME.match(n) for n in homework))):
        return "lms"
    if any(_own_name(n) for n in homework) and entries < 2:
        return "submission"
    if entries:
        return "class"
    return "submission" if homework else "class"


def _loose_problem(shown: str, layout: str) -> str:
    if layout == "lms":
        return f"{shown}: no student id at the start of its name; not graded (rename it <student>_... or move it out)"
    return (
        f"{shown}: a loose file beside the submissions; not graded (a submission is a folder or a .zip: "
        "put a student's files in a folder named after the student, move anything else out)"
    )


def _nested_zip_problem(archive: Path, name: str) -> str:
    return f"{archive}: {name} is a zip inside the zip and was not read (unzip {archive.name} and grade the folder)"


# ---------------------------------------------------------------- Gradescope


def _members(info: object) -> list[dict[str, str]]:
    """The names (`name`, `sid`, `email`) of each submitter of a Gradescope submission; a group's
    members also get `group`, everyone's names."""
    submitters = info.get(":submitters") if isinstance(info, dict) else None
    people = [s for s in submitters if isinstance(s, dict)] if isinstance(submitters, list) else []
    members = [{str(k).lstrip(":"): str(v) for k, v in s.items() if v is not None} for s in people] or [{}]
    if len(members) > 1:
        group = ", ".join(m.get("name", "?") for m in members)
        members = [{**m, "group": group} for m in members]
    return members


def _gradescope_metadata(text: str, where: Path) -> list[tuple[str, list[dict[str, str]]]]:
    """Each submission folder of a Gradescope export, with its submitters' names."""
    try:
        metadata = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SubmissionError(f"{where}: unreadable Gradescope metadata ({exc})") from exc
    if not isinstance(metadata, dict):
        raise SubmissionError(f"{where}: expected a mapping of submission folders")
    return [(str(folder), _members(info)) for folder, info in sorted(metadata.items(), key=lambda i: str(i[0]))]


def _for_each_member(sub: Submission, members: list[dict[str, str]], folder: str) -> list[Submission]:
    """A copy of a (group) submission for each member: every one of them needs a grade."""
    return [
        replace(sub, student=_safe_id(m.get("sid") or m.get("email") or m.get("name") or folder), names=m)
        for m in members
    ]


def _gradescope(folder: Path) -> Iterator[Submission]:
    meta_path = folder / _METADATA
    try:
        text = meta_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{meta_path}: unreadable Gradescope metadata ({exc})") from exc
    for sub_folder, members in _gradescope_metadata(text, meta_path):
        yield from _for_each_member(read_submission(folder / sub_folder), members, sub_folder)


def _gradescope_zip(path: Path, files: Mapping[str, bytes]) -> Iterator[Submission]:
    try:
        text = files[_METADATA].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{path}: {_METADATA}: unreadable Gradescope metadata ({exc})") from exc
    for sub_folder, members in _gradescope_metadata(text, path / _METADATA):
        mine = {n[len(sub_folder) + 1 :]: d for n, d in files.items() if n.startswith(sub_folder + "/")}
        yield from _for_each_member(_pick(mine, path / sub_folder, _safe_id(sub_folder), {}), members, sub_folder)


# ---------------------------------------------------------------- class and LMS folders


def _class_folder(folder: Path, kinds: Mapping[str, str]) -> Iterator[Submission]:
    """Each folder and zip at the top of a class folder; each loose homework file or link as a problem."""
    for name in sorted(n for n in kinds if "/" not in n and not _ignored_top(n)):
        path, kind = folder / name, kinds[name]
        if kind == "link":
            yield _not_graded(name, path, _symlink_problem(path))
        elif kind == "dir" or (kind == "file" and name.lower().endswith(".zip")):
            yield read_submission(path)
        elif name.lower().endswith(".zip"):  # a FIFO or a device: zipfile would block on it
            yield _not_graded(name, path, f"{path} is not a regular file and was not read")
        elif name.endswith(_HOMEWORK):
            yield _not_graded(name, path, _loose_problem(str(path), "class"))


def _class_zip(path: Path, files: Mapping[str, bytes]) -> Iterator[Submission]:
    """Each top folder of a zipped class folder; each loose homework file or inner zip as a problem."""
    groups: dict[str, dict[str, bytes]] = {}
    for name, data in files.items():
        top, _, rest = name.partition("/")
        if rest and not _ignored_top(top):
            groups.setdefault(top, {})[rest] = data
    for name in sorted({*groups, *(n for n in files if "/" not in n and not _ignored_top(n))}):
        if name in groups:
            yield _pick(groups[name], path / name, _safe_id(name), {})
        elif name.lower().endswith(".zip"):
            yield _not_graded(name, path, _nested_zip_problem(path, name))
        elif name.endswith(_HOMEWORK):
            yield _not_graded(name, path, _loose_problem(f"{path}: {name}", "class"))


def _lms_groups(names: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The top-level homework files and zips of an LMS folder by student id, and those without an id."""
    groups: dict[str, list[str]] = {}
    loose: list[str] = []
    for name in sorted(names):
        if "/" in name or _ignored_top(name) or not name.lower().endswith((*_HOMEWORK, ".zip")):
            continue
        prefix = _lms_prefix(name)
        if prefix is None:
            loose.append(name)
        else:
            groups.setdefault(prefix, []).append(name)
    return groups, loose


def _lms_member(folder: Path, name: str, kind: str) -> dict[str, bytes]:
    """One LMS download as a file of the student's submission, or a zip's files. The LMS prefix is
    dropped, so that `alice_12_34_neural_net.py` reads as `12_34_neural_net.py`, a neural_net.py."""
    path = folder / name
    if not name.lower().endswith(".zip"):
        return {name.split("_", 1)[1]: _read_entry(path, kind)}
    if kind != "file":  # zipfile would follow a link, or block on a FIFO
        raise SubmissionError(_symlink_problem(path) if kind == "link" else f"{path} is not a regular file")
    return _read_zip(path)


def _lms_folder(folder: Path, kinds: Mapping[str, str]) -> Iterator[Submission]:
    groups, loose = _lms_groups(n for n, kind in kinds.items() if kind != "dir")
    for prefix, members in groups.items():
        files: dict[str, bytes] = {}
        problems: list[str] = []
        for name in members:
            try:
                files.update(_lms_member(folder, name, kinds[name]))
            except SubmissionError as exc:
                problems.append(str(exc))
        yield _with_problems(_pick(files, folder, _safe_id(prefix), {}), problems)
    for name in loose:
        yield _not_graded(name, folder / name, _loose_problem(str(folder / name), "lms"))


def _lms_zip(path: Path, files: Mapping[str, bytes]) -> Iterator[Submission]:
    groups, loose = _lms_groups(files)
    for prefix, members in groups.items():
        mine = {n.split("_", 1)[1]: files[n] for n in members if not n.lower().endswith(".zip")}
        problems = [_nested_zip_problem(path, n) for n in members if n.lower().endswith(".zip")]
        yield _with_problems(_pick(mine, path, _safe_id(prefix), {}), problems)
    for name in loose:
        yield _not_graded(name, path, _loose_problem(f"{path}: {name}", "lms"))


# ---------------------------------------------------------------- discover


def _from_folder(folder: Path) -> Iterator[Submission]:
    """Every submission in a folder named on the command line (followed if it is a link: the instructor's choice)."""
    kinds, _ = _walk(folder)  # a subfolder that cannot be listed is reported when its submission is read
    layout = _layout([f"{n}/" if kind == "dir" else n for n, kind in kinds.items()])
    if layout == "gradescope":
        return _gradescope(folder)
    if layout == "submission":
        return iter([read_submission(folder)])
    return _lms_folder(folder, kinds) if layout == "lms" else _class_folder(folder, kinds)


def _from_zip(path: Path) -> Iterator[Submission]:
    """One submission, or every one of a zipped Gradescope export, class or LMS folder."""
    try:
        files = _read_zip(path)
    except SubmissionError as exc:
        return iter([Submission(_safe_id(path.stem), path, problems=(str(exc),))])
    layout = _layout(files)
    if layout == "gradescope":
        return _gradescope_zip(path, files)
    if layout == "class":
        return _class_zip(path, files)
    return _lms_zip(path, files) if layout == "lms" else iter([_pick(files, path, _safe_id(path.stem), {})])


def discover(paths: Iterable[Path]) -> list[Submission]:
    """Every submission under `paths`, in a stable order, with unique student ids.

    Raises `ConfigError` for a path that does not exist or holds no submission, and
    `SubmissionError` for one that cannot be listed; a file that cannot be read is a
    problem of its submission, never an error.
    """
    found: list[Submission] = []
    paths = list(map(Path, paths))
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")
        if path.is_file():
            if path.suffix.lower() != ".zip":
                raise ConfigError(f"{path}: a submission is a folder or a .zip")
            found.extend(_from_zip(path))
        else:
            found.extend(_from_folder(path))
    if not found:
        raise ConfigError("no submissions found in " + ", ".join(map(str, paths)))
    return _unique(found)


def _unique(submissions: list[Submission]) -> list[Submission]:
    """Give a repeated student id a numbered suffix, and say so in its problems."""
    seen: dict[str, int] = {}
    out = []
    for sub in submissions:
        count = seen.get(sub.student, 0)
        seen[sub.student] = count + 1
        if count:
            renamed = f"{sub.student}~{count + 1}"
            note = f"the id {sub.student} appears more than once; graded as {renamed}"
            sub = replace(sub, student=renamed, problems=(*sub.problems, note))
        out.append(sub)
    return out
