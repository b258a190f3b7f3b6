"""A synthetic CIFAR-10, written in the exact format of the official archive.

The real data set cannot be downloaded everywhere (CI, offline machines), so the tests and the
demo use this stand-in: `write_synthetic_cifar` writes ``cifar-10-batches-py/`` with
``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta`` (10,000 uint8 images of
3072 values per batch), pickled the way Python 2 wrote the real ones, so any CIFAR-10 reader
loads it unchanged.

Two *profiles*, both drawn from the same ingredients:

* **realistic** (the default: the demo, the tests and the benchmark use it) is calibrated so that
  the homework's reference `TwoLayerNet` learns from it as it learns from the real CIFAR-10: the
  seed notebook's two printed runs (the untuned 1.6.1 and a student's 18-chunk search), replayed
  on it, land within 4 points of the printed accuracies chunk by chunk, and 1.6.1's loss at
  iteration 900 within 0.003 of the printed one. `grader.datasets.calibrate` replays them
  (`grader data calibrate`); the README has the table.
* **fast** is the earlier generator, kept byte for byte (a test pins its hashes) so that results
  graded on it can be reproduced: the net learns it about twice as fast as CIFAR-10 at first.

How an image is made, and why:

* Everything is built from *smooth colour fields*: Gaussian noise on coarse grids (2x2, 4x4 and
  8x8 cells) spread over 32x32 pixels by Gaussian bumps. Natural images have most of their
  variance at low spatial frequencies and strongly correlated colour channels; drawing the fields
  in a luminance/opponent-colour basis with weak colour gives both (channels correlate ~0.9).
* Each class owns fixed smooth *templates*, orthogonal to all the others so every pair of classes
  is equally far apart whatever the seed. A template with a positive weight moves the class mean,
  which a linear classifier (and the untuned net) can use; one with a random sign, like an object
  lighter or darker than its surroundings, has a class mean of zero, so only ReLU hidden units can
  use it. That is why the two-layer net beats a linear classifier here, as on CIFAR-10, and why it
  takes a tuned learning rate to get there. Templates are blobs, so the learned weights look like
  blobs too.
* The realistic profile stacks its templates in *levels* of falling strength (`_Level`): strong
  ones are learned in the first chunks at learning rate 1e-4, weak and signed ones only at 1e-3,
  which gives the seed's curve its shape: a slow climb to ~42%, then a jump to ~48% and a plateau.
  Each class also has its own mean brightness and colour cast (`shade`): directions of large
  variance that even the untuned run learns a little of (its ~17%).
* Nuisance variation hides the class, as pose, clutter and lighting do in photographs: faint
  copies of every other class's templates (the *distractors*, which set the best accuracy any
  classifier can reach; in the realistic profile some images show another class's template
  instead, the *confusion*), a random smooth background, a per-image brightness, colour cast and
  contrast, and pixel noise. Together they make the per-pixel std about 60, as in CIFAR-10.

Change the sizes of the realistic profile only together with its calibration (`grader data
calibrate` must still say "every target within tolerance"), and the fast profile's never.
"""

from __future__ import annotations

import pickle
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from grader.errors import DataError
from grader.fsutil import replace_dir

from .cifar import BATCH_FILES

__all__ = ["LABEL_NAMES", "PROFILES", "cached_synthetic_cifar", "profile_parameters", "write_synthetic_cifar"]

LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FOLDER = "cifar-10-batches-py"
_SIDE = 32
_PER_BATCH = 10_000
_TRAIN_BATCHES = 5
_CHUNK = 1_000  # images rendered at once: buffers small enough for malloc to reuse them


@dataclass(frozen=True)
class _Look:
    """How an image of the "fast" profile is made. Sizes are standard deviations in pixel units (0..255)."""

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


_LOOK = _Look()  # the "fast" profile: its bytes are pinned by a test, never change them


@dataclass(frozen=True)
class _Level:
    """Ten templates of the "realistic" profile, one per class, all of the same strength."""

    amplitude: float  # rms of each template, in pixels
    distractor: float  # std of every template's weight in every image, relative to a class's own
    signed: bool = False  # a random sign in every image (only ReLU units can use it), else positive
    confusion: float = 0.0  # share of images that show another (random) class's template here


