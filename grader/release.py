"""`grader release`: the bundle students download, built from this checkout.

The bundle holds everything a student needs and nothing an instructor keeps::

    DIR/
      README.md                 how to install, get the data, check, and submit
      cs145hw3.yml              the seed's conda environment, plus the grader from the wheel
      cs145_nn_grader-*.whl     the grader, for `grader check` (ships the public starter)
      assignment/               the starter, exactly as `grader generate` writes it
      .grader-release.json      what this release holds: marks DIR as safe to replace

and, beside it, `DIR.zip` of the same folder. The wheel is built from a staged copy
of the package sources and the generated starter, never from the checkout's tree
itself, so nothing a TA left lying around (a data set in `assignment/data/datasets`,
caches, `solutions/`, `tests/`) can reach it. The folder and the zip are written
atomically: built next to their destination, then renamed into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from importlib.util import find_spec
from pathlib import Path

import yaml

from .errors import ConfigError
from .fsutil import atomic_write_bytes, replace_dir
from .generate import check_assignment, starter_files
from .project import Project
from .rubric import Rubric, load_rubric

__all__ = [
    "ENV_FILE",
    "MANIFEST",
    "README",
    "Release",
    "build_wheel",
    "conda_environment",
    "install_command",
    "student_readme",
    "write_release",
]

ENV_FILE = "cs145hw3.yml"  # the name the seed's instructions use (`conda env create -f cs145hw3.yml`)
MANIFEST = ".grader-release.json"
README = "README.md"
ASSIGNMENT = "assignment"
# The package sources a wheel needs, relative to the checkout; `assignment/` is written
# from the generator's output instead (see `_stage_sources`).
_SOURCES = ("pyproject.toml", "README.md", "grader", "templates")
_JUNK = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store")


def install_command(wheel: str) -> str:
    """The one command that installs the grader, run in the bundle's folder with the
    student's environment active. The README shows it and the tests run it verbatim."""
    return f"python -m pip install ./{wheel}"


@dataclass(frozen=True)
class Release:
    """A written bundle: its folder, its zip, the wheel inside it and every file's path."""

    folder: Path
    zip: Path
    wheel: Path
    files: tuple[str, ...]  # relative POSIX paths, sorted (the manifest's own file left out)

    @property
    def size(self) -> int:
        """Bytes of the zip students download."""
        return self.zip.stat().st_size


def _zip_path(out: Path) -> Path:
    return out.with_name(out.name + ".zip")


