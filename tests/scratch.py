"""Folders for module and session fixtures that go when their scope ends.

pytest keeps `tmp_path_factory` folders until the session ends; the suite writes several
prepared CIFAR splits of 1.6 GB each, and CI's disk is shared with other work.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def scratch(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A fresh folder for a fixture, removed when the fixture ends: `with scratch(...) as folder`."""
    folder = tmp_path_factory.mktemp(name)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
