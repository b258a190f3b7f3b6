"""Run one untrusted command (a student's harness) in a sandbox, with limits and a timeout.

With bubblewrap (``bwrap``) the command gets its own mount, pid, network (loopback only), IPC
and UTS namespaces and sees only::

    /usr /bin /lib* /sbin        read-only (the system)
    /etc                         a few read-only files (passwd/group are synthetic, no shadow)
    sys.prefix, sys.base_prefix  read-only at their host paths, so sys.executable works inside
                                 (with any symlinks on the way to it, recreated)
    /workspace                   the workdir, read-write, the current directory
    /tmp                         a private tmpfs of limits.tmp_mb; HOME is /tmp/home
    /dev /proc                   minimal devices, a fresh procfs of its own pid namespace
    mounts                       the extra binds; a relative target is placed under /workspace

Use relative paths (or ``os.getcwd()``) inside: without isolation the workdir is the current
directory at its host path. When the grader runs as root, bwrap runs as root (it must reach an
interpreter under /root) and the command itself runs as ``uid`` with no capabilities and
no_new_privs (``setpriv``). Otherwise bwrap runs unprivileged in a user namespace as the caller.

Where bwrap is missing or unusable (macOS, Ubuntu 24.04's AppArmor policy, containers, no
root), ``isolation="auto"`` falls back to a child process of the caller's own uid, with the same
rlimits and a scrubbed environment, confined as far as the kernel allows without privileges
(`grader.confine`): Landlock lets it read only the system, Python, its workdir and the mounts,
write only its workdir (the data and the grader's cached split stay read-only) and open no TCP
connection; as root it also loses every capability. ``isolation="none"`` is a plain child with
rlimits only (a student's own check). Either way ``SandboxResult.note`` says what was applied,
loudly that the run was NOT ISOLATED.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from grader.confine import hide_proc_entries, landlock_abi
from grader.errors import SandboxError
from grader.leftovers import MARKER, make_temp_dir, marker_value, temp_dir

__all__ = ["Mount", "SandboxLimits", "SandboxResult", "isolation_available", "not_isolated_summary", "run_sandboxed"]

WORKSPACE = "/workspace"
_HOME = "/tmp/home"
_MB = 1024 * 1024
TAIL_BYTES = 64 * 1024
_DISK_POLL = 1.0  # seconds between two measurements of what a run has written
DEFAULT_UID = 65534
_INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`)"
_USERNS_HINT = (
    "as a normal user it needs unprivileged user namespaces, e.g. "
    "`sysctl kernel.unprivileged_userns_clone=1` or, on Ubuntu >= 23.10, "
    "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`"
)
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_ENTRIES = (
    "hosts", "nsswitch.conf", "host.conf", "gai.conf", "localtime", "timezone", "ld.so.cache",
    "ld.so.conf", "ld.so.conf.d", "locale.alias", "mime.types", "os-release", "debian_version",
    "alternatives", "fonts", "protocols", "services", "matplotlibrc",
    f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}",
)  # fmt: skip
_FALLBACK_MARKER = MARKER  # its value names the grader (`grader.leftovers`): a killed one's are swept

# Runs in the child right before the command (see its docstring): limits, confinement, report.
_SHIM = Path(__file__).with_name("confine.py").read_text(encoding="utf-8")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one sandboxed run, applied as rlimits (soft = hard) before exec.

    RLIMIT_NPROC counts the processes and threads of a *real uid*, not of one sandbox: the limit
    set is the uid's other tasks plus `max_processes` (`grader.confine`). As root, each sandbox
    runs as its own `uid`, so give parallel sandboxes different uids (and uids no daemon uses).
    As a normal user, bwrap sets the limit inside its user namespace, where (Linux >= 5.14) only
    the sandbox's own processes count. Without bwrap the allowance is shared with whatever else
    the caller starts meanwhile (parallel runs too); Linux never enforces it for uid 0, and
    without a /proc (macOS) it is not set at all.
    """

    timeout: float = 1800.0  #: wall-clock seconds for the whole run; then the whole tree is killed
    memory_mb: int = 8192  #: address space per process (RLIMIT_AS), in MiB
    max_processes: int = 256  #: processes + threads of the sandbox's uid (RLIMIT_NPROC)
    max_file_mb: int = 2048  #: largest file it may write, its stdout/stderr too (RLIMIT_FSIZE)
    disk_mb: int = 4096  #: all it may write to the workdir (and the fallback's scratch), in MiB
    tmp_mb: int = 512  #: size of the private /tmp tmpfs, in MiB (no private /tmp without bwrap)


