"""Section 1 hand-calculation answers: reading the numbers and marking each quantity."""

# ruff: noqa: E501  (answers are quoted whole, a line as a student would type it)

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from grader import handcalc
from grader.errors import ConfigError
from grader.handcalc import Quantity, grade_answer, load_answers, read_numbers, with_answers

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
ANSWERS = load_answers(SOLUTIONS / handcalc.ANSWERS_FILE)
FORWARD = with_answers(handcalc.FORWARD, ANSWERS)
BACKWARD = with_answers(handcalc.BACKWARD, ANSWERS)

# The seed student's answers, verbatim (toy_nn_homework.txt, 1.3.1 and 1.3.2 "Answers").
SEED_FORWARD = r"""1. $\mathbf{x}^{(1)} = \mathbf{f}^{(1)}\left(\begin{bmatrix} 0.15 & 0.2 \\ 0.25 & 0.3 \end{bmatrix} * [0.05, 0.1] + [0.35, 0.35]\right) \approx [0.593, 0.597]$
2. $\mathbf{x}^{(2)} = \mathbf{f}^{(2)}([0.4 \ 0.45] * [0.593, 0.597] + 0.6) \approx 0.751$
3. $\frac{(0.01-0.751)^2}{2} \approx 0.275$
"""

SEED_BACKWARD = r"""$$1. \frac{\partial l}{\partial \mathbf{W}^{(2)}} \Rightarrow -(y - x^{(2)}) * f'(z^{(2)}) * x^{(1)}$$

$$z^{(2)} = 0.665$$

$f'(z) = \sigma(z)(1 - \sigma(z))$; plugging and chugging:

$$-(0.01 - 0.75) * (\sigma(0.665) * (1 - \sigma(0.665))) = \delta^{(2)} = \frac{\partial l}{\partial \mathbf{b}^{(2)}} \approx \boxed{0.1662}$$

$$\frac{\partial l}{\partial \mathbf{W}^{(2)}} = \delta^{(2)} * x^{(1)} = \boxed{[0.0986, 0.0992]}$$

2 (Doing one calc for all, since same nodes propagate backward and only one output going back through both)

$$\frac{\partial l}{\partial \mathbf{W}_k^{(1)}} \Rightarrow \delta^{(2)} \mathbf{W}_j^{(1)} * f'(z^{(1)}) * x_k^{(0)}$$

$$z^{(1)} = [0.3775, 0.3925]$$

$$0.1662 * [0.4, 0.45] * (\sigma(z^{(1)}) * (1 - \sigma(z^{(1)}))) = \delta^{(1)} = \frac{\partial l}{\partial \mathbf{b}^{(1)}} \approx \boxed{[0.0321, 0.0361]}$$

$$\frac{\partial l}{\partial \mathbf{W}_k^{(1)}} = \delta^{(1)} * x^{(0)} = \begin{bmatrix} 0.00522 & 0.00522 \\ 0.00522 & 0.00522 \end{bmatrix}$$
"""

RIGHT = True
NONE = None  # no value found


@dataclass(frozen=True)
class Case:
    """An answer and the verdict per quantity: RIGHT, NONE, or the wrong value as found."""

    id: str
    text: str
    verdicts: dict[str, object]
    messages: dict[str, str] = field(default_factory=dict)  # substrings the message must hold
    rtol: float = 0.01


