"""Every automatic check when what it reads raised or ran out of time, and targeted fail paths.

The table `PATHS` names, for each automatic check, the probes or notebook cells it
depends on. When they raise or run out of time every check says `error` (the status
that means "the code raised or timed out"):

- public toy checks, `cifar.baseline` and `bonus.softmax` read one probe
  (`toy.probe_failure`, the bonus's own branch);
- hidden toy checks compare many probes with the reference's: each failed probe is a
  wrong item ("0/N agree ...; first difference: ... (ValueError: boom)");
- `cifar.tuned` and `cifar.test` read the harvest after the notebook: a cell that
  raised or timed out leaves no `best_net` / `test_acc`, and the message names that cell.

Each row runs twice, with the dependencies raising (`ValueError: boom`) and running
out of time. The check must score 0, give that status, say what happened (the
exception's last line, or "ran out of time") and where, and show no number that could
be a hidden expected value. `handcalc.*` and `integrity.*` read only the submitted
files, never a run: they must not change when the run fails. `questions.*` are manual.

The reference is the real one, run through the grader's own machinery (`reference_evidence`,
without CIFAR-10 data, about 10 s) and stored next to the golden files
(`tests/files/golden/reference-evidence.json`, see `stored_reference.py`): the tests read the
stored run, `UPDATE_GOLDEN=1` runs the reference again and stores it, and a slow test checks
that the stored run is still what the reference gives.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from stored_reference import STORED, differences, dump_evidence, run_reference, stored_reference

from grader.checks import CHECKS, Context, run_checks
from grader.datasets.cifar import PreparedSplit
from grader.evidence import CellRecord, Evidence, Harvest, ProbeOutcome
from grader.handcalc import ANSWERS_FILE, load_answers
from grader.notebooks import read_notebook
from grader.probe_plan import plan_probes
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "solutions" / "rubric.toml")
INPUTS = {p.name: p for p in plan_probes(hidden=True, cifar=False)}
ERROR = 'Traceback (most recent call last):\n  File "hw3code/neural_net.py", line 80, in loss\nValueError: boom'
SAID = {"error": "ValueError: boom", "timeout": "ran out of time"}
A_NUMBER = re.compile(r"\d\.\d|\de-?\d")  # 0.123, 1e-07: a value; "0/6" is a count

_H = (1, 2, 3)
# check -> (status when its dependencies fail, the probes it reads or the notebook cell it needs)
PATHS: dict[str, tuple[str, tuple[str, ...] | str]] = {
    "toy.scores": ("error", ("toy-scores",)),
    "toy.loss": ("error", ("toy-loss",)),
    "toy.gradients": ("error", ("toy-loss",)),
    "toy.train": ("error", ("toy-train",)),
    "toy.scores.hidden": ("error", tuple(f"hidden-{k}-{i}" for k in ("scores", "predict") for i in _H)),
    "toy.loss.hidden": ("error", (*(f"hidden-loss-{i}" for i in _H), "hidden-mse")),
    "toy.gradients.hidden": ("error", tuple(f"hidden-loss-{i}" for i in _H)),
    "toy.train.hidden": ("error", ("hidden-train-exact", "hidden-train-learn")),
    "cifar.baseline": ("error", ("cifar-baseline",)),
    "bonus.softmax": ("error", ("softmax-public", *(f"softmax-hidden-{i}" for i in _H))),
    "cifar.tuned": ("error", "cell 2 (cifar-search)"),
    "cifar.test": ("error", "cell 3 (cifar-test)"),
}
NO_RUN = ("handcalc.forward", "handcalc.backward", "integrity.cells", "integrity.code", "integrity.unseen")
NOTEBOOK = nbformat.v4.new_notebook(
    cells=[
        nbformat.v4.new_code_cell("from hw3code.neural_net import TwoLayerNet"),
        nbformat.v4.new_code_cell("best_net = search(X_train, y_train, X_val, y_val)"),
        nbformat.v4.new_code_cell("test_acc = (best_net.predict(X_test) == y_test).mean()"),
    ]
)


@pytest.fixture(scope="module")
def reference(project, tmp_path_factory) -> Evidence:
    """The reference's run as stored next to the golden files (`UPDATE_GOLDEN=1` runs it and stores it)."""
    return stored_reference(project, tmp_path_factory.mktemp("reference"))


@pytest.mark.slow
def test_the_stored_reference_run_is_the_real_one(project, tmp_path):
    """The tests below read a stored run of the reference: a stale one fails here, in the full suite."""
    fresh = dump_evidence(run_reference(project, tmp_path))
    if os.environ.get("UPDATE_GOLDEN"):  # refreshed here too: this test runs before the fixture's first use
        STORED.write_text(fresh)
    assert differences(STORED.read_text(), fresh) == [], f"{STORED} is stale: refresh it with UPDATE_GOLDEN=1"


