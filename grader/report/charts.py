"""Line charts drawn with Pillow, for the pictures every student's report has.

A report's curves are a few polylines on two axes; matplotlib took half a second of CPU
for each such figure (most of it laying out tick labels), which made it most of a report's
cost. This draws the same kind of chart, ticks, grid, labels and legend included, in a few
hundredths of a second: at twice the size, then scaled down, which smooths the lines. The
text is set in matplotlib's own DejaVu Sans, so the pictures look like the class summary's
(still drawn by matplotlib).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["DPI", "Panel", "Series", "draw_panels", "font", "text_strip"]

DPI = 110  # pixels per inch, as the matplotlib pictures are saved
_SS = 2  # drawn at twice the size, then scaled down: Pillow's lines are not antialiased
_GRID = (228, 228, 228)
_INK = (0, 0, 0)


@dataclass(frozen=True)
class Series:
    """One line of a chart: `ys` at `xs` (0, 1, ... when None); `step` draws it as steps
    (each value held until the next x), `marker` is "o", "s" or "", `dashed` dashes the line."""

    ys: np.ndarray
    colour: str
    label: str
    xs: np.ndarray | None = None
    width: float = 1.5
    dashed: bool = False
    marker: str = ""
    markersize: float = 6.0
    line: bool = True
    step: bool = False


@dataclass(frozen=True)
class Panel:
    """One axes: its series, its labels, fixed limits where given, and where its legend goes."""

    series: tuple[Series, ...]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    legend: str = "upper right"  # or "lower right"
    integer_x: bool = False  # ticks at whole numbers only (epochs)


def _points(size: float, scale: int = _SS) -> int:
    """A size in points as pixels (supersampled ones unless `scale` says otherwise)."""
    return round(size * DPI / 72 * scale)


def font(size: float, scale: int = _SS) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at `size` points (in pixels at `scale` times 110 dpi), one per thread: reports
    are drawn from several grading threads, and a FreeType face is not safe to share."""
    return _font(size, scale, threading.get_ident())


@functools.lru_cache(maxsize=32)
def _font(size: float, scale: int, thread: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font, from matplotlib's data files (found without importing matplotlib, which takes
    most of a second); Pillow's own font if it is not there."""
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), _points(size, scale))
    return ImageFont.load_default(_points(size, scale))


def _text_size(text: str, font) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom - top


def _nice_ticks(low: float, high: float, integer: bool = False, most: int = 6) -> list[float]:
    """Ticks at a round step (1, 2, 2.5 or 5 times a power of ten) inside [low, high]."""
    span = high - low
    raw = span / most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    first = math.ceil(low / step - 1e-9)
    count = math.floor(high / step + 1e-9) - first + 1
    return [(first + k) * step for k in range(max(count, 0))]


