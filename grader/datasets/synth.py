"""A synthetic CIFAR-10, written in the exact format of the official archive.

The real data set cannot be downloaded everywhere (CI, offline machines), so the tests and the
demo use this stand-in: `write_synthetic_cifar` writes ``cifar-10-batches-py/`` with
``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta`` (10,000 uint8 images of
3072 values per batch), pickled the way Python 2 wrote the real ones, so any CIFAR-10 reader
loads it unchanged.

How an image is made, and why:

* Everything is built from *smooth colour fields*: Gaussian noise on coarse grids (2x2, 4x4 and
  8x8 cells) spread over 32x32 pixels by Gaussian bumps. Natural images have most of their
  variance at low spatial frequencies and strongly correlated colour channels; drawing the fields
  in a luminance/opponent-colour basis with weak colour gives both (channels correlate ~0.9).
* Each class owns two fixed smooth *templates*, orthogonal to all the others so every pair of
  classes is equally far apart whatever the seed. The first appears with a positive weight: it
  moves the class mean, which a linear classifier (and the untuned net) can use. The second
  appears with a random sign, like an object lighter or darker than its surroundings: its class
  mean is zero, so only ReLU hidden units can use it. That is why the two-layer net beats a
  linear classifier here (about 50% against 45%), as on CIFAR-10, and why it takes a tuned
  learning rate to get there. Templates are blobs, so the learned weights look like blobs too.
* Nuisance variation hides the class, as pose, clutter and lighting do in photographs: faint
  copies of every other class's templates (the *distractors*, which set the best accuracy any
  classifier can reach), a random smooth background, a per-image brightness, colour cast and
  contrast, and pixel noise. Together they make the per-pixel std about 60, as in CIFAR-10.

The sizes in `_LOOK` are calibrated against the homework's reference `TwoLayerNet` (MSE loss,
hidden size 50), on the notebook's split and preprocessing. Measured over 4 data seeds x 3 net
seeds: the untuned run (lr 1e-5, 1000 iterations) reaches 16-21% validation accuracy (CIFAR-10:
about 17%); a search over lr 1e-4, 5e-4, 1e-3 (decay 0.95, reg 0.25, batch 200, 1000 and 2000
iterations) reaches 49-52% at best (test accuracy 50-52%), lr 1e-4 only 36-41%; ridge regression
on the raw pixels 42-46%. Change the sizes only together with that calibration.
"""

from __future__ import annotations

import pickle
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.errors import DataError
from grader.fsutil import replace_dir

__all__ = ["LABEL_NAMES", "write_synthetic_cifar"]

LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FOLDER = "cifar-10-batches-py"
_SIDE = 32
_PER_BATCH = 10_000
_TRAIN_BATCHES = 5
_CHUNK = 1_000  # images rendered at once: buffers small enough for malloc to reuse them


@dataclass(frozen=True)
class _Look:
    """How an image is made. Sizes are standard deviations in pixel units (0..255)."""

    mean_rgb: tuple[float, float, float] = (125.0, 123.0, 114.0)  # CIFAR-10's channel means
    scales: tuple[tuple[int, float], ...] = ((2, 0.6), (4, 0.6), (8, 0.5))  # (cells, weight)
    chroma: float = 0.25  # colour fields relative to luminance fields
    template: float = 14.0  # the class's fixed-sign template
    polar: float = 14.0  # the class's random-sign template
    jitter: float = 0.3  # per-image relative strength of the fixed-sign template
    distractor: float = 0.75  # other classes' templates, relative to the class's own
    background: float = 20.0  # random smooth background
    brightness: float = 25.0  # per-image brightness
    tint: float = 8.0  # per-image colour cast
    contrast: float = 0.25  # per-image log-contrast
    noise: float = 8.0  # independent pixel noise


_LOOK = _Look()

# Columns: luminance and two opponent colours (red-blue, magenta-green), mutually orthogonal.
_OPPONENT = np.array([[1.0, 1.0, 0.5], [1.0, 0.0, -1.0], [1.0, -1.0, 0.5]])


def _spread(cells: int) -> np.ndarray:
    """A (32, cells) matrix spreading a row of grid values smoothly over 32 pixels.

    Rows have unit norm, so unit-variance grid noise gives unit-variance pixels.
    """
    centres = (np.arange(cells) + 0.5) * _SIDE / cells
    pixels = np.arange(_SIDE) + 0.5
    weights = np.exp(-0.5 * ((pixels[:, None] - centres) * cells / _SIDE) ** 2)
    return weights / np.linalg.norm(weights, axis=1, keepdims=True)


def _renderer(look: _Look) -> np.ndarray:
    """A (latents, 1024) matrix turning the grid values of every scale into one 32x32 plane.

    A grid G becomes the plane S G S^T, that is vec(G) @ kron(S, S)^T.
    """
    return np.concatenate([w * np.kron(_spread(c), _spread(c)).T for c, w in look.scales])


def _latents(rng: np.random.Generator, n: int, look: _Look) -> np.ndarray:
    """Random grid values (n, 3, latents) of smooth fields: luminance, then two colours."""
    z = rng.standard_normal((n, 3, sum(c * c for c, _ in look.scales)))
    z[:, 1:] *= look.chroma
    return z


def _render(z: np.ndarray, look: _Look) -> np.ndarray:
    """Pixel rows (n, 3072) of grid values (n, 3, latents): planes R, G, B, as in CIFAR-10."""
    rgb = _OPPONENT @ z  # colours mix linearly, so mix the grid values rather than the pixels
    return (rgb.reshape(-1, z.shape[-1]) @ _renderer(look)).reshape(len(z), -1)


