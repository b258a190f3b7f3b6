"""`kill -9` of `grader grade` in the middle of a batch, several times, then a rerun.

A real batch (six copies of the reference solution, two of them broken so that their
results differ, graded without CIFAR-10 data to stay fast) is graded by the real CLI in a
subprocess, which is SIGKILLed at seeded random moments. After each kill no process of the
run may survive and every results.json present must read back whole; the rerun must keep
what was finished (same `graded_at`, "unchanged, kept"), regrade the rest, and leave no
temporary file or folder behind. Once with bwrap (root), once with bwrap hidden (the fallback,
where nothing but the grader's own measures stops the students' processes).
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from test_field import hiding_bwrap

from grader.leftovers import clean_out, lock_out, sweep
from grader.report import result_digest
from grader.results import read_result
from grader.sandbox import isolation_available

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ("ann", "bob", "cat", "dan", "eve", "fay")
BROKEN = {"cat": ("def predict(", "def predict(:"), "eve": ("def loss(", "def loss_unused(")}
# Without bwrap, ann's module takes its time to import (in the probes, then in the kernel), so that
# a kill finds her processes running with seconds left: only the grader's measures stop them in time.
SLOW = {"ann": "import time\n\ntime.sleep(8)\n"}
KEPT = re.compile(r"\] \d+/\d+ (\S+): .*\(unchanged, kept\)$")


def _submissions(
    root: Path, solutions: Path, draft: bool, slow: bool = False, students: tuple[str, ...] = STUDENTS
) -> Path:
    """The class: every student a copy of the reference, `cat` and `eve` broken, `ann` `slow`;
    a `draft` (each module with a comment more) is graded first where a test needs earlier results."""
    notebook = (solutions / "toy_nn.ipynb").read_bytes()
    module = (solutions / "hw3code" / "neural_net.py").read_text()
    for student in students:
        old, new = BROKEN.get(student, ("", ""))
        text = (SLOW.get(student, "") if slow else "") + (module.replace(old, new) if old else module)
        folder = root / student
        (folder / "hw3code").mkdir(parents=True, exist_ok=True)
        (folder / "toy_nn.ipynb").write_bytes(notebook)
        (folder / "hw3code" / "neural_net.py").write_text(text + ("# draft\n" if draft else ""))
    return root


class Class:
    """One test's class, its OUT, its private temp dir and how the CLI is run on them."""

    def __init__(self, root: Path, project, hidden: bool) -> None:
        self.submissions = root / "submissions"
        self.out = root / "out"
        self.tmp = root / "tmp"  # TMPDIR of the grader: its leftovers are exactly what is here
        self.tmp.mkdir()
        self.cache = root / "cache"
        self.solutions = project.solutions
        self.hidden = hidden

    def start(self, *extra: str) -> subprocess.Popen[str]:
        """`grader grade` of the class into OUT, running (bwrap hidden if the test says so)."""
        argv = [sys.executable, "-m", "grader", "grade", str(self.submissions), "--out", str(self.out)]
        argv += ["--skip-cifar", "-j", "2", "--cache", str(self.cache), "--timeout", "150", "--cell-timeout", "30"]
        env = {**os.environ, "TMPDIR": str(self.tmp), "PYTHONPATH": str(ROOT)}
        argv, env = hiding_bwrap([*argv, *extra], env) if self.hidden else (argv, env)
        # unshare and sh exec: the pid is the grader's own, not a wrapper's.
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def grade(self, *extra: str) -> str:
        """A whole run to its end; its output (stdout and stderr)."""
        proc = self.start(*extra)
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output[-4000:]
        return output

    def committed(self, since: str = "") -> dict[str, str]:
        """graded_at of every student with a results.json graded `since` then (ISO time, to the
        second), each one read whole."""
        graded = {path.parent.name: read_result(path).graded_at for path in self.out.glob("*/results.json")}
        return {student: at for student, at in graded.items() if at >= since}


def _survivors(pid: int, tmp: Path) -> list[str]:
    """Processes of the grader `pid`'s run: carrying its sandbox marker, or working in, started
    from or (in bwrap) mounting its temp dir. Not every process of a sandbox uid: other graders
    on this machine use the same uids."""
    found = []
    marker = f"GRADER_SANDBOX_RUN={pid}.".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            mounts = (entry / "mountinfo").read_text(errors="replace")
            uid = entry.stat().st_uid
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker in environ or str(tmp) in cwd + cmdline + mounts:
            found.append(f"{entry.name} (uid {uid}, cwd {cwd}): {cmdline[:200]}")
    return found


