"""The synthetic CIFAR-10: the official archive's format, deterministic, written atomically.

How well the reference net learns from it (its calibration, `grader.datasets.calibrate`) takes
a quarter of an hour to replay, too slow to test here: `grader data calibrate` prints it, and the
README shows the table. What is tested is the comparison's logic, on made-up runs; the demo's
tests show the reference earning full credit on the realistic profile.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import pickletools
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from grader.datasets import calibrate, synth
from grader.datasets.calibrate import SEED, Calibration, NetRun
from grader.datasets.cifar import read_batch
from grader.datasets.synth import LABEL_NAMES, PROFILES, write_synthetic_cifar
from grader.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
BATCH_FILES = [*TRAIN_FILES, "test_batch"]
KEYS = {"batch_label", "labels", "data", "filenames"}
# sha256 of what the generator wrote for seed 0 before profiles existed: the "fast" profile
# must keep writing exactly these bytes (earlier caches and results were made from them).
FAST_SEED_0 = {
    "batches.meta": "b8ed9534b4f8a6fa6f9b80e62eeb4cb1e6855f9375651f9599e50d984e694c08",
    "data_batch_1": "4f033abb264ad1ec2facec4f67a21ff2ee50db14f10c78103165cbcc869fb7ed",
    "data_batch_2": "b2622e9c9a69ae16cfe39a3bda3ec69f7892cd8e3f5d74095ff6897b8cf0bc60",
    "data_batch_3": "d19ebfbb69b70ef6e01d873adb23dc87f879358005ab59d6da68a12ed4082020",
    "data_batch_4": "30d3e6fe9811a13619432d4e163276012ef65d71fd4d3939b27d508edd526702",
    "data_batch_5": "e3421445be0681b60819a91dff89049d525f6d20e37dbd6fbc1bd27f3eed7685",
    "test_batch": "799a63e7813f3cb03b5a891ff94c03413e34db7e41eac76962e92c0965237280",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The data set of seed 0 (the default, realistic profile), written once for the module."""
    return write_synthetic_cifar(tmp_path_factory.mktemp("synth"), seed=0)


@pytest.fixture(scope="module")
def fast_folder(tmp_path_factory) -> Path:
    """The fast profile's data set of seed 0."""
    return write_synthetic_cifar(tmp_path_factory.mktemp("fast"), seed=0, profile="fast")


def load(path: Path, encoding: str = "latin1") -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding=encoding)


@pytest.mark.slow
def test_writes_the_archive_folder_and_nothing_else(folder):
    assert folder.name == "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*BATCH_FILES, "batches.meta"])
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left over


@pytest.mark.slow
@pytest.mark.parametrize("name", BATCH_FILES)
def test_batch_has_the_official_layout(folder, name):
    batch = load(folder / name)
    assert set(batch) == KEYS
    expected_label = "testing batch 1 of 1" if name == "test_batch" else f"training batch {name[-1]} of 5"
    assert batch["batch_label"] == expected_label
    data = batch["data"]
    assert isinstance(data, np.ndarray)
    assert data.dtype == np.uint8
    assert data.shape == (10_000, 3072)
    labels = batch["labels"]
    assert isinstance(labels, list) and len(labels) == 10_000
    assert all(type(label) is int and 0 <= label <= 9 for label in labels)
    filenames = batch["filenames"]
    assert len(filenames) == 10_000 and all(isinstance(f, str) for f in filenames)
    assert len(set(filenames)) == 10_000


@pytest.mark.slow
def test_meta_names_the_ten_classes(folder):
    meta = load(folder / "batches.meta")
    assert meta == {
        "label_names": [
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ],
        "num_cases_per_batch": 10_000,
        "num_vis": 3072,
    }
    assert list(LABEL_NAMES) == meta["label_names"]


@pytest.mark.slow
def test_classes_are_balanced_and_shuffled(folder):
    train = np.concatenate([load(folder / name)["labels"] for name in TRAIN_FILES])
    test = np.array(load(folder / "test_batch")["labels"])
    assert np.bincount(train, minlength=10).tolist() == [5000] * 10
    assert np.bincount(test, minlength=10).tolist() == [1000] * 10
    # Shuffled: about 90% of neighbours differ, and the notebook's validation rows
    # (the last 1,000 training rows) hold every class.
    assert np.mean(train[1:] != train[:-1]) > 0.85
    assert set(train[49_000:]) == set(range(10))


