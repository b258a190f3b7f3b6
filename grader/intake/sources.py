"""A `Source`: a folder or a zip as intake reads it, one mapping of each file's relative POSIX
name to its bytes or to the error that kept it from being read (a link, an unreadable file, a
folder that cannot be listed, a file too large). A folder is read from disk, never through a
link inside it (`Source.of_folder`); a zip is read in memory, never extracted, once its sizes
are within the bounds below (`Source.of_zip`). Once read, the two are read alike: the layouts
take a `Source`, its sub-folders (`Source.sub`) and its files (`Source.read`).
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import SubmissionError

MAX_FILE_BYTES = 64 << 20  # a notebook with every plot is a few MB
# Every zip (the instructor's, and a student's inside it) is checked against these before any
# of it is unpacked, from the sizes its directory declares: zipfile never unpacks more than an
# entry declares (and fails on a CRC mismatch), so a lying directory cannot get past them.
MAX_ARCHIVE_BYTES = 4 << 30  # unpacked: a class of 500 at 8 MB each (a notebook with its plots), twice over
MAX_ARCHIVE_ENTRIES = 100_000  # 500 students with 200 files each; a zipped virtualenv or data set is more
MAX_COMPRESSION_RATIO = 100  # notebooks and code deflate 3-20 times; a zip bomb's zeros 1000 times
_RATIO_FLOOR = 1 << 20  # below 1 MB unpacked a ratio means nothing (a page of blank lines deflates 100 times)
_READ = (".ipynb", ".py", ".zip", ".txt", ".yml")  # homework, students' zips, Blackboard receipts, Gradescope metadata

# What a folder or a zip holds: relative POSIX names, each with its bytes, or the error that
# kept it from being read.
Files = Mapping[str, "bytes | SubmissionError"]


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
            if info.st_nlink > 1:  # another name of the same file, which may be the solution's
                names = f"one of {info.st_nlink} names of a file"
                raise SubmissionError(f"{path} is a hard link ({names}) and was not read: copy in the file itself")
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


def _read_folder(folder: Path) -> tuple[dict[str, bytes | SubmissionError], frozenset[str]]:
    """The files under `folder` that intake reads (`_READ`), each link among its entries and each
    folder that cannot be listed as its error, and every folder inside. Raises `SubmissionError`
    if `folder` cannot be listed."""
    kinds, unlisted = _walk(folder)
    files: dict[str, bytes | SubmissionError] = {rel: SubmissionError(p) for rel, p in unlisted.items()}
    for rel, kind in sorted(kinds.items()):
        if "__MACOSX" in rel or not (kind == "link" or rel.lower().endswith(_READ)):
            continue
        try:
            files[rel] = _read_entry(folder / rel, kind)
        except SubmissionError as exc:
            files[rel] = exc
    return dict(sorted(files.items())), frozenset(rel for rel, kind in kinds.items() if kind == "dir")


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
    """The members intake reads (`_READ`) of the zip `archive`, by name (see `Source.of_zip`)."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else archive) as opened:
            infos = opened.infolist()
            _check_bounds(shown, infos)
            files = {}
            for info in infos:
                data = _zip_member(shown, opened, info)
                if data is not None:
                    files[info.filename] = data
            return files
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise SubmissionError(f"{shown}: not a readable zip archive ({exc})") from exc


# ---------------------------------------------------------------- the source


@dataclass(frozen=True)
class Source:
    """A folder or a zip as intake reads it: what messages call it (`shown`), each file it reads
    with its bytes or the error that kept it from being read (`files`), and every folder inside,
    listed even when nothing in it is read (`folders`; a zip's are not listed, so a folder in a
    zip holding nothing intake reads is not seen).
    """

    shown: Path
    files: Files
    folders: frozenset[str] = frozenset()

    @classmethod
    def of_folder(cls, folder: Path) -> Source:
        """The folder `folder`, read from disk (it may itself be a link; none inside is followed).

        Raises `SubmissionError` if `folder` cannot be listed."""
        files, folders = _read_folder(folder)
        return cls(folder, files, folders)

    @classmethod
    def of_zip(cls, archive: Path | bytes, shown: Path) -> Source:
        """The zip file `archive` (or a zip's bytes), read in memory and shown as `shown`.

        Raises `SubmissionError` for a zip that cannot be read, is over a bound, or names a
        member outside itself."""
        return cls(shown, _read_zip(archive, shown))

    def read(self, name: str) -> bytes:
        """The bytes of the file `name`; raises the `SubmissionError` that kept it from being read."""
        data = self.files[name]
        if isinstance(data, SubmissionError):
            raise data
        return data

    def sub(self, folder: str) -> Source:
        """The folder `folder` inside (a relative POSIX name), as a source of its own."""
        prefix = folder + "/"
        return Source(
            self.shown / folder,
            {name.removeprefix(prefix): data for name, data in self.files.items() if name.startswith(prefix)},
            frozenset(name.removeprefix(prefix) for name in self.folders if name.startswith(prefix)),
        )