def _tick_label(value: float, ticks: Sequence[float]) -> str:
    """A tick's label with as many decimals as the step needs ("0.25", "200", "1e+06")."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    largest = max(abs(t) for t in ticks)
    if largest >= 1e6 or (largest and largest < 1e-4):
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step * 10**decimals, 6) % 1:  # 2.5 and its decades need one more
        decimals += 1
    text = f"{value:.{decimals}f}"
    return "0" if text.lstrip("-").strip("0.") == "" else text


def _range(panel: Panel, axis: str) -> tuple[float, float]:
    """The data's range along `axis` ("x" or "y") with matplotlib's 5% margins, or the fixed limits;
    ValueError when the numbers have no finite range (a history of 1e308 and -1e308)."""
    fixed = panel.xlim if axis == "x" else panel.ylim
    if fixed:
        return fixed
    values = [_xs(s) if axis == "x" else np.asarray(s.ys, dtype=float) for s in panel.series]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size == 0:
        raise ValueError("nothing finite to draw")
    low, high = float(finite.min()), float(finite.max())
    span = high - low
    if not math.isfinite(span):
        raise ValueError(f"no axis range for values from {low:g} to {high:g}")
    if span == 0:
        span = abs(low) * 0.1 or 1.0
        return low - span / 2, high + span / 2
    return low - 0.05 * span, high + 0.05 * span


def _xs(series: Series) -> np.ndarray:
    return np.arange(len(series.ys), dtype=float) if series.xs is None else np.asarray(series.xs, dtype=float)


class _Axes:
    """Data coordinates to (supersampled) pixels inside a plot area."""

    def __init__(self, box: tuple[int, int, int, int], xlim: tuple[float, float], ylim: tuple[float, float]):
        self.box, self.xlim, self.ylim = box, xlim, ylim

    def x(self, value: float) -> float:
        left, _, right, _ = self.box
        return left + (value - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * (right - left)

    def y(self, value: float) -> float:
        _, top, _, bottom = self.box
        return bottom - (value - self.ylim[0]) / (self.ylim[1] - self.ylim[0]) * (bottom - top)


def draw_panels(panels: Sequence[Panel], width_in: float, height_in: float) -> np.ndarray:
    """Panels side by side on a white figure `width_in` x `height_in` inches, as RGB uint8."""
    width, height = round(width_in * DPI), round(height_in * DPI)
    image = Image.new("RGB", (width * _SS, height * _SS), "white")
    draw = ImageDraw.Draw(image)
    share = width * _SS // len(panels)
    for k, panel in enumerate(panels):
        _draw_panel(image, draw, panel, (k * share, 0, (k + 1) * share, height * _SS))
    return np.asarray(image.reduce(_SS))  # each pixel the mean of its 2x2: a tenth of Lanczos's cost


def _draw_panel(image: Image.Image, draw: ImageDraw.ImageDraw, panel: Panel, area: tuple[int, int, int, int]) -> None:
    xlim, ylim = _range(panel, "x"), _range(panel, "y")
    xticks, yticks = _nice_ticks(*xlim, integer=panel.integer_x), _nice_ticks(*ylim)
    ylabels = [_tick_label(t, yticks) for t in yticks]
    small, label, title = font(8.5), font(10), font(12)
    pad = _points(4)
    tick_width = max((_text_size(t, small)[0] for t in ylabels), default=0)
    left = area[0] + pad + _text_size("Ag", label)[1] + pad + tick_width + pad * 2
    top = area[1] + pad + (_text_size("Ag", title)[1] + pad * 2 if panel.title else pad)
    bottom = area[3] - pad - _text_size("Ag", label)[1] - pad - _text_size("0", small)[1] - pad * 2
    axes = _Axes((left, top, area[2] - pad * 3, bottom), xlim, ylim)
    _draw_grid_and_ticks(draw, axes, xticks, yticks, ylabels, small)
    for series in panel.series:
        _draw_series(draw, axes, series)
    draw.rectangle(axes.box, outline=_INK, width=max(1, _SS))
    _draw_labels(image, draw, panel, axes, area, label, title, pad)
    _draw_legend(draw, panel, axes, font(8))


def _draw_grid_and_ticks(draw, axes: _Axes, xticks, yticks, ylabels, font) -> None:
    left, top, right, bottom = axes.box
    tick = _points(3.5)
    for value in xticks:
        x = axes.x(value)
        draw.line([(x, top), (x, bottom)], fill=_GRID, width=_SS)
        draw.line([(x, bottom), (x, bottom + tick)], fill=_INK, width=_SS)
        draw.text((x, bottom + tick * 1.6), _tick_label(value, xticks), fill=_INK, font=font, anchor="mt")
    for value, text in zip(yticks, ylabels, strict=True):
        y = axes.y(value)
        draw.line([(left, y), (right, y)], fill=_GRID, width=_SS)
        draw.line([(left - tick, y), (left, y)], fill=_INK, width=_SS)
        draw.text((left - tick * 1.6, y), text, fill=_INK, font=font, anchor="rm")


def _segments(points: list[tuple[float, float]], dash: float) -> list[list[tuple[float, float]]]:
    """A polyline cut into dashes of `dash` pixels, with gaps as long."""
    pieces: list[list[tuple[float, float]]] = []
    travelled, on, current = 0.0, True, [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length, done = math.hypot(x1 - x0, y1 - y0), 0.0
        while length - done > dash - travelled:
            done += dash - travelled
            t = done / length
            split = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
            if on:
                pieces.append([*current, split])
            current, on, travelled = [split], not on, 0.0
        travelled += length - done
        current.append((x1, y1))
    if on and len(current) > 1:
        pieces.append(current)
    return pieces


def _runs(xs: np.ndarray, ys: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The finite stretches of a series (matplotlib leaves a gap at a NaN or infinity)."""
    finite = np.isfinite(xs) & np.isfinite(ys)
    cuts = np.flatnonzero(np.diff(finite.astype(np.int8))) + 1
    return [
        (x[f], y[f])
        for x, y, f in zip(np.split(xs, cuts), np.split(ys, cuts), np.split(finite, cuts), strict=True)
        if f.all()
    ]


