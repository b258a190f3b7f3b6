"""grader.sandbox with the real bubblewrap (no mocks), and its rlimit-only fallback.

Each probe is a `sys.executable -c` program that prints JSON; the test reads it back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hostile_corpus import loopback_listeners, ports_of

from grader import sandbox
from grader.confine import landlock_abi, tasks_of
from grader.errors import SandboxError
from grader.sandbox import Mount, SandboxLimits, isolation_available, run_sandboxed

AVAILABLE, WHY = isolation_available()
needs_bwrap = pytest.mark.skipif(not AVAILABLE, reason=f"bwrap cannot sandbox here: {WHY}")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop needs a root grader")
PY = sys.executable

# A child that double-forks into a new session, ignores SIGTERM and sleeps, and a parent that
# then sleeps argv[2] seconds. The grandchild carries argv[1] (a marker) on its command line so
# the test can look for it among the host's processes afterwards.
DAEMONIZE = """
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open("daemon-started", "w").close()
        sleep = [sys.executable, "-c", "import time; time.sleep(300)", sys.argv[1]]
        os.execv(sys.executable, sleep)
    os._exit(0)
while not os.path.exists("daemon-started"):
    time.sleep(0.02)
time.sleep(float(sys.argv[2]))
"""


def probe(code: str, workdir: Path, args: Sequence[str] = (), **kwargs: object) -> tuple[sandbox.SandboxResult, Any]:
    """Run `code` (with `args`) in the sandbox; return the result and the JSON of its last stdout line."""
    result = run_sandboxed([PY, "-c", code, *args], workdir=workdir, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr_tail
    return result, json.loads(result.stdout_tail.strip().splitlines()[-1])


def processes_with(marker: str, grace: float = 2.0) -> list[int]:
    """Host pids whose command line contains `marker`, once `grace` seconds have passed without
    them going (the kernel tears a pid namespace down as its init exits: under load, a killed
    process can still show in /proc for a moment after bwrap returns)."""
    deadline = time.monotonic() + grace
    while (found := _pids_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _pids_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


# --- what the command sees -------------------------------------------------------------------


def python_ancestors() -> dict[str, set[str]]:
    """Each folder above the interpreter's prefixes (outside the system dirs) -> its one child on the way down.

    The sandbox mounts a virtualenv that lives outside /usr at its own path (a fresh clone's
    .venv, wherever CI cloned it), so those folders exist inside, holding nothing else.
    """
    way: dict[str, set[str]] = {}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for spelled in {os.path.abspath(prefix), os.path.realpath(prefix)}:
            path = PurePosixPath(spelled)
            if path.parts[1] in {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}:
                continue
            for parent, child in zip(path.parents, (path, *path.parents[:-1]), strict=True):
                way.setdefault(str(parent), set()).add(child.name)
    return way


@needs_bwrap
def test_sees_only_the_system_python_workdir_and_tmp(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "grader-output"
    out.mkdir()
    (out / "results.json").write_text("{}")
    project = Path(__file__).resolve().parents[1]
    way_to_python = python_ancestors()
    secret = ["/work", "/root/.ssh", "/home", "/etc/shadow", "/var", out, work]
    secret += [project / "solutions", project / "grader"]  # the clone whose .venv runs the tests
    code = f"""
import json, os, subprocess, sys
def writable(path):
    try:
        open(path, "w").close()
        return True
    except OSError:
        return False
