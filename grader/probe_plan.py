"""The module probes: which calls into `neural_net.py` the grader makes, on which inputs.

A probe is one call (or a short, fixed sequence of calls) into the student's module
with inputs the grader chose. The same plan runs against the reference solution,
so a hidden check compares the student's outputs with the reference's on identical
inputs. The public probes replay the notebook's toy cells exactly; the hidden ones
use other shapes, weights with non-zero biases, other regularisation strengths,
data on which SGD's random batches cannot change the result, and the CIFAR-10
split. Inputs come from a fixed seed, so every run of the grader makes the same.

This module writes the plan for the sandbox (`write_plan`) and reads the outcomes
back (`read_outcomes`), validating them: a probe's files are untrusted data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .evidence import ProbeOutcome

__all__ = [
    "BASELINE_SETTINGS",
    "ProbeSpec",
    "plan_probes",
    "read_outcomes",
    "write_plan",
]

# The notebook's 1.6.1 cell: the untuned network every student trains first.
BASELINE_SETTINGS: Mapping[str, Any] = {
    "num_iters": 1000,
    "batch_size": 200,
    "learning_rate": 1e-5,
    "learning_rate_decay": 0.95,
    "reg": 0.1,
}
_MAX_OUTPUT_BYTES = 64 << 20  # no honest probe output comes near this


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: a name, a kind the harness knows, options and input arrays."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    timeout: float = 60.0  # seconds


def _params(rng: np.random.Generator, D: int, H: int, C: int, scale: float) -> dict[str, np.ndarray]:
    # Non-zero biases: the toy model's are zero, so only these catch a forgotten bias.
    return {
        "params.W1": scale * rng.standard_normal((H, D)),
        "params.b1": scale * rng.standard_normal(H),
        "params.W2": scale * rng.standard_normal((C, H)),
        "params.b2": scale * rng.standard_normal(C),
    }


def _public_probes() -> list[ProbeSpec]:
    toy = [ProbeSpec(f"toy-{part}", "toy", {"part": part}) for part in ("scores", "loss", "train")]
    uniform = ProbeSpec(
        "softmax-public",
        "function",
        {"function": "softmax_loss", "numgrad": True},
        {"x": np.zeros((4, 6)), "y": np.array([0, 5, 2, 2])},
    )
    return [*toy, uniform]


def _hidden_probes(rng: np.random.Generator) -> list[ProbeSpec]:
    probes = []
    shapes = [(7, 13, 4, 9, 0.0), (20, 6, 5, 11, 0.3), (3, 8, 10, 6, 1.7)]
    for i, (D, H, C, N, reg) in enumerate(shapes, start=1):
        arrays = {**_params(rng, D, H, C, 0.5), "X": 3 * rng.standard_normal((N, D)), "y": rng.integers(0, C, N)}
        probes.append(ProbeSpec(f"hidden-scores-{i}", "scores", {}, arrays))
        probes.append(ProbeSpec(f"hidden-loss-{i}", "loss", {"reg": reg}, arrays))
        probes.append(ProbeSpec(f"hidden-predict-{i}", "predict", {}, arrays))
    x, y = 2 * rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    probes.append(ProbeSpec("hidden-mse", "function", {"function": "MSE_loss"}, {"x": x, "y": y}))
    probes.append(_exact_train_probe(rng))
    probes.append(_learning_train_probe(rng))
    for i, scale in enumerate((1.0, 4.0, 400.0), start=1):
        # The last scale overflows exp() unless the maximum is subtracted first.
        x, y = scale * rng.standard_normal((8, 6)), rng.integers(0, 6, 8)
        probes.append(ProbeSpec(f"softmax-hidden-{i}", "function", {"function": "softmax_loss"}, {"x": x, "y": y}))
    return probes


def _exact_train_probe(rng: np.random.Generator) -> ProbeSpec:
    """Every training row is the same, so every random batch gives the same gradient:
    the parameters after training depend only on the SGD steps and the learning-rate
    schedule, not on how the batches were drawn, and must match the reference's."""
    D, H, C, N = 5, 7, 3, 12
    row = rng.standard_normal(D)
    X = np.tile(row, (N, 1))
    y = np.full(N, 1)
    settings = {"learning_rate": 0.05, "learning_rate_decay": 0.9, "reg": 0.01, "num_iters": 10, "batch_size": 4}
    arrays = {**_params(rng, D, H, C, 0.5), "X": X, "y": y, "X_val": X[:3], "y_val": y[:3]}
    return ProbeSpec("hidden-train-exact", "train", {"seed": 7, "settings": settings}, arrays)