def _draw_series(draw, axes: _Axes, series: Series) -> None:
    width = max(1, round(series.width * DPI / 72 * _SS))
    for xs, ys in _runs(_xs(series), np.asarray(series.ys, dtype=float)):
        if series.step:  # where="post": each value held until the next x
            xs, ys = np.repeat(xs, 2)[1:], np.repeat(ys, 2)[:-1]
        points = [(axes.x(x), axes.y(y)) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
        if series.line and len(points) > 1:
            for piece in _segments(points, _points(3.7)) if series.dashed else [points]:
                draw.line(piece, fill=series.colour, width=width, joint="curve")
        if series.marker:
            for x, y in points:
                _marker(draw, series.marker, x, y, _points(series.markersize) / 2, series.colour)


def _marker(draw, kind: str, x: float, y: float, radius: float, colour: str) -> None:
    box = (x - radius, y - radius, x + radius, y + radius)
    (draw.ellipse if kind == "o" else draw.rectangle)(box, fill=colour)


def _draw_labels(image, draw, panel: Panel, axes: _Axes, area, label, title, pad: int) -> None:
    left, top, right, bottom = axes.box
    middle = (left + right) / 2
    if panel.title:
        draw.text((middle, top - pad * 1.5), panel.title, fill=_INK, font=title, anchor="md")
    if panel.xlabel:
        draw.text((middle, area[3] - pad), panel.xlabel, fill=_INK, font=label, anchor="md")
    if panel.ylabel:  # drawn level on its own image, then turned to read upwards
        strip = text_strip(panel.ylabel, label).rotate(90, expand=True)
        image.paste(strip, (area[0] + pad, round((top + bottom - strip.height) / 2)))


def text_strip(text: str, font, height: int | None = None, width: int | None = None) -> Image.Image:
    """`text` in black on a white image of its own size (or `width` x `height`), centred."""
    size = _text_size(text, font)
    width, height = width or size[0] + 2, height or size[1] + 4
    strip = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(strip).text((width / 2, height / 2), text, fill=_INK, font=font, anchor="mm")
    return strip


def _draw_legend(draw, panel: Panel, axes: _Axes, font) -> None:
    entries = [s for s in panel.series if s.label]
    if not entries:
        return
    pad, sample, line_height = _points(3), _points(16), _text_size("Ag", font)[1] + _points(4)
    text_width = max(_text_size(s.label, font)[0] for s in entries)
    box_width, box_height = pad * 3 + sample + text_width, pad * 2 + line_height * len(entries)
    _, top, right, bottom = axes.box
    x0 = right - pad * 2 - box_width
    y0 = top + pad * 2 if panel.legend == "upper right" else bottom - pad * 2 - box_height
    draw.rounded_rectangle((x0, y0, x0 + box_width, y0 + box_height), radius=pad, fill="white", outline=(204, 204, 204))
    for k, series in enumerate(entries):
        y = y0 + pad + line_height * (k + 0.5)
        if series.line:
            points = [(x0 + pad, y), (x0 + pad + sample, y)]
            for piece in _segments(points, _points(3.7)) if series.dashed else [points]:
                draw.line(piece, fill=series.colour, width=max(1, round(series.width * DPI / 72 * _SS)))
        if series.marker:
            _marker(
                draw, series.marker, x0 + pad + sample / 2, y, _points(min(series.markersize, 6)) / 2, series.colour
            )
        draw.text((x0 + pad * 2 + sample, y), series.label, fill=_INK, font=font, anchor="lm")