@pytest.mark.slow
def test_bytes_encoding_gives_bytes_keys_and_the_same_values(folder):
    as_str = load(folder / "data_batch_1", encoding="latin1")
    as_bytes = load(folder / "data_batch_1", encoding="bytes")
    assert set(as_bytes) == {key.encode() for key in KEYS}
    np.testing.assert_array_equal(as_bytes[b"data"], as_str["data"])
    assert as_bytes[b"labels"] == as_str["labels"]
    assert as_bytes[b"filenames"][0] == as_str["filenames"][0].encode()
    meta = load(folder / "batches.meta", encoding="bytes")
    assert meta[b"label_names"] == [name.encode() for name in LABEL_NAMES]


@pytest.mark.slow
def test_pickled_the_way_python2_did(folder):
    """Protocol 2, Python 2 byte strings, and numpy named as numpy 1.x named it."""
    ops = list(pickletools.genops((folder / "data_batch_1").read_bytes()))
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    names = {op.name for op, _, _ in ops}
    assert "BINUNICODE" not in names and "SHORT_BINUNICODE" not in names
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert "numpy.core.multiarray _reconstruct" in globals_
    assert not any(name.startswith("numpy._core") for name in globals_)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["realistic", "fast"])
def test_pixels_look_like_natural_images(folder, fast_folder, profile):
    data = load((folder if profile == "realistic" else fast_folder) / "data_batch_1")["data"][:2000].astype(float)
    assert data.min() == 0 and data.max() == 255
    assert 45 < data.std(axis=0).mean() < 75  # per-pixel std, about 60 in CIFAR-10
    assert 100 < data.mean() < 140
    planes = data.reshape(-1, 3, 32, 32)
    neighbours = np.corrcoef(planes[..., :-1].ravel(), planes[..., 1:].ravel())[0, 1]
    assert neighbours > 0.8  # smooth: neighbouring pixels nearly equal
    red, green, blue = (planes[:, c].ravel() for c in range(3))
    assert np.corrcoef(red, green)[0, 1] > 0.7 and np.corrcoef(green, blue)[0, 1] > 0.7


@pytest.mark.slow
def test_course_loader_reads_it(folder):
    spec = importlib.util.spec_from_file_location("solutions_data_utils", ROOT / "solutions/data/data_utils.py")
    data_utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data_utils)
    X_train, y_train, X_test, y_test = data_utils.load_CIFAR10(str(folder))
    assert X_train.shape == (50_000, 32, 32, 3) and y_train.shape == (50_000,)
    assert X_test.shape == (10_000, 32, 32, 3) and y_test.shape == (10_000,)
    # A row holds the red plane, then the green, then the blue, each row-major.
    row = load(folder / "data_batch_1")["data"][7]
    assert X_train[7, 2, 5, 1] == row[1024 + 2 * 32 + 5]
    assert X_test.min() >= 0 and X_test.max() <= 255


@pytest.mark.slow
def test_same_seed_same_bytes_and_replaces_an_old_folder(folder, tmp_path):
    stale = tmp_path / "cifar-10-batches-py" / "stale"
    stale.parent.mkdir()
    stale.write_text("from an earlier run")
    again = write_synthetic_cifar(tmp_path, seed=0)
    assert not stale.exists()
    for name in [*BATCH_FILES, "batches.meta"]:
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


@pytest.mark.slow
def test_other_seed_other_data(folder, tmp_path):
    other = write_synthetic_cifar(tmp_path, seed=1)
    assert (other / "data_batch_1").read_bytes() != (folder / "data_batch_1").read_bytes()
    assert (other / "batches.meta").read_bytes() == (folder / "batches.meta").read_bytes()


@pytest.mark.parametrize("where", ["file", "file/below"])
def test_unwritable_destination_raises_data_error(tmp_path, where):
    (tmp_path / "file").write_text("not a folder")
    dest = tmp_path / where
    with pytest.raises(DataError, match=re.escape(str(dest))):
        write_synthetic_cifar(dest)