def _learning_train_probe(rng: np.random.Generator) -> ProbeSpec:
    """Four separable clusters: a working `train` must drive the loss well down."""
    D, H, C, N = 10, 12, 4, 300
    centres = 2.0 * rng.standard_normal((C, D))
    y = rng.integers(0, C, N)
    X = centres[y] + 0.7 * rng.standard_normal((N, D))
    settings = {"learning_rate": 0.05, "learning_rate_decay": 0.95, "reg": 1e-3, "num_iters": 200, "batch_size": 30}
    arrays = {**_params(rng, D, H, C, 0.1), "X": X, "y": y, "X_val": X[:100], "y_val": y[:100]}
    return ProbeSpec("hidden-train-learn", "train", {"seed": 11, "settings": settings}, arrays)


def _baseline_probe(rng: np.random.Generator) -> ProbeSpec:
    # The same initial weights for everyone, drawn as TwoLayerNet draws them (std 1e-4).
    arrays = _params(rng, 3072, 50, 10, 1e-4)
    arrays["params.b1"], arrays["params.b2"] = np.zeros(50), np.zeros(10)
    options = {"seed": 145, "settings": dict(BASELINE_SETTINGS), "data_dir": ""}
    return ProbeSpec("cifar-baseline", "cifar_train", options, arrays, timeout=600.0)


def plan_probes(*, hidden: bool, cifar: bool) -> list[ProbeSpec]:
    """The probes to run: the public ones, plus the hidden ones and the CIFAR run if asked."""
    probes = _public_probes()
    rng = np.random.default_rng(20201109)  # fixed: the same inputs in every run
    if hidden:
        probes += _hidden_probes(rng)
    if cifar:
        probes.append(_baseline_probe(rng))
    return probes


def write_plan(probes: Iterable[ProbeSpec], inputs_path: Path, data_dir: str = "") -> list[dict[str, Any]]:
    """Save every probe's arrays to `inputs_path` (.npz); return the job's probe list."""
    arrays = {f"{p.name}/{key}": value for p in probes for key, value in p.arrays.items()}
    np.savez(inputs_path, **arrays)
    listed = []
    for p in probes:
        options = dict(p.options)
        if p.kind == "cifar_train":
            options["data_dir"] = data_dir
        listed.append({"name": p.name, "kind": p.kind, "options": options, "timeout": p.timeout})
    return listed


def read_outcomes(
    out_dir: Path, probes: Iterable[ProbeSpec], timed_out: bool = False, exit_status: int | None = None
) -> dict[str, ProbeOutcome]:
    """Each probe's outcome from `out_dir/probes`, validated; a bad file is an error outcome.

    `timed_out`: the probe process was stopped at its time limit, so a probe that
    left no status ran out of time (rather than not being run at all). `exit_status`: the
    probe process ended with that status (negative: killed by that signal), so a probe that
    left no status was never reached because the module exited or crashed.
    """
    folder = out_dir / "probes"
    outcomes: dict[str, ProbeOutcome] = {}
    module_failure = _status(folder / "_import.json")
    for probe in probes:
        status = _status(folder / f"{probe.name}.json")
        if status is None and module_failure and module_failure.get("status") != "ok":
            error = "importing the module failed:\n" + str(module_failure.get("error", ""))
            outcomes[probe.name] = ProbeOutcome(str(module_failure.get("status")), error=error)
        elif status is None and timed_out:
            outcomes[probe.name] = ProbeOutcome("timeout", error="the probes ran out of time")
        elif status is None and exit_status is not None:
            outcomes[probe.name] = ProbeOutcome("error", error=_ended(exit_status))
        elif status is None:
            outcomes[probe.name] = ProbeOutcome("missing", error="the probe did not run (the run was stopped)")
        elif status.get("status") != "ok":
            outcomes[probe.name] = ProbeOutcome(
                "timeout" if status.get("status") == "timeout" else "error",
                error=str(status.get("error", ""))[-6000:],
                seconds=_seconds(status),
                not_implemented=status.get("not_implemented") is True,
            )
        else:
            outcomes[probe.name] = _read_arrays(folder / f"{probe.name}.npz", _seconds(status))
    return outcomes


def _ended(exit_status: int) -> str:
    """Why a probe left nothing when the probe process ended early, in a student's words."""
    how = f"was killed by signal {-exit_status}" if exit_status < 0 else f"exited with status {exit_status}"
    return f"the process running your module {how} before this probe ran: does neural_net.py exit or crash?"


def _status(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 1 << 20:
            return {"status": "error", "error": f"{path.name} is implausibly large"}
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"status": "error", "error": f"unreadable probe status: {exc}"}
    return value if isinstance(value, dict) else {"status": "error", "error": "malformed probe status"}


def _seconds(status: Mapping[str, Any]) -> float:
    value = status.get("seconds", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _read_arrays(path: Path, seconds: float) -> ProbeOutcome:
    try:
        if path.stat().st_size > _MAX_OUTPUT_BYTES:
            return ProbeOutcome("error", error=f"{path.name}: the outputs are implausibly large")
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.array(data[key], dtype=np.float64) for key in data.files}
    except (OSError, ValueError, TypeError) as exc:
        return ProbeOutcome("error", error=f"{path.name}: unreadable outputs ({exc})")
    return ProbeOutcome("ok", arrays, seconds=seconds)
