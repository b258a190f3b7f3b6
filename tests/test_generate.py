"""`grader generate`: the student starter made from the real solutions/ folder."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.errors import ConfigError, MarkerError
from grader.generate import check_assignment, generate_assignment, starter_files
from grader.markers import find_regions
from grader.notebooks import answer_role

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
NOTEBOOK = "toy_nn.ipynb"
MODULE = "hw3code/neural_net.py"


@functools.cache
def real_starter() -> dict[str, bytes]:
    """What generate makes of the repository's solutions/ (computed once: it reads nbformat)."""
    return starter_files(SOLUTIONS)


def copy_solutions(tmp_path: Path) -> Path:
    target = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__", "datasets"))
    return target


def read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


# ---------------------------------------------------------------- determinism and --check


def test_generating_twice_gives_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    written = generate_assignment(SOLUTIONS, first)
    snapshot = read_tree(first)
    assert written == sorted(snapshot) == sorted(real_starter())
    assert generate_assignment(SOLUTIONS, first) == written  # again, over its own output
    assert read_tree(first) == snapshot
    generate_assignment(SOLUTIONS, second)
    assert read_tree(second) == snapshot == real_starter()
    # No staging or backup folder is left next to the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "second"]


def test_generate_replaces_the_old_starter_whole(tmp_path: Path) -> None:
    assignment = tmp_path / "assignment"
    generate_assignment(SOLUTIONS, assignment)
    (assignment / "hw3code" / "old_helper.py").write_text("x = 1\n")
    (assignment / MODULE).write_text("edited by hand\n")
    generate_assignment(SOLUTIONS, assignment)
    assert read_tree(assignment) == real_starter()


def test_generate_keeps_a_data_set_unpacked_into_the_starter(tmp_path: Path) -> None:
    assignment = tmp_path / "assignment"
    generate_assignment(SOLUTIONS, assignment)
    batch = assignment / "data" / "datasets" / "cifar-10-batches-py" / "data_batch_1"
    batch.parent.mkdir(parents=True)
    batch.write_bytes(b"a large download")
    generate_assignment(SOLUTIONS, assignment)
    assert batch.read_bytes() == b"a large download"
    assert check_assignment(SOLUTIONS, assignment) == []


def test_committed_assignment_is_up_to_date() -> None:
    stale = check_assignment(SOLUTIONS, REPO / "assignment")
    assert stale == [], "assignment/ is stale; run `grader generate`:\n" + "\n".join(
        f"{s.path}: {s.problem}\n{s.diff}" for s in stale
    )


