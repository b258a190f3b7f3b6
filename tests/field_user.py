"""Running the grader as the field runs it: bwrap hidden, and as an ordinary user.

That is most machines the product meets: every Mac, Ubuntu 24.04 (its AppArmor policy refuses
the user namespaces bwrap needs), lab machines without root, containers. Here bwrap is hidden
for real: in a private mount namespace with /dev/null bound over the binary (as root), or off
PATH (otherwise). The ordinary user is made with useradd; the fixtures are in conftest.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BWRAP = shutil.which("bwrap")
STUDENT = "cs145student"  # the ordinary user of these tests
STUDENT_VENV = ROOT / ".venv-student"  # made by `make test` from the system's Python


def hiding_bwrap(argv: Sequence[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`argv` and its environment, run where bwrap cannot be found."""
    if BWRAP is None:
        return list(argv), env
    if os.geteuid() == 0:  # a private mount namespace: /dev/null where the binary was
        hide = 'mount --bind /dev/null "$0" && exec "$@"'
        return ["unshare", "--mount", "--", "sh", "-c", hide, os.path.realpath(BWRAP), *argv], env
    return list(argv), {**env, "PATH": str(Path(sys.executable).parent)}


def as_user(
    owner: pwd.struct_passwd | None, argv: list[str], home: Path, extra_env: Mapping[str, str] = {}
) -> tuple[list[str], dict[str, str]]:
    """`argv` run as `owner` (None: as we are) with a clean environment, as a login would give
    (plus `extra_env`)."""
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "NO_COLOR": "1"}
    env.update(extra_env)
    if owner is None:
        return argv, env
    runuser = shutil.which("runuser", path=os.pathsep.join(("/usr/sbin", "/sbin", os.environ.get("PATH", ""))))
    assert runuser is not None, "runuser (util-linux) is missing"
    login = ["env", "-i", *(f"{k}={v}" for k, v in env.items())]
    return [runuser, "-u", owner.pw_name, "--", *login, *argv], dict(os.environ)