def test_failure_midway_leaves_the_old_folder_and_no_staging(tmp_path, monkeypatch):
    old = tmp_path / "cifar-10-batches-py"
    old.mkdir()
    (old / "data_batch_1").write_bytes(b"old")

    def fail(folder: Path, seed: int, look: object) -> None:
        (folder / "data_batch_1").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(synth, "_write_batches", fail)
    with pytest.raises(DataError, match="No space left on device"):
        write_synthetic_cifar(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [old.name]
    assert (old / "data_batch_1").read_bytes() == b"old"


def test_the_graders_reader_takes_batches_written_by_python_2():
    """tests/files/py2-cifar: written by Python 2.7's cPickle (see make.py2 there)."""
    folder = ROOT / "tests" / "files" / "py2-cifar"
    rows, labels = read_batch(folder / "data_batch_3")
    expected = np.stack([(np.arange(3072) * (5 + r) + 14) % 256 for r in range(2)]).astype(np.uint8)
    np.testing.assert_array_equal(rows, expected)
    assert rows.dtype == np.uint8 and labels.tolist() == [4, 5]


# --- profiles ---------------------------------------------------------------------------------


def test_the_profiles():
    assert PROFILES == ("realistic", "fast")


@pytest.mark.slow
def test_the_fast_profile_writes_the_bytes_it_always_wrote(fast_folder):
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in fast_folder.iterdir()}
    assert found == FAST_SEED_0


@pytest.mark.slow
@pytest.mark.parametrize("name", BATCH_FILES)
def test_the_fast_profile_has_the_official_layout_too(fast_folder, name):
    rows, labels = read_batch(fast_folder / name)
    assert rows.shape == (10_000, 3072) and labels.shape == (10_000,)


@pytest.mark.slow
def test_the_profiles_differ_in_their_images_not_in_their_format(folder, fast_folder):
    realistic, fast = load(folder / "data_batch_1"), load(fast_folder / "data_batch_1")
    assert set(realistic) == set(fast) == KEYS
    assert realistic["data"].shape == fast["data"].shape and not np.array_equal(realistic["data"], fast["data"])
    assert (folder / "batches.meta").read_bytes() == (fast_folder / "batches.meta").read_bytes()


def test_an_unknown_profile_is_refused_and_writes_nothing(tmp_path):
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="'cifar'; choose one of realistic, fast"):
        write_synthetic_cifar(dest, profile="cifar")
    assert not dest.exists()


# --- calibrate: the comparison with the seed notebook, on made-up runs --------------------------


def _run(net_seed: int = 0, shift: float = 0.0, **changes: object) -> NetRun:
    """A run that reproduces the seed exactly, every accuracy moved by `shift`, then `changes`."""
    fields: dict[str, object] = {
        "data": "0123456789abcdef",
        "net_seed": net_seed,
        "loss0": SEED.loss0,
        "loss900": SEED.loss900,
        "baseline_val": SEED.baseline_val + shift,
        "baseline_test": SEED.baseline_test + shift,
        "search_val": tuple(v + shift for v in SEED.search_val),
        "search_test": tuple(v - 0.02 for v in SEED.search_val),
    }
    fields.update(changes)
    return NetRun(**fields)


def _within(calibration: Calibration) -> dict[str, bool | None]:
    return {row.name: row.within for row in calibration.rows()}


def test_runs_like_the_seed_are_within_and_the_table_says_so():
    calibration = Calibration((_run(0, +0.01), _run(1, -0.01), _run(2)))
    assert calibration.ok
    rows = calibration.rows()
    assert len(rows) == 4 + 18 + 2
    chunk = next(row for row in rows if row.name.startswith("search 10:"))
    assert chunk.name == "search 10: lr 0.001, decay 0.8, reg 1"
    assert (
        chunk.seed == 0.476
        and chunk.mean == pytest.approx(0.476)
        and chunk.values == pytest.approx((0.486, 0.466, 0.476))
    )
    table = calibrate.render_table(calibration)
    assert "3 replay(s)" in table and "net seeds 0, 1, 2" in table and "0123456789abcdef" in table
    line = next(line for line in table.splitlines() if line.startswith("search 10:"))
    assert line.split()[-5:] == ["47.6", "47.6", "46.6-48.6", "+0.0", "yes"]
    assert table.rstrip().endswith("every target within tolerance")
    # Informational rows are never a verdict; the best of the search is the notebook's best_net.
    assert _within(calibration)["search: test accuracy of the best"] is None
    assert rows[-2].values == pytest.approx((0.499, 0.479, 0.489)) and rows[-1].seed == SEED.best_test


