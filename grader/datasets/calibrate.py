"""Does a data set teach the reference net what CIFAR-10 teaches it? Replay the seed's runs and compare.

The only measurements of the real CIFAR-10 we have come from a student's printed notebook, the
*seed*: two runs of the homework's `TwoLayerNet` (MSE loss, hidden size 50) on the notebook's split.

* 1.6.1, the untuned run: a fresh net, 1000 iterations of batch 200 at learning rate 1e-5
  (decay 0.95, reg 0.1). Its loss at iterations 0 and 900, validation and test accuracy.
* The search: the *same* net keeps training, 18 chunks of 1000 iterations of batch 500, over
  ``for lr in [1e-4, 1e-3]: for d in [0.8, 0.75, 0.6]: for r in [1, 2, 4]`` (that order). The
  validation accuracy after every chunk; test accuracy of the best.

`replay_seed_runs` repeats both runs on any data set in the CIFAR-10 format (the synthetic one,
say), once per random stream (``np.random.seed`` before the net is made, as the notebook's
``np.random.seed`` does), with the net class it is given: this module never imports solutions/.
`render_table` sets the result beside the seed's numbers. One replay takes about five minutes
of one core in float64, so nothing here runs during the unit tests.

A measure is *within* when the mean over the runs is within its tolerance of the seed's value and
no single run is further than the per-run tolerance (a replay has noise: 1000 validation images
give accuracies to about +-1.5 points). Only the 1.6.1 loss at iteration 900 and the accuracies
are targets; the rest is shown for information.

    calibration = replay_seed_runs(cifar_dir, cache, solutions=project.solutions, jobs=2)
    print(render_table(calibration))

`grader data calibrate` does just that, for the synthetic data or the real.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .cifar import ARRAYS, prepare_split

__all__ = [
    "BASELINE",
    "BASELINE_VAL_RANGE",
    "CHUNK_TOLERANCE",
    "LOSS_TOLERANCE",
    "RUN_LOSS_TOLERANCE",
    "RUN_TOLERANCE",
    "SEARCH_CHUNK",
    "SEARCH_GRID",
    "SEED",
    "Calibration",
    "NetRun",
    "Row",
    "SeedValues",
    "combine",
    "compare",
    "load_net_class",
    "render_table",
    "replay_net",
    "replay_seed_runs",
]

BASELINE = {"num_iters": 1000, "batch_size": 200, "learning_rate": 1e-5, "learning_rate_decay": 0.95, "reg": 0.1}
"""The keyword arguments of the seed's 1.6.1 run (`TwoLayerNet.train`)."""

SEARCH_CHUNK = {"num_iters": 1000, "batch_size": 500}
"""The keyword arguments every chunk of the search shares."""

SEARCH_GRID = tuple((lr, decay, reg) for lr in (1e-4, 1e-3) for decay in (0.8, 0.75, 0.6) for reg in (1, 2, 4))
"""(learning rate, decay, reg) of the 18 chunks, in the seed's order."""

LOSS_TOLERANCE = 0.003
"""How far the mean 1.6.1 loss at iteration 900 may be from the seed's."""

RUN_LOSS_TOLERANCE = 0.005
"""How far one run's 1.6.1 loss at iteration 900 may be from the seed's."""

BASELINE_VAL_RANGE = (0.15, 0.20)
"""Where the mean 1.6.1 validation accuracy must lie (the seed's: 17.3%)."""

CHUNK_TOLERANCE = 0.04
"""How far the mean validation accuracy after a chunk of the search may be from the seed's."""

RUN_TOLERANCE = 0.05
"""How far one run's accuracy (1.6.1 or a chunk) may be from the seed's: no run wildly off."""

_SIZES = (3072, 50, 10)  # TwoLayerNet(input, hidden, classes), as in the notebook
_ARRAYS = ARRAYS[:6]  # the notebook's six arrays (not the unseen images)


@dataclass(frozen=True)
class SeedValues:
    """What the seed notebook printed, on the real CIFAR-10 (accuracies as fractions)."""

    loss0: float = 0.50007
    loss900: float = 0.49479
    baseline_val: float = 0.173
    baseline_test: float = 0.186
    search_val: tuple[float, ...] = (
        *(0.264, 0.307, 0.337, 0.359, 0.375, 0.389, 0.405, 0.416, 0.424),  # lr 1e-4
        *(0.476, 0.474, 0.458, 0.480, 0.483, 0.475, 0.489, 0.483, 0.480),  # lr 1e-3
    )
    best_val: float = 0.489
    best_test: float = 0.465


SEED = SeedValues()
"""The seed notebook's numbers: the targets."""


@dataclass(frozen=True)
class NetRun:
    """The two seed runs replayed once, from one random stream, on one data set."""

    data: str  # the data set's fingerprint (see `prepare_split`), shortened
    net_seed: int  # np.random.seed before the net was made
    loss0: float  # 1.6.1: loss_history[0]
    loss900: float  # 1.6.1: loss_history[900]
    baseline_val: float
    baseline_test: float
    search_val: tuple[float, ...]  # validation accuracy after each chunk of SEARCH_GRID
    search_test: tuple[float, ...]  # test accuracy after each chunk
    seconds: float = 0.0

    @property
    def best_val(self) -> float:
        """The best validation accuracy of the search."""
        return max(self.search_val)

    @property
    def best_test(self) -> float:
        """Test accuracy after the first chunk with the best validation accuracy (the notebook's best_net)."""
        return self.search_test[self.search_val.index(self.best_val)]


