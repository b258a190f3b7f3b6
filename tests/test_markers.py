"""START/END YOUR CODE HERE regions: finding them, stripping solutions, comparing the outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import MarkerError
from grader.markers import Region, find_regions, outside_regions, strip_solutions

REPO = Path(__file__).resolve().parents[1]

# A region inside a method, as in hw3code/neural_net.py. Line indices (0-based): 0 def, 1 h,
# 2 ruler, 3 START, 4 ruler, 5-6 instructions, 7-8 solution, 9 ruler, 10 END, 11 ruler, 12 return.
METHOD = """\
    def loss(self, X):
        h = None
        # ===== #
        # START YOUR CODE HERE:
        # ===== #
        #   Calculate the hidden layer h and the scores.
        #   There is no activation after the second layer.
        h = np.maximum(0, X.dot(self.W1.T))
        scores = h.dot(self.W2.T)
        # ===== #
        # END YOUR CODE HERE
        # ===== #
        return scores
"""

METHOD_STARTER = """\
    def loss(self, X):
        h = None
        # ===== #
        # START YOUR CODE HERE:
        # ===== #
        #   Calculate the hidden layer h and the scores.
        #   There is no activation after the second layer.
        pass
        # ===== #
        # END YOUR CODE HERE
        # ===== #
        return scores
"""

# A notebook cell: top-level code, instructions that contain a ruler of their own and a blank line.
CELL = """\
best_net = None

# ===== #
# START YOUR CODE HERE:
# ===== #
#   Optimize over your hyperparameters.
#   Note, keep hidden_size = 50!
# ===== #

# todo: optimal parameter search
for lr in [1e-4, 1e-3]:
    net = train(lr)
    if net.acc > best:
        best_net = net

# A comment after the first code line is part of the solution.
# ===== #
# END YOUR CODE HERE
# ===== #
print(best_net)"""

CELL_STARTER = """\
best_net = None

# ===== #
# START YOUR CODE HERE:
# ===== #
#   Optimize over your hyperparameters.
#   Note, keep hidden_size = 50!
# ===== #

# todo: optimal parameter search
pass
# ===== #
# END YOUR CODE HERE
# ===== #
print(best_net)"""

# Two regions, no rulers, the colon after END, a region holding only instructions.
TWO_REGIONS = """\
def f(x):
    # START YOUR CODE HERE
    y = x + 1
    # END YOUR CODE HERE:
    # START YOUR CODE HERE:
    #   Only instructions here; the student writes the code.
    # END YOUR CODE HERE
    return y
"""

TWO_REGIONS_STARTER = """\
def f(x):
    # START YOUR CODE HERE
    pass
    # END YOUR CODE HERE:
    # START YOUR CODE HERE:
    #   Only instructions here; the student writes the code.
    pass
    # END YOUR CODE HERE
    return y
"""

# START, ruler, ruler, END: an empty body between two rulers.
EMPTY = """\
if True:
    # START YOUR CODE HERE:
    # ===== #
    # ===== #
    # END YOUR CODE HERE
    x = 1
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(METHOD, [Region(3, 10, range(5, 9))], id="method-with-rulers"),
        pytest.param(CELL, [Region(3, 17, range(5, 16))], id="cell-ruler-inside-instructions"),
        pytest.param(
            TWO_REGIONS,
            [Region(1, 3, range(2, 3)), Region(4, 6, range(5, 6))],
            id="two-without-rulers",
        ),
        pytest.param(EMPTY, [Region(1, 4, range(3, 3))], id="empty-body-between-rulers"),
        pytest.param("x = 1\n# START YOUR CODE\n", [], id="no-regions"),
    ],
)
def test_find_regions_body_excludes_markers_and_their_rulers(source: str, expected: list[Region]) -> None:
    assert find_regions(source) == expected


def test_region_body_is_exactly_what_the_student_fills() -> None:
    lines = METHOD.splitlines()
    (region,) = find_regions(METHOD)
    assert [lines[i].strip() for i in region.body] == [
        "#   Calculate the hidden layer h and the scores.",
        "#   There is no activation after the second layer.",
        "h = np.maximum(0, X.dot(self.W1.T))",
        "scores = h.dot(self.W2.T)",
    ]
    # The rulers next to START and END belong to the markers, not to the body.
    assert lines[region.body.start - 1].strip() == "# ===== #"
    assert lines[region.body.stop].strip() == "# ===== #"
    assert region.instructions(lines) == lines[5:7]
    assert region.indent(lines) == " " * 8


@pytest.mark.parametrize(
    ("source", "starter"),
    [
        pytest.param(METHOD, METHOD_STARTER, id="inside-a-method"),
        pytest.param(CELL, CELL_STARTER, id="top-level-cell"),
        pytest.param(TWO_REGIONS, TWO_REGIONS_STARTER, id="two-regions-one-instructions-only"),
    ],
)
def test_strip_solutions_keeps_instructions_and_puts_pass_at_the_code_indentation(source: str, starter: str) -> None:
    assert strip_solutions(source) == starter


def test_strip_solutions_of_a_nested_solution_is_valid_python() -> None:
    source = """\
class Net:
    def train(self, n):
        for it in range(n):
            # ===== #
            # START YOUR CODE HERE:
            # ===== #
            for name in self.params:
                if name.startswith("W"):
                    self.params[name] -= 1
            # ===== #
            # END YOUR CODE HERE
            # ===== #
            self.log(it)
"""
    starter = strip_solutions(source)
    compile(starter, "<starter>", "exec")  # a wrong indentation would raise here
    assert "            pass\n" in starter
    assert "self.params[name]" not in starter
    assert "self.log(it)" in starter


