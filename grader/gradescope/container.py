"""Inside Gradescope's container: `grader gradescope setup` (once per image) and
`grader gradescope run` (once per submission).

`run_in_container` grades the one submission in `/autograder/submission` through the
functions `grader grade` uses: the same intake, the same sandbox (bwrap as root inside
the container, the student's code dropped to an unprivileged uid), the same checks,
against the reference's evidence computed at build time. It always writes
`results/results.json`: a container too small for a notebook run is refused with a
message saying which setting to raise (not killed midway by the kernel), and any
failure of the harness becomes a results file with score 0 and the reason for the
instructor.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..datasets.cifar import prepare_split
from ..datasets.fetch import fetch_cifar
from ..errors import ConfigError
from ..fsutil import atomic_write_text
from ..grading import grade_submission, open_course, reference_evidence, sandbox_uid
from ..intake import Homework, Submission, read_submission
from ..project import cache_dir
from ..report import REFERENCE_FOLDER, write_report
from ..sandbox import not_isolated_summary
from . import layout
from .feedback import gradescope_results, not_graded
from .layout import AutograderConfig, ContainerPaths

__all__ = ["container_memory_mb", "run_in_container", "set_up_container"]

_UNLIMITED = 1 << 60  # what cgroups write for "no limit" is near 2**63


def _cgroup_limits() -> list[int]:
    """The memory limits of this process's cgroups, v2 (`memory.max`) and v1 (`memory.limit_in_bytes`)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:  # not Linux
        return []
    limits = []
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers:
            files = [Path("/sys/fs/cgroup", path.lstrip("/"), "memory.max"), Path("/sys/fs/cgroup/memory.max")]
        elif "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory")
            files = [base / path.lstrip("/") / "memory.limit_in_bytes", base / "memory.limit_in_bytes"]
        else:
            continue
        for file in files:  # inside a container's own cgroup namespace the second is its own
            try:
                text = file.read_text().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < _UNLIMITED:
                limits.append(int(text))
            break
    return limits


def container_memory_mb() -> int | None:
    """The memory this process may use, in MB: the least of its cgroups' limits, the
    machine's memory and its address-space limit; None when none can be read."""
    limits = _cgroup_limits()
    try:
        with open("/proc/meminfo") as meminfo:
            total = next(line for line in meminfo if line.startswith("MemTotal:"))
        limits.append(int(total.split()[1]) * 1024)
    except (OSError, StopIteration, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    return min(limits) >> 20 if limits else None


def _metadata(path: Path) -> Mapping[str, Any]:
    """Gradescope's submission metadata ({} when it is missing: a trial run by hand)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable submission metadata ({exc})") from exc
    return data if isinstance(data, dict) else {}


def _members(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    users = metadata.get("users")
    return [dict(u) for u in users if isinstance(u, dict)] if isinstance(users, list) else []


def _upload(folder: Path, members: list[dict[str, Any]], homework: Homework) -> Submission:
    """The student's files: the folder Gradescope filled, or the one zip uploaded into it."""
    first = members[0] if members else {}
    student = str(first.get("email") or first.get("id") or "submission")
    names = {k: str(first[k]) for k in ("name", "email", "id") if first.get(k) is not None}
    if len(members) > 1:
        names["group"] = ", ".join(str(m.get("name") or m.get("email") or "?") for m in members)
    entries = list(folder.iterdir()) if folder.is_dir() else []
    zips = [p for p in entries if p.suffix.lower() == ".zip" and p.is_file()]
    if len(zips) == 1 and not any(p.suffix == ".ipynb" for p in folder.rglob("*.ipynb")):
        return read_submission(zips[0], student=student, names=names, homework=homework)
    return read_submission(folder, student=student, names=names, homework=homework)


def set_up_container(root: Path, log: Callable[[str], None] = print) -> None:
    """Once per image (setup.sh): fetch the data if the zip does not carry it, prepare its
    split in the cache, and say whether the build's reference run is valid for it."""
    paths = ContainerPaths(root)
    config = AutograderConfig.read(paths.source / layout.CONFIG_FILE)
    if config.data == "fetch" and not paths.data.is_dir():
        fetch_cifar(paths.data.parent, url=config.data_url, md5=config.data_md5, report=log)
    split = prepare_split(paths.data, cache_dir())  # $GRADER_CACHE: setup.sh and run_autograder set it alike
    if split.fingerprint != config.data_fingerprint:
        log(
            f"WARNING: {paths.data} is not the data set the reference ran on at build time: every submission "
            "will re-run the reference first (minutes each); rebuild the zip with this data set"
        )
    note = not_isolated_summary(config.isolation)
    log(f"note: {note}" if note else "the sandbox (bwrap) works here")
    log(f"ready: submissions run under a {config.timeout:g} s limit; memory needed {config.min_memory_mb} MB")


def _grade(paths: ContainerPaths, config: AutograderConfig, log: Callable[[str], None]) -> dict[str, Any]:
    metadata = _metadata(paths.metadata)
    members = _members(metadata)
    memory = container_memory_mb()
    if memory is not None and memory < config.min_memory_mb:
        return not_graded(
            f"this container has {memory} MB of memory and a notebook run needs {config.min_memory_mb} MB: the "
            f"run was not started (the kernel would have killed it midway). In the assignment's Settings, under "
            f"Autograder settings, choose at least {-(-config.min_memory_mb // 1024)} GB of memory, then "
            "regrade all submissions",
            members=members,
        )
    source = paths.source
    course = open_course(
        source / layout.SOLUTIONS,
        source / layout.STARTER,
        cifar_dir=paths.data,
        cache=cache_dir(),  # where setup.sh prepared the split
        isolation=config.isolation,
        timeout=config.timeout,
    )
    cached = paths.work / REFERENCE_FOLDER
    if not cached.exists():  # the build's run; reference_evidence re-runs it if it does not fit
        shutil.copytree(source / layout.REFERENCE, cached)
    reference = reference_evidence(course, paths.work, log)
    submission = _upload(paths.submission, members, Homework.of(course.rubric))
    log(f"grading {submission.student} ({', '.join(submission.problems) or 'files found'})")
    result = grade_submission(
        submission,
        course,
        reference=reference,
        out_dir=paths.work / submission.student,
        uid=sandbox_uid(0),
        progress=lambda cell: log(f"  cell {cell.index + 1} {cell.cell_id}: {cell.status} ({cell.seconds:.1f} s)"),
    )
    log(f"{submission.student}: {result.score:g} points in {result.execution_time:.0f} s")
    notes = [f"memory: {memory} MB" if memory else "memory: unknown"]
    try:
        write_report(result, paths.work, course.rubric)
        notes.append(f"report: {paths.work / submission.student / 'report.html'} (in the container)")
    except Exception as exc:  # a grader bug costs the report, never the results
        notes.append(f"the report could not be written ({type(exc).__name__}: {exc})")
    return gradescope_results(result, course.rubric, members=members, submission_id=metadata.get("id"), notes=notes)


def run_in_container(root: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Grade `root/submission` and write `root/results/results.json`, whatever happens; the results."""
    paths = ContainerPaths(root)
    started = time.monotonic()
    try:
        config = AutograderConfig.read(paths.source / layout.CONFIG_FILE)
        results = _grade(paths, config, log)
    except Exception as exc:  # the harness, not the student: say so, with the traceback for the instructor
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log(trace)
        results = not_graded(f"the grader failed: {type(exc).__name__}: {exc}\n\n{trace}")
    results["execution_time"] = round(time.monotonic() - started, 3)
    atomic_write_text(paths.results, json.dumps(results, indent=1) + "\n")
    return results
