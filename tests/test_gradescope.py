"""The Gradescope autograder: its zip, and `run_autograder` in a simulated `/autograder` tree.

The zip is built once (the reference runs on the fast synthetic set). Each test unpacks
it into a fresh tree laid out as Gradescope's specification says (`source/`,
`submission/`, `submission_metadata.json`, `results/`), with `AUTOGRADER_ROOT`
pointing there, and runs the zip's own `run_autograder`, which runs the `grader` found
on PATH, exactly as in the container. Every results file is validated against
RESULTS_SCHEMA, Gradescope's format written down as a JSON Schema.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from scratch import scratch

from grader.checks.families import FAMILIES, family_of
from grader.datasets.synth import cached_synthetic_cifar
from grader.gradescope.build import MIN_MEMORY_MB, build_autograder
from grader.gradescope.feedback import HARNESS_FAILURE, INSTRUCTOR_NOTES, gradescope_results
from grader.gradescope.layout import AutograderConfig
from grader.results import read_result
from grader.rubric import load_rubric
from grader.sandbox import isolation_available

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # where this checkout's `grader` command is

# Gradescope's results format (https://gradescope-autograders.readthedocs.io/en/latest/specs/,
# "Output format"), field by field:
#   top level: score (number; required unless every test has one), execution_time (seconds),
#     output (text for the whole submission), output_format, test_output_format,
#     test_name_format, visibility, stdout_visibility, extra_data (object, stored),
#     tests (list), leaderboard (list of {name, value, order asc|desc})
#   per test: score, max_score, status (passed|failed), name, name_format, number, output,
#     output_format, tags (list of strings), visibility, extra_data
#   visibility: hidden | after_due_date | after_published | visible
#   output formats ("Output String Formatting"): text | html | simple_format | md | ansi
_VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": _FORMAT,
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": _FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": _VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "value": {"type": ["number", "string"]},
                    "order": {"enum": ["asc", "desc"]},
                },
            },
        },
    },
}

METADATA = {  # as https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/ shows it
    "id": 123456,
    "created_at": "2026-12-01T14:22:32.365935-07:00",
    "assignment": {
        "due_date": "2026-12-08T23:00:00.000000-07:00",
        "group_size": 2,
        "group_submission": True,
        "id": 25828,
        "course_id": 1234,
        "late_due_date": None,
        "release_date": "2026-11-20T00:00:00.000000-07:00",
        "title": "HW3 part 2",
        "total_points": "110.0",
    },
    "submission_method": "upload",
    "users": [
        {"email": "ada@example.edu", "id": 1234, "name": "Ada Lovelace"},
        {"email": "alan@example.edu", "id": 1235, "name": "Alan Turing"},
    ],
    "previous_submissions": [],
}


@pytest.fixture(scope="module")
def gradescope_cache(tmp_path_factory) -> Iterator[Path]:
    with scratch(tmp_path_factory, "gradescope-cache") as folder:
        yield folder


@pytest.fixture(scope="module")
def autograder_zip(project, gradescope_cache, tmp_path_factory) -> Path:
    """The autograder zip, carrying the fast synthetic set (its reference runs in half a minute)."""
    data = cached_synthetic_cifar(gradescope_cache, "fast", log=lambda _: None)
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    build_autograder(out, project, cache=gradescope_cache, cifar_dir=data, log=lambda _: None)
    return out


def _tree(tmp_path: Path, zip_path: Path, files: dict[str, bytes], metadata: dict | None = METADATA) -> Path:
    """A fresh /autograder: the zip in source/ (executable bits kept, as Gradescope's unpacking
    keeps them), the student's `files` in submission/, and the metadata."""
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if mode & stat.S_IXUSR:
                os.chmod(source / info.filename, mode & 0o777)
    for name, data in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "submission").mkdir(parents=True, exist_ok=True)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def _run(root: Path, cache: Path, *, path: str | None = None, prefix: tuple[str, ...] = ()) -> dict:
    """Run the zip's run_autograder in `root` as Gradescope does (cwd /autograder); the results file."""
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "GRADER_CACHE": str(cache),  # the split prepared once, as setup.sh prepares it for the image
        "PATH": path if path is not None else f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }
    run = subprocess.run(
        [*prefix, str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr  # a results file is always written, so always 0
    (root / "results" / "stdout").write_text(run.stdout + run.stderr)  # where Gradescope keeps it
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    return results


def _files(notebook: Path | bytes, module: Path | bytes | None) -> dict[str, bytes]:
    def read(x):
        return x if isinstance(x, bytes) else x.read_bytes()

    files = {"toy_nn.ipynb": read(notebook)}
    if module is not None:
        files["hw3code/neural_net.py"] = read(module)
    return files


def _notes(results: dict) -> str:
    (notes,) = [t for t in results["tests"] if t["name"] in (INSTRUCTOR_NOTES, HARNESS_FAILURE)]
    assert notes["visibility"] == "hidden" and notes["max_score"] == 0
    return notes["output"]


# ---------------------------------------------------------------- the zip


@pytest.mark.slow
def test_the_zip_holds_what_gradescope_and_the_container_need(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        config = json.loads(archive.read("autograder.json"))
    for script in ("setup.sh", "run_autograder"):  # at the root, executable
        assert modes[script] & stat.S_IXUSR, script
    assert {"solutions/rubric.toml", "solutions/hw3code/neural_net.py", "assignment/toy_nn.ipynb"} <= names
    assert {"grader-src/pyproject.toml", "grader-src/grader/cli.py", "reference/fingerprint"} <= names
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "grader").rglob("__init__.py")}
    assert {f"grader-src/{p}/__init__.py" for p in packages} <= names  # every package of the grader
    assert {f"data/cifar-10-batches-py/{n}" for n in ("data_batch_1", "test_batch")} <= names
    assert not any("__pycache__" in n or n.startswith(("tests/", "grader-src/tests/")) for n in names)
    assert config["data"] == "packed" and config["min_memory_mb"] == MIN_MEMORY_MB
    assert config["timeout"] == 40 * 60 - 180  # Gradescope's longest limit, less the grader's own time


@pytest.mark.parametrize(
    ("options", "wrong"),
    [
        ({}, "--cifar-dir DIR"),
        ({"cifar_dir": Path("x"), "fetch_data": True}, "--cifar-dir DIR"),
        ({"cifar_dir": Path("x"), "gradescope_minutes": 41}, "1 to 40 minutes"),
        ({"cifar_dir": Path("x"), "isolation": "none"}, "always sandboxes"),
    ],
)
def test_build_refuses_contradictory_options(project, tmp_path, options, wrong):
    from grader.errors import ConfigError

    with pytest.raises(ConfigError, match=wrong):
        build_autograder(tmp_path / "a.zip", project, cache=tmp_path, **options)
    assert not (tmp_path / "a.zip").exists()


@pytest.mark.slow
def test_a_zip_without_the_data_has_setup_fetch_and_check_it(project, gradescope_cache, tmp_path, monkeypatch):
    """--fetch-data: the builder downloads the data (to run the reference on the very bytes the
    containers will have), the zip carries only its address and MD5, and setup fetches and
    checks it. A file:// address stands in for the authors' site: nothing leaves the machine."""
    import hashlib
    import tarfile

    from grader.datasets.fetch import FOLDER
    from grader.errors import DataError
    from grader.gradescope.container import set_up_container

    data = cached_synthetic_cifar(gradescope_cache, "fast", log=lambda _: None)
    tarball = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        tar.add(data, arcname=FOLDER)
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    out = tmp_path / "autograder.zip"
    build_autograder(
        out, project, cache=gradescope_cache, fetch_data=True, data_url=tarball.as_uri(), data_md5=md5, log=print
    )
    with zipfile.ZipFile(out) as archive:
        assert not any(n.startswith("data/") for n in archive.namelist())
        config = json.loads(archive.read("autograder.json"))
    assert (config["data"], config["data_url"], config["data_md5"]) == ("fetch", tarball.as_uri(), md5)
    root = _tree(tmp_path, out, {})
    monkeypatch.setenv("GRADER_CACHE", str(root / "cache"))
    said: list[str] = []
    set_up_container(root, log=said.append)
    assert (root / "source" / "data" / FOLDER / "data_batch_1").read_bytes() == (data / "data_batch_1").read_bytes()
    assert not any("WARNING" in line for line in said) and said[-1].startswith("ready:")
    # A download that does not hash to the MD5 stops the image's build, loudly.
    shutil.rmtree(root / "source" / "data")
    (root / "source" / "autograder.json").write_text(json.dumps({**config, "data_md5": "0" * 32}))
    with pytest.raises(DataError, match="MD5"):
        set_up_container(root, log=said.append)


# ---------------------------------------------------------------- run_autograder


@pytest.mark.slow
def test_a_correct_group_submission_is_graded_with_hidden_checks_sealed(
    autograder_zip, gradescope_cache, tmp_path, project, finished_notebook
):
    solutions = project.solutions
    root = _tree(tmp_path, autograder_zip, _files(finished_notebook, solutions / "hw3code" / "neural_net.py"))
    results = _run(root, gradescope_cache)
    automatic = [t for t in results["tests"] if t["name"] != INSTRUCTOR_NOTES]
    # Full marks on every automatic check; the free-text questions are left to Gradescope's hand grading.
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in automatic), automatic
    rubric = load_rubric(solutions / "rubric.toml")
    earned = sum(c.points for c in rubric.checks if not c.manual)  # every automatic point, bonus included
    assert results["score"] == sum(t["score"] for t in automatic) == earned
    assert not any(t["extra_data"]["manual"] for t in automatic)
    hidden = [t for t in automatic if t["visibility"] != "visible"]
    assert hidden and all(t["visibility"] in ("after_published", "hidden") for t in hidden)
    for test in hidden:  # nothing that gives a hidden check away
        assert not {"expected", "observed", "details"} & set(test["extra_data"]), test["name"]
    # While checks are held back, the output tells no total (Gradescope hides it too).
    assert "once grades are published" in results["output"] and "/ 100" not in results["output"]
    assert results["output_format"] == "md" and results["stdout_visibility"] == "hidden"
    assert results["leaderboard"][0]["name"] == "Validation accuracy" and results["leaderboard"][0]["value"] > 0.45
    extra = results["extra_data"]
    assert [m["name"] for m in extra["members"]] == ["Ada Lovelace", "Alan Turing"]
    assert extra["gradescope_submission"] == 123456 and extra["student"] == "ada@example.edu"
    assert extra["names"]["group"] == "Ada Lovelace, Alan Turing"
    assert extra["sandboxed"] is isolation_available()[0]
    # The reference came from the zip, not re-run; the report was written in the container.
    assert "running the reference" not in (root / "results" / "stdout").read_text()
    assert "report.html" in _notes(results)
    assert (root / "grading" / "ada@example.edu" / "report.html").is_file()