CASES = [
    Case("seed-forward", SEED_FORWARD, {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT}),
    Case(
        "seed-backward",
        SEED_BACKWARD,
        {
            "dW2": "[0.0986, 0.0992]",
            "db2": "0.1662",
            "dW1": "[[0.00522, 0.00522], [0.00522, 0.00522]]",
            "db1": "[0.0321, 0.0361]",
        },
        {"db2": "0.1662 ≠ 0.13850 (20% off)", "dW2": "20% off"},
    ),
    Case(
        "plain-forward",
        "x1 = [0.593, 0.597]\nx2 = 0.751\nloss ≈ 0.275",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "plain-backward",
        "dl/dW2 = [0.0822, 0.0827]\ndl/db2 = 0.1385\n"
        "dl/dW1 = [[0.000668, 0.00134], [0.000750, 0.00150]]\ndl/db1 = [0.0134, 0.0150]",
        {"dW2": RIGHT, "db2": RIGHT, "dW1": RIGHT, "db1": RIGHT},
    ),
    Case(
        "latex-inline-and-prose",
        r"We get $\mathbf{x}^{(1)} \approx [0.593, 0.597]$, then $\mathbf{x}^{(2)} \approx 0.7514$"
        "\nand the loss is $l = 0.2748$.",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "latex-frac-display",
        r"$$\frac{\partial l}{\partial \mathbf{W}^{(2)}} = [0.08217, 0.08267]$$"
        "\n"
        r"$$\frac{\partial l}{\partial \mathbf{b}^{(2)}} = 0.1385$$"
        "\n"
        r"$$\frac{\partial L}{\partial b^{(1)}} = [0.01337, 0.01500]$$",
        {"dW2": RIGHT, "db2": RIGHT, "dW1": NONE, "db1": RIGHT},
    ),
    Case(
        "boxed-after-work",
        r"$$x^{(1)} = \sigma(z^{(1)}) = \sigma([0.3775, 0.3925]) = \boxed{[0.5933, 0.5969]}$$"
        "\n"
        r"$$x^{(2)} = \sigma(0.4 \cdot 0.5933 + 0.45 \cdot 0.5969 + 0.6) = \sigma(1.1059) = \boxed{0.7514}$$"
        "\n"
        r"$$l = \frac{1}{2}(0.01 - 0.7514)^2 = \boxed{0.2748}$$",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "bmatrix-and-column-vectors",
        r"$\frac{\partial l}{\partial \mathbf{W}^{(1)}} = \begin{bmatrix} 0.000668 & 0.001337 \\ 0.000750 & 0.001500 \end{bmatrix}$"
        "\n"
        r"$\frac{\partial l}{\partial \mathbf{b}^{(1)}} = \begin{bmatrix} 0.01337 \\ 0.01500 \end{bmatrix}$"
        "\n"
        r"$\frac{\partial l}{\partial \mathbf{W}^{(2)}} = \begin{pmatrix} 0.0822 & 0.0827 \end{pmatrix}$"
        "\n"
        r"$\frac{\partial l}{\partial \mathbf{b}^{(2)}} = \left[ 0.1385 \right]$",
        {"dW2": RIGHT, "db2": RIGHT, "dW1": RIGHT, "db1": RIGHT},
    ),
    Case(
        "left-right-and-pmatrix",
        r"$\mathbf{x}^{(1)} = \left[ 0.5933, 0.5969 \right]$, "
        r"$\mathbf{x}^{(2)} = \left( 0.7514 \right)$",
        {"x1": RIGHT, "x2": RIGHT, "loss": NONE},
    ),
    Case(
        "nested-brackets-over-two-lines",
        "dL/dW^(1) = [[0.000668, 0.001337],\n             [0.000750, 0.001500]]\ndL/db^(1) = [0.01337, 0.0150]",
        {"dW1": RIGHT, "db1": RIGHT, "dW2": NONE, "db2": NONE},
    ),
    Case(
        "times-and-cdot-10-power",
        r"$$\frac{\partial l}{\partial W^{(1)}} = \begin{bmatrix} 6.684 \times 10^{-4} & 1.337 \times 10^{-3}"
        r" \\ 7.498 \cdot 10^{-4} & 1.4996 \cdot 10^{-3} \end{bmatrix}$$",
        {"dW1": RIGHT},
    ),
    Case(
        "e-notation",
        "dl/dW1 = [[6.684e-4, 1.337E-03], [7.50e-4, 1.50e-3]]\ndl/db1 = [1.337e-2, 1.4996E-02]",
        {"dW1": RIGHT, "db1": RIGHT},
    ),
    Case(
        "unicode-superscript-power",
        "∂l/∂W⁽¹⁾ = [[6.68×10⁻⁴, 1.34×10⁻³], [7.50×10⁻⁴, 1.50×10⁻³]]\n∂l/∂b⁽¹⁾ = [1.34×10⁻², 1.50×10⁻²]",
        {"dW1": RIGHT, "db1": RIGHT},
    ),
    Case(
        "matrix-times-power-of-ten",
        r"$\frac{\partial l}{\partial W^{(1)}} = \begin{bmatrix} 6.684 & 13.37 \\ 7.498 & 15.00 \end{bmatrix}"
        r" \times 10^{-4}$",
        {"dW1": RIGHT},
    ),
    Case(
        "leading-dot-and-unicode-minus",
        "x1 = [.593, .597]; x2 = .751\nl = (0.01 − 0.751)²/2 = .2745",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "truncated-and-3-sig-digits",
        "x^(1) = [0.5932, 0.5968]\nx^(2) = 0.7513\nloss = 0.274",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "approx-and-rightarrow",
        r"$x^{(2)} = \sigma(1.1059) \Rightarrow x^{(2)} \approx 0.7514$ ≈ 0.751",
        {"x2": RIGHT, "x1": NONE},
    ),
    Case(
        "numbered-list-labels-not-values",
        "1. x^(1) = [0.593, 0.597]\n2. x^(2) = 0.751\n3. loss = 0.275",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "bullets-and-bold",
        "- **Hidden layer:** [0.593, 0.597]\n* output x_2 = **0.751**\n+ **loss**: 0.2748",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "column-vector-after-work",
        r"$$\mathbf{x}^{(1)} = \sigma\left(\begin{bmatrix} 0.3775 \\ 0.3925 \end{bmatrix}\right) = "
        r"\begin{bmatrix} 0.5933 \\ 0.5969 \end{bmatrix}$$",
        {"x1": RIGHT},
    ),
    Case(
        "whole-line-of-work-then-value",
        "z1 = W1 x0 + b1 = [0.15*0.05 + 0.2*0.1 + 0.35, 0.25*0.05 + 0.3*0.1 + 0.35] = [0.3775, 0.3925]\n"
        "x1 = sigmoid(z1) = [1/(1+e^-0.3775), 1/(1+e^-0.3925)] = [0.5933, 0.5969]\n"
        "z2 = 0.4*0.5933 + 0.45*0.5969 + 0.6 = 1.1059, x2 = sigmoid(1.1059) = 0.7514\n"
        "loss = 0.5*(0.01 - 0.7514)^2 = 0.2748",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "aligned-continuation-lines",
        "$$\n\\begin{aligned}\nl &= \\frac{1}{2}(y - x^{(2)})^2 \\\\\n&= \\frac{1}{2}(0.01 - 0.7514)^2 \\\\\n"
        "&= 0.2748\n\\end{aligned}\n$$",
        {"loss": RIGHT, "x2": NONE},
    ),
    Case("empty", "", {"x1": NONE, "x2": NONE, "loss": NONE}),
    Case(
        "work-but-no-final-values",
        "x1 = σ(W1 x0 + b1) = σ([0.3775, 0.3925])\nx2 = σ(W2 · x1 + b2)\nl = (x2 - y)^2 / 2",
        {"x1": NONE, "x2": NONE, "loss": NONE},
    ),
    Case(
        "transposed-matrix",
        "dl/dW1 = [[0.000668, 0.000750], [0.00134, 0.00150]]",
        {"dW1": "[[0.000668, 0.000750], [0.00134, 0.00150]]"},
        {"dW1": "is the transpose of ∂l/∂W⁽¹⁾"},
    ),
    Case(
        "swapped-vectors",
        "x1 = [0.597, 0.593]",
        {"x1": "[0.597, 0.593]"},
        {"x1": "swapped"},
    ),
    Case(
        "swapped-vector-far-apart-entries",
        "dl/db1 = [0.0150, 0.0134]",
        {"db1": "[0.0150, 0.0134]"},
        {"db1": "swapped"},
    ),
    Case(
        "one-significant-digit",
        "x1 = [0.6, 0.6]\nx2 = 0.8\nloss = 0.3",
        {"x1": "[0.6, 0.6]", "x2": "0.8", "loss": "0.3"},
        {"loss": "0.3 is written to fewer than 2 significant digits (expected 0.27481)"},
    ),
    # Rounded by hand to two digits: right even beyond 1% (0.27 is 1.8% off 0.27481), but
    # only when the rounding is right (0.28 is not 0.27481 rounded).
    Case(
        "rounded-to-two-digits", "x1 = [0.59, 0.60]\nx2 = 0.75\nloss = 0.27", {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT}
    ),
    Case("rounded-the-wrong-way", "loss = 0.28", {"loss": "0.28"}, {"loss": "0.28 ≠ 0.27481 (1.9% off)"}),
    Case("rounded-in-scientific-notation", "dl/db1 = [1.3e-2, 1.5e-2]", {"db1": RIGHT}),
    Case("three-percent-off", "x2 = 0.774", {"x2": "0.774"}, {"x2": "0.774 ≠ 0.75137 (3.0% off)"}),
    Case("three-percent-off-with-rtol-5pct", "x2 = 0.774", {"x2": RIGHT}, rtol=0.05),
    Case(
        "some-entries-right",
        "dl/db1 = [0.0134, 0.0180]",
        {"db1": "[0.0134, 0.0180]"},
        {"db1": "entry 2 (0.0180) is 20% off; entry 1 right"},
    ),
    Case(
        "scalar-for-a-vector",
        "x1 = 0.593",
        {"x1": "0.593"},
        {"x1": "but x⁽¹⁾ is a vector of 2 numbers"},
    ),
    Case(
        "forgot-the-half",
        "x2 = 0.751\nloss = (0.01 - 0.751)^2 = 0.549",
        {"x2": RIGHT, "loss": "0.549"},
        {"loss": "100% off"},
    ),
    Case(
        "given-data-only-forward",
        r"$\mathbf{W}^{(1)} = \begin{bmatrix} 0.15 & 0.2 \\ 0.25 & 0.3 \end{bmatrix}, \quad \mathbf{W}^{(2)} = "
        r"[0.4, 0.45], \quad \mathbf{b}^{(1)} = [0.35, 0.35], \quad \mathbf{b}^{(2)} = 0.6$, x0 = [0.05, 0.1], y = 0.01",
        {"x1": NONE, "x2": NONE, "loss": NONE},
    ),
    Case(
        "given-data-only-backward",
        "W1 = [[0.15, 0.2], [0.25, 0.3]], W2 = [0.4, 0.45], b1 = [0.35, 0.35], b2 = 0.6, x0 = [0.05, 0.1], y = 0.01",
        {"dW2": NONE, "db2": NONE, "dW1": NONE, "db1": NONE},
    ),
    Case(
        "correct-value-only-as-an-operand",
        "x^(1) = [0.5933, 0.5969]\ndl/dW2 = 0.1385 * [0.5933, 0.5969] = [0.0822, 0.0827]\n"
        "dl/dW1 = 0.1385 x^(1) = [[0.0007, 0.0013], [0.0008, 0.0015]]",
        {"dW2": RIGHT, "db2": NONE, "dW1": "[[0.0007, 0.0013], [0.0008, 0.0015]]", "db1": NONE},
    ),
    Case(
        "delta-is-db2-without-its-label",
        "δ2 = (x2 - y) x2 (1 - x2) = 0.1385\ndl/dW2 = δ2 x1 = [0.0822, 0.0827]\nδ1 = δ2 W2 σ'(z1) = [0.01337, 0.01500]",
        {"dW2": RIGHT, "db2": RIGHT, "db1": RIGHT, "dW1": NONE},
        {"db2": "found without its label"},
    ),
    Case(
        "label-beats-a-correct-intermediate",
        "δ2 = 0.1385\n∂l/∂b2 = 0.741",
        {"db2": "0.741"},
    ),
    Case(
        "entry-by-entry-answers",
        r"$\frac{\partial l}{\partial W^{(1)}_{11}} = 0.000668$, $\frac{\partial l}{\partial W^{(1)}_{12}} = 0.00134$"
        "\n"
        r"$\frac{\partial l}{\partial W^{(1)}_{21}} = 0.000750$, $\frac{\partial l}{\partial W^{(1)}_{22}} = 0.00150$",
        {"dW1": RIGHT},
    ),
    Case(
        "cs231n-names-and-words",
        "dW2 = [0.0822, 0.0827], db2 = 0.1385\nThe gradient of b1 is [0.01337, 0.01500]\n"
        "W1 gradient: [[0.000668, 0.00134], [0.000750, 0.00150]]",
        {"dW2": RIGHT, "db2": RIGHT, "dW1": RIGHT, "db1": RIGHT},
    ),
    Case("negative-with-unicode-minus", "∂l/∂b2 = −0.1385", {"db2": "-0.1385"}, {"db2": "200% off"}),
    Case(
        "one-line-several-quantities",
        "x1 = [0.593, 0.597], z2 = 1.106, x2 = 0.751, loss = 0.275",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "prose-with-and",
        "The hidden layer values are 0.5933 and 0.5969. The output is 0.7514 and the loss is 0.2748.",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "input-entries-named-x_1-x_2",
        "x_1 = 0.05, x_2 = 0.1\nx^{(1)} = [0.593, 0.597]\nσ(0.4·0.593 + 0.45·0.597 + 0.6) = 0.751",
        {"x1": RIGHT, "x2": RIGHT, "loss": NONE},
        {"x2": "found without its label"},
    ),
    Case(
        "one-number-per-unit",
        "out_h1 = 0.593269992\nout_h2 = 0.596884378\nout_o1 = 0.75136507\nE_total = 0.274811083",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "hidden-units-one-by-one",
        "h1 = 0.5933, h2 = 0.5969\ny_hat = 0.7514\nloss = 0.2748",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case("hidden-units-one-by-one-one-wrong", "h1 = 0.5933\nh2 = 0.61", {"x1": "0.5933"}),
    Case(
        "gradient-entries-one-by-one",
        "dl/db1_1 = 0.0134\ndl/db1_2 = 0.0150\ndl/db2 = 0.1385",
        {"db1": RIGHT, "db2": RIGHT},
    ),
    Case(
        "decimal-commas",
        "x(1) = [0,5933 ; 0,5969]\nx(2) = 0,7514\nl = 0,2748",
        {"x1": RIGHT, "x2": RIGHT, "loss": RIGHT},
    ),
    Case(
        "decimal-commas-in-a-matrix",
        "dl/dW1 = [[0,000668 ; 0,00134] ; [0,000750 ; 0,00150]]\ndl/db1 = (0,0134 ; 0,0150)\ndl/db2 = 0,1385\n"
        "dl/dW2 = [0,0822 ; 0,0827]",
        {"dW2": RIGHT, "db2": RIGHT, "dW1": RIGHT, "db1": RIGHT},
    ),
    Case(
        "value-on-the-next-line",
        "x^{(1)} =\n\n[0.593, 0.597]\n\nThe output is\n0.751",
        {"x1": RIGHT, "x2": RIGHT, "loss": NONE},
    ),
]


def _by_name(quantities: tuple[Quantity, ...]) -> dict[str, Quantity]:
    return {q.name: q for q in quantities}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_grade_answer(case: Case) -> None:
    names = set(case.verdicts)
    quantities = FORWARD if names <= set(_by_name(FORWARD)) else BACKWARD
    results = {r.quantity.name: r for r in grade_answer(case.text, quantities, rtol=case.rtol)}
    assert [r.quantity for r in results.values()] == list(quantities)
    for name, verdict in case.verdicts.items():
        r = results[name]
        if verdict is RIGHT:
            assert r.correct, f"{name}: {r.message}"
        elif verdict is NONE:
            assert (r.correct, r.found) == (False, None), f"{name}: {r.message}"
            assert r.message == f"no value found for {r.quantity.label}"
        else:
            assert (r.correct, r.found) == (False, verdict), f"{name}: {r.message}"
    for name, text in case.messages.items():
        assert text in results[name].message


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_verdict_never_gives_the_correct_value_away(case: Case) -> None:
    """Students see the verdict (Gradescope shows the check's message): no correct value in it."""
    for quantities in (FORWARD, BACKWARD):
        for r in grade_answer(case.text, quantities, rtol=case.rtol):
            secrets = {format(v, "#.5g") for v in _flat(r.quantity.expected)}
            secrets |= {format(v, ".3g") for v in _flat(r.quantity.expected)}
            if not r.correct:
                leaked = [s for s in secrets if s in r.verdict and (r.found is None or s not in r.found)]
                assert not leaked, r.verdict


def _flat(value: object) -> list[float]:
    return [x for v in value for x in _flat(v)] if isinstance(value, tuple) else [value]


def test_result_says_what_and_where() -> None:
    db2 = grade_answer(SEED_BACKWARD, BACKWARD)[1]
    assert (db2.found, db2.found_values, db2.expected) == ("0.1662", 0.1662, "0.13850")
    assert db2.where == "boxed after its label"
    x1 = grade_answer("x1 = [0.593, 0.597]", FORWARD)[0]
    assert (x1.found_values, x1.expected, x1.where) == (
        (0.593, 0.597),
        "[0.59327, 0.59688]",
        "after its label",
    )
    assert x1.message == "[0.593, 0.597] matches [0.59327, 0.59688]"


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        (r"$\mathbf{x}^{(2)} \approx 0.751$", ["0.751"]),
        (r"\frac{\partial l}{\partial \mathbf{W}^{(2)}} = W_{11} + b_2 - x1", []),
        ("1. first\n2) second\n3. x2 = .751", [".751"]),
        (
            "6.68 \\times 10^{-4}, 6.68 \\cdot 10^{-4}, 6.68e-4, 6.68E-04, 6.68×10⁻⁴",
            ["6.68e-4"] * 3 + ["6.68E-04", "6.68e-4"],
        ),
        ("y = −0.5, [−1.5, 2]", ["-0.5", "-1.5", "2"]),
        (r"\frac{1}{2}(0.01 - 0.751)^2", ["1", "2", "0.01", "0.751"]),
    ],
    ids=[
        "label-digits",
        "no-values",
        "list-items",
        "scientific",
        "unicode-minus",
        "frac-and-power",
    ],
)
def test_read_numbers(text: str, numbers: list[str]) -> None:
    assert [n.text for n in read_numbers(text)] == numbers


