"""The field: grading, the demo and a student's check where bubblewrap is missing or nobody is root.

That is most machines the product meets: every Mac, Ubuntu 24.04 (its AppArmor policy refuses
the user namespaces bwrap needs), lab machines without root, containers. Here bwrap is hidden
for real: in a private mount namespace with /dev/null bound over the binary (as root), or off
PATH (otherwise). The student's check runs as an ordinary user made with useradd, from a Python
that user can reach, with the grader installed from this checkout's wheel.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from field_user import BWRAP, as_user, hiding_bwrap

from grader.confine import landlock_abi
from grader.datasets.cifar import BATCH_FILES, prepare_split
from grader.execute import run_submission
from grader.report import rerender
from grader.results import read_result
from grader.rubric import load_rubric
from grader.sandbox import isolation_available

ROOT = Path(__file__).resolve().parents[1]
AVAILABLE, WHY = isolation_available()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprints(folder: Path) -> dict[str, str]:
    """Every file under `folder`, by its content."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# --- one run, with the data, without the sandbox ----------------------------------------------

TAMPERING = [
    "open('data/datasets/cifar-10-batches-py/data_batch_1', 'rb').read(64)",  # reading the data is fine
    "open('data/datasets/cifar-10-batches-py/data_batch_1', 'r+b').write(b'forged')",
    "open('.grader/split/X_val.npy', 'r+b').write(b'forged')",
    "import os; os.remove('.grader/split/y_val.npy')",
    f"open({str(ROOT / 'solutions' / 'hw3code' / 'neural_net.py')!r}).read()",
]


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [False, True], ids=["bwrap", "bwrap-hidden"])
def test_a_run_reads_the_data_and_cannot_change_it(tmp_path, cifar_dir, cache, monkeypatch, hidden):
    """The data and the grader's cached split are read-only to the student's code, in the
    sandbox and in its fallback alike (there: Landlock); the solutions are out of its reach."""
    if not hidden and not AVAILABLE:
        pytest.skip(f"bwrap cannot sandbox here: {WHY}")
    if hidden and landlock_abi() == 0:
        pytest.skip("no Landlock in this kernel: the fallback cannot protect the data (the README says so)")
    if hidden:
        empty = tmp_path / "no-bwrap-here"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
    split = prepare_split(cifar_dir, cache)
    before = fingerprints(split.folder)
    cells = [nbformat.v4.new_code_cell(code, id=f"tamper-{i}") for i, code in enumerate(TAMPERING)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    rubric = load_rubric(ROOT / "solutions" / "rubric.toml")
    evidence, info = run_submission(
        notebook, "", starter=ROOT / "assignment", rubric=rubric, probes=[], split=split, keep_dir=tmp_path / "kept"
    )
    assert info.sandbox is not None and info.sandbox.isolated is not hidden, info.sandbox.note
    # The course's given cells run too (as the course wrote them); these are the test's own.
    statuses = [(c.status, c.ename) for c in evidence.cells if c.cell_id.startswith("tamper-")]
    assert len(statuses) == len(TAMPERING) and statuses[0] == ("ok", ""), statuses
    # Landlock says EACCES; bwrap's read-only mounts EACCES or EROFS, its hidden files ENOENT.
    denied = ("PermissionError",) if hidden else ("PermissionError", "OSError", "FileNotFoundError")
    assert all(status == "error" and ename in denied for status, ename in statuses[1:]), statuses
    assert fingerprints(split.folder) == before


# --- the demo, as a newcomer runs it on a machine without bubblewrap -------------------------


@pytest.mark.slow
def test_the_demo_without_bwrap_grades_every_check_as_the_sandbox_does(demo_results, cache, cifar_dir, tmp_path):
    """`grader demo` with bwrap hidden: one clear line says why the runs are not isolated, and
    every check of every example gets the score and status it gets in the sandbox."""
    if not all(r.sandboxed for r in demo_results.values()):
        pytest.skip("the demo fixture itself ran without the sandbox: there is nothing to compare with")
    split = prepare_split(cifar_dir, cache)
    before = fingerprints(split.folder)
    out = tmp_path / "demo"
    env = {**os.environ, "GRADER_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    argv, env = hiding_bwrap([sys.executable, "-m", "grader", "demo", "--out", str(out)], env)
    ran = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    notes = [line for line in (ran.stdout + ran.stderr).splitlines() if "WITHOUT the sandbox" in line]
    assert len(notes) == 1, notes
    assert notes[0].startswith("note: submissions run WITHOUT the sandbox (bwrap is not installed;"), notes
    row = next(line for line in ran.stdout.splitlines() if line.startswith("reference "))
    assert row.split()[1] == f"{demo_results['reference'].score:g}/100*" == "90/100*"
    for student, sandboxed in demo_results.items():
        plain = read_result(out / student / "results.json")
        assert not plain.sandboxed and plain.sandbox_note.startswith("NOT ISOLATED (bwrap is not installed")
        assert [(c.id, c.status, c.score) for c in plain.checks] == [
            (c.id, c.status, c.score) for c in sandboxed.checks
        ]
        assert plain.validation_accuracy == sandboxed.validation_accuracy
    assert fingerprints(split.folder) == before  # not one byte of the data or the split changed
    # The note is for the instructor: in report.html, not in the report handed back to a student.
    rerender(out, student_view=True)
    assert "Not sandboxed:</strong> NOT ISOLATED" in (out / "reference" / "report.html").read_text()
    handed_back = (out / "reference" / "student-report.html").read_text()
    assert "NOT ISOLATED" not in handed_back and "Not sandboxed" not in handed_back


# --- a student's check, as root and as an ordinary user, with and without bwrap -------------


def _finished_folder(parent: Path, cifar_dir: Path, notebook: Path, owner: pwd.struct_passwd | None) -> Path:
    """A student's assignment folder with finished work and the data in data/datasets/."""
    folder = parent / "hw3"
    shutil.copytree(ROOT / "assignment", folder)
    shutil.copy(notebook, folder / "toy_nn.ipynb")
    shutil.copy(ROOT / "solutions" / "hw3code" / "neural_net.py", folder / "hw3code" / "neural_net.py")
    data = folder / "data" / "datasets" / "cifar-10-batches-py"
    data.mkdir(parents=True)
    for name in (*BATCH_FILES, "batches.meta"):
        shutil.copy(cifar_dir / name, data / name)
    (parent / "home").mkdir()
    if owner is not None:
        subprocess.run(["chown", "-R", f"{owner.pw_uid}:{owner.pw_gid}", str(parent)], check=True)
    return folder


PUBLIC_POINTS = sum(
    c.points for c in load_rubric(ROOT / "assignment" / "rubric.toml").checks if c.public and not c.bonus
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("who", "hidden"),
    [("student", False), ("student", True), ("root", True)],
    ids=["ordinary-user", "ordinary-user-without-bwrap", "root-without-bwrap"],
)
def test_a_students_full_check_passes_on_correct_work(request, field, cifar_dir, finished_notebook, who, hidden):
    """`grader check` in an assignment folder with the data: every public check passes, and no
    word of isolation troubles the student. The ordinary user's desktop runs 300 threads
    elsewhere meanwhile (a browser has more): the process limit must not count them."""
    if not hidden and BWRAP is None:
        pytest.skip("bwrap is not installed here")
    owner = request.getfixturevalue("student") if who == "student" else None
    python = request.getfixturevalue("student_python") if owner else Path(sys.executable)
    where = field / f"{who}-{'hidden' if hidden else 'bwrap'}"
    where.mkdir()
    folder = _finished_folder(where, cifar_dir, finished_notebook, owner)
    busy_argv, env = as_user(owner, [str(python), "-c", BUSY_DESKTOP], where / "home")
    with subprocess.Popen(busy_argv, env=env, stdout=subprocess.PIPE, text=True) as busy:
        try:
            assert busy.stdout is not None and busy.stdout.readline().strip() == "300 threads"
            argv, env = as_user(owner, [str(python), "-m", "grader", "check", str(folder)], where / "home")
            argv, env = hiding_bwrap(argv, env) if hidden else (argv, env)
            ran = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=1200)
        finally:
            busy.kill()
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    assert f"public checks: {PUBLIC_POINTS:g} of {PUBLIC_POINTS:g} points" in ran.stdout
    for check_id in ("toy.scores", "toy.loss", "toy.gradients", "toy.train", "cifar.tuned", "cifar.test"):
        assert f"✔ {check_id} " in ran.stdout, ran.stdout
    assert "ISOLATED" not in ran.stdout.upper() and "sandbox" not in ran.stdout
    assert ran.stderr.count(" ok (") == 15  # a line per cell, every one ran


BUSY_DESKTOP = """
import threading, time
for _ in range(300):
    threading.Thread(target=time.sleep, args=(900,), daemon=True).start()
print("300 threads", flush=True)
time.sleep(900)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="hiding /proc needs a private mount namespace (root)")
def test_the_check_path_needs_nothing_linux_only(tmp_path):
    """macOS has no bwrap, no setpriv, no /proc and a /tmp elsewhere: `grader check --quick`
    runs without any of them (the nearest this Linux machine comes to a Mac)."""
    folder = tmp_path / "hw3"
    shutil.copytree(ROOT / "assignment", folder)
    for name in ("toy_nn.ipynb", "hw3code/neural_net.py"):
        shutil.copy(ROOT / "solutions" / name, folder / name)
    tmp = tmp_path / "var" / "folders" / "zz" / "zyxvpxvq6csfxvn_n0000000000000" / "T"
    tmp.mkdir(parents=True)
    hide = " && ".join(
        f'mount --bind /dev/null "{tool}"' for tool in map(shutil.which, ("bwrap", "setpriv")) if tool is not None
    )
    script = f'{hide + " && " if hide else ""}mount -t tmpfs none /proc && exec "$@"'
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    argv = ["unshare", "--mount", "--", "sh", "-c", script, "sh", sys.executable, "-m", "grader", "check", "--quick"]
    ran = subprocess.run([*argv, str(folder)], env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "public checks: 14 of 14 points" in ran.stdout
