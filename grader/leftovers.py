"""What a killed grader leaves behind, and how the next one cleans it up.

`kill -9` of the grader runs no `finally`: its temporary folders stay in the system's temp
dir, its atomic writes leave `.NAME.XXXXXXXX.tmp` files in OUT, and without bwrap the
students' processes (the harness, the kernel, any daemon) outlive it. So every trace is
named after its owner, the grader process, as `PID.START` (its pid and its start time in
clock ticks since boot, from /proc, so that a reused pid is not taken for the owner):

- temporary folders are `grader-KIND-PID.START-XXXXXXXX` (`temp_dir`);
- fallback sandbox processes carry `GRADER_SANDBOX_RUN=PID.START:UUID` in their environment.

`sweep` removes the folders and kills the processes whose owner is gone (only this user's:
those it may signal and the folders it owns). `lock_out` holds OUT for one batch, so that
all temporary files found in it then are stale and go too (`clean_out`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "LOCK_FILE",
    "MARKER",
    "clean_out",
    "lock_out",
    "make_temp_dir",
    "marker_value",
    "owner_alive",
    "sweep",
    "temp_dir",
]

MARKER = "GRADER_SANDBOX_RUN"  # in the environment of every fallback sandbox process
LOCK_FILE = ".grader.lock"
_KINDS = ("ws", "home", "check", "probe", "read")
_TEMP_NAME = re.compile(rf"^grader-(?:{'|'.join(_KINDS)})-(\d+\.\d+)-")
_MARKED = re.compile(r"^(\d+\.\d+):")  # marker_value's
_ATOMIC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # fsutil.atomic_write_bytes's mkstemp name
_OLD_DIR = re.compile(r"^\..+\.old$")  # fsutil.replace_dir's folder on its way out


def _start_time(pid: int | str) -> str | None:
    """Field 22 of /proc/PID/stat (start time since boot); None when there is no such process.
    "0" where there is no /proc (macOS): the pid alone names the owner there."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists, as another user
        return "0"
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_OWNER = f"{os.getpid()}.{_start_time(os.getpid())}"


def _owner() -> str:
    """This process's owner tag, PID.START (recomputed after a fork: the child is another owner)."""
    global _OWNER
    if not _OWNER.startswith(f"{os.getpid()}."):
        _OWNER = f"{os.getpid()}.{_start_time(os.getpid())}"
    return _OWNER


def owner_alive(tag: str) -> bool:
    """Whether the grader process named by `tag` (PID.START) still runs."""
    pid, _, start = tag.partition(".")
    return pid.isdigit() and _start_time(pid) == start


def temp_dir(kind: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder of this grader's, `grader-KIND-PID.START-XXXXXXXX`, for `with`."""
    assert kind in _KINDS, kind
    return tempfile.TemporaryDirectory(prefix=f"grader-{kind}-{_owner()}-")


def make_temp_dir(kind: str) -> Path:
    """Like `temp_dir`, for a folder the caller removes itself (mkdtemp)."""
    assert kind in _KINDS, kind
    return Path(tempfile.mkdtemp(prefix=f"grader-{kind}-{_owner()}-"))


def marker_value(run_id: str) -> str:
    """The value of MARKER for one fallback run of this grader."""
    return f"{_owner()}:{run_id}"


def sweep() -> tuple[int, int]:
    """Kill the marked processes and remove the temporary folders of graders that are gone:
    (processes killed, folders removed). Only this user's, and never a live grader's."""
    return _kill_orphans(), _remove_stale_folders()


def _kill_orphans() -> int:
    """SIGKILL every process of this uid whose MARKER names a grader that is gone."""
    killed = 0
    needle = f"\0{MARKER}=".encode()
    for entry in Path("/proc").glob("[0-9]*") if os.path.isdir("/proc/self") else ():
        with contextlib.suppress(OSError, ValueError):
            if entry.stat().st_uid != os.getuid():
                continue
            environ = b"\0" + (entry / "environ").read_bytes()
            at = environ.find(needle)
            if at < 0:
                continue
            value = environ[at + len(needle) :].split(b"\0", 1)[0].decode("ascii", "replace")
            owner = _MARKED.match(value)  # a marker of another form (an older grader's) names no owner
            if owner and owner.group(1) != _owner() and not owner_alive(owner.group(1)):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def _remove_stale_folders() -> int:
    """Remove `grader-*-PID.START-*` folders of this uid in the temp dir whose owner is gone."""
    removed = 0
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _TEMP_NAME.match(entry.name)
            if not match or match.group(1) == _owner() or owner_alive(match.group(1)):
                continue
            with contextlib.suppress(OSError):
                info = entry.lstat()
                if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
                    _rmtree(entry)
                    removed += 1
    return removed


def _rmtree(path: Path) -> None:
    """shutil.rmtree that also removes what a student's code made read-only (chmod 000)."""

    def writable(function, name, _exc_info):  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
                shutil.rmtree(name, ignore_errors=True)
            else:
                function(name)

    shutil.rmtree(path, onerror=writable)


@contextlib.contextmanager
def lock_out(out: Path) -> Iterator[None]:
    """Hold `out` for this process (flock on `out/.grader.lock`, which the kernel releases when
    the process dies, however it dies): ConfigError, naming the holder, when another has it."""
    path = out / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 100, 0).decode("ascii", "replace").strip() or "another process"
            raise ConfigError(
                f"{out}: another grader ({holder}) is writing into this folder (a `grader grade` or "
                "`grader report`); wait for it to finish, or stop it, and run again, or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def clean_out(out: Path) -> int:
    """Remove the atomic writes' temporary files and `replace_dir`'s old folders that a killed
    run left anywhere in `out`; the number removed. Call it only under `lock_out`: then none of
    them can be a live writer's."""
    removed = 0
    for folder, dirs, files in os.walk(out):
        for name in files:
            if _ATOMIC_TEMP.match(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
        for name in [d for d in dirs if _OLD_DIR.match(d)]:
            dirs.remove(name)
            _rmtree(Path(folder, name))
            removed += 1
    return removed
