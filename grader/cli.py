"""The `grader` command: parse arguments, call the library, print, set the exit status.

Exit status: 0 when everything asked for was done, 1 when some submission could not
be graded (or `generate --check` found a stale starter), 2 for a usage or
configuration error, and a GraderError's own code for other harness failures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .errors import ConfigError, DataError, GraderError
from .results import SubmissionResult

if TYPE_CHECKING:  # imported lazily at run time: each command loads only what it needs
    from .evidence import CellRecord
    from .project import Project

__all__ = ["main"]


def _project(args: argparse.Namespace) -> Project:
    from .project import find_project

    return find_project()


def _cmd_generate(args: argparse.Namespace) -> int:
    from .generate import check_assignment, generate_assignment

    project = None if (args.solution and args.assignment) else _project(args)
    solutions = args.solution or project.solutions
    assignment = args.assignment or project.assignment
    if args.check:
        stale = check_assignment(solutions, assignment)
        for item in stale:
            print(f"{assignment / item.path}: {item.problem}")
            if item.diff:
                print(item.diff)
        if stale:
            print(f"{len(stale)} file(s) of {assignment} are stale: run `grader generate`", file=sys.stderr)
            return 1
        print(f"{assignment} is up to date with {solutions}")
        return 0
    files = generate_assignment(solutions, assignment)
    print(f"wrote {len(files)} files to {assignment}")
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    from .release import write_release

    print("building the student bundle (the starter and the grader's wheel) ...", flush=True)
    release = write_release(_project(args), args.out)
    for rel in release.files:
        print(f"  {rel}")
    print(f"wrote {len(release.files)} files to {release.folder} and {release.zip} ({release.size / 1e6:.1f} MB)")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        from .datasets.synth import write_synthetic_cifar

        folder = write_synthetic_cifar(args.dest, seed=args.seed, profile=args.profile)
        print(f"wrote the {args.profile} synthetic CIFAR-10 data set (seed {args.seed}) to {folder}")
    elif args.data_command == "calibrate":
        return _cmd_calibrate(args)
    else:
        from .datasets.fetch import CIFAR_URL, fetch_cifar

        fetch_cifar(args.dest, url=args.url or CIFAR_URL, tarball=args.tarball)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from .datasets.calibrate import render_table, replay_seed_runs
    from .datasets.cifar import batches_dir
    from .datasets.synth import cached_synthetic_cifar, profile_parameters
    from .fsutil import atomic_write_text
    from .project import cache_dir

    cache = args.cache or cache_dir()
    if args.cifar_dir is not None:
        try:
            data = batches_dir(args.cifar_dir)
        except DataError as exc:  # a wrong --cifar-dir: a usage error, as for `grader grade`
            raise ConfigError(str(exc)) from exc
        about = f"data set: {data}"
    else:
        data = cached_synthetic_cifar(cache, args.profile, args.seed)
        about = f"data set: the {args.profile} synthetic profile, seed {args.seed}; its parameters:\n"
        about += profile_parameters(args.profile)
    jobs = args.jobs or min(len(args.net_seeds), os.cpu_count() or 1)
    print(f"replaying the seed notebook's runs for net seeds {' '.join(map(str, args.net_seeds))} "
          f"({jobs} at once, about 5 minutes each) ...", flush=True)  # fmt: skip
    calibration = replay_seed_runs(
        data, cache, args.net_seeds, solutions=_project(args).solutions, jobs=jobs, log=lambda m: print(m, flush=True)
    )
    if args.save is not None:
        atomic_write_text(args.save, json.dumps(calibration.to_dict(), indent=1) + "\n")
    print(f"\n{about}\n\n{render_table(calibration)}")
    if args.save is not None:
        print(f"replays saved to {args.save}")
    return 0 if calibration.ok else 1


def _progress(done: int, total: int, result: SubmissionResult, reused: bool) -> None:
    width = 24
    filled = width * done // total
    note = "unchanged, kept" if reused else f"{result.execution_time:.0f} s"
    line = (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {result.student}: "
        f"{result.score:g}/{result.max_score:g} ({note})"
    )
    print(line, file=sys.stderr, flush=True)


def _cmd_grade(args: argparse.Namespace) -> int:
    from .gradebook import read_manual_scores
    from .grading import default_jobs, grade_batch, open_course
    from .project import cache_dir
    from .report.console import grade_table

    project = None if (args.solution and args.assignment) else _project(args)
    course = open_course(
        args.solution or project.solutions,
        args.assignment or project.assignment,
        cifar_dir=args.cifar_dir,
        cache=args.cache or cache_dir(),
        skip_cifar=args.skip_cifar,
        isolation=args.isolation,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory_mb=args.memory_mb,
        max_processes=args.max_processes,
        disk_mb=args.disk_mb,
    )
    manual = read_manual_scores(args.manual_scores) if args.manual_scores else []
    batch = grade_batch(
        args.submissions,
        args.out,
        course,
        jobs=args.jobs or default_jobs(),
        force=args.force,
        manual_scores=manual,
        manual_source=args.manual_scores or "",
        progress=_progress,
    )
    print(grade_table(batch.results))
    print(
        f"\ngraded {len(batch.results)} submission(s) in {batch.seconds:.0f} s "
        f"({len(batch.reused)} unchanged and kept); gradebook: {args.out / 'gradebook.csv'}"
    )
    if batch.failed:
        print(f"NOT graded (harness failure): {', '.join(batch.failed)}; see their grading.log", file=sys.stderr)
    return 0 if batch.complete else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .report.console import grade_table

    batch, descriptions = run_demo(
        _project(args), args.out, jobs=args.jobs, force=args.force, profile=args.profile, progress=_progress
    )
    print(grade_table(batch.results, descriptions))
    print(
        f"\ngraded {len(batch.results)} example submissions in {batch.seconds:.0f} s; "
        f"results in {args.out}/<student>/results.json, gradebook in {args.out / 'gradebook.csv'}; "
        f"open {args.out / 'index.html'} for the class summary and the reports"
    )
    return 0 if batch.complete else 1


def _paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    """`text` in an ANSI colour when `stream` (stdout) is a terminal, unless NO_COLOR is set to
    anything but "" (https://no-color.org: a screen reader's or a log's choice wins)."""
    codes = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}
    wanted = (stream or sys.stdout).isatty() and not os.environ.get("NO_COLOR")
    return f"\033[{codes[colour]}m{text}\033[0m" if wanted else text


