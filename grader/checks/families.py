"""The check families: a check's id starts with its family (`toy.loss.hidden` is a `toy` check).

A family is where a check shows: its section of `report.html`, its column of the table
`grader grade` prints. This is the one list of them; `validate_rubric` refuses a check of
no family, so that none can count in a total without showing in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAMILIES", "Family", "family_of"]


@dataclass(frozen=True)
class Family:
    """One family of checks, in the order of the homework."""

    key: str  # the first part of its checks' ids
    title: str  # its section's heading in the report
    column: bool = True  # a column of the grade table (integrity findings are listed instead)


FAMILIES: tuple[Family, ...] = (
    Family("handcalc", "Section 1: backprop by hand"),
    Family("toy", "Toy model"),
    Family("cifar", "CIFAR-10"),
    Family("bonus", "Bonus"),
    Family("questions", "Questions (graded by a TA)"),
    Family("integrity", "Integrity", column=False),
)


def family_of(check_id: str) -> str:
    """The family key of a check id: `toy` for `toy.loss.hidden`."""
    return check_id.split(".")[0]