@dataclass(frozen=True)
class Mount:
    """An extra bind mount: `host` appears at `target` (absolute, or relative to the workdir).

    Without isolation a relative target becomes a symlink in the workdir (removed afterwards);
    an absolute target is only possible there when it is `host` itself.
    """

    host: Path  #: the host file or folder; must exist
    target: str  #: where the command sees it
    writable: bool = False  #: read-only unless True (as root it is then chowned to the uid)


@dataclass(frozen=True)
class SandboxResult:
    """What happened to the command. A failing command is data here, never an exception."""

    returncode: int | None  #: exit status (negative: killed by that signal); None if timed out
    timed_out: bool  #: the wall-clock timeout hit and the whole tree was killed
    duration: float  #: wall-clock seconds
    stdout_tail: str  #: last 64 KiB of stdout, decoded with errors="replace"
    stderr_tail: str  #: last 64 KiB of stderr, decoded with errors="replace"
    isolated: bool  #: True when bwrap isolated the run; False for the rlimit-only fallback
    note: str  #: how it ran; says loudly when it was NOT isolated, and why
    over_disk: bool = False  #: it wrote more than `SandboxLimits.disk_mb` and the whole tree was killed


def _find_tool(name: str) -> str | None:
    """Where `name` is on PATH (one place, so tests can hide bwrap)."""
    return shutil.which(name)


def isolation_available() -> tuple[bool, str]:
    """Whether bwrap can sandbox here (tried once for real, then cached), and why not."""
    return _probe(_find_tool("bwrap"), _find_tool("setpriv"), os.geteuid() == 0)


def not_isolated_summary(isolation: Literal["auto", "bwrap", "none"] = "auto") -> str:
    """One line for a grader's terminal when runs here will not be isolated: why, and what
    confines them instead; "" when bwrap isolates them."""
    ok, why = isolation_available() if isolation != "none" else (False, "--isolation none")
    if ok:
        return ""
    head = f"submissions run WITHOUT the sandbox ({why})"
    if isolation == "none":
        return f"{head}: plain child processes with rlimits only, able to read and write all you can"
    abi = landlock_abi()
    confined = "with no capabilities, " if os.geteuid() == 0 else ""
    if abi:
        net = "no TCP" if abi >= 4 else "network open"
        confined += "confined by Landlock (reading only the system, Python, workspace and data; "
        confined += f"writing only the workspace; {net})"
    else:
        confined += (
            f"with rlimits only: no Landlock in this kernel, so they can read and write all uid {os.getuid()} can"
        )
    return f"{head}: child processes {confined}; see the README's security model"


