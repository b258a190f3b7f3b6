"""The checks: each turns harvested values into a CheckResult.

One module per family, in the order of the homework: `answers` (Section 1 by hand,
the free-text questions), `toy` (the toy model, public and hidden), `cifar` (the
untuned and tuned networks, the test set), `bonus` (softmax), `integrity`. The
rubric says which run and what they are worth; `run_checks` runs them.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping

from ..errors import ConfigError
from ..evidence import Evidence
from ..results import CheckResult
from ..rubric import Rubric
from . import answers, bonus, cifar, integrity, toy
from .base import CheckFn, Context, Item, outcome
from .families import FAMILIES, family_of

__all__ = ["CHECKS", "Context", "run_checks", "validate_rubric"]

CHECKS: Mapping[str, CheckFn] = {
    **answers.CHECKS,
    **toy.CHECKS,
    **cifar.CHECKS,
    **bonus.CHECKS,
    **integrity.CHECKS,
}


def validate_rubric(rubric: Rubric) -> None:
    """Every check has a rubric entry, every rubric entry is a check, and each is of a family
    (`checks.families`, where the report shows it); else ConfigError."""
    listed = {spec.id for spec in rubric.checks}
    unknown, missing = listed - CHECKS.keys(), CHECKS.keys() - listed
    known_families = [f.key for f in FAMILIES]
    homeless = sorted(i for i in listed if family_of(i) not in known_families)
    if unknown or missing or homeless:
        parts = [
            f"unknown check(s) {', '.join(sorted(unknown))}" if unknown else "",
            f"no entry for {', '.join(sorted(missing))}" if missing else "",
            f"no family for {', '.join(homeless)} (an id starts with one of {', '.join(known_families)})"
            if homeless
            else "",
        ]
        raise ConfigError(f"{rubric.source}: " + "; ".join(p for p in parts if p))


def run_checks(evidence: Evidence, context: Context, *, public_only: bool = False) -> tuple[CheckResult, ...]:
    """Every check of the rubric, in its order (only the public ones if asked).

    A bug in a check must not cost a student the rest of their grade: it becomes an
    `error` result that says so, with the traceback for the maintainers.
    """
    results = []
    for spec in context.rubric.checks:
        if public_only and not spec.public:
            continue
        try:
            results.append(CHECKS[spec.id](spec, evidence, context))
        except Exception as exc:
            item = Item("internal error", False, note=traceback.format_exc()[-4000:])
            message = f"internal grader error ({type(exc).__name__}: {exc}); please report it"
            results.append(outcome(spec, [item], message, status="error", fraction=0.0))
    return tuple(results)
