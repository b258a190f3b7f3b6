"""The written answers: Section 1's hand calculation (scored) and the free-text
questions (extracted for a TA, scored through the manual-scores file).

An answer cell is found by its metadata (`grader.answer`), else by the starter's
cell id, else as the Markdown written right after the question's cell: students'
Jupyter versions keep metadata and ids, but some students paste answers elsewhere.
"""

from __future__ import annotations

from nbformat import NotebookNode

from ..evidence import Evidence
from ..handcalc import BACKWARD, FORWARD, Quantity, grade_answer, read_numbers, with_answers
from ..notebooks import answer_role
from ..results import CheckResult
from ..rubric import CheckSpec
from .base import Context, Item, hidden_skipped, outcome

__all__ = ["CHECKS", "answer_text", "has_numbers"]


def _starter_neighbours(starter: NotebookNode, role: str) -> tuple[str | None, NotebookNode | None]:
    """The starter's answer-cell id for `role` and the cell just before it (the question)."""
    for index, cell in enumerate(starter.cells):
        if answer_role(cell) == role:
            return cell.get("id"), starter.cells[index - 1] if index else None
    return None, None


def _template(starter: NotebookNode | None, role: str) -> str:
    for cell in starter.cells if starter else []:
        if answer_role(cell) == role:
            return (cell.metadata["grader"].get("template") or "").strip()
    return ""


def answer_text(notebook: NotebookNode | None, starter: NotebookNode | None, role: str) -> str:
    """The student's answer for `role` (e.g. "handcalc.forward"), '' when there is none."""
    if notebook is None:
        return ""
    found = [c.source for c in notebook.cells if answer_role(c) == role]
    if not found and starter is not None:
        answer_id, question = _starter_neighbours(starter, role)
        found = [c.source for c in notebook.cells if c.cell_type == "markdown" and c.get("id") == answer_id]
        if not found and question is not None:
            found = _after_question(notebook, starter, question)
    text = "\n\n".join(found).strip()
    return "" if text == _template(starter, role) else text


def _after_question(notebook: NotebookNode, starter: NotebookNode, question: NotebookNode) -> list[str]:
    """The Markdown cells that follow the question's cell, up to the next starter cell."""
    starter_sources = {c.source.strip() for c in starter.cells}
    starter_ids = {c.get("id") for c in starter.cells}
    for index, cell in enumerate(notebook.cells):
        if cell.get("id") == question.get("id") or cell.source.strip() == question.source.strip():
            following = []
            for later in notebook.cells[index + 1 :]:
                if later.cell_type != "markdown" or later.get("id") in starter_ids:
                    break
                if later.source.strip() in starter_sources:
                    break
                following.append(later.source)
            return following
    return []


def has_numbers(text: str) -> bool:
    """Whether an answer holds any number at all (the self-check warns when not)."""
    return bool(read_numbers(text))


def _handcalc(spec: CheckSpec, evidence: Evidence, context: Context, quantities: tuple[Quantity, ...]) -> CheckResult:
    if not context.answers:  # a self-check: the correct values stay with the solution
        return hidden_skipped(spec)
    text = answer_text(evidence.notebook, context.starter_notebook, spec.id)
    if not text:
        return outcome(spec, [], "no answer found in the notebook")
    results = grade_answer(text, with_answers(quantities, context.answers), rtol=spec.tolerance or 0.01)
    # The values as numbers (the report shows differences and marks wrong entries); the
    # message keeps them as the student wrote them.
    items = [
        Item(r.quantity.label, r.correct, r.quantity.expected, r.found_values, r.message, hidden=True) for r in results
    ]
    right = sum(r.correct for r in results)
    # The message reaches students (Gradescope shows it): it must not give the answers away.
    wrong = "; ".join(r.verdict for r in results if not r.correct)
    message = f"{right}/{len(results)} quantities right" + (f": {wrong}" if wrong else "")
    return outcome(spec, items, message + " (a TA may adjust this after reading the work)")


def check_forward(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """x⁽¹⁾, x⁽²⁾ and the loss, read from the forward-pass answer."""
    return _handcalc(spec, evidence, context, FORWARD)


def check_backward(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """The four gradients, read from the backward-pass answer."""
    return _handcalc(spec, evidence, context, BACKWARD)


def check_question(spec: CheckSpec, evidence: Evidence, context: Context) -> CheckResult:
    """A free-text answer, extracted for the TA; pending until a manual score arrives."""
    text = answer_text(evidence.notebook, context.starter_notebook, spec.id)
    item = Item("answer", bool(text), observed=text)
    if not text:
        return outcome(spec, [item], "no answer written", status="failed", fraction=0.0)
    return outcome(spec, [item], "awaiting manual grading", status="pending", fraction=0.0)


CHECKS = {
    "handcalc.forward": check_forward,
    "handcalc.backward": check_backward,
    "questions.underfitting": check_question,
    "questions.tuning": check_question,
    "questions.weights": check_question,
    "questions.test": check_question,
}
