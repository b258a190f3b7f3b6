"""`grader release`: the bundle students download, its secrecy, and a student's round trip.

The bundle is written once per module. Its secrecy is tested by searching every file in
it, the wheel's members included, for what only the instructor holds: each line of the
reference's START/END regions, each correct value of the hand calculation, and the
hidden checks' expected values, computed here by running the reference solution on the
hidden probes. The scanner is shown to find all three where they really are (solutions/
and a golden instructor's report), so a clean bundle is not an artefact of the search.
The round trip installs the bundle as its README says, in a fresh virtual environment
outside the checkout, and checks finished work with the installed `grader check`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from grader.checks import netmath
from grader.cli import main
from grader.errors import ConfigError
from grader.evidence import PARAM_NAMES
from grader.generate import check_assignment, starter_files
from grader.harness import probes as harness
from grader.markers import find_regions, outside_regions
from grader.probe_plan import plan_probes
from grader.project import Project
from grader.release import ENV_FILE, MANIFEST, README, install_command, write_release
from grader.rubric import read_toml

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
REFERENCE_FILES = ("hw3code/neural_net.py", "toy_nn.ipynb")  # where the reference's code regions are


@pytest.fixture(scope="module")
def release(project, tmp_path_factory):
    return write_release(project, tmp_path_factory.mktemp("release") / "cs145-hw3")


# --- what is in the bundle ---------------------------------------------------------------


@pytest.mark.slow
def test_the_bundle_holds_the_starter_the_wheel_the_conda_file_and_a_readme(release):
    wheel = release.wheel.name
    assert re.fullmatch(r"cs145_nn_grader-[\d.]+-py3-none-any\.whl", wheel)
    starter = starter_files(SOLUTIONS)
    assert set(release.files) == {README, ENV_FILE, wheel} | {f"assignment/{rel}" for rel in starter}
    # assignment/ is what `grader generate --check` keeps, file for file.
    assert check_assignment(SOLUTIONS, release.folder / "assignment") == []
    manifest = json.loads((release.folder / MANIFEST).read_text())
    assert manifest["wheel"] == wheel and sorted(manifest["files"]) == list(release.files)
    with zipfile.ZipFile(release.zip) as archive:
        zipped = {n.removeprefix("cs145-hw3/") for n in archive.namelist()}
    assert zipped == {*release.files, MANIFEST}
    assert release.size < 1_000_000  # the starter and a pure-Python wheel: no data set


@pytest.mark.slow
def test_the_conda_file_is_the_seeds_plus_the_bundled_wheel(release):
    seed = yaml.safe_load((ROOT / "assignment" / ENV_FILE).read_text())
    ours = yaml.safe_load((release.folder / ENV_FILE).read_text())
    assert ours["name"] == seed["name"] == "hw3" and ours["channels"] == seed["channels"]
    *conda, pip_entry = ours["dependencies"]
    assert conda == [*seed["dependencies"], "pip"]
    # conda runs pip in the environment file's folder, so the path is relative to it.
    (wheel,) = pip_entry["pip"]
    assert (release.folder / wheel).resolve() == release.wheel.resolve()
    assert (release.folder / ENV_FILE).read_text().startswith((ROOT / "assignment" / ENV_FILE).read_text())


@pytest.mark.slow
def test_the_readme_says_how_to_install_get_the_data_check_and_submit(release):
    readme = (release.folder / README).read_text()
    assert install_command(release.wheel.name) in readme
    assert f"conda env create -f {ENV_FILE}" in readme and "conda activate hw3" in readme
    assert "grader data fetch --dest data/datasets" in readme
    assert "grader check --quick" in readme and "grader check  " in readme
    for limit in ("hidden checks", "hand calculation", "free-text questions", "45% or more"):
        assert limit in readme
    assert "`toy_nn.ipynb`" in readme and "`hw3code/neural_net.py`" in readme and "Gradescope" in readme
    # The commands it names exist, with the options it names.
    for command, options in ((["data", "fetch"], ("--dest", "--tarball")), (["check"], ("--quick", "--cifar-dir"))):
        usage = subprocess.run(
            [sys.executable, "-m", "grader", *command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert all(option in usage for option in options), usage


# --- what is not in it --------------------------------------------------------------------


_NUMBER = re.compile(r"\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _texts(name: str, content: bytes) -> dict[str, str]:
    """Every text to search in one file: its own, the JSON strings of a notebook (whose
    quotes and newlines are escaped in the file), and each member of a zip or wheel."""
    if zipfile.is_zipfile(io.BytesIO(content)):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [(m, archive.read(m)) for m in archive.namelist() if not m.endswith("/")]
        return {f"{name}!{inner}": text for m, data in members for inner, text in _texts(m, data).items()} | {
            f"{name}!": "\n".join(m for m, _ in members)
        }
    text = content.decode("utf-8", errors="replace")
    texts = {"": text}
    if name.endswith((".ipynb", ".json")):
        with contextlib.suppress(ValueError):
            texts["(strings)"] = "\n".join(_strings(json.loads(text)))
    return {f"{name}{'#' + k if k else ''}": v for k, v in texts.items()}


def _folder_texts(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out |= _texts(path.relative_to(folder).as_posix(), path.read_bytes())
    return out


_TRIVIAL = re.compile(r"(pass|return|break|continue|else:|try:|finally:|[()\[\]{},:]+)")


def reference_code_lines() -> set[str]:
    """Every line of the reference's START/END regions that would give something away.

    Left out, each for a reason: blank lines; a region's leading comments (the
    instructions, which `grader generate` keeps in the starter on purpose); lines that are
    only a keyword or brackets (`pass`, `return`, `else:`, `)`); and lines the reference
    also has outside every region, which the starter hands out anyway (`hidden_size = 50`,
    `plt.show()`). What remains is the reference's own code and its own comments."""
    lines: set[str] = set()
    given: set[str] = set()
    for rel in REFERENCE_FILES:
        text = (SOLUTIONS / rel).read_text()
        if rel.endswith(".ipynb"):
            sources = [c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code"]
        else:
            sources = [text]
        for source in sources:
            split = source.splitlines()
            given |= {line.strip() for line in outside_regions(source, rel)}
            for region in find_regions(source, rel):
                kept = len(region.instructions(split))
                lines |= {split[i].strip() for i in region.body[kept:]}
    return {line for line in lines - given if line and not _TRIVIAL.fullmatch(line)}


def _significant(token: str) -> int:
    mantissa = token.lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def handcalc_tokens() -> set[str]:
    """Every correct value of Section 1 as written in handcalc.toml and as the grader or a
    student would write it (repr, 5 and 4 significant digits, scientific notation)."""
    path = SOLUTIONS / "handcalc.toml"
    data = read_toml(path, "the correct Section 1 values")
    values: list[float] = []
    for value in data.values():
        values.extend(float(v) for v in np.ravel(np.array(value, dtype=float)))
    written = {t for line in path.read_text().splitlines() for t in _NUMBER.findall(line.split("#")[0])}
    forms = {f(abs(v)) for v in values for f in (repr, "{:.5g}".format, "{:.4g}".format, "{:.3e}".format)}
    return {t for t in written | forms if _significant(t) >= 3}


def hidden_expected_values() -> list[float]:
    """The reference's outputs on every hidden probe, computed here in-process (the
    reference is trusted code): exactly what the hidden checks compare students with.
    The CIFAR-10 baseline probe is left out: its expected value depends on the data set
    the instructor grades with, and no data goes into the bundle."""
    spec = importlib.util.spec_from_file_location("reference_neural_net", SOLUTIONS / "hw3code" / "neural_net.py")
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    public = {p.name for p in plan_probes(hidden=False, cifar=False)}
    values: list[float] = []
    state = np.random.get_state()  # the train probes seed the global generator
    try:
        for probe in plan_probes(hidden=True, cifar=False):
            if probe.name in public:
                continue
            arrays = {k: v for k, v in probe.arrays.items() if not k.startswith("params.")}
            arrays["params"] = {k[7:]: v for k, v in probe.arrays.items() if k.startswith("params.")}
            outputs = harness.KINDS[probe.kind](reference, arrays, dict(probe.options))
            for array in outputs.values():
                values.extend(np.asarray(array, dtype=float).ravel().tolist())
            if probe.name == "hidden-train-learn":  # the check's own expected loss after training
                params = {n: outputs[f"params.{n}"] for n in PARAM_NAMES}
                values.append(netmath.data_loss(params, probe.arrays["X"], probe.arrays["y"]))
    finally:
        np.random.set_state(state)
    return values


def hidden_tokens(values: list[float]) -> set[str]:
    """The hidden values as the grader shows them (repr in results.json, 8 significant digits
    in the reports) and at 6 digits; only forms with 6 or more significant digits, which
    cannot turn up by chance (labels, accuracies like 0.97, history lengths drop out)."""
    forms = {f(abs(v)) for v in values if np.isfinite(v) for f in (repr, "{:.8g}".format, "{:.6g}".format)}
    return {t for t in forms if _NUMBER.fullmatch(t) and _significant(t) >= 6}


def _leaks(texts: dict[str, str], lines: set[str], tokens: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for where, text in texts.items():
        hits = [line for line in lines if line in text]
        hits += sorted(set(_NUMBER.findall(text)) & tokens)
        if hits:
            found[where] = hits
    return found


@pytest.fixture(scope="module")
def secrets() -> tuple[set[str], set[str]]:
    """(the reference's region lines, the numeric tokens of every hidden value)."""
    lines = reference_code_lines()
    assert len(lines) > 30 and "loss = np.sum(diff**2) / (2 * N)" in lines and "hidden_size = 50" not in lines
    tokens = handcalc_tokens() | hidden_tokens(hidden_expected_values())
    assert {"0.59327", "0.1385", "0.0006684"} <= tokens and len(tokens) > 500
    return lines, tokens


@pytest.mark.slow
def test_the_bundle_holds_no_solution_code_no_correct_answer_and_no_hidden_value(release, secrets):
    texts = _folder_texts(release.folder)
    assert any("!grader/starter/toy_nn.ipynb" in where for where in texts)  # the wheel was opened
    assert _leaks(texts, *secrets) == {}
    assert _leaks(_texts(release.zip.name, release.zip.read_bytes()), *secrets) == {}


def test_the_search_finds_each_kind_of_secret_where_it_is(secrets):
    """Not vacuous: the same search finds the reference's code and answers in solutions/, and
    hidden expected values in a golden instructor's report (the reference's column)."""
    lines, tokens = secrets
    found = _leaks(_folder_texts(SOLUTIONS), lines, tokens)
    assert len(found["hw3code/neural_net.py"]) > 15
    assert any("best_net = net" in hits for where, hits in found.items() if where.startswith("toy_nn.ipynb"))
    assert {"0.59327", "0.75137"} <= set(found["handcalc.toml"])
    golden = ROOT / "tests" / "files" / "golden" / "forgot-half.report.html"
    hidden = _leaks(_texts(golden.name, golden.read_bytes()), set(), hidden_tokens(hidden_expected_values()))
    assert len(hidden[golden.name]) > 20, hidden  # e.g. hidden-mse's dx as the reference computes it


@pytest.mark.slow
def test_the_wheel_ships_nothing_of_solutions_or_tests(release):
    names = zipfile.ZipFile(release.wheel).namelist()
    assert not [n for n in names if n.startswith(("solutions/", "tests/")) or "/solutions/" in n or "/tests/" in n]
    assert not [n for n in names if "handcalc.toml" in n or "golden" in n or "__pycache__" in n]
    starter = {n.removeprefix("grader/starter/") for n in names if n.startswith("grader/starter/")}
    assert starter == set(starter_files(SOLUTIONS))
    assert "grader/templates/report.html.j2" in names and "grader/release.py" in names


# --- writing it ---------------------------------------------------------------------------


def test_a_folder_that_is_no_release_is_never_overwritten(project, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert main(["release", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: not empty and not a release written by `grader release`" in err and "nothing was written" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and not (tmp_path / "mine.zip").exists()
    (tmp_path / "other").write_text("a file")
    with pytest.raises(ConfigError, match="not a folder"):
        write_release(project, tmp_path / "other")
    (tmp_path / "fresh.zip").write_text("not ours")
    with pytest.raises(ConfigError, match="not a release's zip"):
        write_release(project, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


@pytest.mark.slow
def test_an_earlier_release_is_replaced_whole_and_nothing_is_left_beside_it(project, tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["release", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cs145hw3.yml" in printed and f"to {out} and {out}.zip" in printed
    (out / "left-over.txt").write_text("from the earlier release")
    first = (out / MANIFEST).read_text()
    again = write_release(project, out)
    assert not (out / "left-over.txt").exists() and (out / MANIFEST).read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "bundle.zip"]  # no staging folder left
    assert again.folder == out and oct(out.stat().st_mode & 0o777) == "0o755"


def test_a_stale_starter_is_not_released(tmp_path):
    for name in ("solutions", "assignment"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("datasets", "__pycache__"))
    module = tmp_path / "assignment" / "hw3code" / "neural_net.py"
    module.write_text(module.read_text() + "\n# edited by hand\n")
    with pytest.raises(ConfigError, match=r"differ from what `grader generate` writes \(hw3code/neural_net.py\)"):
        write_release(Project(tmp_path), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- a student's round trip, from the bundle alone -----------------------------------------


@pytest.fixture(scope="module")
def student(release, tmp_path_factory, cache):
    """A fresh virtual environment outside the checkout, the grader installed in it by the
    README's command, and what a student's shell would have: its bin/ first on PATH, no
    PYTHONPATH. Yields (the environment variables, the venv, a home folder)."""
    home = tmp_path_factory.mktemp("student")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env |= {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "VIRTUAL_ENV": str(venv), "NO_COLOR": "1"}
    env["GRADER_CACHE"] = str(cache)  # the prepared split of the session's synthetic data
    readme = (release.folder / README).read_text()
    command = install_command(release.wheel.name)
    assert command in readme.splitlines()
    installed = subprocess.run(shlex.split(command), cwd=release.folder, env=env, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return env, venv, home


def _assignment(release, where: Path, notebook: Path) -> Path:
    """The bundle's assignment/ copied out and finished with the reference's code."""
    folder = where / "hw3"
    shutil.copytree(release.folder / "assignment", folder)
    shutil.copy(SOLUTIONS / "hw3code" / "neural_net.py", folder / "hw3code" / "neural_net.py")
    shutil.copy(notebook, folder / "toy_nn.ipynb")
    return folder


@pytest.mark.slow
def test_the_installed_grader_is_the_bundles_not_the_checkouts(student):
    env, venv, home = student
    run = subprocess.run(
        ["python", "-c", "import grader, grader.project as p; print(grader.__file__); print(p.starter_dir())"],
        cwd=home, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    module, starter = run.stdout.splitlines()
    assert module.startswith(str(venv)) and starter.startswith(str(venv)) and str(ROOT) not in run.stdout
    assert shutil.which("grader", path=env["PATH"]) == str(venv / "bin" / "grader")


@pytest.mark.slow
def test_a_students_quick_check_passes_from_the_bundle(release, student, finished_notebook, tmp_path):
    env, _, _ = student
    folder = _assignment(release, tmp_path, finished_notebook)
    ran = subprocess.run(["grader", "check", "--quick"], cwd=folder, env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "public checks: 14 of 14 points" in ran.stdout


@pytest.mark.slow
def test_a_students_full_check_passes_from_the_bundle(release, student, finished_notebook, cifar_dir, tmp_path):
    env, _, _ = student
    folder = _assignment(release, tmp_path, finished_notebook)
    ran = subprocess.run(
        ["grader", "check", "--cifar-dir", str(cifar_dir)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    assert "public checks: 44 of 44 points" in ran.stdout
    for check_id in ("toy.scores", "toy.train", "cifar.tuned", "cifar.test"):
        assert f"✔ {check_id} " in ran.stdout, ran.stdout
