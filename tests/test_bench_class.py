"""The rendering benchmark's made-up class (benchmarks/class_pages.py): valid results, varied."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from grader.report import rerender
from grader.results import read_result

ROOT = Path(__file__).resolve().parents[1]


def _class_pages():
    spec = importlib.util.spec_from_file_location("class_pages", ROOT / "benchmarks" / "class_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # renders reports with their pictures
def test_the_benchmark_class_is_a_graded_folder_of_varied_students(tmp_path):
    out = _class_pages().make_class(tmp_path / "out", 12, seed=3)
    results = [read_result(path) for path in sorted(out.glob("*/results.json"))]
    assert [r.student for r in results] == [f"student-{i:03d}" for i in range(12)]
    assert len({r.score for r in results}) > 6 and len({r.validation_accuracy for r in results}) > 6
    assert rerender(out).reports == 12  # what the benchmark times reads it as `grader report` does
    assert (out / "index.html").is_file() and (out / "student-011" / "report.html").is_file()
