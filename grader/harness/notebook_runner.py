"""Execute the student's notebook with nbclient, cell by cell, then harvest.

Runs INSIDE the sandbox. Every code cell runs in order in one kernel; a cell that
raises or times out is recorded and the next cell runs anyway (so an error costs
only the checks that need what that cell would have made). After the last cell, a
harvest cell runs in the same kernel and writes the objects the checks need to
`<out>/harvest.npz` and `harvest.json`. The executed notebook (outputs trimmed)
goes to `<out>/executed.ipynb` for the reports, and one line per cell to
`<out>/cells.jsonl` as it finishes, which the grader reads for progress.

Nothing written here is trusted: the grader validates all of it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

MAX_STREAM_CHARS = 20_000  # per cell: enough for any real output, not for a flood
MAX_OUTPUTS = 50  # per cell
MAX_RICH_CHARS = 2_000_000  # one image or other rich output, as base64: a big figure is 200 kB
WHOLE_LIMIT = "SubmissionTimeLimit"  # the `ename` of a cell stopped by the whole submission's limit
# The kernel's channels are Unix sockets in the workspace, not TCP on loopback: the sandbox's
# fallback forbids every TCP connection (Landlock), and a relative path stays short enough for
# a socket's name on every system (104 bytes on macOS).
KERNEL_CONFIG = Config({"KernelManager": {"transport": "ipc", "ip": ".grader/kernel"}})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Runs in the student's kernel after the last cell. Names are prefixed so that it
# cannot collide with the student's, and it imports what it needs afresh.
HARVEST = """
def __grader_harvest(path):
    import json as _json, numpy as _np
    arrays, info = {}, {}
    for name in ("best_net", "subopt_net"):
        obj = globals().get(name, None)
        params = getattr(obj, "params", None)
        if not isinstance(params, dict):
            info[name] = "missing" if obj is None else "has no params dict (" + type(obj).__name__ + ")"
            continue
        info[name] = "ok"
        for key in ("W1", "b1", "W2", "b2"):
            try:
                arrays[name + "." + key] = _np.asarray(params[key], dtype=_np.float64)
            except Exception as exc:
                info[name] = "params[" + repr(key) + "]: " + str(exc)
    for name in ("test_acc", "best_valid_acc", "val_acc"):
        try:
            info[name] = float(globals()[name])
        except Exception:
            info[name] = None
    _np.savez(path + ".npz", **arrays)
    with open(path + ".json", "w") as f:
        _json.dump(info, f)
__grader_harvest(__PATH__)
del __grader_harvest
"""


class _Client(NotebookClient):
    """A NotebookClient that trims floods of output and reports each cell's outcome."""

    def __init__(self, nb, **kwargs):
        super().__init__(nb, **kwargs)
        self._replies = {}
        self.on_cell_executed = self._remember_reply

    def _remember_reply(self, cell, cell_index, execute_reply):
        self._replies[cell_index] = execute_reply.get("content", {})

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        del outs[MAX_OUTPUTS:]
        for index, item in enumerate(outs):
            if item.get("output_type") == "stream" and len(item.get("text", "")) > MAX_STREAM_CHARS:
                item["text"] = item["text"][:MAX_STREAM_CHARS] + "\n[... output trimmed by the grader ...]\n"
            size = sum(len(str(value)) for value in item.get("data", {}).values())
            if size > MAX_RICH_CHARS:
                kinds = ", ".join(item["data"])
                note = f"[... a {size / 1e6:.0f} MB output ({kinds}) removed by the grader ...]\n"
                outs[index] = nbformat.v4.new_output("stream", name="stdout", text=note)
        return out

    def run_cell(self, cell, index):
        """Execute one cell: (status, error) with status ok, error, timeout or dead."""
        try:
            self.execute_cell(cell, index)
        except DeadKernelError as exc:
            return "dead", {"ename": "DeadKernelError", "evalue": str(exc)}
        if self._replies.pop(index, {}).get("ename") == "CellTimeoutError":
            return "timeout", {"ename": "CellTimeoutError", "evalue": f"the cell ran longer than {self.timeout:g} s"}
        error = _error_of(cell)
        return ("error", error) if error else ("ok", None)

    def run_extra(self, source, timeout=None):
        """Run `source` as a temporary last cell: (status, error)."""
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        saved, self.timeout = self.timeout, timeout or self.timeout
        try:
            return self.run_cell(cell, len(self.nb.cells) - 1)
        finally:
            self.timeout = saved
            self.nb.cells.pop()