def test_a_mean_beyond_the_tolerance_fails_that_row_only():
    search = list(SEED.search_val)
    search[1] += calibrate.CHUNK_TOLERANCE + 0.005
    calibration = Calibration((_run(0, search_val=tuple(search)), _run(1, search_val=tuple(search))))
    failed = [name for name, within in _within(calibration).items() if within is False]
    assert failed == ["search  2: lr 0.0001, decay 0.8, reg 2"]
    assert not calibration.ok
    line = next(line for line in calibrate.render_table(calibration).splitlines() if line.startswith("search  2:"))
    assert line.split()[-2:] == ["+4.5", "NO"]


def test_one_run_wildly_off_fails_even_when_the_mean_is_within():
    search = list(SEED.search_val)
    search[0] -= calibrate.RUN_TOLERANCE + 0.01  # 6 points low; the other two runs 3 points high
    runs = (_run(0, search_val=tuple(search)), _run(1, +0.03), _run(2, +0.03))
    within = _within(Calibration(runs))
    assert abs(Calibration(runs).rows()[4].difference) < calibrate.CHUNK_TOLERANCE
    assert within["search  1: lr 0.0001, decay 0.8, reg 1"] is False
    assert within["search  2: lr 0.0001, decay 0.8, reg 2"] is True


def test_the_baseline_targets():
    ok = Calibration((_run(0, loss900=SEED.loss900 + 0.0025, baseline_val=0.151),))
    assert ok.ok
    high_loss = Calibration((_run(0, loss900=SEED.loss900 + 0.0035),))
    assert _within(high_loss)["1.6.1 loss, iteration 900"] is False
    low_accuracy = Calibration((_run(0, baseline_val=0.145),))
    assert _within(low_accuracy)["1.6.1 validation accuracy"] is False
    loss_line = next(line for line in calibrate.render_table(high_loss).splitlines() if "iteration 900" in line)
    assert loss_line.split()[-5:] == ["0.49479", "0.49829", "0.49829-0.49829", "+0.00350", "NO"]


def test_calibrations_combine_and_survive_json():
    first, second = Calibration((_run(0),)), Calibration((_run(1, data="fedcba9876543210"),))
    both = calibrate.combine([first, second])
    assert [run.net_seed for run in both.runs] == [0, 1]
    assert Calibration.from_dict(json.loads(json.dumps(both.to_dict()))) == both
    assert "data 0123456789abcdef, fedcba9876543210" in calibrate.render_table(both)


def test_no_runs_no_comparison():
    with pytest.raises(ValueError, match="no runs"):
        calibrate.compare(())


class _RecordingNet:
    """Stands in for TwoLayerNet: records how it is made and trained, predicts from its weights."""

    made: ClassVar[list[tuple[int, ...]]] = []
    trained: ClassVar[list[dict[str, object]]] = []

    def __init__(self, *sizes: int) -> None:
        self.made.append(sizes)
        self.w = np.random.randn(3)  # drawn from numpy's global stream, as the reference draws

    def train(self, X, y, X_val, y_val, **kwargs):
        self.trained.append(kwargs)
        return {"loss_history": [0.5 + i / 1e4 for i in range(kwargs["num_iters"])]}

    def predict(self, X):
        return (X[:, :3] @ self.w > 0).astype(int)


def test_replay_net_makes_the_seed_runs_calls():
    rng = np.random.default_rng(0)
    arrays = {name: rng.standard_normal((20, 3072)) for name in ("X_train", "X_val", "X_test")}
    arrays.update({name: rng.integers(0, 2, 20) for name in ("y_train", "y_val", "y_test")})
    _RecordingNet.made, _RecordingNet.trained = [], []
    run = calibrate.replay_net(arrays, _RecordingNet, net_seed=3, data="x")
    assert _RecordingNet.made == [(3072, 50, 10)]
    assert _RecordingNet.trained[0] == calibrate.BASELINE
    assert [(t["learning_rate"], t["learning_rate_decay"], t["reg"]) for t in _RecordingNet.trained[1:]] == list(
        calibrate.SEARCH_GRID
    )
    assert all(t["num_iters"] == 1000 and t["batch_size"] == 500 for t in _RecordingNet.trained[1:])
    assert len(calibrate.SEARCH_GRID) == 18 and calibrate.SEARCH_GRID[9] == (1e-3, 0.8, 1)
    assert (run.loss0, run.loss900) == pytest.approx((0.5, 0.59)) and len(run.search_val) == len(run.search_test) == 18
    np.random.seed(3)
    w = np.random.randn(3)
    assert run.baseline_val == np.mean((arrays["X_val"][:, :3] @ w > 0) == arrays["y_val"])