@functools.cache
def _probe(bwrap: str | None, setpriv: str | None, as_root: bool) -> tuple[bool, str]:
    if bwrap is None:
        return False, f"bwrap is not installed; {_INSTALL_HINT}"
    if as_root and setpriv is None:
        return False, "setpriv is not installed (it drops root inside bwrap); install util-linux"
    with temp_dir("probe") as tmp:
        try:
            run = _Run(
                [sys.executable, "-c", "pass"],
                Path(tmp),
                (),
                SandboxLimits(timeout=60),
                {},
                DEFAULT_UID,
                (bwrap, setpriv or ""),
            )
            result = _run(run, None, None)
        except SandboxError as e:
            # The hint only where bwrap says user namespaces failed it. Its words are all bwrap tells
            # (it exits 1 for every failure), and kernel settings are not the only cause: a container's
            # seccomp policy refuses namespaces too, and says so in the same words.
            userns = "uid map" in str(e) or "namespace" in str(e).lower()
            return False, f"bwrap does not work here{f' ({_USERNS_HINT})' if userns else ''}: {e}"
    if result.returncode != 0:
        return False, f"bwrap does not work here: {result.stderr_tail.strip()[-500:]}"
    return True, ""


def run_sandboxed(
    argv: Sequence[str],
    *,
    workdir: Path,
    mounts: Sequence[Mount] = (),
    limits: SandboxLimits = SandboxLimits(),
    env: Mapping[str, str] = {},
    isolation: Literal["auto", "bwrap", "none"] = "auto",
    uid: int | None = None,
    stdout_path: Path | None = None,
    stderr_path: Path | None = None,
) -> SandboxResult:
    """Run `argv` in `workdir` under `limits`; return once it and all its descendants are gone.

    `env` is the whole environment on top of a safe minimum (PATH, HOME, LANG=C.UTF-8,
    MPLBACKEND=Agg, PYTHONDONTWRITEBYTECODE=1, one BLAS/OpenMP thread), which it may override.
    `uid` is who the command runs as when the grader is root (default 65534; the workdir and
    writable mounts are chowned to it); otherwise it runs as the caller. stdout and stderr go
    to `stdout_path`/`stderr_path` (or temporary files); the result holds their tails.
    `isolation="auto"` uses bwrap when it works here and else falls back (loudly) to a child
    confined as far as the kernel allows; "bwrap" insists; "none" is a plain child with rlimits.

    Raises SandboxError when the sandbox cannot be started (workdir or mount source missing,
    "bwrap" requested where it is unusable), never because the command itself failed.
    """
    if not argv:
        raise SandboxError("run_sandboxed: empty command")
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise SandboxError(f"sandbox workdir {workdir} does not exist or is not a folder")
    for m in mounts:
        if not Path(m.host).exists():
            raise SandboxError(f"sandbox mount source {m.host} (for {m.target}) does not exist")
        if ".." in Path(m.target).parts:
            raise SandboxError(f"sandbox mount target {m.target!r} must not contain '..'")
    if isolation not in ("auto", "bwrap", "none"):
        raise SandboxError(f"unknown isolation {isolation!r}; use 'auto', 'bwrap' or 'none'")
    ok, why = isolation_available() if isolation != "none" else (False, "isolation='none'")
    if not ok and isolation == "bwrap":
        raise SandboxError(f"isolation='bwrap' was requested, but {why}")
    uid = DEFAULT_UID if uid is None else uid
    tools = None
    if ok:
        tools = (_find_tool("bwrap") or "bwrap", _find_tool("setpriv") or "setpriv")
        for m in mounts:  # mount points inside the workdir, made here with the right owner
            if not m.target.startswith("/"):
                point = workdir / m.target
                point.parent.mkdir(parents=True, exist_ok=True)
                if Path(m.host).is_dir():
                    point.mkdir(exist_ok=True)
                else:
                    point.touch()
        if os.geteuid() == 0:  # the command runs as `uid`: let it write what it may write
            for path in [workdir, *(Path(m.host) for m in mounts if m.writable)]:
                _chown_tree(path, uid)
    confined = isolation == "auto" and not ok  # the fallback: confined as far as the kernel allows
    if confined:  # the command runs as our uid: keep our environment and open files from it
        hide_proc_entries()
    run = _Run(list(argv), workdir, tuple(mounts), limits, env, uid, tools, confined, why)
    return _run(run, stdout_path, stderr_path)


