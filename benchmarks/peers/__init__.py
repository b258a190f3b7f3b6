"""nbgrader and otter-grader on this homework: the peers the main benchmark compares us with.

`measure_peers(submissions, work, cifar_dir)` grades the same submissions with each peer whose
venv `make bench-peers` made under `.bench/` (a peer without one is skipped, with a line saying
so), and returns a `PeerRun` per peer. Nothing here is imported by the product; the peers are
never its dependencies. `python -m benchmarks.peers` (or `python benchmarks/peers`) prints a table.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .common import ROOT, PeerRun, PeerUnavailableError

__all__ = ["TOOLS", "PeerRun", "demo_submissions", "measure_peers"]

TOOLS = ("nbgrader", "otter")  # the peers, by the name of their venv under .bench/
EXTRA_REFERENCE = "reference-copy"  # the eighth submission: the reference under another name


def _project():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from grader.project import find_project

    return find_project(ROOT)


def demo_submissions(dest: Path) -> list[Path]:
    """The demo's seven examples plus a second copy of the reference, as folders under `dest`
    (each with toy_nn.ipynb and hw3code/neural_net.py); the folder's name is the example id."""
    from grader.examples import materialize_examples

    project = _project()
    folders = materialize_examples(
        project.examples / "examples.toml",
        {"solutions": project.solutions, "assignment": project.assignment},
        dest,
        notebook="toy_nn.ipynb",
        module="hw3code/neural_net.py",
    )
    copy = dest / EXTRA_REFERENCE
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(dest / "reference", copy)
    return [*folders, copy]


def measure_peers(
    submissions: Sequence[Path],
    work: Path,
    cifar_dir: Path,
    log: Callable[[str], None] | None = None,
    tools: Sequence[str] = TOOLS,
) -> list[PeerRun]:
    """Grade `submissions` (folders named by example id) with nbgrader and with otter-grader.

    `work` receives each peer's generated course tree and logs; `cifar_dir` is a
    `cifar-10-batches-py` folder each run sees as `./data/datasets/cifar-10-batches-py`. A peer
    whose venv is missing is skipped (`log` hears how to make it: `make bench-peers`); one that
    fails raises, with its log's tail. `tools` picks some of `TOOLS` (default: both)."""
    from .nbgrader_peer import measure_nbgrader
    from .otter_peer import measure_otter

    say = log or (lambda message: print(message, file=sys.stderr))
    project = _project()
    from grader.rubric import load_rubric

    cell_timeout = load_rubric(project.solutions / "rubric.toml").limits.cell_timeout
    runs = []
    measures = {"nbgrader": measure_nbgrader, "otter": measure_otter}
    for name in tools:
        measure = measures[name]
        try:
            peer, scores = measure(
                list(submissions),
                Path(work) / name,
                Path(cifar_dir),
                project.solutions,
                project.assignment,
                cell_timeout,
            )
        except PeerUnavailableError as missing:
            say(f"skipped {missing}")
            continue
        say(f"{peer.tool}: " + ", ".join(f"{student} {got:g}/{full:g}" for student, (got, full) in scores.items()))
        runs.append(peer)
    return runs
