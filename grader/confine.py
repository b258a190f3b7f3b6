"""What a sandboxed command gets right before it starts: its limits and, without bwrap, confinement.

This file runs in the child process, as ``python -I -S -c <this source> POLICY_JSON REPORT_FD --
COMMAND...``, after the fork and before the student's command is exec'd, as the user the
command runs as. It uses the standard library only (the sandbox may hide everything else).
In order it

1. lowers rlimits (soft = hard, so nothing in the child can raise them again): address space,
   file size, no core files, and processes + threads. RLIMIT_NPROC counts every task of the
   real uid, not of this command, so the limit is the uid's other tasks now *plus* the
   allowance: a student whose browser runs 800 threads can still start a kernel. Where the
   tasks cannot be counted (no /proc: macOS) no process limit is set;
2. as root, drops every capability (bounding set, then effective/permitted/inheritable and
   ambient), so the command keeps uid 0 but loses DAC override, kill, mount, raw sockets;
3. applies Landlock (Linux 5.13+, no privileges needed): reads only under the policy's
   `read` paths, writes only under its `write` paths, no outgoing TCP (Landlock ABI 4+), and
   no signals to processes outside (ABI 6+). Landlock survives exec and cannot be undone;
4. without bwrap, asks the kernel to SIGKILL it when the grader dies (PR_SET_PDEATHSIG, Linux
   only; bwrap has --die-with-parent), so that a `kill -9` of the grader takes the harness along
   (the harness passes it on to its probe process; the kernel follows its parent on its own);
5. reports what it applied as one JSON line on REPORT_FD (the parent learns that the
   command started, and how it was confined), then execs the command.

The parent (`grader.sandbox`) decides the policy; `landlock_abi` is also imported there to
find out what this kernel offers.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import stat
import struct
import sys

__all__ = ["hide_proc_entries", "landlock_abi", "main", "tasks_of"]

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # one number on x86_64, aarch64 and the rest
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
_PR_SET_PDEATHSIG = 1
_SIGKILL = 9
_CAPABILITY_VERSION_3 = 0x20080522

# Landlock's filesystem rights, bit by bit, and the ABI version that introduced each.
_FS_RIGHTS = (
    ("execute", 1), ("write_file", 1), ("read_file", 1), ("read_dir", 1), ("remove_dir", 1),
    ("remove_file", 1), ("make_char", 1), ("make_dir", 1), ("make_reg", 1), ("make_sock", 1),
    ("make_fifo", 1), ("make_block", 1), ("make_sym", 1), ("refer", 2), ("truncate", 3), ("ioctl_dev", 5),
)  # fmt: skip
_BIT = {name: 1 << i for i, (name, _) in enumerate(_FS_RIGHTS)}
_READ = _BIT["execute"] | _BIT["read_file"] | _BIT["read_dir"]
_FILE_ONLY = _BIT["execute"] | _BIT["write_file"] | _BIT["read_file"] | _BIT["truncate"] | _BIT["ioctl_dev"]
_NET_CONNECT_TCP = 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _syscall(libc: ctypes.CDLL, number: int, *args: object) -> int:
    """syscall(2) with every integer passed as a C long: the call is variadic, and a Python int
    would otherwise go as a 32-bit int with the rest of the register undefined."""
    return int(libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) if isinstance(a, int) else a for a in args)))


def _prctl(libc: ctypes.CDLL, *args: int) -> int:
    """prctl(2), likewise variadic: every argument as a C unsigned long."""
    return int(libc.prctl(ctypes.c_int(args[0]), *(ctypes.c_ulong(a) for a in args[1:])))


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers: 0 when it has none (not Linux, a kernel
    before 5.13, Landlock left out of the boot's LSM list, or a seccomp filter that hides it)."""
    libc = _libc() if sys.platform.startswith("linux") else None
    if libc is None:
        return 0
    return max(0, _syscall(libc, _SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION))


