"""The public checks of the seed homework, as code both peers' test cells run.

Each check recomputes what it asserts from the notebook's own functions (`init_toy_model`,
`init_toy_data`, `rel_error`, `correct_scores`, `correct_loss_MSE`, `best_net`, `X_val`) rather than
reading a variable a later cell may overwrite: otter runs its tests after the whole notebook,
nbgrader right after the cell they follow, and the same source must mean the same in both. The
random state is saved and restored so that an inline test does not change what later cells draw.
Points, tolerances and the accuracy rule come from `solutions/rubric.toml`, never from here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the product supports 3.10, whose tomli it installs
    import tomli as tomllib

__all__ = ["Check", "accuracy_expression", "public_checks"]


@dataclass(frozen=True)
class Check:
    """One graded test: the rubric entry it mirrors, the notebook cell it follows, its code."""

    key: str  # the rubric's check, e.g. "toy.loss"
    name: str  # an identifier for the peer (grade_id, question name)
    after: str  # the id of the notebook cell the test cell goes after
    points: float
    source: str  # asserts; for the accuracy, ends in an expression (see accuracy_expression)


def _guarded(body: str) -> str:
    """`body` with the global random state saved before and restored after (even on failure)."""
    indented = "\n".join("    " + line if line else line for line in body.strip().splitlines())
    return f"_rng_state = np.random.get_state()\ntry:\n{indented}\nfinally:\n    np.random.set_state(_rng_state)\n"


def _rubric(solutions: Path) -> dict:
    with (solutions / "rubric.toml").open("rb") as handle:
        return tomllib.load(handle)


def accuracy_expression(solutions: Path) -> tuple[float, float, float]:
    """The accuracy rule's (points, offset %, span %): points * min(floor(X - offset) / span, 1), >= 0."""
    rubric = _rubric(solutions)
    rule = rubric["accuracy"]
    return float(rubric["checks"]["cifar.tuned"]["points"]), float(rule["offset_percent"]), float(rule["span_percent"])


def public_checks(solutions: Path) -> list[Check]:
    """The toy checks as the notebook states them, with the rubric's points and tolerances."""
    checks = _rubric(solutions)["checks"]

    def tol(key: str) -> float:
        return float(checks[key]["tolerance"])

    def pts(key: str) -> float:
        return float(checks[key]["points"])

    scores = f"""
_Xt, _yt = init_toy_data()
_diff = np.sum(np.abs(init_toy_model().loss(_Xt) - correct_scores))
assert _diff < {tol("toy.scores")!r}, f"scores differ from correct_scores by {{_diff}}"
"""
    loss = f"""
_Xt, _yt = init_toy_data()
_loss, _ = init_toy_model().loss(_Xt, _yt, reg=0.05)
assert abs(_loss - correct_loss_MSE) < {tol("toy.loss")!r}, f"loss {{_loss}} != {{correct_loss_MSE}}"
"""
    gradients = f"""
from data.gradient_check import eval_numerical_gradient
_Xt, _yt = init_toy_data()
_net = init_toy_model()
_, _grads = _net.loss(_Xt, _yt, reg=0.05)
for _name in _grads:
    _num = eval_numerical_gradient(lambda W: _net.loss(_Xt, _yt, reg=0.05)[0], _net.params[_name], verbose=False)
    _err = rel_error(_num, _grads[_name])
    assert _err < {tol("toy.gradients")!r}, f"{{_name}} max relative error {{_err}}"
"""
    train = f"""
_Xt, _yt = init_toy_data()
_stats = init_toy_model().train(_Xt, _yt, _Xt, _yt, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
assert _stats["loss_history"][-1] < {tol("toy.train")!r}, f"final training loss {{_stats['loss_history'][-1]}}"
"""
    return [
        Check("toy.scores", "toy_scores", "toy-scores", pts("toy.scores"), _guarded(scores)),
        Check("toy.loss", "toy_loss", "toy-loss", pts("toy.loss"), _guarded(loss)),
        Check("toy.gradients", "toy_gradients", "toy-gradients", pts("toy.gradients"), _guarded(gradients)),
        Check("toy.train", "toy_train", "toy-train", pts("toy.train"), _guarded(train)),
    ]


def validation_accuracy_source() -> str:
    """Code leaving best_net's validation accuracy in percent in `_val_pct`, recomputed, not read
    from the notebook's `best_valid_acc` (which a student can set to anything)."""
    return "_val_pct = 100.0 * float(np.mean(best_net.predict(X_val) == y_val))\n"
