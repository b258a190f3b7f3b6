"""Section 1 (hand calculation): read the numbers out of a student's answer and mark each quantity.

Students answer in Markdown cells, in every style: plain text, inline or display LaTeX,
``\\boxed{}``, ``bmatrix``, ``1.23 \\times 10^{-4}``, decimal commas (``0,4321``), bullets, whole
lines of work before the result. Reading one answer is five steps, in this order in the file
(the quantities and their labels are in `quantities`):

1. ``_normalise``: LaTeX and unicode into one plain form. Matrices become nested ``[..]`` lists,
   ``\\frac{a}{b}`` becomes ``(a)/(b)``, scientific notation becomes ``1.23e-4``, ``\\boxed{..}``
   becomes ``⟦..⟧`` and every super/subscript becomes ``^{..}`` / ``_{..}``, so that the digits
   of ``x^{(2)}`` or ``W_{11}`` are never read as values.
2. ``_label_spans``: where each quantity is named (``∂l/∂W^{2}``, ``x1``, ``loss`` ...).
3. ``_lex`` and ``_group``: tokens; a bracket holding only numbers becomes one value.
4. ``_attribute``: every line is a chain ``a = b ≈ c``. A value belongs to the quantity whose
   label is the subject of the chain; the last one of the chain is its final value.
5. ``_judge``: the chosen value against the correct one, with a relative tolerance.

A quantity whose label cannot be found is still right when its correct value is an
*unlabelled final value* (``δ⁽²⁾ = 0.1234`` answers ∂l/∂b⁽²⁾), and a vector may be written
entry by entry after its label (``h1 = 0.4321, h2 = 0.4567``). A value written for another
quantity, or used as an operand in the work, never counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from .quantities import BACKWARD, FORWARD, OTHER_NAMES, Expected, Quantity, render_value

__all__ = ["Number", "QuantityResult", "grade_answer", "read_numbers"]


@dataclass(frozen=True)
class Number:
    """One number as the student wrote it."""

    text: str  # as written, normalised: "1.23e-4" for "1.23 \times 10^{-4}", "-" for "−"
    value: float
    sig_digits: int  # significant digits written: "0.00522" has 3, "0.60" has 2
    pos: int  # offset into the normalised text
    boxed: bool  # inside \boxed{} or **bold**


Found: TypeAlias = "Number | tuple[Found, ...]"


@dataclass(frozen=True)
class QuantityResult:
    """The verdict on one quantity: what was found, where, and whether it is right."""

    quantity: Quantity
    found: str | None  # the value as written ("[0.0986, 0.0992]"), None when nothing was found
    found_values: float | tuple | None
    correct: bool
    message: str  # one line for the TA, with the correct value: "0.1481 ≠ 0.12340 (20% off)"
    where: str = ""  # "after its label", "boxed after its label", "unlabelled final value"
    problem: str = ""  # what is wrong, without the correct value: "is transposed", "is wrong"

    @property
    def verdict(self) -> str:
        """One line for the student that never reveals the correct value."""
        if self.found is None:
            return f"no value found for {self.quantity.label}"
        if self.correct:
            return f"{self.quantity.label} = {self.found}: right"
        return f"{self.quantity.label} = {self.found} {self.problem or 'is wrong'}"

    @property
    def expected(self) -> str:
        """The correct value to 5 significant digits."""
        return self.quantity.expected_text


# ---------------------------------------------------------------- 1. normalising the text

_NUM = r"(?:\d+\.?\d*|\.\d+)"
_EXP = r"10\s*\^\s*(?:\{\s*([-+]?\d+)\s*\}|\(\s*([-+]?\d+)\s*\)|([-+]?\d+))"
_GROUP = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # a bracket, one level of nesting
_ARG = r"\s*\{((?:[^{}]|\{[^{}]*\})*)\}"  # a brace argument, one level of nesting
_SUP, _SUB = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ᵀ", "₀₁₂₃₄₅₆₇₈₉₊₋₍₎"
_SCRIPT_CHARS = str.maketrans(_SUP + _SUB, "0123456789+-()T0123456789+-()")
_PAIRS = {"\r\n": "\n", "−": "-", r"\_": "_", r"\*": "*", "~=": "≈", "=~": "≈", "=>": "⇒",
          "->": "⇒", "~": " ", "≃": "≈", "≅": "≈", "→": "⇒", "⋅": "·"}  # fmt: skip
_SYMBOLS = {  # LaTeX commands that stand for a symbol the rest of the module understands
    "approx simeq sim cong thickapprox doteq": "≈", "partial": "∂", "times": "×", "ast": "*",
    "Rightarrow implies Longrightarrow rightarrow to": "⇒", "cdot bullet": "·", "delta": "δ",
    "Delta": "Δ", "sigma": "σ", "nabla": "∇", "ell": "l", "prime": "'", "top intercal": "T",
    "neq ne": "≠", "lbrack": "[", "rbrack": "]", "quad qquad": " ; ",  # \quad separates statements
}  # fmt: skip
_SYMBOL = {name: symbol for names, symbol in _SYMBOLS.items() for name in names.split()}
_UNWRAP = r"mathbf|boldsymbol|bm|math[a-z]{2,4}|text[a-z]{0,2}|mbox|operatorname|vec|emph|underline|overrightarrow|(?:wide)?hat|tilde|bar"  # noqa: E501
_Rewrite: TypeAlias = "tuple[str, str | Callable[[re.Match[str]], str]]"


def _matrix(m: re.Match[str]) -> str:
    """A LaTeX matrix as a bracket list; a one-column matrix is a vector, like a one-row one."""
    rows = [[c.strip() for c in r.replace(r"\hline", "").split("&")] for r in re.split(r"\\\\", m[2])]
    rows = [r for r in rows if any(r)]
    if len(rows) == 1 or all(len(r) == 1 for r in rows):
        return "[" + ", ".join(c for r in rows for c in r) + "]"
    return "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]"


def _scale(m: re.Match[str]) -> str:
    """``[1.23, 4.56] \\times 10^{-4}``: the power of ten goes into every entry."""
    power = int(next(g for g in m.groups()[1:7] if g))
    one = lambda n: f"{n[1]}e{power + int(n[2] or 0)}"  # noqa: E731
    return re.sub(rf"(?<![\w.])({_NUM})(?:[eE]([-+]?\d+))?", one, m[1] or m[8])


_BEFORE: tuple[_Rewrite, ...] = (  # applied in order, before the commands with brace arguments
    # A decimal comma (0,5933): every quantity here is below 1, so "0," then digits is one.
    (r"(?<![\d.,])0,(\d{2,})(?![\d,])", r"0.\1"),
    (f"[{_SUP}]+", lambda m: "^{" + m[0].translate(_SCRIPT_CHARS) + "}"),  # x⁽¹⁾, 10⁻⁴
    (f"[{_SUB}]+", lambda m: "_{" + m[0].translate(_SCRIPT_CHARS) + "}"),
    (r"\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])", ""),
    (r"(?s)\\begin\{([pbBvV]?matrix\*?|smallmatrix|array)\}(?:\{[^{}]*\})?(.*?)\\end\{\1\}", _matrix),
    (r"\\(?:begin|end)\{(?:aligned|align|split|gathered|gather|eqnarray|cases)\*?\}", ""),
    (r"\\\\(?:\[[^\]]*\])?\s*\n?", "\n"),  # a line break of aligned, after the matrices
    (r"\\[\[\]()]|[$`&]|(?<!\\)\\[,;:!> ]", " "),  # math delimiters, alignment, spacing
    (rf"\\({'|'.join(sorted(_SYMBOL, key=len, reverse=True))})(?![A-Za-z])", lambda m: _SYMBOL[m[1]]),
    (r"\\(?:wide)?hat\s*(?:\{\s*y\s*\}|y(?![A-Za-z]))", "ŷ"),
)  # fmt: skip
_COMMANDS: tuple[_Rewrite, ...] = (  # repeated until nothing changes: inner ones first
    (rf"\\(?:{_UNWRAP})(?![A-Za-z]){_ARG}|\\(?:{_UNWRAP})\s+([A-Za-z])", lambda m: m[1] or m[2]),
    (rf"\\[dt]?frac{_ARG}{_ARG}", r"(\1)/(\2)"),
    (r"\\[dt]?frac\s*(\d)(\d)", r"(\1)/(\2)"),  # \frac12
    (rf"\\(?:boxed|fbox|bbox){_ARG}", r"⟦\1⟧"),
)  # fmt: skip
_AFTER: tuple[_Rewrite, ...] = (
    (r"\*\*([^*\n]*?\d[^*\n]*?)\*\*", r"⟦\1⟧"),  # a bold number is a final answer, like \boxed
    (r"\*\*(.+?)\*\*", r"\1"),
    (rf"(?<![\w.])({_NUM})\s*(?:×|·|\*|x|X)\s*{_EXP}", lambda m: f"{m[1]}e{m[2] or m[3] or m[4]}"),
    (rf"({_GROUP})\s*(?:×|·|\*)?\s*{_EXP}|{_EXP}\s*(?:×|·|\*)?\s*({_GROUP})", _scale),
    # Super/subscripts: ^(1), ^{(1)}, ^{[1]}, ^1, _11, _{h1} all become ^{1} / _{..} so that
    # one label pattern fits every spelling and the lexer can skip the digits inside them.
    (r"([\^_])\s*\{\s*[(\[]\s*([^(){}\[\]]*?)\s*[)\]]\s*\}", r"\1{\2}"),
    (r"([\^_])\s*[(\[]\s*([^(){}\[\]]*?)\s*[)\]]", r"\1{\2}"),
    (r"\^\s*([-+]?\d+|[A-Za-z'])", r"^{\1}"),
    (r"_\s*([A-Za-z0-9]+)", r"_{\1}"),
    (r"([\^_])\{([^{}]*)\}", lambda m: m[1] + "{" + re.sub(r"\s+", "", m[2]) + "}"),
    (_GROUP, lambda m: m[0].replace("\n", " ")),  # a matrix typed over several lines
    (r"(?m)^[ \t]*(?:(?:[-*+•>]|#{1,6}|\(?\d{1,2}[.)]|\(?[a-h][.)])(?=\s|$)[ \t]*)+", ""),
    (r"(?m)^[ \t]*\d{1,2}[ \t]+(?=\([A-Za-z])", ""),  # "2 (Doing one calc for all ...)"
    (r"(?m)(^|[=≈⇒:,;(\[⟦])[ \t]*([-+])[ \t]*(?=\.?\d)", r"\1\2"),  # a sign, not a minus: "= -0.5"
)  # fmt: skip


def _normalise(text: str) -> str:
    """The answer in one plain form; see the module docstring for what becomes what."""
    for old, new in _PAIRS.items():
        text = text.replace(old, new)
    for pattern, replacement in _BEFORE:
        text = re.sub(pattern, replacement, text)
    previous = None
    while previous != text:
        previous = text
        for pattern, replacement in _COMMANDS:
            text = re.sub(pattern, replacement, text)
    for pattern, replacement in _AFTER:
        text = re.sub(pattern, replacement, text)
    return text


# ---------------------------------------------------------------- 2. labels


def _label_spans(text: str, quantities: Sequence[Quantity]) -> list[tuple[int, int, str | None]]:
    """Non-overlapping (start, end, quantity name or None) of every label in `text`.

    All known quantities are looked for, not only the graded ones: x⁽¹⁾ restated in the backward
    work must be recognised as x⁽¹⁾ so that its values never answer a backward question.
    """
    graded = {q.name for q in quantities}
    known = [*quantities, *(q for q in FORWARD + BACKWARD if q.name not in graded)]
    table = [*((q.name, q.patterns) for q in known), (None, OTHER_NAMES)]
    found = []
    for rank, (name, patterns) in enumerate(table):
        for m in (m for p in patterns for m in re.finditer(p, text) if m[0].strip()):
            start = m.start() + len(m[0]) - len(m[0].lstrip())  # not the spaces at its ends
            found.append((start, rank, -(start + len(m[0].strip())), name))
    spans: list[tuple[int, int, str | None]] = []
    for start, _, end, name in sorted(found, key=lambda f: f[:3]):  # leftmost, named first, longest
        if not spans or start >= spans[-1][1]:
            spans.append((start, -end, name))
    return spans


# ---------------------------------------------------------------- 3. tokens and values

_TOKEN = re.compile(
    r"(?P<nl>\n)|(?P<box>[⟦⟧])|(?P<script>[\^_]\{[^{}\n]*\})|(?P<version>\d+(?:\.\d+){2,})"
    rf"|(?P<num>(?:(?<![^\n=≈⇒:,;(\[⟦])[-+])?{_NUM}(?:[eE][-+]?\d+)?)|(?P<word>[A-Za-z][A-Za-z0-9]*)"
    r"|(?P<ws>[ \t\f\v{}!?|\"]+|\.(?!\d))|(?P<rel>[=≈⇒≡:])|(?P<open>[(\[])|(?P<close>[)\]])"
    r"|(?P<sep>[,;])|(?P<ident>[α-ωΑ-Ωŷ])|(?P<op>.)"
)
_REL_WORDS = re.compile(r"(?i)is|are|was|equals?|becomes|gives|get|got|yields")  # "x1 is [..]"
_FUNCTIONS = re.compile(r"(?i)exp|log|ln|sqrt|sigmoid|sigma|tanh|relu|max|min")


@dataclass(frozen=True)
class _Item:
    kind: str  # value label word ident op rel open close sep script nl
    text: str = ""
    payload: Found | None = None  # for values
    name: str | None = None  # for labels


def _number(text: str, pos: int, boxed: bool) -> Number:
    mantissa = re.split("[eE]", text.lstrip("+-"))[0]
    digits = mantissa.replace(".", "").lstrip("0")
    if "." not in mantissa:  # trailing zeros of an integer are not significant
        digits = digits.rstrip("0") or digits
    return Number(text, float(text), len(digits), pos, boxed)


def _lex(text: str, spans: list[tuple[int, int, str | None]]) -> list[_Item]:
    items: list[_Item] = []
    pos, boxed, k = 0, 0, 0
    while pos < len(text):
        if k < len(spans) and spans[k][0] == pos:
            items.append(_Item("label", text[pos : spans[k][1]], name=spans[k][2]))
            pos, k = spans[k][1], k + 1
            continue
        m = _TOKEN.match(text, pos, spans[k][0] if k < len(spans) else len(text))
        assert m is not None  # the last alternative matches any character
        kind, tok, pos = m.lastgroup or "op", m[0], m.end()
        if kind == "box":
            boxed = max(0, boxed + (1 if tok == "⟦" else -1))
        elif kind == "num":
            items.append(_Item("value", tok, _number(tok, m.start(), boxed > 0)))
        elif kind == "word":  # "is" relates, "and" lists ("0.4321 and 0.4567"), "exp" computes
            kind = "rel" if _REL_WORDS.fullmatch(tok) else "sep" if tok.lower() == "and" else "word"
            kind = "op" if _FUNCTIONS.fullmatch(tok) else kind
            items.append(_Item("ident" if len(tok) == 1 or tok[-1].isdigit() else kind, tok))
        elif kind != "ws":
            items.append(_Item("op" if kind == "version" else kind, tok))
    return items


def _group(line: list[_Item]) -> list[_Item]:
    """Brackets and parentheses holding only numbers become one value item."""
    stack: list[list[_Item]] = [[]]
    for item in line:
        if item.kind == "open":
            stack.append([item])
        elif item.kind == "close" and len(stack) > 1:
            opener, *body = stack.pop()
            value = _pure(body, opener.text)
            if value is None:
                stack[-1] += [_Item("op", opener.text), *body, _Item("op", item.text)]
            else:
                stack[-1].append(_Item("value", payload=value))
        else:
            stack[-1].append(_Item("op", item.text) if item.kind == "close" else item)
    while len(stack) > 1:  # an unclosed bracket is just a symbol
        opener, *body = stack.pop()
        stack[-1] += [_Item("op", opener.text), *body]
    return stack[0]


def _pure(body: list[_Item], opener: str) -> Found | None:
    if not body or any(i.kind not in ("value", "sep") for i in body):
        return None
    rows: list[list[Found]] = [[]]
    for item in body:
        if item.kind == "value":
            rows[-1].append(item.payload)  # type: ignore[arg-type]
        elif item.text == ";":  # [a, b; c, d] is a matrix, MATLAB style
            rows.append([])
    rows = [r for r in rows if r]
    if len(rows) != 1:
        return tuple(tuple(r) if len(r) > 1 else r[0] for r in rows) if rows else None
    return rows[0][0] if opener == "(" and len(rows[0]) == 1 else tuple(rows[0])


# ---------------------------------------------------------------- 4. who each value belongs to


@dataclass
class _Candidate:
    subject: str | None  # the quantity whose label the value follows; None when unlabelled
    value: Found
    boxed: bool
    final: bool = True  # last of its chain: nothing but another label follows it


@dataclass(frozen=True)
class _Segment:
    kind: str  # "value", "label" (only labels and prose), "other" (an expression, an unknown name)
    labels: tuple[str | None, ...] = ()  # labels before the value
    value: Found | None = None
    tail_labels: tuple[str | None, ...] = ()  # labels after it: "0.321, x2 = ..."
    tail_symbol: bool = False  # a symbol after it: "[0.432, 0.457], z2 = ..."


def _classify(seg: list[_Item]) -> _Segment:
    """What one piece of a chain ``a = b ≈ c`` is."""
    kinds = [i.kind for i in seg]
    if "value" not in kinds:
        labels = tuple(i.name for i in seg if i.kind == "label")
        ok = labels and set(kinds) <= {"label", "word", "sep", "script"}
        return _Segment("label", labels) if ok else _Segment("other")
    i = next((i for i, item in enumerate(seg) if item.kind not in ("word", "label")), len(seg))
    lead = tuple(item.name for item in seg[:i] if item.kind == "label")  # "x1 [..]", "approx 0.5"
    if i == len(seg) or seg[i].kind != "value":
        return _Segment("other")
    values, i = [seg[i].payload], i + 1
    while i + 1 < len(seg) and seg[i].kind == "sep" and seg[i + 1].kind == "value":
        values, i = [*values, seg[i + 1].payload], i + 2  # "x1 ≈ 0.432, 0.457"
    tail = seg[i + 1 :] if i < len(seg) and seg[i].text == "^{T}" else seg[i:]
    # A value followed directly by an operator or a symbol is an operand ("0.1234 * x1",
    # "0.1234 x^{1}"); after a comma, a word or a parenthesised remark it is a result.
    remark = tail and tail[0].text == "(" and any(t.kind == "word" for t in tail)
    if tail and tail[0].kind not in ("sep", "word") and not remark:
        return _Segment("other")
    # Values side by side: scalars make a vector, rows of one length a matrix; mixed is work.
    value = values[0] if len(values) == 1 else tuple(values)
    if len({_shape(v) for v in values}) > 1:
        return _Segment("other")
    symbol = any(t.kind in ("ident", "script", "op") for t in tail)
    return _Segment("value", lead, value, tuple(t.name for t in tail if t.kind == "label"), symbol)


def _attribute(items: list[_Item]) -> list[_Candidate]:
    """Every value that stands as a result, with the quantity it was written for."""
    lines: list[list[_Item]] = [[]]
    for item in items:
        lines.append([]) if item.kind == "nl" else lines[-1].append(item)
    found: list[_Candidate] = []
    subject: str | None = None
    pending: _Candidate | None = None  # the latest value of the current chain
    dangling = False  # the line before ended with "=": its value may be on this line
    for line in map(_group, lines):
        if not line:
            continue
        segments: list[list[_Item]] = [[]]
        for item in line:
            segments.append([]) if item.kind == "rel" else segments[-1].append(item)
        if line[0].kind != "rel" and not (dangling and _classify(segments[0]).kind == "value"):
            subject, pending = None, None  # a new statement
        for n, s in ((n, _classify(seg)) for n, seg in enumerate(segments) if seg):
            if s.kind == "label":
                subject, pending = s.labels[-1], None
                continue
            if s.labels:  # "x1 [0.432, 0.457]": a label and its value without a relation
                subject, pending = s.labels[-1], None
            if pending:  # more after a value: that value was not the result
                pending.final, pending = False, None
            if s.kind == "other":
                continue  # labels inside work are operands, never the subject
            boxed = any(n.boxed for n in _leaves(s.value))  # type: ignore[arg-type]
            pending = _Candidate(subject, s.value, boxed)  # type: ignore[arg-type]
            found.append(pending)
            if s.tail_labels:
                subject, pending = s.tail_labels[-1], None
            elif s.tail_symbol and n < len(segments) - 1:  # something else is being defined
                subject, pending = None, None
        dangling = line[-1].kind == "rel"
    return found


# ---------------------------------------------------------------- 5. right or wrong

# The question's data (W1, W2, b1, b2, x0, y): no answer equals any of these.
_GIVEN = frozenset({0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.35, 0.6, 0.05, 0.1, 0.01})


def _leaves(value: Found | float | tuple) -> list:
    return [x for v in value for x in _leaves(v)] if isinstance(value, tuple) else [value]


def _squeeze(value: Found) -> Found:
    """``[0.321]`` is 0.321, ``[[0.432], [0.457]]`` is a vector."""
    if not isinstance(value, tuple):
        return value
    value = tuple(_squeeze(v) for v in value)
    return value[0] if len(value) == 1 else value


def _shape(value: object) -> tuple[int, ...]:
    if not isinstance(value, tuple):
        return ()
    inner = {_shape(v) for v in value}
    return (len(value), *inner.pop()) if len(inner) == 1 else (len(value), -1)


def _describe(shape: tuple[int, ...]) -> str:
    if len(shape) < 2:
        return f"a vector of {shape[0]} numbers" if shape else "a single number"
    return "a matrix" if -1 in shape else f"a {shape[0]}×{shape[1]} matrix"


def _values(value: Found) -> float | tuple:
    return tuple(_values(v) for v in value) if isinstance(value, tuple) else value.value


def _pct(off: float) -> str:
    return f"{off:.0%}" if off >= 0.1 else f"{off:.1%}"


def _errors(found: Found, expected: Expected, rtol: float) -> list[tuple[float, str | None]]:
    """Per entry: the relative error and why it is wrong (None when it is right).

    An entry is right within `rtol`, or when it is the correct value rounded to the digits
    written: 0.13 for 0.13481 is hand rounding (3.6% off), 0.14 is not.
    """
    out = []
    for s, v in zip(_leaves(found), _leaves(expected), strict=True):
        off = abs(s.value - v) / abs(v) if v else abs(s.value)  # absolute when 0 is expected
        rounded = abs(s.value - v) <= _half_unit(s) * (1 + 1e-9)
        if s.sig_digits < 2:  # "0.4" for 0.43210 is a guess, not a calculation
            out.append((off, f"has only {s.sig_digits} significant digit"))
        else:
            out.append((off, None if off <= rtol * (1 + 1e-9) or rounded else f"is {_pct(off)} off"))
    return out


def _half_unit(n: Number) -> float:
    """Half a unit in the last digit written: 0.005 for "0.27", 5e-6 for "6.7e-4"."""
    mantissa, _, exponent = n.text.lstrip("+-").lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def _judge(found: Found, q: Quantity, rtol: float) -> tuple[bool, str, str]:
    """Whether `found` is `q`'s correct value, a one-line message saying so (with the
    correct value), and what is wrong in words that do not give the correct value away."""
    found = _squeeze(found)
    text, want, shape = render_value(found), q.expected_text, _shape(q.expected)
    if _shape(found) != shape:
        return (
            False,
            f"{text} is {_describe(_shape(found))}, but {q.label} is {_describe(shape)}",
            f"is {_describe(_shape(found))}, not {_describe(shape)}",
        )
    errors = _errors(found, q.expected, rtol)
    # Reversed vector, transposed matrix. The entries of x⁽¹⁾ (and of ∂l/∂W⁽²⁾) are within
    # 1% of each other, so a swap must be told by which reading fits better, not by which fits.
    if shape and shape[0] > 1:
        other = found[::-1] if len(shape) == 1 else tuple(zip(*found, strict=True))  # type: ignore[misc]
        alt = _errors(other, q.expected, rtol)
        if all(w is None for _, w in alt) and sum(e for e, _ in alt) < sum(e for e, _ in errors):
            how = "has the entries of {} swapped" if len(shape) == 1 else "is the transpose of {}"
            problem = "has its entries swapped" if len(shape) == 1 else "is transposed"
            return False, f"{text} {how.format(q.label)} (expected {want})", problem
    reasons = [why for _, why in errors if why]
    if not reasons:
        return True, f"{text} matches {want}", ""
    if len(reasons) == len(errors) and all(why.startswith("has ") for why in reasons):
        digits = "is written to fewer than 2 significant digits"
        return False, f"{text} {digits} (expected {want})", digits
    if len(reasons) == len(errors) and all(why.startswith("is ") for why in reasons):
        spread = "" if len({_pct(e) for e, _ in errors}) == 1 else "up to "
        return False, f"{text} ≠ {want} ({spread}{_pct(max(e for e, _ in errors))} off)", "is wrong"
    cols = shape[1] if len(shape) == 2 else 0
    names = [f"({i // cols + 1}, {i % cols + 1})" if cols else f"{i + 1}" for i in range(len(errors))]
    entries = list(zip(names, _leaves(found), errors, strict=True))
    wrong = [f"entry {n} ({s.text}) {why}" for n, s, (_, why) in entries if why]
    right = [n for n, _, (_, why) in entries if not why]
    plural = "entry" if len(right) == 1 else "entries"
    tail = f"; {plural} {', '.join(right)} right" if right else ""
    wrong_names = ", ".join(n for n, _, (_, why) in entries if why)
    return False, f"{text} ≠ {want}: {'; '.join(wrong)}{tail}", f"is wrong in entry {wrong_names}"


def _unlabelled(q: Quantity, eligible: list[_Candidate], rtol: float) -> Found | None:
    """The correct value of `q` among the unlabelled final values, if it is there.

    Either one value (``δ⁽²⁾ = 0.1234``) or, for a vector or matrix, its entries as consecutive
    scalar results (``∂l/∂W_{11} = 0.000123``, ``∂l/∂W_{12} = 0.000246``, ... in row order).
    """
    for c in eligible:
        if _judge(c.value, q, rtol)[0]:
            return c.value
    size, width = len(_leaves(q.expected)), (*_shape(q.expected), 0, 0)[1]
    scalars = [c.value if isinstance(c.value, Number) else None for c in eligible]
    for i in range(len(scalars) - size + 1 if size > 1 else 0):
        window: Found = tuple(scalars[i : i + size])  # type: ignore[arg-type]
        window = tuple(window[j : j + width] for j in range(0, size, width)) if width else window
        if all(scalars[i : i + size]) and _judge(window, q, rtol)[0]:
            return window
    return None


def _result(q: Quantity, value: Found, verdict: tuple[bool, str, str], where: str) -> QuantityResult:
    ok, message, problem = verdict
    return QuantityResult(q, render_value(_squeeze(value)), _values(value), ok, message, where, problem)


def _grade_one(q: Quantity, found: list[_Candidate], rtol: float) -> QuantityResult:
    own = [c for c in found if c.subject == q.name]
    if own:  # a boxed value first, then the last final value, then the last value at all
        pick = next((c for c in reversed(own) if c.boxed), None)
        pick = pick or next((c for c in reversed(own) if c.final), None) or own[-1]
        verdict = _judge(pick.value, q, rtol)
        where = "boxed after its label" if pick.boxed else "after its label"
        # x_2 = 0.1 is the input's second entry, not x⁽²⁾: given data never answers anything.
        given = all(n.value in _GIVEN for n in _leaves(pick.value))
        if verdict[0] or ((pick.boxed or pick.final) and not given):
            # "h1 = 0.4321, h2 = 0.4567": the label names the first entry; the rest follow it.
            after = [c for c in found[found.index(pick) + 1 :] if c.subject is None and (c.final or c.boxed)]
            entries = None if verdict[0] or _shape(pick.value) else _unlabelled(q, [pick, *after], rtol)
            if entries is not None:
                return _result(q, entries, _judge(entries, q, rtol), "entry by entry after its label")
            return _result(q, pick.value, verdict, where)
    # No labelled result, or only one in the middle of the work or restating given data: the
    # result may still be among the unlabelled ones.
    value = _unlabelled(q, [c for c in found if c.subject is None and (c.final or c.boxed)], rtol)
    if value is not None:
        ok, message, problem = _judge(value, q, rtol)
        return _result(q, value, (ok, message + " (found without its label)", problem), "unlabelled final value")
    if own:
        return _result(q, pick.value, verdict, where)
    return QuantityResult(q, None, None, False, f"no value found for {q.label}")


# ---------------------------------------------------------------- the public functions


def read_numbers(text: str) -> list[Number]:
    """Every number in an answer, in order, as values: not the digits of labels and list items.

    ``x^{(2)} ≈ 0.432`` gives one number, 0.432; ``1.23 \\times 10^{-4}`` gives 0.000123. An
    empty list is what the "Section 1 answer has no numbers" warning looks for.
    """
    canon = _normalise(text)
    items = _lex(canon, _label_spans(canon, FORWARD + BACKWARD))
    return [i.payload for i in items if i.kind == "value" and isinstance(i.payload, Number)]


def grade_answer(text: str, quantities: Sequence[Quantity], rtol: float = 0.01) -> tuple[QuantityResult, ...]:
    """Mark each of `quantities` in one answer cell's text (Markdown, LaTeX or plain).

    A student value s matches the correct v when ``|s - v| <= rtol * |v|`` and s is written with at
    least 2 significant digits; vectors must be in order and matrices the right way round.
    """
    unanswered = [q.name for q in quantities if q.expected is None]
    if unanswered:
        raise ValueError(f"no correct value for {', '.join(unanswered)}: see with_answers")
    canon = _normalise(text)
    found = _attribute(_lex(canon, _label_spans(canon, quantities)))
    return tuple(_grade_one(q, found, rtol) for q in quantities)