def _check_destination(out: Path) -> None:
    """Refuse to replace anything but an empty folder or an earlier release (and its zip)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: not a folder; choose a new folder for --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ConfigError(
            f"{out}: not empty and not a release written by `grader release` (no {MANIFEST} in it); "
            "nothing was written. Choose a new or empty folder for --out"
        )
    archive = _zip_path(out)
    if archive.exists():
        try:
            with zipfile.ZipFile(archive) as existing:
                ours = f"{out.name}/{MANIFEST}" in existing.namelist()
        except (zipfile.BadZipFile, OSError):
            ours = False
        if not ours:
            raise ConfigError(
                f"{archive}: exists and is not a release's zip written by `grader release`; "
                "nothing was written. Move it away or choose another --out"
            )


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=lambda _, names: [n for n in names if any(fnmatch(n, p) for p in _JUNK)])


def _stage_sources(project: Project, starter: dict[str, bytes], staging: Path) -> None:
    """A minimal source tree for the wheel: the package, its templates, the metadata, and
    `assignment/` as the generator writes it (pyproject.toml force-includes it as the
    wheel's `grader/starter`)."""
    for name in _SOURCES:
        source = project.root / name
        if not source.exists():
            raise ConfigError(f"{source}: missing; `grader release` runs from a full checkout")
        if source.is_dir():
            _copy_tree(source, staging / name)
        else:
            shutil.copy2(source, staging / name)
    _write_files(staging / ASSIGNMENT, starter)


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    for rel, content in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def build_wheel(source: Path, dest: Path) -> Path:
    """Build the wheel of the source tree `source` into `dest`, offline, and return it.

    No build isolation and no index: hatchling (a dev dependency) must be installed in
    this environment already, so a release never needs the network."""
    if find_spec("hatchling") is None:
        raise ConfigError(
            "building the wheel needs hatchling in this environment: pip install hatchling "
            "(or the dev extras: pip install -e '.[dev]')"
        )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    run = subprocess.run([*command, "-q", "-w", str(dest), str(source)], capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if run.returncode != 0 or len(wheels) != 1:
        raise ConfigError(f"building the grader's wheel failed:\n{run.stdout}{run.stderr}".rstrip())
    return wheels[0]


def _check_wheel(wheel: Path, starter: dict[str, bytes]) -> None:
    """The wheel's `grader/starter` must be the generated starter, file for file, and it
    must carry nothing of solutions/ or tests/ (an assertion of what staging ensures)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = {n[len("grader/starter/") :]: archive.read(n) for n in names if n.startswith("grader/starter/")}
    if shipped != starter:
        raise ConfigError(f"{wheel.name}: its grader/starter is not the generated starter; not released")
    stray = [n for n in names if n.split("/")[0] in ("solutions", "tests") or "/solutions/" in n]
    if stray:
        raise ConfigError(f"{wheel.name}: holds {', '.join(stray[:3])}: not for students; not released")


def conda_environment(seed_env: str, wheel: str) -> str:
    """The seed's conda environment file with the grader added: pip, and a `pip:` entry
    with the wheel's path relative to the file.

    conda runs the `pip:` entries with the environment file's folder as the working
    directory (conda's pip installer: `pip_workdir = dirname(abspath(file))`), so
    `./<wheel>` finds the wheel beside the file wherever the student unpacked the bundle.
    The text is extended rather than re-dumped so that the seed's comments stay."""
    lines = seed_env.rstrip("\n").splitlines()
    seed = yaml.safe_load(seed_env)
    if not isinstance(seed, dict) or not isinstance(seed.get("dependencies"), list):
        raise ConfigError(f"{ENV_FILE}: expected a conda environment file with a dependencies list")
    last = lines[-1]
    indent = last[: len(last) - len(last.lstrip())] or "  "  # the list's own, for the added entries
    added = [f"{indent}- pip", f"{indent}- pip:", f"{indent}    - ./{wheel}  # the grader: `grader check`"]
    text = "\n".join([*lines, *added]) + "\n"
    ours = yaml.safe_load(text)
    if ours != {**seed, "dependencies": [*seed["dependencies"], "pip", {"pip": [f"./{wheel}"]}]}:
        # The list is not the file's last block: appending would not extend it.
        raise ConfigError(f"{ENV_FILE}: its dependencies list must come last for the grader to be added to it")
    return text


def _points(rubric: Rubric, *, public: bool | None = None, manual: bool | None = None) -> float:
    return sum(
        c.points
        for c in rubric.checks
        if not c.bonus and (public is None or c.public == public) and (manual is None or c.manual == manual)
    )


def student_readme(rubric: Rubric, wheel: str, title: str) -> str:
    """The bundle's README: install, get the data, check, what the check cannot tell, submit.
    Every number in it comes from the rubric the grader ships."""
    quick = sum(c.points for c in rubric.checks if c.public and c.id.startswith("toy."))
    full = _points(rubric, public=True)
    hidden = _points(rubric, public=False, manual=False)
    manual = _points(rubric, manual=True)
    handcalc = sum(c.points for c in rubric.checks if c.id.startswith("handcalc."))
    total = _points(rubric)
    rule = rubric.accuracy
    offset, span = float(rule.offset_percent), float(rule.span_percent)  # Fractions in the rubric
    notebook, module = rubric.notebook, rubric.module
    return f"""# {title}

This folder is the homework as you download it:

- `{ASSIGNMENT}/`: the notebook (`{notebook}`), the module you complete (`{module}`)
  and the course's helpers (`data/`). Work in this folder.
- `{wheel}`: the grader, installed with pip. It gives you
  `grader check`, which runs the public checks on your work on your own machine.
- `{ENV_FILE}`: the homework's conda environment with the grader added
  (`{ASSIGNMENT}/{ENV_FILE}` is the same environment without it).

## Install

With conda (the environment is named `hw3`), in this folder:

```sh
conda env create -f {ENV_FILE}
conda activate hw3
```

Or with Python 3.10 or newer and a virtual environment, in this folder:

```sh
python3 -m venv .venv
source .venv/bin/activate
{install_command(wheel)}
```

Either way `grader --help` works while the environment is active. The installation downloads
the grader's dependencies (numpy, matplotlib, Jupyter's nbclient and ipykernel, ...) unless
they are installed already. Linux and macOS are supported; on Windows, use WSL 2.

## Get the data

The notebook reads CIFAR-10 from `{ASSIGNMENT}/data/datasets/cifar-10-batches-py`. Download it
there once (about 170 MB; the grader checks its MD5 and unpacks it):

```sh
cd {ASSIGNMENT}
grader data fetch --dest data/datasets
```

If that machine has no internet, download `cifar-10-python.tar.gz` elsewhere and pass it:
`grader data fetch --dest data/datasets --tarball cifar-10-python.tar.gz`.

## Check your work

In `{ASSIGNMENT}/`, with the environment active:

```sh
grader check --quick   # {module} alone, in seconds: the toy checks ({quick:g} points)
grader check           # also runs the whole notebook and checks the CIFAR-10 results
```

`grader check` prints a line per check and exits 0 when every public check passed. The full
check runs every cell of the notebook as the grader will, under the grading limits (the search
cell takes minutes). It also warns about what loses points silently: a deleted starter cell,
code changed outside the START/END regions (highlight such changes in your notebook, as the
homework asks), a Section 1 answer with no numbers in it. Pass `--cifar-dir DIR` if your copy
of the data set is elsewhere.

## What the check cannot tell you

The public checks are worth {full:g} of the {total:g} points. The rest is graded after you submit:

- **hidden checks** ({hidden - handcalc:g} points): your code on other inputs (shapes, weights,
  regularisation strengths, training runs) compared with the reference solution, and the
  untuned network's validation accuracy. Code that only reproduces the numbers the notebook
  prints passes the public checks and fails these;
- **the hand calculation** (Section 1, {handcalc:g} points): your answers are marked against the
  correct values, which the check does not have;
- **the free-text questions** ({manual:g} points): a TA reads and scores them;
- **the bonus** (`softmax_loss`): the check tests two of its parts; the rest is hidden;
- **the validation accuracy that counts**: the grader recomputes `best_net`'s accuracy itself,
  from its weights, on the real CIFAR-10 (hidden size {rule.hidden_size}). Full credit needs
  {offset + span:g}% or more: the points are multiplied by min(floor(X - {offset:g}%) / {span:g}%, 1).
  The check computes it on the data you give it, so check with the real data set.

A passing check is not a grade: it means that the public parts agree.

## Submit

Upload to Gradescope your notebook `{notebook}` (saved, with its outputs) and your module
`{module}`, both from `{ASSIGNMENT}/`. Nothing else is graded; do not upload the data
set. If your course's page asks for more (the original homework also asked for a PDF
printout), do that too.
"""


def _manifest(folder: Path, wheel: str) -> tuple[str, tuple[str, ...]]:
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    digests = {rel: hashlib.sha256((folder / rel).read_bytes()).hexdigest() for rel in files}
    return json.dumps({"wheel": wheel, "files": digests}, indent=1) + "\n", tuple(files)


def _write_zip(folder: Path, archive: Path, top: str) -> None:
    """`folder` zipped under the top-level folder `top`, written atomically (it is built in
    memory: a starter and a pure-Python wheel are a few hundred kB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    atomic_write_bytes(archive, buffer.getvalue())


def write_release(project: Project, out: Path) -> Release:
    """Write the student bundle of `project` to `out` (and `out`.zip) and return it.

    Refuses (ConfigError, nothing written) when `out` is a non-empty folder that no earlier
    `grader release` wrote, when `assignment/` is stale (run `grader generate`), or when the
    wheel cannot be built. An earlier release in `out` is replaced whole."""
    out = Path(out).absolute()
    _check_destination(out)
    stale = check_assignment(project.solutions, project.assignment)
    if stale:
        raise ConfigError(
            f"{project.assignment}: {len(stale)} file(s) differ from what `grader generate` writes "
            f"({', '.join(s.path for s in stale[:3])}); run `grader generate`, commit, then release"
        )
    starter = starter_files(project.solutions)
    rubric = load_rubric(project.assignment / "rubric.toml")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        bundle, sources = staging / "bundle", staging / "sources"
        bundle.mkdir()
        sources.mkdir()
        _stage_sources(project, starter, sources)
        wheel = build_wheel(sources, bundle)
        _check_wheel(wheel, starter)
        _write_files(bundle / ASSIGNMENT, starter)
        seed_env = starter[ENV_FILE].decode("utf-8")
        (bundle / ENV_FILE).write_text(conda_environment(seed_env, wheel.name), encoding="utf-8")
        (bundle / README).write_text(student_readme(rubric, wheel.name, rubric.title), encoding="utf-8")
        manifest, files = _manifest(bundle, wheel.name)
        (bundle / MANIFEST).write_text(manifest, encoding="utf-8")
        for path in (bundle, *bundle.rglob("*")):  # the same modes whatever the umask: readable by all
            path.chmod(0o755 if path.is_dir() else 0o644)
        archive = _zip_path(out)
        _write_zip(bundle, archive, out.name)
        replace_dir(bundle, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Release(out, archive, out / wheel.name, files)
