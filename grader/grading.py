"""Grading: one submission (`grade_submission`) and a whole class (`grade_batch`).

For each student: read the files (intake), run them in the sandbox (execute), run
the checks on what came back (checks), write `results.json` and a log (results).
The reference solution goes through the same path once per batch, beside the first
students' runs; its outputs on the hidden probes are what the hidden checks compare
with, and it is cached in `OUT/.reference` until the solution, the rubric, the data
or the grader change.
Submissions are graded in parallel threads (each waits on its own sandboxed
process); one that breaks the harness still gets a result that says so. A group's
submission (a Gradescope group) is graded once, in its first member's folder, and that
folder is copied to every other member's with their own id and names in the result.

`results.json` is the commit record of a student's folder, so that a grader killed at any
moment (`kill -9`, a power cut) loses nothing and leaves nothing half-done to be trusted:
grading a student first removes their results.json, then writes everything else of the folder
(executed.ipynb, artifacts.npz, grading.log, report.html and, if one was handed out,
student-report.html), each file atomically, and results.json last. A folder without a
results.json for the same inputs is regraded; one with it is kept, and its reports are
re-rendered if they do not show that very result (each carries the result's digest:
`report.result_digest`), as after a kill between merging a TA's score and the re-render.
A batch holds OUT locked (`leftovers.lock_out`) and first removes what a killed run left:
temporary files in OUT, its temporary folders and, without bwrap, its processes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import json
import os
import queue
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nbformat import NotebookNode

from .checks import Context, run_checks, validate_rubric
from .checks.answers import answer_text
from .checks.cifar import validation_accuracy
from .datasets.cifar import PreparedSplit, batches_dir, prepare_split
from .errors import ConfigError, DataError, GraderError
from .evidence import HARVESTED_NETS, CellRecord, Evidence
from .execute import RunInfo, load_submitted, read_evidence, run_submission
from .fsutil import atomic_write_text
from .gradebook import ManualScore, merge_manual_scores
from .handcalc import ANSWERS_FILE, load_answers
from .intake import Homework, Submission, discover
from .leftovers import clean_out, lock_out, sweep
from .notebooks import read_notebook
from .probe_plan import ProbeSpec, plan_probes
from .project import default_cifar_dir
from .report import MODEL_ANSWERS, REFERENCE_FOLDER, RUBRIC_COPY, refresh_reports, save_artifacts, write_class_files
from .results import CellSummary, CheckResult, RunSummary, SubmissionResult, read_result, write_result
from .rubric import LimitOverrides, Rubric, load_rubric
from .sandbox import isolation_available, not_isolated_summary

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "BatchResult",
    "Course",
    "default_jobs",
    "grade_batch",
    "grade_submission",
    "open_course",
    "reference_evidence",
    "sandbox_uid",
]

Isolation = Literal["auto", "bwrap", "none"]
_FIRST_UID = 61000  # each parallel sandbox runs as its own uid (as root), for its own process limit
_GRADER_SOURCE = Path(__file__).resolve().parent


_MEMORY_PER_JOB = 4 << 30  # a full notebook run on CIFAR-10 peaks near 3 GB


def sandbox_uid(slot: int) -> int | None:
    """The uid the sandbox of parallel slot `slot` runs the student's code as: one of its own
    when the grader is root (so each slot has its own process limit), else None (the grader's)."""
    return _FIRST_UID + slot if os.geteuid() == 0 else None


def default_jobs() -> int:
    """Submissions to grade at once: one per CPU (each sandbox uses one BLAS thread),
    fewer when memory would not hold that many notebook runs."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return cpus
    return max(1, min(cpus, memory // _MEMORY_PER_JOB))


@dataclass(frozen=True)
class Course:
    """What every submission is graded against."""

    rubric: Rubric
    starter: Path  # the official course files (assignment/)
    solution: Path | None  # the reference (solutions/); None in a student's self-check
    split: PreparedSplit | None  # the notebook's split of the data set, if one was given
    isolation: Isolation = "auto"
    answers: Mapping[str, Any] = field(default_factory=dict)  # Section 1's values, from the solution

    @property
    def can_isolate(self) -> bool:
        """Whether this course's runs are sandboxed (bwrap works here and is not switched off)."""
        return self.isolation != "none" and isolation_available()[0]

    @property
    def isolation_note(self) -> str:
        """One line saying why this course's runs are not isolated and what confines them; ""
        when they are isolated."""
        return not_isolated_summary(self.isolation)

    def run(
        self,
        notebook: NotebookNode | None,
        module: str | None,
        probes: Sequence[ProbeSpec],
        keep_dir: Path,
        *,
        uid: int | None = None,
        run_notebook: bool = True,
        keep_raw: bool = False,
        progress: Callable[[CellRecord], None] | None = None,
    ) -> tuple[Evidence, RunInfo]:
        """Run one submission's code for this course: `execute.run_submission`."""
        return run_submission(
            notebook,
            module,
            starter=self.starter,
            rubric=self.rubric,
            probes=probes,
            split=self.split,
            keep_dir=keep_dir,
            isolation=self.isolation,
            uid=uid,
            run_notebook=run_notebook,
            keep_raw=keep_raw,
            progress=progress,
        )

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes whenever anything that decides a grade changes (except the submission).

        Computed once per course: every student's fingerprint starts from it."""
        digest = hashlib.sha256()
        for folder in (self.solution, self.starter, _GRADER_SOURCE):
            for path in sorted(folder.rglob("*.*")) if folder else []:
                rel = path.relative_to(folder)
                # An installed wheel carries the public starter inside the package; it is
                # hashed as `starter` when it is the starter, so that a checkout and an
                # install of the same grader (the Gradescope container) agree.
                if folder is _GRADER_SOURCE and rel.parts[0] == "starter":
                    continue
                if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".ipynb", ".toml"):
                    digest.update(rel.as_posix().encode() + b"\0" + path.read_bytes())
        digest.update(repr(replace(self.rubric, source=None)).encode())  # where the rubric lies is no part of it
        digest.update((self.split.fingerprint if self.split else "no data").encode())
        return digest.hexdigest()