def _kill(proc: subprocess.Popen[str], tmp: Path) -> None:
    """SIGKILL the grader itself; then nothing of its run may be left running (within seconds:
    the kernel's own parent poller looks once a second)."""
    assert "-m grader grade" in Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 4
    while (left := _survivors(proc.pid, tmp)) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not left, f"alive after kill -9 of the grader {proc.pid}: {left}"


def _wait_for_a_commit(cls: Class, before: dict[str, str], proc: subprocess.Popen[str], since: str) -> None:
    """Until a student's results.json (graded `since`) is new, or the run ended, or 2 minutes passed."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and cls.committed(since).keys() <= before.keys():
        time.sleep(0.1)


def _kill_at_random(cls: Class, seed: int, kills: int = 3) -> tuple[dict[str, str], bool]:
    """Start the batch and kill -9 it `kills` times at seeded random moments (the last one just
    after a student's results.json appears, so that some work is finished): the results then,
    and whether the last kill left temporary folders behind."""
    rng = random.Random(seed)
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")  # earlier results: other inputs
    committed = cls.committed(since)
    for kill in range(kills):
        proc = cls.start()
        if kill < kills - 1:
            time.sleep(rng.uniform(2.0, 9.0))
        else:
            _wait_for_a_commit(cls, committed, proc, since)
            time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is not None:  # finished before the kill (a slow moment of the machine)
            continue
        _kill(proc, cls.tmp)
        now = cls.committed(since)  # every results.json reads whole (read_result raises if not)
        for student, graded_at in committed.items():  # and nothing finished is lost or redone
            assert now.get(student) == graded_at, (student, committed, now)
        committed = now
    return committed, any(cls.tmp.iterdir())


def _assert_complete(cls: Class, output: str, before: dict[str, str], left_behind: bool) -> None:
    """The rerun kept exactly what was finished, cleaned up what the kill left, and everyone's
    folder is whole and consistent."""
    if left_behind:
        assert "cleaned up after a grader that was killed" in output, output[-3000:]
    kept = {m.group(1) for line in output.splitlines() if (m := KEPT.search(line))}
    assert kept == set(before), output[-3000:]
    results = {}
    for student in STUDENTS:
        folder = cls.out / student
        result = results[student] = read_result(folder / "results.json")
        assert result.student == student
        if student in before:
            assert result.graded_at == before[student]  # not regraded
        stamp = f'<meta name="grader-result" content="{result_digest(result)}">'
        reports = ["report.html", *(["student-report.html"] if (folder / "student-report.html").exists() else [])]
        for report in reports:
            assert stamp in (folder / report).read_text(), f"{folder / report} shows another result"
        assert f"score: {result.score:g} / {result.max_score:g}" in (folder / "grading.log").read_text()
        assert (folder / "executed.ipynb").is_file() and (folder / "artifacts.npz").is_file()
    assert results["cat"].score < results["ann"].score and results["eve"].score < results["ann"].score
    with open(cls.out / "gradebook.csv", newline="") as f:
        rows = [row["student"] for row in csv.DictReader(f)]
    assert sorted(rows) == sorted(STUDENTS)
    leftovers = [p for p in cls.out.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert not leftovers
    assert not list(cls.tmp.iterdir()), "temporary folders left in TMPDIR"


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not isolation_available()[0], reason="needs bwrap as root")
def test_kill_9_with_bwrap_loses_nothing_and_leaves_nothing(tmp_path, project):
    """With bwrap: half the class graded once (and handed back), then everyone (re)submits and is
    graded under kills."""
    cls = Class(tmp_path, project, hidden=False)
    early = STUDENTS[::2]
    _submissions(cls.submissions, project.solutions, draft=True, students=early)
    cls.grade()
    subprocess.run(
        [sys.executable, "-m", "grader", "report", str(cls.out), "--student-view"], cwd=ROOT, check=True, timeout=300
    )
    _submissions(cls.submissions, project.solutions, draft=False)
    before, left_behind = _kill_at_random(cls, seed=1)
    output = cls.grade()
    _assert_complete(cls, output, before, left_behind)
    # The handed-back views of the regraded students show their new results, not the drafts'.
    assert all((cls.out / s / "student-report.html").is_file() for s in early)
    # Reports that do not show their stored result (as a kill between merging a TA's score into
    # results.json and the re-render leaves them) are re-rendered by a rerun, which regrades nobody.
    (cls.out / "bob" / "report.html").write_text("<html>an older result</html>")
    (cls.out / "dan" / "student-report.html").write_text("<html>an older result</html>")
    _assert_complete(cls, cls.grade(), cls.committed(), left_behind=False)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="hides bwrap in a private mount namespace (root)")
def test_kill_9_without_bwrap_leaves_no_process_running(tmp_path, project):
    """The fallback: kills during the reference's run and the students'; the harness, the probes
    and the kernel must die with the grader, which nothing but the grader arranges there."""
    cls = Class(tmp_path, project, hidden=True)
    _submissions(cls.submissions, project.solutions, draft=False, slow=True)
    before, left_behind = _kill_at_random(cls, seed=2)
    output = cls.grade()
    assert "WITHOUT the sandbox" in output
    _assert_complete(cls, output, before, left_behind)


@pytest.mark.slow
def test_a_second_batch_into_a_locked_out_is_refused(tmp_path, project):
    """While a grader holds OUT, another `grader grade` into it stops at once and names the holder;
    the lock goes with its holder, even one killed with -9."""
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from grader.leftovers import lock_out; from pathlib import Path\n"
         "with lock_out(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(600)", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        submissions = _submissions(tmp_path / "submissions", project.solutions, draft=False)
        ran = subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--skip-cifar"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        holder.kill()  # SIGKILL: no `finally` of its own runs
        holder.communicate()
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert f"{out}: another grader (pid {holder.pid}) is writing into this folder" in ran.stderr
    assert not list(out.glob("*/results.json"))
    with lock_out(out):  # released by the kernel when the holder died
        pass


def _dead_owner() -> str:
    """The PID.START of a process that has exited."""
    gone = subprocess.Popen(["true"])
    start = Path(f"/proc/{gone.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    gone.wait()
    return f"{gone.pid}.{start}"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads /proc")
def test_the_sweep_takes_only_what_a_dead_grader_left(tmp_path, monkeypatch):
    """A dead grader's folders and marked processes go; a live grader's, and those of an older
    grader whose names say no owner, stay."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead, live = _dead_owner(), f"{os.getpid()}.{Path('/proc/self/stat').read_text().rsplit(')', 1)[1].split()[19]}"
    folders = {name: tmp_path / name for name in (f"grader-ws-{dead}-x", f"grader-ws-{live}-x", "grader-ws-abc123")}
    for folder in folders.values():
        (folder / "workspace" / "locked").mkdir(parents=True)
        (folder / "workspace" / "locked").chmod(0)  # as a student's code may leave it
    sleepers = {
        marker: subprocess.Popen(["sleep", "60"], env={**os.environ, "GRADER_SANDBOX_RUN": marker})
        for marker in (f"{dead}:1", f"{live}:2", "0123abcd")
    }
    try:
        killed, removed = sweep()  # (another dead grader's orphan on this machine would count too)
        assert killed >= 1 and removed == 1
        assert [name for name, folder in folders.items() if folder.exists()] == list(folders)[1:]
        assert sleepers[f"{dead}:1"].wait(timeout=5) == -signal.SIGKILL
        assert sleepers[f"{live}:2"].poll() is None and sleepers["0123abcd"].poll() is None
    finally:
        for sleeper in sleepers.values():
            sleeper.kill()
            sleeper.wait()
        for folder in folders.values():
            with contextlib.suppress(FileNotFoundError):
                (folder / "workspace" / "locked").chmod(0o700)


def test_clean_out_removes_a_killed_writers_temporary_files(tmp_path):
    """Under the lock, every atomic write's temporary file and replace_dir's old folder in OUT is
    a dead writer's: they go, and nothing else does."""
    out = tmp_path / "out"
    (out / "ann" / ".results.json.a1b2c3d4.tmp").parent.mkdir(parents=True)
    (out / "ann" / ".results.json.a1b2c3d4.tmp").write_text('{"score": 1')  # half written
    (out / "ann" / "results.json").write_text("{}")
    (out / ".reference" / ".run.old").mkdir(parents=True)
    (out / "gradebook.csv").write_text("student\n")
    with lock_out(out):
        assert clean_out(out) == 2
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        ".grader.lock",
        ".reference",
        "ann",
        "ann/results.json",
        "gradebook.csv",
    ]
