"""`grader demo`: grade the bundled example submissions on synthetic data.

It shows the whole pipeline on a fresh machine without the real CIFAR-10: a
synthetic data set in the CIFAR-10 format (the realistic profile, which the
reference learns from as from the real set) is written to the cache (once), the
examples are made from the reference and the starter, and the class is graded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .datasets.synth import cached_synthetic_cifar
from .examples import load_examples, materialize_examples
from .grading import BatchResult, grade_batch, open_course
from .project import Project, cache_dir

__all__ = ["run_demo"]


def run_demo(
    project: Project,
    out: Path,
    *,
    jobs: int = 2,
    force: bool = False,
    profile: str = "realistic",
    cache: Path | None = None,
    progress: Callable[..., None] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[BatchResult, dict[str, str]]:
    """Grade the examples into `out`, on the synthetic data of `profile`; the batch and each
    example's description."""
    cache = cache or cache_dir()
    data = cached_synthetic_cifar(cache, profile, log=log)
    course = open_course(project.solutions, project.assignment, cifar_dir=data, cache=cache)
    manifest = project.examples / "examples.toml"
    folders = materialize_examples(
        manifest,
        {"solutions": project.solutions, "assignment": project.assignment},
        out / ".examples",
        notebook=course.rubric.notebook,
        module=course.rubric.module,
    )
    batch = grade_batch(folders, out, course, jobs=jobs, force=force, progress=progress, log=log)
    return batch, {e.id: e.description for e in load_examples(manifest)}