def open_course(
    solution: Path | None,
    starter: Path,
    *,
    cifar_dir: Path | None,
    cache: Path,
    skip_cifar: bool = False,
    rubric_path: Path | None = None,
    isolation: Isolation = "auto",
    **limits: Unpack[LimitOverrides],
) -> Course:
    """Load the rubric, check the course folders, prepare the data split (cached).

    Without `cifar_dir` the configured default (`$GRADER_CIFAR_DIR`) is used; with neither,
    a ConfigError refuses to grade unless `skip_cifar` says to grade without the CIFAR-10
    checks on purpose (they are then skipped and left out of every maximum): a class graded
    without its data by accident would get 35 points fewer each. `limits` (timeout=...,
    memory_mb=...: the fields of rubric.SubmissionLimits) replace the rubric's where they are not None.
    """
    rubric_path = rubric_path or (solution or starter) / "rubric.toml"
    rubric = load_rubric(rubric_path).with_limits(**limits)
    validate_rubric(rubric)
    for folder, what in ((solution, "solution"), (starter, "starter (assignment)")):
        if folder is not None and not (folder / rubric.notebook).is_file():
            raise ConfigError(f"{folder}: no {rubric.notebook} here; is this the {what} folder?")
    cifar_dir = None if skip_cifar else cifar_dir or default_cifar_dir()
    if cifar_dir is None and not skip_cifar:
        raise ConfigError(
            "no CIFAR-10 data to grade with: pass --cifar-dir DIR (the cifar-10-batches-py folder, which "
            "`grader data fetch --dest DIR` downloads), or set GRADER_CIFAR_DIR to it once; to grade without "
            "the CIFAR-10 checks on purpose, pass --skip-cifar (they are then left out of every total)"
        )
    try:
        batches = batches_dir(cifar_dir) if cifar_dir else None
    except DataError as exc:  # a wrong --cifar-dir: a usage error, not a broken data set
        raise ConfigError(str(exc)) from exc
    split = prepare_split(batches, cache) if batches else None
    answers = load_answers(solution / ANSWERS_FILE) if solution is not None else {}
    return Course(rubric, starter, solution, split, isolation, answers)


def _context(course: Course, reference: Evidence | None, probes: Sequence[ProbeSpec]) -> Context:
    starter_module = course.starter / course.rubric.module
    return Context(
        rubric=course.rubric,
        reference=reference,
        starter_notebook=read_notebook(course.starter / course.rubric.notebook),
        starter_module=starter_module.read_text(encoding="utf-8") if starter_module.is_file() else None,
        split=course.split,
        probe_inputs={p.name: p for p in probes},
        answers=course.answers,
    )