@dataclass(frozen=True)
class _Realistic:
    """How an image of the "realistic" profile is made; sizes in pixel units, as in `_Look`."""

    mean_rgb: tuple[float, float, float] = (125.0, 123.0, 114.0)
    scales: tuple[tuple[int, float], ...] = ((2, 0.6), (4, 0.6), (8, 0.5))
    chroma: float = 0.25
    # Each class's own mean brightness and colour cast (rms over the classes): a few directions
    # of large variance, learned first and worth ~25% accuracy on their own.
    shade: tuple[float, float] = (14.0, 9.0)  # (brightness, each opponent colour)
    # Strongest first: strong templates are learned first, weak ones only at lr 1e-3.
    levels: tuple[_Level, ...] = (
        _Level(12.0, 0.95, signed=True),  # the ReLU-only part: what lr 1e-3 adds (~+5 points)
        _Level(7.5, 1.4, confusion=0.2),  # learned in the first lr-1e-4 chunks
        _Level(2.8, 1.3),  # learned through the lr-1e-4 chunks, finished at lr 1e-3
        _Level(1.2, 3.0),  # faint detail: a point or two, at lr 1e-3 and small reg only
    )
    jitter: float = 0.3  # per-image relative strength of a positive template
    background: float = 12.0
    brightness: float = 28.0
    tint: float = 22.0  # large, so the colour directions have the variance to be learned early
    contrast: float = 0.25
    noise: float = 8.0


_REALISTIC = _Realistic()
_PROFILES: dict[str, _Look | _Realistic] = {"realistic": _REALISTIC, "fast": _LOOK}
PROFILES = tuple(_PROFILES)


def _look(profile: str) -> _Look | _Realistic:
    """The sizes of `profile`; DataError for a profile that does not exist."""
    if profile not in _PROFILES:
        raise DataError(f"unknown synthetic data profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return _PROFILES[profile]


def profile_parameters(profile: str) -> str:
    """The generator's parameters of `profile`, one ``name = value`` per line."""
    lines = []
    for f in fields(look := _look(profile)):
        value = getattr(look, f.name)
        if f.name == "levels":  # one template level per line
            lines += [f"{f.name}:", *(f"  {level!r}".replace("_Level", "level") for level in value)]
        else:
            lines.append(f"{f.name} = {value!r}")
    return "\n".join(lines)


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


def _renderer(look: _Look | _Realistic) -> np.ndarray:
    """A (latents, 1024) matrix turning the grid values of every scale into one 32x32 plane.

    A grid G becomes the plane S G S^T, that is vec(G) @ kron(S, S)^T.
    """
    return np.concatenate([w * np.kron(_spread(c), _spread(c)).T for c, w in look.scales])


def _latents(rng: np.random.Generator, n: int, look: _Look | _Realistic) -> np.ndarray:
    """Random grid values (n, 3, latents) of smooth fields: luminance, then two colours."""
    z = rng.standard_normal((n, 3, sum(c * c for c, _ in look.scales)))
    z[:, 1:] *= look.chroma
    return z


def _render(z: np.ndarray, look: _Look | _Realistic) -> np.ndarray:
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


def _level_templates(rng: np.random.Generator, look: _Realistic) -> np.ndarray:
    """Grid values (10 per level, 3, latents) of the realistic profile's templates, level by level.

    As in `_templates`, orthogonal with unit rms in pixels; also orthogonal to every field of the
    coarsest grid, which belongs to the background and the shades: templates are objects, not
    the layout of the picture. The first (strongest) are random blobs; later ones are what is
    left, finer.
    """
    coarse = look.scales[0][0] ** 2
    z = _latents(rng, len(look.levels) * len(LABEL_NAMES), look)
    grid = np.eye(z.shape[-1])[:coarse]  # the coarsest grid's fields, orthogonalised first
    for channel in range(3):
        rows = np.concatenate([grid, z[:, channel]])
        _, r = np.linalg.qr((rows @ _renderer(look)).T)
        z[:, channel] = np.linalg.solve(r.T, rows)[coarse:]
    z[:, 1:] *= look.chroma
    return z / np.sqrt(np.mean(_render(z, look) ** 2, axis=1))[:, None, None]


def _shades(rng: np.random.Generator, look: _Realistic) -> np.ndarray:
    """(10, 3) RGB offsets: each class's mean brightness and colour cast.

    Along each of the three opponent axes the classes take the same ten evenly spaced values in a
    random order, so every seed spreads them equally.
    """
    steps = np.linspace(-1.0, 1.0, len(LABEL_NAMES))
    steps /= np.sqrt(np.mean(steps**2))
    brightness, colour = look.shade
    opponent = np.stack([rng.permutation(steps) * size for size in (brightness, colour, colour)], axis=1)
    return opponent @ _OPPONENT.T


def _realistic_images(
    rng: np.random.Generator, labels: np.ndarray, templates: np.ndarray, shades: np.ndarray, look: _Realistic
) -> np.ndarray:
    """One image per label, as (n, 3072) uint8 rows."""
    n, classes, rows = len(labels), len(LABEL_NAMES), np.arange(len(labels))
    weights = np.empty((n, len(look.levels) * classes))
    for i, level in enumerate(look.levels):
        w = level.distractor * rng.standard_normal((n, classes))
        shown = labels
        if level.confusion:
            swapped = rng.random(n) < level.confusion
            shown = np.where(swapped, rng.integers(0, classes, n), labels)
        w[rows, shown] += rng.choice([-1.0, 1.0], n) if level.signed else 1 + look.jitter * rng.standard_normal(n)
        weights[:, i * classes : (i + 1) * classes] = level.amplitude * w
    z = (weights @ templates.reshape(len(templates), -1)).reshape(n, 3, -1)
    z += look.background * _latents(rng, n, look)
    z *= np.exp(look.contrast * rng.standard_normal((n, 1, 1)))
    pixels = _render(z, look).reshape(n, 3, -1)
    pixels += np.reshape(look.mean_rgb, (3, 1)) + look.brightness * rng.standard_normal((n, 1, 1))
    pixels += look.tint * rng.standard_normal((n, 3, 1))
    pixels += shades[labels][:, :, None]
    pixels += look.noise * np.sqrt(12) * (rng.random(pixels.shape) - 0.5)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(n, -1)


def _painter(rng: np.random.Generator, look: _Look | _Realistic) -> Callable[[np.ndarray], np.ndarray]:
    """Draw what a profile fixes for the whole data set; return labels -> (n, 3072) uint8 images."""
    if isinstance(look, _Look):
        templates = _templates(rng, look)
        return lambda labels: _images(rng, labels, templates, look)
    templates, shades = _level_templates(rng, look), _shades(rng, look)
    return lambda labels: _realistic_images(rng, labels, templates, shades, look)


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


def _write_batches(folder: Path, seed: int, look: _Look | _Realistic) -> None:
    """Write the six batches and the meta file into `folder`, one batch in memory at a time."""
    rng = np.random.default_rng(seed)
    paint = _painter(rng, look)  # first, as the fast profile always drew its templates first
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
            "data": np.concatenate([paint(part) for part in chunks]),
            "filenames": [f"{LABEL_NAMES[c]}_s_{first + i:06d}.png" for i, c in enumerate(labels)],
        }
        _dump(batch, folder / filename)
    meta = {
        "num_cases_per_batch": _PER_BATCH,
        "label_names": list(LABEL_NAMES),
        "num_vis": 3 * _SIDE * _SIDE,
    }
    _dump(meta, folder / "batches.meta")