@pytest.mark.slow
def test_a_broken_submission_gets_a_result_that_says_why(autograder_zip, gradescope_cache, tmp_path):
    """A zip upload left as one file in the submission folder is read as the student's files."""
    upload = tmp_path / "hw3.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("hw3/toy_nn.ipynb", '{"cells": [')
        archive.writestr("hw3/notes.txt", "hi")
    root = _tree(tmp_path, autograder_zip, {"hw3.zip": upload.read_bytes()})
    results = _run(root, gradescope_cache)
    assert results["score"] == 0
    assert not results["extra_data"]["harness_failed"]  # the student's files are at fault, not the grader
    assert "no hw3code/neural_net.py" in results["output"]
    assert "toy_nn.ipynb" in results["output"]  # the unreadable notebook is named
    assert all(t["score"] == 0 for t in results["tests"])


HOSTILE_CELL = """
import json, pathlib
root = pathlib.Path({root!r})
forged = {{"score": 1000, "tests": []}}
for target in (root / "results" / "results.json", root / "source" / "solutions" / "rubric.toml"):
    try:
        target.write_text(json.dumps(forged))
        print("WROTE", target)
    except Exception as exc:
        print("blocked", target.name, type(exc).__name__)
try:
    print("READ", (root / "source" / "solutions" / "hw3code" / "neural_net.py").read_text()[:40])
except Exception as exc:
    print("blocked read", type(exc).__name__)
"""