_MARKS = {"passed": ("✔", "green"), "flagged": ("!", "yellow"), "skipped": ("-", "dim"), "partial": ("~", "yellow")}


def _cell_progress(cell: CellRecord) -> None:
    mark = {"ok": _paint("ok", "green", sys.stderr), "error": _paint("error", "red", sys.stderr)}.get(
        cell.status, _paint(cell.status, "yellow", sys.stderr)
    )
    print(f"  cell {cell.index + 1:>2} {cell.cell_id:<28} {mark} ({cell.seconds:.1f} s)", file=sys.stderr, flush=True)


def _cmd_check(args: argparse.Namespace) -> int:
    from .selfcheck import run_self_check

    mode = "quick: hw3code/neural_net.py only" if args.quick else "the module, then the notebook"
    print(f"grader check {args.path.resolve()} ({mode})", flush=True)
    check = run_self_check(
        args.path,
        quick=args.quick,
        cifar_dir=args.cifar_dir,
        starter=args.assignment,
        progress=None if args.quick else _cell_progress,
    )
    result = check.result
    for c in result.checks:
        mark, colour = _MARKS.get(c.status, ("✘", "red"))
        points = f"{c.score:g}/{c.max_score:g}" if c.max_score else ""
        message = "needs the notebook: not run with --quick" if check.quick and c.status == "skipped" else c.message
        print(f"  {_paint(mark, colour)} {c.id:<22} {points:>7}  {message}")
    for warning in check.warnings:
        print(_paint(f"  ! {warning}", "yellow"))
    ran = [c for c in result.checks if c.status != "skipped" and not c.bonus]
    print(_paint(f"\npublic checks: {sum(c.score for c in ran):g} of {sum(c.max_score for c in ran):g} points", "bold"))
    print("Hidden checks (your code on other inputs, compared with the reference solution), the hand")
    print("calculation and the free-text questions are graded after you submit; they are not run here.")
    limits = check.limits
    print(
        _paint(
            f"Your code ran in a separate process under the grading limits: {limits.timeout:g} s in all, "
            f"{limits.cell_timeout:g} s per cell, {limits.memory_mb} MB per process (where your system enforces it).",
            "dim",
        )
    )
    return 0 if check.passed else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from .gradebook import read_manual_scores
    from .report import rerender

    manual = read_manual_scores(args.manual_scores) if args.manual_scores else []
    stats = rerender(
        args.out, student_view=args.student_view, manual_scores=manual, manual_source=args.manual_scores or ""
    )
    kind = "report.html and student-report.html" if args.student_view else "report.html"
    print(
        f"rendered {stats.reports} students' {kind} and the class files (index.html, questions.html) "
        f"in {stats.seconds:.1f} s"
    )
    return 0


