"""The rubric: the accuracy multiplier at its edges, the real rubric.toml, and malformed rubrics."""

from __future__ import annotations

import math
from dataclasses import fields
from fractions import Fraction
from pathlib import Path

import pytest

from grader.checks import CHECKS, validate_rubric
from grader.errors import ConfigError
from grader.rubric import AccuracyRule, LimitOverrides, SubmissionLimits, load_rubric

REPO = Path(__file__).resolve().parents[1]
RUBRIC = REPO / "solutions" / "rubric.toml"
RULE = AccuracyRule()  # the seed's constants: offset 23%, span 22%


def exact_multiplier(correct: int, total: int, offset: int = 23, span: int = 22) -> Fraction:
    """The seed's min(floor(X - 23%) / 22%, 1), floored at 0, in integers only.

    floor(100 * correct / total - offset) == (100 * correct - offset * total) // total.
    """
    steps = (100 * correct - offset * total) // total
    return min(max(Fraction(steps, span), Fraction(0)), Fraction(1))


# ---------------------------------------------------------------- the accuracy rule


@pytest.mark.parametrize(
    ("correct", "expected"),
    [
        pytest.param(0, Fraction(0), id="0.0%"),
        pytest.param(229, Fraction(0), id="22.9%-below-offset"),
        pytest.param(230, Fraction(0), id="23.0%-at-offset"),
        # floor(23.1 - 23) = floor(0.1) = 0: the first step is earned at 24%.
        pytest.param(231, Fraction(0), id="23.1%-less-than-a-step"),
        pytest.param(239, Fraction(0), id="23.9%"),
        pytest.param(240, Fraction(1, 22), id="24.0%-first-step"),
        pytest.param(290, Fraction(6, 22), id="29.0%-float-trap"),
        pytest.param(570, Fraction(1), id="57.0%-capped"),
        pytest.param(449, Fraction(21, 22), id="44.9%"),
        pytest.param(450, Fraction(1), id="45.0%-full-credit"),
        pytest.param(500, Fraction(1), id="50.0%-capped"),
        pytest.param(1000, Fraction(1), id="100%"),
    ],
)
def test_multiplier_at_its_edges_with_1000_images(correct: int, expected: Fraction) -> None:
    value = RULE.multiplier(correct, 1000)
    assert isinstance(value, Fraction)
    assert value == expected