@dataclass(frozen=True)
class _Run:
    """One run as `_run` carries it out: the command, where, how confined, and why so."""

    argv: list[str]
    workdir: Path
    mounts: tuple[Mount, ...]
    limits: SandboxLimits
    env: Mapping[str, str]
    uid: int  # who the command runs as under a root grader
    tools: tuple[str, str] | None  # (bwrap, setpriv) when isolated
    confined: bool = False  # without bwrap: Landlock and, as root, no capabilities
    why: str = ""  # why it is not isolated


def _run(run: _Run, out: Path | None, err: Path | None) -> SandboxResult:
    """Build the bwrap or fallback command line, run it, collect, clean up."""
    tools = run.tools
    scratch = None if tools else make_temp_dir("home")
    marker = None if tools else marker_value(uuid.uuid4().hex)
    full_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch or _HOME),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        **({"TMPDIR": str(scratch)} if scratch else {}),  # there is no private /tmp then
        **run.env,
        **({_FALLBACK_MARKER: marker} if marker else {}),
    }
    report_r, report_w = os.pipe()
    command = [sys.executable, "-I", "-S", "-c", _SHIM, json.dumps(_policy(run, scratch)), str(report_w), "--"]
    command += run.argv
    child_fds = [report_w]  # passed to the child; our copies are closed once it has started
    info_r, links = None, []
    try:
        if tools:
            info_r, info_w = os.pipe()
            child_fds.append(info_w)
            passwd = "root:x:0:0::/root:/bin/sh\n"
            passwd += f"student:x:{_inner_uid(run)}:{_inner_uid(run)}::{_HOME}:/bin/sh\n"
            child_fds += [_data_fd(passwd), _data_fd(f"root:x:0:\nstudent:x:{_inner_uid(run)}:\n")]
            prefix = _bwrap_args(tools[0], run.workdir, run.mounts, run.limits, *child_fds[1:])
            if os.geteuid() == 0:  # run as uid/gid: no groups, no capabilities, no_new_privs
                prefix += [tools[1], f"--reuid={run.uid}", f"--regid={run.uid}", "--clear-groups"]
                prefix += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
            command = prefix + command
        else:
            _link_mounts(run.workdir, run.mounts, links)
        with _output(out) as out_f, _output(err) as err_f:
            cwd = None if tools else run.workdir
            written = functools.partial(_disk_used, [run.workdir, *([scratch] if scratch else [])])
            returncode, timed_out, over_disk, duration = _execute(
                command, cwd, full_env, child_fds, out_f, err_f, run.limits, written, info_r, marker
            )
            stdout_tail, stderr_tail = _tail(out_f), _tail(err_f)
        report = _read_report(report_r)
    finally:
        for fd in [report_r, info_r, *child_fds]:
            if fd is not None:
                os.close(fd)
        for link in links:
            link.unlink(missing_ok=True)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if report is None and not (timed_out or over_disk):
        raise SandboxError(f"the sandbox failed to start (exit {returncode}): {stderr_tail[-2000:]}")
    note = _note(run, report or {})
    return SandboxResult(returncode, timed_out, duration, stdout_tail, stderr_tail, bool(tools), note, over_disk)


def _inner_uid(run: _Run) -> int:
    """The uid the command runs as: `run.uid` under a root grader with bwrap, else the caller's."""
    return run.uid if os.geteuid() == 0 and run.tools else os.getuid()


