"""The rubric: `rubric.toml` read into frozen, validated values.

Every setting that an instructor may change lives in the rubric file, documented
there; the grader's code only holds what a course cannot change (the checks
themselves and the public values the notebook prints).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib
if TYPE_CHECKING:  # typing.Unpack is 3.11's; a type checker reads this, the program never does
    from typing_extensions import Unpack

__all__ = [
    "AccuracyRule",
    "CheckSpec",
    "LimitOverrides",
    "Rubric",
    "SubmissionLimits",
    "load_rubric",
    "read_toml",
]

VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


@dataclass(frozen=True)
class CheckSpec:
    """How one check counts: its points, tolerance and who sees it."""

    id: str
    name: str
    points: float
    tolerance: float = 0.0  # its meaning is documented per check in rubric.toml
    visibility: str = "visible"  # Gradescope's test visibility
    public: bool = False  # runs in `grader check`; its expected values may be shown
    bonus: bool = False  # counts in the score, not in the maximum
    manual: bool = False  # scored by a TA through a manual-scores file


@dataclass(frozen=True)
class AccuracyRule:
    """cifar.tuned earns `points * min(floor(X - offset) / span, 1)`, floored at 0."""

    offset_percent: Fraction = Fraction(23)
    span_percent: Fraction = Fraction(22)
    hidden_size: int = 50

    def multiplier(self, correct: int, total: int) -> Fraction:
        """The rubric multiplier for `correct` right answers out of `total`.

        Computed from the integer counts: in floating point 0.29 * 100 is
        28.999999999999996, and a naive floor would take a point from that student.
        """
        if total <= 0:
            return Fraction(0)
        above = Fraction(100 * correct, total) - self.offset_percent
        steps = above.numerator // above.denominator  # exact floor, also below zero
        return min(max(Fraction(steps) / self.span_percent, Fraction(0)), Fraction(1))


@dataclass(frozen=True)
class SubmissionLimits:
    """Resource limits of one submission's sandboxed run."""

    timeout: float = 2400.0  # seconds for the whole submission
    cell_timeout: float = 900.0  # seconds for one notebook cell
    probe_timeout: float = 300.0  # seconds for the module probes
    memory_mb: int = 8192  # address space per process
    max_processes: int = 256  # processes and threads of one submission
    disk_mb: int = 4096  # all the files one submission's run may write


class LimitOverrides(TypedDict, total=False):
    """Limits given on the command line, by the name of a `SubmissionLimits` field; None: the
    rubric's (a test keeps the two lists of names equal)."""

    timeout: float | None
    cell_timeout: float | None
    probe_timeout: float | None
    memory_mb: int | None
    max_processes: int | None
    disk_mb: int | None


@dataclass(frozen=True)
class Rubric:
    """The whole rubric: what the assignment is, how each check counts, the limits."""

    title: str
    notebook: str  # the notebook's file name in a submission
    module: str  # the student's module, relative to the submission
    accuracy: AccuracyRule
    limits: SubmissionLimits
    checks: tuple[CheckSpec, ...]
    source: Path | None = None

    def check(self, check_id: str) -> CheckSpec:
        """The spec of `check_id`; a ConfigError names the rubric when it has none."""
        for spec in self.checks:
            if spec.id == check_id:
                return spec
        raise ConfigError(f'{self.source or "rubric"}: no [checks."{check_id}"] section')

    @property
    def max_score(self) -> float:
        """Points available without bonus."""
        return sum(spec.points for spec in self.checks if not spec.bonus)

    def with_limits(self, **overrides: Unpack[LimitOverrides]) -> Rubric:
        """A copy with some limits replaced (None values are ignored); ConfigError for an
        unknown limit or one that is not positive."""
        given = {k: v for k, v in overrides.items() if v is not None}
        known = {f.name for f in fields(SubmissionLimits)}
        for key, value in given.items():
            if key not in known:
                raise ConfigError(f"unknown limit {key!r}; known: {', '.join(sorted(known))}")
            if not value > 0:
                raise ConfigError(f"the limit {key} must be positive, not {value!r}")
        return replace(self, limits=replace(self.limits, **given))


def _typed(table: Mapping[str, Any], cls: type, where: str, extra: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    values = dict(extra)
    for key, value in table.items():
        if key not in known or key in extra:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
        kind = known[key].type  # a string under `from __future__ import annotations`
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: {key} must be true or false, not {value!r}")
        elif kind in ("int", "float", "Fraction"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}: {key} must be a number, not {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{where}: {key} must not be negative, NaN or infinite")
            if value == 0 and cls is SubmissionLimits:
                raise ConfigError(f"{where}: {key} must be positive")
            if kind == "Fraction":
                value = Fraction(str(value))
            elif kind == "int":
                if value != int(value):
                    raise ConfigError(f"{where}: {key} must be a whole number, not {value!r}")
                value = int(value)
            else:
                value = float(value)
        elif not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be text, not {value!r}")
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML file at `path`, which holds `what`; a ConfigError names the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def load_rubric(path: Path) -> Rubric:
    """Read and validate the rubric at `path`; a ConfigError names the file and the key."""
    data = read_toml(path, "the rubric")
    unknown = set(data) - {"assignment", "limits", "accuracy", "checks"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
    # `limits = 5` is valid TOML; without this it would fail below as an AttributeError.
    for section, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {section} must be a table ([{section}]), not {value!r}")
    assignment = data.get("assignment", {})
    for key in ("title", "notebook", "module"):
        if not isinstance(assignment.get(key), str):
            raise ConfigError(f'{path}: [assignment] needs {key} = "..."')
    unknown_keys = set(assignment) - {"title", "notebook", "module"}
    if unknown_keys:
        raise ConfigError(f"{path}: [assignment]: unknown setting(s) {', '.join(sorted(unknown_keys))}")
    checks = []
    for check_id, table in data.get("checks", {}).items():
        where = f'{path}: [checks."{check_id}"]'
        if not isinstance(table, dict) or "points" not in table or "name" not in table:
            raise ConfigError(f"{where} needs at least name and points")
        spec = _typed(table, CheckSpec, where, {"id": check_id})
        if spec.visibility not in VISIBILITIES:
            raise ConfigError(f"{where}: visibility must be one of {', '.join(VISIBILITIES)}")
        checks.append(spec)
    accuracy = _typed(data.get("accuracy", {}), AccuracyRule, f"{path}: [accuracy]", {})
    if accuracy.span_percent <= 0:
        raise ConfigError(f"{path}: [accuracy] span_percent must be positive")
    return Rubric(
        title=assignment["title"],
        notebook=assignment["notebook"],
        module=assignment["module"],
        accuracy=accuracy,
        limits=_typed(data.get("limits", {}), SubmissionLimits, f"{path}: [limits]", {}),
        checks=tuple(checks),
        source=path,
    )
