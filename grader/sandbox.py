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
Where bwrap is missing or unusable, ``isolation="auto"`` falls back to a plain subprocess with the
same rlimits and a scrubbed environment, and says loudly in ``SandboxResult.note`` that it did.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
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

from grader.errors import SandboxError

__all__ = ["Limits", "Mount", "SandboxResult", "isolation_available", "run_sandboxed"]

log = logging.getLogger(__name__)

WORKSPACE = "/workspace"
_HOME = "/tmp/home"
_MB = 1024 * 1024
TAIL_BYTES = 64 * 1024
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
_FALLBACK_MARKER = "GRADER_SANDBOX_RUN"

# Runs inside, as the final (unprivileged) user, right before the student's command: reports
# "started" on a pipe (so a sandbox that never started is told apart from a failing command),
# lowers soft and hard rlimits (no capabilities remain to raise them again), then execs.
_LIMITS_SHIM = """\
import os, resource as r, sys
fd, rest = int(sys.argv[1]), sys.argv[2:]
os.write(fd, b"1"); os.close(fd)
limits = dict(zip(("AS", "NPROC", "FSIZE", "CORE"), map(int, rest[:4])))
for name, value in limits.items():
    kind = getattr(r, "RLIMIT_" + name)
    hard = r.getrlimit(kind)[1]
    value = value if hard == r.RLIM_INFINITY else min(value, hard)
    try:
        r.setrlimit(kind, (value, value))
    except (OSError, ValueError) as e:
        print(f"sandbox: cannot set RLIMIT_{name}: {e}", file=sys.stderr)
try:
    os.execvp(rest[5], rest[5:])
except OSError as e:
    print(f"sandbox: cannot run {rest[5]!r}: {e}", file=sys.stderr)
    os._exit(127)
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed run, applied as rlimits (soft = hard) before exec.

    RLIMIT_NPROC counts the processes and threads of a *real uid*, not of one sandbox. As root,
    each sandbox runs as its own `uid`, so give parallel sandboxes different uids (and uids no
    daemon uses). As a normal user, bwrap sets the limit inside its user namespace, where
    (Linux >= 5.14) only the sandbox's own processes count. Without bwrap, every process of the
    calling user counts, and root is exempt from the limit altogether.
    """

    timeout: float = 1800.0  #: wall-clock seconds for the whole run; then the whole tree is killed
    memory_mb: int = 8192  #: address space per process (RLIMIT_AS), in MiB
    max_processes: int = 256  #: processes + threads of the sandbox's uid (RLIMIT_NPROC)
    max_file_mb: int = 2048  #: largest file it may write, its stdout/stderr too (RLIMIT_FSIZE)
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


def _find_tool(name: str) -> str | None:
    """Where `name` is on PATH (one place, so tests can hide bwrap)."""
    return shutil.which(name)


def isolation_available() -> tuple[bool, str]:
    """Whether bwrap can sandbox here (tried once for real, then cached), and why not."""
    return _probe(_find_tool("bwrap"), _find_tool("setpriv"), os.geteuid() == 0)


@functools.cache
def _probe(bwrap: str | None, setpriv: str | None, as_root: bool) -> tuple[bool, str]:
    if bwrap is None:
        return False, f"bwrap is not installed; {_INSTALL_HINT}"
    if as_root and setpriv is None:
        return False, "setpriv is not installed (it drops root inside bwrap); install util-linux"
    with tempfile.TemporaryDirectory(prefix="grader-probe-") as tmp:
        try:
            result = _run(
                [sys.executable, "-c", "pass"], Path(tmp), (), Limits(timeout=60), {},
                DEFAULT_UID, (bwrap, setpriv or ""), None, None,
            )  # fmt: skip
        except SandboxError as e:  # the hint only where bwrap says user namespaces failed it
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
    limits: Limits = Limits(),
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
    `isolation="auto"` uses bwrap when it works here and else falls back (loudly) to rlimits
    only; "bwrap" insists; "none" never isolates.

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
    else:
        log.warning("sandbox NOT isolated (%s): running %s", why, " ".join(argv))
    return _run(list(argv), workdir, tuple(mounts), limits, env, uid, tools, stdout_path, stderr_path, why)