def _policy(run: _Run, scratch: Path | None) -> dict[str, object]:
    """What `grader.confine` applies in the child: the rlimits, and for the fallback Landlock's
    paths (the same view bwrap gives, as far as Landlock can draw it) and no capabilities."""
    limits = run.limits
    policy: dict[str, object] = {
        "limits": {
            "AS": limits.memory_mb * _MB,
            "NPROC": limits.max_processes,
            "FSIZE": limits.max_file_mb * _MB,
            "CORE": 0,
        }
    }
    if not run.tools:
        # bwrap has --die-with-parent; a fallback child is killed by the kernel when the grader
        # thread that started it ends (a kill -9 of the grader too). grade_batch starts runs from
        # a thread pool whose threads live for the whole batch, so no run dies of a thread's end.
        policy["die_with_parent"] = os.getpid()
    if not run.confined:
        return policy
    hosts = [(str(Path(m.host).resolve()), m.writable) for m in run.mounts]
    python = {real for real, _ in _python_binds()} | {os.path.realpath(sys.executable)}
    read = [*_SYSTEM_DIRS, *(f"/etc/{name}" for name in (*_ETC_ENTRIES, "passwd", "group")), *sorted(python)]
    read += ["/proc", "/sys/devices/system/cpu", *(host for host, writable in hosts if not writable)]
    write = [str(run.workdir.resolve()), str(scratch), "/dev/shm", *(host for host, writable in hosts if writable)]
    policy["drop_capabilities"] = True
    if landlock_abi():  # decided here, where a test can take Landlock away
        policy["landlock"] = {"read": read, "write": write, "devices": list(_DEVICES), "deny_tcp": True}
    return policy


def _read_report(fd: int) -> dict[str, object] | None:
    """What the shim applied (its JSON line); None when it never got that far."""
    line = _read_nonblocking(fd).split(b"\n", 1)[0]
    try:
        report = json.loads(line) if line else None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _note(run: _Run, report: Mapping[str, object]) -> str:
    """How the run was isolated or confined, in one line; loud when it was NOT isolated."""
    uid = report.get("uid", _inner_uid(run))
    if run.tools:
        note = f"isolated by bubblewrap as uid {uid}: no network, own pid namespace, "
        return note + "read-only system, private /tmp, no view of the grader's files"
    head = f"NOT ISOLATED ({run.why}): ran as a child process of uid {uid} with rlimits"
    if report.get("nproc", 0) is None:
        head += " (no process limit: tasks cannot be counted here)"
    if not run.confined:
        return f"{head} only; it could read and write all that user can and use the network"
    parts = [head]
    if report.get("capabilities") == "dropped":
        parts.append("no capabilities")
    abi = report.get("landlock")
    if isinstance(abi, int) and abi > 0:
        parts.append(
            f"Landlock (ABI {abi}) let it read only the system, Python, its workspace and the data and "
            "write only its workspace (the data and the grader's files stayed read-only)"
        )
        parts.append(
            "no TCP connections (UDP, such as DNS, was not stopped)"
            if abi >= 4
            else "it could use the network (Landlock ABI 4 is needed to stop TCP)"
        )
        parts.append("it could see other processes")
    else:
        why = report.get("landlock_error", "this kernel has no Landlock")
        owner = "owns" if uid == 0 else "can"
        parts.append(f"no Landlock ({why}): it could read and write all that uid {uid} {owner} and use the network")
    return "; ".join(parts)


