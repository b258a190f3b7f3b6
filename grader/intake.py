"""Intake: turn what an instructor downloaded into one `Submission` per student.

Accepted layouts, for each path given to `grader grade`:

- one submission: a folder or a `.zip` holding the notebook (`toy_nn.ipynb`, or the
  only `.ipynb`) and `hw3code/neural_net.py` (or a lone `neural_net.py`); the student
  id is the folder's or zip's name;
- a class folder whose entries are such folders or zips;
- a Gradescope "export submissions" folder (`submission_metadata.yml` and one
  `submission_<n>/` folder each): the id is the submitter's SID (else email, name);
- a flat folder of LMS downloads (Canvas, Moodle, ...) where each file name starts
  with the student's id and an underscore (`alice_1234_5678_toy_nn.ipynb`): files
  are grouped by that prefix.

Files are read into memory here (zips are never extracted, so no archive can write
outside its folder); everything else in a submission is ignored. A submission with
a missing or unreadable part is still returned, with `problems` that say what is
missing: it is graded as far as possible.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import yaml

from .errors import SubmissionError

__all__ = ["Submission", "discover", "read_submission"]

MAX_FILE_BYTES = 64 << 20  # a notebook with every plot is a few MB
_MODULE = re.compile(r"(^|[/_])neural_net(-\d+|\s*\(\d+\))?\.py$")
_NOTEBOOK_NAME = "toy_nn"
_LMS_PREFIX = re.compile(r"^([^_]+)_")
_SAFE_ID = re.compile(r"[^\w.@+-]+")  # \w: letters of any script are safe in folder names


@dataclass(frozen=True)
class Submission:
    """One student's files, as read from disk, and what is wrong with them."""

    student: str  # safe as a folder name
    source: Path  # where it came from
    notebook: bytes | None = None
    notebook_name: str = ""  # as the student named it
    module: bytes | None = None
    problems: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # e.g. Gradescope name and email


def _safe_id(raw: str) -> str:
    cleaned = _SAFE_ID.sub("_", raw.strip()).strip("._")
    return cleaned or "unnamed"


def _pick(files: Mapping[str, bytes], source: Path, student: str, names: Mapping[str, str]) -> Submission:
    """Choose the notebook and the module among a submission's files."""
    problems: list[str] = []
    notebooks = sorted(n for n in files if n.lower().endswith(".ipynb") and ".ipynb_checkpoints" not in n)
    preferred = [n for n in notebooks if _NOTEBOOK_NAME in PurePosixPath(n).name]
    # `toy_nn.ipynb` itself, nearest the top, before copies such as `toy_nn-Copy1.ipynb`,
    # `toy_nn (1).ipynb` or `old/toy_nn.ipynb`, which sort before it by name.
    exact = f"{_NOTEBOOK_NAME}.ipynb"
    preferred.sort(key=lambda n: (PurePosixPath(n).name != exact, n.count("/"), n))
    notebook_name = ""
    if preferred or len(notebooks) == 1:
        notebook_name = (preferred or notebooks)[0]
        if len(notebooks) > 1:
            others = ", ".join(n for n in notebooks if n != notebook_name)
            problems.append(f"several notebooks; graded {notebook_name} (ignored {others})")
    elif notebooks:
        problems.append(f"several notebooks and none named {_NOTEBOOK_NAME}.ipynb: {', '.join(notebooks)}")
    else:
        problems.append(f"no notebook ({_NOTEBOOK_NAME}.ipynb) in the submission")
    # hw3code/neural_net.py first, and the plain name before duplicates such as `neural_net (1).py`.
    modules = sorted(
        (n for n in files if _MODULE.search(n)),
        key=lambda n: ("hw3code/" not in n, PurePosixPath(n).name != "neural_net.py", n),
    )
    if not modules:
        problems.append("no hw3code/neural_net.py in the submission")
    elif len(modules) > 1:
        problems.append(f"several neural_net.py files; graded {modules[0]}")
    module = files[modules[0]] if modules else None
    if module is not None and not module.strip():
        problems.append(f"{modules[0]} is empty")
    return Submission(
        student=student,
        source=source,
        notebook=files.get(notebook_name),
        notebook_name=notebook_name,
        module=module,
        problems=tuple(problems),
        names=dict(names),
    )


def _read_folder(folder: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and (rel.endswith((".ipynb", ".py"))) and "__MACOSX" not in rel:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise SubmissionError(f"{path}: {path.stat().st_size} bytes; larger than any notebook")
            files[rel] = path.read_bytes()
    return files


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            files = {}
            for info in archive.infolist():
                name = info.filename
                if info.is_dir() or "__MACOSX" in name or not name.endswith((".ipynb", ".py")):
                    continue
                if info.file_size > MAX_FILE_BYTES:
                    raise SubmissionError(f"{path}: {name} is {info.file_size} bytes unpacked; too large")
                files[name] = archive.read(info)
            return _strip_common_folder(files)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise SubmissionError(f"{path}: not a readable zip archive ({exc})") from exc


def _strip_common_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """Zips often hold one top folder (`alice/toy_nn.ipynb`): drop it."""
    tops = {PurePosixPath(n).parts[0] for n in files}
    if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in files):
        return {n.split("/", 1)[1]: data for n, data in files.items()}
    return files


