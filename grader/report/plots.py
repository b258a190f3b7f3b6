"""The reports' pictures, drawn with matplotlib and embedded as PNG data URIs.

The object-oriented API (`Figure` with an Agg canvas) is used instead of pyplot:
reports are rendered from several grading threads at once, and pyplot's global
state is not thread-safe.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..rubric import AccuracyRule

__all__ = ["accuracy_histogram", "rubric_curve", "rubric_point", "score_histogram", "training_curves", "weight_grids"]

STUDENT, REFERENCE, RUBRIC = "#1f6feb", "#8b949e", "#d1242f"


def _data_uri(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def training_curves(student: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray] | None = None) -> str:
    """Loss history and train/validation accuracy of the baseline run, the student's beside the
    reference's when `reference` is given (the student view passes none: it would show hidden values)."""
    figure = Figure(figsize=(9, 3.4))
    loss, accuracy = figure.subplots(1, 2)
    runs = [(reference, REFERENCE, "reference")] if reference else []
    for stats, colour, who in [*runs, (student, STUDENT, "yours")]:
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


def weight_grids(student: np.ndarray, reference: np.ndarray | None = None, subopt: np.ndarray | None = None) -> str:
    """best_net's first-layer weights as images (the notebook's view), after the student's
    `subopt` net's (the weights question compares the two) and before the reference's
    best_net, each when given."""
    panels = [(subopt, "your subopt_net"), (student, "your best_net"), (reference, "reference best_net")]
    panels = [(grid, title) for grid, title in panels if grid is not None]
    figure = Figure(figsize=(4 * len(panels), 4.2))
    for axes, (grid, title) in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels, strict=True):
        axes.axis("off")
        axes.set_title(title)
        axes.imshow(grid)
    figure.tight_layout()
    return _data_uri(figure)


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


def rubric_curve(rule: AccuracyRule, accuracy: float | None) -> str:
    """The rubric multiplier against validation accuracy, with the student's marked at the
    multiplier their exact counts earn."""
    figure = Figure(figsize=(6, 3))
    axes = figure.subplots()
    right = min(100.0, max(70.0, float(rule.offset_percent + rule.span_percent) + 10, (accuracy or 0) * 100 + 5))
    xs, ys = _rubric_steps(rule, right)
    axes.step(xs, ys, where="post", color=RUBRIC, linewidth=1.2, label="rubric")
    if accuracy is not None:
        percent, mark = rubric_point(rule, accuracy)
        axes.plot([percent], [mark], "o", color=STUDENT, markersize=9, label=f"you: {accuracy:.1%}")
    axes.set(xlim=(0, right), ylim=(-0.05, 1.1), xlabel="validation accuracy of best_net (%)", ylabel="multiplier")
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
