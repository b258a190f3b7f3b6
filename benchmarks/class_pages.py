"""Rendering benchmarks: a student's report (both views) and the class pages of a large class.

    python benchmarks/class_pages.py [WORK]

`make_class` writes a graded folder of made-up but plausible students (varied from the two
golden results, never graded), `measure_rendering` times what `grader report` does with one.
`benchmarks/bench.py` puts the numbers in its table; run alone, this prints them.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.report import REFERENCE_FOLDER, RUBRIC_COPY, write_class_files, write_report  # noqa: E402
from grader.report.artifacts import ARTIFACTS  # noqa: E402
from grader.results import CheckResult, SubmissionResult, read_result, status_for, write_result  # noqa: E402
from grader.rubric import AccuracyRule, Rubric, load_rubric  # noqa: E402

__all__ = ["make_class", "measure_rendering"]

GOLDEN = ROOT / "tests" / "files" / "golden" / "out"
RUBRIC = ROOT / "solutions" / "rubric.toml"
CLASS_SIZE = 300
REPORT_STUDENTS = 6  # students whose reports are timed: enough to average, few enough to be quick
_SHARES = (1.0, 1.0, 1.0, 1.0, 0.5, 0.0)  # of an automatic check's points: most students pass most checks


def make_class(out: Path, n: int, seed: int = 0) -> Path:
    """`out` made a graded folder of `n` students (`student-000`, ...): each a golden result with
    its scores, validation accuracy and flags drawn at random (reproducibly from `seed`), and the
    rubric in `.reference/` as `grader report` expects. Nothing is graded, nothing is plotted."""
    rng = np.random.default_rng(seed)
    bases = _results(GOLDEN)
    rubric = load_rubric(RUBRIC)
    (out / REFERENCE_FOLDER).mkdir(parents=True, exist_ok=True)
    shutil.copy(RUBRIC, out / REFERENCE_FOLDER / RUBRIC_COPY)
    for i in range(n):
        result = _varied(bases[i % len(bases)], f"student-{i:03d}", rng, rubric.accuracy)
        (out / result.student).mkdir(exist_ok=True)
        write_result(result, out / result.student / "results.json")
    return out


def _varied(base: SubmissionResult, student: str, rng: np.random.Generator, rule: AccuracyRule) -> SubmissionResult:
    """`base` as another student's result: other scores, another accuracy, sometimes a flag."""
    accuracy = round(float(np.clip(rng.normal(0.45, 0.07), 0.08, 0.62)), 3)
    checks = tuple(_varied_check(check, rng, rule, accuracy) for check in base.checks)
    unsandboxed = rng.random() < 0.03  # a few ran without the sandbox: the summary flags them
    return dataclasses.replace(
        base,
        student=student,
        checks=checks,
        validation_accuracy=accuracy,
        sandboxed=base.sandboxed and not unsandboxed,
        sandbox_note="" if unsandboxed else base.sandbox_note,
        problems=("notebook cell 31 timed out after 600 s",) if rng.random() < 0.02 else base.problems,
        execution_time=float(rng.uniform(30, 120)),
    )


def _varied_check(check: CheckResult, rng: np.random.Generator, rule: AccuracyRule, accuracy: float) -> CheckResult:
    """One check's result redrawn: automatic checks get another share of their points (cifar.tuned
    the one the rubric gives `accuracy`); TA-scored, skipped and erroneous ones stay as they were."""
    if check.manual or check.max_score <= 0 or check.status not in ("passed", "partial", "failed"):
        return check
    if check.id == "cifar.tuned":
        share = float(rule.multiplier(round(accuracy * 1000), 1000))
    else:
        share = float(rng.choice(_SHARES))
    return dataclasses.replace(check, score=share * check.max_score, status=status_for(share))


def _plotted_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What grading saves for a report's plots (artifacts.npz), made up at realistic sizes:
    a 1000-iteration loss history, five epochs of accuracies, two 283x283 weight grids."""
    steps = np.linspace(0, 1, 1000)
    return {
        "baseline.loss_history": 2.3 - 0.5 * steps + 0.05 * rng.standard_normal(1000),
        "baseline.train_acc_history": np.sort(rng.uniform(0.1, 0.5, 5)),
        "baseline.val_acc_history": np.sort(rng.uniform(0.1, 0.5, 5)),
        "best_net.grid": rng.integers(0, 256, (283, 283, 3), dtype=np.uint8),
        "subopt_net.grid": rng.integers(0, 256, (283, 283, 3), dtype=np.uint8),
    }


def _with_plots(out: Path, seed: int) -> Path:
    """Every student of `out`, and the reference, given arrays to plot."""
    rng = np.random.default_rng(seed)
    for folder in [out / REFERENCE_FOLDER, *sorted(p.parent for p in out.glob("*/results.json"))]:
        np.savez_compressed(folder / ARTIFACTS, **_plotted_arrays(rng))
    return out


def _seconds(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def _reports(out: Path, results: list[SubmissionResult], rubric: Rubric, views: tuple[bool, ...]) -> None:
    for result in results:
        for student_view in views:
            write_report(result, out, rubric, student_view=student_view)


def measure_rendering(work: Path) -> dict[str, float]:
    """Seconds, measured in this process under `work`: one student's report (instructor view) and
    one student's two views, `write_report` as `grader report` calls it (the results read
    already; the class files are the third row), averaged over a few students with realistic
    arrays to plot; and `write_class_files` for a class of 300. Each is timed after a warm-up, so
    one-time imports and compiled templates are not charged to the students."""
    reports = _with_plots(make_class(work / "reports", REPORT_STUDENTS), seed=1)
    rubric = load_rubric(reports / REFERENCE_FOLDER / RUBRIC_COPY)
    results = _results(reports)
    _reports(reports, results[:1], rubric, (False, True))  # warm-up: imports, compiled templates
    instructor = _seconds(_reports, reports, results, rubric, (False,)) / len(results)
    both = _seconds(_reports, reports, results, rubric, (False, True)) / len(results)
    big = make_class(work / "class", CLASS_SIZE)
    results = _results(big)
    write_class_files(results, big, rubric)  # warm-up: matplotlib's import
    pages = _seconds(write_class_files, results, big, rubric)
    return {
        "report per student (instructor)": instructor,
        "report per student (both views)": both,
        f"class pages, {CLASS_SIZE} students": pages,
    }


def _results(out: Path) -> list[SubmissionResult]:
    return [read_result(path) for path in sorted(out.glob("*/results.json"))]


def main() -> None:
    """Print the measurements, in a temporary folder or under the one named."""
    with tempfile.TemporaryDirectory(prefix="render-bench-") as temporary:
        work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(temporary)
        for what, seconds in measure_rendering(work).items():
            print(f"{what}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