def _probes(course: Course, hidden: bool) -> list[ProbeSpec]:
    return plan_probes(hidden=hidden, cifar=hidden and course.split is not None)


def reference_evidence(course: Course, out: Path, log: Callable[[str], None] = print) -> Evidence:
    """The reference solution's run (cached in `out/.reference`); GraderError if it fails a probe."""
    if course.solution is None:
        raise ConfigError("grading needs the reference solution (--solution DIR)")
    folder = out / REFERENCE_FOLDER
    probes = _probes(course, hidden=True)
    reference = Submission(
        "reference",
        course.solution,
        (course.solution / course.rubric.notebook).read_bytes(),
        course.rubric.notebook,
        (course.solution / course.rubric.module).read_bytes(),
    )
    notebook, module, _ = load_submitted(reference, course.rubric)
    stamp = folder / "fingerprint"
    if stamp.is_file() and stamp.read_text() == course.fingerprint:
        evidence = read_evidence(folder / "run", probes, notebook, module)
    else:
        log("running the reference solution (once per solution, rubric and data set) ...")
        # Unstamped while it is rewritten: a run killed halfway leaves a cache nobody trusts.
        stamp.unlink(missing_ok=True)
        evidence, info = course.run(notebook, module, probes, folder, keep_raw=True, uid=sandbox_uid(0))
        failed = [f"{name}: {o.summary()}" for name, o in evidence.probes.items() if not o.ok]
        if failed or info.problems:
            raise GraderError(
                f"{course.solution}: the reference solution failed: {'; '.join(failed + list(info.problems))}. "
                "No student was graded (the hidden checks compare with the reference): fix it and grade again"
            )
        save_artifacts(evidence, folder, course.starter)
        starter = read_notebook(course.starter / course.rubric.notebook)
        answers = {s.id: answer_text(notebook, starter, s.id) for s in course.rubric.checks if s.manual}
        atomic_write_text(folder / MODEL_ANSWERS, json.dumps(answers, indent=1) + "\n")
        if course.rubric.source is not None:  # `grader report` re-renders with the rubric graded with
            atomic_write_text(folder / RUBRIC_COPY, course.rubric.source.read_text(encoding="utf-8"))
        atomic_write_text(stamp, course.fingerprint)
    return evidence


def _submission_fingerprint(submission: Submission, course: Course) -> str:
    digest = hashlib.sha256(course.fingerprint.encode())
    for part in (submission.notebook, submission.module):
        digest.update(b"\0" if part is None else hashlib.sha256(part).digest())
    return digest.hexdigest()


def grade_submission(
    submission: Submission,
    course: Course,
    *,
    reference: Evidence | concurrent.futures.Future[Evidence] | None,
    out_dir: Path,
    uid: int | None = None,
    run_notebook: bool = True,
    progress: Callable[[CellRecord], None] | None = None,
    before_commit: Callable[[SubmissionResult], None] | None = None,
) -> SubmissionResult:
    """Grade one submission and write `out_dir/results.json` and `out_dir/grading.log`.

    With `reference=None` (a student's self-check) only the public checks run; a future of the
    reference's evidence is waited for only once the submission has run (so the two runs
    overlap). `run_notebook=False` runs the module's checks alone. `progress` hears of each
    notebook cell as it finishes. `before_commit` is called with the result once every other
    file is written, right before results.json (the commit: module docstring). Raises
    GraderError when the harness itself fails (the sandbox cannot start), or the reference's
    own error when it failed.
    """
    started = time.monotonic()
    stages: dict[str, float] = {}  # where the time went, for grading.log (and the benchmark)
    (out_dir / "results.json").unlink(missing_ok=True)  # uncommitted while the folder is rewritten
    notebook, module, problems = load_submitted(submission, course.rubric)
    probes = _probes(course, hidden=reference is not None)
    with _stage(stages, "run"):
        evidence, info = course.run(
            notebook, module, probes, out_dir, uid=uid, run_notebook=run_notebook, progress=progress
        )
    if isinstance(reference, concurrent.futures.Future):
        waiting = time.monotonic()
        reference = reference.result()
        started += time.monotonic() - waiting  # waiting for the reference is not this submission's time
    if notebook is None:
        evidence = replace(
            evidence, run_problem="; ".join(p for p in [*submission.problems, *problems] if p) or "no notebook"
        )
    context = _context(course, reference, probes)
    with _stage(stages, "checks"):
        checks = run_checks(evidence, context, public_only=reference is None)
    sandbox = info.sandbox
    result = SubmissionResult(
        student=submission.student,
        checks=checks,
        execution_time=time.monotonic() - started,
        sandboxed=bool(sandbox and sandbox.isolated),
        sandbox_note=sandbox.note if sandbox else "",
        problems=(*submission.problems, *problems, *info.problems),
        names=submission.names,
        validation_accuracy=validation_accuracy(evidence, context),
        fingerprint=_submission_fingerprint(submission, course),
        graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        info=_run_summary(evidence, info),
    )
    with _stage(stages, "plots"):
        save_artifacts(evidence, out_dir, course.starter)
    _write_log(out_dir / "grading.log", submission, result, info, stages)
    if before_commit is not None:
        before_commit(result)
    write_result(result, out_dir / "results.json")  # last (module docstring)
    return result


