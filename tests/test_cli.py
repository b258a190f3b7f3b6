"""`grader grade` as an instructor runs it: a real process, its output and its exit status."""

from __future__ import annotations

import csv
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import isolation_available

REPO = Path(__file__).resolve().parents[1]
# Every test starts `python -m grader` in a process of its own: a second or more each, minutes in all.
pytestmark = pytest.mark.slow


def grader(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m grader ARGS` from the checkout, as a separate process (with `env` added to
    an environment that configures no data set of its own)."""
    command = [sys.executable, "-m", "grader", *map(str, args)]
    base = {k: v for k, v in os.environ.items() if k != "GRADER_CIFAR_DIR"}
    return subprocess.run(
        command, cwd=REPO, env={**base, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        (["--timeout", "-5"], {}, "argument --timeout: must be above 0, not -5"),
        (["--memory-mb", "lots"], {}, "argument --memory-mb: not a number: 'lots'"),
        (["-j", "0"], {}, "argument -j/--jobs: must be above 0, not 0"),
        (["--cifar-dir", "{tmp}"], {}, "no CIFAR-10 data here (missing data_batch_1"),
        # An instructor who forgot the data would get a class 35 points short each: refused.
        ([], {}, "no CIFAR-10 data to grade with: pass --cifar-dir DIR (the cifar-10-batches-py folder, which "
                 "`grader data fetch --dest DIR` downloads), or set GRADER_CIFAR_DIR"),
        ([], {"GRADER_CIFAR_DIR": "{tmp}"}, "no CIFAR-10 data here (missing data_batch_1"),  # the default is read
        (["--cifar-dir", "{tmp}", "--skip-cifar"], {}, "argument --skip-cifar: not allowed with argument --cifar-dir"),
    ],
    ids=[
        "negative-timeout", "memory-not-a-number", "no-jobs", "cifar-dir-without-data", "no-data-given",
        "configured-data-dir-without-data", "data-and-no-data",
    ],
)  # fmt: skip
def test_a_wrong_option_exits_2_naming_it(
    tmp_path: Path, options: list[str], env: dict[str, str], message: str
) -> None:
    (tmp_path / "alice").mkdir()
    options = [o.format(tmp=tmp_path) for o in options]
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    ran = grader("grade", tmp_path / "alice", "--out", tmp_path / "out", *options, **env)
    assert ran.returncode == 2, ran.stderr
    assert message in ran.stderr
    assert not (tmp_path / "out").exists()  # nothing graded, nothing written


def test_a_submission_path_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    ran = grader("grade", tmp_path / "nowhere", "--out", tmp_path / "out", "--skip-cifar")
    assert ran.returncode == 2 and f"{tmp_path / 'nowhere'}: no such file or folder" in ran.stderr


def test_grading_a_class_prints_progress_and_a_table_and_resumes(tmp_path: Path) -> None:
    good, broken = tmp_path / "class" / "good", tmp_path / "class" / "broken"
    for folder in (good, broken):
        (folder / "hw3code").mkdir(parents=True)
        (folder / "hw3code" / "neural_net.py").write_bytes((REPO / "solutions/hw3code/neural_net.py").read_bytes())
    (good / "toy_nn.ipynb").write_bytes((REPO / "solutions/toy_nn.ipynb").read_bytes())
    (broken / "toy_nn.ipynb").write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "out"
    options = ["--out", out, "--cache", tmp_path / "cache", "-j", "2", "--cell-timeout", "120", "--skip-cifar"]

    first = grader("grade", tmp_path / "class", *options)
    assert first.returncode == 0, first.stderr
    progress = [line for line in first.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and progress[-1].startswith("[########################] 2/2 ")
    assert "graded 2 submission(s)" in first.stdout and "(0 unchanged and kept)" in first.stdout
    lines = first.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("student "))
    assert [lines[header + 2].split()[0], lines[header + 4].split()[0]] == ["broken", "good"]
    assert lines[header + 3].startswith("  ! toy_nn.ipynb: not a notebook")  # its problem, under it
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"good", "broken"}
    assert float(rows["good"]["total"]) > float(rows["broken"]["total"]) > 0  # the module still counts
    # Without the data on purpose: the CIFAR-10 checks are skipped, in no maximum, and say so.
    assert rows["good"]["max"] == "65" and rows["good"]["cifar.tuned"] == "skipped"
    assert lines[header + 4].split()[4] == "skipped"  # the table's cifar column
    assert "skipped checks (35 points) were not run and count in no total" in first.stdout
    assert "invalid JSON" in (out / "broken" / "grading.log").read_text(encoding="utf-8")

    again = grader("grade", tmp_path / "class", *options)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("(unchanged, kept)") == 2 and "(2 unchanged and kept)" in again.stdout


def test_a_broken_reference_grades_nobody_and_says_why(tmp_path: Path) -> None:
    """The reference runs beside the first students; when it fails, no student gets a result
    (their hidden checks would have nothing to compare with): exit 1, and the reason."""
    solution = tmp_path / "solution"
    shutil.copytree(REPO / "solutions", solution)
    module = solution / "hw3code" / "neural_net.py"
    module.write_text(module.read_text().replace("def predict(self, X):", "def predict(self, X):\n        1 / 0"))
    students = []
    for name in ("alice", "bob", "carol"):
        folder = tmp_path / "class" / name
        shutil.copytree(REPO / "solutions" / "hw3code", folder / "hw3code")
        shutil.copy(REPO / "solutions" / "toy_nn.ipynb", folder / "toy_nn.ipynb")
        students.append(name)
    out = tmp_path / "out"
    options = ["--out", out, "--cache", tmp_path / "cache", "-j", "2", "--skip-cifar", "--solution", solution]
    ran = grader("grade", tmp_path / "class", *options)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"grader: error: {solution}: the reference solution failed: " in ran.stderr
    assert "ZeroDivisionError" in ran.stderr and "No student was graded" in ran.stderr
    assert not any((out / name / "results.json").exists() for name in students)
    assert not (out / "gradebook.csv").exists()


def test_a_result_graded_without_the_sandbox_is_regraded_once_it_works(tmp_path: Path) -> None:
    if not isolation_available()[0]:
        pytest.skip("bwrap cannot sandbox here")
    student = tmp_path / "class" / "alice"
    (student / "hw3code").mkdir(parents=True)
    for name in ("toy_nn.ipynb", "hw3code/neural_net.py"):
        (student / name).write_bytes((REPO / "solutions" / name).read_bytes())
    options = ["--out", tmp_path / "out", "--cache", tmp_path / "cache", "--cell-timeout", "120", "--skip-cifar"]
    plain = grader("grade", tmp_path / "class", *options, "--isolation", "none")
    assert plain.returncode == 0, plain.stderr
    assert "NOT ISOLATED" in (tmp_path / "out" / "alice" / "grading.log").read_text(encoding="utf-8")
    again = grader("grade", tmp_path / "class", *options)
    assert again.returncode == 0 and "(unchanged, kept)" not in again.stderr, again.stderr
    assert "isolated by bubblewrap" in (tmp_path / "out" / "alice" / "grading.log").read_text(encoding="utf-8")


def _check_in_a_terminal(folder: Path, no_color: str | None) -> str:
    """`grader check --quick` with its output on a pseudo-terminal, as a student runs it."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"PYTHONPATH": str(REPO)}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    primary, secondary = pty.openpty()
    command = [sys.executable, "-m", "grader", "check", "--quick", str(folder)]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=secondary, stderr=secondary):
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closes when the process ends
                break
            if not chunk:
                break
            output += chunk
    os.close(primary)
    return output.decode()


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False), ("", True)])
def test_grader_check_colours_a_terminal_unless_no_color(tmp_path: Path, no_color: str | None, coloured: bool) -> None:
    """https://no-color.org: NO_COLOR set to anything but "" turns colour off, even on a terminal."""
    shutil.copytree(REPO / "solutions", tmp_path / "work")
    output = _check_in_a_terminal(tmp_path / "work", no_color)
    assert "toy.scores" in output
    assert ("\033[32m✔\033[0m" in output) is coloured and ("\033[" in output) is coloured
