"""`fetch_cifar`: verify and unpack a CIFAR-10 tarball from a file or a URL; refuse anything unsafe.

The archives are small fakes with the real layout; fetch itself only checks names and the MD5.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from grader.datasets.fetch import CIFAR_MD5, fetch_cifar
from grader.errors import DataError

REPO = Path(__file__).resolve().parents[1]
FOLDER = "cifar-10-batches-py"
NAMES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta")
CONTENT = {name: f"fake {name}\n".encode() * (i + 1) for i, name in enumerate(NAMES)}


def make_tarball(path: Path, files: dict[str, bytes] | None = None, extra: list[tarfile.TarInfo] | None = None) -> str:
    """Write a .tar.gz holding FOLDER/<name> for each of `files` (default: all), return its MD5."""
    files = CONTENT if files is None else files
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"evil" * (info.size // 4)) if info.size else None)
    return hashlib.md5(path.read_bytes()).hexdigest()


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture
def tarball(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "downloads" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    return path, make_tarball(path)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; the tests talk to 127.0.0.1 and file:// only."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


def assert_unpacked(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)
    for name, data in CONTENT.items():
        assert (folder / name).read_bytes() == data


def test_fetch_from_a_tarball(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, md5 = tarball
    messages: list[str] = []
    dest = tmp_path / "data"
    folder = fetch_cifar(dest, tarball=path, md5=md5, report=messages.append)
    assert folder == dest / FOLDER
    assert_unpacked(folder)
    assert os.listdir(dest) == [FOLDER]  # no temporary folder left behind
    assert messages == [f"CIFAR-10 is in {folder}"]
    assert path.is_file()  # the given tarball is kept


def test_fetch_replaces_an_older_copy(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, md5 = tarball
    old = tmp_path / "data" / FOLDER
    old.mkdir(parents=True)
    (old / "stale_batch").write_bytes(b"old")
    fetch_cifar(tmp_path / "data", tarball=path, md5=md5, report=lambda _: None)
    assert_unpacked(old)


def test_wrong_md5_names_the_file_and_both_checksums(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, md5 = tarball
    dest = tmp_path / "data"
    with pytest.raises(DataError) as caught:
        fetch_cifar(dest, tarball=path, md5=CIFAR_MD5, report=lambda _: None)
    message = str(caught.value)
    assert message.startswith(f"{path}: MD5 is {md5}, expected {CIFAR_MD5}")
    assert tree(dest) == []


def test_a_failure_keeps_the_existing_data_set(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, _ = tarball
    good = tmp_path / "data" / FOLDER
    good.mkdir(parents=True)
    (good / "data_batch_1").write_bytes(b"the real one")
    with pytest.raises(DataError, match="MD5"):
        fetch_cifar(tmp_path / "data", tarball=path, md5="0" * 32, report=lambda _: None)
    assert tree(tmp_path / "data") == [FOLDER, f"{FOLDER}/data_batch_1"]
    assert (good / "data_batch_1").read_bytes() == b"the real one"


@pytest.mark.parametrize("missing", ["data_batch_3", "test_batch", "batches.meta"])
def test_archive_missing_a_batch_file(tmp_path: Path, missing: str) -> None:
    path = tmp_path / "cifar-10-python.tar.gz"
    md5 = make_tarball(path, {k: v for k, v in CONTENT.items() if k != missing})
    dest = tmp_path / "data"
    with pytest.raises(DataError) as caught:
        fetch_cifar(dest, tarball=path, md5=md5, report=lambda _: None)
    assert str(caught.value) == f"{path}: not the CIFAR-10 archive (no {missing} in {FOLDER}/)"
    assert tree(dest) == []


def test_batches_outside_the_folder_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in CONTENT.items():
            info = tarfile.TarInfo(f"other/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="not the CIFAR-10 archive"):
        fetch_cifar(tmp_path / "data", tarball=path, md5=md5, report=lambda _: None)


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 4) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


UNSAFE = {
    "dot-dot": lambda outside: _member("../evil"),
    "dot-dot-inside-folder": lambda outside: _member(f"{FOLDER}/../../evil"),
    "absolute": lambda outside: _member(f"{outside}/evil"),
    "symlink": lambda outside: _member(f"{FOLDER}/readme.html", tarfile.SYMTYPE, f"{outside}/evil"),
    "symlink-folder": lambda outside: _member("cifar-link", tarfile.SYMTYPE, str(outside)),
    "hard-link": lambda outside: _member(f"{FOLDER}/copy", tarfile.LNKTYPE, "/etc/passwd"),
    "device": lambda outside: _member(f"{FOLDER}/null", tarfile.CHRTYPE),
}


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_unsafe_member_is_refused_and_nothing_is_written(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    member = UNSAFE[kind](outside)
    path = tmp_path / "evil.tar.gz"
    md5 = make_tarball(path, extra=[member])
    with tarfile.open(path) as tar:  # the archive really holds the member as named
        assert member.name in tar.getnames()
    before = tree(tmp_path)
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as caught:
        fetch_cifar(dest, tarball=path, md5=md5, report=lambda _: None)
    assert str(caught.value) == f"{path}: unsafe member {member.name!r}; not unpacking it"
    assert tree(dest) == []
    assert [p for p in tree(tmp_path) if not p.startswith("dest")] == before
    assert not outside.exists()


def test_not_a_tar_gz(tmp_path: Path) -> None:
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(b"<html>404 Not Found</html>")
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DataError, match=r"not a readable \.tar\.gz"):
        fetch_cifar(tmp_path / "data", tarball=path, md5=md5, report=lambda _: None)


def test_missing_tarball(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.tar.gz"
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: no such file$"):
        fetch_cifar(tmp_path / "data", tarball=path, report=lambda _: None)


def test_a_dest_that_is_no_folder_is_named(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    dest = tmp_path / "afile" / "data"
    with pytest.raises(DataError, match=f"^cannot put CIFAR-10 in {re.escape(str(dest))}: Not a directory; "):
        fetch_cifar(dest, tarball=tarball[0], md5=tarball[1], report=lambda _: None)


def test_download_from_a_file_url(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, md5 = tarball
    messages: list[str] = []
    folder = fetch_cifar(tmp_path / "data", url=path.as_uri(), md5=md5, report=messages.append)
    assert_unpacked(folder)
    assert messages[0] == f"downloading {path.as_uri()} ..."
    assert messages[-1] == f"CIFAR-10 is in {folder}"
    assert os.listdir(tmp_path / "data") == [FOLDER]  # the download itself was temporary


def test_download_checks_the_md5(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, _ = tarball
    with pytest.raises(DataError, match=f"expected {CIFAR_MD5}"):
        fetch_cifar(tmp_path / "data", url=path.as_uri(), report=lambda _: None)
    assert tree(tmp_path / "data") == []


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:9/cifar-10-python.tar.gz", id="connection-refused"),
        pytest.param("file:///nonexistent/cifar-10-python.tar.gz", id="missing-file-url"),
        pytest.param("htp://typo/cifar-10-python.tar.gz", id="unknown-scheme"),
    ],
)
def test_failed_download_fails_fast_and_says_how_to_go_offline(tmp_path: Path, url: str) -> None:
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        fetch_cifar(tmp_path / "data", url=url, timeout=5, report=lambda _: None)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"could not download {url} (")
    assert "--tarball" in message and "grader data fetch" in message
    assert tree(tmp_path / "data") == []


@pytest.mark.slow
def test_cli_enforces_the_official_md5(tmp_path: Path, tarball: tuple[Path, str]) -> None:
    path, md5 = tarball
    dest = tmp_path / "data"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "data",
            "fetch",
            "--dest",
            str(dest),
            "--tarball",
            str(path),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"grader: error: {path}: MD5 is {md5}, expected {CIFAR_MD5}" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(dest) == []
