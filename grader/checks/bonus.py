"""The bonus: `softmax_loss(x, y)`, the softmax cross-entropy loss and its gradient.

Public part (runs in `grader check` too): on all-zero scores the loss is exactly
log(C), and the gradient agrees with a numerical one. Hidden part: loss and
gradient against the reference's on random scores, one set of them large enough to
overflow exp() unless the row maximum is subtracted first.
"""

from __future__ import annotations

import math

from ..evidence import Evidence
from ..results import CheckResult
from ..rubric import CheckSpec
from .base import Context, Item, compare_with_reference, outcome, why_not_compared
from .netmath import rel_error

__all__ = ["CHECKS"]

HIDDEN_PROBES = ("softmax-hidden-1", "softmax-hidden-2", "softmax-hidden-3")


def check_softmax(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """Bonus points for each part of softmax_loss that is right."""
    public = evidence.probe("softmax-public")
    if not public.ok:
        # The starter's softmax_loss returns (None, None): that is "not attempted", not a crash.
        attempted = not public.not_implemented
        message = f"softmax-public: {public.summary()}" if attempted else "not attempted (softmax_loss returns None)"
        return outcome(
            spec,
            [Item("softmax-public", False, note=public.error[-2000:])],
            message,
            status="error" if attempted else "failed",
            fraction=0.0,
        )
    loss, dx, numdx = public.arrays["loss"], public.arrays["dx"], public.arrays["numdx"]
    classes = numdx.shape[1]
    items = [
        Item(
            "loss on all-zero scores",
            bool(loss.shape == () and abs(float(loss) - math.log(classes)) < 1e-9),
            math.log(classes),
            loss,
            f"log({classes})",
        ),
        Item(
            "gradient against a numerical gradient",
            dx.shape == numdx.shape and rel_error(dx, numdx) < 1e-7,
            "< 1e-07",
            rel_error(dx, numdx) if dx.shape == numdx.shape else f"shape {dx.shape}",
        ),
    ]
    if context.reference is not None:
        pairs = [(name, key) for name in HIDDEN_PROBES for key in ("loss", "dx")]
        items += compare_with_reference(evidence, context.reference, pairs, spec.tolerance)
    wrong = [i for i in items if not i.ok]
    message = f"{len(items) - len(wrong)}/{len(items)} parts right"
    if wrong:
        message += f"; first wrong: {wrong[0].label}" + why_not_compared(wrong[0])
        if any("softmax-hidden-3" in i.label for i in wrong) and len(wrong) <= 2:
            message += " (large scores overflow exp(): subtract each row's maximum first)"
    if context.reference is None:
        message += "; the hidden parts run when your work is graded"
    return outcome(spec, items, message)


CHECKS = {"bonus.softmax": check_softmax}