@pytest.mark.slow
def test_cli_check_of_the_repository_exits_0() -> None:
    result = run_cli("generate", "--check", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is up to date" in result.stdout


@pytest.mark.slow
def test_cli_generate_then_check_exits_0(tmp_path: Path) -> None:
    assignment = tmp_path / "starter"
    options = ("--solution", str(SOLUTIONS), "--assignment", str(assignment))
    result = run_cli("generate", *options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"wrote {len(real_starter())} files" in result.stdout
    assert read_tree(assignment) == real_starter()
    result = run_cli("generate", "--check", *options, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{assignment} is up to date" in result.stdout


def _modify(assignment: Path) -> None:
    path = assignment / MODULE
    path.write_text(path.read_text().replace("        pass\n", "        scores = X\n", 1))


def _delete(assignment: Path) -> None:
    (assignment / "data" / "vis_utils.py").unlink()


def _add(assignment: Path) -> None:
    (assignment / "hw3code" / "helpers.py").write_text("def helper():\n    return 1\n")


@pytest.mark.parametrize(
    ("change", "rel", "problem", "shown"),
    [
        pytest.param(
            _modify,
            MODULE,
            "differs",
            [
                f"--- assignment/{MODULE}",
                f"+++ generated/{MODULE}",
                "-        scores = X",
                "+        pass",
            ],
            id="file-modified",
        ),
        pytest.param(_delete, "data/vis_utils.py", "missing", [], id="file-deleted"),
        pytest.param(_add, "hw3code/helpers.py", "extra", [], id="file-added"),
    ],
)
def test_check_finds_a_stale_starter(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change,
    rel: str,
    problem: str,
    shown: list[str],
) -> None:
    assignment = tmp_path / "assignment"
    generate_assignment(SOLUTIONS, assignment)
    change(assignment)

    stale = check_assignment(SOLUTIONS, assignment)
    assert [(s.path, s.problem) for s in stale] == [(rel, problem)]

    status = main(["generate", "--check", "--solution", str(SOLUTIONS), "--assignment", str(assignment)])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"{assignment / rel}: {problem}" in out
    for line in shown:
        assert line in out.splitlines()
    assert "1 file(s)" in err and "run `grader generate`" in err


def test_a_stale_notebook_is_shown_cell_by_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    starter = tmp_path / "starter"  # not named assignment: the diff says which folder it read
    generate_assignment(SOLUTIONS, starter)
    nb = nbformat.read(starter / NOTEBOOK, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.id == "toy-loss")
    nb.cells[index].source = nb.cells[index].source.replace("reg=0.05", "reg=0.1")
    nb.cells[1].metadata["tags"] = ["changed"]
    del nb.cells[-1]
    nbformat.write(nb, starter / NOTEBOOK)

    assert main(["generate", "--check", "--solution", str(SOLUTIONS), "--assignment", str(starter)]) == 1
    lines = capsys.readouterr().out.splitlines()
    where = f"cell {index + 1} (id toy-loss)"
    header = lines.index(f"--- starter/{NOTEBOOK} {where}")
    assert lines[header + 1] == f"+++ generated {where}"
    assert "-loss, _ = net.loss(X, y, reg=0.1)" in lines and "+loss, _ = net.loss(X, y, reg=0.05)" in lines
    assert f"starter/{NOTEBOOK}: cell 2 (id {nb.cells[1].id}): its outputs, metadata or position differ" in lines
    last = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4).cells[-1]
    assert f"starter/{NOTEBOOK}: cell {len(nb.cells) + 1} (id {last.id}) is missing" in lines
    assert not any(line.lstrip("+- ").startswith('"cell_type"') for line in lines)  # no raw JSON


def test_check_ignores_caches_and_the_unpacked_data_set(tmp_path: Path) -> None:
    """What a TA's test run leaves in assignment/ (caches, data/datasets/) is not stale."""
    assignment = tmp_path / "assignment"
    generate_assignment(SOLUTIONS, assignment)
    leftovers = [
        "hw3code/__pycache__/neural_net.cpython-311.pyc",
        ".ipynb_checkpoints/toy_nn-checkpoint.ipynb",
        "data/datasets/cifar-10-batches-py/data_batch_1",
        ".DS_Store",
    ]
    for rel in leftovers:
        (assignment / rel).parent.mkdir(parents=True, exist_ok=True)
        (assignment / rel).write_bytes(b"\x00leftover")
    assert check_assignment(SOLUTIONS, assignment) == []


def test_ignored_files_of_solutions_are_not_carried_over(tmp_path: Path) -> None:
    solutions = copy_solutions(tmp_path)
    for rel in [
        "hw3code/__pycache__/neural_net.cpython-311.pyc",
        ".ipynb_checkpoints/toy_nn-checkpoint.ipynb",
        "data/datasets/cifar-10-batches-py/data_batch_1",
        "data/.DS_Store",
        "data/old.pyc",
    ]:
        (solutions / rel).parent.mkdir(parents=True, exist_ok=True)
        (solutions / rel).write_bytes(b"\x00not for students")
    assert starter_files(solutions) == real_starter()


def test_missing_solutions_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no solutions folder"):
        generate_assignment(tmp_path / "nowhere", tmp_path / "assignment")
    assert not (tmp_path / "assignment").exists()


# ---------------------------------------------------------------- no solution in the starter


def _region_cases() -> list[pytest.param]:
    """One case per region of solutions/: (where, solution text, starter text, cell index)."""
    cases = []
    for path in sorted(SOLUTIONS.rglob("*.py")):
        rel = path.relative_to(SOLUTIONS).as_posix()
        for n, _ in enumerate(find_regions(path.read_text(encoding="utf-8"))):
            cases.append(pytest.param(rel, None, n, id=f"{rel}-region{n + 1}"))
    nb = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for n, _ in enumerate(find_regions(cell.source)):
                cases.append(pytest.param(NOTEBOOK, index, n, id=f"cell-{cell.id}-region{n + 1}"))
    return cases


REGION_CASES = _region_cases()


def test_solutions_have_regions_in_module_and_notebook() -> None:
    """Guards the parametrization below against silently testing nothing."""
    assert sum(1 for case in REGION_CASES if case.values[0] == MODULE) >= 7
    assert sum(1 for case in REGION_CASES if case.values[0] == NOTEBOOK) >= 2


def _sources(rel: str, cell: int | None) -> tuple[str, str]:
    starter = real_starter()[rel].decode("utf-8")
    if cell is None:
        return (SOLUTIONS / rel).read_text(encoding="utf-8"), starter
    solution_nb = nbformat.read(SOLUTIONS / rel, as_version=4)
    starter_nb = nbformat.reads(starter, as_version=4)
    assert starter_nb.cells[cell].id == solution_nb.cells[cell].id
    return solution_nb.cells[cell].source, starter_nb.cells[cell].source


@pytest.mark.parametrize(("rel", "cell", "n"), REGION_CASES)
def test_starter_region_holds_instructions_and_no_solution_code(rel: str, cell: int | None, n: int) -> None:
    solution, starter = _sources(rel, cell)
    solution_regions, starter_regions = find_regions(solution), find_regions(starter)
    assert len(starter_regions) == len(solution_regions)
    solution_lines, starter_lines = solution.splitlines(), starter.splitlines()
    region, kept = solution_regions[n], starter_regions[n]
    body = [solution_lines[i] for i in region.body]
    starter_body = [starter_lines[i] for i in kept.body]
    solution_code = {line.strip() for line in body if is_code(line)}
    assert solution_code, "a region of the reference holds no code"
    leaked = solution_code & {line.strip() for line in starter_body}
    assert not leaked, f"solution code in the starter: {sorted(leaked)}"
    assert [line.strip() for line in starter_body if is_code(line)] == ["pass"]
    for line in region.instructions(solution_lines):
        assert line in starter_body


# ---------------------------------------------------------------- the starter notebook


def _starter_notebook(files: dict[str, bytes]) -> nbformat.NotebookNode:
    return nbformat.reads(files[NOTEBOOK].decode("utf-8"), as_version=4)


def test_starter_notebook_keeps_cells_metadata_and_ids() -> None:
    solution = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)
    starter = _starter_notebook(real_starter())
    assert [c.id for c in starter.cells] == [c.id for c in solution.cells]
    assert [c.cell_type for c in starter.cells] == [c.cell_type for c in solution.cells]
    assert starter.metadata == solution.metadata
    assert (starter.nbformat, starter.nbformat_minor) == (4, 5)


def test_starter_notebook_has_no_outputs_or_execution_counts(tmp_path: Path) -> None:
    """The reference is saved executed here (outputs, counts): none of it reaches the starter."""
    solutions = copy_solutions(tmp_path)
    path = solutions / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for count, cell in enumerate(code_cells, start=1):
        cell.execution_count = count
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="Best accuracy: 0.512\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "0.512"}, execution_count=count),
        ]
    nbformat.write(nb, path)

    starter = _starter_notebook(starter_files(solutions))
    starter_code = [c for c in starter.cells if c.cell_type == "code"]
    assert len(starter_code) == len(code_cells) > 10
    assert all(c.outputs == [] and c.execution_count is None for c in starter_code)
    assert "0.512" not in starter_files(solutions)[NOTEBOOK].decode("utf-8")


