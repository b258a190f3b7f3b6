"""The arrays a report plots, kept next to `results.json` when a submission is graded.

`grader report` re-renders reports from stored results without regrading, so what
the plots need is saved at grading time, small: the histories of the baseline run
(the 1.6.1 settings, from the grader's probe) and the first-layer weights of `best_net` and
`subopt_net`, already tiled into the notebook's `visualize_grid` picture (uint8).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..checks.cifar import net_problem
from ..evidence import HARVESTED_NETS, Evidence
from ..fsutil import atomic_write_bytes

__all__ = ["ARTIFACTS", "load_artifacts", "save_artifacts", "weight_grid"]

ARTIFACTS = "artifacts.npz"
HISTORIES = ("loss_history", "train_acc_history", "val_acc_history")
_MAX_HISTORY = 100_000


def weight_grid(W1: np.ndarray, starter: Path) -> np.ndarray:
    """First-layer weights as the notebook shows them, tiled by the course's own
    `data/vis_utils.visualize_grid` (the official copy from the starter, not the student's)."""
    # Compiled here rather than imported, so that no __pycache__ is written into the course folder.
    path = starter / "data" / "vis_utils.py"
    namespace: dict[str, Any] = {"__name__": "course_vis_utils", "__file__": str(path)}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    images = W1.T.reshape(32, 32, 3, -1).transpose(3, 0, 1, 2)
    return namespace["visualize_grid"](images, padding=3).astype(np.uint8)


def save_artifacts(evidence: Evidence, folder: Path, starter: Path) -> None:
    """Save what this run's report will plot to `folder/artifacts.npz` (atomically)."""
    arrays: dict[str, np.ndarray] = {}
    baseline = evidence.probe("cifar-baseline")
    if baseline.ok:
        for key in HISTORIES:
            history = baseline.arrays.get(f"stats.{key}")
            if history is not None and history.ndim == 1 and history.size <= _MAX_HISTORY:
                arrays[f"baseline.{key}"] = history
    harvest = evidence.harvest
    for name in HARVESTED_NETS:  # the weights question compares the two
        net = harvest.nets.get(name) if harvest else None
        if net is not None and not net_problem(net):
            arrays[f"{name}.grid"] = weight_grid(net["W1"], starter)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(folder / ARTIFACTS, buffer.getvalue())


def load_artifacts(folder: Path) -> dict[str, np.ndarray]:
    """The saved arrays of `folder` (empty when there are none)."""
    path = folder / ARTIFACTS
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
