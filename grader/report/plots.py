"""A student report's pictures, embedded as PNG data URIs.

The curves are drawn by `charts` (Pillow); the weight grids, which are pictures already, are
laid side by side with numpy and encoded here (`png_bytes`). Neither imports matplotlib: it
took most of a second to import and half a second per figure, the bulk of a report's cost.
The class summary's histograms are matplotlib's still (`histograms`), drawn once per class.
"""

from __future__ import annotations

import base64
import functools
import math
import struct
import zlib
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from ..rubric import AccuracyRule
from .charts import Panel, Series, draw_panels, font, text_strip

__all__ = ["png_bytes", "png_uri", "rubric_curve", "rubric_point", "training_curves", "weight_grids"]

STUDENT, REFERENCE, RUBRIC = "#1f6feb", "#8b949e", "#d1242f"
_GAP = 20  # white pixels between two weight panels, and around them
_TITLE_HEIGHT = 30  # pixels of a weight panel's title strip


def png_uri(png: bytes) -> str:
    """A PNG file as a data URI, for an <img> of a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (height, width, 3) uint8 picture as a PNG file: 8-bit RGB, no filter, one IDAT chunk."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"not an 8-bit RGB picture: {rgb.dtype} {rgb.shape}")
    height, width, _ = rgb.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # each row starts with filter type 0
    rows[:, 1:] = rgb.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def training_curves(student: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray] | None = None) -> str:
    """Loss history and train/validation accuracy of the baseline run, the student's beside the
    reference's when `reference` is given (the student view passes none: it would show hidden values)."""
    losses: list[Series] = []
    accuracies: list[Series] = []
    runs = [(reference, REFERENCE, "reference")] if reference else []
    for stats, colour, who in [*runs, (student, STUDENT, "yours")]:
        if "loss_history" in stats:
            losses.append(Series(stats["loss_history"], colour, who, width=0.8))
        if "train_acc_history" in stats:
            accuracies.append(Series(stats["train_acc_history"], colour, f"{who}: train", dashed=True, marker="o"))
        if "val_acc_history" in stats:
            accuracies.append(Series(stats["val_acc_history"], colour, f"{who}: validation", marker="s"))
    panels = [
        Panel(tuple(losses), "Training loss", "iteration", "loss"),
        Panel(tuple(accuracies), "Accuracy per epoch", "epoch", "accuracy", legend="lower right", integer_x=True),
    ]
    return png_uri(png_bytes(draw_panels(panels, 9, 3.4)))


def weight_grids(student: np.ndarray, reference: np.ndarray | None = None, subopt: np.ndarray | None = None) -> str:
    """best_net's first-layer weights as images (the notebook's view), after the student's
    `subopt` net's (the weights question compares the two) and before the reference's
    best_net, each when given: titled panels side by side, at the grids' own resolution."""
    panels = [(subopt, "your subopt_net"), (student, "your best_net"), (reference, "reference best_net")]
    titled = [_titled(_rgb(grid), title) for grid, title in panels if grid is not None]
    height = max(panel.shape[0] for panel in titled)
    width = sum(panel.shape[1] for panel in titled) + _GAP * (len(titled) + 1)
    canvas = np.full((height + 2 * _GAP, width, 3), 255, dtype=np.uint8)
    left = _GAP
    for panel in titled:
        canvas[_GAP : _GAP + panel.shape[0], left : left + panel.shape[1]] = panel
        left += panel.shape[1] + _GAP
    return png_uri(png_bytes(canvas))


def _rgb(grid: np.ndarray) -> np.ndarray:
    """A stored weight grid (uint8, grey or RGB) as an RGB picture."""
    grid = np.asarray(grid)
    if grid.dtype != np.uint8:
        raise ValueError(f"a weight grid of {grid.dtype}, not uint8")
    return np.repeat(grid[:, :, None], 3, axis=2) if grid.ndim == 2 else grid


def _titled(grid: np.ndarray, title: str) -> np.ndarray:
    """`grid` under its title."""
    strip = _title_strip(title, grid.shape[1])
    return np.concatenate([strip, grid], axis=0)


@functools.lru_cache(maxsize=16)
def _title_strip(title: str, width: int) -> np.ndarray:
    """A panel's title, black on white, `width` pixels wide: drawn once per process (there are
    three titles), then reused, read-only, by every report."""
    strip = np.array(text_strip(title, font(10, scale=1), height=_TITLE_HEIGHT, width=width))
    strip.flags.writeable = False
    return strip


def rubric_point(rule: AccuracyRule, accuracy: float) -> tuple[float, float]:
    """Where a validation accuracy (correct / total, a float) sits on the rubric curve: the
    percentage and the multiplier its exact counts earn, whatever the validation set's size.

    The rubric floors a percentage, so the counts matter (0.29 * 100 is 28.999999999999996
    in floating point). They are recovered exactly for any set of up to 10^6 images: two
    such fractions differ by far more than a float's rounding error.
    """
    exact = Fraction(accuracy).limit_denominator(1_000_000)
    return accuracy * 100, float(rule.multiplier(exact.numerator, exact.denominator))


def _rubric_steps(rule: AccuracyRule, right: float) -> tuple[list[float], list[float]]:
    """The rubric's step function from 0% to `right`%: one step per whole percent above the offset."""
    steps = math.ceil(rule.span_percent)  # the multiplier reaches 1 at offset + ceil(span)
    xs = [0.0] + [float(rule.offset_percent + k) for k in range(steps + 1)] + [right]
    ys = [0.0] + [float(min(Fraction(k) / rule.span_percent, Fraction(1))) for k in range(steps + 1)] + [1.0]
    return xs, ys


@functools.lru_cache(maxsize=64)
def rubric_curve(rule: AccuracyRule, accuracy: float | None) -> str:
    """The rubric multiplier against validation accuracy, with the student's marked at the
    multiplier their exact counts earn. Cached: the picture is a function of its two
    arguments alone, and both of a student's views show the same one."""
    right = min(100.0, max(70.0, float(rule.offset_percent + rule.span_percent) + 10, (accuracy or 0) * 100 + 5))
    xs, ys = _rubric_steps(rule, right)
    series = [Series(np.array(ys), RUBRIC, "rubric", xs=np.array(xs), width=1.2, step=True)]
    if accuracy is not None:
        percent, mark = rubric_point(rule, accuracy)
        series.append(
            Series(
                np.array([mark]),
                STUDENT,
                f"you: {accuracy:.1%}",
                xs=np.array([percent]),
                line=False,
                marker="o",
                markersize=9,
            )
        )
    panel = Panel(
        tuple(series),
        xlabel="validation accuracy of best_net (%)",
        ylabel="multiplier",
        xlim=(0, right),
        ylim=(-0.05, 1.1),
        legend="lower right",
    )
    return png_uri(png_bytes(draw_panels([panel], 6, 3)))