def test_answer_cells_hold_their_template() -> None:
    solution = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)
    starter = _starter_notebook(real_starter())
    answers = [i for i, c in enumerate(solution.cells) if answer_role(c) is not None]
    assert len(answers) >= 7  # identity, two hand calculations, four questions
    for i in answers:
        template = solution.cells[i].metadata["grader"]["template"]
        assert solution.cells[i].source != template  # the reference holds a real answer
        assert starter.cells[i].source == template
        assert starter.cells[i].metadata == solution.cells[i].metadata  # the role stays findable


def test_other_cells_are_unchanged() -> None:
    solution = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)
    starter = _starter_notebook(real_starter())
    others = [i for i, c in enumerate(solution.cells) if c.cell_type != "code" and answer_role(c) is None]
    assert len(others) > 20
    for i in others:
        assert starter.cells[i] == solution.cells[i], f"cell {i + 1} ({solution.cells[i].id}) changed"


def test_attachments_stay_in_question_cells_and_leave_answer_cells(tmp_path: Path) -> None:
    """A question's diagram must reach the students; an image in the reference's answer must not."""
    solutions = copy_solutions(tmp_path)
    path = solutions / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    diagram = {"diagram.png": {"image/png": "iVBORw0KGgo="}}
    answer_image = {"derivation.png": {"image/png": "c2VjcmV0"}}
    question = next(c for c in nb.cells if c.id == "section1")
    answer = next(c for c in nb.cells if answer_role(c) == "handcalc.backward")
    question.source += "\n\n![network](attachment:diagram.png)"
    question.attachments = diagram
    answer.source += "\n\n![derivation](attachment:derivation.png)"
    answer.attachments = answer_image
    nbformat.write(nb, path)

    starter = _starter_notebook(starter_files(solutions))
    by_id = {c.id: c for c in starter.cells}
    assert by_id["section1"] == question
    assert "attachments" not in by_id[answer.id]
    assert by_id[answer.id].source == answer.metadata["grader"]["template"]