def test_strip_solutions_is_idempotent_and_keeps_the_outside() -> None:
    once = strip_solutions(METHOD)
    assert strip_solutions(once) == once
    assert outside_regions(once) == outside_regions(METHOD)


@pytest.mark.parametrize("ending", ["", "\n"], ids=["no-final-newline", "final-newline"])
def test_strip_solutions_keeps_the_final_newline_as_it_was(ending: str) -> None:
    source = "# START YOUR CODE HERE\nx = 1\n# END YOUR CODE HERE" + ending
    assert strip_solutions(source) == "# START YOUR CODE HERE\npass\n# END YOUR CODE HERE" + ending


def test_strip_solutions_on_the_real_module_removes_every_solution_line() -> None:
    source = (REPO / "solutions" / "hw3code" / "neural_net.py").read_text(encoding="utf-8")
    starter = strip_solutions(source, "hw3code/neural_net.py")
    compile(starter, "neural_net.py", "exec")
    regions = find_regions(starter)
    assert len(regions) == len(find_regions(source)) >= 7
    lines = starter.splitlines()
    for region in regions:
        code = [lines[i].strip() for i in region.body if not lines[i].lstrip().startswith("#")]
        assert [c for c in code if c] == ["pass"]


# Malformed markers: (source, 1-based line of the problem, words of the message).
MALFORMED = [
    pytest.param(
        "x = 1\n# ===== #\n# START YOUR CODE HERE:\n# ===== #\ny = 2\n",
        3,
        "never closed",
        id="start-without-end",
    ),
    pytest.param(
        "# START YOUR CODE HERE:\ny = 2\n    # START YOUR CODE HERE:\nz = 3\n# END YOUR CODE HERE\n",
        3,
        "inside the region opened at line 1",
        id="start-inside-a-region",
    ),
    pytest.param(
        "def f():\n    return 1\n    # END YOUR CODE HERE\n",
        3,
        "without a START",
        id="end-without-start",
    ),
    pytest.param(
        "# START YOUR CODE HERE\nx = 1\n# END YOUR CODE HERE\ny = 2\n# END YOUR CODE HERE\n",
        5,
        "without a START",
        id="second-end-after-a-closed-region",
    ),
]


@pytest.mark.parametrize(("source", "line", "words"), MALFORMED)
@pytest.mark.parametrize("function", [find_regions, strip_solutions, outside_regions], ids=lambda f: f.__name__)
def test_malformed_markers_raise_naming_path_and_line(function, source: str, line: int, words: str) -> None:
    with pytest.raises(MarkerError) as caught:
        function(source, "hw3code/neural_net.py")
    error = caught.value
    assert (error.path, error.line) == ("hw3code/neural_net.py", line)
    assert str(error).startswith(f"hw3code/neural_net.py:{line}: ")
    assert words in str(error)


def test_marker_error_lines_count_from_first_line() -> None:
    with pytest.raises(MarkerError) as caught:
        find_regions("a = 1\n# END YOUR CODE HERE\n", "toy_nn.ipynb", first_line=40)
    assert caught.value.line == 41
    assert str(caught.value).startswith("toy_nn.ipynb:41: ")


def _replace_body(source: str, new_body: list[str]) -> str:
    lines = source.splitlines()
    (region,) = find_regions(source)
    return "\n".join([*lines[: region.body.start], *new_body, *lines[region.body.stop :]]) + "\n"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="body-deleted"),
        pytest.param(["        pass"], id="starter-pass"),
        pytest.param(["        # my own notes", "        scores = X @ W.T", ""], id="other-solution"),
        pytest.param(["        x = 1"] * 40, id="much-longer"),
    ],
)
def test_outside_regions_ignores_changes_inside(body: list[str]) -> None:
    changed = _replace_body(METHOD, body)
    assert changed != METHOD
    assert outside_regions(changed) == outside_regions(METHOD)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("        h = None\n", "        h = 0\n", id="line-before-changed"),
        pytest.param("        return scores\n", "        return -scores\n", id="line-after-changed"),
        pytest.param("        h = None\n", "", id="line-before-deleted"),
        pytest.param(
            "        return scores\n",
            "        print(1)\n        return scores\n",
            id="line-added-after",
        ),
        pytest.param(
            "        # END YOUR CODE HERE\n        # ===== #\n",
            "        # END YOUR CODE HERE\n",
            id="ruler-after-end-deleted",
        ),
        pytest.param("        # ===== #\n        # START", "        # START", id="ruler-before-start-deleted"),
    ],
)
def test_outside_regions_sees_changes_outside(old: str, new: str) -> None:
    assert old in METHOD
    changed = METHOD.replace(old, new, 1)
    assert outside_regions(changed) != outside_regions(METHOD)


def test_outside_regions_keeps_markers_and_ignores_trailing_spaces() -> None:
    outside = outside_regions(METHOD)
    assert "        # START YOUR CODE HERE:" in outside
    assert "        # END YOUR CODE HERE" in outside
    assert not any("np.maximum" in line or "Calculate" in line for line in outside)
    assert outside_regions(METHOD.replace("h = None\n", "h = None   \n")) == outside
