"""The toy-model checks: forward scores, MSE loss, gradients, training.

Each comes twice. The public check replays the notebook's toy cells and applies the
thresholds the notebook prints (the seed's numbers are public: students see them).
The hidden check compares with the reference solution on inputs the student never
saw (other shapes, non-zero biases, other regularisation strengths), so an answer
that hard-codes the seed's numbers passes the first and fails the second.
"""

from __future__ import annotations

import numpy as np

from ..evidence import PARAM_NAMES, Evidence, ProbeOutcome
from ..results import CheckResult, Status
from ..rubric import CheckSpec
from . import netmath
from .base import Context, Item, compare_with_reference, hidden_skipped, outcome, shape_note, why_not_compared
from .netmath import rel_error

__all__ = ["CHECKS"]

# Printed by the notebook (toy-scores and toy-loss cells): public.
CORRECT_SCORES = np.array(
    [
        [-1.07260209, 0.05083871, -0.87253915],
        [-2.02778743, -0.10832494, -1.52641362],
        [-0.74225908, 0.15259725, -0.39578548],
        [-0.38172726, 0.10835902, -0.17328274],
        [-0.64417314, -0.18886813, -0.41106892],
    ]
)
CORRECT_LOSS = 1.8973332763705641
SEED_FINAL_TRAINING_LOSS = 0.02950555626206818
HIDDEN_CASES = (1, 2, 3)


def probe_failure(spec: CheckSpec, name: str, probe: ProbeOutcome) -> CheckResult:
    """The check's result when the probe it needs raised, timed out or never ran."""
    status: Status = "error" if probe.status in ("error", "timeout") else "failed"
    item = Item(name, False, note=probe.error[-3000:])
    return outcome(spec, [item], f"{name}: {probe.summary()}", status=status, fraction=0.0)


def _agreement(spec: CheckSpec, items: list[Item], probes: list[ProbeOutcome]) -> CheckResult:
    """The hidden check's result: the share of items that agree, and the first that does not;
    an error when every probe it rests on raised or ran out of time."""
    wrong = [i for i in items if not i.ok]
    message = f"{len(items) - len(wrong)}/{len(items)} agree with the reference"
    if wrong:
        # The label only: a hidden item's note (its relative error, say) would let a
        # student work the reference's value out from their own.
        message += f"; first difference: {wrong[0].label}" + why_not_compared(wrong[0])
    crashed = all(p.status in ("error", "timeout") for p in probes)
    return outcome(spec, items, message, status="error" if crashed else None)


def _hidden_items(spec: CheckSpec, evidence: Evidence, context: Context, pairs: list[tuple[str, str]]) -> CheckResult:
    """Compare output `key` of each (probe, key) with the reference's (skipped without one)."""
    if context.reference is None:
        return hidden_skipped(spec)
    probes = [evidence.probe(name) for name in dict.fromkeys(name for name, _ in pairs)]
    return _agreement(spec, compare_with_reference(evidence, context.reference, pairs, spec.tolerance), probes)


