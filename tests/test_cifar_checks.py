"""cifar.tuned and cifar.test on a hand-built split and hand-built nets.

The nets are built so that exactly k of the 1000 validation images are predicted
right: the rubric's edges are then hit through the real check, from the grader's
own recomputation of the accuracy, not from a number the student printed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.checks import Context
from grader.checks.cifar import check_test, check_tuned, validation_accuracy
from grader.datasets.cifar import PreparedSplit
from grader.evidence import CellRecord, Evidence, Harvest
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "solutions" / "rubric.toml")
TUNED, TEST = RUBRIC.check("cifar.tuned"), RUBRIC.check("cifar.test")


def _split(folder: Path) -> PreparedSplit:
    """1000 validation and 1000 test images; image i carries its class in feature i % 10."""
    rng = np.random.default_rng(0)
    for part in ("val", "test"):
        X = np.zeros((1000, 3072))
        X[np.arange(1000), np.arange(1000) % 10] = 1.0
        np.save(folder / f"X_{part}.npy", X)
        np.save(folder / f"y_{part}.npy", rng.permutation(np.arange(1000) % 10))
    return PreparedSplit(folder, "test")


def _net(hidden: int = 50) -> dict[str, np.ndarray]:
    """Predicts class i for image i: hidden unit c passes feature c through, W2 reads it off."""
    W1 = np.zeros((hidden, 3072))
    W1[np.arange(10), np.arange(10)] = 1.0
    W2 = np.zeros((10, hidden))
    W2[np.arange(10), np.arange(10)] = 1.0
    return {"W1": W1, "b1": np.zeros(hidden), "W2": W2, "b2": np.zeros(10)}


def _labels_with_k_right(split: PreparedSplit, part: str, k: int) -> None:
    """Rewrite y so that the net above predicts exactly k of them right."""
    predicted = np.arange(1000) % 10
    y = (predicted + 1) % 10
    y[:k] = predicted[:k]
    np.save(split.folder / f"y_{part}.npy", y)


def _evidence(net=None, numbers=None, notes=None, notebook=None, cells=()) -> Evidence:
    nets = {"best_net": net} if net is not None else {}
    harvest = Harvest(nets=nets, notes=notes or {}, numbers=numbers or {})
    return Evidence(harvest=harvest, notebook=notebook, cells=tuple(cells))


@pytest.fixture
def split(tmp_path) -> PreparedSplit:
    return _split(tmp_path)


@pytest.mark.parametrize(
    ("right", "points", "status"),
    [
        pytest.param(229, 0.0, "failed", id="22.9%"),
        pytest.param(230, 0.0, "failed", id="23%"),
        pytest.param(239, 0.0, "failed", id="23.9%"),
        pytest.param(240, 25 / 22, "partial", id="24%"),
        pytest.param(290, 25 * 6 / 22, "partial", id="29%"),
        pytest.param(449, 25 * 21 / 22, "partial", id="44.9%"),
        pytest.param(450, 25.0, "passed", id="45%"),
        pytest.param(1000, 25.0, "passed", id="100%"),
    ],
)
def test_tuned_scores_the_recomputed_accuracy_under_the_rubric(split, right, points, status):
    _labels_with_k_right(split, "val", right)
    result = check_tuned(TUNED, _evidence(_net()), Context(RUBRIC, split=split))
    assert (result.status, result.score) == (status, pytest.approx(points, abs=1e-12))
    assert f"({right}/1000)" in result.message
    assert validation_accuracy(_evidence(_net()), Context(RUBRIC, split=split)) == right / 1000


def test_tuned_believes_the_weights_not_the_printed_accuracy(split):
    _labels_with_k_right(split, "val", 300)
    evidence = _evidence(_net(), numbers={"best_valid_acc": 0.52})
    result = check_tuned(TUNED, evidence, Context(RUBRIC, split=split))
    assert result.score == pytest.approx(25 * 7 / 22)
    assert "the notebook reported 0.52" in result.message


def test_tuned_requires_a_hidden_size_of_50(split):
    _labels_with_k_right(split, "val", 900)
    result = check_tuned(TUNED, _evidence(_net(hidden=100)), Context(RUBRIC, split=split))
    assert (result.status, result.score) == ("failed", 0)
    assert "100 hidden units; the rubric requires 50" in result.message


def test_tuned_rejects_diverged_weights(split):
    net = _net()
    net["W2"][0, 0] = np.nan
    result = check_tuned(TUNED, _evidence(net), Context(RUBRIC, split=split))
    assert result.score == 0 and "NaN" in result.message


def test_a_missing_best_net_points_at_the_cell_that_should_make_it(split):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("best_net = train_it()")]
    )
    cells = [CellRecord(1, "cifar-search", "error", ename="NameError", evalue="name 'train_it' is not defined")]
    evidence = _evidence(None, notes={"best_net": "missing"}, notebook=notebook, cells=cells)
    result = check_tuned(TUNED, evidence, Context(RUBRIC, split=split))
    assert result.score == 0
    assert result.message == (
        "no usable best_net: missing; cell 2 (cifar-search) raised NameError: name 'train_it' is not defined"
    )


@pytest.mark.parametrize(
    ("reported", "passes"),
    [(0.700, True), (0.715, True), (0.75, False), (None, False)],
    ids=["exact", "within-tolerance", "another-net", "missing"],
)
def test_test_accuracy_must_be_best_nets(split, reported, passes):
    _labels_with_k_right(split, "test", 700)
    numbers = {"test_acc": reported}
    result = check_test(TEST, _evidence(_net(), numbers=numbers), Context(RUBRIC, split=split))
    assert (result.status == "passed") is passes
    assert result.expected == 0.7


def test_without_data_the_cifar_checks_are_skipped():
    result = check_tuned(TUNED, _evidence(_net()), Context(RUBRIC))
    assert result.status == "skipped" and "not counted in the total" in result.message
    assert result.counted_max == 0 and result.max_score == TUNED.points
