"""The autograder's places: where Gradescope puts things in its container, and what the zip carries.

Gradescope's specification fixes the container's tree: the zip is unpacked into
`/autograder/source`, the student's files are in `/autograder/submission`, their
metadata in `/autograder/submission_metadata.json`, and the results must be written to
`/autograder/results/results.json`. The root can be moved with `AUTOGRADER_ROOT`
(the tests run a simulated tree). `AutograderConfig` is what `grader gradescope build`
decided and the container needs: it travels in the zip as `autograder.json`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..errors import ConfigError
from ..fsutil import atomic_write_text

__all__ = ["CONFIG_FILE", "AutograderConfig", "ContainerPaths", "autograder_root"]

CONFIG_FILE = "autograder.json"
CONFIG_VERSION = 1
# Folders of the zip (so of /autograder/source):
SOLUTIONS = "solutions"  # the reference and the rubric
STARTER = "assignment"  # the official starter
REFERENCE = "reference"  # the reference's run at build time (OUT/.reference)
GRADER_SOURCE = "grader-src"  # the grader itself, which setup.sh installs with pip
DATA = "data"  # data/cifar-10-batches-py, when the zip carries the data set


def autograder_root() -> Path:
    """The container's root: `$AUTOGRADER_ROOT`, else Gradescope's `/autograder`."""
    return Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder")


@dataclass(frozen=True)
class ContainerPaths:
    """The files of one Gradescope run, under `root`."""

    root: Path

    @property
    def source(self) -> Path:
        """The unpacked autograder zip."""
        return self.root / "source"

    @property
    def submission(self) -> Path:
        """The student's files, as Gradescope downloaded them."""
        return self.root / "submission"

    @property
    def metadata(self) -> Path:
        """Who submitted, when, for which assignment."""
        return self.root / "submission_metadata.json"

    @property
    def results(self) -> Path:
        """What Gradescope reads back."""
        return self.root / "results" / "results.json"

    @property
    def work(self) -> Path:
        """The grader's own output folder (OUT of `grader grade`): the report, the log, the run."""
        return self.root / "grading"

    @property
    def data(self) -> Path:
        """The CIFAR-10 batches: in the zip, or fetched there by setup.sh."""
        return self.source / DATA / "cifar-10-batches-py"


@dataclass(frozen=True)
class AutograderConfig:
    """The settings `grader gradescope build` chose, read back in the container."""

    data: Literal["packed", "fetch"]  # the zip carries the data set, or setup.sh downloads it
    data_url: str  # with "fetch": where from
    data_md5: str  # with "fetch": what the download must hash to
    data_fingerprint: str  # of the batches the reference ran on at build time
    isolation: Literal["auto", "bwrap"]  # bwrap: refuse to grade without the sandbox
    timeout: float  # seconds for the student's whole run: Gradescope's limit less the grader's own time
    min_memory_mb: int  # below this the container is refused with a message, not killed midway
    gradescope_timeout_minutes: int  # what the instructor must set in Gradescope's settings
    version: int = CONFIG_VERSION

    def write(self, path: Path) -> None:
        """Write `autograder.json` atomically."""
        atomic_write_text(path, json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read(cls, path: Path) -> AutograderConfig:
        """Read `autograder.json`; ConfigError naming it when it is missing or of another version."""
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            if values.get("version") != CONFIG_VERSION:
                raise ValueError(f"version {values.get('version')!r}, this grader reads {CONFIG_VERSION}")
            return cls(**values)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"{path}: not this grader's autograder settings ({exc}); rebuild the zip with `grader gradescope build`"
            ) from exc
