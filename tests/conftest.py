"""Shared fixtures: the checkout, synthetic CIFAR-10 data, and the graded demo class.

Grading whole notebooks on the full-size data set takes minutes, so the demo class
is graded once per session (exactly as `grader demo` does it) and many tests read
its results.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from field_user import STUDENT, STUDENT_VENV

from grader.datasets.synth import cached_synthetic_cifar
from grader.demo import run_demo
from grader.grading import BatchResult
from grader.project import Project, find_project
from grader.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[1]


def pytest_report_header() -> str:
    """The free space where the tests write: a full disk fails tests far from its cause."""
    free = shutil.disk_usage(tempfile.gettempdir()).free
    return f"free space in {tempfile.gettempdir()}: {free / 2**30:.1f} GiB (the full suite took up to 12)"


@pytest.fixture(scope="session")
def project() -> Project:
    return find_project(ROOT)


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """A private cache: prepared splits and the synthetic data set of this session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def cifar_dir(cache) -> Path:
    """The synthetic CIFAR-10 folder (`cifar-10-batches-py`), full size, of the realistic
    profile: the demo's, on which the reference earns full credit as on the real set."""
    return cached_synthetic_cifar(cache, "realistic", log=lambda _: None)


@pytest.fixture(scope="session")
def demo(project, cache, tmp_path_factory) -> tuple[BatchResult, Path]:
    """The demo class, graded into a temporary folder: (the batch, its output folder)."""
    out = tmp_path_factory.mktemp("demo-out")
    batch, _ = run_demo(project, out, jobs=2, cache=cache, log=lambda _: None)
    return batch, out


@pytest.fixture(scope="session")
def demo_results(demo) -> dict[str, SubmissionResult]:
    batch, _ = demo
    return {r.student: r for r in batch.results}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, as students install it (`pip wheel .`)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (built,) = dist.glob("*.whl")
    return built


QUICK_SEARCH = ("for lr in (1e-3, 2e-3, 3e-3)", "for lr in (3e-3,)")


@pytest.fixture(scope="session")
def finished_notebook(tmp_path_factory) -> Path:
    """The reference notebook with its search cut to one setting (a fresh net at lr 3e-3, which
    reaches full credit alone): finished work as a student might hand it in, a minute quicker to
    run than the reference's three settings. For tests about the grader's mechanics, not the search."""
    source = (ROOT / "solutions" / "toy_nn.ipynb").read_text()
    assert source.count(QUICK_SEARCH[0]) == 1, "the reference's search changed: update QUICK_SEARCH"
    path = tmp_path_factory.mktemp("finished") / "toy_nn.ipynb"
    path.write_text(source.replace(*QUICK_SEARCH))
    return path


# --- the ordinary user of the field tests (see field_user.py) ------------------------------


@pytest.fixture(scope="session")
def field(tmp_path_factory) -> Iterator[Path]:
    """A folder every user can enter (pytest's own temporary folders are closed to others)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-field-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def student(field) -> pwd.struct_passwd:
    """An ordinary user (no root, no sudo), made once."""
    if os.geteuid() != 0:
        pytest.skip("making an ordinary user (useradd) needs root")
    try:
        return pwd.getpwnam(STUDENT)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", STUDENT], check=True)
        return pwd.getpwnam(STUDENT)


@pytest.fixture(scope="session")
def student_python(field, wheel) -> Path:
    """A Python an ordinary user can run, the grader installed in it from this checkout's wheel.

    `make test` makes .venv-student from the system's Python; it is copied here, so that it
    works wherever the checkout is (CI may clone under /root, which others cannot enter)."""
    if not (STUDENT_VENV / "bin" / "python").exists():
        pytest.skip(f"no {STUDENT_VENV.name}: `make test` makes it from the system's Python")
    venv = field / "venv"
    if not venv.exists():
        shutil.copytree(STUDENT_VENV, venv, symlinks=True)
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        subprocess.run([*install, "--force-reinstall", str(wheel)], check=True)
    return venv / "bin" / "python"