def test_load_net_class_takes_the_reference_from_a_solutions_folder(tmp_path):
    net_class = calibrate.load_net_class(ROOT / "solutions")
    assert net_class.__name__ == "TwoLayerNet" and hasattr(net_class, "train")
    with pytest.raises(ConfigError, match=re.escape("hw3code/neural_net.py")):
        calibrate.load_net_class(tmp_path)


# --- the cached data set and the command line ---------------------------------------------------


@pytest.mark.slow
def test_the_cached_data_set_is_written_once_per_profile_and_seed(tmp_path, fast_folder):
    heard: list[str] = []
    folder = synth.cached_synthetic_cifar(tmp_path, "fast", log=heard.append)
    assert folder == tmp_path / "synthetic-fast" / "cifar-10-batches-py"
    assert (folder / "data_batch_3").read_bytes() == (fast_folder / "data_batch_3").read_bytes()
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert synth.cached_synthetic_cifar(tmp_path, "fast", log=heard.append) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written  # not written again
    assert len(heard) == 1 and "the fast synthetic CIFAR-10 (seed 0)" in heard[0]
    assert synth.cached_synthetic_cifar(tmp_path, "fast", seed=1, log=heard.append).parent.name == "synthetic-fast-1"
    with pytest.raises(DataError, match="unknown synthetic data profile 'easy'"):
        synth.cached_synthetic_cifar(tmp_path, "easy")


def test_the_parameters_of_each_profile_are_printable():
    realistic = synth.profile_parameters("realistic").splitlines()
    assert realistic[0] == "mean_rgb = (125.0, 123.0, 114.0)" and "levels:" in realistic
    levels = [line for line in realistic if line.startswith("  level(")]
    assert len(levels) == 4 and "amplitude=12.0" in levels[0]
    assert "distractor = 0.75" in synth.profile_parameters("fast").splitlines()


@pytest.mark.slow
def test_grader_data_synth_writes_the_profile_asked_for(tmp_path, capsys):
    from grader.cli import main

    assert main(["data", "synth", "--dest", str(tmp_path), "--profile", "fast"]) == 0
    folder = tmp_path / "cifar-10-batches-py"
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == FAST_SEED_0
    assert f"wrote the fast synthetic CIFAR-10 data set (seed 0) to {folder}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["synth", "calibrate"])
def test_the_command_line_offers_every_profile_and_no_other(tmp_path, capsys, command):
    from grader.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["data", command, "--dest", str(tmp_path), "--profile", "easy"])
    assert exit_.value.code == 2
    choices = ", ".join(repr(name) for name in PROFILES)
    assert f"argument --profile: invalid choice: 'easy' (choose from {choices})" in capsys.readouterr().err


def test_calibrating_a_folder_without_data_says_what_is_missing(tmp_path, capsys):
    from grader.cli import main

    assert main(["data", "calibrate", "--cifar-dir", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}" in err and "missing data_batch_1" in err


@pytest.mark.slow
def test_the_readme_shows_the_calibration_as_measured(folder):
    """tests/files/calibration-realistic-seed0.json is what `grader data calibrate --save` wrote
    for the realistic profile, data seed 0: the README's table is its rendering, every target in,
    and it was measured on the very bytes the generator writes today."""
    saved = json.loads((ROOT / "tests" / "files" / "calibration-realistic-seed0.json").read_text())
    calibration = Calibration.from_dict(saved)
    assert calibration.ok and sorted(run.net_seed for run in calibration.runs) == [0, 1, 2]
    digest = hashlib.sha256()
    for name in BATCH_FILES:  # the data set's fingerprint, as prepare_split takes it
        digest.update((folder / name).read_bytes())
    assert {run.data for run in calibration.runs} == {digest.hexdigest()[:16]}
    assert all(len(run.search_val) == 18 for run in calibration.runs)
    readme = (ROOT / "README.md").read_text()
    assert calibrate.render_table(calibration) in readme
    assert synth.profile_parameters("realistic") in readme  # the parameters beside it are today's
