"""Section 1, worked by hand: the quantities asked for (`quantities`) and the reader that finds a
student's value for each in a Markdown answer and marks it (`parse`). The check that scores them
is `checks.answers`.
"""

from .parse import Number, QuantityResult, grade_answer, read_numbers
from .quantities import ANSWERS_FILE, BACKWARD, FORWARD, Expected, Quantity, load_answers, with_answers

__all__ = [
    "ANSWERS_FILE",
    "BACKWARD",
    "FORWARD",
    "Expected",
    "Number",
    "Quantity",
    "QuantityResult",
    "grade_answer",
    "load_answers",
    "read_numbers",
    "with_answers",
]
