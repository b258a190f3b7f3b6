"""The hostile corpus as files: the cases of `files/hostile.toml`, the malformed submissions
made here, the canaries that show what a run read or wrote, and the process-table scan.

`build_corpus` lays out one class folder holding every case beside a good submission, and
the places a submission must not touch, each with a canary file holding a token of this run:
the solution, another student's folder, OUT, the grader's cache and the home folder. Tests in
`test_hostile.py` grade it with the sandbox (in-process) and without it (the CLI, as an
ordinary user), and assert each case's `expect` entry and the corpus-wide guarantees.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import socket
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nbformat
import tomllib

from grader.examples import materialize_examples

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "files" / "hostile.toml"
NOTEBOOK, MODULE = "toy_nn.ipynb", "hw3code/neural_net.py"  # the rubric's
# What runaway cases start (their `leftover`): none may outlive its run.
DAEMON_TOKENS = tuple(
    c["expect"]["leftover"] for c in tomllib.loads(MANIFEST.read_text())["example"] if "leftover" in c.get("expect", {})
)


@dataclass(frozen=True)
class Places:
    """Where a corpus lies, and what a run must not read or write."""

    root: Path
    solutions: Path  # a copy of the checkout's, with a canary
    assignment: Path
    submissions: Path  # the class folder: one entry per case
    with_data: Path  # the class folder of the cases graded with CIFAR-10 data
    out: Path
    cache: Path
    home: Path  # the grader's home folder (where its canary lies)
    token: str  # in every canary file, and in the grader's environment
    canaries: tuple[Path, ...] = ()
    watched: tuple[Path, ...] = ()  # folders whose every byte must stay as it was

    def fingerprint(self) -> dict[str, str]:
        """Every file of the watched folders and every canary, by content."""
        found = {}
        for path in [*self.canaries, *(p for folder in self.watched for p in sorted(folder.rglob("*")))]:
            if path.is_file() and not path.is_symlink():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found


# The search of the cases with data: one short training, far above the rubric's 23% floor.
QUICK_NET = (
    "net = TwoLayerNet(32 * 32 * 3, 50, 10)\n"
    "net.train(X_train, y_train, X_val, y_val, batch_size=500, learning_rate=2e-3, learning_rate_decay=0.85,\n"
    "          reg=0.25, num_iters=600)"
)
DATA_TWIN = "data-twin"  # the honest case of the batch with data, which its others are compared with


def load_expectations(*, sandboxed: bool, data: bool = False) -> dict[str, dict[str, Any]]:
    """Each TOML case's `expect` table (cases marked `sandbox_only` only when `sandboxed`), of the
    batch without data or (`data`) of the one with it."""
    cases = tomllib.loads(MANIFEST.read_text())["example"]
    wanted = [c for c in cases if (sandboxed or not c.get("sandbox_only")) and bool(c.get("data")) == data]
    return {c["id"]: c.get("expect", {}) for c in wanted}


def make_places(root: Path, home: Path) -> Places:
    """Copies of the course folders, the class folder, and the canaries, under `root`."""
    token = f"CANARY-{uuid.uuid4().hex}"
    solutions, assignment = root / "solutions", root / "assignment"
    ignore = shutil.ignore_patterns("__pycache__", "datasets", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "solutions", solutions, ignore=ignore)
    shutil.copytree(ROOT / "assignment", assignment, ignore=ignore)
    places = Places(
        root, solutions, assignment, root / "submissions", root / "with-data", root / "out", root / "cache", home, token
    )
    canaries = [
        solutions / "CANARY.txt",
        solutions / "hw3code" / "CANARY.txt",
        places.submissions / "good" / "CANARY.txt",
        places.out / "CANARY.txt",
        places.cache / "CANARY.txt",
        home / f".grader-CANARY-{token[-8:]}",
    ]
    for canary in canaries:
        canary.parent.mkdir(parents=True, exist_ok=True)
        canary.write_text(f"{token}\n")
    return replace(places, canaries=tuple(canaries), watched=(solutions, assignment))


def _substitutions(places: Places, ports: dict[str, int]) -> dict[str, str]:
    quoted = ", ".join(json.dumps(str(p)) for p in places.canaries)
    folders = sorted({str(p.parent) for p in places.canaries} | {str(places.submissions)})
    return {
        '"CANARY_FILES"': quoted,
        '"WRITE_TARGETS"': ", ".join(json.dumps(f) for f in folders),
        "QUICK_NET": QUICK_NET,
        "HOST_HOME": str(places.home),
        "HOST_UDP_PORT": str(ports["udp"]),
        "HOST_PORT": str(ports["tcp"]),
    }


def build_corpus(
    places: Places, ports: dict[str, int], *, sandboxed: bool, notebook: str = NOTEBOOK, module: str = MODULE
) -> list[str]:
    """Write every case into the class folder (those graded with data into `places.with_data`);
    return the students' ids of the first."""
    text = MANIFEST.read_text()
    for word, value in _substitutions(places, ports).items():
        text = text.replace(word, value)
    cases = [c for c in tomllib.loads(text)["example"] if sandboxed or not c.get("sandbox_only")]
    folders: dict[bool, list[Path]] = {}
    for with_data, dest in ((False, places.submissions), (True, places.with_data)):
        manifest = places.root / f"hostile-{'data' if with_data else 'toy'}.toml"
        manifest.write_text(_toml([c for c in cases if bool(c.get("data")) == with_data]))
        bases = {"solutions": places.solutions}
        folders[with_data] = materialize_examples(manifest, bases, dest, notebook=notebook, module=module)
    good = places.submissions / "good"
    for rel in (notebook, module):
        (good / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(places.solutions / rel, good / rel)
    made = [f.name for f in folders[False]] + ["good"]
    for name, build in MALFORMED.items():
        build(places.submissions, name, places.solutions)
        made.append(name.removesuffix(".zip"))
    return made


def _toml(cases: list[dict[str, Any]]) -> str:
    """`cases` (examples with edits) written back as TOML, for `materialize_examples`."""
    lines = []
    for case in cases:
        lines.append("[[example]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in case.items() if isinstance(v, str)]
        for edit in case.get("edit", []):
            lines.append("[[example.edit]]")
            lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in edit.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- malformed submissions


@dataclass(frozen=True)
class Malformed:
    """What the grader must say of a malformed submission, and of its score."""

    problem: str  # a regex one of its problems matches
    score: str = "less"  # or "same" as the good submission's


def _files(solutions: Path) -> dict[str, bytes]:
    return {
        "toy_nn.ipynb": (solutions / "toy_nn.ipynb").read_bytes(),
        "hw3code/neural_net.py": (solutions / "hw3code" / "neural_net.py").read_bytes(),
    }


def _folder(parent: Path, name: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (parent / name / rel).parent.mkdir(parents=True, exist_ok=True)
        (parent / name / rel).write_bytes(data)


def _notebook(solutions: Path, change: Callable[[nbformat.NotebookNode], None]) -> bytes:
    nb = nbformat.read(solutions / "toy_nn.ipynb", as_version=4)
    change(nb)
    return json.dumps(nb).encode()


def _with_output(size: int) -> Callable[[nbformat.NotebookNode], None]:
    def change(nb: nbformat.NotebookNode) -> None:
        data = {"image/png": "A" * size, "text/plain": "<Figure>"}
        cell = next(c for c in nb.cells if c.cell_type == "code")
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]

    return change


def _duplicate_ids(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells[:4]:
        cell.id = "same-id"


def _v3(solutions: Path) -> bytes:
    nb = nbformat.read(solutions / "toy_nn.ipynb", as_version=4)
    return nbformat.writes(nbformat.convert(nb, 3), version=3).encode()


def _zip(parent: Path, name: str, entries: Iterator[tuple[str, bytes]] | list[tuple[str, bytes]]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries:
            archive.writestr(entry, data)
    (parent / name).write_bytes(buffer.getvalue())


def _slip(parent: Path, name: str, solutions: Path) -> None:
    good = list(_files(solutions).items())
    _zip(parent, name, [*good, ("../../escaped-by-zip-slip.py", b"print('out')"), ("../toy_nn.ipynb", b"{}")])


def _absolute(parent: Path, name: str, solutions: Path) -> None:
    good = list(_files(solutions).items())
    _zip(parent, name, [*good, ("/tmp/escaped-by-absolute-path.py", b"print('out')")])


def _bomb(parent: Path, name: str, solutions: Path) -> None:
    _zip(parent, name, [*_files(solutions).items(), ("padding.bin", bytes(300 << 20))])


def _many(parent: Path, name: str, solutions: Path) -> None:
    _zip(parent, name, [*_files(solutions).items(), *((f"junk/{i}.txt", b"") for i in range(100_001))])


def _odd_names(parent: Path, name: str, solutions: Path) -> None:
    files = _files(solutions)
    files["notes with spaces.txt"] = b"a note"
    files["über ✓.txt"] = b"non-ASCII"
    files["line\nbreak.txt"] = b"a newline in a file name"
    files["..twodots.py"] = b"print('dots')"
    _folder(parent, name, files)


def _macosx(parent: Path, name: str, solutions: Path) -> None:
    _folder(parent, name, {"__MACOSX/._toy_nn.ipynb": b"\0\5\26\7junk", "__MACOSX/hw3code/._neural_net.py": b"\0\5"})


def _link(target: Callable[[Path], Path], where: str) -> Callable[[Path, str, Path], None]:
    def build(parent: Path, name: str, solutions: Path) -> None:
        files = _files(solutions)
        del files[where]
        _folder(parent, name, files)
        (parent / name / where).parent.mkdir(parents=True, exist_ok=True)
        (parent / name / where).symlink_to(target(solutions))

    return build


def _hard_link(parent: Path, name: str, solutions: Path) -> None:
    files = _files(solutions)
    del files["hw3code/neural_net.py"]
    _folder(parent, name, files)
    (parent / name / "hw3code").mkdir()
    os.link(solutions / "hw3code" / "neural_net.py", parent / name / "hw3code" / "neural_net.py")


def _simple(files: Callable[[Path], dict[str, bytes]]) -> Callable[[Path, str, Path], None]:
    return lambda parent, name, solutions: _folder(parent, name, files(solutions))


def _replacing(name: str, data: Callable[[Path], bytes]) -> Callable[[Path], dict[str, bytes]]:
    return lambda solutions: {**_files(solutions), name: data(solutions)}


MALFORMED: dict[str, Callable[[Path, str, Path], None]] = {
    "nbformat-3": _simple(_replacing(NOTEBOOK, _v3)),
    "empty-notebook-file": _simple(_replacing(NOTEBOOK, lambda _: b"")),
    "notebook-of-no-cells": _simple(_replacing(NOTEBOOK, lambda s: _notebook(s, lambda nb: nb.cells.clear()))),
    "binary-garbage-notebook": _simple(_replacing(NOTEBOOK, lambda _: bytes(range(256)) * 64)),
    "duplicate-cell-ids": _simple(_replacing(NOTEBOOK, lambda s: _notebook(s, _duplicate_ids))),
    "notebook-50mb-output": _simple(_replacing(NOTEBOOK, lambda s: _notebook(s, _with_output(50 << 20)))),
    "notebook-100mb": _simple(_replacing(NOTEBOOK, lambda s: _notebook(s, _with_output(100 << 20)))),
    "zip-slip.zip": _slip,
    "zip-absolute-paths.zip": _absolute,
    "zip-bomb.zip": _bomb,
    "zip-100k-entries.zip": _many,
    "odd file names, José": _odd_names,
    "empty-folder": lambda parent, name, _: (parent / name).mkdir(parents=True),
    "only-macosx-junk": _macosx,
    "links-to-the-solution": _link(lambda s: s / "hw3code" / "neural_net.py", MODULE),
    "links-to-etc": _link(lambda _: Path("/etc/passwd"), NOTEBOOK),
    "hard-links-the-solution": _hard_link,
}
MALFORMED_EXPECT: dict[str, Malformed] = {
    "nbformat-3": Malformed(r"", score="same"),
    "empty-notebook-file": Malformed(r"toy_nn\.ipynb: not a notebook"),
    "notebook-of-no-cells": Malformed(r""),
    "binary-garbage-notebook": Malformed(r"toy_nn\.ipynb: not a notebook"),
    "duplicate-cell-ids": Malformed(r"", score="same"),
    "notebook-50mb-output": Malformed(r"", score="same"),
    "notebook-100mb": Malformed(r"toy_nn\.ipynb: over \d+ bytes; larger than any notebook, not read"),
    "zip-slip": Malformed(r"\.\./\.\./escaped-by-zip-slip\.py points outside the archive; the zip was not read"),
    "zip-absolute-paths": Malformed(r"/tmp/escaped-by-absolute-path\.py points outside the archive"),
    "zip-bomb": Malformed(r"unpacks \d+ times its packed size"),
    "zip-100k-entries": Malformed(r"100\d+ entries, over the 100000 allowed"),
    "odd file names, José": Malformed(r"", score="same"),
    "empty-folder": Malformed(r"no notebook \(toy_nn\.ipynb\) in the submission"),
    "only-macosx-junk": Malformed(r"no notebook \(toy_nn\.ipynb\) in the submission"),
    "links-to-the-solution": Malformed(r"neural_net\.py is a symbolic link and was not read"),
    "links-to-etc": Malformed(r"toy_nn\.ipynb is a symbolic link and was not read"),
    "hard-links-the-solution": Malformed(r"neural_net\.py is a hard link .* and was not read"),
}


# ---------------------------------------------------------------- after the run


@contextlib.contextmanager
def loopback_listeners() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(TCP, UDP): a listener and a bound socket on the host's loopback, non-blocking, for the
    network cases to aim at; never an address beyond this machine."""
    with (
        socket.create_server(("127.0.0.1", 0)) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        udp.bind(("127.0.0.1", 0))
        tcp.setblocking(False)
        udp.setblocking(False)
        yield tcp, udp


def ports_of(tcp: socket.socket, udp: socket.socket) -> dict[str, int]:
    """The listeners' ports, as `build_corpus` takes them."""
    return {"tcp": tcp.getsockname()[1], "udp": udp.getsockname()[1]}


def leftover_processes(tokens: tuple[str, ...] = DAEMON_TOKENS, uids: range = range(61000, 61100)) -> list[str]:
    """Processes a submission left: a daemon token in the command line, or this interpreter run
    as a sandbox uid (a kernel or a harness; another checkout's tests may run beside)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = int(re.search(r"^Uid:\s+(\d+)", (entry / "status").read_text(), re.M).group(1))  # type: ignore[union-attr]
        except (OSError, AttributeError, ValueError):
            continue
        if (uid in uids and cmdline.startswith(sys.prefix)) or any(t in cmdline for t in tokens):
            found.append(f"{entry.name} (uid {uid}): {cmdline[:120]}")
    return found


def files_named(root: Path, pattern: str) -> list[Path]:
    """Every file under `root` whose name matches the glob `pattern` (links not followed)."""
    return [p for p in root.rglob(pattern) if not p.is_symlink()]
