"""The evidence: everything one sandboxed run of a submission left behind, validated.

`execute` produces it (it runs the submission and reads back, as untrusted data, the
probes' outputs, how each cell ran and the objects harvested after the last cell); the
checks and the reports read it. Nothing here runs student code or trusts its output: every
value was bounded and shape-checked on the way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from nbformat import NotebookNode

__all__ = ["HARVESTED_NETS", "PARAM_NAMES", "WHOLE_LIMIT", "CellRecord", "Evidence", "Harvest", "ProbeOutcome"]

PARAM_NAMES = ("W1", "b1", "W2", "b2")  # a TwoLayerNet's params, as the harvest takes them
HARVESTED_NETS = ("best_net", "subopt_net")  # the nets the harvest takes (the harness names them too)

# The `ename` the harness gives a cell stopped by the submission's whole time limit rather than
# by its own (harness/notebook_runner.py writes it; a test keeps the two equal).
WHOLE_LIMIT = "SubmissionTimeLimit"


@dataclass(frozen=True)
class CellRecord:
    """How one code cell of the student's notebook ran."""

    index: int  # position in the notebook, 0-based
    cell_id: str
    status: str  # ok, error, timeout, dead, not-run
    seconds: float = 0.0
    ename: str = ""
    evalue: str = ""
    traceback: str = ""

    @property
    def stopped_by_whole_limit(self) -> bool:
        """The cell timed out because the whole submission ran out of time, not the cell."""
        return self.status == "timeout" and self.ename == WHOLE_LIMIT

    def describe(self) -> str:
        """`cell 31 (cifar-search) raised NameError: name 'x' is not defined`."""
        where = f"cell {self.index + 1} ({self.cell_id})"
        if self.status == "error":
            return f"{where} raised {self.ename}: {self.evalue}".strip()
        if self.status == "timeout":
            limit = "the whole submission's limit" if self.stopped_by_whole_limit else "the limit for one cell"
            return f"{where} ran out of time: it ran past {limit} and was stopped"
        if self.status == "dead":
            return (
                f"{where}: the kernel died while running it (a crash, memory running out, or code that exits "
                "or kills itself); the cells after it did not run"
            )
        if self.status == "not-run":
            return f"{where} did not run: {self.evalue or 'the notebook stopped before it'}"
        return f"{where}: {self.evalue or self.status}"


@dataclass(frozen=True)
class Harvest:
    """The notebook's objects after its last cell, validated: params and numbers."""

    nets: Mapping[str, Mapping[str, np.ndarray]]  # "best_net" -> {"W1": ..., ...}
    notes: Mapping[str, str]  # why a net is missing ("missing", "has no params dict", ...)
    numbers: Mapping[str, float | None]  # test_acc, best_valid_acc, val_acc


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe gave back: `ok`, `error`, `timeout` or `missing`, and its arrays."""

    status: str
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    not_implemented: bool = False  # it failed because a function still returns None, as in the starter

    @property
    def ok(self) -> bool:
        """True when the probe ran to the end and its outputs were readable."""
        return self.status == "ok"

    def summary(self) -> str:
        """One line for a check's message: the last line of the error, or the status."""
        if self.ok:
            return "ok"
        last = self.error.strip().splitlines()[-1] if self.error.strip() else self.status
        return {"timeout": "ran out of time", "missing": "did not run"}.get(self.status, last)


@dataclass(frozen=True)
class Evidence:
    """Everything one run of a submission left behind, validated."""

    probes: Mapping[str, ProbeOutcome] = field(default_factory=dict)
    cells: tuple[CellRecord, ...] = ()
    harvest: Harvest | None = None
    notebook: NotebookNode | None = None  # as submitted (answers and integrity read it)
    module_source: str | None = None
    run_problem: str = ""  # why the run as a whole failed (timeout, sandbox error), if it did

    def probe(self, name: str) -> ProbeOutcome:
        """The outcome of probe `name` (`missing` if it never reported)."""
        return self.probes.get(name) or ProbeOutcome("missing", error=self.run_problem or "not run")

    def failed_cells(self) -> list[CellRecord]:
        """Cells that raised, timed out or never ran."""
        return [c for c in self.cells if c.status != "ok"]