# ---------------------------------------------------------------- other files


def test_other_files_are_copied_byte_for_byte(tmp_path: Path) -> None:
    solutions = copy_solutions(tmp_path)
    odd = b"\x89PNG\r\n\x1a\n\x00\xff line\r\nno final newline"
    (solutions / "data" / "figure.png").write_bytes(odd)
    (solutions / "README.txt").write_bytes(b"crlf\r\n# START YOUR CODE HERE:\r\nkept as is\r\n")
    files = starter_files(solutions)
    others = [
        p.relative_to(solutions).as_posix()
        for p in solutions.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".ipynb") and p.name != "handcalc.toml"
    ]
    assert {"rubric.toml", "cs145hw3.yml", "data/figure.png", "README.txt"} <= set(others)
    for rel in others:
        assert files[rel] == (solutions / rel).read_bytes(), rel


def test_the_section_1_answers_stay_with_the_solution(tmp_path: Path) -> None:
    solutions = copy_solutions(tmp_path)
    (solutions / "data" / "handcalc.toml").write_text("kept: only the top-level file is the answers")
    files = starter_files(solutions)
    assert (solutions / "handcalc.toml").is_file() and "handcalc.toml" not in files
    assert "data/handcalc.toml" in files
    assert not (REPO / "assignment" / "handcalc.toml").exists()


# ---------------------------------------------------------------- malformed markers


def _break_module(solutions: Path, how: str) -> int:
    """Break the markers of hw3code/neural_net.py; return the 1-based line of the problem."""
    path = solutions / MODULE
    lines = path.read_text(encoding="utf-8").splitlines()
    first = find_regions("\n".join(lines))[0]
    if how == "start-without-end":
        lines.append("    # START YOUR CODE HERE:")
        at = len(lines)
    elif how == "start-inside-region":
        lines.insert(first.body.start + 1, "    # START YOUR CODE HERE:")
        at = first.body.start + 2
    else:  # end-without-start
        at = lines.index("import numpy as np") + 2
        lines.insert(at - 1, "# END YOUR CODE HERE")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return at


def _break_notebook(solutions: Path, how: str) -> tuple[int, str]:
    """Break the markers of the notebook's search cell; return (1-based line in the cell, cell)."""
    path = solutions / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    index, cell = next((i, c) for i, c in enumerate(nb.cells) if c.id == "cifar-search")
    lines = cell.source.splitlines()
    first = find_regions(cell.source)[0]
    if how == "start-without-end":
        del lines[first.end]  # the END line
        at = first.start + 1
    elif how == "start-inside-region":
        lines.insert(first.body.start, "# START YOUR CODE HERE:")
        at = first.body.start + 1
    else:  # end-without-start
        lines.insert(0, "# END YOUR CODE HERE")
        at = 1
    cell.source = "\n".join(lines)
    nbformat.write(nb, path)
    return at, f"{NOTEBOOK} (cell {index + 1}, id cifar-search)"


