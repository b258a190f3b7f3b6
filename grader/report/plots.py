"""The reports' pictures, drawn with matplotlib and embedded as PNG data URIs.

The object-oriented API (`Figure` with an Agg canvas) is used instead of pyplot:
reports are rendered from several grading threads at once, and pyplot's global
state is not thread-safe.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..rubric import AccuracyRule

__all__ = ["accuracy_histogram", "rubric_curve", "score_histogram", "training_curves", "weight_grids"]

STUDENT, REFERENCE, RUBRIC = "#1f6feb", "#8b949e", "#d1242f"


def _data_uri(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def training_curves(student: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> str:
    """Loss history and train/validation accuracy of the baseline run, student beside reference."""
    figure = Figure(figsize=(9, 3.4))
    loss, accuracy = figure.subplots(1, 2)
    for stats, colour, who in ((reference, REFERENCE, "reference"), (student, STUDENT, "yours")):
        if "loss_history" in stats:
            loss.plot(stats["loss_history"], color=colour, linewidth=0.8, label=who)
        if "train_acc_history" in stats:
            accuracy.plot(stats["train_acc_history"], color=colour, linestyle="--", marker="o", label=f"{who}: train")
        if "val_acc_history" in stats:
            accuracy.plot(stats["val_acc_history"], color=colour, marker="s", label=f"{who}: validation")
    loss.set(title="Training loss", xlabel="iteration", ylabel="loss")
    accuracy.set(title="Accuracy per epoch", xlabel="epoch", ylabel="accuracy")
    for axes in (loss, accuracy):
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=8)
    figure.tight_layout()
    return _data_uri(figure)


def weight_grids(student: np.ndarray | None, reference: np.ndarray | None) -> str:
    """best_net's first-layer weights as images (the notebook's view), student beside reference."""
    figure = Figure(figsize=(8, 4.2))
    for axes, grid, title in zip(
        figure.subplots(1, 2), (student, reference), ("your best_net", "reference best_net"), strict=True
    ):
        axes.axis("off")
        axes.set_title(title)
        if grid is None:
            axes.text(0.5, 0.5, "no best_net", ha="center", va="center", transform=axes.transAxes)
        else:
            axes.imshow(grid)
    figure.tight_layout()
    return _data_uri(figure)


def rubric_curve(rule: AccuracyRule, accuracy: float | None) -> str:
    """The rubric multiplier against validation accuracy, with the student's marked."""
    figure = Figure(figsize=(6, 3))
    axes = figure.subplots()
    counts = np.arange(0, 1001)
    multipliers = [float(rule.multiplier(int(c), 1000)) for c in counts]
    axes.step(counts / 10, multipliers, where="post", color=RUBRIC, linewidth=1.2, label="rubric")
    if accuracy is not None:
        mark = float(rule.multiplier(round(accuracy * 1000), 1000))
        axes.plot([accuracy * 100], [mark], "o", color=STUDENT, markersize=9, label=f"you: {accuracy:.1%}")
    axes.set(xlim=(0, 70), ylim=(-0.05, 1.1), xlabel="validation accuracy of best_net (%)", ylabel="multiplier")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return _data_uri(figure)


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
    axes.hist([a * 100 for a in accuracies], bins=np.arange(0, 72, 2), color=STUDENT, edgecolor="white")
    low, high = float(rule.offset_percent), float(rule.offset_percent + rule.span_percent)
    axes.axvline(low, color=RUBRIC, linestyle="--", label=f"no credit below {low:g}%")
    axes.axvline(high, color=RUBRIC, label=f"full credit from {high:g}%")
    axes.set(xlabel="validation accuracy of best_net (%)", ylabel="students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _data_uri(figure)
