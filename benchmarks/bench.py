"""Benchmarks: the grader's speed and memory targets, each against a baseline of the same run.

    python benchmarks/bench.py [--quick]

Prints one table. Every row measures a design choice against the naive way of doing
the same thing, on this machine, in this run (so the ratio is meaningful even on a
loaded or slow machine):

- the data split, prepared once and cached, against preparing it again;
- the sandbox's cost: a module-only run (what `grader check --quick` runs) in bubblewrap,
  and in the Landlock-confined fallback, each against no isolation;
- parallel grading: a batch with -j 2 against -j 1;
- resuming: regrading an unchanged batch against grading it;
- shared training data: probes read the cached split through memory maps, against
  each process loading its own copy (peak resident memory of one training run);
- one full submission on the full-size synthetic data, and its report's rendering.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.confine import landlock_abi  # noqa: E402
from grader.datasets.synth import cached_synthetic_cifar  # noqa: E402
from grader.examples import materialize_examples  # noqa: E402
from grader.grading import Course, grade_batch, grade_submission, open_course  # noqa: E402
from grader.intake import read_submission  # noqa: E402
from grader.project import find_project  # noqa: E402
from grader.report import rerender  # noqa: E402
from grader.sandbox import isolation_available  # noqa: E402

ROWS: list[tuple[str, str, str, str]] = []


def row(what: str, ours: float, baseline: float, unit: str = "s") -> None:
    """Record a measurement beside its baseline; the ratio is baseline / ours."""
    ratio = baseline / ours if ours else float("inf")
    ROWS.append((what, f"{ours:.2f} {unit}", f"{baseline:.2f} {unit}", f"{ratio:.1f}x"))
    print(f"  {what}: {ours:.2f} {unit} vs {baseline:.2f} {unit}", file=sys.stderr, flush=True)


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


_TRAIN = """
import sys, numpy as np
folder, mode = sys.argv[1], sys.argv[2]
X = np.load(folder + "/X_train.npy", mmap_mode="c" if mode == "mmap" else None)
y = np.load(folder + "/y_train.npy")
np.random.seed(0)
W = 1e-4 * np.random.randn(3072, 50)
for _ in range(300):  # the baseline cell's access pattern: random batches of 200
    idx = np.random.choice(len(X), 200)
    W -= 1e-9 * X[idx].T @ np.maximum(X[idx] @ W, 0)
# Anonymous memory is what each process adds; mapped file pages are shared by all.
print(next(int(l.split()[1]) for l in open("/proc/self/smaps_rollup") if l.startswith("Anonymous:")) / 1024)
"""


def private_mb(split_folder: Path, mode: str) -> float:
    """Private (anonymous) memory, in MB, of a training loop reading the split `mode`-wise.

    Not ru_maxrss: a child inherits its parent's peak across exec, and file pages
    mapped from the page cache are shared between processes, not added per process.
    """
    out = subprocess.run([sys.executable, "-c", _TRAIN, str(split_folder), mode], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return float(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the full-notebook row (about two minutes)")
    args = parser.parse_args()
    project = find_project(ROOT)
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        quiet = lambda *_: None  # noqa: E731

        print("data set and split ...", file=sys.stderr)
        data = cached_synthetic_cifar(cache, "realistic", log=quiet)  # what the reference is sized for
        cold, course = timed(open_course, project.solutions, project.assignment, cifar_dir=data, cache=cache)
        warm, _ = timed(open_course, project.solutions, project.assignment, cifar_dir=data, cache=cache)
        row("open a course: split cached vs prepared", warm, cold)

        print("memory of a training run ...", file=sys.stderr)
        assert course.split is not None
        row("private memory of a training run: memory-mapped split vs own copy",
            private_mb(course.split.folder, "mmap"), private_mb(course.split.folder, "copy"), "MB")  # fmt: skip

        print("self-check --quick ...", file=sys.stderr)
        folder = work / "student"
        shutil.copytree(project.assignment, folder)
        for name in ("toy_nn.ipynb", "hw3code/neural_net.py"):
            shutil.copy(project.solutions / name, folder / name)
        submission = read_submission(folder)

        def module_run(isolation: str) -> float:
            # What `grader check --quick` runs (the module's probes), isolated or not.
            checking = Course(course.rubric, project.assignment, None, None, isolation)  # type: ignore[arg-type]
            return min(
                timed(grade_submission, submission, checking, reference=None, out_dir=work / "quick",
                      run_notebook=False)[0]
                for _ in range(3)
            )  # fmt: skip

        plain = module_run("none")
        if isolation_available()[0]:
            row("module-only run: bubblewrap vs no isolation (the sandbox's cost)", module_run("bwrap"), plain)
        if landlock_abi():
            path = os.environ["PATH"]
            os.environ["PATH"] = str(work)  # no bwrap on it: the fallback
            try:
                confined = module_run("auto")
            finally:
                os.environ["PATH"] = path
            row("module-only run: Landlock fallback vs no isolation (its cost)", confined, plain)
        row("grader check --quick, whole command (start-up included)",
            timed(subprocess.run, [sys.executable, "-m", "grader", "check", "--quick", str(folder)],
                  capture_output=True)[0], 0.0)  # fmt: skip
        ROWS[-1] = (*ROWS[-1][:2], "", "")

        print("batches ...", file=sys.stderr)
        no_data = open_course(project.solutions, project.assignment, cifar_dir=None, cache=cache, skip_cifar=True)
        examples = materialize_examples(project.examples / "examples.toml",
                                        {"solutions": project.solutions, "assignment": project.assignment},
                                        work / "examples", notebook="toy_nn.ipynb",
                                        module="hw3code/neural_net.py")[:4]  # fmt: skip
        grade_batch(examples[:1], work / "warmup", no_data, jobs=1, log=quiet)  # the reference run, cached
        for name in ("one", "two"):
            shutil.copytree(work / "warmup" / ".reference", work / name / ".reference")
        # Each twice, the better time kept: the first batch of a process pays one-off costs.
        one = min(timed(grade_batch, examples, work / "one", no_data, jobs=1, force=True, log=quiet)[0]
                  for _ in range(2))  # fmt: skip
        two = min(timed(grade_batch, examples, work / "two", no_data, jobs=2, force=True, log=quiet)[0]
                  for _ in range(2))  # fmt: skip
        row(f"grade {len(examples)} submissions (no data): -j 2 vs -j 1", two, one)
        again, batch = timed(grade_batch, examples, work / "two", no_data, jobs=2, log=quiet)
        assert len(batch.reused) == len(examples)
        row(f"regrade {len(examples)} unchanged submissions vs grade them", again, two)

        if not args.quick:
            print("one full submission ...", file=sys.stderr)
            full = work / "full"
            grade_batch(examples[:1], full, course, jobs=1, log=quiet)
            forced, batch = timed(grade_batch, examples[:1], full, course, jobs=1, force=True, log=quiet)
            render, stats = timed(rerender, full)
            ROWS.append(("one submission, full notebook on full-size data", f"{forced:.1f} s", "", ""))
            per_report = render / max(stats.reports, 1)
            row("render a student's report (and the summary) vs grade the submission", per_report, forced)

    width = max(len(r[0]) for r in ROWS)
    print(f"\n{'measurement':<{width}}  {'ours':>10}  {'baseline':>10}  {'ratio':>7}")
    print("-" * (width + 33))
    for what, ours, baseline, ratio in ROWS:
        print(f"{what:<{width}}  {ours:>10}  {baseline:>10}  {ratio:>7}")
    print(f"\n(2 cores here: {os.cpu_count()} CPUs; ratio = baseline / ours, higher is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
