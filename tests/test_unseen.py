"""integrity.unseen: a best_net trained on the validation images is flagged; an honest one never.

The validation accuracy is worth 25 points, so a net fitted to the validation images (by
mistake, or not) must not pass unnoticed. The grader also measures best_net on the test
batch's images the notebook never touches, and flags a validation (or test) accuracy above
that by more than chance allows, by a one-sided binomial test at the rubric's level.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.checks import Context
from grader.checks.integrity import binomial_tail, check_unseen
from grader.datasets.cifar import PreparedSplit, prepare_split
from grader.evidence import Evidence, Harvest
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "solutions" / "rubric.toml")
UNSEEN = RUBRIC.check("integrity.unseen")


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (8, 10, 0.5, 56 / 1024),  # C(10,8) + C(10,9) + C(10,10) = 45 + 10 + 1
        (0, 10, 0.3, 1.0),
        (11, 10, 0.3, 0.0),
        (3, 3, 0.5, 1 / 8),
        (1, 1000, 1.0, 1.0),
        (1, 1000, 0.0, 0.0),
    ],
)
def test_the_binomial_tail_is_exact(k, n, p, expected):
    assert binomial_tail(k, n, p) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_the_binomial_tail_of_a_large_sample_matches_a_direct_sum():
    direct = sum(math.comb(1000, i) * 0.48**i * 0.52 ** (1000 - i) for i in range(530, 1001))
    assert binomial_tail(530, 1000, 0.48) == pytest.approx(direct, rel=1e-9)


def _split(folder: Path, right: dict[str, int]) -> PreparedSplit:
    """Images whose class sits in feature i % 10; `right[part]` of each part are labelled so
    that the net below gets exactly those right."""
    for part, rows in (("val", 1000), ("test", 1000), ("unseen", 9000)):
        X = np.zeros((rows, 3072))
        X[np.arange(rows), np.arange(rows) % 10] = 1.0
        predicted = np.arange(rows) % 10
        y = (predicted + 1) % 10
        y[: right[part]] = predicted[: right[part]]
        np.save(folder / f"X_{part}.npy", X)
        np.save(folder / f"y_{part}.npy", y)
    return PreparedSplit(folder, "hand-made")


def _net() -> dict[str, np.ndarray]:
    W1, W2 = np.zeros((50, 3072)), np.zeros((10, 50))
    W1[np.arange(10), np.arange(10)] = W2[np.arange(10), np.arange(10)] = 1.0
    return {"W1": W1, "b1": np.zeros(50), "W2": W2, "b2": np.zeros(10)}


def _check(params, split):
    evidence = Evidence(harvest=Harvest(nets={"best_net": params}, notes={}, numbers={}))
    return check_unseen(UNSEEN, evidence, Context(RUBRIC, split=split))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("val", "test", "unseen", "flagged"),
    [
        pytest.param(995, 300, 2808, "validation", id="trained-on-val"),
        pytest.param(505, 503, 4500, "", id="honest"),
        pytest.param(530, 500, 4500, "", id="lucky-by-3-points"),  # p ~ 0.02: chance, not a flag
        pytest.param(560, 500, 4500, "validation", id="6-points-above"),
        pytest.param(500, 980, 4500, "test", id="trained-on-test"),
    ],
)
def test_a_validation_accuracy_above_the_unseen_one_by_more_than_chance_is_flagged(
    tmp_path, val, test, unseen, flagged
):
    result = _check(_net(), _split(tmp_path, {"val": val, "test": test, "unseen": unseen}))
    assert result.score == result.max_score == 0  # a flag changes no points
    assert result.status == ("flagged" if flagged else "passed"), result.message
    if flagged:
        assert f"best_net's {flagged} " in result.message and f"({unseen}/9000)" in result.message
        assert "one-sided binomial test, level 0.001" in result.message


@pytest.mark.slow
def test_without_unseen_images_or_best_net_nothing_is_claimed(tmp_path):
    split = _split(tmp_path, {"val": 995, "test": 300, "unseen": 0})
    for name in ("X_unseen", "y_unseen"):
        np.save(tmp_path / f"{name}.npy", np.zeros((0, 3072)) if name.startswith("X") else np.zeros(0, int))
    assert _check(_net(), split).status == "skipped"
    assert check_unseen(UNSEEN, Evidence(), Context(RUBRIC, split=split)).status == "skipped"


# --- real training runs on the synthetic CIFAR-10 -------------------------------------------


@pytest.fixture(scope="module")
def data(cifar_dir, cache):
    split = prepare_split(cifar_dir, cache)
    return split, {name: np.asarray(split.load(name)) for name in ("X_train", "y_train", "X_val", "y_val")}


def _trained(data, seed, settings, on_validation=False):
    """best_net of a small search with the reference network (trusted code, in this process)."""
    sys.path.insert(0, str(ROOT / "solutions"))
    from hw3code.neural_net import TwoLayerNet

    _, d = data
    X, y = (d["X_val"], d["y_val"]) if on_validation else (d["X_train"], d["y_train"])
    np.random.seed(seed)
    best, best_acc = None, -1.0
    for lr, reg in settings:
        net = TwoLayerNet(3072, 50, 10)
        net.train(X, y, d["X_val"], d["y_val"], num_iters=800, batch_size=200, learning_rate=lr, reg=reg)
        acc = float(np.mean(net.predict(d["X_val"]) == d["y_val"]))
        if acc > best_acc:
            best, best_acc = net, acc
    return {k: np.asarray(v, dtype=float) for k, v in best.params.items()}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_honest_search_is_never_flagged(data, seed):
    """Picking the best of several settings on the validation set is honest: it is not flagged."""
    params = _trained(data, seed, [(1e-3, 0.25), (5e-4, 0.25), (1e-3, 1.0), (2e-3, 0.5)])
    result = _check(params, data[0])
    assert result.status == "passed", result.message


@pytest.mark.slow
def test_a_net_trained_on_the_validation_images_is_flagged(data):
    params = _trained(data, 0, [(1e-3, 0.25)], on_validation=True)
    result = _check(params, data[0])
    assert result.status == "flagged" and "best_net's validation " in result.message, result.message
