"""The grader's own, trusted reading of CIFAR-10, and the split the notebook makes of it.

The course's `data/data_utils.py` is student-visible and kept short; this reader is
the grader's: it validates every file and names what is wrong. `prepare_split`
writes the arrays the notebook's `get_CIFAR10_data` builds (49,000 training,
1,000 validation, 1,000 test rows, mean image of the training rows subtracted,
float64 rows of 3,072 values in height-width-channel order) once per data set to a
cache folder, and the same of the test batch's other rows (9,000 in CIFAR-10): the
*unseen* images, which the notebook never touches, so a net cannot have been fitted
to them. The grader recomputes accuracies on them, and module probes read them
read-only through memory maps, so parallel sandboxes share one copy in memory.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsutil import replace_dir

__all__ = [
    "BATCH_FILES",
    "PreparedSplit",
    "batches_dir",
    "prepare_split",
    "read_batch",
]

BATCH_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
NUM_TRAINING, NUM_VALIDATION, NUM_TEST = 49_000, 1_000, 1_000
ARRAYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "X_unseen", "y_unseen")
_HELP = (
    "point --cifar-dir at the folder unpacked from cifar-10-python.tar.gz, "
    "or make one with `grader data fetch --dest DIR` (or `grader data synth --dest DIR` for tests)"
)


def batches_dir(path: Path) -> Path:
    """The `cifar-10-batches-py` folder at or inside `path`, with every batch file present."""
    path = Path(path)
    candidates = [path / "cifar-10-batches-py", path]
    for folder in candidates:
        if all((folder / name).is_file() for name in BATCH_FILES):
            return folder
    missing = [n for n in BATCH_FILES if not (path / n).is_file()]
    raise DataError(f"{path}: no CIFAR-10 data here (missing {', '.join(missing)}); {_HELP}")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 rows of 3,072 values (R, G, B planes) and int64 labels 0..9.

    The official pickles were written by Python 2; their keys come back as str or
    bytes depending on how the file was written, and both are accepted.
    """
    try:
        with open(path, "rb") as f:
            raw = pickle.load(f, encoding="latin1")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 batch file ({exc}); {_HELP}") from exc
    if not isinstance(raw, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch file (a {type(raw).__name__}, not a dict)")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: a CIFAR-10 batch needs 'data' and 'labels'; found {sorted(batch)}")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' must be uint8 rows of 3072 values, not {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise DataError(f"{path}: 'labels' must hold one label 0..9 per row")
    return data, labels


_ROWS_AT_ONCE = 5000  # rows centred and written at a time when the split is prepared (120 MB of float64)


def _to_images(rows: np.ndarray) -> np.ndarray:
    # The same float64 height-width-channel layout as data_utils.load_CIFAR_batch.
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype("float")


@dataclass(frozen=True)
class PreparedSplit:
    """The notebook's split of one data set, stored as .npy files in `folder`."""

    folder: Path
    fingerprint: str  # sha256 of the batch files: names the data set in caches and results

    @property
    def batches(self) -> Path:
        """A world-readable copy of the original batch files (the sandboxed user reads these)."""
        return self.folder / "cifar-10-batches-py"

    def load(self, name: str) -> np.ndarray:
        """One of ARRAYS, memory-mapped read-only."""
        return np.load(self.folder / f"{name}.npy", mmap_mode="r")


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in BATCH_FILES:
        with open(folder / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def prepare_split(cifar_dir: Path, cache: Path) -> PreparedSplit:
    """The split of the data set at `cifar_dir`, computed once and cached under `cache`."""
    folder = batches_dir(cifar_dir)
    fingerprint = _fingerprint(folder)
    target = Path(cache) / f"cifar-{fingerprint[:16]}"
    if all((target / f"{name}.npy").is_file() for name in ARRAYS):
        return PreparedSplit(target, fingerprint)

    train = [read_batch(folder / name) for name in BATCH_FILES[:5]]
    X_all = np.concatenate([rows for rows, _ in train])
    y_all = np.concatenate([labels for _, labels in train])
    if len(X_all) < NUM_TRAINING + NUM_VALIDATION:
        raise DataError(f"{folder}: {len(X_all)} training rows; the notebook needs 50,000")
    X_test, y_test = read_batch(folder / "test_batch")
    if len(X_test) < NUM_TEST:
        raise DataError(f"{folder}/test_batch: {len(X_test)} rows; the notebook needs 1,000")
    # The mean image exactly as the notebook computes it, from the whole float64 X_train;
    # the centred rows are then written a slice at a time, which gives the same values
    # (an elementwise subtraction) without a second 1.2 GB copy: the peak stays near
    # 1.5 GB, so that a small machine or container can prepare the split.
    mean_image = np.mean(_to_images(X_all[:NUM_TRAINING]), axis=0)
    images = {
        "X_train": X_all[:NUM_TRAINING],
        "X_val": X_all[NUM_TRAINING : NUM_TRAINING + NUM_VALIDATION],
        "X_test": X_test[:NUM_TEST],
        "X_unseen": X_test[NUM_TEST:],
    }
    labels = {
        "y_train": y_all[:NUM_TRAINING],
        "y_val": y_all[NUM_TRAINING : NUM_TRAINING + NUM_VALIDATION],
        "y_test": y_test[:NUM_TEST],
        "y_unseen": y_test[NUM_TEST:],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".cifar-", dir=target.parent))
    try:
        for name, rows in images.items():
            out = np.lib.format.open_memmap(staging / f"{name}.npy", "w+", np.float64, (len(rows), 32 * 32 * 3))
            for start in range(0, len(rows), _ROWS_AT_ONCE):
                chunk = rows[start : start + _ROWS_AT_ONCE]
                out[start : start + len(chunk)] = (_to_images(chunk) - mean_image).reshape(len(chunk), -1)
            out.flush()
            del out
        for name, array in labels.items():
            np.save(staging / f"{name}.npy", array)
        raw = staging / "cifar-10-batches-py"
        raw.mkdir()
        for name in (*BATCH_FILES, "batches.meta"):
            if (folder / name).is_file():
                shutil.copyfile(folder / name, raw / name)
                (raw / name).chmod(0o644)
        for path in (staging, raw):
            path.chmod(0o755)
        replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PreparedSplit(target, fingerprint)