@dataclass(frozen=True)
class Row:
    """One measure: the seed's value beside the runs' mean and range."""

    name: str
    seed: float
    values: tuple[float, ...] = field(repr=False)
    within: bool | None  # None: shown for information, not a target
    loss: bool = False  # a loss (printed with 5 decimals), else an accuracy (printed in %)

    @property
    def mean(self) -> float:
        """The mean over the runs."""
        return float(np.mean(self.values))

    @property
    def difference(self) -> float:
        """Mean minus the seed's value."""
        return self.mean - self.seed


@dataclass(frozen=True)
class Calibration:
    """Replays of the seed runs (any number of data sets and random streams) and their comparison."""

    runs: tuple[NetRun, ...]

    def rows(self) -> tuple[Row, ...]:
        """The comparison with the seed, measure by measure (`compare`)."""
        return compare(self.runs)

    @property
    def ok(self) -> bool:
        """Every target within its tolerances."""
        return all(row.within is not False for row in self.rows())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for saving replays and combining them later (`from_dict`)."""
        return {"runs": [asdict(run) for run in self.runs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """The inverse of `to_dict`."""
        runs = []
        for run in data["runs"]:
            fields = {**run, "search_val": tuple(run["search_val"]), "search_test": tuple(run["search_test"])}
            runs.append(NetRun(**fields))
        return cls(tuple(runs))


def combine(calibrations: Iterable[Calibration]) -> Calibration:
    """One calibration holding the runs of all of them (other data seeds, other processes)."""
    return Calibration(tuple(run for calibration in calibrations for run in calibration.runs))


def load_net_class(solutions: Path) -> type:
    """The `TwoLayerNet` class of `solutions`/hw3code/neural_net.py, imported from that file.

    It is imported under a private module name, so it neither needs solutions/ on sys.path nor
    clashes with a student's `hw3code` imported elsewhere in the process.
    """
    path = Path(solutions) / "hw3code" / "neural_net.py"
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; point at the solutions folder that holds hw3code/neural_net.py")
    spec = importlib.util.spec_from_file_location("_grader_calibration_neural_net", path)
    assert spec is not None and spec.loader is not None  # a .py file always has a source loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return module.TwoLayerNet
    except AttributeError:
        raise ConfigError(f"{path}: defines no TwoLayerNet") from None


def _accuracy(net: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(net.predict(X) == y))


def replay_net(arrays: dict[str, np.ndarray], net_class: type, net_seed: int, data: str = "") -> NetRun:
    """Replay 1.6.1 and the search once, from ``np.random.seed(net_seed)``, on the split `arrays`.

    `arrays` holds the notebook's six arrays (`prepare_split`'s names). This reseeds numpy's global
    random state, as the notebook does: the reference net draws its weights and batches from it.
    """
    X, y, X_val, y_val, X_test, y_test = (arrays[name] for name in _ARRAYS)
    start = time.perf_counter()
    np.random.seed(net_seed)
    net = net_class(*_SIZES)
    stats = net.train(X, y, X_val, y_val, **BASELINE)
    losses = stats["loss_history"]
    baseline_val, baseline_test = _accuracy(net, X_val, y_val), _accuracy(net, X_test, y_test)
    search_val, search_test = [], []
    for lr, decay, reg in SEARCH_GRID:  # the same net, trained on and on
        net.train(X, y, X_val, y_val, learning_rate=lr, learning_rate_decay=decay, reg=reg, **SEARCH_CHUNK)
        search_val.append(_accuracy(net, X_val, y_val))
        search_test.append(_accuracy(net, X_test, y_test))
    return NetRun(
        data=data,
        net_seed=net_seed,
        loss0=float(losses[0]),
        loss900=float(losses[900]),
        baseline_val=baseline_val,
        baseline_test=baseline_test,
        search_val=tuple(search_val),
        search_test=tuple(search_test),
        seconds=round(time.perf_counter() - start, 1),
    )


def replay_seed_runs(
    cifar_dir: Path,
    cache: Path,
    net_seeds: Sequence[int] = (0, 1, 2),
    *,
    solutions: Path,
    jobs: int = 1,
    log: Callable[[str], None] | None = None,
) -> Calibration:
    """Replay the seed runs on the data set at `cifar_dir`, once per net seed (~5 minutes of a core each).

    The split is the notebook's (`prepare_split`, cached under `cache`), in float64 as the notebook
    has it; the net is the `TwoLayerNet` of `solutions` (`load_net_class`). With `jobs` above 1 the
    net seeds run in that many processes of one BLAS thread each. `log` hears of each run.
    """
    split = prepare_split(cifar_dir, cache)  # once, here: the workers find it cached
    work = [(split.folder, Path(solutions), seed, split.fingerprint[:16]) for seed in net_seeds]
    runs: list[NetRun] = []

    def done(run: NetRun) -> None:
        if log is not None:
            log(f"net seed {run.net_seed}: best validation accuracy {run.best_val:.1%} ({run.seconds:.0f} s)")
        runs.append(run)

    if jobs <= 1 or len(work) <= 1:
        for item in work:
            done(_replay_prepared(*item))
    else:
        # Fresh interpreters, so the one-thread BLAS setting is read before numpy loads.
        with _one_blas_thread(), ProcessPoolExecutor(min(jobs, len(work)), mp_context=get_context("spawn")) as pool:
            for run in pool.map(_replay_prepared, *zip(*work, strict=True)):
                done(run)
    return Calibration(tuple(sorted(runs, key=lambda run: run.net_seed)))


def _replay_prepared(folder: Path, solutions: Path, net_seed: int, data: str) -> NetRun:
    """One replay on a prepared split's folder (a worker's task: everything it needs is picklable)."""
    arrays = {name: np.load(folder / f"{name}.npy") for name in _ARRAYS}  # in memory: the net reads them often
    return replay_net(arrays, load_net_class(solutions), net_seed, data=data)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _target(name: str, seed: float, values: Sequence[float], mean_ok: bool, run_tolerance: float, **kw: Any) -> Row:
    every_run_ok = all(abs(value - seed) <= run_tolerance for value in values)
    return Row(name, seed, tuple(values), mean_ok and every_run_ok, **kw)


def _near(values: Sequence[float], seed: float, tolerance: float) -> bool:
    return abs(float(np.mean(values)) - seed) <= tolerance


def compare(runs: Sequence[NetRun]) -> tuple[Row, ...]:
    """Every measure of the seed beside the runs' values, with whether it is within tolerance."""
    if not runs:
        raise ValueError("no runs to compare")
    loss900 = [run.loss900 for run in runs]
    baseline_val = [run.baseline_val for run in runs]
    low, high = BASELINE_VAL_RANGE
    rows = [
        Row("1.6.1 loss, iteration 0", SEED.loss0, tuple(run.loss0 for run in runs), None, loss=True),
        _target(
            "1.6.1 loss, iteration 900",
            SEED.loss900,
            loss900,
            _near(loss900, SEED.loss900, LOSS_TOLERANCE),
            RUN_LOSS_TOLERANCE,
            loss=True,
        ),
        _target(
            "1.6.1 validation accuracy",
            SEED.baseline_val,
            baseline_val,
            low <= float(np.mean(baseline_val)) <= high,
            RUN_TOLERANCE,
        ),
        Row("1.6.1 test accuracy", SEED.baseline_test, tuple(run.baseline_test for run in runs), None),
    ]
    for i, (lr, decay, reg) in enumerate(SEARCH_GRID):
        values = [run.search_val[i] for run in runs]
        name = f"search {i + 1:2d}: lr {lr:g}, decay {decay:g}, reg {reg:g}"
        seed = SEED.search_val[i]
        rows.append(_target(name, seed, values, _near(values, seed, CHUNK_TOLERANCE), RUN_TOLERANCE))
    rows.append(Row("search: best validation accuracy", SEED.best_val, tuple(run.best_val for run in runs), None))
    rows.append(Row("search: test accuracy of the best", SEED.best_test, tuple(run.best_test for run in runs), None))
    return tuple(rows)