@pytest.mark.slow
def test_a_hostile_submission_cannot_forge_its_results_or_read_the_solution(
    autograder_zip, gradescope_cache, tmp_path, project
):
    import nbformat

    root = tmp_path / "autograder"
    notebook = nbformat.read(project.assignment / "toy_nn.ipynb", as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_code_cell(HOSTILE_CELL.format(root=str(root)), id="hostile"))
    module = project.assignment / "hw3code" / "neural_net.py"
    root = _tree(tmp_path, autograder_zip, _files(nbformat.writes(notebook).encode(), module))
    rubric = (root / "source" / "solutions" / "rubric.toml").read_bytes()
    results = _run(root, gradescope_cache)
    assert results["score"] < 10  # the starter's code: nothing earned, and certainly not 1000
    assert (root / "source" / "solutions" / "rubric.toml").read_bytes() == rubric
    executed = nbformat.read(root / "grading" / "ada@example.edu" / "executed.ipynb", as_version=4)
    (cell,) = [c for c in executed.cells if c.get("id") == "hostile"]
    printed = "".join(o.get("text", "") for o in cell.get("outputs", []))
    assert "WROTE" not in printed and "READ" not in printed, printed
    assert printed.count("blocked") == 3, printed


@pytest.mark.slow
def test_the_grader_missing_from_path_still_writes_a_results_file(autograder_zip, gradescope_cache, tmp_path):
    root = _tree(tmp_path, autograder_zip, {})
    results = _run(root, gradescope_cache, path="/usr/bin:/bin")  # setup.sh never put `grader` there
    assert results["score"] == 0 and results["extra_data"] == {"harness_failed": True, "exit_status": 127}
    assert "not on PATH" in _notes(results)
    assert "not a mistake of yours" in results["output"]