def test_read_numbers_details() -> None:
    first, boxed = read_numbers(r"0.00522 and \boxed{0.60}")
    assert (first.value, first.sig_digits, first.boxed) == (0.00522, 3, False)
    assert (boxed.value, boxed.sig_digits, boxed.boxed) == (0.6, 2, True)


def test_the_solution_answers_are_the_question_worked_out() -> None:
    """handcalc.toml against Section 1 recomputed here: x = [0.05, 0.1], sigmoid layers, y = 0.01."""
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    x, y = np.array([0.05, 0.1]), 0.01
    W1, b1, W2, b2 = np.array([[0.15, 0.2], [0.25, 0.3]]), np.array([0.35, 0.35]), np.array([0.4, 0.45]), 0.6
    x1 = sigmoid(W1 @ x + b1)
    x2 = sigmoid(W2 @ x1 + b2)
    delta2 = (x2 - y) * x2 * (1 - x2)
    delta1 = delta2 * W2 * x1 * (1 - x1)
    worked = {
        "x1": x1, "x2": x2, "loss": 0.5 * (y - x2) ** 2,
        "dW2": delta2 * x1, "db2": delta2, "dW1": np.outer(delta1, x), "db1": delta1,
    }  # fmt: skip
    assert set(ANSWERS) == set(worked)
    for name, value in worked.items():
        np.testing.assert_allclose(np.array(ANSWERS[name]), value, rtol=5e-5, err_msg=name)