open("made-inside.txt", "w").write("hi")
print(json.dumps(dict(
    cwd=os.getcwd(), home=os.environ["HOME"], root=sorted(os.listdir("/")),
    hidden={{p: os.path.exists(p) for p in {[str(p) for p in secret if str(p) not in way_to_python]!r}}},
    way_to_python={{p: sorted(os.listdir(p)) for p in {sorted(way_to_python)!r}}},
    etc=sorted(os.listdir("/etc")), passwd=open("/etc/passwd").read(),
    usr_writable=writable("/usr/x"), tmp_writable=writable("/tmp/x"),
    home_writable=writable(os.environ["HOME"] + "/x"), tmp=sorted(os.listdir("/tmp")),
    python_works=subprocess.run([sys.executable, "-c", "import json"]).returncode == 0,
    dev=sorted(os.listdir("/dev")),
)))
"""
    result, seen = probe(code, work)
    assert result.isolated and "isolated by bubblewrap" in result.note
    assert seen["cwd"] == "/workspace" and seen["home"] == "/tmp/home"
    assert len(seen["hidden"]) >= 6 and not any(seen["hidden"].values()), seen["hidden"]
    system = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "root", "proc", "dev", "tmp", "workspace"}
    assert set(seen["root"]) <= system | way_to_python.get("/", set())
    # Above a virtualenv outside /usr, each folder holds only the way down to it (/ is checked
    # above, /tmp below: both hold more of their own).
    for folder, children in seen["way_to_python"].items():
        if folder not in ("/", "/tmp"):
            assert set(children) == way_to_python[folder], (folder, children)
    assert "shadow" not in seen["etc"] and "passwd" in seen["etc"]
    assert "student:x:" in seen["passwd"] and "nobody" not in seen["passwd"]
    assert not seen["usr_writable"] and seen["tmp_writable"] and seen["home_writable"]
    assert set(seen["tmp"]) - way_to_python.get("/tmp", set()) == {"home", "x"}
    assert seen["python_works"]
    assert "null" in seen["dev"] and not any(d.startswith(("sd", "nvme", "vd")) for d in seen["dev"])
    made = work / "made-inside.txt"
    assert made.read_text() == "hi"
    if os.geteuid() == 0:
        assert made.stat().st_uid == sandbox.DEFAULT_UID


@needs_bwrap
def test_environment_is_exactly_env_plus_a_safe_minimum(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    _, inside = probe(code, work, env={"SEED": "7", "OMP_NUM_THREADS": "2"})
    assert "GRADER_SECRET_TOKEN" not in inside and "hunter2" not in json.dumps(inside)
    assert inside["SEED"] == "7" and inside["OMP_NUM_THREADS"] == "2"
    assert inside["LANG"] == "C.UTF-8" and inside["MPLBACKEND"] == "Agg"
    assert inside["OPENBLAS_NUM_THREADS"] == inside["MKL_NUM_THREADS"] == "1"
    assert inside["PYTHONDONTWRITEBYTECODE"] == "1"
    expected = {"PATH", "HOME", "LANG", "MPLBACKEND", "PYTHONDONTWRITEBYTECODE", "SEED", "PWD"}
    expected |= {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert set(inside) - {"LC_CTYPE"} == expected  # LC_CTYPE: Python's own locale coercion


@needs_bwrap
def test_loopback_works_but_nothing_else(work: Path) -> None:
    code = """
import json, socket, threading
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
def echo():
    conn, _ = server.accept(); conn.sendall(conn.recv(100).upper()); conn.close()
