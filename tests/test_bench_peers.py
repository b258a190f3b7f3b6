"""The peers' versions of the homework (benchmarks/peers), tested without the peers installed.

The test cells nbgrader and otter-grader would run are checked for what they are made of (valid
nbgrader metadata with the rubric's points, balanced otter blocks, the accuracy rule's thresholds)
and run in plain Python against the reference's and a wrong module, with the notebook's own toy
cells as their setting: no kernel, no CIFAR, no nbgrader.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.peers import nbgrader_peer, otter_peer  # noqa: E402
from benchmarks.peers.checks import accuracy_expression, public_checks  # noqa: E402
from benchmarks.peers.notebooks import read  # noqa: E402

SOLUTIONS = ROOT / "solutions"


def test_nbgrader_source_has_one_locked_grade_cell_per_check_after_its_cell(tmp_path: Path) -> None:
    course, checks = nbgrader_peer.build_course(tmp_path, SOLUTIONS, ROOT / "assignment", 900)
    notebook = read(course / "source" / "hw3" / "toy_nn.ipynb")
    graded = [(i, c) for i, c in enumerate(notebook.cells) if "nbgrader" in c.metadata]
    assert len(graded) == checks == 5
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for _, c in graded}
    assert points == {"toy_scores": 4, "toy_loss": 4, "toy_gradients": 2, "toy_train": 4, "cifar_tuned": 25}
    for index, cell in graded:
        meta = cell.metadata["nbgrader"]
        assert meta["grade"] and meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
        assert notebook.cells[index - 1].get("id") in {"toy-scores", "toy-loss", "toy-gradients", "toy-train",
                                                       "cifar-search"}  # fmt: skip
    # the student's module is never overwritten by the starter's at autograde
    assert "hw3code/neural_net.py" in (course / "nbgrader_config.py").read_text()


def test_otter_master_blocks_balance_and_the_thresholds_are_the_rubric_rule() -> None:
    master = otter_peer.master_notebook(SOLUTIONS)
    raws = [c.source.splitlines()[0] for c in master.cells if c.cell_type == "raw"]
    assert raws[0] == "# ASSIGNMENT CONFIG"
    assert raws.count("# BEGIN QUESTION") == raws.count("# END QUESTION") == 5
    assert raws.count("# BEGIN TESTS") == raws.count("# END TESTS") == 5
    points, offset, span = accuracy_expression(SOLUTIONS)
    thresholds = [t for c, tests in otter_peer._questions(SOLUTIONS) if c.key == "cifar.tuned" for t in tests]
    for accuracy in (20.0, 23.9, 24.0, 30.5, 44.99, 45.0, 61.0):
        passed = 0
        for source in thresholds:
            try:
                exec(source.replace("_val_pct = ", f"_val_pct = {accuracy} or "), {"np": np})
                passed += 1
            except AssertionError:
                pass
        rule = points * max(0.0, min(math.floor(accuracy - offset) / span, 1.0))
        assert passed * points / len(thresholds) == pytest.approx(rule)


def _toy_namespace(module: Path) -> dict:
    """The notebook's toy setting (its setup, toy-setup and expected values) with `module`'s net."""
    spec = importlib.util.spec_from_file_location(f"peer_test_{module.parent.parent.name}", module)
    net_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(net_module)
    cells = {c.get("id"): c.source for c in read(SOLUTIONS / "toy_nn.ipynb").cells}
    namespace = {"np": np, "TwoLayerNet": net_module.TwoLayerNet}
    setup = "\n".join(
        line
        for line in cells["setup"].splitlines()
        if not line.lstrip().startswith(("%", "from data", "import matplotlib", "plt."))
    )
    exec(setup, namespace)
    exec(cells["toy-setup"], namespace)
    for name, cell in (("correct_scores", "toy-scores"), ("correct_loss_MSE", "toy-loss")):
        line = cells[cell].index(name + " =")  # the expected value as the notebook states it
        exec(cells[cell][line:].split("\n\n")[0].split("\nprint")[0], namespace)
    return namespace


@pytest.fixture
def helpers_on_path(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(SOLUTIONS))  # `from data.gradient_check import ...` in a check
    yield
    sys.modules.pop("data.gradient_check", None)
    sys.modules.pop("data", None)


def test_the_checks_pass_the_reference_and_catch_a_forgotten_half(tmp_path: Path, helpers_on_path) -> None:
    reference = _toy_namespace(SOLUTIONS / "hw3code" / "neural_net.py")
    for check in public_checks(SOLUTIONS):
        exec(check.source, reference)
    wrong = tmp_path / "forgot" / "hw3code" / "neural_net.py"
    wrong.parent.mkdir(parents=True)
    source = (SOLUTIONS / "hw3code" / "neural_net.py").read_text()
    assert "loss = np.sum(diff**2) / (2 * N)" in source
    wrong.write_text(source.replace("loss = np.sum(diff**2) / (2 * N)", "loss = np.sum(diff**2) / N"))
    namespace = _toy_namespace(wrong)
    failed = set()
    for check in public_checks(SOLUTIONS):
        try:
            exec(check.source, namespace)
        except AssertionError:
            failed.add(check.key)
    assert {"toy.loss", "toy.gradients"} <= failed and "toy.scores" not in failed
