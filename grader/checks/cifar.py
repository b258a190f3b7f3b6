"""The CIFAR-10 checks: the untuned baseline, the tuned `best_net`, its test accuracy.

Every accuracy here is recomputed by the grader from harvested parameters, on its
own copy of the notebook's split (`Context.split`), with the reference
architecture: what the student's code printed is shown beside it, never believed.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from ..evidence import PARAM_NAMES, Evidence
from ..results import CheckResult, Status
from ..rubric import CheckSpec
from . import netmath
from .base import Context, Item, hidden_skipped, outcome
from .toy import probe_failure

__all__ = ["CHECKS", "correct_on", "net_problem", "validation_accuracy"]

INPUT_SIZE, NUM_CLASSES = 3072, 10


def _shapes(hidden: int) -> dict[str, tuple[int, ...]]:
    return {"W1": (hidden, INPUT_SIZE), "b1": (hidden,), "W2": (NUM_CLASSES, hidden), "b2": (NUM_CLASSES,)}


def net_problem(params: Mapping[str, np.ndarray]) -> str:
    """Why these parameters are not a usable CIFAR-10 net (of any hidden size), or ''."""
    hidden = params["W1"].shape[0] if params["W1"].ndim == 2 else -1
    for name, shape in _shapes(hidden).items():
        if params[name].shape != shape:
            return f"{name} has shape {params[name].shape}, expected {shape}"
    if not all(np.all(np.isfinite(p)) for p in params.values()):
        return "its parameters contain NaN or infinity (did training diverge?)"
    return ""


def correct_on(params: Mapping[str, np.ndarray], context: Context, split: str) -> tuple[int, int]:
    """(right, rows) of the net on one part of the grader's split: val, test or unseen."""
    assert context.split is not None
    X, y = context.split.load(f"X_{split}"), context.split.load(f"y_{split}")
    return netmath.correct_count(params, X, y), len(y)


def validation_accuracy(evidence: Evidence, context: Context) -> float | None:
    """best_net's recomputed validation accuracy (the leaderboard value), if it has one."""
    harvest = evidence.harvest
    if context.split is None or harvest is None or "best_net" not in harvest.nets:
        return None
    params = harvest.nets["best_net"]
    if net_problem(params):
        return None
    correct, total = correct_on(params, context, "val")
    return correct / total


def _cells_about(evidence: Evidence, name: str) -> list[str]:
    """The failed cells whose code mentions `name`: where the student should look."""
    cells = evidence.notebook.cells if evidence.notebook is not None else []
    return [c.describe() for c in evidence.failed_cells() if c.index < len(cells) and name in cells[c.index].source]


def _stopped_search(evidence: Evidence, context: Context) -> str:
    """Why best_net is the net of a search that was stopped short, or '' when it was not."""
    cells = evidence.notebook.cells if evidence.notebook is not None else []
    limits = context.rubric.limits
    for c in evidence.cells:
        if c.status == "timeout" and c.index < len(cells) and "best_net" in cells[c.index].source:
            if c.stopped_by_whole_limit:
                limit = f"the {limits.timeout:g} s limit for the whole submission"
            else:
                limit = f"the {limits.cell_timeout:g} s cell limit"
            stopped = f"the search (cell {c.index + 1}) ran past {limit} and was stopped"
            return f"{stopped}; best_net as it stood then was graded"
    return ""


def _missing_net(spec: CheckSpec, evidence: Evidence, name: str) -> CheckResult:
    harvest = evidence.harvest
    why = harvest.notes.get(name, "missing") if harvest else evidence.run_problem or "the notebook did not finish"
    failing = _cells_about(evidence, name)[:2]
    message = f"no usable {name}: {why}" + (f"; {'; '.join(failing)}" if failing else "")
    # A cell that raised or ran out of time is why: an error, as for a probe that did.
    return outcome(spec, [Item(name, False, note=why)], message, status="error" if failing else None)


def _no_data(spec: CheckSpec) -> CheckResult:
    message = "no CIFAR-10 data was given: not checked, and not counted in the total"
    return outcome(spec, [], message, status="skipped", fraction=0.0)


