"""The class summary's histograms, drawn with matplotlib once per class (a student's report
draws no matplotlib figure: see `plots`).

The object-oriented API (`Figure` with an Agg canvas) is used instead of pyplot: pages are
rendered from several grading threads at once, and pyplot's global state is not thread-safe.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..rubric import AccuracyRule
from .charts import DPI
from .plots import RUBRIC, STUDENT, png_uri

__all__ = ["accuracy_histogram", "score_histogram"]


def _data_uri(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # No bbox_inches="tight": the figures are laid out by tight_layout already, and a tight
    # bounding box draws the whole figure a second time to measure it.
    figure.savefig(buffer, format="png", dpi=DPI)
    return png_uri(buffer.getvalue())


def score_histogram(scores: Sequence[float], maximum: float) -> str:
    """The class's total scores."""
    figure = Figure(figsize=(6, 3))
    axes = figure.subplots()
    axes.hist(scores, bins=np.linspace(0, max(maximum, max(scores, default=0)), 21), color=STUDENT, edgecolor="white")
    axes.set(xlabel=f"total score (of {maximum:g})", ylabel="students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _data_uri(figure)


def accuracy_histogram(accuracies: Sequence[float], rule: AccuracyRule) -> str:
    """The class's best_net validation accuracies, with the rubric's zero and full-credit lines."""
    figure = Figure(figsize=(6, 3))
    axes = figure.subplots()
    high = max(70, 2 * math.ceil(max(accuracies, default=0) * 50))  # 2% bins, none left off the right
    axes.hist([a * 100 for a in accuracies], bins=np.arange(0, high + 1, 2), color=STUDENT, edgecolor="white")
    low, high = float(rule.offset_percent), float(rule.offset_percent + rule.span_percent)
    axes.axvline(low, color=RUBRIC, linestyle="--", label=f"no credit below {low:g}%")
    axes.axvline(high, color=RUBRIC, label=f"full credit from {high:g}%")
    axes.set(xlabel="validation accuracy of best_net (%)", ylabel="students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _data_uri(figure)