def _failure_log(submission: Submission, result: SubmissionResult, error: Exception) -> str:
    """grading.log of a submission that could not be graded: why, with the traceback."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return "\n".join([*_log_header(submission, result), *(f"problem: {p}" for p in result.problems), "", trace])


def _log_header(submission: Submission, result: SubmissionResult) -> list[str]:
    """The first lines of every grading.log: who, from where, when."""
    return [f"student: {submission.student}", f"source: {submission.source}", f"graded at: {result.graded_at}"]


def _write_report(result: SubmissionResult, out: Path, rubric: Rubric, log: Callable[[str], None]) -> None:
    """refresh_reports (the student's reports that do not show `result`), whose failure (a
    grader bug) costs the report, never the batch."""
    try:
        refresh_reports(result, out, rubric)
    except Exception as exc:
        log(f"{result.student}: the report could not be written ({type(exc).__name__}: {exc}); results.json stands")


def _run_summary(evidence: Evidence, info: RunInfo) -> RunSummary:
    cells = tuple(
        CellSummary(
            c.index, c.cell_id, c.status, c.seconds, c.describe() if c.status != "ok" else "", c.traceback[-3000:]
        )
        for c in evidence.cells
    )
    notebook = info.executed_notebook.name if info.executed_notebook else None
    return RunSummary(info.seconds or {}, cells, notebook, _harvested(evidence), info.restored)


def _harvested(evidence: Evidence) -> dict[str, str]:
    """best_net and subopt_net as the harvest found them: "ok", or why they cannot be graded."""
    harvest = evidence.harvest
    if harvest is None:
        why = evidence.run_problem or "the kernel died or the notebook did not finish"
        return {name: f"missing: {why}" for name in HARVESTED_NETS}
    return {name: "ok" if name in harvest.nets else harvest.notes.get(name, "missing") for name in HARVESTED_NETS}


@contextlib.contextmanager
def _stage(stages: dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds the block takes to `stages[name]`."""
    begun = time.monotonic()
    try:
        yield
    finally:
        stages[name] = round(stages.get(name, 0.0) + time.monotonic() - begun, 3)


