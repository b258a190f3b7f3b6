"""The START/END YOUR CODE HERE regions of the homework's code.

A region looks like this in `neural_net.py` and in the notebook's code cells::

    # ===== #
    # START YOUR CODE HERE:
    # ===== #
    #   instructions for the student (the region's leading comments)
    ... the solution ...
    # ===== #
    # END YOUR CODE HERE
    # ===== #

The `# ===== #` rulers belong to the markers. Two stages read regions: `generate`
strips each region's solution (keeping its leading instruction comments) and
`checks.integrity` compares what lies *outside* the regions with the starter.
Both go through `find_regions`, so they agree on what a region is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import MarkerError

__all__ = ["Region", "find_regions", "outside_regions", "strip_solutions"]

_START = re.compile(r"^\s*#\s*START YOUR CODE HERE:?\s*$")
_END = re.compile(r"^\s*#\s*END YOUR CODE HERE:?\s*$")
_RULER = re.compile(r"^\s*#\s*=+\s*#?\s*$")
# A comment that reads like a marker but is none ("# Start your code here"): in the
# solution it would leave a region unmarked, and its code in the starter.
_NEAR_MARKER = re.compile(r"^\s*#.*\b(?:START|END|BEGIN)\s+(?:OF\s+)?YOUR\s+CODE(?:\s+HERE)?\b", re.IGNORECASE)
_COMMENT_OR_BLANK = re.compile(r"^\s*(#.*)?$")


@dataclass(frozen=True)
class Region:
    """One region, as 0-based line indices into the source's lines.

    `body` is the half-open range of lines between the START marker (and its
    ruler) and the END marker (and the ruler before it): the part a student fills.
    """

    start: int  # index of the START line
    end: int  # index of the END line
    body: range

    def instructions(self, lines: Sequence[str]) -> list[str]:
        """The region's leading comment lines: instructions that stay in the starter."""
        kept: list[str] = []
        for i in self.body:
            if not _COMMENT_OR_BLANK.match(lines[i]):
                break
            kept.append(lines[i])
        while kept and not kept[-1].strip():
            kept.pop()
        return kept

    def indent(self, lines: Sequence[str]) -> str:
        """Indentation for a `pass` in this region: that of its first code line, else the marker's."""
        for i in self.body:
            if not _COMMENT_OR_BLANK.match(lines[i]):
                return _leading_space(lines[i])
        return _leading_space(lines[self.start])


def _leading_space(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def find_regions(source: str, path: str = "<source>", first_line: int = 1) -> list[Region]:
    """Every START/END region of `source`, in order.

    Raises `MarkerError` naming `path` and the 1-based line (counted from `first_line`)
    for a START without END, a START inside a region, or an END without START.
    """
    lines = source.splitlines()
    regions: list[Region] = []
    open_at: int | None = None
    for i, line in enumerate(lines):
        if _START.match(line):
            if open_at is not None:
                raise MarkerError(
                    path,
                    first_line + i,
                    "START YOUR CODE HERE inside the region opened at line "
                    f"{first_line + open_at}: close that one with END YOUR CODE HERE first",
                )
            open_at = i
        elif _END.match(line):
            if open_at is None:
                raise MarkerError(path, first_line + i, "END YOUR CODE HERE without a START YOUR CODE HERE before it")
            body_start = open_at + 1
            if body_start < i and _RULER.match(lines[body_start]):
                body_start += 1
            body_end = i
            if body_end > body_start and _RULER.match(lines[body_end - 1]):
                body_end -= 1
            regions.append(Region(open_at, i, range(body_start, body_end)))
            open_at = None
    if open_at is not None:
        raise MarkerError(path, first_line + open_at, "START YOUR CODE HERE is never closed by END YOUR CODE HERE")
    return regions


def strip_solutions(source: str, path: str = "<source>") -> str:
    """`source` with each region's solution replaced by its instructions and a `pass`.

    A comment that looks like a marker but is not one exactly is a MarkerError: the
    solution after it would otherwise reach the starter unnoticed.
    """
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if _NEAR_MARKER.match(line) and not (_START.match(line) or _END.match(line)):
            raise MarkerError(
                path,
                i + 1,
                f"{line.strip()!r} looks like a marker but is not one; write "
                "'# START YOUR CODE HERE:' or '# END YOUR CODE HERE' exactly",
            )
    out: list[str] = []
    cursor = 0
    for region in find_regions(source, path):
        out.extend(lines[cursor : region.body.start])
        out.extend(region.instructions(lines))
        out.append(region.indent(lines) + "pass")
        cursor = region.body.stop
    out.extend(lines[cursor:])
    text = "\n".join(out)
    return text + "\n" if source.endswith("\n") else text


def outside_regions(source: str, path: str = "<source>") -> list[str]:
    """The lines outside every region (markers kept, bodies dropped), right-stripped.

    Two sources whose `outside_regions` are equal differ only inside the regions.
    """
    lines = source.splitlines()
    out: list[str] = []
    cursor = 0
    for region in find_regions(source, path):
        out.extend(lines[cursor : region.body.start])
        cursor = region.body.stop
    out.extend(lines[cursor:])
    return [line.rstrip() for line in out]