def _error_of(cell):
    for item in cell.get("outputs", []):
        if item.get("output_type") == "error":
            trace = _ANSI.sub("", "\n".join(item.get("traceback", [])))
            return {"ename": item.get("ename", ""), "evalue": item.get("evalue", "")[:2000], "traceback": trace[-6000:]}
    return None


def run_notebook(
    notebook_path, workspace, out_dir, cell_timeout, deadline=None, whole_limit=None, startup_timeout=120, kept=None
):
    """Execute the notebook in `workspace`; write executed.ipynb, cells.jsonl, harvest.*.

    Each cell may run `cell_timeout` seconds, and no cell past `deadline` (a time.monotonic()
    value: the submission's whole limit, `whole_limit` seconds, less what the harvest needs).
    A cell stopped by either is interrupted; the cells after a whole-limit stop are not run,
    but the harvest still is, so the work done until then (best_net as it stood) is graded.
    `kept` (a dict) receives the executed notebook and the cells' records as they are made,
    for a caller that writes them again once the student's processes are gone.
    """
    out_dir = Path(out_dir)
    nb = nbformat.read(notebook_path, as_version=4)
    client = _Client(
        nb,
        config=KERNEL_CONFIG,
        timeout=max(1, int(cell_timeout)),
        startup_timeout=startup_timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": "timeout", "traceback": []},
        record_timing=False,
        resources={"metadata": {"path": str(workspace)}},
    )
    stopped = None  # why the remaining cells cannot run, once that happens
    usable = True  # whether the kernel can still run the harvest
    deadline = float("inf") if deadline is None else deadline
    kept = {} if kept is None else kept
    kept.update(notebook=nb, cells=[])
    try:
        with (out_dir / "cells.jsonl").open("w") as log, client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                record = {"index": index, "id": cell.get("id")}
                left = deadline - time.monotonic()
                if not stopped and left <= 0:
                    stopped = f"the submission reached its {whole_limit:g} s time limit before this cell"
                if stopped:
                    record.update(status="not-run", error={"ename": "NotRun", "evalue": stopped})
                else:
                    client.timeout = max(1, int(min(cell_timeout, left)))  # nbclient takes whole seconds
                    started = time.monotonic()
                    record["status"], error = client.run_cell(cell, index)
                    record["seconds"] = round(time.monotonic() - started, 3)
                    if record["status"] == "timeout" and left < cell_timeout:  # the whole limit's
                        error = {"ename": WHOLE_LIMIT, "evalue": f"the submission ran past its {whole_limit:g} s limit"}
                        stopped = f"the submission's {whole_limit:g} s time limit was reached in cell {index + 1}"
                    client.timeout = max(1, int(cell_timeout))
                    if error:
                        record["error"] = error
                    if record["status"] == "dead":
                        stopped = f"the kernel died in cell {index + 1} (out of memory, or it exited)"
                        usable = False
                    elif record["status"] == "timeout" and client.run_extra("pass", 15)[0] != "ok":
                        stopped = f"the kernel stayed busy after cell {index + 1} timed out"
                        usable = False
                log.write(json.dumps(record) + "\n")
                log.flush()
                kept["cells"].append(record)
            # Whatever the student's code left under the harvest's names is not the harvest.
            for stale in ("harvest.npz", "harvest.json"):
                (out_dir / stale).unlink(missing_ok=True)
            if usable:
                _, error = client.run_extra(HARVEST.replace("__PATH__", repr(str(out_dir / "harvest"))))
                if error:
                    (out_dir / "harvest-error.json").write_text(json.dumps(error))
    finally:
        nbformat.write(nb, str(out_dir / "executed.ipynb"))