def read_submission(path: Path, student: str | None = None, names: Mapping[str, str] | None = None) -> Submission:
    """One submission from a folder or a zip; its id defaults to the folder's or zip's name."""
    student = _safe_id(student or (path.stem if path.suffix.lower() == ".zip" else path.name))
    try:
        files = _read_zip(path) if path.is_file() else _read_folder(path)
    except SubmissionError as exc:
        return Submission(student, path, problems=(str(exc),), names=dict(names or {}))
    return _pick(files, path, student, names or {})


def _lms_prefixes(files: list[Path]) -> set[str]:
    """The LMS prefixes (student ids) of the homework files among `files`.

    A student's own folder names its files `toy_nn.ipynb` and `neural_net.py`; an LMS
    download prefixes each with the student's id. Two prefixes mean two students,
    even when only one of them sent a notebook.
    """
    prefixes = set()
    for path in files:
        if path.name.startswith(_NOTEBOOK_NAME) or _MODULE.match(path.name):
            continue
        match = _LMS_PREFIX.match(path.name)
        if match and (path.suffix == ".ipynb" or _MODULE.search(path.name)):
            prefixes.add(match.group(1))
    return prefixes


def _looks_like_submission(folder: Path) -> bool:
    top = [p for p in folder.iterdir() if p.is_file()]
    if (folder / "hw3code").is_dir():
        return True
    return len([p for p in top if p.suffix == ".ipynb"]) == 1 and len(_lms_prefixes(top)) < 2


def _gradescope(folder: Path) -> Iterator[Submission]:
    meta_path = folder / "submission_metadata.yml"
    try:
        metadata = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SubmissionError(f"{meta_path}: unreadable Gradescope metadata ({exc})") from exc
    if not isinstance(metadata, dict):
        raise SubmissionError(f"{meta_path}: expected a mapping of submission folders")
    for sub_folder, info in sorted(metadata.items()):
        submitters = info.get(":submitters") if isinstance(info, dict) else None
        if not isinstance(submitters, list) or not submitters:
            submitters = [{}]
        first = submitters[0] if isinstance(submitters[0], dict) else {}
        names = {k.lstrip(":"): str(v) for k, v in first.items() if v is not None}
        if len(submitters) > 1:
            names["group"] = ", ".join(str(s.get(":name", "?")) for s in submitters if isinstance(s, dict))
        student = names.get("sid") or names.get("email") or names.get("name") or str(sub_folder)
        yield read_submission(folder / str(sub_folder), student, names)


def _lms_flat(folder: Path) -> Iterator[Submission]:
    groups: dict[str, dict[str, bytes]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        match = _LMS_PREFIX.match(path.name)
        if not match:
            continue
        files = groups.setdefault(match.group(1), {})
        if path.suffix.lower() == ".zip":
            try:
                files.update(_read_zip(path))
            except SubmissionError as exc:
                files[f"!{path.name}"] = str(exc).encode()
        elif path.suffix in (".ipynb", ".py"):
            # The LMS prefix is dropped so that `alice_12_34_neural_net.py` reads as `neural_net.py`.
            files[path.name[match.end() :]] = path.read_bytes()
    for prefix, files in groups.items():
        broken = [f[1:] for f in files if f.startswith("!")]
        sub = _pick({k: v for k, v in files.items() if not k.startswith("!")}, folder, _safe_id(prefix), {})
        if broken:
            sub = replace(sub, problems=(*sub.problems, *(files["!" + b].decode() for b in broken)))
        yield sub


def discover(paths: Iterable[Path]) -> list[Submission]:
    """Every submission under `paths`, in a stable order, with unique student ids.

    Raises `SubmissionError` for a path that does not exist or holds no submission.
    """
    found: list[Submission] = []
    for path in map(Path, paths):
        if not path.exists():
            raise SubmissionError(f"{path}: no such file or folder")
        if path.is_file():
            if path.suffix.lower() != ".zip":
                raise SubmissionError(f"{path}: a submission is a folder or a .zip")
            found.append(read_submission(path))
        elif (path / "submission_metadata.yml").is_file():
            found.extend(_gradescope(path))
        elif _looks_like_submission(path):
            found.append(read_submission(path))
        elif any(p.is_file() and p.suffix in (".ipynb", ".py") for p in path.iterdir()):
            found.extend(_lms_flat(path))
        else:
            entries = sorted(p for p in path.iterdir() if p.is_dir() or p.suffix.lower() == ".zip")
            found.extend(read_submission(p) for p in entries if not p.name.startswith("."))
    if not found:
        raise SubmissionError("no submissions found in " + ", ".join(map(str, paths)))
    return _unique(found)


def _unique(submissions: list[Submission]) -> list[Submission]:
    """Give a repeated student id a numbered suffix, and say so in its problems."""
    seen: dict[str, int] = {}
    out = []
    for sub in submissions:
        count = seen.get(sub.student, 0)
        seen[sub.student] = count + 1
        if count:
            renamed = f"{sub.student}~{count + 1}"
            note = f"the id {sub.student} appears more than once; graded as {renamed}"
            sub = replace(sub, student=renamed, problems=(*sub.problems, note))
        out.append(sub)
    return out