@pytest.fixture(scope="module")
def context(reference, tmp_path_factory) -> Context:
    """The reference's run, and a 10-image split: image i has class i, in feature i."""
    folder = tmp_path_factory.mktemp("split")
    X = np.zeros((10, 3072))
    X[np.arange(10), np.arange(10)] = 1.0
    for part in ("val", "test", "unseen"):
        np.save(folder / f"X_{part}.npy", X)
        np.save(folder / f"y_{part}.npy", np.arange(10))
    return Context(RUBRIC, reference=reference, split=PreparedSplit(folder, "hand-made"), probe_inputs=INPUTS)


def _net() -> dict[str, np.ndarray]:
    W1, W2 = np.zeros((50, 3072)), np.zeros((10, 50))
    W1[np.arange(10), np.arange(10)] = W2[np.arange(10), np.arange(10)] = 1.0
    return {"W1": W1, "b1": np.zeros(50), "W2": W2, "b2": np.zeros(10)}


def _failed_probe(kind: str) -> ProbeOutcome:
    if kind == "error":
        return ProbeOutcome("error", error=ERROR)
    return ProbeOutcome("timeout", error="the probe ran out of time")


def _failed_cell(index: int, cell_id: str, kind: str) -> CellRecord:
    if kind == "error":
        return CellRecord(index, cell_id, "error", 1.0, "ValueError", "boom", ERROR)
    return CellRecord(index, cell_id, "timeout", 900.0, "CellTimeoutError", "the cell ran longer than 900 s")


def _failing_evidence(check: str, kind: str, reference: Evidence) -> Evidence:
    """The reference's probes, with what `check` depends on raising or out of time."""
    needs = PATHS[check][1]
    if isinstance(needs, tuple):
        return Evidence(probes={**reference.probes, **{name: _failed_probe(kind) for name in needs}})
    ok = CellRecord(0, "imports", "ok")
    numbers = {"test_acc": None, "best_valid_acc": None, "val_acc": None}
    if check == "cifar.tuned":  # the search cell failed; after a timeout the kernel stayed busy: no harvest
        harvest = None if kind == "timeout" else Harvest({}, {"best_net": "missing"}, numbers)
        cells = (ok, _failed_cell(1, "cifar-search", kind))
    else:  # best_net was made, the test-set cell failed
        harvest = Harvest({"best_net": _net()}, {}, numbers)
        cells = (ok, CellRecord(1, "cifar-search", "ok"), _failed_cell(2, "cifar-test", kind))
    return Evidence(probes=reference.probes, cells=cells, harvest=harvest, notebook=NOTEBOOK)


def _with_arrays(evidence: Evidence, probe: str, **changed: np.ndarray) -> Evidence:
    """`evidence` with some outputs of one probe replaced (keys: dots as double underscores)."""
    arrays = {**evidence.probe(probe).arrays, **{k.replace("__", "."): v for k, v in changed.items()}}
    return Evidence(probes={**evidence.probes, probe: ProbeOutcome("ok", arrays)})


def test_the_table_covers_every_automatic_check():
    manual = {spec.id for spec in RUBRIC.checks if spec.manual}
    assert set(PATHS) | set(NO_RUN) | manual == set(CHECKS) == {spec.id for spec in RUBRIC.checks}
    assert not set(PATHS) & set(NO_RUN) and not (set(PATHS) | set(NO_RUN)) & manual


@pytest.mark.parametrize(
    ("check", "kind"), [pytest.param(c, k, id=f"{c}-{k}") for c in PATHS for k in ("error", "timeout")]
)
def test_a_failed_dependency_scores_zero_and_says_what_happened(check, kind, reference, context):
    spec = RUBRIC.check(check)
    status, needs = PATHS[check]
    result = CHECKS[check](spec, _failing_evidence(check, kind, reference), context)
    assert (result.status, result.score, result.max_score) == (status, 0.0, spec.points)
    assert SAID[kind] in result.message
    assert (needs[0] if isinstance(needs, tuple) else needs) in result.message
    assert "Traceback" not in result.message and not A_NUMBER.search(result.message), result.message
    if not spec.public:
        assert result.expected is None and all(d.expected is None for d in result.details if d.hidden)


def test_the_reference_passes_every_toy_and_bonus_check(reference, context):
    """The control for the fail paths below: unchanged, the reference's outputs get full marks."""
    results = {r.id: r for r in run_checks(Evidence(probes=reference.probes), context)}
    wanted = [c for c in PATHS if c.startswith(("toy.", "bonus."))]
    assert {c: (results[c].status, results[c].score) for c in wanted} == {
        c: ("passed", RUBRIC.check(c).points) for c in wanted
    }