@pytest.mark.slow
def test_a_broken_autograder_zip_is_reported_to_the_instructor(autograder_zip, gradescope_cache, tmp_path):
    root = _tree(tmp_path, autograder_zip, {})
    (root / "source" / "autograder.json").write_text("{}")
    results = _run(root, gradescope_cache)
    assert results["score"] == 0 and results["extra_data"]["harness_failed"]
    assert "autograder.json" in _notes(results) and "grader gradescope build" in _notes(results)


@pytest.fixture
def memory_cgroup():
    """A maker of memory cgroups (v2 or v1) of a given size, each removed after the test."""
    made: list[Path] = []
    yield lambda limit_mb: _memory_cgroup(limit_mb, made)
    for folder in made:
        folder.rmdir()  # empty again: its one process has exited


def _memory_cgroup(limit_mb: int, made: list[Path]) -> tuple[str, ...]:
    """A command prefix that runs a command in a new memory cgroup of `limit_mb`."""
    name = f"grader-test-{uuid.uuid4().hex[:8]}"
    v2, v1 = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory")
    if (v2 / "cgroup.controllers").is_file() and "memory" in (v2 / "cgroup.subtree_control").read_text():
        folder, limit_file = v2 / name, "memory.max"
    elif v1.is_dir():
        folder, limit_file = v1 / name, "memory.limit_in_bytes"
    else:
        pytest.skip("no memory cgroup here")
    try:
        folder.mkdir()
        made.append(folder)
        (folder / limit_file).write_text(str(limit_mb << 20))
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup here ({exc})")
    return ("sh", "-c", f'echo $$ > {folder}/cgroup.procs && exec "$@"', "sh")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cgroup", "rlimit"])
