"""A submission as intake hands it on, the homework's file names it is read for (`Homework`, from
the rubric), and how its notebook and module are chosen among its files."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..errors import SubmissionError

if TYPE_CHECKING:
    from ..rubric import Rubric

HOMEWORK = (".ipynb", ".py")  # the kinds of file a submission is graded from
_SAFE_ID = re.compile(r"[^\w.@+-]+")  # \w: letters of any script are safe in folder names


@dataclass(frozen=True)
class Homework:
    """The names of the files a submission is graded from, as the rubric gives them."""

    notebook: str  # the notebook's file name (`Rubric.notebook`)
    module: str  # the student's module, relative to the submission (`Rubric.module`)

    @classmethod
    def of(cls, rubric: Rubric) -> Homework:
        """The file names `rubric` grades."""
        return cls(rubric.notebook, rubric.module)

    @property
    def notebook_stem(self) -> str:
        """The notebook's name without `.ipynb`, which a copy's name begins with (`toy_nn-Copy1.ipynb`)."""
        return PurePosixPath(self.notebook).stem

    @property
    def module_folder(self) -> str:
        """The module's folder with a trailing `/` (`hw3code/`), or "" for a module at the top."""
        parent = PurePosixPath(self.module).parent.as_posix()
        return "" if parent == "." else parent + "/"

    @property
    def module_pattern(self) -> re.Pattern[str]:
        """A path ending in the module or a copy of it (`neural_net.py`, `neural_net-1.py`,
        `neural_net (1).py`, `hw3_neural_net.py`)."""
        module = PurePosixPath(self.module)
        return re.compile(rf"(^|[/_]){re.escape(module.stem)}(-\d+|\s*\(\d+\))?{re.escape(module.suffix)}$")


# The names of assignment/rubric.toml, for a caller that names none (a script, the tests).
ASSIGNMENT = Homework("toy_nn.ipynb", "hw3code/neural_net.py")


@dataclass(frozen=True)
class Member:
    """One student a group submission is graded for."""

    student: str  # safe as a folder name
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Submission:
    """One student's (or one group's) files, as read from disk, and what is wrong with them."""

    student: str  # safe as a folder name
    source: Path  # where it came from
    notebook: bytes | None = None
    notebook_name: str = ""  # as the student named it
    module: bytes | None = None
    problems: tuple[str, ...] = ()
    # Who it is and which upload: e.g. Gradescope's name, email, group and submission id, the
    # Canvas name and `late`, the Blackboard attempt graded; each becomes a gradebook column.
    names: Mapping[str, str] = field(default_factory=dict)
    # A group submission's members, `student` first: it is graded once and the result is each one's.
    members: tuple[Member, ...] = ()

    @property
    def graded_for(self) -> tuple[Member, ...]:
        """Everyone this submission's result is written for: its members, or its one student."""
        return self.members or (Member(self.student, self.names),)


def safe_id(raw: str) -> str:
    """`raw` (a name, an SID, an LMS id) made safe as a folder name in OUT, and never one of OUT's class files."""
    cleaned = _SAFE_ID.sub("_", raw.strip()).strip("._")
    if cleaned.lower().endswith((".html", ".csv")):  # OUT/<id> beside OUT/index.html, gradebook.csv ...
        cleaned = cleaned.replace(".", "_")
    return cleaned or "unnamed"


def _pick(
    files: Mapping[str, bytes], source: Path, student: str, homework: Homework, names: Mapping[str, str]
) -> Submission:
    """Choose the notebook and the module among a submission's files."""
    problems: list[str] = []
    notebooks = sorted(n for n in files if n.lower().endswith(".ipynb") and ".ipynb_checkpoints" not in n)
    preferred = [n for n in notebooks if homework.notebook_stem in PurePosixPath(n).name]
    # `toy_nn.ipynb` itself, nearest the top, before copies such as `toy_nn-Copy1.ipynb`,
    # `toy_nn (1).ipynb` or `old/toy_nn.ipynb`, which sort before it by name.
    exact = PurePosixPath(homework.notebook).name
    preferred.sort(key=lambda n: (PurePosixPath(n).name != exact, n.count("/"), n))
    notebook_name = ""
    if preferred or len(notebooks) == 1:
        notebook_name = (preferred or notebooks)[0]
        if len(notebooks) > 1:
            others = ", ".join(n for n in notebooks if n != notebook_name)
            problems.append(f"several notebooks; graded {notebook_name} (ignored {others})")
    elif notebooks:
        problems.append(f"several notebooks and none named {exact}: {', '.join(notebooks)}")
    else:
        problems.append(f"no notebook ({exact}) in the submission")
    # hw3code/neural_net.py first, and the plain name before duplicates such as `neural_net (1).py`.
    module_name = PurePosixPath(homework.module).name
    modules = sorted(
        (n for n in files if homework.module_pattern.search(n)),
        key=lambda n: (homework.module_folder not in n, PurePosixPath(n).name != module_name, n),
    )
    if not modules:
        problems.append(f"no {homework.module} in the submission")
    elif len(modules) > 1:
        problems.append(f"several {module_name} files; graded {modules[0]}")
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


def with_problems(sub: Submission, problems: Iterable[str]) -> Submission:
    """`sub` with `problems` (what could not be read) before its own (what is therefore missing)."""
    problems = tuple(problems)
    return replace(sub, problems=(*problems, *sub.problems)) if problems else sub


def from_files(
    files: Mapping[str, bytes | SubmissionError],
    source: Path,
    student: str,
    homework: Homework,
    names: Mapping[str, str] | None = None,
) -> Submission:
    """The submission of `files`: the notebook and module picked, each file that could not be read a problem."""
    readable = {n: data for n, data in files.items() if isinstance(data, bytes)}
    unreadable = [str(data) for data in files.values() if isinstance(data, SubmissionError)]
    return with_problems(_pick(readable, source, safe_id(student), homework, names or {}), unreadable)


def not_graded(entry: str, source: Path, problem: str) -> Submission:
    """An entry that is no submission (a loose file, a link): a row with no files and `problem`, not a silent drop."""
    return Submission(safe_id(entry), source, problems=(problem,))


def own_name(name: str, homework: Homework) -> bool:
    """A homework file named by the student (`toy_nn*.ipynb`, `neural_net*.py`), not by an LMS."""
    return name.startswith(homework.notebook_stem) or bool(homework.module_pattern.match(name))