def _write_log(
    path: Path, submission: Submission, result: SubmissionResult, info: RunInfo, stages: Mapping[str, float]
) -> None:
    # "run" is the whole sandboxed run: its probes and notebook (run.json's own clocks; the
    # probes' last part runs beside the notebook) and what is left, the workspace, the
    # sandbox's start and the harness's reading back.
    inside = {f"run.{part}": seconds for part, seconds in (info.seconds or {}).items()}
    if info.probes_beside_notebook:
        inside["run.probes.beside_notebook"] = info.probes_beside_notebook
    lines = [
        *_log_header(submission, result),
        f"score: {result.score:g} / {result.max_score:g}",
        f"run: {info.sandbox.note if info.sandbox else 'not run'}",
        f"time: {result.execution_time:.1f} s {json.dumps(info.seconds or {})}",
        f"stages: {json.dumps({**stages, **inside})}",
        *(f"problem: {p}" for p in result.problems),
        "",
        *(f"{c.id}: {c.status} {c.score:g}/{c.max_score:g}: {c.message}" for c in result.checks),
    ]
    if info.sandbox:
        lines += [
            "",
            "--- harness output (tail) ---",
            info.sandbox.stdout_tail,
            "--- harness errors (tail) ---",
            info.sandbox.stderr_tail,
        ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _failure_result(submission: Submission, course: Course, error: Exception, started: float) -> SubmissionResult:
    """The result of a submission the harness could not grade: every check says why."""
    message = f"not graded: {error}"
    if not isinstance(error, GraderError):  # a bug of the grader's, not a fact about the submission
        message = f"not graded: the grader failed ({type(error).__name__}: {error}); please report this"
    checks = tuple(
        CheckResult(
            spec.id,
            spec.name,
            "error",
            0.0,
            float(spec.points),
            message,
            visibility=spec.visibility,
            public=spec.public,
            bonus=spec.bonus,
            manual=spec.manual,
        )
        for spec in course.rubric.checks
    )
    return SubmissionResult(
        student=submission.student,
        checks=checks,
        execution_time=time.monotonic() - started,
        sandboxed=False,
        sandbox_note="the harness failed",
        problems=(*submission.problems, message),
        names=submission.names,
        graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        harness_failed=True,
    )


@dataclass(frozen=True)
class BatchResult:
    """A graded class: every student's result, and which could not be graded."""

    results: tuple[SubmissionResult, ...]
    failed: tuple[str, ...] = ()  # students the harness could not grade
    reused: tuple[str, ...] = ()  # students whose unchanged inputs were not regraded
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """True when every submission was graded."""
        return not self.failed


def grade_batch(
    paths: Iterable[Path],
    out: Path,
    course: Course,
    *,
    jobs: int = 1,
    force: bool = False,
    manual_scores: Sequence[ManualScore] = (),
    manual_source: Path | str = "",
    progress: Callable[[int, int, SubmissionResult, bool], None] | None = None,
    log: Callable[[str], None] = print,
) -> BatchResult:
    """Grade every submission under `paths` into `out`, `jobs` at a time; write the class
    files (gradebook, summary) for everyone graded into `out`, in this batch or before.

    Unchanged submissions keep their stored results unless `force`. The TA scores of
    `manual_scores` (read from `manual_source`) and those recorded in `out` before are
    merged in. `progress` is called after each submission with (done, total, result, reused)
    (a group's once, with its first member's result).
    """
    started = time.monotonic()
    submissions = discover(paths, Homework.of(course.rubric))
    graded_before = {path.parent.name for path in out.glob("*/results.json")}
    students = {m.student for s in submissions for m in s.graded_for}
    unknown = sorted({m.student for m in manual_scores} - students - graded_before)
    if unknown:  # before hours of grading, not after
        raise ConfigError(f"{manual_source or 'manual scores'}: no submission of {', '.join(unknown)} to grade here")
    out.mkdir(parents=True, exist_ok=True)
    with lock_out(out):
        _clean_up(out, log)
        return _grade_locked(
            submissions, out, course, jobs, force, manual_scores, manual_source, progress, log, started
        )


def _clean_up(out: Path, log: Callable[[str], None]) -> None:
    """Remove what a killed run left (`leftovers`), and say so; `out` must be locked."""
    processes, folders = sweep()
    files = clean_out(out)
    if processes or folders or files:
        log(
            f"cleaned up after a grader that was killed: {processes} process(es) stopped, "
            f"{folders} temporary folder(s) and {files} temporary file(s) in {out} removed"
        )


def _grade_locked(
    submissions: Sequence[Submission],
    out: Path,
    course: Course,
    jobs: int,
    force: bool,
    manual_scores: Sequence[ManualScore],
    manual_source: Path | str,
    progress: Callable[[int, int, SubmissionResult, bool], None] | None,
    log: Callable[[str], None],
    started: float,
) -> BatchResult:
    """grade_batch's work, with `out` locked and cleaned up."""
    if course.isolation_note:  # once per batch, before the first run (the reference's)
        log(f"note: {course.isolation_note}")
    # The reference runs in one of the `jobs` slots while the first students run in the others;
    # each student waits for it only before the checks. With one slot it simply runs first.
    uids: queue.Queue[int | None] = queue.Queue()
    for slot in range(max(1, jobs) - 1):
        uids.put(sandbox_uid(1 + slot))
    failed: list[str] = []
    reused: list[str] = []
    reference: concurrent.futures.Future[Evidence]

    def run_reference() -> Evidence:
        try:
            return reference_evidence(course, out, log)
        finally:  # its slot goes to the students
            uids.put(sandbox_uid(max(1, jobs)))

    def grade_one(submission: Submission) -> tuple[list[SubmissionResult], bool]:
        """The results of `submission` (one per group member), and whether they were reused."""
        folder = out / submission.student
        stored = folder / "results.json"
        # A group is reused only if every member's result is: each holds that member's TA scores.
        previous = [] if force else [_reusable(out / m.student, submission, course) for m in submission.graded_for]
        kept = [p for p in previous if p is not None]
        if kept and len(kept) == len(submission.graded_for):
            for result in kept:  # a report a kill left behind its result is re-rendered
                _write_report(result, out, course.rubric, log)
            return kept, True
        uid = uids.get()
        begun = time.monotonic()
        try:
            result = grade_submission(
                submission,
                course,
                reference=reference,
                out_dir=folder,
                uid=uid,
                before_commit=lambda r: _write_report(r, out, course.rubric, log),
            )
        except Exception as exc:  # a harness failure, or a grader bug: never the end of the batch
            if reference.done() and reference.exception() is exc:
                raise  # the reference failed: nobody can be graded (grade_batch says why)
            failed.extend(m.student for m in submission.graded_for)
            if not isinstance(exc, GraderError):
                log(f"{submission.student}: the grader failed ({type(exc).__name__}: {exc}); see its grading.log")
            result = _failure_result(submission, course, exc, begun)
            atomic_write_text(folder / "grading.log", _failure_log(submission, result, exc))
            _write_report(result, out, course.rubric, log)
            write_result(result, stored)  # last (module docstring)
        finally:
            uids.put(uid)
        return [result, *_copy_to_members(submission, result, out, course.rubric, log)], False

    results: dict[str, SubmissionResult] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        reference = pool.submit(run_reference)  # first in, so first to start
        futures = {pool.submit(grade_one, s): s for s in submissions}
        try:
            reference.result()
        except BaseException:  # no reference, no grades: the batch ends before any result is taken
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            group, was_reused = future.result()
            for result in group:
                results[result.student] = result
                if was_reused:
                    reused.append(result.student)
            if progress:
                progress(done, len(submissions), group[0], was_reused)
    graded = [results[m.student] for s in submissions for m in s.graded_for]
    # The class files cover everyone graded into `out`: regrading one student keeps the rest.
    unchanged = [*graded, *_results_of_others(out, set(results), log)]
    everyone = merge_manual_scores(unchanged, out, manual_scores, manual_source)
    for before, after in zip(unchanged, everyone, strict=True):
        if after != before:  # a TA's score, new or recorded before this regrade
            _write_report(after, out, course.rubric, log)
    failures = [r.student for r in everyone if r.harness_failed]
    write_class_files(everyone, out, course.rubric, failures, only_if_changed=True)
    ordered = everyone[: len(graded)]
    return BatchResult(tuple(ordered), tuple(sorted(failed)), tuple(sorted(reused)), time.monotonic() - started)


def _reusable(folder: Path, submission: Submission, course: Course) -> SubmissionResult | None:
    """The result stored in `folder` if it graded these very inputs, else None. A run without
    the sandbox is redone once the sandbox works."""
    stored = folder / "results.json"
    try:
        previous = read_result(stored) if stored.is_file() else None
    except GraderError:
        return None
    if previous is None or previous.fingerprint != _submission_fingerprint(submission, course):
        return None
    return previous if previous.sandboxed or not course.can_isolate else None


def _copy_to_members(
    submission: Submission, result: SubmissionResult, out: Path, rubric: Rubric, log: Callable[[str], None]
) -> list[SubmissionResult]:
    """The result of a group submission for each member after the first (graded once, in the first's
    folder): that folder copied to `OUT/<member>/`, the result with the member's own id and names.

    The member's results.json goes first and comes back last (module docstring): the first's,
    copied along, would otherwise be a result of another student that matches these inputs."""
    copies = []
    own = shutil.ignore_patterns("results.json", "report.html", "student-report.html", ".*.tmp")
    for member in submission.members[1:]:
        folder = out / member.student
        (folder / "results.json").unlink(missing_ok=True)
        shutil.copytree(out / submission.student, folder, dirs_exist_ok=True, ignore=own)
        copy = replace(result, student=member.student, names=member.names)
        _write_report(copy, out, rubric, log)
        write_result(copy, folder / "results.json")
        copies.append(copy)
    return copies


def _results_of_others(out: Path, students: set[str], log: Callable[[str], None]) -> list[SubmissionResult]:
    """The stored results in `out` of students not in `students` (graded in earlier batches)."""
    others = []
    for path in sorted(out.glob("*/results.json")):
        if path.parent.name not in students:
            try:
                others.append(read_result(path))
            except GraderError as exc:
                log(f"left out of the gradebook: {exc}")
    return others