def check_scores(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The toy forward pass: sum of |scores - correct_scores| below the tolerance."""
    probe = evidence.probe("toy-scores")
    if not probe.ok:
        return probe_failure(spec, "toy-scores", probe)
    scores = probe.arrays["scores"]
    if scores.shape != CORRECT_SCORES.shape:
        item = Item("scores", False, CORRECT_SCORES, scores, shape_note(scores, CORRECT_SCORES.shape))
        return outcome(spec, [item], f"net.loss(X) returned {item.note}")
    difference = float(np.sum(np.abs(scores - CORRECT_SCORES)))
    ok = difference < spec.tolerance
    item = Item("scores", ok, CORRECT_SCORES, scores, f"sum of absolute differences {difference:.3g}")
    verdict = "matches" if ok else "differs from"
    return outcome(
        spec, [item], f"{verdict} the correct scores: difference {difference:.3g} (< {spec.tolerance:g} passes)"
    )


def check_scores_hidden(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Forward scores and predicted labels on three other nets, against the reference."""
    pairs = [(f"hidden-scores-{i}", "scores") for i in HIDDEN_CASES]
    pairs += [(f"hidden-predict-{i}", "labels") for i in HIDDEN_CASES]
    return _hidden_items(spec, evidence, context, pairs)


def check_loss(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The toy loss at reg=0.05 against the notebook's correct_loss_MSE."""
    probe = evidence.probe("toy-loss")
    if not probe.ok:
        return probe_failure(spec, "toy-loss", probe)
    loss = probe.arrays["loss"]
    if loss.shape != ():
        item = Item("loss", False, CORRECT_LOSS, loss, f"a scalar was expected, got shape {loss.shape}")
        return outcome(spec, [item], item.note)
    difference = abs(float(loss) - CORRECT_LOSS)
    ok = difference < spec.tolerance
    item = Item("loss", ok, CORRECT_LOSS, float(loss), f"difference {difference:.3g}")
    hint = "" if ok or abs(float(loss) - 2 * CORRECT_LOSS) > 0.5 else " (twice too large: is the 1/2 missing?)"
    return outcome(
        spec, [item], f"loss {float(loss)!r}: difference {difference:.3g} (< {spec.tolerance:g} passes){hint}"
    )


def check_loss_hidden(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The loss on other data and reg values, and MSE_loss itself, against the reference."""
    pairs = [(f"hidden-loss-{i}", "loss") for i in HIDDEN_CASES]
    pairs += [("hidden-mse", "loss"), ("hidden-mse", "dx")]
    return _hidden_items(spec, evidence, context, pairs)


def check_gradients(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The notebook's numerical gradient check: relative error below the tolerance."""
    probe = evidence.probe("toy-loss")
    if not probe.ok:
        return probe_failure(spec, "toy-loss", probe)
    items = []
    for name in PARAM_NAMES:
        analytic, numeric = probe.arrays[f"grads.{name}"], probe.arrays[f"numgrads.{name}"]
        if analytic.shape != numeric.shape:
            items.append(Item(name, False, note=shape_note(analytic, numeric.shape)))
            continue
        error = rel_error(numeric, analytic)
        items.append(Item(name, error < spec.tolerance, spec.tolerance, error, f"max relative error {error:.3g}"))
    worst = max(items, key=lambda i: i.observed if isinstance(i.observed, float) else np.inf)
    return outcome(
        spec,
        items,
        f"{sum(i.ok for i in items)}/4 gradients within {spec.tolerance:g}; worst: {worst.label} {worst.note}",
    )


def check_gradients_hidden(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Analytic gradients on other data and reg values, against the reference's."""
    pairs = [(f"hidden-loss-{i}", f"grads.{name}") for i in HIDDEN_CASES for name in PARAM_NAMES]
    return _hidden_items(spec, evidence, context, pairs)


def check_train(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The toy training run: 100 losses recorded and the last one below the tolerance."""
    probe = evidence.probe("toy-train")
    if not probe.ok:
        return probe_failure(spec, "toy-train", probe)
    history = probe.arrays["stats.loss_history"]
    items = [Item("iterations recorded", history.size == 100, 100, history.size)]
    final = float(history[-1]) if history.size else float("nan")
    items.append(
        Item(
            "final training loss",
            bool(final < spec.tolerance),
            SEED_FINAL_TRAINING_LOSS,
            final,
            f"below {spec.tolerance:g} passes",
        )
    )
    if history.size != 100:
        message = f"{history.size} losses recorded, not one per iteration (100); final training loss {final:.6g}"
    elif abs(final - SEED_FINAL_TRAINING_LOSS) < 1e-9:
        message = f"final training loss {final!r}: exactly the notebook's"
    else:
        message = (
            f"final training loss {final:.6g} "
            f"(the notebook's: {SEED_FINAL_TRAINING_LOSS:.6g}; below {spec.tolerance:g} passes)"
        )
    return outcome(spec, items, message, fraction=1.0 if all(i.ok for i in items) else 0.0)


def _trained_loss(probe: ProbeOutcome, X: np.ndarray, y: np.ndarray) -> float:
    params = {name: probe.arrays.get(f"params.{name}") for name in PARAM_NAMES}
    shapes_ok = all(p is not None and np.all(np.isfinite(p)) for p in params.values())
    try:
        return netmath.data_loss(params, X, y) if shapes_ok else float("inf")
    except ValueError:  # parameters of the wrong shapes
        return float("inf")


def check_train_hidden(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """SGD steps and learning-rate decay on batch-independent data (exact), history
    lengths, and learning on separable clusters (at least near the reference)."""
    if context.reference is None:
        return hidden_skipped(spec)
    keys = [f"params.{n}" for n in PARAM_NAMES] + ["stats.loss_history"]
    items = compare_with_reference(
        evidence, context.reference, [("hidden-train-exact", k) for k in keys], spec.tolerance
    )
    probe, ref = evidence.probe("hidden-train-learn"), context.reference.probe("hidden-train-learn")
    if not probe.ok:
        items.append(Item("hidden-train-learn", False, note=probe.summary(), hidden=True))
    else:
        for key in ("stats.loss_history", "stats.train_acc_history", "stats.val_acc_history"):
            size, wanted = probe.arrays[key].size, ref.arrays[key].size
            items.append(Item(f"hidden-train-learn: len({key[6:]})", size == wanted, wanted, size, hidden=True))
        # The probe trained on the grader's own data: the loss that counts is computed here.
        inputs = context.probe_inputs["hidden-train-learn"].arrays
        X, y = inputs["X"], inputs["y"]
        student = _trained_loss(probe, X, y)
        expected = _trained_loss(ref, X, y)
        bound = 1.5 * expected + 0.02
        items.append(
            Item(
                "hidden-train-learn: data loss after training",
                student <= bound,
                expected,
                student,
                f"at most {bound:.3g} passes",
                hidden=True,
            )
        )
    return _agreement(spec, items, [evidence.probe("hidden-train-exact"), probe])


CHECKS = {
    "toy.scores": check_scores,
    "toy.scores.hidden": check_scores_hidden,
    "toy.loss": check_loss,
    "toy.loss.hidden": check_loss_hidden,
    "toy.gradients": check_gradients,
    "toy.gradients.hidden": check_gradients_hidden,
    "toy.train": check_train,
    "toy.train.hidden": check_train_hidden,
}