@pytest.mark.parametrize("kind", ["error", "timeout"])
def test_checks_that_read_no_run_ignore_its_failures(kind, project):
    starter = read_notebook(project.assignment / RUBRIC.notebook)
    module = (project.solutions / RUBRIC.module).read_text()
    context = Context(
        RUBRIC,
        starter_notebook=starter,
        starter_module=(project.assignment / RUBRIC.module).read_text(),
        answers=load_answers(project.solutions / ANSWERS_FILE),
    )
    notebook = read_notebook(project.solutions / RUBRIC.notebook)
    clean = Evidence(notebook=notebook, module_source=module)
    broken = Evidence(
        probes={name: _failed_probe(kind) for name in INPUTS},
        cells=tuple(_failed_cell(i, f"cell-{i}", kind) for i in range(len(notebook.cells))),
        notebook=notebook,
        module_source=module,
        run_problem="the run was stopped: it took longer than the time limit for a submission",
    )
    for check in NO_RUN:
        spec = RUBRIC.check(check)
        before, after = (CHECKS[check](spec, e, context) for e in (clean, broken))
        assert (after.status, after.score, after.message) == (before.status, before.score, before.message)
    assert CHECKS["handcalc.forward"](RUBRIC.check("handcalc.forward"), broken, context).status == "passed"


def _toy_train(reference: Evidence, context: Context, losses: np.ndarray):
    evidence = _with_arrays(reference, "toy-train", stats__loss_history=losses)
    return CHECKS["toy.train"](RUBRIC.check("toy.train"), evidence, context)


def test_toy_train_fails_a_final_loss_above_the_threshold(reference, context):
    result = _toy_train(reference, context, 10 * reference.probe("toy-train").arrays["stats.loss_history"])
    assert (result.status, result.score) == ("failed", 0.0)
    assert result.message == "final training loss 0.295056 (the notebook's: 0.0295056; below 0.05 passes)"


def test_toy_train_fails_a_run_of_too_few_iterations(reference, context):
    result = _toy_train(reference, context, reference.probe("toy-train").arrays["stats.loss_history"][-50:])
    assert (result.status, result.score) == ("failed", 0.0)
    assert [(d.label, d.observed) for d in result.details if not d.ok] == [("iterations recorded", 50)]


def _untrained(_: object) -> dict[str, np.ndarray]:
    """The initial parameters of the learning probe: a train that never stepped."""
    return {f"params__{n}": INPUTS["hidden-train-learn"].arrays[f"params.{n}"] for n in ("W1", "b1", "W2", "b2")}


@pytest.mark.parametrize(
    ("probe", "change", "first"),
    [
        pytest.param(
            "hidden-train-exact",
            lambda a: {"params__W1": a["params.W1"] * (1 + 1e-3)},
            "hidden-train-exact: params.W1",
            id="parameters-differ",
        ),
        pytest.param(
            "hidden-train-exact",
            lambda a: {"stats__loss_history": a["stats.loss_history"][::-1]},
            "hidden-train-exact: stats.loss_history",
            id="loss-history-differs",
        ),
        pytest.param(
            "hidden-train-learn",
            _untrained,
            "hidden-train-learn: data loss after training",
            id="did-not-learn",
        ),
        pytest.param(
            "hidden-train-learn",
            lambda a: {"stats__loss_history": a["stats.loss_history"][:100]},
            "hidden-train-learn: len(loss_history)",
            id="history-too-short",
        ),
    ],
)
def test_toy_train_hidden_fails_a_run_unlike_the_reference(probe, change, first, reference, context):
    evidence = _with_arrays(reference, probe, **change(reference.probe(probe).arrays))
    result = CHECKS["toy.train.hidden"](RUBRIC.check("toy.train.hidden"), evidence, context)
    assert (result.status, result.score) == ("partial", pytest.approx(5 * 8 / 9))
    assert result.message == f"8/9 agree with the reference; first difference: {first}"


@pytest.mark.parametrize(
    ("probe", "loss", "dx", "message"),
    [
        pytest.param(
            "softmax-public",
            lambda v: v + 0.1,
            None,
            "7/8 parts right; first wrong: loss on all-zero scores",
            id="public-loss",
        ),
        pytest.param(
            "softmax-hidden-1",
            lambda v: v * 1.01,
            None,
            "7/8 parts right; first wrong: softmax-hidden-1: loss",
            id="hidden-loss",
        ),
        pytest.param(
            "softmax-hidden-3",
            lambda v: np.nan * v,
            lambda v: np.nan * v,
            "6/8 parts right; first wrong: softmax-hidden-3: loss"
            " (large scores overflow exp(): subtract each row's maximum first)",
            id="overflow-nan",
        ),
        # (inf - inf is nan: rel_error must say inf without a numpy warning, an error in this suite)
        pytest.param(
            "softmax-hidden-3",
            lambda v: np.inf + 0 * v,
            lambda v: np.nan * v,
            "6/8 parts right; first wrong: softmax-hidden-3: loss"
            " (large scores overflow exp(): subtract each row's maximum first)",
            id="overflow-inf",
        ),
    ],
)
def test_bonus_softmax_fails_wrong_and_non_finite_values(probe, loss, dx, message, reference, context):
    arrays = reference.probe(probe).arrays
    changed = {"loss": loss(arrays["loss"])} | ({"dx": dx(arrays["dx"])} if dx else {})
    result = CHECKS["bonus.softmax"](RUBRIC.check("bonus.softmax"), _with_arrays(reference, probe, **changed), context)
    right = int(message[0])
    assert (result.status, result.score) == ("partial", pytest.approx(10 * right / 8))
    assert result.message == message
