"""Limits that salvage work: a search that runs too long is stopped, and best_net as it stood is graded.

The notebook is the reference's, with its search replaced by a short training run that sets
best_net and then goes on far past every limit (as a too-big grid search does). Whether the
cell's own limit or the whole submission's stops it, the harvest still runs and the message
says what happened; the sandbox never has to kill the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from grader.datasets.cifar import prepare_split
from grader.evidence import PARAM_NAMES, WHOLE_LIMIT
from grader.grading import Course, grade_submission
from grader.harness import notebook_runner
from grader.harness import probes as harness_probes
from grader.intake import read_submission
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
ENDLESS_SEARCH = """best_net = None
net = TwoLayerNet(32 * 32 * 3, 50, 10)
net.train(X_train, y_train, X_val, y_val, num_iters=300, batch_size=200,
          learning_rate=1e-3, learning_rate_decay=0.95, reg=0.25)
best_net = net
import time
while True:  # the rest of a search far too big for the limits
    time.sleep(1)
"""


def _endless_search(folder: Path) -> Path:
    folder.mkdir()
    shutil.copytree(ROOT / "solutions" / "hw3code", folder / "hw3code")
    nb = nbformat.read(ROOT / "solutions" / "toy_nn.ipynb", as_version=4)
    (search,) = [c for c in nb.cells if c.get("id") == "cifar-search"]
    search.source = ENDLESS_SEARCH
    nbformat.write(nb, folder / "toy_nn.ipynb")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    ("limits", "message", "after"),
    [
        ({"timeout": 70, "cell_timeout": 900}, "ran past the 70 s limit for the whole submission", "not-run"),
        ({"timeout": 900, "cell_timeout": 20}, "ran past the 20 s cell limit", "ok"),
    ],
    ids=["whole-submission-limit", "cell-limit"],
)
def test_a_search_past_a_limit_is_stopped_and_its_best_net_graded(tmp_path, cifar_dir, cache, limits, message, after):
    rubric = load_rubric(ROOT / "solutions" / "rubric.toml").with_limits(probe_timeout=30, **limits)
    course = Course(rubric, ROOT / "assignment", None, prepare_split(cifar_dir, cache), isolation="none")
    submission = read_submission(_endless_search(tmp_path / "alice"))
    result = grade_submission(submission, course, reference=None, out_dir=tmp_path / "out")
    tuned = result.check("cifar.tuned")
    assert tuned.message.startswith("validation accuracy "), tuned.message  # best_net was harvested
    assert f"the search (cell 32) {message} and was stopped; best_net as it stood then was graded" in tuned.message
    cells = {c.id: c for c in result.info.cells}
    assert cells["cifar-search"].status == "timeout"
    assert cells["test-accuracy"].status == after  # after the whole limit, nothing more runs
    assert result.execution_time < limits["timeout"]  # stopped by the harness, not killed by the sandbox
    assert not any("the run was stopped" in p for p in result.problems)


def test_the_harness_and_the_checks_name_the_whole_limit_and_the_params_alike():
    """The harness cannot import the grader (the sandbox hides it): these names are written twice."""
    assert notebook_runner.WHOLE_LIMIT == WHOLE_LIMIT
    assert harness_probes.PARAM_NAMES == PARAM_NAMES