def test_the_package_holds_no_correct_value() -> None:
    """Students install the package (with the starter and the templates): the values come from
    the solution folder only, and no example in a comment gives one away either."""
    assert all(q.expected is None for q in handcalc.FORWARD + handcalc.BACKWARD)
    shipped = [p for d in ("grader", "templates", "assignment") for p in (SOLUTIONS.parent / d).rglob("*.*")]
    texts = {p: p.read_text(encoding="utf-8") for p in shipped if p.suffix in (".py", ".j2", ".ipynb", ".toml")}
    assert len(texts) > 30
    for value in (v for answer in ANSWERS.values() for v in _flat(answer)):
        for written in {format(value, "#.5g"), format(value, ".4g"), format(value, ".3g")}:
            assert not [p for p, text in texts.items() if written in text], written
    with pytest.raises(ValueError, match="no correct value for x1, x2, loss"):
        grade_answer("x1 = [0.1, 0.2]", handcalc.FORWARD)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x1 = [0.5, 0.6]\nx2 = 0.7", "missing loss, dW2, db2, dW1, db1"),
        ("x3 = 1\n" + "\n".join(f"{n} = 1" for n in ANSWERS), "unknown key(s) x3"),
        ("\n".join(f"{n} = 1" for n in ANSWERS).replace("x2 = 1", 'x2 = "0.75"'), "x2: '0.75' is not a number"),
        ("\n".join(f"{n} = 1" for n in ANSWERS).replace("dW1 = 1", "dW1 = [[1, 2], [3]]"), "equally long"),
        ("x1 = [", "not valid TOML"),
    ],
    ids=["missing", "unknown", "not-a-number", "ragged-matrix", "bad-toml"],
)
def test_load_answers_names_the_file_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / handcalc.ANSWERS_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"handcalc\.toml: ") as caught:
        load_answers(path)
    assert problem in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read the correct Section 1 values"):
        load_answers(tmp_path / "absent.toml")