HOW = ["start-without-end", "start-inside-region", "end-without-start"]


@pytest.mark.parametrize("how", HOW)
def test_malformed_marker_in_a_module_fails_naming_file_and_line(tmp_path: Path, how: str) -> None:
    solutions = copy_solutions(tmp_path)
    line = _break_module(solutions, how)
    assignment = tmp_path / "assignment"
    generate_assignment(SOLUTIONS, assignment)
    before = read_tree(assignment)
    with pytest.raises(MarkerError) as caught:
        generate_assignment(solutions, assignment)
    assert (caught.value.path, caught.value.line) == (MODULE, line)
    assert str(caught.value).startswith(f"{MODULE}:{line}: ")
    assert read_tree(assignment) == before  # the old starter is left as it was


@pytest.mark.parametrize("how", HOW)
def test_malformed_marker_in_a_notebook_cell_fails_naming_cell_and_line(tmp_path: Path, how: str) -> None:
    solutions = copy_solutions(tmp_path)
    line, where = _break_notebook(solutions, how)
    with pytest.raises(MarkerError) as caught:
        generate_assignment(solutions, tmp_path / "assignment")
    assert (caught.value.path, caught.value.line) == (where, line)
    assert str(caught.value).startswith(f"{where}:{line}: ")
    assert not (tmp_path / "assignment").exists()


@pytest.mark.parametrize(
    ("start", "end"), [("# Start your code here", "# End your code here"), ("# BEGIN YOUR CODE", "# END OF YOUR CODE")]
)
def test_misspelled_markers_fail_instead_of_leaking_the_solution(tmp_path: Path, start: str, end: str) -> None:
    """Both markers misspelled leave no region at all: without this, the solution would be copied."""
    solutions = copy_solutions(tmp_path)
    path = solutions / MODULE
    lines = path.read_text(encoding="utf-8").splitlines()
    first = find_regions("\n".join(lines))[0]
    lines[first.start] = lines[first.start].replace("# START YOUR CODE HERE:", start)
    lines[first.end] = lines[first.end].replace("# END YOUR CODE HERE", end)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MarkerError) as caught:
        generate_assignment(solutions, tmp_path / "assignment")
    assert (caught.value.path, caught.value.line) == (MODULE, first.start + 1)
    assert "looks like a marker but is not one" in str(caught.value)


@pytest.mark.slow
def test_cli_reports_a_malformed_marker(tmp_path: Path) -> None:
    solutions = copy_solutions(tmp_path)
    line = _break_module(solutions, "end-without-start")
    options = ("--solution", str(solutions), "--assignment", str(tmp_path / "out"))
    result = run_cli("generate", *options, cwd=tmp_path)
    assert result.returncode == 1
    assert f"grader: error: {MODULE}:{line}: END YOUR CODE HERE without" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- the starter runs


STARTER_PROBE = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import hw3code.neural_net as nn
np.random.seed(0)
net = nn.TwoLayerNet(4, 10, 3)
X = np.random.randn(5, 4)
print(json.dumps({
    "file": nn.__file__,
    "shapes": {k: list(v.shape) for k, v in net.params.items()},
    "std": float(np.abs(net.params["W1"]).max()),
    "b_zero": bool(not net.params["b1"].any() and not net.params["b2"].any()),
    "scores": repr(net.loss(X)),
    "mse": repr(nn.MSE_loss(X[:, :3], np.array([0, 1, 2, 0, 1]))),
    "predict": repr(net.predict(X)),
}))
"""


def test_generated_starter_runs_up_to_the_first_unimplemented_part(tmp_path: Path) -> None:
    assignment = tmp_path / "assignment"
    generate_assignment(SOLUTIONS, assignment)
    result = subprocess.run(
        [sys.executable, "-c", STARTER_PROBE, str(assignment)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["file"]) == assignment / MODULE
    assert report["shapes"] == {"W1": [10, 4], "b1": [10], "W2": [3, 10], "b2": [3]}
    assert 0 < report["std"] < 1e-3 and report["b_zero"]
    assert report["scores"] == "None"
    assert report["mse"] == "(None, None)"
    assert report["predict"] == "None"