def _templates(rng: np.random.Generator, look: _Look) -> np.ndarray:
    """Grid values (20, 3, latents) of the templates: fixed-sign ones, then random-sign ones.

    In pixels they are orthogonal, with unit rms. Each opponent channel is orthogonalised on
    its own (the channels are orthogonal to each other), so colour stays weak.
    """
    z = _latents(rng, 2 * len(LABEL_NAMES), look)
    for channel in range(3):
        _, r = np.linalg.qr((z[:, channel] @ _renderer(look)).T)  # planes = r^T q^T
        z[:, channel] = np.linalg.solve(r.T, z[:, channel])  # now they render as q^T
    z[:, 1:] *= look.chroma
    return z / np.sqrt(np.mean(_render(z, look) ** 2, axis=1))[:, None, None]


def _images(rng: np.random.Generator, labels: np.ndarray, templates: np.ndarray, look: _Look) -> np.ndarray:
    """One image per label, as (n, 3072) uint8 rows."""
    n, classes, rows = len(labels), len(LABEL_NAMES), np.arange(len(labels))
    weights = look.distractor * rng.standard_normal((n, 2 * classes))
    weights[rows, labels] += 1 + look.jitter * rng.standard_normal(n)
    weights[rows, labels + classes] += rng.choice([-1.0, 1.0], n)
    weights *= np.repeat([look.template, look.polar], classes)
    z = (weights @ templates.reshape(2 * classes, -1)).reshape(n, 3, -1)
    z += look.background * _latents(rng, n, look)
    z *= np.exp(look.contrast * rng.standard_normal((n, 1, 1)))
    pixels = _render(z, look).reshape(n, 3, -1)
    pixels += np.reshape(look.mean_rgb, (3, 1)) + look.brightness * rng.standard_normal((n, 1, 1))
    pixels += look.tint * rng.standard_normal((n, 3, 1))
    # Uniform noise is four times cheaper to draw than Gaussian, and as good as texture.
    pixels += look.noise * np.sqrt(12) * (rng.random(pixels.shape) - 0.5)
    # float64 all along: BLAS rounding errors (~1e-13) then practically never move a pixel
    # across a rounding boundary, so the bytes do not depend on the machine.
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(n, -1)


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table is open
    """Pickle as Python 2 did when the official archive was written.

    str and bytes both become Python 2 byte strings (opcodes U and T), so readers get str keys
    with ``encoding='latin1'`` and bytes keys with ``encoding='bytes'``, as with the real files;
    numpy is named ``numpy.core``, which numpy 1.x and 2.x both import without a warning.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj: str | bytes) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_string
    dispatch[bytes] = save_py2_string

    def save_global(self, obj: object, name: str | None = None) -> None:
        name = name or obj.__qualname__  # type: ignore[attr-defined]
        module = pickle.whichmodule(obj, name).replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)


def _dump(obj: dict[str, object], path: Path) -> None:
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)


def _write_batches(folder: Path, seed: int, look: _Look) -> None:
    """Write the six batches and the meta file into `folder`, one batch in memory at a time."""
    rng = np.random.default_rng(seed)
    templates = _templates(rng, look)
    classes = np.arange(len(LABEL_NAMES))
    # Balanced classes in shuffled order; the notebook's validation rows are the last 1000.
    train = rng.permutation(np.repeat(classes, _TRAIN_BATCHES * _PER_BATCH // len(classes)))
    test = rng.permutation(np.repeat(classes, _PER_BATCH // len(classes)))
    batches = [
        (f"data_batch_{b + 1}", f"training batch {b + 1} of {_TRAIN_BATCHES}", labels)
        for b, labels in enumerate(np.split(train, _TRAIN_BATCHES))
    ]
    batches.append(("test_batch", "testing batch 1 of 1", test))
    for number, (filename, batch_label, labels) in enumerate(batches):
        chunks = np.split(labels, len(labels) // _CHUNK)
        first = number * _PER_BATCH
        batch = {
            "batch_label": batch_label,
            "labels": labels.tolist(),  # Python ints, as in the real files
            "data": np.concatenate([_images(rng, part, templates, look) for part in chunks]),
            "filenames": [f"{LABEL_NAMES[c]}_s_{first + i:06d}.png" for i, c in enumerate(labels)],
        }
        _dump(batch, folder / filename)
    meta = {
        "num_cases_per_batch": _PER_BATCH,
        "label_names": list(LABEL_NAMES),
        "num_vis": 3 * _SIDE * _SIDE,
    }
    _dump(meta, folder / "batches.meta")


def write_synthetic_cifar(dest: Path, seed: int = 0) -> Path:
    """Write DEST/cifar-10-batches-py/ (full size, deterministic from seed); return that folder.

    The same seed gives the same bytes. The folder appears all at once: it is written next to
    its final place and then moved there, replacing any earlier one, so a reader never sees half
    a data set. Raises `DataError` when `dest` cannot be written.
    """
    dest = Path(dest)
    final = dest / _FOLDER
    staging: Path | None = None
    try:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{_FOLDER}.", dir=dest))
        _write_batches(staging, seed, _LOOK)
        replace_dir(staging, final)
    except OSError as err:
        raise DataError(
            f"cannot write the synthetic CIFAR-10 data set to {final}: "
            f"{err.strerror or err}; choose a writable folder (not a file) for it"
        ) from err
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final