def hide_proc_entries() -> bool:
    """Make this process not dumpable: its /proc entries (environment, open files, working
    folder, memory) then need CAP_SYS_PTRACE, which a fallback child of the same uid lacks.
    Called in the grader, never in the child (exec makes a process dumpable again). False
    where there is no prctl (not Linux)."""
    libc = _libc() if sys.platform.startswith("linux") else None
    return libc is not None and _prctl(libc, _PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def tasks_of(uid: int, proc: str = "/proc") -> int | None:
    """How many tasks (processes and threads) the real `uid` has now; None without a /proc."""
    try:
        entries = [e for e in os.listdir(proc) if e.isdigit()]
    except OSError:
        return None
    if not entries:  # not a procfs (this very process would be in one)
        return None
    count = 0
    for entry in entries:
        try:
            with open(f"{proc}/{entry}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, ValueError, KeyError, IndexError):
            continue  # the task ended while we looked
    return count


def _set_limits(limits: dict[str, int], report: dict[str, object]) -> None:
    wanted = dict(limits)
    if "NPROC" in wanted:
        now = tasks_of(os.getuid())
        if now is None:
            del wanted["NPROC"]
            report["nproc"] = None  # cannot be counted here: no process limit
        else:
            # This task becomes the command: it counts against the allowance, not as another's.
            wanted["NPROC"] = report["nproc"] = max(0, now - 1) + wanted["NPROC"]
    errors = []
    for name, value in wanted.items():
        kind = getattr(resource, "RLIMIT_" + name, None)
        if kind is None:
            errors.append(f"RLIMIT_{name}: not on this system")
            continue
        hard = resource.getrlimit(kind)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(kind, (value, value))
        except (OSError, ValueError) as e:  # macOS refuses some, and enforces RLIMIT_AS not at all
            errors.append(f"RLIMIT_{name}: {e}")
    if errors:
        report["rlimit_errors"] = errors


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    """Drop every capability for good: first the bounding set (so exec cannot bring them back,
    even as uid 0), then the ambient set, then effective, permitted and inheritable."""
    for cap in range(64):
        if _prctl(libc, _PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # no capability of that number: all are dropped
    _prctl(libc, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = ctypes.create_string_buffer(struct.pack("Ii", _CAPABILITY_VERSION_3, 0))
    data = ctypes.create_string_buffer(bytes(24))  # two (effective, permitted, inheritable) u32 triples
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _landlock(libc: ctypes.CDLL, abi: int, policy: dict[str, object]) -> None:
    """Restrict this process (and all it will exec) to the policy's paths, and no TCP out."""
    handled = 0
    for name, since in _FS_RIGHTS:
        if abi >= since:
            handled |= _BIT[name]
    net = _NET_CONNECT_TCP if abi >= 4 and policy.get("deny_tcp") else 0
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    # struct landlock_ruleset_attr {u64 handled_access_fs, handled_access_net, scoped}: an older
    # kernel reads a prefix of it and accepts the rest when it is zero.
    attr = ctypes.create_string_buffer(struct.pack("QQQ", handled, net, scoped))
    ruleset = _syscall(libc, _SYS_CREATE_RULESET, attr, 24, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for key, rights in (("read", _READ), ("write", handled), ("devices", _FILE_ONLY & ~_BIT["execute"])):
            for path in policy.get(key, ()):  # type: ignore[attr-defined]
                _allow(libc, ruleset, str(path), rights & handled)
        if _prctl(libc, _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if _syscall(libc, _SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this machine: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_ONLY  # a file's rule may only carry the rights a file has
        # struct landlock_path_beneath_attr {u64 allowed_access; s32 parent_fd} __attribute__((packed))
        rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, fd))
        if _syscall(libc, _SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)


def _die_with_parent(libc: ctypes.CDLL, parent: int) -> bool:
    """Be SIGKILLed by the kernel when `parent` (the grader) dies; exit at once if it died
    already (before the request, which would then never fire). False where it cannot be asked."""
    if _prctl(libc, _PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:
        os._exit(137)  # orphaned before we asked: nobody waits for this run any more
    return True


def main(argv: list[str]) -> int:
    """POLICY_JSON REPORT_FD -- COMMAND...: apply the policy, report, exec the command."""
    policy, report_fd, command = json.loads(argv[0]), int(argv[1]), argv[3:]
    report: dict[str, object] = {"uid": os.getuid()}
    _set_limits(policy.get("limits", {}), report)
    libc = _libc() if sys.platform.startswith("linux") else None
    if policy.get("drop_capabilities") and os.geteuid() == 0:
        try:
            if libc is None:
                raise OSError("no C library to call")
            _drop_capabilities(libc)
            report["capabilities"] = "dropped"
        except OSError as e:
            report["capabilities"] = f"kept ({e})"
    landlock = policy.get("landlock")
    if isinstance(landlock, dict):
        abi = landlock_abi()
        try:
            if libc is None or abi == 0:
                raise OSError("this kernel has no Landlock")
            _landlock(libc, abi, landlock)
            report["landlock"] = abi
        except OSError as e:
            report["landlock"] = 0
            report["landlock_error"] = str(e)
    parent = policy.get("die_with_parent")
    if isinstance(parent, int) and libc is not None:  # last: a change of credentials would reset it
        report["die_with_parent"] = _die_with_parent(libc, parent)
    os.write(report_fd, json.dumps(report).encode() + b"\n")
    os.close(report_fd)
    try:
        os.execvp(command[0], command)
    except OSError as e:
        print(f"sandbox: cannot run {command[0]!r}: {e}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