def test_the_floating_point_trap_is_avoided() -> None:
    # 290 of 1000 right is 29%: six steps above 23%. In floating point 0.29 * 100 is just below 29.
    assert 0.29 * 100 == 28.999999999999996
    assert math.floor(0.29 * 100 - 23) == 5  # what a naive float computation would give
    assert RULE.multiplier(290, 1000) == Fraction(6, 22)
    # Every other whole percentage that float rounds down is safe as well.
    trapped = [c for c in range(0, 1001, 10) if math.floor(c / 1000 * 100) != c // 10]
    assert trapped  # 290, 570, 580, ... exist
    for correct in trapped:
        assert RULE.multiplier(correct, 1000) == exact_multiplier(correct, 1000)


@pytest.mark.parametrize(
    ("correct", "total", "expected"),
    [
        pytest.param(289, 999, Fraction(5, 22), id="289/999=28.93%"),
        pytest.param(290, 999, Fraction(6, 22), id="290/999=29.03%"),
        pytest.param(230, 999, Fraction(0), id="230/999=23.02%"),
        pytest.param(240, 999, Fraction(1, 22), id="240/999=24.02%"),
        pytest.param(449, 999, Fraction(21, 22), id="449/999=44.94%"),
        pytest.param(450, 999, Fraction(1), id="450/999=45.05%"),
        pytest.param(0, 3, Fraction(0), id="0/3"),
        pytest.param(1, 3, Fraction(10, 22), id="1/3=33.3%"),
        pytest.param(2, 3, Fraction(1), id="2/3=66.7%"),
        pytest.param(3, 3, Fraction(1), id="3/3"),
        pytest.param(0, 0, Fraction(0), id="no-images"),
    ],
)
def test_multiplier_with_other_totals(correct: int, total: int, expected: Fraction) -> None:
    assert RULE.multiplier(correct, total) == expected


@pytest.mark.parametrize("total", [1, 3, 7, 999, 1000, 1001])
def test_multiplier_matches_integer_arithmetic_for_every_count(total: int) -> None:
    got = [RULE.multiplier(c, total) for c in range(total + 1)]
    assert got == [exact_multiplier(c, total) for c in range(total + 1)]
    assert got == sorted(got)  # more right answers never earn less


def test_multiplier_with_other_constants() -> None:
    rule = AccuracyRule(offset_percent=Fraction(30), span_percent=Fraction(10))
    assert rule.multiplier(350, 1000) == Fraction(1, 2)
    assert rule.multiplier(399, 1000) == Fraction(9, 10)
    assert rule.multiplier(400, 1000) == 1
    half = AccuracyRule(offset_percent=Fraction(47, 2))  # 23.5%
    assert half.multiplier(240, 1000) == 0  # floor(0.5) = 0
    assert half.multiplier(245, 1000) == Fraction(1, 22)


# ---------------------------------------------------------------- the real rubric


def test_real_rubric_loads() -> None:
    rubric = load_rubric(RUBRIC)
    assert rubric.source == RUBRIC
    assert (rubric.notebook, rubric.module) == ("toy_nn.ipynb", "hw3code/neural_net.py")
    assert rubric.accuracy == AccuracyRule(Fraction(23), Fraction(22), 50)
    assert rubric.limits == SubmissionLimits(2400.0, 900.0, 300.0, 8192, 256)
    assert rubric.max_score == 100
    assert sum(s.points for s in rubric.checks if not s.bonus) == 100
    assert [s.id for s in rubric.checks if s.bonus] == ["bonus.softmax"]
    assert rubric.check("cifar.tuned").points == 25
    assert all(s.manual for s in rubric.checks if s.id.startswith("questions."))


def test_every_check_of_the_real_rubric_is_implemented() -> None:
    rubric = load_rubric(RUBRIC)
    validate_rubric(rubric)  # raises ConfigError otherwise
    assert {s.id for s in rubric.checks} == set(CHECKS)


def test_validate_rubric_names_unknown_and_missing_checks(tmp_path: Path) -> None:
    text = RUBRIC.read_text(encoding="utf-8")
    text = text.replace('[checks."toy.loss"]', '[checks."toy.los"]')
    path = tmp_path / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        validate_rubric(load_rubric(path))
    assert str(caught.value) == f"{path}: unknown check(s) toy.los; no entry for toy.loss"


def test_a_check_of_no_family_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check must show somewhere: one whose id names no family would count in the total and be
    missing from every report."""
    monkeypatch.setitem(CHECKS, "speed.fast", CHECKS["toy.loss"])
    path = tmp_path / "rubric.toml"
    path.write_text(RUBRIC.read_text(encoding="utf-8") + '\n[checks."speed.fast"]\nname = "Fast"\npoints = 1\n')
    with pytest.raises(ConfigError) as caught:
        validate_rubric(load_rubric(path))
    assert str(caught.value) == (
        f"{path}: no family for speed.fast (an id starts with one of handcalc, toy, cifar, bonus, questions, integrity)"
    )


def test_the_starter_carries_the_same_rubric() -> None:
    assert load_rubric(REPO / "assignment" / "rubric.toml").checks == load_rubric(RUBRIC).checks


# ---------------------------------------------------------------- malformed rubrics

MINIMAL = """\
[assignment]
title = "HW3"
notebook = "toy_nn.ipynb"
module = "hw3code/neural_net.py"

[limits]
timeout = 600

[accuracy]
offset_percent = 23
span_percent = 22

[checks."toy.scores"]
name = "Toy scores"
points = 4
tolerance = 1e-7
visibility = "visible"
"""


def test_minimal_rubric_loads(tmp_path: Path) -> None:
    path = tmp_path / "rubric.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    rubric = load_rubric(path)
    (spec,) = rubric.checks
    assert (spec.id, spec.points, spec.tolerance, spec.visibility) == (
        "toy.scores",
        4.0,
        1e-7,
        "visible",
    )
    assert rubric.limits.timeout == 600 and rubric.limits.cell_timeout == SubmissionLimits().cell_timeout


MALFORMED = [
    pytest.param(
        MINIMAL + "\n[grading]\nfast = true\n",
        ["unknown section(s) grading"],
        id="unknown-section",
    ),
    pytest.param(
        MINIMAL.replace("tolerance = 1e-7", "tolerence = 1e-7"),
        ['[checks."toy.scores"]', "unknown setting 'tolerence'"],
        id="unknown-key-in-check",
    ),
    pytest.param(
        MINIMAL.replace("timeout = 600", "timeout = 600\ntimout = 5"),
        ["[limits]", "unknown setting 'timout'"],
        id="unknown-key-in-limits",
    ),
    pytest.param(
        MINIMAL.replace("points = 4", 'points = "four"'),
        ['[checks."toy.scores"]', "points must be a number, not 'four'"],
        id="points-not-a-number",
    ),
    pytest.param(
        MINIMAL.replace("points = 4", "points = true"),
        ['[checks."toy.scores"]', "points must be a number, not True"],
        id="points-a-boolean",
    ),
    pytest.param(
        MINIMAL.replace("points = 4", "points = -4"),
        ['[checks."toy.scores"]', "points must not be negative"],
        id="negative-points",
    ),
    pytest.param(
        MINIMAL.replace('visibility = "visible"', 'visibility = "public"'),
        ['[checks."toy.scores"]', "visibility must be one of visible, after_due_date"],
        id="bad-visibility",
    ),
    pytest.param(
        MINIMAL.replace('visibility = "visible"', "public = 1"),
        ['[checks."toy.scores"]', "public must be true or false, not 1"],
        id="flag-not-a-boolean",
    ),
    pytest.param(
        MINIMAL.replace("points = 4", "tolerance_x = 1"),
        ['[checks."toy.scores"] needs at least name and points'],
        id="check-without-points",
    ),
    pytest.param(
        MINIMAL + '\n[checks]\n"toy.loss" = 4\n',
        ['[checks."toy.loss"] needs at least name and points'],
        id="check-not-a-table",
    ),
    pytest.param(
        MINIMAL.replace('notebook = "toy_nn.ipynb"\n', ""),
        ['[assignment] needs notebook = "..."'],
        id="missing-notebook",
    ),
    pytest.param(
        MINIMAL.replace('notebook = "toy_nn.ipynb"', "notebook = 3"),
        ['[assignment] needs notebook = "..."'],
        id="notebook-not-text",
    ),
    pytest.param(
        MINIMAL.replace("[limits]\ntimeout = 600", "[limits]\nmemory_mb = 1.5"),
        ["[limits]", "memory_mb must be a whole number, not 1.5"],
        id="fractional-memory",
    ),
    pytest.param(
        MINIMAL.replace("span_percent = 22", "span_percent = 0"),
        ["[accuracy] span_percent must be positive"],
        id="zero-span",
    ),
    pytest.param(
        MINIMAL.replace("title = ", "title == "),
        ["not valid TOML"],
        id="invalid-toml",
    ),
    pytest.param(
        "limits = 5\n" + MINIMAL.replace("[limits]\ntimeout = 600\n", ""),
        ["limits", "table"],
        id="limits-not-a-table",
    ),
    pytest.param(
        'checks = ["toy.scores"]\n' + MINIMAL.split('[checks."toy.scores"]')[0],
        ["checks", "table"],
        id="checks-not-a-table",
    ),
    pytest.param(
        'assignment = "HW3"\n' + MINIMAL[MINIMAL.index("[limits]") :],
        ["assignment", "table"],
        id="assignment-not-a-table",
    ),
]


@pytest.mark.parametrize(("text", "words"), MALFORMED)
def test_malformed_rubric_names_file_and_key(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rubric(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message


def test_missing_rubric_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the rubric"):
        load_rubric(tmp_path / "rubric.toml")


def test_unknown_check_lookup_names_the_rubric() -> None:
    rubric = load_rubric(RUBRIC)
    with pytest.raises(ConfigError) as caught:
        rubric.check("toy.nothing")
    assert str(caught.value) == f'{RUBRIC}: no [checks."toy.nothing"] section'


# ---------------------------------------------------------------- limits


def test_with_limits_overrides_only_what_is_given() -> None:
    rubric = load_rubric(RUBRIC)
    faster = rubric.with_limits(timeout=5)
    assert faster.limits.timeout == 5
    assert faster.limits == SubmissionLimits(5, 900.0, 300.0, 8192, 256)
    assert faster.checks == rubric.checks and faster.accuracy == rubric.accuracy
    assert rubric.limits.timeout == 2400  # the original is unchanged


def test_the_limits_the_command_line_overrides_are_the_rubrics() -> None:
    assert set(LimitOverrides.__annotations__) == {f.name for f in fields(SubmissionLimits)}


def test_with_limits_ignores_none() -> None:
    rubric = load_rubric(RUBRIC)
    assert rubric.with_limits(timeout=None) == rubric
    both = rubric.with_limits(timeout=None, memory_mb=1024, cell_timeout=None)
    assert both.limits == SubmissionLimits(2400.0, 900.0, 300.0, 1024, 256)
