"""The quantities Section 1 asks for: what each is called, how students label it, its correct value.

The labels are regular expressions over the text as `parse` normalises it (LaTeX and unicode
made plain: ``x^{1}``, ``∂l/∂W^{2}``); the correct values are not in the package students
install: they come from the solution's `handcalc.toml` (`load_answers`, `with_answers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeAlias

from ..errors import ConfigError
from ..rubric import read_toml

__all__ = [
    "ANSWERS_FILE",
    "BACKWARD",
    "FORWARD",
    "OTHER_NAMES",
    "Expected",
    "Quantity",
    "load_answers",
    "render_value",
    "with_answers",
]

Expected: TypeAlias = "float | tuple[float, ...] | tuple[tuple[float, ...], ...]"


def render_value(value: object) -> str:
    """A value, a vector or a matrix as text: a number as written when it has its `text`, else
    to 5 significant digits: ``[0.43210, 0.45670]``."""
    if isinstance(value, tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    text = getattr(value, "text", None)
    return text if isinstance(text, str) else format(value, "#.5g")


@dataclass(frozen=True)
class Quantity:
    """One value Section 1 asks for: what it is called, how students label it, its correct value.

    The correct values are not part of this package (students install it for `grader check`):
    they come from the solution's `handcalc.toml` through `load_answers` and `with_answers`.
    """

    name: str  # stable id: "x1", "db2"
    label: str  # for people: "x⁽¹⁾", "∂l/∂b⁽²⁾"
    patterns: tuple[str, ...]  # regexes over the normalised text that name this quantity
    expected: Expected | None = None  # a float, a vector or a matrix (rows of the matrix)

    @property
    def expected_text(self) -> str:
        """The correct value to 5 significant digits: ``[0.43210, 0.45670]``."""
        return render_value(self.expected)


# ---------------------------------------------------------------- how students label each quantity

_IDX = r"(?:_\{[a-z]{1,2}\})?"  # W_k^{(1)}: an index letter is fine, W_{11} is an entry
_LOSS = r"(?:loss|l|L|J|E_\{total\}|E)"
_BARE = r"(?<![A-Za-z\\∂'])"


def _sym(letters: str, n: int) -> str:
    """``x^{1}``, ``x_{1}``, ``x(1)``, ``x1``, ``W_{k}^{1}``; not ``x^{1}_{2}``, an entry."""
    return rf"(?:{letters}){_IDX}(?:\^\{{{n}\}}|_\{{{n}\}}|\({n}\)|{n}){_IDX}(?![\w^_'])"


def _grad(letters: str, n: int) -> tuple[str, ...]:
    p = _sym(letters, n)
    return (
        rf"\(?\s*[∂d]\s*{_LOSS}\s*\)?\s*/\s*\(?\s*[∂d]\s*{p}\s*\)?",  # ∂l/∂W2, (∂ l)/(∂ W^{2})
        rf"[∇∂]\s*_\{{\s*{p}\s*\}}(?:\s*{_LOSS}(?![\w]))?",  # ∇_{W^{2}} l
        rf"(?<![A-Za-z\\])(?:d|Δ\s*){p}",  # dW2 (cs231n style), ΔW2 (the question's "update")
        rf"{p}\s+(?i:grad(?:ient)?)",
        rf"(?i:grad(?:ient)?s?\s+(?:of\s+(?:the\s+)?(?:loss|l)\s+)?(?:with\s+respect\s+to|w\.?r\.?t\.?|wrt|for|of|on)\s+(?:the\s+)?){p}",
    )


# Names of things that are not asked for (∂l/∂z2, dx2/dz2, ∂l/∂W_{11}): they end a subject.
OTHER_NAMES = (
    r"\(?\s*∂\s*[^\s/()=]{1,12}\s*\)?\s*/\s*\(?\s*∂\s*[^\s/()=,]{1,16}\s*\)?",
    r"(?<![A-Za-z\\])\(?d[A-Za-zŷσδ][^\s/()=,]{0,10}\)?\s*/\s*\(?d[A-Za-zŷσδ][^\s/()=,]{0,12}\)?",
)
_HIDDEN = r"(?i:hidden(?:[\s-]+layer)?(?:\s+(?:output|activation|value)s?)?|(?:output|activation)s?\s+of\s+(?:the\s+)?hidden(?:\s+layer)?)"  # noqa: E501
_LOSS_WORDS = r"(?i:\b(?:loss|cost)(?:\s+function)?\b)|\bMSE\b"
_OUTPUT = r"(?i:(?:final\s+)?output(?:\s+layer)?(?:\s+(?:output|activation|value))?|prediction)"

_X1 = (_BARE + _sym("x|a|h", 1), _BARE + r"h(?![\w^_'])", _HIDDEN)
_X2 = (_BARE + _sym("x|a", 2), r"ŷ|y_\{(?:hat|pred)\}|\byhat\b", _OUTPUT)
_L = (_BARE + r"[lLJ](?:\s*\([^()=\n]*\))?(?![\w'])", r"(?<![A-Za-z])E_\{total\}", _LOSS_WORDS)

FORWARD: tuple[Quantity, ...] = (
    Quantity("x1", "x⁽¹⁾", _X1),
    Quantity("x2", "x⁽²⁾", _X2),
    Quantity("loss", "l", _L),
)
"""Section 1.3.1, the forward pass: hidden activations, output, loss."""

BACKWARD: tuple[Quantity, ...] = (
    Quantity("dW2", "∂l/∂W⁽²⁾", _grad("W|w", 2)),
    Quantity("db2", "∂l/∂b⁽²⁾", _grad("b", 2)),
    Quantity("dW1", "∂l/∂W⁽¹⁾", _grad("W|w", 1)),
    Quantity("db1", "∂l/∂b⁽¹⁾", _grad("b", 1)),
)
"""Section 1.3.2, the backward pass: the gradients, each the shape of its parameter."""

ANSWERS_FILE = "handcalc.toml"
"""The correct values, in the solution folder: `generate` never carries it into the starter."""


def load_answers(path: Path) -> dict[str, Expected]:
    """The correct value of every Section 1 quantity, by name, from the solution's ANSWERS_FILE.

    A ConfigError names the file and the key when one is missing, unknown or not a number, a
    list of numbers or a list of equally long rows of numbers.
    """
    data = read_toml(path, "the correct Section 1 values")
    names = [q.name for q in FORWARD + BACKWARD]
    unknown, missing = sorted(set(data) - set(names)), [n for n in names if n not in data]
    if unknown or missing:
        problems = [f"unknown key(s) {', '.join(unknown)}"] * bool(unknown)
        problems += [f"missing {', '.join(missing)}"] * bool(missing)
        raise ConfigError(f"{path}: {'; '.join(problems)} (one key per quantity: {', '.join(names)})")
    return {name: _answer(data[name], f"{path}: {name}") for name in names}


def _answer(value: object, where: str) -> Expected:
    def number(v: object) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: {v!r} is not a number")
        return float(v)

    if not isinstance(value, list):
        return number(value)
    if value and all(isinstance(row, list) for row in value):
        if len({len(row) for row in value}) != 1:  # type: ignore[arg-type]
            raise ConfigError(f"{where}: the rows of a matrix must be equally long")
        return tuple(tuple(number(v) for v in row) for row in value)  # type: ignore[union-attr]
    if not value:
        raise ConfigError(f"{where}: an empty list is no value")
    return tuple(number(v) for v in value)


def with_answers(quantities: Sequence[Quantity], answers: Mapping[str, Expected]) -> tuple[Quantity, ...]:
    """`quantities` carrying their correct values from `answers` (as `load_answers` reads them)."""
    return tuple(replace(q, expected=answers[q.name]) for q in quantities)
