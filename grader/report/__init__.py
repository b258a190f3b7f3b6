"""Reports: the HTML a student or an instructor reads, written from stored results.

`write_report` renders one student's page (`OUT/<student>/report.html`, or
`student-report.html` for the student view; `rerender` writes the student view beside,
never instead of, the instructor's report); `write_class_files` the class's files:
the summary page (`OUT/index.html`), the gradebook, and for the TA the free-text
answers question by question (`OUT/questions.html`) with their score sheet
(`OUT/questions.csv`). `rerender` does all of it for a graded folder without
regrading (after a template change or new manual scores). Grading calls the same
functions, so a fresh batch and a re-render look the same.

Inside: `render` turns results into view objects and HTML (the templates lay them out),
`files` writes the pages, `artifacts` and `plots` keep and draw what a run left (curves,
weights; `charts` draws the lines with Pillow), `histograms` the class summary's (matplotlib),
`console` prints the class as a table.
"""

from .artifacts import save_artifacts
from .files import (
    MODEL_ANSWERS,
    REFERENCE_FOLDER,
    RUBRIC_COPY,
    RenderStats,
    refresh_reports,
    report_is_current,
    rerender,
    result_digest,
    write_class_files,
    write_report,
)

__all__ = [
    "MODEL_ANSWERS",
    "REFERENCE_FOLDER",
    "RUBRIC_COPY",
    "RenderStats",
    "refresh_reports",
    "report_is_current",
    "rerender",
    "result_digest",
    "save_artifacts",
    "write_class_files",
    "write_report",
]