def _cmd_gradescope(args: argparse.Namespace) -> int:
    if args.gradescope_command in ("run", "setup"):
        from .gradescope.container import run_in_container, set_up_container
        from .gradescope.layout import ContainerPaths, autograder_root

        root = args.root or autograder_root()
        if args.gradescope_command == "setup":
            set_up_container(root)
            return 0
        results = run_in_container(root)
        print(f"wrote {ContainerPaths(root).results}: score {results['score']:g}")
        return 0  # a results file was written, which is all Gradescope needs, whatever it says
    from .datasets.fetch import CIFAR_MD5, CIFAR_URL
    from .gradescope.build import build_autograder
    from .project import cache_dir

    project = _project(args)
    info = build_autograder(
        args.out,
        project,
        cache=args.cache or cache_dir(),
        cifar_dir=args.cifar_dir,
        fetch_data=args.fetch_data,
        data_url=args.data_url or CIFAR_URL,
        data_md5=args.data_md5 or CIFAR_MD5,
        solution=args.solution,
        starter=args.assignment,
        isolation=args.isolation,
        gradescope_minutes=args.gradescope_timeout,
    )
    config = info.config
    data = "fetched by setup.sh from " + config.data_url if config.data == "fetch" else "carried in the zip"
    print(
        f"wrote {info.path} ({info.bytes / 1e6:.1f} MB, {info.files} files; data {data}).\n"
        f"In Gradescope (assignment settings, Autograder settings), choose: memory at least "
        f"{-(-config.min_memory_mb // 1024)} GB, 1 CPU or more, timeout {config.gradescope_timeout_minutes} minutes; "
        f"each student's run is limited to {config.timeout:g} s."
    )
    return 0


