"""Where things are: the course folders of a checkout, the cache, the templates.

A checkout of this repository holds `solutions/`, `assignment/` and `examples/` side
by side; commands find them from the current folder upward, else next to the
installed package (an editable install). Templates and the public starter ship
inside the package of an installed wheel and sit at the top of a checkout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

__all__ = ["Project", "cache_dir", "default_cifar_dir", "find_project", "starter_dir", "templates_dir"]

_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Project:
    """A checkout of the exercise package."""

    root: Path

    @property
    def solutions(self) -> Path:
        """The reference solution and the rubric (instructors only)."""
        return self.root / "solutions"

    @property
    def assignment(self) -> Path:
        """The generated student starter."""
        return self.root / "assignment"

    @property
    def examples(self) -> Path:
        """The demo submissions' manifest."""
        return self.root / "examples"


def find_project(start: Path | None = None) -> Project:
    """The checkout containing `start` (default: the current folder) or this package."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, _PACKAGE.parent):
        if (folder / "solutions" / "rubric.toml").is_file():
            return Project(folder)
    raise ConfigError(
        f"{here}: not inside a checkout of the exercise package (no solutions/rubric.toml above it); "
        "run from the repository, or pass the folders explicitly (--solution, --assignment)"
    )


def cache_dir() -> Path:
    """Where prepared data splits and the synthetic data set are kept between runs."""
    configured = os.environ.get("GRADER_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cs145-grader"


def default_cifar_dir() -> Path | None:
    """The CIFAR-10 data an instructor configured once (`$GRADER_CIFAR_DIR`), if any."""
    configured = os.environ.get("GRADER_CIFAR_DIR")
    return Path(configured) if configured else None


def starter_dir() -> Path:
    """The official starter (public: no solution in it) for a student's self-check:
    inside an installed wheel, else `assignment/` of the checkout."""
    for folder in (_PACKAGE / "starter", _PACKAGE.parent / "assignment"):
        if (folder / "rubric.toml").is_file():
            return folder
    raise ConfigError(f"no starter next to {_PACKAGE}; pass --assignment DIR (the starter folder)")


def templates_dir() -> Path:
    """The Jinja2 templates: inside an installed wheel, else at the top of the checkout."""
    for folder in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if folder.is_dir():
            return folder
    raise ConfigError(f"no templates folder next to {_PACKAGE}; reinstall the package")