def _execute(
    command: list[str], cwd: Path | None, env: dict[str, str], child_fds: list[int],
    out_f: BinaryIO, err_f: BinaryIO, limits: SandboxLimits, written: Callable[[], int],
    info_r: int | None, marker: str | None,
) -> tuple[int | None, bool, bool, float]:  # fmt: skip
    """Run `command`, killing its whole tree at the time limit, once it has `written` more
    than the disk limit, or on Ctrl-C: (returncode, timed_out, over_disk, seconds)."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f, cwd=cwd, env=env,
            pass_fds=child_fds, start_new_session=True,
        )  # fmt: skip
    except OSError as e:
        raise SandboxError(f"cannot start the sandbox ({command[0]}): {e}") from e
    finally:
        for fd in child_fds:
            os.close(fd)
        child_fds.clear()  # (so the caller does not close them again)
    returncode, timed_out, over_disk = None, False, False
    deadline = start + limits.timeout
    try:
        while returncode is None and not (timed_out or over_disk):
            try:
                returncode = proc.wait(timeout=max(0.0, min(_DISK_POLL, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                timed_out = time.monotonic() >= deadline
                # No filesystem quota needs root: the tree is measured instead, every second.
                over_disk = not timed_out and written() > limits.disk_mb * _MB
        if timed_out or over_disk:
            _kill(proc, info_r)
    except BaseException:
        _kill(proc, info_r)
        raise
    finally:
        if marker:  # fallback: daemons that left the process group, even after a normal exit
            _kill_marked(marker)
    return returncode, timed_out, over_disk, time.monotonic() - start


def _disk_used(roots: Sequence[Path]) -> int:
    """Bytes of disk the files under `roots` take, links not followed. A folder closed to us
    (a student's chmod 000, possible without bwrap) is opened again: it is the run's own."""
    total, stack, reopened = 0, list(map(str, roots)), set()
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except PermissionError:
            if folder not in reopened:
                reopened.add(folder)
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o700)
                    stack.append(folder)
            continue
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                total += info.st_blocks * 512 if hasattr(info, "st_blocks") else info.st_size
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return total


def _bwrap_args(
    bwrap: str, workdir: Path, mounts: tuple[Mount, ...], limits: SandboxLimits,
    info_fd: int, passwd_fd: int, group_fd: int,
) -> list[str]:  # fmt: skip
    """bwrap with its namespaces and the filesystem of the module docstring, up to `--`."""
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent"]
    args += ["--new-session", "--info-fd", str(info_fd)]
    if os.geteuid() != 0:
        # Unprivileged bwrap needs a user namespace; forbid nesting more of them inside. (As
        # root there is none: one would map the command's uid back to the real root.)
        args += ["--unshare-user", "--disable-userns"]
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(limits.tmp_mb * _MB), "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--dir", _HOME]
    binds = [("--ro-bind-try", f"/etc/{name}", f"/etc/{name}") for name in _ETC_ENTRIES]
    python = _python_binds()
    binds += [("--ro-bind", real, seen) for real, seen in python]
    binds += [("--symlink", target, link) for link, target in _executable_links([s for _, s in python])]
    binds += [
        ("--bind" if m.writable else "--ro-bind", str(Path(m.host).resolve()), m.target)
        for m in mounts
        if m.target.startswith("/")
    ]
    made = {"/proc", "/dev", "/tmp", _HOME}
    for _, _, target in binds:
        # bwrap (as root) would create missing parents with mode 0700, closed to the uid.
        for parent in map(str, reversed(PurePosixPath(target).parents[:-1])):
            if parent not in made and not parent.startswith(_SYSTEM_DIRS):
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    args += ["--perms", "0644", "--ro-bind-data", str(passwd_fd), "/etc/passwd"]
    args += ["--perms", "0644", "--ro-bind-data", str(group_fd), "/etc/group"]
    for bind in binds:
        args += bind
    args += ["--bind", str(workdir.resolve()), WORKSPACE]
    for m in mounts:  # relative targets: into /workspace (their mount points exist already)
        if not m.target.startswith("/"):
            source = str(Path(m.host).resolve())
            args += ["--bind" if m.writable else "--ro-bind", source, f"{WORKSPACE}/{m.target}"]
    return [*args, "--chdir", WORKSPACE, "--"]


def _python_binds() -> list[tuple[str, str]]:
    """(host path, sandbox path) for the interpreter: each prefix, resolved and as spelled."""
    binds: dict[str, str] = {}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        spelled, real = os.path.abspath(prefix), os.path.realpath(prefix)
        for seen in {real, spelled}:
            if not _inside(seen, _SYSTEM_DIRS):
                binds[seen] = real
    return sorted(((real, seen) for seen, real in binds.items()), key=lambda b: b[1])


def _executable_links(mounted: list[str]) -> list[tuple[str, str]]:
    """(link, target) for each symlink on the way to sys.executable's binary outside `mounted`.

    A venv made by another venv's Python (3.10 and older) links to that venv's bin/python,
    which is no prefix of this interpreter: the link is recreated inside, the rest stays hidden.
    """
    links, path = [], os.path.abspath(sys.executable)
    for _ in range(40):  # the kernel's own limit on a chain of symlinks
        if not os.path.islink(path):
            break
        target = os.readlink(path)
        if not _inside(path, (*_SYSTEM_DIRS, *mounted)):
            links.append((path, target))
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return links


def _inside(path: str, dirs: Iterable[str]) -> bool:
    """Whether `path` is one of `dirs` or lies under one."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _data_fd(text: str) -> int:
    """A pipe's read end already holding `text` (for bwrap's --ro-bind-data)."""
    r, w = os.pipe()
    os.write(w, text.encode())
    os.close(w)
    return r


def _link_mounts(workdir: Path, mounts: tuple[Mount, ...], links: list[Path]) -> None:
    """Without isolation, each relative mount becomes a symlink in the workdir (into `links`)."""
    for m in mounts:
        host = Path(m.host).resolve()
        if m.target.startswith("/"):
            if Path(m.target).resolve() != host:
                raise SandboxError(f"mount {m.host} -> {m.target} needs bwrap; use a relative target")
            continue
        link = workdir / m.target
        if link.exists() or link.is_symlink():
            raise SandboxError(f"mount target {link} already exists in the workdir")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(host)
        links.append(link)


def _chown_tree(path: Path, uid: int) -> None:
    """chown -R uid:uid without following symlinks (the tree may hold a student's files)."""
    os.chown(path, uid, uid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _kill(proc: subprocess.Popen[bytes], info_r: int | None) -> None:
    """SIGKILL everything the run started; return once bwrap (and so its namespace) is gone."""
    if info_r is not None:
        # Killing the pid namespace's init makes the kernel kill every process in it; bwrap
        # exits only after that, so proc.wait() returns when the whole namespace is gone.
        child = _bwrap_child_pid(proc.pid, info_r)
        if child is not None:
            _sigkill(os.kill, child)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
    _sigkill(os.killpg, proc.pid)  # bwrap (whose child dies with it), or the fallback's group
    proc.wait()


def _sigkill(kill: Callable[[int, int], None], pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        kill(pid, signal.SIGKILL)


def _bwrap_child_pid(bwrap_pid: int, info_r: int) -> int | None:
    """The host pid of the sandbox's init (from --info-fd), if it is still bwrap's child."""
    try:
        pid = int(json.loads(_read_nonblocking(info_r) or b"{}").get("child-pid", 0))
        stat = Path(f"/proc/{pid}/stat").read_text()
        return pid if pid > 0 and int(stat.rsplit(")", 1)[1].split()[1]) == bwrap_pid else None
    except (OSError, ValueError, IndexError):
        return None


def _kill_marked(marker: str) -> None:
    """Fallback only: kill processes that left the process group (setsid) but still carry our
    marker in their environment. Best effort: one that rewrote its environment escapes."""
    needle = f"{_FALLBACK_MARKER}={marker}\0".encode()
    for _ in range(20):
        found = False
        for entry in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, ValueError):
                if needle in (entry / "environ").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
        if not found:
            return
        time.sleep(0.05)


def _read_nonblocking(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    """A binary file for the child's stdout or stderr: `path` (truncated) or a temporary file."""
    try:
        f = tempfile.TemporaryFile() if path is None else open(path, "w+b")  # noqa: SIM115
    except OSError as e:
        raise SandboxError(f"cannot write the sandbox output file {path}: {e}") from e
    with f:
        yield f


def _tail(f: BinaryIO) -> str:
    f.seek(max(0, f.seek(0, os.SEEK_END) - TAIL_BYTES))
    return f.read().decode("utf-8", errors="replace")
