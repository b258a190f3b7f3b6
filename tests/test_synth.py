"""The synthetic CIFAR-10: the official archive's format, deterministic, written atomically.

How well the reference net learns from it (its calibration) is too slow to test here; the
numbers are in the module docstring of `grader.datasets.synth`.
"""

from __future__ import annotations

import importlib.util
import pickle
import pickletools
import re
from pathlib import Path

import numpy as np
import pytest

from grader.datasets import synth
from grader.datasets.cifar import read_batch
from grader.datasets.synth import LABEL_NAMES, write_synthetic_cifar
from grader.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
BATCH_FILES = [*TRAIN_FILES, "test_batch"]
KEYS = {"batch_label", "labels", "data", "filenames"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The data set of seed 0, written once for the module."""
    return write_synthetic_cifar(tmp_path_factory.mktemp("synth"), seed=0)


def load(path: Path, encoding: str = "latin1") -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding=encoding)


def test_writes_the_archive_folder_and_nothing_else(folder):
    assert folder.name == "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*BATCH_FILES, "batches.meta"])
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left over


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


def test_classes_are_balanced_and_shuffled(folder):
    train = np.concatenate([load(folder / name)["labels"] for name in TRAIN_FILES])
    test = np.array(load(folder / "test_batch")["labels"])
    assert np.bincount(train, minlength=10).tolist() == [5000] * 10
    assert np.bincount(test, minlength=10).tolist() == [1000] * 10
    # Shuffled: about 90% of neighbours differ, and the notebook's validation rows
    # (the last 1,000 training rows) hold every class.
    assert np.mean(train[1:] != train[:-1]) > 0.85
    assert set(train[49_000:]) == set(range(10))


def test_bytes_encoding_gives_bytes_keys_and_the_same_values(folder):
    as_str = load(folder / "data_batch_1", encoding="latin1")
    as_bytes = load(folder / "data_batch_1", encoding="bytes")
    assert set(as_bytes) == {key.encode() for key in KEYS}
    np.testing.assert_array_equal(as_bytes[b"data"], as_str["data"])
    assert as_bytes[b"labels"] == as_str["labels"]
    assert as_bytes[b"filenames"][0] == as_str["filenames"][0].encode()
    meta = load(folder / "batches.meta", encoding="bytes")
    assert meta[b"label_names"] == [name.encode() for name in LABEL_NAMES]


def test_pickled_the_way_python2_did(folder):
    """Protocol 2, Python 2 byte strings, and numpy named as numpy 1.x named it."""
    ops = list(pickletools.genops((folder / "data_batch_1").read_bytes()))
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    names = {op.name for op, _, _ in ops}
    assert "BINUNICODE" not in names and "SHORT_BINUNICODE" not in names
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert "numpy.core.multiarray _reconstruct" in globals_
    assert not any(name.startswith("numpy._core") for name in globals_)


def test_pixels_look_like_natural_images(folder):
    data = load(folder / "data_batch_1")["data"][:2000].astype(float)
    assert data.min() == 0 and data.max() == 255
    assert 45 < data.std(axis=0).mean() < 75  # per-pixel std, about 60 in CIFAR-10
    assert 100 < data.mean() < 140
    planes = data.reshape(-1, 3, 32, 32)
    neighbours = np.corrcoef(planes[..., :-1].ravel(), planes[..., 1:].ravel())[0, 1]
    assert neighbours > 0.8  # smooth: neighbouring pixels nearly equal
    red, green, blue = (planes[:, c].ravel() for c in range(3))
    assert np.corrcoef(red, green)[0, 1] > 0.7 and np.corrcoef(green, blue)[0, 1] > 0.7


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


def test_same_seed_same_bytes_and_replaces_an_old_folder(folder, tmp_path):
    stale = tmp_path / "cifar-10-batches-py" / "stale"
    stale.parent.mkdir()
    stale.write_text("from an earlier run")
    again = write_synthetic_cifar(tmp_path, seed=0)
    assert not stale.exists()
    for name in [*BATCH_FILES, "batches.meta"]:
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


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