def _number(value: float, loss: bool, signed: bool = False) -> str:
    if loss:
        return f"{value:+.5f}" if signed else f"{value:.5f}"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def render_table(calibration: Calibration) -> str:
    """The comparison as plain text: seed, our mean, min-max, difference, within tolerance."""
    runs = calibration.runs
    header = ("measure", "seed", "ours", "min-max", "diff", "within")
    lines = [header]
    for row in calibration.rows():
        span = f"{_number(min(row.values), row.loss)}-{_number(max(row.values), row.loss)}"
        within = "(info)" if row.within is None else ("yes" if row.within else "NO")
        lines.append(
            (
                row.name,
                _number(row.seed, row.loss),
                _number(row.mean, row.loss),
                span,
                _number(row.difference, row.loss, signed=True),
                within,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(w) if i in (0, 5) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    data = sorted({run.data for run in runs})
    seeds = sorted({run.net_seed for run in runs})
    intro = (
        f"{len(runs)} replay(s) of the seed runs: data {', '.join(data) or '?'}; net seeds "
        f"{', '.join(map(str, seeds))}.\nAccuracies in %; a target is within when the mean is within "
        f"{100 * CHUNK_TOLERANCE:.0f} points of the seed (1.6.1: {100 * BASELINE_VAL_RANGE[0]:.0f}-"
        f"{100 * BASELINE_VAL_RANGE[1]:.0f}%, loss +-{LOSS_TOLERANCE})\nand every run within "
        f"{100 * RUN_TOLERANCE:.0f} points (loss +-{RUN_LOSS_TOLERANCE})."
    )
    verdict = "every target within tolerance" if calibration.ok else "some targets NOT within tolerance"
    return "\n".join([intro, "", *(line.rstrip() for line in text), "", verdict])
