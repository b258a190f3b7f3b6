"""The reference solution reproduces every number the seed prints, and its helpers work.

These import the reference's own files (our code, so it may run in the test process)
exactly as the notebook does.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"

CORRECT_SCORES = np.asarray(
    [
        [-1.07260209, 0.05083871, -0.87253915],
        [-2.02778743, -0.10832494, -1.52641362],
        [-0.74225908, 0.15259725, -0.39578548],
        [-0.38172726, 0.10835902, -0.17328274],
        [-0.64417314, -0.18886813, -0.41106892],
    ]
)


def _load(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(name, SOLUTIONS / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nn = _load("hw3code/neural_net.py", "reference_neural_net")
gradient_check = _load("data/gradient_check.py", "reference_gradient_check")
data_utils = _load("data/data_utils.py", "reference_data_utils")
vis_utils = _load("data/vis_utils.py", "reference_vis_utils")


def rel_error(x, y):
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


def init_toy_model():
    np.random.seed(0)
    return nn.TwoLayerNet(4, 10, 3, std=1e-1)


def init_toy_data():
    np.random.seed(1)
    return 10 * np.random.randn(5, 4), np.array([0, 1, 2, 2, 1])


def test_init_draws_weights_in_the_documented_order_and_shapes():
    net = init_toy_model()
    np.random.seed(0)
    W1 = 1e-1 * np.random.randn(10, 4)
    W2 = 1e-1 * np.random.randn(3, 10)
    assert np.array_equal(net.params["W1"], W1)
    assert np.array_equal(net.params["W2"], W2)
    assert np.array_equal(net.params["b1"], np.zeros(10))
    assert np.array_equal(net.params["b2"], np.zeros(3))


def test_toy_scores_match_the_seed():
    X, _ = init_toy_data()
    scores = init_toy_model().loss(X)
    assert scores.shape == (5, 3)
    assert np.sum(np.abs(scores - CORRECT_SCORES)) < 1e-7


def test_toy_loss_is_exactly_the_seeds():
    X, y = init_toy_data()
    loss, _ = init_toy_model().loss(X, y, reg=0.05)
    assert abs(loss - 1.8973332763705641) < 1e-12


@pytest.mark.parametrize("name", ["W1", "b1", "W2", "b2"])
def test_toy_gradients_pass_the_numerical_check(name):
    X, y = init_toy_data()
    net = init_toy_model()
    _, grads = net.loss(X, y, reg=0.05)
    numeric = gradient_check.eval_numerical_gradient(
        lambda W: net.loss(X, y, reg=0.05)[0], net.params[name], verbose=False
    )
    assert rel_error(numeric, grads[name]) < 1e-8


def test_gradients_come_in_the_seeds_order():
    X, y = init_toy_data()
    _, grads = init_toy_model().loss(X, y, reg=0.05)
    assert list(grads) == ["W2", "b2", "W1", "b1"]  # the seed prints them in this order


def test_toy_training_ends_at_the_seeds_loss():
    X, y = init_toy_data()
    net = init_toy_model()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    assert len(stats["loss_history"]) == 100
    assert stats["loss_history"][-1] == pytest.approx(0.02950555626206818, rel=0, abs=1e-15)
    # num_train / batch_size < 1: an "epoch" is one iteration, so accuracy is recorded every time.
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 100


def test_training_records_accuracy_once_per_epoch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((1000, 6)), rng.integers(0, 3, 1000)
    np.random.seed(3)
    net = nn.TwoLayerNet(6, 5, 3)
    stats = net.train(X, y, X[:50], y[:50], num_iters=25, batch_size=200)
    assert len(stats["train_acc_history"]) == 5  # iterations 0, 5, 10, 15, 20


def test_predict_is_the_argmax_of_the_scores():
    X, _ = init_toy_data()
    net = init_toy_model()
    assert np.array_equal(net.predict(X), np.argmax(CORRECT_SCORES, axis=1))


def test_mse_loss_matches_its_definition():
    x = np.array([[0.1, 0.1, 0.8], [0.5, -0.2, 0.0]])
    y = np.array([2, 0])
    loss, dx = nn.MSE_loss(x, y)
    assert loss == pytest.approx(((0.01 + 0.01 + 0.04) + (0.25 + 0.04)) / 4)
    numeric = gradient_check.eval_numerical_gradient(lambda v: nn.MSE_loss(v, y)[0], x.copy(), verbose=False)
    assert rel_error(numeric, dx) < 1e-8


def test_softmax_loss_passes_a_numerical_gradient_check():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    loss, dx = nn.softmax_loss(x, y)
    numeric = gradient_check.eval_numerical_gradient(lambda v: nn.softmax_loss(v, y)[0], x.copy(), verbose=False)
    assert rel_error(numeric, dx) < 1e-7
    shifted = x - x.max(axis=1, keepdims=True)
    expected = -np.mean(shifted[np.arange(7), y] - np.log(np.exp(shifted).sum(axis=1)))
    assert loss == pytest.approx(expected, rel=1e-12)


def test_softmax_loss_is_log_c_on_uniform_scores_and_stable_on_large_ones():
    loss, _ = nn.softmax_loss(np.zeros((3, 10)), np.array([0, 4, 9]))
    assert loss == pytest.approx(np.log(10), rel=1e-12)
    loss, dx = nn.softmax_loss(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(500.0)


def _write_py2_style_batch(path: Path, rows: np.ndarray, labels: list[int], bytes_keys: bool) -> None:
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    batch = {
        key("batch_label"): "testing batch",
        key("labels"): labels,
        key("data"): rows,
        key("filenames"): [f"img_{i}.png" for i in range(len(labels))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


@pytest.mark.parametrize("bytes_keys", [False, True], ids=["str-keys", "bytes-keys"])
def test_load_cifar_reads_an_independent_python2_style_pickle(tmp_path, bytes_keys):
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _write_py2_style_batch(tmp_path / name, rows, [3, 1, 4, 1], bytes_keys)
    X_train, y_train, X_test, y_test = data_utils.load_CIFAR10(str(tmp_path))
    assert len(y_train) == 20
    assert X_train.shape == (20, 32, 32, 3) and X_test.shape == (4, 32, 32, 3)
    assert X_train.dtype == np.float64
    assert list(y_test) == [3, 1, 4, 1]
    # Rows are the red plane, then green, then blue: pixel (0, 1) of image 0.
    assert X_test[0, 0, 1].tolist() == [rows[0, 1], rows[0, 1024 + 1], rows[0, 2048 + 1]]


def _py2_rows(batch: int) -> np.ndarray:
    """The rows tests/files/py2-cifar/make.py2 wrote into batch `batch` (0-based)."""
    return np.stack([(np.arange(3072) * (2 * batch + r + 1) + 7 * batch) % 256 for r in range(2)]).astype(np.uint8)


def test_load_cifar_reads_batches_written_by_python_2():
    """Real Python 2.7 cPickle files (keys as byte strings, data as a BINSTRING): the official format."""
    folder = ROOT / "tests" / "files" / "py2-cifar"
    assert (folder / "test_batch").read_bytes()[:2] == b"\x80\x02"  # protocol 2, as cPickle wrote it
    X_train, y_train, X_test, y_test = data_utils.load_CIFAR10(str(folder))
    expected = np.concatenate([_py2_rows(b) for b in range(5)])  # data_batch_1 first, in order
    planes = expected.reshape(10, 3, 32, 32).transpose(0, 2, 3, 1)  # R, G, B planes -> HWC
    np.testing.assert_array_equal(X_train, planes.astype(np.float64))
    assert y_train.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(X_test, _py2_rows(5).reshape(2, 3, 32, 32).transpose(0, 2, 3, 1))
    assert y_test.tolist() == [0, 1]


def test_visualize_grid_tiles_and_scales_each_image():
    images = np.stack([np.full((2, 2, 3), v, dtype=float) for v in (0.0, 5.0)])
    images[1, 0, 0] = 10.0
    grid = vis_utils.visualize_grid(images, ubound=255.0, padding=1)
    assert grid.shape == (5, 5, 3)  # 2x2 grid of 2x2 images with one pixel of padding
    assert grid[0, 3, 0] == 255.0 and grid[1, 4, 0] == 0.0  # image 1 scaled from its min to its max
    assert np.all(grid[2, :, :] == 0)  # the padding row


def test_notebook_imports_resolve_from_the_solutions_folder(monkeypatch):
    monkeypatch.syspath_prepend(str(SOLUTIONS))
    for name in [m for m in sys.modules if m == "hw3code" or m.startswith(("hw3code.", "data."))]:
        monkeypatch.delitem(sys.modules, name)
    from data.data_utils import load_CIFAR10  # noqa: F401
    from data.gradient_check import eval_numerical_gradient  # noqa: F401
    from data.vis_utils import visualize_grid  # noqa: F401
    from hw3code.neural_net import MSE_loss, TwoLayerNet, softmax_loss  # noqa: F401