def check_baseline(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The 1.6.1 settings trained by the student's `train` from the grader's initial
    weights: validation accuracy within the tolerance of the reference's."""
    if context.split is None:
        return _no_data(spec)
    if context.reference is None:
        return hidden_skipped(spec)
    probe, ref = evidence.probe("cifar-baseline"), context.reference.probe("cifar-baseline")
    if not probe.ok:
        return probe_failure(spec, "cifar-baseline", probe)
    params = {n: probe.arrays.get(f"params.{n}") for n in PARAM_NAMES}
    if any(p is None for p in params.values()):
        return outcome(spec, [Item("params", False, note="train left no params")], "train left no parameters")
    problem = net_problem(params)
    if problem:
        return outcome(spec, [Item("params", False, note=problem)], f"after training, {problem}")
    correct, total = correct_on(params, context, "val")
    ref_correct, _ = correct_on({n: ref.arrays[f"params.{n}"] for n in PARAM_NAMES}, context, "val")
    student, expected = correct / total, ref_correct / total
    ok = abs(student - expected) <= spec.tolerance
    item = Item(
        "validation accuracy", ok, expected, student, f"within {spec.tolerance:g} of the reference passes", hidden=True
    )
    verdict = "as expected" if ok else "too far from the untuned reference network"
    return outcome(spec, [item], f"validation accuracy {student:.1%} after the 1.6.1 settings: {verdict}")


def _best_net(spec: CheckSpec, evidence: Evidence, context: Context) -> Mapping[str, np.ndarray] | CheckResult:
    """best_net's parameters, or the result that says why there are none to check."""
    if context.split is None:
        return _no_data(spec)
    harvest = evidence.harvest
    if harvest is None or "best_net" not in harvest.nets:
        return _missing_net(spec, evidence, "best_net")
    return harvest.nets["best_net"]


def check_tuned(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """best_net's validation accuracy X, scored min(floor(X - 23%) / 22%, 1) from counts."""
    params = _best_net(spec, evidence, context)
    if isinstance(params, CheckResult):
        return params
    rule = context.rubric.accuracy
    hidden = params["W1"].shape[0] if params["W1"].ndim == 2 else -1
    if hidden != rule.hidden_size:
        item = Item("hidden size", False, rule.hidden_size, hidden)
        return outcome(spec, [item], f"best_net has {hidden} hidden units; the rubric requires {rule.hidden_size}")
    problem = net_problem(params)
    if problem:
        return outcome(spec, [Item("best_net", False, note=problem)], f"best_net: {problem}")
    correct, total = correct_on(params, context, "val")
    multiplier = rule.multiplier(correct, total)
    percent = Fraction(100 * correct, total)
    items = [
        Item(
            "validation accuracy",
            multiplier >= 1,
            f">= {rule.offset_percent + rule.span_percent}%",
            f"{float(percent):g}% ({correct}/{total})",
        ),
        Item(
            "rubric multiplier",
            multiplier >= 1,
            1,
            float(multiplier),
            f"min(floor({float(percent):g} - {rule.offset_percent}) / {rule.span_percent}, 1)",
        ),
    ]
    message = f"validation accuracy {float(percent):g}% ({correct}/{total}): multiplier {float(multiplier):.4g}"
    claimed = evidence.harvest.numbers.get("best_valid_acc") if evidence.harvest else None
    if claimed is not None and abs(claimed - correct / total) > 0.5 / total:
        message += f"; the notebook reported {claimed:g} (the grader recomputes it from best_net's weights)"
    stopped = _stopped_search(evidence, context)
    if stopped:
        message += f"; {stopped}"
    return outcome(
        spec, items, message, fraction=float(multiplier), expected=items[0].expected, observed=correct / total
    )


def check_test(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """best_net evaluated on the test set: the notebook's test_acc must be best_net's
    (within the tolerance: a net whose own predict differs from the assignment's
    architecture still evaluated the right net)."""
    params = _best_net(spec, evidence, context)
    if isinstance(params, CheckResult):
        return params
    problem = net_problem(params)
    if problem:
        return outcome(spec, [Item("best_net", False, note=problem)], f"best_net: {problem}")
    correct, total = correct_on(params, context, "test")
    reported = evidence.harvest.numbers.get("test_acc") if evidence.harvest else None
    ok = reported is not None and abs(reported - correct / total) <= spec.tolerance
    item = Item(
        "test_acc",
        ok,
        correct / total,
        reported,
        f"the notebook's test_acc within {spec.tolerance:g} of best_net's, recomputed",
    )
    failing = _cells_about(evidence, "test_acc")[:1] if reported is None else []
    if ok:
        message = f"test accuracy of best_net: {correct / total:.1%} ({correct}/{total})"
    elif reported is None:
        message = "the notebook left no test_acc" + (f"; {failing[0]}" if failing else "")
    else:
        message = f"the notebook's test_acc is {reported:g}, but best_net scores {correct / total:g} on the test set"
    status: Status | None = "error" if failing else None  # the cell that makes test_acc raised or ran out of time
    return outcome(spec, [item], message, status=status, expected=correct / total, observed=reported)


CHECKS = {
    "cifar.baseline": check_baseline,
    "cifar.tuned": check_tuned,
    "cifar.test": check_test,
}