def _positive(kind: type[float] | type[int]) -> Callable[[str], float]:
    """An argparse type: a number of `kind` above zero."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


_PROFILES = ("realistic", "fast")  # grader.datasets.synth.PROFILES, named here without loading numpy
_PROFILE_HELP = (
    "synthetic data: realistic (learns like the real CIFAR-10; the default) or fast (the earlier set, byte for byte)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="CS145 HW3 part 2: exercise package and autograder.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="regenerate assignment/ (the student starter) from solutions/")
    gen.add_argument("--solution", type=Path, help="the reference folder (default: solutions/ of this checkout)")
    gen.add_argument("--assignment", type=Path, help="the starter folder to write (default: assignment/)")
    gen.add_argument("--check", action="store_true", help="only check that assignment/ is up to date (exit 1 if not)")
    gen.set_defaults(run=_cmd_generate)

    release = commands.add_parser(
        "release",
        help="write what students download: the starter, the grader's wheel, the conda file, a README (and a zip)",
    )
    release.add_argument(
        "--out", type=Path, required=True, help="the bundle's folder (new, empty or an earlier release); also OUT.zip"
    )
    release.set_defaults(run=_cmd_release)

    data = commands.add_parser("data", help="get a CIFAR-10 data set")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="WHAT")
    synth = data_commands.add_parser("synth", help="write a synthetic data set in the CIFAR-10 format")
    synth.add_argument("--dest", type=Path, required=True, help="writes DEST/cifar-10-batches-py")
    synth.add_argument("--seed", type=int, default=0, help="random seed (the same seed writes the same files)")
    synth.add_argument("--profile", choices=_PROFILES, default="realistic", help=_PROFILE_HELP)
    calibrate = data_commands.add_parser(
        "calibrate", help="replay the seed notebook's runs on a data set and set its learning curve beside the seed's"
    )
    calibrate.add_argument(
        "--cifar-dir", type=Path, help="the data set to replay on (default: the synthetic set of --profile and --seed)"
    )
    calibrate.add_argument("--profile", choices=_PROFILES, default="realistic", help=_PROFILE_HELP)
    calibrate.add_argument("--seed", type=int, default=0, help="the synthetic set's random seed (default: 0)")
    calibrate.add_argument(
        "--net-seeds", type=int, nargs="+", default=[0, 1, 2], help="one replay per net seed (default: 0 1 2)"
    )
    calibrate.add_argument("-j", "--jobs", type=_positive(int), help="replays at once (default: one per CPU)")
    calibrate.add_argument("--save", type=Path, help="also write the replays to this JSON file")
    calibrate.add_argument("--cache", type=Path, help="where data is cached (default: ~/.cache/cs145-grader)")
    fetch = data_commands.add_parser("fetch", help="download, verify (MD5) and unpack the real CIFAR-10")
    fetch.add_argument("--dest", type=Path, required=True, help="writes DEST/cifar-10-batches-py")
    fetch.add_argument("--url", help="where to download cifar-10-python.tar.gz from")
    fetch.add_argument("--tarball", type=Path, help="use this already downloaded cifar-10-python.tar.gz")
    data.set_defaults(run=_cmd_data)

    grade = commands.add_parser("grade", help="grade a class's submissions")
    grade.add_argument(
        "submissions",
        type=Path,
        nargs="+",
        help="submission folders or zips, class folders, a Gradescope export, a Canvas, Moodle or Blackboard download",
    )
    grade.add_argument("--out", type=Path, required=True, help="where results, logs and the gradebook go")
    grade.add_argument("--solution", type=Path, help="the reference folder (default: solutions/ of this checkout)")
    grade.add_argument("--assignment", type=Path, help="the official starter folder (default: assignment/)")
    data_given = grade.add_mutually_exclusive_group()
    data_given.add_argument(
        "--cifar-dir", type=Path, help="the CIFAR-10 data: a cifar-10-batches-py folder or its parent "
        "(default: $GRADER_CIFAR_DIR; without either, grading is refused)"
    )  # fmt: skip
    data_given.add_argument(
        "--skip-cifar", action="store_true", help="grade without the CIFAR-10 checks (left out of every total)"
    )
    grade.add_argument(
        "-j",
        "--jobs",
        type=_positive(int),
        help="submissions graded at once (default: one per CPU, as memory allows)",
    )
    limits = grade.add_argument_group("limits of one submission's run (default: the rubric's [limits])")
    limits.add_argument("--timeout", type=_positive(float), help="seconds for the whole submission")
    limits.add_argument("--cell-timeout", type=_positive(float), help="seconds for one notebook cell")
    limits.add_argument("--memory-mb", type=_positive(int), help="address space of each process, in MB")
    limits.add_argument("--max-processes", type=_positive(int), help="processes and threads of one submission")
    limits.add_argument("--disk-mb", type=_positive(int), help="all the files one submission may write, in MB")
    grade.add_argument("--force", action="store_true", help="regrade even submissions whose inputs did not change")
    grade.add_argument("--manual-scores", type=Path, help="CSV of TA scores: student,check,score[,comment]")
    grade.add_argument(
        "--isolation",
        choices=("auto", "bwrap", "none"),
        default="auto",
        help="bwrap: require the sandbox; none: plain subprocesses (NOT isolated); auto: bwrap if it works",
    )
    grade.add_argument("--cache", type=Path, help="where prepared data is cached (default: ~/.cache/cs145-grader)")
    grade.set_defaults(run=_cmd_grade)

    check = commands.add_parser("check", help="run the public checks on your work before you submit")
    check.add_argument("path", type=Path, nargs="?", default=Path("."), help="your assignment folder (default: here)")
    check.add_argument("--quick", action="store_true", help="check hw3code/neural_net.py only, in seconds")
    check.add_argument("--cifar-dir", type=Path, help="the CIFAR-10 data (default: data/datasets/ of the folder)")
    check.add_argument(  # --starter: its name before the other commands' --assignment was chosen for all
        "--assignment",
        "--starter",
        dest="assignment",
        type=Path,
        help="the official starter folder (default: the one shipped)",
    )
    check.set_defaults(run=_cmd_check)

    report = commands.add_parser("report", help="re-render the reports of a graded folder, without regrading")
    report.add_argument("out", type=Path, help="the folder `grader grade` wrote")
    report.add_argument(
        "--student-view", action="store_true", help="write student-report.html: no hidden check's expected values"
    )
    report.add_argument("--manual-scores", type=Path, help="merge this CSV of TA scores first")
    report.set_defaults(run=_cmd_report)

    gradescope = commands.add_parser("gradescope", help="the Gradescope autograder: build its zip, run inside it")
    gs_commands = gradescope.add_subparsers(dest="gradescope_command", required=True, metavar="WHAT")
    build = gs_commands.add_parser("build", help="write the autograder zip to upload to Gradescope")
    build.add_argument("--out", type=Path, required=True, help="the zip to write (e.g. autograder.zip)")
    build_data = build.add_mutually_exclusive_group(required=True)
    build_data.add_argument("--cifar-dir", type=Path, help="carry this CIFAR-10 data set in the zip")
    build_data.add_argument(
        "--fetch-data", action="store_true", help="carry no data: setup.sh downloads it and checks its MD5"
    )
    build.add_argument("--data-url", help="with --fetch-data: where from (default: the CIFAR-10 authors' site)")
    build.add_argument("--data-md5", help="with --fetch-data: the MD5 of that file (default: the official one)")
    build.add_argument("--solution", type=Path, help="the reference folder (default: solutions/ of this checkout)")
    build.add_argument("--assignment", type=Path, help="the official starter folder (default: assignment/)")
    build.add_argument(
        "--isolation", choices=("auto", "bwrap"), default="auto",
        help="bwrap: refuse to grade where the sandbox cannot start; auto: say so in the instructor's notes",
    )  # fmt: skip
    build.add_argument(
        "--gradescope-timeout", type=int, default=40, help="the timeout you set in Gradescope, minutes (default: 40)"
    )
    build.add_argument("--cache", type=Path, help="where data and the reference's run are cached")
    for name, what in (("setup", "prepare the image (setup.sh runs it)"), ("run", "grade /autograder/submission")):
        inside = gs_commands.add_parser(name, help=f"inside Gradescope's container: {what}")
        inside.add_argument(
            "--root", type=Path, default=None, help="the container's tree (default: $AUTOGRADER_ROOT or /autograder)"
        )
    gradescope.set_defaults(run=_cmd_gradescope)

    demo = commands.add_parser("demo", help="grade the bundled example submissions on synthetic data")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="where results go (default: demo-output)")
    demo.add_argument("-j", "--jobs", type=int, default=2, help="submissions graded at once (default: 2)")
    demo.add_argument("--force", action="store_true", help="regrade even if nothing changed")
    demo.add_argument("--profile", choices=_PROFILES, default="realistic", help=_PROFILE_HELP)
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except GraderError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
