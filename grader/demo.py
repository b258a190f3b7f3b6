"""`grader demo`: grade the bundled example submissions on synthetic data.

It shows the whole pipeline on a fresh machine without the real CIFAR-10: a
synthetic data set in the CIFAR-10 format is written to the cache (once), the
examples are made from the reference and the starter, and the class is graded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .datasets.cifar import BATCH_FILES
from .datasets.synth import write_synthetic_cifar
from .examples import load_examples, materialize_examples
from .grading import BatchResult, grade_batch, open_course
from .project import Project, cache_dir

__all__ = ["run_demo", "synthetic_data"]


def synthetic_data(cache: Path, log: Callable[[str], None] = print) -> Path:
    """The demo's synthetic data set in `cache`, written the first time it is needed."""
    folder = cache / "synthetic" / "cifar-10-batches-py"
    if not all((folder / name).is_file() for name in BATCH_FILES):
        log(f"writing a synthetic CIFAR-10 data set to {folder.parent} (once) ...")
        write_synthetic_cifar(folder.parent, seed=0)
    return folder


def run_demo(
    project: Project,
    out: Path,
    *,
    jobs: int = 2,
    force: bool = False,
    cache: Path | None = None,
    progress: Callable[..., None] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[BatchResult, dict[str, str]]:
    """Grade the examples into `out`; the batch and each example's description."""
    cache = cache or cache_dir()
    data = synthetic_data(cache, log)
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