threading.Thread(target=echo).start()
client = socket.create_connection(server.getsockname(), timeout=5)
client.sendall(b"ping"); reply = client.recv(100).decode()
outside = {}
for addr in [("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        socket.create_connection(addr, timeout=3); outside[addr[0]] = "connected"
    except OSError as e:
        outside[addr[0]] = str(e)
print(json.dumps(dict(reply=reply, outside=outside, ifaces=socket.if_nameindex())))
"""
    _, seen = probe(code, work)
    assert seen["reply"] == "PING"
    assert all(v != "connected" for v in seen["outside"].values()), seen["outside"]
    assert [name for _, name in seen["ifaces"]] == ["lo"]


@needs_bwrap
def test_own_pid_namespace_cannot_see_or_signal_the_grader(work: Path) -> None:
    code = f"""
import json, os
try:
    os.kill({os.getpid()}, 0); signalled = True
except OSError:
    signalled = False
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(dict(signalled=signalled, pids=pids, pid=os.getpid())))
"""
    _, seen = probe(code, work)
    assert not seen["signalled"]
    assert max(seen["pids"]) < 50 and len(seen["pids"]) <= 5, seen["pids"]  # not the host's


@needs_bwrap
@needs_root
def test_command_runs_unprivileged_when_the_grader_is_root(work: Path) -> None:
    code = """
import json, os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
try:
    os.setuid(0); became_root = True
except PermissionError:
    became_root = False
print(json.dumps(dict(ids=[os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
    groups=os.getgroups(), became_root=became_root,
    caps={k: status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")},
    nnp=status["NoNewPrivs"].strip())))
"""
    _, seen = probe(code, work, uid=64101)
    assert seen["ids"] == [64101] * 4 and seen["groups"] == []
    assert set(seen["caps"].values()) == {"0000000000000000"}, seen["caps"]
    assert seen["nnp"] == "1" and not seen["became_root"]


@pytest.mark.slow
@needs_bwrap
def test_python_from_a_virtualenv_behind_symlinks_works_inside(work: Path, tmp_path: Path) -> None:
    subprocess.run([PY, "-m", "venv", "--without-pip", tmp_path / "venv"], check=True)
    # `import grader` needs its dependencies: the new venv sees this interpreter's packages.
    # (--system-site-packages would not: it shows the base Python's, not this venv's.)
    (site,) = (tmp_path / "venv" / "lib").glob("python*/site-packages")
    (site / "deps.pth").write_text("\n".join(p for p in sys.path if p.endswith("-packages")) + "\n")
    (tmp_path / "link").symlink_to(tmp_path / "venv")
    # The venv's python reaches the binary through a folder that is no prefix of it (as a venv
    # made by another venv's Python 3.10 does): the hop must work inside, its neighbours stay out.
    hop = tmp_path / "elsewhere"
    hop.mkdir()
    (hop / "python").symlink_to(os.path.realpath(sys.executable))
    (hop / "secret.txt").write_text("not for students")
    (tmp_path / "venv" / "bin" / "python").unlink()
    (tmp_path / "venv" / "bin" / "python").symlink_to(hop / "python")
    driver = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parents[1])!r})
from pathlib import Path
from grader.sandbox import run_sandboxed
code = "import json, os, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.executable, os.listdir(sys.argv[1])]))"
result = run_sandboxed([sys.executable, "-c", code, {str(hop)!r}], workdir=Path({str(work)!r}))
print(json.dumps([result.isolated, sys.prefix, result.stdout_tail, result.stderr_tail]))
"""
    venv_python = tmp_path / "link" / "bin" / "python"
    ran = subprocess.run([venv_python, "-c", driver], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    isolated, prefix, stdout, stderr = json.loads(ran.stdout)
    assert isolated and prefix == str(tmp_path / "link"), stderr
    assert json.loads(stdout) == [prefix, sys.base_prefix, str(venv_python), ["python"]]


@needs_bwrap
def test_tmp_is_private_and_size_limited(work: Path) -> None:
    code = """
import json
try:
    open("/tmp/fill", "wb").write(b"x" * 6 * 2**20); filled = "ok"
except OSError as e:
    filled = e.strerror
print(json.dumps(filled))
"""
    _, seen = probe(code, work, limits=SandboxLimits(tmp_mb=4))
    assert seen == "No space left on device"
    assert not Path("/tmp/fill").exists()


@pytest.mark.slow
@needs_bwrap
def test_a_notebook_runs_through_nbclient_and_ipykernel_inside(work: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cell = "import numpy as np, matplotlib.pyplot as plt\nplt.plot(np.arange(5))\nprint(6 * 7)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nbformat.write(nb, work / "nb.ipynb")
    runner = """
import json, nbformat
from nbclient import NotebookClient
nb = nbformat.read("nb.ipynb", as_version=4)
NotebookClient(nb, timeout=60, kernel_name="python3").execute()
print(json.dumps(nb.cells[0].outputs[0]["text"]))
"""
    _, text = probe(runner, work, limits=SandboxLimits(timeout=120))
    assert text == "42\n"


# --- the whole tree dies ---------------------------------------------------------------------


@pytest.mark.slow
@needs_bwrap
def test_timeout_kills_the_whole_tree_including_daemons(work: Path) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    start = time.monotonic()
    result = run_sandboxed([PY, "-c", DAEMONIZE, marker, "300"], workdir=work, limits=SandboxLimits(timeout=2))
    assert result.timed_out and result.returncode is None
    assert 2 <= result.duration < 8 and time.monotonic() - start < 10
    assert (work / "daemon-started").exists()
    assert processes_with(marker) == []


@needs_bwrap
def test_daemons_die_with_the_command_even_without_timeout(work: Path) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    result = run_sandboxed([PY, "-c", DAEMONIZE, marker, "0"], workdir=work)
    assert result.returncode == 0 and not result.timed_out
    assert (work / "daemon-started").exists()
    assert processes_with(marker) == []


# --- limits ----------------------------------------------------------------------------------


@needs_bwrap
def test_memory_limit(work: Path) -> None:
    code = """
import json, sys
try:
    block = bytearray(int(sys.argv[1]) * 2**20); ok = True
except MemoryError:
    ok = False
print(json.dumps(ok))
"""
    limits = SandboxLimits(memory_mb=256)
    small = run_sandboxed([PY, "-c", code, "64"], workdir=work, limits=limits)
    big = run_sandboxed([PY, "-c", code, "300"], workdir=work, limits=limits)
    assert (small.stdout_tail.strip(), big.stdout_tail.strip()) == ("true", "false")


@pytest.mark.slow
@needs_bwrap
def test_numpy_matplotlib_and_locale_work_under_default_limits(work: Path) -> None:
    code = """
import json, locale, resource
locale.setlocale(locale.LC_ALL, "")
import numpy as np
import matplotlib.pyplot as plt
a = np.random.default_rng(0).standard_normal((300, 300))
plt.plot(a[0]); plt.savefig("plot.png")
print(json.dumps(dict(trace=float(np.trace(a @ np.linalg.inv(a))), enc=locale.getpreferredencoding(False),
    limits={k: resource.getrlimit(getattr(resource, "RLIMIT_" + k))
            for k in ("AS", "NPROC", "FSIZE", "CORE")})))
"""
    _, seen = probe(code, work)
    assert abs(seen["trace"] - 300) < 1e-6 and seen["enc"] == "UTF-8"
    assert (work / "plot.png").stat().st_size > 1000
    d = SandboxLimits()
    assert seen["limits"] == {
        "AS": [d.memory_mb * 2**20] * 2,
        "NPROC": [d.max_processes] * 2,
        "FSIZE": [d.max_file_mb * 2**20] * 2,
        "CORE": [0, 0],
    }


@needs_bwrap
def test_file_size_limit(work: Path) -> None:
    code = """
import json
def write(name, mb):
    try:
        with open(name, "wb") as f:
            f.write(b"x" * (mb * 2**20))
        return "ok"
    except OSError as e:
        return e.strerror
print(json.dumps([write("small", 1), write("big", 3)]))
"""
    _, seen = probe(code, work, limits=SandboxLimits(max_file_mb=2))
    assert seen == ["ok", "File too large"]
    assert (work / "big").stat().st_size <= 2 * 2**20


@needs_bwrap
def test_fork_bomb_hits_the_process_limit(work: Path) -> None:
    code = """
import json, os, time
children = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        children += 1
    error = None
except BlockingIOError as e:
    error = e.strerror
print(json.dumps(dict(children=children, error=error)))
"""
    start = time.monotonic()
    _, seen = probe(code, work, limits=SandboxLimits(max_processes=50), uid=64102)
    assert seen["error"] == "Resource temporarily unavailable"
    assert 40 <= seen["children"] < 50
    assert time.monotonic() - start < 10  # and the sleeping children died with the sandbox


@needs_bwrap
def test_output_flood_goes_to_files_and_only_the_tail_comes_back(work: Path, tmp_path: Path) -> None:
    code = "import sys\nfor _ in range(50): sys.stdout.buffer.write(b'x' * 2**20)\nprint('END')"
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    start = time.monotonic()
    result = run_sandboxed(
        [PY, "-c", code], workdir=work, limits=SandboxLimits(timeout=20), stdout_path=out, stderr_path=err
    )
    assert result.returncode == 0 and time.monotonic() - start < 10  # a full pipe would hang
    assert result.stdout_tail.endswith("END\n") and len(result.stdout_tail) <= sandbox.TAIL_BYTES
    assert out.stat().st_size == 50 * 2**20 + 4 and err.read_bytes() == b""
    flood = run_sandboxed([PY, "-c", code], workdir=work)  # temporary files
    assert flood.returncode == 0 and len(flood.stdout_tail) == sandbox.TAIL_BYTES


# --- mounts and errors -----------------------------------------------------------------------


@needs_bwrap
def test_extra_mounts(work: Path, tmp_path: Path) -> None:
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "batch").write_text("pixels")
    results = tmp_path / "results"
    results.mkdir()
    mounts = [
        Mount(data, "/data"),
        Mount(data, "cifar-10-batches-py"),
        Mount(results, "/results", writable=True),
    ]
    code = """
import json
def write(path):
    try:
        open(path, "w").write("x"); return "ok"
    except OSError as e:
        return e.strerror
print(json.dumps([open("/data/batch").read(), open("cifar-10-batches-py/batch").read(),
                  write("/data/new"), write("cifar-10-batches-py/new"), write("/results/r")]))
"""
    _, seen = probe(code, work, mounts=mounts)
    assert seen == ["pixels", "pixels", "Read-only file system", "Read-only file system", "ok"]
    assert (results / "r").read_text() == "x" and not (data / "new").exists()


def test_start_errors_name_the_path(work: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-workdir"
    with pytest.raises(SandboxError, match="no-such-workdir"):
        run_sandboxed([PY, "-c", "pass"], workdir=missing)
    gone = tmp_path / "no-such-dataset"
    with pytest.raises(SandboxError, match="no-such-dataset"):
        run_sandboxed([PY, "-c", "pass"], workdir=work, mounts=[Mount(gone, "/data")])


@needs_bwrap
def test_a_sandbox_that_cannot_start_raises(work: Path, tmp_path: Path) -> None:
    # bwrap cannot create a mount point inside the read-only /usr: it fails before the command.
    with pytest.raises(SandboxError, match="failed to start"):
        run_sandboxed([PY, "-c", "pass"], workdir=work, mounts=[Mount(tmp_path, "/usr/nope/x")])


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_a_failing_command_is_data_not_an_exception(work: Path, isolation: str) -> None:
    failed = run_sandboxed(
        [PY, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
        workdir=work,
        isolation=isolation,  # type: ignore[arg-type]
    )
    assert failed.returncode == 3 and not failed.timed_out and "boom" in failed.stderr_tail
    missing = run_sandboxed(["no-such-program-xyz"], workdir=work, isolation=isolation)  # type: ignore[arg-type]
    assert missing.returncode == 127 and "no-such-program-xyz" in missing.stderr_tail


# --- without bwrap ---------------------------------------------------------------------------


def test_fallback_is_loud_scrubbed_and_limited(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "batch").write_text("pixels")
    code = """
import json, os, resource
try:
    bytearray(300 * 2**20); big_alloc = "ok"
except MemoryError:
    big_alloc = "MemoryError"
try:
    open("big", "wb").write(b"x" * 3 * 2**20); big_file = "ok"
except OSError as e:
    big_file = e.strerror
print(json.dumps(dict(cwd=os.getcwd(), env=dict(os.environ), big_alloc=big_alloc,
    big_file=big_file, data=open("cifar/batch").read(),
    core=resource.getrlimit(resource.RLIMIT_CORE))))
"""
    limits = SandboxLimits(memory_mb=256, max_file_mb=2)
    result, seen = probe(
        code,
        work,
        isolation="none",
        limits=limits,
        env={"SEED": "7"},
        mounts=[Mount(data, "cifar")],
    )
    assert not result.isolated and result.note.startswith("NOT ISOLATED")
    assert seen["cwd"] == str(work) and seen["data"] == "pixels"
    assert "GRADER_SECRET_TOKEN" not in seen["env"] and seen["env"]["SEED"] == "7"
    assert seen["env"]["HOME"] != os.environ.get("HOME") and seen["env"]["MPLBACKEND"] == "Agg"
    assert seen["big_alloc"] == "MemoryError" and seen["big_file"] == "File too large"
    assert seen["core"] == [0, 0]
    assert not (work / "cifar").exists()  # the stand-in symlink is gone
    assert not Path(seen["env"]["HOME"]).exists()  # and so is the private HOME


def test_fallback_timeout_kills_the_group_and_daemons(work: Path) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    result = run_sandboxed(
        [PY, "-c", DAEMONIZE, marker, "300"],
        workdir=work,
        limits=SandboxLimits(timeout=1.5),
        isolation="none",
    )
    assert result.timed_out and not result.isolated and result.duration < 6
    assert (work / "daemon-started").exists()
    assert processes_with(marker) == []


def test_without_bwrap(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(work))  # bwrap is nowhere on PATH now
    available, why = isolation_available()
    assert not available and "bwrap is not installed" in why and "apt-get install bubblewrap" in why
    result = run_sandboxed([PY, "-c", "print('hi')"], workdir=work)
    assert result.stdout_tail == "hi\n" and not result.isolated
    assert "NOT ISOLATED" in result.note and "bwrap is not installed" in result.note
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        run_sandboxed([PY, "-c", "pass"], workdir=work, isolation="bwrap")


def test_a_bwrap_that_does_not_work_here_means_fallback(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bwrap"  # what bwrap says where user namespaces are disabled
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    setpriv = shutil.which("setpriv")
    if setpriv is None and os.geteuid() == 0:
        pytest.skip("setpriv (util-linux) is missing, so a root grader never gets to bwrap")
    if setpriv is not None:
        (bin_dir / "setpriv").symlink_to(setpriv)
    monkeypatch.setenv("PATH", str(bin_dir))
    available, why = isolation_available()
    assert not available and "uid map: Permission denied" in why and "user namespaces" in why
    result = run_sandboxed([PY, "-c", "print('hi')"], workdir=work)
    assert result.stdout_tail == "hi\n" and not result.isolated
    assert "NOT ISOLATED" in result.note and "uid map" in result.note
    with pytest.raises(SandboxError, match="bwrap does not work here"):
        run_sandboxed([PY, "-c", "pass"], workdir=work, isolation="bwrap")


# --- the confined fallback (bwrap missing or refused) -----------------------------------------

CONFINED_PROBE = """
import json, os, socket, sys
secret, beside, tcp_port, udp_port, host_pid = sys.argv[1:6]
seen = {}
def attempt(name, action):
    try:
        seen[name] = action()
    except OSError as e:
        seen[name] = type(e).__name__
attempt("read_data", lambda: open("cifar/batch").read())
attempt("write_data", lambda: open("cifar/batch", "w").write("forged"))
attempt("read_secret", lambda: open(secret).read())
attempt("write_beside", lambda: open(beside, "w").write("x"))
attempt("write_workdir", lambda: open("mine.txt", "w").write("x"))
attempt("tcp", lambda: socket.create_connection(("127.0.0.1", int(tcp_port)), timeout=2) and "connected")
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hi", ("127.0.0.1", int(udp_port))))
attempt("sees_host_process", lambda: os.path.exists(f"/proc/{host_pid}"))
attempt("signal_host_process", lambda: os.kill(int(host_pid), 0) or "delivered")
attempt("capabilities", lambda: [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0])
attempt("numpy", lambda: float(__import__("numpy").ones(3).sum()))
print(json.dumps(seen))
"""

# The README's security-model table, column by column: what the code of a run could do.
CAN, CANNOT = True, False
SECURITY_MODEL = {
    "bwrap": {
        "write the data": CANNOT, "read a secret beside it": CANNOT, "write beside it": CANNOT,
        "TCP to the host's loopback": CANNOT, "UDP to the host's loopback": CANNOT,
        "see a host process": CANNOT, "signal a host process": CANNOT,
    },
    "landlock": {
        "write the data": CANNOT, "read a secret beside it": CANNOT, "write beside it": CANNOT,
        "TCP to the host's loopback": CANNOT, "UDP to the host's loopback": CAN,
        "see a host process": CAN, "signal a host process": CANNOT,
    },
    "no-landlock": {
        "write the data": CAN, "read a secret beside it": CAN, "write beside it": CAN,
        "TCP to the host's loopback": CAN, "UDP to the host's loopback": CAN,
        "see a host process": CAN, "signal a host process": CAN,
    },
}  # fmt: skip


def _confined_run(work: Path, tmp_path: Path) -> tuple[sandbox.SandboxResult, dict[str, object], dict[str, bool]]:
    """The probe above in the sandbox (isolation "auto"): its result, what it saw, and what it
    could do, each tried against a file, a listener or a process of this test."""
    data, secret, beside = tmp_path / "dataset", tmp_path / "secret.txt", tmp_path / "beside.txt"
    data.mkdir()
    (data / "batch").write_text("pixels")
    secret.write_text("the reference solution")
    with loopback_listeners() as (tcp, udp):
        ports = [str(port) for port in ports_of(tcp, udp).values()]
        args = [str(secret), str(beside), *ports, str(os.getpid())]
        result, seen = probe(CONFINED_PROBE, work, mounts=[Mount(data, "cifar")], args=args)
        could = {
            "write the data": (data / "batch").read_text() == "forged",
            "read a secret beside it": seen["read_secret"] == "the reference solution",
            "write beside it": beside.exists(),
            "TCP to the host's loopback": _received(lambda: tcp.accept()[0].close()),
            "UDP to the host's loopback": _received(lambda: udp.recv(16)),
            "see a host process": seen["sees_host_process"] is True,
            "signal a host process": seen["signal_host_process"] == "delivered",
        }
    return result, seen, could


def _received(take: Callable[[], object]) -> bool:
    try:
        take()
        return True
    except BlockingIOError:
        return False


@pytest.mark.parametrize("mode", list(SECURITY_MODEL))
def test_the_security_model_table_of_the_readme(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "bwrap" and not AVAILABLE:
        pytest.skip(f"bwrap cannot sandbox here: {WHY}")
    if mode == "landlock" and landlock_abi() < 6:
        pytest.skip(f"Landlock ABI {landlock_abi()} here; the table's column is for ABI 6+ (Linux 6.12+)")
    if mode != "bwrap":
        empty = tmp_path / "no-bwrap-here"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))  # bwrap is nowhere on PATH now
    if mode == "no-landlock":  # a kernel without Landlock (before 5.13, or not in the boot's LSMs)
        monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    result, seen, could = _confined_run(work, tmp_path)
    assert could == SECURITY_MODEL[mode]
    assert seen["read_data"] == "pixels" and seen["numpy"] == 3.0 and seen["write_workdir"] == 1
    if os.geteuid() == 0:
        assert seen["capabilities"] == "0000000000000000"
    if mode == "bwrap":
        assert result.isolated and result.note.startswith("isolated by bubblewrap")
        return
    assert not result.isolated and result.note.startswith("NOT ISOLATED (bwrap is not installed")
    if mode == "landlock":
        assert f"Landlock (ABI {landlock_abi()})" in result.note and "no TCP connections" in result.note
        assert "(UDP, such as DNS, was not stopped)" in result.note
    else:
        assert "no Landlock (this kernel has no Landlock)" in result.note and "use the network" in result.note
    assert ("no capabilities" in result.note) is (os.geteuid() == 0)


def test_the_process_limit_counts_only_what_the_command_starts(work: Path) -> None:
    """RLIMIT_NPROC counts every task of the uid: the shim allows the others that exist already."""
    threads = [threading.Thread(target=time.sleep, args=(5,), daemon=True) for _ in range(40)]
    for thread in threads:
        thread.start()
    before = tasks_of(os.getuid())
    assert before is not None and before >= 41
    code = "import resource, json; print(json.dumps(resource.getrlimit(resource.RLIMIT_NPROC)))"
    _, (soft, hard) = probe(code, work, isolation="none", limits=SandboxLimits(max_processes=30))
    assert soft == hard and before - 1 + 30 <= soft <= before + 30 + 20  # (others may come and go)
    assert tasks_of(os.getuid(), proc=str(work / "no-proc-here")) is None  # macOS: not counted