def _run(
    argv: list[str],
    workdir: Path,
    mounts: tuple[Mount, ...],
    limits: Limits,
    env: Mapping[str, str],
    uid: int,
    tools: tuple[str, str] | None,
    out: Path | None,
    err: Path | None,
    why: str = "",
) -> SandboxResult:
    """Build the bwrap (`tools` given) or fallback command line, run it, collect, clean up."""
    inner_uid = uid if os.geteuid() == 0 else os.getuid()
    scratch = None if tools else Path(tempfile.mkdtemp(prefix="grader-home-"))
    marker = None if tools else uuid.uuid4().hex
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
        **env,
        **({_FALLBACK_MARKER: marker} if marker else {}),
    }
    started_r, started_w = os.pipe()
    numbers = (limits.memory_mb * _MB, limits.max_processes, limits.max_file_mb * _MB, 0)
    command = [sys.executable, "-I", "-S", "-c", _LIMITS_SHIM, str(started_w)]
    command += [*map(str, numbers), "--", *argv]
    child_fds = [started_w]  # passed to the child; our copies are closed once it has started
    info_r, links = None, []
    try:
        if tools:
            info_r, info_w = os.pipe()
            child_fds.append(info_w)
            passwd = "root:x:0:0::/root:/bin/sh\n"
            passwd += f"student:x:{inner_uid}:{inner_uid}::{_HOME}:/bin/sh\n"
            child_fds += [_data_fd(passwd), _data_fd(f"root:x:0:\nstudent:x:{inner_uid}:\n")]
            prefix = _bwrap_args(tools[0], workdir, mounts, limits, *child_fds[1:])
            if os.geteuid() == 0:  # run as uid/gid: no groups, no capabilities, no_new_privs
                prefix += [tools[1], f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
                prefix += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
            command = prefix + command
        else:
            _link_mounts(workdir, mounts, links)
        with _output(out) as out_f, _output(err) as err_f:
            cwd = None if tools else workdir
            returncode, timed_out, duration = _execute(
                command, cwd, full_env, child_fds, out_f, err_f, limits.timeout, info_r, marker
            )
            stdout_tail, stderr_tail = _tail(out_f), _tail(err_f)
        started = _read_nonblocking(started_r)
    finally:
        for fd in [started_r, info_r, *child_fds]:
            if fd is not None:
                os.close(fd)
        for link in links:
            link.unlink(missing_ok=True)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if not started and not timed_out:
        raise SandboxError(f"the sandbox failed to start (exit {returncode}): {stderr_tail[-2000:]}")
    if tools:
        note = f"isolated by bubblewrap as uid {inner_uid}: no network, own pid namespace, "
        note += "read-only system, private /tmp, no view of the grader's files"
    else:
        note = f"NOT ISOLATED ({why}): ran as a plain subprocess with rlimits only, as uid "
        note += f"{os.getuid()}; it could read and write all that user can and use the network"
    return SandboxResult(returncode, timed_out, duration, stdout_tail, stderr_tail, bool(tools), note)


def _execute(
    command: list[str], cwd: Path | None, env: dict[str, str], child_fds: list[int],
    out_f: BinaryIO, err_f: BinaryIO, timeout: float, info_r: int | None, marker: str | None,
) -> tuple[int | None, bool, float]:  # fmt: skip
    """Run `command`, killing its whole tree on timeout or Ctrl-C: (returncode, timed_out, s)."""
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
    returncode, timed_out = None, False
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc, info_r)
    except BaseException:
        _kill(proc, info_r)
        raise
    finally:
        if marker:  # fallback: daemons that left the process group, even after a normal exit
            _kill_marked(marker)
    return returncode, timed_out, time.monotonic() - start


def _bwrap_args(
    bwrap: str, workdir: Path, mounts: tuple[Mount, ...], limits: Limits,
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