def test_a_container_too_small_is_refused_with_the_setting_to_choose(
    autograder_zip, gradescope_cache, tmp_path, memory_cgroup, how
):
    """Gradescope's default container (768 MB) would kill a notebook run midway: the run is
    refused up front, and the message says which setting to raise. A memory cgroup is how a
    container is capped; an address-space rlimit is how `prlimit` caps a process."""
    if how == "cgroup":
        if os.geteuid() != 0:
            pytest.skip("making a cgroup needs root")
        prefix = memory_cgroup(768)
    else:
        prefix = ("prlimit", f"--as={1024 << 20}")
    root = _tree(tmp_path, autograder_zip, {"toy_nn.ipynb": b"{}"})
    results = _run(root, gradescope_cache, prefix=prefix)
    assert results["score"] == 0 and results["extra_data"]["harness_failed"]
    notes = _notes(results)
    limit = 768 if how == "cgroup" else 1024
    assert f"has {limit} MB of memory" in notes and f"needs {MIN_MEMORY_MB} MB" in notes
    assert f"at least {-(-MIN_MEMORY_MB // 1024)} GB" in notes
    assert not (root / "grading").exists()  # nothing was started


def test_a_results_file_sums_the_visible_checks_by_family_and_keeps_to_the_format():
    """What `gradescope_results` writes for a stored result (no container needed): Gradescope's
    format, the visible checks' points per family in the student's summary, none hidden."""
    result = read_result(ROOT / "tests" / "files" / "golden" / "out" / "forgot-half" / "results.json")
    rubric = load_rubric(ROOT / "solutions" / "rubric.toml")
    results = gradescope_results(result, rubric)
    jsonschema.validate(results, RESULTS_SCHEMA)
    for family in FAMILIES:
        shown = [c for c in result.checks if family_of(c.id) == family.key and c.visibility == "visible"]
        shown = [c for c in shown if c.status != "skipped"]
        row = f"| {family.title} | {sum(c.score for c in shown):g} / {sum(c.max_score for c in shown):g} |"
        assert (row in results["output"]) == bool(shown), (family.key, results["output"])


def test_autograder_config_names_its_file_when_unreadable(tmp_path):
    from grader.errors import ConfigError

    path = tmp_path / "autograder.json"
    path.write_text('{"version": 99}')
    with pytest.raises(ConfigError, match=r"autograder\.json.*version 99"):
        AutograderConfig.read(path)


# ---------------------------------------------------------------- setup.sh, from a fresh environment


@pytest.mark.slow
def test_setup_sh_installs_the_grader_and_run_autograder_uses_it(autograder_zip, gradescope_cache, tmp_path, project):
    """setup.sh as Gradescope runs it, except where it writes: the venv in the tree and
    `grader` in a bin folder of the test (not /usr/local/bin). Its Debian step finds
    python3-venv and bubblewrap installed and does nothing. The installed grader (not this
    checkout) then grades the starter, using the reference's run from the zip unchanged:
    an install and a checkout of the same grader agree on what the reference ran on."""
    if shutil.which("bwrap") is None or shutil.which("python3") is None:
        pytest.skip("setup.sh would apt-get install python3-venv and bubblewrap")
    starter = project.assignment
    root = _tree(tmp_path, autograder_zip, _files(starter / "toy_nn.ipynb", starter / "hw3code" / "neural_net.py"))
    bin_dir = tmp_path / "bin"
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "GRADER_BIN_DIR": str(bin_dir),
        "GRADER_CACHE": str(root / "cache"),
    }
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != VENV_BIN)
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], cwd=root, env=env, capture_output=True, text=True, timeout=900
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "ready:" in setup.stdout and "is not the data set the reference ran on" not in setup.stdout
    installed = bin_dir / "grader"
    assert installed.resolve().is_relative_to(root / "venv")
    results = _run(root, root / "cache", path=f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    assert not results["extra_data"]["harness_failed"], _notes(results)
    assert results["score"] < 10  # the starter earns nothing (or the bonus-free handful a given cell gives)
    assert "running the reference" not in (root / "results" / "stdout").read_text()
