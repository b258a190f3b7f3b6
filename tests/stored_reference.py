"""The reference solution's run without CIFAR-10 data, stored next to the golden files.

The unit tests of the checks compare a submission's probes with the reference's. Running the
reference in the sandbox takes about 10 s, too slow for `make test-fast`: its evidence (probe
outcomes, cell records, harvest) is stored as text in `STORED`, and those tests read it.
`UPDATE_GOLDEN=1` runs the reference for real and stores it again, and a slow test of the full
suite runs it and compares, so the stored run cannot drift from the real one unnoticed.

The stored run leaves out each probe's and cell's duration (a measurement, not a result) and
the submitted notebook and module (the solution's files, read again when it is loaded); the
run's temporary workspace in a traceback reads `<workspace>`.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from grader.evidence import CellRecord, Evidence, Harvest, ProbeOutcome
from grader.execute import load_submitted
from grader.grading import open_course, reference_evidence
from grader.intake import Submission
from grader.project import Project
from grader.rubric import load_rubric

STORED = Path(__file__).resolve().parent / "files" / "golden" / "reference-evidence.json"
# A float of the stored run may differ from a fresh one in its last bits on another CPU (numpy
# picks its SIMD kernels by machine), and a value near 0 by a rounding error; both bounds are
# far tighter than any check's comparison with the reference.
RTOL, ATOL = 1e-9, 1e-12
# Each run's private workspace, named in the tracebacks of the cells that need the data set.
WORKSPACE = re.compile(r"[^\s\"']*/grader-ws-[^/\s\"']+/workspace")


def run_reference(project: Project, root: Path) -> Evidence:
    """The reference's run without CIFAR-10 data, through the grader's own machinery (`root`: scratch)."""
    course = open_course(project.solutions, project.assignment, cifar_dir=None, cache=root / "cache", skip_cifar=True)
    return reference_evidence(course, root / "out", log=lambda _: None)


def stored_reference(project: Project, root: Path) -> Evidence:
    """The stored run of the reference; with `UPDATE_GOLDEN` set, first run it and store it again."""
    if os.environ.get("UPDATE_GOLDEN"):
        STORED.write_text(dump_evidence(run_reference(project, root)))
    return load_evidence(STORED.read_text(), project)


def dump_evidence(evidence: Evidence) -> str:
    """The run part of `evidence` as JSON text, keys sorted: a refresh shows as a readable diff."""
    data = {
        "probes": {
            name: {"status": o.status, "error": o.error, "arrays": {k: _array(v) for k, v in o.arrays.items()}}
            for name, o in evidence.probes.items()
        },
        "cells": [
            {"index": c.index, "cell_id": c.cell_id, "status": c.status, "ename": c.ename, "evalue": c.evalue}
            | {"traceback": c.traceback}
            for c in evidence.cells
        ],
        "harvest": None if evidence.harvest is None else _harvest(evidence.harvest),
        "run_problem": evidence.run_problem,
    }
    return WORKSPACE.sub("<workspace>", json.dumps(data, indent=1, sort_keys=True)) + "\n"


def load_evidence(text: str, project: Project) -> Evidence:
    """The evidence `dump_evidence` wrote, with the solution's notebook and module as the grader reads them."""
    data = json.loads(text)
    rubric = load_rubric(project.solutions / "rubric.toml")  # where open_course finds it
    solution = Submission(
        "reference",
        project.solutions,
        (project.solutions / rubric.notebook).read_bytes(),
        rubric.notebook,
        (project.solutions / rubric.module).read_bytes(),
    )
    notebook, module, _ = load_submitted(solution, rubric)
    harvest = data["harvest"]
    return Evidence(
        probes={
            name: ProbeOutcome(p["status"], {k: _from_array(v) for k, v in p["arrays"].items()}, p["error"])
            for name, p in data["probes"].items()
        },
        cells=tuple(CellRecord(**c) for c in data["cells"]),
        harvest=None
        if harvest is None
        else Harvest(
            nets={n: {k: _from_array(v) for k, v in p.items()} for n, p in harvest["nets"].items()},
            notes=harvest["notes"],
            numbers=harvest["numbers"],
        ),
        notebook=notebook,
        module_source=module,
        run_problem=data["run_problem"],
    )


def differences(stored: str, fresh: str) -> list[str]:
    """Where two `dump_evidence` texts differ: the path of each value, floats within `RTOL` or `ATOL`."""
    out: list[str] = []
    _compare(json.loads(stored), json.loads(fresh), "", out)
    return out


def _harvest(harvest: Harvest) -> dict[str, Any]:
    nets = {n: {k: _array(v) for k, v in p.items()} for n, p in harvest.nets.items()}
    return {"nets": nets, "notes": dict(harvest.notes), "numbers": dict(harvest.numbers)}


def _array(value: np.ndarray) -> dict[str, Any]:
    # Python's float repr reads back to the same float: the text is exact.
    return {"dtype": value.dtype.str, "shape": list(value.shape), "values": value.ravel().tolist()}


def _from_array(data: dict[str, Any]) -> np.ndarray:
    return np.array(data["values"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])


def _compare(stored: Any, fresh: Any, path: str, out: list[str]) -> None:
    if isinstance(stored, dict) and isinstance(fresh, dict):
        for key in sorted(stored.keys() | fresh.keys()):
            if key not in stored or key not in fresh:
                out.append(f"{path}/{key}: only in the {'fresh run' if key in fresh else 'stored run'}")
            else:
                _compare(stored[key], fresh[key], f"{path}/{key}", out)
    elif isinstance(stored, list) and isinstance(fresh, list) and len(stored) == len(fresh):
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            _compare(a, b, f"{path}/{i}", out)
    elif isinstance(stored, float) and isinstance(fresh, float):
        if not (math.isclose(stored, fresh, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(stored) and math.isnan(fresh))):
            out.append(f"{path}: stored {stored!r}, fresh {fresh!r}")
    elif stored != fresh or type(stored) is not type(fresh):
        out.append(f"{path}: stored {stored!r:.200}, fresh {fresh!r:.200}")
