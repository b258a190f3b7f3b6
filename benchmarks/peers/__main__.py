"""Grade the demo's submissions with nbgrader and otter-grader; print what each cost and caught.

`python -m benchmarks.peers` or `python benchmarks/peers` (`make bench-peers`): a table for
debugging; the main benchmark calls `measure_peers` itself."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/peers`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "benchmarks.peers"

from benchmarks.peers import TOOLS, PeerRun, demo_submissions, measure_peers


def table(runs: list[PeerRun]) -> str:
    """The runs as a plain-text table: a row per peer, a column per example (x = caught)."""
    if not runs:
        return "no peer ran (make them with `make bench-peers`)"
    examples = list(runs[0].caught)
    head = ["tool", "mode", "wall/sub s", "CPU/sub s", "parallel", "checks", *examples]
    rows = [
        [
            run.tool,
            run.mode,
            f"{run.wall / run.submissions:.1f}",
            f"{run.cpu / run.submissions:.1f}",
            run.parallel,
            str(run.checks),
            *("caught" if run.caught.get(e) else "-" for e in examples),
        ]
        for run in runs
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in [head, *rows])


def main() -> int:
    """Materialise the submissions and the data, run the peers, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("fast", "realistic"), default="fast", help="synthetic CIFAR-10 profile")
    parser.add_argument("--work", type=Path, help="keep the generated courses and logs here (default: a temp folder)")
    parser.add_argument("--tool", choices=TOOLS, action="append", help="run only this peer (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the runs to this file")
    args = parser.parse_args()

    from grader.datasets.synth import cached_synthetic_cifar
    from grader.project import cache_dir

    cifar = cached_synthetic_cifar(cache_dir(), args.profile, log=lambda m: print(m, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        work = args.work or Path(tmp)
        submissions = demo_submissions(work / "submissions")
        print(f"{len(submissions)} submissions, {args.profile} data; work in {work} ...", file=sys.stderr)
        runs = measure_peers(submissions, work, cifar, tools=args.tool or TOOLS)
    print(table(runs))
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in runs], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