def write_synthetic_cifar(dest: Path, seed: int = 0, profile: str = "realistic") -> Path:
    """Write DEST/cifar-10-batches-py/ (full size, deterministic from seed); return that folder.

    `profile` is one of `PROFILES`: "realistic" (the reference net learns from it as from
    CIFAR-10) or "fast" (the earlier data set, which the net learns in two chunks; its bytes
    never change). The same seed and profile give the same bytes. The folder appears all at
    once: it is written next to its final place and then moved there, replacing any earlier one,
    so a reader never sees half a data set. Raises `DataError` for an unknown profile or when
    `dest` cannot be written.
    """
    look = _look(profile)
    dest = Path(dest)
    final = dest / _FOLDER
    staging: Path | None = None
    try:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{_FOLDER}.", dir=dest))
        _write_batches(staging, seed, look)
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


def cached_synthetic_cifar(
    cache: Path, profile: str = "realistic", seed: int = 0, log: Callable[[str], None] = print
) -> Path:
    """The `cifar-10-batches-py` folder of `profile` and `seed` under `cache`, written the first
    time it is needed (`log` hears of that: it takes a few seconds)."""
    _look(profile)  # an unknown profile is refused before anything is looked for
    dest = Path(cache) / (f"synthetic-{profile}" if seed == 0 else f"synthetic-{profile}-{seed}")
    folder = dest / _FOLDER
    if not all((folder / name).is_file() for name in (*BATCH_FILES, "batches.meta")):
        log(f"writing the {profile} synthetic CIFAR-10 (seed {seed}) to {dest} (once) ...")
        write_synthetic_cifar(dest, seed=seed, profile=profile)
    return folder
