"""`grader gradescope build`: the autograder zip an instructor uploads to Gradescope.

The zip holds, at its root, `setup.sh` and `run_autograder` (Gradescope's
specification) and everything they need: the grader's source (setup.sh installs it
with pip), the reference solution and the rubric, the official starter, the
reference's run on the data (so that no container spends minutes re-running it), and
the data set itself, or the address and MD5 that setup.sh fetches it from and checks
it against. The reference runs here, once, under the very limits the containers use,
so its cached evidence is valid there; it is kept in the cache for the next build.
"""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..datasets.fetch import CIFAR_MD5, CIFAR_URL, fetch_cifar
from ..errors import ConfigError
from ..grading import Isolation, open_course, reference_evidence
from ..project import Project
from ..report import REFERENCE_FOLDER
from ..rubric import load_rubric
from . import layout
from .layout import AutograderConfig

__all__ = ["BuildInfo", "build_autograder", "grading_timeout"]

_SCRIPTS = Path(__file__).resolve().parent  # setup.sh and run_autograder ship beside this module
GRADESCOPE_MAX_MINUTES = 40  # the longest timeout Gradescope's settings allow
# Time a container spends outside the student's run: starting, reading the submission,
# the checks, the report and the results file (measured: well under a minute), with room.
_GRADER_OWN_SECONDS = 180
# The reference's notebook on full-size data, run by run_autograder in a memory cgroup, peaks
# near 2.8 GB (kernel, probes, grader); capped at 3 GB the kernel OOM-killed a process of the
# run, at 2 GB the notebook's kernel died in the search. At 4 GB it ran with no kill.
MIN_MEMORY_MB = 4096
_SKIPPED = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
# A data set unpacked into a course folder, where the notebook reads it: never packed (the
# container's runs get the zip's own data/, mounted there).
_NOTEBOOK_DATA = "/data/datasets/"


@dataclass(frozen=True)
class BuildInfo:
    """What `build_autograder` wrote."""

    path: Path
    bytes: int
    files: int
    config: AutograderConfig
    reference_seconds: float  # a second or so when the reference's run came from the cache


def grading_timeout(rubric_timeout: float, gradescope_minutes: int) -> float:
    """Seconds for a student's run that leave the grader time to write its results
    before Gradescope stops the container."""
    return min(rubric_timeout, gradescope_minutes * 60 - _GRADER_OWN_SECONDS)


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p in _SKIPPED for p in rel.parts) and _NOTEBOOK_DATA not in f"/{rel.as_posix()}":
            yield path


def _add_tree(archive: zipfile.ZipFile, folder: Path, name: str) -> None:
    for path in _files(folder):
        archive.write(path, f"{name}/{path.relative_to(folder).as_posix()}")


def _add_script(archive: zipfile.ZipFile, name: str) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = 0o100755 << 16  # executable: Gradescope runs them as they are
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, (_SCRIPTS / name).read_bytes())


def _grader_source(archive: zipfile.ZipFile, project: Project) -> None:
    """What `pip install` needs to build the grader: pyproject.toml and the folders it names."""
    for name in ("pyproject.toml", "README.md"):
        archive.write(project.root / name, f"{layout.GRADER_SOURCE}/{name}")
    for folder in ("grader", "templates", "assignment"):
        _add_tree(archive, project.root / folder, f"{layout.GRADER_SOURCE}/{folder}")


def build_autograder(
    out: Path,
    project: Project,
    *,
    cache: Path,
    cifar_dir: Path | None = None,
    fetch_data: bool = False,
    data_url: str = CIFAR_URL,
    data_md5: str = CIFAR_MD5,
    solution: Path | None = None,
    starter: Path | None = None,
    isolation: Isolation = "auto",
    gradescope_minutes: int = GRADESCOPE_MAX_MINUTES,
    log: Callable[[str], None] = print,
) -> BuildInfo:
    """Write the autograder zip to `out` (atomically) and say what is in it.

    With `cifar_dir` the zip carries that data set; with `fetch_data` it carries none,
    and setup.sh downloads `data_url` and checks it against `data_md5` (the reference
    runs here on the same download). ConfigError for contradictory or missing options.
    """
    if (cifar_dir is None) == (not fetch_data):
        raise ConfigError("give the data set to grade with: --cifar-dir DIR (carried in the zip) or --fetch-data")
    if not 1 <= gradescope_minutes <= GRADESCOPE_MAX_MINUTES:
        raise ConfigError(f"--gradescope-timeout must be 1 to {GRADESCOPE_MAX_MINUTES} minutes (Gradescope's range)")
    if isolation == "none":
        raise ConfigError("an autograder always sandboxes: --isolation auto or bwrap")
    solution, starter = solution or project.solutions, starter or project.assignment
    if fetch_data:  # the very bytes setup.sh will fetch, so that the reference's run is valid there
        cifar_dir = fetch_cifar(cache / "gradescope-data", url=data_url, md5=data_md5, report=log)
    timeout = grading_timeout(load_rubric(solution / "rubric.toml").limits.timeout, gradescope_minutes)
    if timeout <= 0:
        raise ConfigError(f"--gradescope-timeout {gradescope_minutes} leaves no time for the student's run")
    course = open_course(solution, starter, cifar_dir=cifar_dir, cache=cache, isolation=isolation, timeout=timeout)
    reference_out = cache / "gradescope-reference"
    started = time.monotonic()
    reference_evidence(course, reference_out, log)
    reference_seconds = time.monotonic() - started
    config = AutograderConfig(
        data="fetch" if fetch_data else "packed",
        data_url=data_url if fetch_data else "",
        data_md5=data_md5 if fetch_data else "",
        data_fingerprint=course.split.fingerprint if course.split else "",
        isolation=isolation,
        timeout=timeout,
        min_memory_mb=MIN_MEMORY_MB,
        gradescope_timeout_minutes=gradescope_minutes,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _add_script(archive, "setup.sh")
            _add_script(archive, "run_autograder")
            with tempfile.TemporaryDirectory() as staging:
                config.write(Path(staging) / layout.CONFIG_FILE)
                archive.write(Path(staging) / layout.CONFIG_FILE, layout.CONFIG_FILE)
            _grader_source(archive, project)
            _add_tree(archive, solution, layout.SOLUTIONS)
            _add_tree(archive, starter, layout.STARTER)
            _add_tree(archive, reference_out / REFERENCE_FOLDER, layout.REFERENCE)
            if not fetch_data:
                _add_tree(archive, course.split.batches, f"{layout.DATA}/cifar-10-batches-py")
            files = len(archive.infolist())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return BuildInfo(out, out.stat().st_size, files, config, reference_seconds)
