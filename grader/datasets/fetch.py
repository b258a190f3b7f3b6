"""Download the real CIFAR-10 (`cifar-10-python.tar.gz`), verify it and unpack it.

The archive's MD5 is published by its authors; a download that does not match it
is rejected, and so is any archive member that would land outside the destination.
Offline machines can pass a tarball downloaded elsewhere (`tarball=`).
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..errors import DataError
from ..fsutil import replace_dir
from .cifar import BATCH_FILES

__all__ = ["CIFAR_MD5", "CIFAR_URL", "fetch_cifar"]

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"


def _download(url: str, target: Path, timeout: float, report: Callable[[str], None]) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
                done += len(block)
                if total and done % (16 << 20) < (1 << 20):
                    report(f"downloaded {done >> 20} of {total >> 20} MB")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"could not download {url} ({reason}). Without internet, download "
            f"cifar-10-python.tar.gz elsewhere and run `grader data fetch --dest DIR --tarball FILE`"
        ) from exc


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # the checksum the archive's authors publish
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
                    raise DataError(f"{archive}: unsafe member {member.name!r}; not unpacking it")
                if member.isfile() and len(parts) == 2 and parts[0] == FOLDER:
                    source = tar.extractfile(member)
                    assert source is not None
                    with source, open(staging / parts[1], "wb") as out:
                        shutil.copyfileobj(source, out)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive}: not a readable .tar.gz ({exc})") from exc


def _scratch(dest: Path) -> tempfile.TemporaryDirectory[str]:
    """A scratch folder inside `dest` (the data set moves out of it by a rename); DataError
    naming `dest` when that is not a folder one can write to."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(dir=dest, prefix=".fetch-")
    except OSError as err:
        raise DataError(
            f"cannot put CIFAR-10 in {dest}: {err.strerror or err}; choose a writable folder (not a file) for --dest"
        ) from err


def fetch_cifar(
    dest: Path,
    *,
    url: str = CIFAR_URL,
    tarball: Path | None = None,
    md5: str = CIFAR_MD5,
    timeout: float = 60.0,
    report: Callable[[str], None] = print,
) -> Path:
    """Put the unpacked data set at `dest/cifar-10-batches-py` and return that folder.

    Downloads `url` unless `tarball` is given; raises DataError when the download
    fails, the MD5 differs from `md5`, or the archive is not the CIFAR-10 one.
    """
    dest = Path(dest)
    with _scratch(dest) as tmp:
        archive = Path(tarball) if tarball else Path(tmp) / "cifar-10-python.tar.gz"
        if tarball is None:
            report(f"downloading {url} ...")
            _download(url, archive, timeout, report)
        elif not archive.is_file():
            raise DataError(f"{archive}: no such file")
        actual = _md5(archive)
        if actual != md5:
            raise DataError(f"{archive}: MD5 is {actual}, expected {md5}: a corrupt or different file")
        staging = Path(tmp) / FOLDER
        staging.mkdir()
        _unpack(archive, staging)
        missing = [name for name in (*BATCH_FILES, "batches.meta") if not (staging / name).is_file()]
        if missing:
            raise DataError(f"{archive}: not the CIFAR-10 archive (no {', '.join(missing)} in {FOLDER}/)")
        staging.chmod(0o755)
        replace_dir(staging, dest / FOLDER)
    report(f"CIFAR-10 is in {dest / FOLDER}")
    return dest / FOLDER
