"""Intake: every accepted submission layout, built from the real reference files, and its problems;
and a group submission graded once for all its members.

Also `execute.load_submitted`, which turns a submission's bytes into the notebook and module the
grader runs, with a note for each repair and a problem for each unreadable part.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader import grading, intake
from grader.errors import ConfigError, SubmissionError
from grader.execute import load_submitted
from grader.gradebook import ManualScore
from grader.grading import grade_batch, open_course
from grader.intake import Homework, Submission, discover, read_submission
from grader.results import CheckResult, SubmissionResult, read_result, write_result
from grader.rubric import load_rubric

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = (REPO / "solutions" / "toy_nn.ipynb").read_bytes()
MODULE = (REPO / "solutions" / "hw3code" / "neural_net.py").read_bytes()
RUBRIC = load_rubric(REPO / "solutions" / "rubric.toml")


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def zip_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(files))
    return path


def homework(prefix: str = "") -> dict[str, bytes]:
    """A complete submission's files, optionally inside a top folder `prefix`."""
    return {f"{prefix}toy_nn.ipynb": NOTEBOOK, f"{prefix}hw3code/neural_net.py": MODULE}


def assert_complete(sub: Submission, student: str) -> None:
    assert sub.student == student
    assert sub.notebook == NOTEBOOK
    assert sub.module == MODULE
    assert sub.problems == ()


# ---------------------------------------------------------------- accepted layouts


def test_single_submission_folder(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "alice", {**homework(), "notes.txt": b"ignored"})
    (sub,) = discover([folder])
    assert_complete(sub, "alice")
    assert sub.notebook_name == "toy_nn.ipynb"
    assert sub.source == folder


def test_single_folder_with_a_lone_neural_net_py(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "bob", {"toy_nn.ipynb": NOTEBOOK, "neural_net.py": MODULE})
    (sub,) = discover([folder])
    assert_complete(sub, "bob")


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(
            {"hw3_toy_nn.ipynb": NOTEBOOK, "neural_net.py": MODULE, "my_utils.py": b"x = 1\n"},
            id="prefixed-notebook-and-helpers",
        ),
        pytest.param({"alice_toy_nn.ipynb": NOTEBOOK, "alice_neural_net.py": MODULE}, id="own-prefix"),
        pytest.param(
            {"toy_nn.ipynb": NOTEBOOK, "neural_net.py": MODULE, "neural_net (1).py": b"# old\n"},
            id="duplicate-module",
        ),
    ],
)
def test_a_students_own_flat_folder_is_one_submission(tmp_path: Path, files) -> None:
    (sub,) = discover([write_files(tmp_path / "alice", files)])
    assert sub.student == "alice"
    assert (sub.notebook, sub.module) == (NOTEBOOK, MODULE)


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(".ipynb_checkpoints/toy_nn-checkpoint.ipynb", id="checkpoint"),
        pytest.param("__MACOSX/._toy_nn.ipynb", id="unzipped-macosx"),
        pytest.param("__MACOSX/hw3code/._neural_net.py", id="unzipped-macosx-module"),
    ],
)
def test_junk_copies_are_not_other_notebooks_or_modules(tmp_path: Path, junk: str) -> None:
    folder = write_files(tmp_path / "carol", {**homework(), junk: b"\x00\x05\x16\x07junk"})
    (sub,) = discover([folder])
    assert_complete(sub, "carol")


@pytest.mark.parametrize(
    "files",
    [
        pytest.param(homework(), id="flat"),
        pytest.param(homework("alice/"), id="top-folder"),
        pytest.param(
            {
                **homework("alice/"),
                "__MACOSX/alice/._toy_nn.ipynb": b"\x00\x05\x16\x07AppleDouble",
                "__MACOSX/alice/hw3code/._neural_net.py": b"\x00\x05\x16\x07AppleDouble",
            },
            id="top-folder-and-macosx-junk",
        ),
        pytest.param(
            {**homework(), "__MACOSX/._toy_nn.ipynb": b"\x00\x05\x16\x07"},
            id="flat-and-macosx-junk",
        ),
    ],
)
def test_zip_submission(tmp_path: Path, files: dict[str, bytes]) -> None:
    archive = write_zip(tmp_path / "alice.zip", files)
    (sub,) = discover([archive])
    assert_complete(sub, "alice")
    assert sub.notebook_name == "toy_nn.ipynb"


def test_class_folder_of_folders_and_zips(tmp_path: Path) -> None:
    course = tmp_path / "class"
    write_files(course / "alice", homework())
    write_zip(course / "bob.zip", homework())
    write_zip(course / "carol.zip", homework("carol-hw3/"))
    write_files(course / ".hidden", homework())
    (course / "grades.csv").write_text("student,score\n")
    subs = discover([course])
    assert [s.student for s in subs] == ["alice", "bob", "carol"]
    for sub in subs:
        assert_complete(sub, sub.student)


GRADESCOPE_METADATA = """\
submission_111111:
  :submitters:
  - :name: Alice Liddell
    :sid: '12345678'
    :email: alice@example.edu
  :created_at: 2024-02-09 12:00:00.000000000 -08:00
  :score: 0.0
  :status: processed
submission_222222:
  :submitters:
  - :name: Bob Builder
    :sid: '23456789'
    :email: bob@example.edu
  - :name: Carol Danvers
    :sid: '34567890'
    :email: carol@example.edu
  :created_at: 2024-02-10 08:30:00.000000000 -08:00
  :score: 0.0
  :status: processed
submission_333333:
  :submitters:
  - :name: Dan Nosid
    :sid:
    :email: dan@example.edu
  :created_at: 2024-02-10 09:00:00.000000000 -08:00
  :score: 0.0
  :status: processed
"""


def test_gradescope_export(tmp_path: Path) -> None:
    export = tmp_path / "assignment_123_export"
    write_files(export, {"submission_metadata.yml": GRADESCOPE_METADATA.encode()})
    write_files(export / "submission_111111", homework())
    write_files(export / "submission_222222", {"toy_nn.ipynb": NOTEBOOK, "neural_net.py": MODULE})
    write_files(export / "submission_333333", homework())
    subs = {s.student: s for s in discover([export])}
    assert sorted(subs) == ["12345678", "23456789", "dan@example.edu"]  # the group is one submission
    for sub in subs.values():
        assert_complete(sub, sub.student)
    alice = subs["12345678"]
    assert alice.source == export / "submission_111111"
    assert alice.names == {
        "name": "Alice Liddell",
        "sid": "12345678",
        "email": "alice@example.edu",
        "gradescope_submission": "111111",
    }
    assert alice.members == ()
    group = subs["23456789"]
    assert group.names["name"] == "Bob Builder"
    assert group.names["group"] == "Bob Builder, Carol Danvers"
    assert [m.student for m in group.members] == ["23456789", "34567890"]


def test_gradescope_submission_without_files_is_a_problem_not_an_error(tmp_path: Path) -> None:
    export = tmp_path / "export"
    write_files(export, {"submission_metadata.yml": GRADESCOPE_METADATA.encode()})
    write_files(export / "submission_111111", homework())
    subs = {s.student: s for s in discover([export])}
    assert subs["12345678"].problems == ()
    assert any("no notebook" in p for p in subs["23456789"].problems)


def test_unreadable_gradescope_metadata(tmp_path: Path) -> None:
    export = write_files(tmp_path / "export", {"submission_metadata.yml": b"a: [unclosed\n"})
    with pytest.raises(SubmissionError, match=r"submission_metadata\.yml: unreadable Gradescope"):
        discover([export])


# Canvas "Download Submissions" names (lib/content_zipper.rb): `{name}_{LATE_}{user id}_{file id}_{file}`.
CANVAS = {
    "alice_12345_67890_toy_nn.ipynb": NOTEBOOK,
    "alice_12345_67891_neural_net.py": MODULE,
    "bob_12346_67892_toy_nn.ipynb": NOTEBOOK,
    "bob_12346_67893_neural_net-1.py": MODULE,
    "carol_LATE_12347_67894_neural_net.py": MODULE,
    "carol_LATE_12347_67895_toy_nn.ipynb": NOTEBOOK,
}


def test_canvas_download_is_grouped_by_user_id(tmp_path: Path) -> None:
    """Once read as ids before the first `_`; Canvas's own parser takes the first two numbers
    as the user and file ids (Assignment#infer_comment_context_from_filename), so do we."""
    subs = discover([write_files(tmp_path / "canvas", CANVAS)])
    assert [s.student for s in subs] == ["12345", "12346", "12347"]
    for sub in subs:
        assert_complete(sub, sub.student)
    assert [s.names for s in subs] == [{"name": "alice"}, {"name": "bob"}, {"name": "carol", "late": "yes"}]
    assert subs[0].notebook_name == "toy_nn.ipynb"  # the student's own name for it


def test_canvas_download_with_one_notebook_is_still_several_students(tmp_path: Path) -> None:
    """Alice sent both files, bob only his module: two students, not one submission."""
    files = {
        "alice_12345_67890_toy_nn.ipynb": NOTEBOOK,
        "alice_12345_67891_neural_net.py": MODULE,
        "bob_12346_67892_neural_net-1.py": MODULE,
    }
    subs = {s.student: s for s in discover([write_files(tmp_path / "canvas", files)])}
    assert sorted(subs) == ["12345", "12346"]
    assert_complete(subs["12345"], "12345")
    assert subs["12346"].module == MODULE
    assert subs["12346"].notebook is None
    assert subs["12346"].problems == ("no notebook (toy_nn.ipynb) in the submission",)


def test_canvas_download_with_a_corrupt_zip(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "canvas", {**CANVAS, "dave_12348_67896_hw3.zip": b"PK\x03\x04 cut"})
    subs = {s.student: s for s in discover([folder])}
    assert sorted(subs) == ["12345", "12346", "12347", "12348"]
    assert subs["12348"].problems[0].startswith(f"{folder / 'dave_12348_67896_hw3.zip'}: not a readable zip archive")


def test_duplicate_ids_get_a_suffix_and_a_note(tmp_path: Path) -> None:
    course = tmp_path / "class"
    write_files(course / "alice", homework())
    write_zip(course / "alice.zip", homework())
    write_files(tmp_path / "late" / "alice", homework())
    subs = discover([course, tmp_path / "late"])
    assert [s.student for s in subs] == ["alice", "alice~2", "alice~3"]
    assert subs[0].problems == ()
    assert subs[1].problems == ("the id alice appears more than once; graded as alice~2",)
    assert subs[2].problems == ("the id alice appears more than once; graded as alice~3",)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        pytest.param("Alice Smith (late)", "Alice_Smith_late", id="spaces-and-brackets"),
        pytest.param("../../etc/passwd", "etc_passwd", id="path-traversal"),
        pytest.param("a\\b:c*d?", "a_b_c_d", id="windows-separators"),
        pytest.param(".hidden", "hidden", id="leading-dot"),
        pytest.param("...", "unnamed", id="only-dots"),
        pytest.param("alice@example.edu", "alice@example.edu", id="email-kept"),
        pytest.param("123-45+6.x", "123-45+6.x", id="safe-kept"),
        pytest.param("index.html", "index_html", id="a-class-page-name"),
        pytest.param("Gradebook.CSV", "Gradebook_CSV", id="a-class-file-name"),
    ],
)
def test_unsafe_characters_in_ids_are_sanitised(tmp_path: Path, raw: str, safe: str) -> None:
    folder = write_files(tmp_path / "sub", homework())
    assert read_submission(folder, raw).student == safe


def test_unsafe_folder_and_gradescope_ids_are_sanitised(tmp_path: Path) -> None:
    course = tmp_path / "class"
    write_files(course / "Alice Smith (late)", homework())
    write_zip(course / "bob's work.zip", homework())
    export = tmp_path / "export"
    metadata = "submission_1:\n  :submitters:\n  - :name: Eve\n    :sid: ../../evil id\n"
    write_files(export, {"submission_metadata.yml": metadata.encode()})
    write_files(export / "submission_1", homework())
    ids = [s.student for s in discover([course, export])]
    assert ids == ["Alice_Smith_late", "bob_s_work", "evil_id"]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@+~-]*", i) for i in ids)


def test_every_member_of_a_gradescope_group_is_graded(tmp_path: Path) -> None:
    export = write_files(tmp_path / "export", {"submission_metadata.yml": GRADESCOPE_METADATA.encode()})
    write_files(export / "submission_222222", homework())
    (group,) = [s for s in discover([export]) if s.source == export / "submission_222222"]
    assert_complete(group, "23456789")  # read once, graded once: the first submitter's id
    bob, carol = group.members
    assert (bob.student, bob.names) == ("23456789", group.names)
    assert carol.student == "34567890"
    assert (carol.names["name"], carol.names["email"]) == ("Carol Danvers", "carol@example.edu")
    assert bob.names["name"] == "Bob Builder"
    assert bob.names["group"] == carol.names["group"] == "Bob Builder, Carol Danvers"
    assert bob.names["gradescope_submission"] == carol.names["gradescope_submission"] == "222222"


@pytest.mark.parametrize("stray", ["notes.ipynb", "notes.py", "toy_nn.ipynb"])
def test_class_folder_with_a_stray_file_grades_every_student_and_reports_it(tmp_path: Path, stray: str) -> None:
    course = tmp_path / "class"
    write_files(course / "alice", homework())
    write_files(course / "bob", homework())
    (course / stray).write_bytes(NOTEBOOK if stray.endswith(".ipynb") else MODULE)
    alice, bob, loose = discover([course])
    assert_complete(alice, "alice")
    assert_complete(bob, "bob")
    assert (loose.student, loose.notebook, loose.module, loose.source) == (stray, None, None, course / stray)
    (problem,) = loose.problems
    assert problem.startswith(f"{course / stray}: a loose file beside the submissions; not graded")


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_a_students_own_folder_with_a_notebook_copy_is_one_submission(tmp_path: Path, packed: bool) -> None:
    """No hw3code/: the neural_net.py at the top is the module, as in a flat zip; toy_nn.ipynb beats its copy."""
    files = {"toy_nn.ipynb": NOTEBOOK, "toy_nn-Copy1.ipynb": b'{"cells": []}', "neural_net.py": MODULE}
    path = write_zip(tmp_path / "alice.zip", files) if packed else write_files(tmp_path / "alice", files)
    (sub,) = discover([path])
    assert (sub.student, sub.notebook_name, sub.notebook, sub.module) == ("alice", "toy_nn.ipynb", NOTEBOOK, MODULE)
    assert sub.problems == ("several notebooks; graded toy_nn.ipynb (ignored toy_nn-Copy1.ipynb)",)


def test_canvas_download_of_one_student(tmp_path: Path) -> None:
    files = {"alice_1234_5678_toy_nn.ipynb": NOTEBOOK, "alice_1234_5679_neural_net.py": MODULE}
    (sub,) = discover([write_files(tmp_path / "canvas", files)])
    assert_complete(sub, "1234")  # the Canvas user id, as for a class of them; not the folder's name
    assert sub.notebook_name == "toy_nn.ipynb"


def test_zipped_gradescope_export_is_expanded(tmp_path: Path) -> None:
    files = {"export/submission_metadata.yml": GRADESCOPE_METADATA.encode()}
    for folder in ("submission_111111", "submission_222222", "submission_333333"):
        files.update(homework(f"export/{folder}/"))
    archive = write_zip(tmp_path / "assignment_123_export.zip", files)
    subs = {s.student: s for s in discover([archive])}
    assert sorted(subs) == ["12345678", "23456789", "dan@example.edu"]
    for sub in subs.values():
        assert_complete(sub, sub.student)
    assert subs["12345678"].source == archive / "submission_111111"
    assert subs["23456789"].members[1].names["group"] == "Bob Builder, Carol Danvers"


def test_zipped_class_folder_is_expanded(tmp_path: Path) -> None:
    files = {**homework("class/alice/"), **homework("class/bob/bob-hw3/"), "class/notes.ipynb": NOTEBOOK}
    files["class/carol.zip"] = write_zip(tmp_path / "carol.zip", homework()).read_bytes()
    archive = write_zip(tmp_path / "class.zip", files)
    alice, bob, carol, notes = discover([archive])
    assert_complete(alice, "alice")
    assert_complete(bob, "bob")
    assert_complete(carol, "carol")  # a zip in the zip is read, as in a class folder (bounded alike)
    assert carol.source == archive / "carol.zip"
    assert (notes.student, notes.notebook) == ("notes.ipynb", None)
    assert notes.problems[0].startswith(f"{archive / 'notes.ipynb'}: a loose file beside the submissions")


def test_zipped_canvas_download_is_grouped_by_user_id(tmp_path: Path) -> None:
    subs = discover([write_zip(tmp_path / "submissions.zip", CANVAS)])
    assert [s.student for s in subs] == ["12345", "12346", "12347"]
    for sub in subs:
        assert_complete(sub, sub.student)


# ---------------------------------------------------------------- Canvas, Moodle, Blackboard

OLD_NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def lay_out(tmp_path: Path, files: dict[str, bytes], packed: bool) -> Path:
    """`files` as the system writes them: in a zip (what the instructor downloads) or unzipped."""
    return write_zip(tmp_path / "download.zip", files) if packed else write_files(tmp_path / "download", files)


def canvas_download() -> dict[str, bytes]:
    """Canvas "Download Submissions", as lib/content_zipper.rb names the files (instructure/canvas-lms):
    `get_filename` joins the sortable name (lowercased, `_<digits>_` removed, then every non-word
    character), `LATE` if late and the user id (or `anon_<anonymous id>`, 5 base58 characters
    from lib/anonymity.rb), then `add_upload_submission` adds `_{file id}_{display name}`; a file
    uploaded again gets `-1` from Attachment.make_unique_filename."""
    return {
        "doejane_12345_67890_toy_nn.ipynb": NOTEBOOK,  # "Doe, Jane"
        "doejane_12345_67891_neural_net.py": MODULE,
        "o_neilmary_ann_LATE_23456_70001_toy_nn.ipynb": NOTEBOOK,  # "O_Neil, Mary_Ann", late
        "o_neilmary_ann_LATE_23456_70002_neural_net.py": MODULE,
        "smithjohn_34567_70010_toy_nn.ipynb": OLD_NOTEBOOK,  # attached again, renamed by Canvas:
        "smithjohn_34567_70020_toy_nn-1.ipynb": NOTEBOOK,  # the newer upload (the larger file id)
        "smithjohn_34567_70021_neural_net-1.py": MODULE,
        "LATE_anon_Xy7Zq_70030_toy_nn.ipynb": NOTEBOOK,  # anonymous grading: no name at all
        "LATE_anon_Xy7Zq_70031_neural_net.py": MODULE,
        "leeann_45678_70040_hw3.zip": zip_bytes(homework("hw3/")),  # the student's own zip
    }


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_canvas_download_submissions(tmp_path: Path, packed: bool) -> None:
    subs = {s.student: s for s in discover([lay_out(tmp_path, canvas_download(), packed)])}
    assert sorted(subs) == ["12345", "23456", "34567", "45678", "anon_Xy7Zq"]
    jane, mary, john, lee, anonymous = (subs[i] for i in sorted(subs))
    assert_complete(jane, "12345")
    assert jane.names == {"name": "doejane"}
    assert_complete(mary, "23456")  # the underscores of her name are not the separators
    assert mary.names == {"name": "o_neilmary_ann", "late": "yes"}
    assert (john.notebook, john.notebook_name, john.module) == (NOTEBOOK, "toy_nn-1.ipynb", MODULE)
    assert john.problems == ("re-uploaded files: graded the newest of each (ignored toy_nn.ipynb)",)
    assert_complete(anonymous, "anon_Xy7Zq")
    assert anonymous.names == {"late": "yes"}
    assert (lee.notebook, lee.module, lee.problems) == (NOTEBOOK, MODULE, ())
    assert lee.notebook_name == "hw3.zip/toy_nn.ipynb"


def moodle_download(separator: str = "/") -> dict[str, bytes]:
    """Moodle "Download all submissions", as mod/assign/classes/downloader.php (moodle/moodle, 4.1
    and later) names them: a folder `clean_filename({full name, `_` made ` `}_{participant id}
    _assignsubmission_file)` per student, the student's own paths inside; `onlinetext` folders beside."""
    jane, jean = (f"{who}_assignsubmission_file{separator}" for who in ("Jane Doe_101", "Jean-Luc Picard_102"))
    return {
        f"{jane}toy_nn.ipynb": NOTEBOOK,
        f"{jane}hw3code/neural_net.py": MODULE,
        f"{jean}hw3.zip": zip_bytes(homework("hw3/")),  # the student's own zip is their submission
        "Mary Ann Smith_103_assignsubmission_onlinetext/onlinetext.html": b"<p>see my notebook</p>",
    }


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize(
    "separator",
    [
        pytest.param("/", id="4.1-and-later"),
        pytest.param("_/", id="before-4.1"),  # locallib.php: clean_filename($prefix . '_' ... $type . '_')
        pytest.param("_", id="without-folders"),  # the "download as folders" preference off
    ],
)
def test_moodle_download_all_submissions(tmp_path: Path, packed: bool, separator: str) -> None:
    download = lay_out(tmp_path, moodle_download(separator), packed)
    subs = {s.student: s for s in discover([download])}
    assert sorted(subs) == ["101", "102"]
    jane, jean = subs["101"], subs["102"]
    assert_complete(jane, "101")
    assert jane.names == {"name": "Jane Doe"}
    assert jane.notebook_name == "toy_nn.ipynb"
    assert (jean.notebook, jean.module, jean.problems) == (NOTEBOOK, MODULE, ())
    assert jean.names == {"name": "Jean-Luc Picard"}
    if separator != "_":
        assert jean.source == download / f"Jean-Luc Picard_102_assignsubmission_file{separator}".rstrip("/")


def test_a_moodle_zip_of_one_student_keeps_the_students_folder(tmp_path: Path) -> None:
    """One folder in the zip is usually dropped (`alice/toy_nn.ipynb`); Moodle's names the student."""
    files = {f"Jane Doe_101_assignsubmission_file/{n}": d for n, d in homework().items()}
    (sub,) = discover([write_zip(tmp_path / "HW3-hw3-42.zip", files)])
    assert_complete(sub, "101")


def blackboard_receipt(name: str, username: str, attempt: str, files: list[str]) -> bytes:
    """A Blackboard attempt's receipt. Its `Name: Full Name (username)` line and `Comments:` block
    are as vangef/BBGradebookOrganiser (utils/organiser.py) parses them; the other lines are
    assumed from the receipts instructors post, not from Blackboard's (closed) source."""
    listed = "".join(
        f"\tOriginal filename: {f}\n\tFilename: Homework 3_{username}_attempt_{attempt}_{f}\n" for f in files
    )
    return (
        f"Name: {name} ({username})\nAssignment: Homework 3\nDate Submitted: {attempt}\n"
        "Current Grade: Needs Grading\n\n"
        "Submission Field:\nThere is no student submission text data for this assignment.\n\n"
        f"Comments:\nThere are no student comments for this assignment.\n\nFiles:\n{listed}"
    ).encode()


def blackboard_download() -> dict[str, bytes]:
    """Blackboard "Download Assignment" (all attempts): `{assignment}_{username}_attempt_{date-time}_{file}`
    and a receipt `{assignment}_{username}_attempt_{date-time}.txt` per attempt, as kwurst/bb-file-cleanup
    (README) and vangef/BBGradebookOrganiser (which splits on `_attempt_`) describe them."""
    first, second, third = "2025-02-09-10-00-00", "2025-02-10-23-59-01", "2025-02-11-08-00-00"
    jdoe = "Homework 3_jdoe_attempt_"
    return {
        f"{jdoe}{first}_toy_nn.ipynb": OLD_NOTEBOOK,
        f"{jdoe}{first}.txt": blackboard_receipt("Jane Doe", "jdoe", first, ["toy_nn.ipynb"]),
        f"{jdoe}{second}_toy_nn.ipynb": NOTEBOOK,
        f"{jdoe}{second}_neural_net.py": MODULE,
        f"{jdoe}{second}.txt": blackboard_receipt("Jane Doe", "jdoe", second, ["toy_nn.ipynb", "neural_net.py"]),
        f"Homework 3_asmith_attempt_{third}_hw3.zip": zip_bytes(homework("hw3/")),
        f"Homework 3_asmith_attempt_{third}.txt": blackboard_receipt("Alice Smith", "asmith", third, ["hw3.zip"]),
        f"Homework 3_o_brien_attempt_{third}_toy_nn.ipynb": NOTEBOOK,  # a username with `_` in it
        f"Homework 3_o_brien_attempt_{third}_neural_net.py": MODULE,
        f"Homework 3_o_brien_attempt_{third}.txt": blackboard_receipt(
            "Pat O'Brien", "o_brien", third, ["toy_nn.ipynb"]
        ),
    }


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_blackboard_download_grades_the_latest_attempt(tmp_path: Path, packed: bool) -> None:
    subs = {s.student: s for s in discover([lay_out(tmp_path, blackboard_download(), packed)])}
    assert sorted(subs) == ["asmith", "jdoe", "o_brien"]
    jane, alice = subs["jdoe"], subs["asmith"]
    assert_complete(subs["o_brien"], "o_brien")  # the receipt says where the username starts
    assert_complete(jane, "jdoe")  # the older attempt's notebook is not a second notebook
    assert jane.names == {
        "name": "Jane Doe",
        "attempt": "2025-02-10-23-59-01",
        "ignored_attempts": "2025-02-09-10-00-00",
    }
    assert (alice.notebook, alice.module, alice.problems) == (NOTEBOOK, MODULE, ())
    assert alice.names == {"name": "Alice Smith", "attempt": "2025-02-11-08-00-00"}


@pytest.mark.parametrize(
    ("layout", "stray"),
    [
        pytest.param(canvas_download, "toy_nn.ipynb", id="canvas"),
        pytest.param(blackboard_download, "neural_net.py", id="blackboard"),
        pytest.param(moodle_download, "toy_nn.ipynb", id="moodle"),
    ],
)
def test_a_file_the_system_did_not_name_is_reported_not_graded(tmp_path: Path, layout, stray: str) -> None:
    download = write_files(tmp_path / "download", {**layout(), stray: NOTEBOOK})
    (loose,) = [s for s in discover([download]) if s.source == download / stray]
    assert (loose.student, loose.notebook, loose.module) == (stray, None, None)
    (problem,) = loose.problems
    assert problem.startswith(f"{download / stray}: not named as ")


def every_layout() -> dict[str, dict[str, bytes]]:
    """One download of each layout, with a problem or two (a stray, a student with no notebook)."""
    gradescope = {"submission_metadata.yml": GRADESCOPE_METADATA.encode(), **homework("submission_111111/")}
    return {
        "submission": {**homework(), "old/toy_nn.ipynb": OLD_NOTEBOOK},
        "class": {**homework("alice/"), "bob.zip": zip_bytes(homework("bob-hw3/")), "notes.ipynb": NOTEBOOK},
        "gradescope": {**gradescope, **homework("submission_222222/"), "submission_333333/notes.txt": b"none"},
        "canvas": {**canvas_download(), "toy_nn.ipynb": NOTEBOOK},
        "moodle": {**moodle_download(), "toy_nn.ipynb": NOTEBOOK},
        "blackboard": {**blackboard_download(), "neural_net.py": MODULE},
    }


@pytest.mark.parametrize("layout", sorted(every_layout()))
def test_a_layout_reads_the_same_from_a_folder_and_from_its_zip(tmp_path: Path, layout: str) -> None:
    def read(packed: bool) -> list[Submission]:
        root = lay_out(tmp_path, every_layout()[layout], packed)
        return [
            replace(
                sub,
                source=sub.source.relative_to(root),
                problems=tuple(problem.replace(str(root), "<download>") for problem in sub.problems),
            )
            for sub in discover([root])
        ]

    unpacked = read(False)
    assert unpacked and any(sub.problems for sub in unpacked)
    assert read(True) == unpacked


def test_the_file_names_are_the_rubrics(tmp_path: Path) -> None:
    lab = Homework("lab.ipynb", "lab2/model.py")
    course = tmp_path / "class"
    write_files(course / "alice", {"lab.ipynb": NOTEBOOK, "lab2/model.py": MODULE, "toy_nn.ipynb": OLD_NOTEBOOK})
    write_zip(course / "bob.zip", {"bob/lab2/model.py": MODULE})  # its top folder goes, not the module's
    alice, bob = discover([course], lab)
    assert (alice.notebook, alice.notebook_name, alice.module) == (NOTEBOOK, "lab.ipynb", MODULE)
    assert alice.problems == ("several notebooks; graded lab.ipynb (ignored toy_nn.ipynb)",)
    assert (bob.module, bob.problems) == (MODULE, ("no notebook (lab.ipynb) in the submission",))
    (carol,) = discover([write_files(tmp_path / "carol", {"lab2/model.py": MODULE})], lab)  # the module's folder
    assert (carol.student, carol.module) == ("carol", MODULE)
    (dan,) = discover([write_files(tmp_path / "dan", {"lab.ipynb": NOTEBOOK, "neural_net.py": MODULE})], lab)
    assert dan.problems == ("no lab2/model.py in the submission",)


def test_a_module_at_the_top_of_the_submission(tmp_path: Path) -> None:
    top = Homework("lab.ipynb", "model.py")
    course = tmp_path / "class"
    for student in ("alice", "bob"):
        write_files(course / student, {"lab.ipynb": NOTEBOOK, "model.py": MODULE, "old/model.py": b"# old"})
    alice, bob = discover([course], top)
    assert [(s.student, s.module, s.problems) for s in (alice, bob)] == [
        (student, MODULE, ("several model.py files; graded model.py",)) for student in ("alice", "bob")
    ]
    (sub,) = discover([write_zip(tmp_path / "carol.zip", {"carol/lab.ipynb": NOTEBOOK, "carol/model.py": MODULE})], top)
    assert (sub.student, sub.notebook, sub.module, sub.problems) == ("carol", NOTEBOOK, MODULE, ())


# ---------------------------------------------------------------- archive bounds


def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    """Two MB of zeros deflate about 1000 times: over MAX_COMPRESSION_RATIO, unpacked never."""
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("toy_nn.ipynb", NOTEBOOK)
        bomb.writestr("data/zeros.ipynb", bytes(2 << 20))
    (sub,) = discover([archive])
    assert (sub.student, sub.notebook, sub.module) == ("alice", None, None)
    (problem,) = sub.problems
    assert problem.startswith(f"{archive}: data/zeros.ipynb unpacks ")
    assert f"times its packed size, over the {intake.MAX_COMPRESSION_RATIO} allowed; the zip was not read" in problem
    assert "unzip what belongs to the homework and grade that folder" in problem


@pytest.mark.parametrize(
    ("bound", "value", "message"),
    [
        pytest.param("MAX_ARCHIVE_ENTRIES", 3, "4 entries, over the 3 allowed", id="entries"),
        pytest.param("MAX_ARCHIVE_BYTES", 1000, "bytes unpacked, over the 1000 allowed", id="size"),
    ],
)
def test_a_zip_over_a_bound_is_refused(tmp_path: Path, monkeypatch, bound: str, value: int, message: str) -> None:
    """The bounds are sized for a class (see intake.py); here they are made small instead of the zips large."""
    monkeypatch.setattr(intake.sources, bound, value)
    archive = write_zip(tmp_path / "class.zip", {**homework("alice/"), **homework("bob/")})
    (sub,) = discover([archive])
    assert sub.student == "class"
    (problem,) = sub.problems
    assert problem.startswith(f"{archive}: ") and message in problem and "the zip was not read" in problem


def test_a_students_zip_over_a_bound_is_that_students_problem(tmp_path: Path) -> None:
    """A bomb inside a Canvas download costs its sender's grade, not the class's."""
    files = canvas_download()
    files["leeann_45678_70040_hw3.zip"] = zip_bytes({"toy_nn.ipynb": bytes(2 << 20)})
    download = write_zip(tmp_path / "submissions.zip", files)
    subs = {s.student: s for s in discover([download])}
    assert_complete(subs["12345"], "12345")
    assert subs["45678"].notebook is None
    assert subs["45678"].problems[0].startswith(f"{download / 'leeann_45678_70040_hw3.zip'}: toy_nn.ipynb unpacks ")


def test_a_file_too_large_in_a_zip_is_a_problem_of_its_submission(tmp_path: Path, monkeypatch) -> None:
    """MAX_FILE_BYTES bounds each file (64 MB: far more than a notebook); made small here."""
    monkeypatch.setattr(intake.sources, "MAX_FILE_BYTES", len(MODULE))
    archive = write_zip(tmp_path / "class.zip", {**homework("alice/"), "bob/toy_nn.ipynb": NOTEBOOK})
    alice, bob = discover([archive])
    assert (alice.notebook, alice.module) == (None, MODULE)
    assert alice.problems[0] == f"{archive}: alice/toy_nn.ipynb is {len(NOTEBOOK)} bytes unpacked; too large, not read"
    assert bob.problems[0].startswith(f"{archive}: bob/toy_nn.ipynb is ")


@pytest.mark.parametrize("name", ["../../home/toy_nn.ipynb", "/etc/toy_nn.ipynb", "alice/../../neural_net.py"])
def test_zip_member_outside_the_archive_is_not_read(tmp_path: Path, name: str) -> None:
    archive = write_zip(tmp_path / "alice.zip", {**homework(), name: b"{}"})
    (sub,) = discover([archive])
    assert (sub.student, sub.notebook, sub.module) == ("alice", None, None)
    assert sub.problems == (
        f"{archive}: {name} points outside the archive; the zip was not read (look into it before unzipping it)",
    )


# ---------------------------------------------------------------- problems


def test_no_notebook(tmp_path: Path) -> None:
    sub = read_submission(write_files(tmp_path / "alice", {"hw3code/neural_net.py": MODULE}))
    assert sub.notebook is None
    assert sub.module == MODULE
    assert sub.problems == ("no notebook (toy_nn.ipynb) in the submission",)


@pytest.mark.parametrize(
    "other",
    [
        "Untitled.ipynb",
        "toy_nn-Copy1.ipynb",
        "toy_nn (1).ipynb",
        "scratch/toy_nn.ipynb",
    ],
)
def test_several_notebooks_picks_toy_nn(tmp_path: Path, other: str) -> None:
    files = {**homework(), other: b'{"cells": []}'}
    sub = read_submission(write_files(tmp_path / "alice", files))
    assert sub.notebook_name == "toy_nn.ipynb"
    assert sub.notebook == NOTEBOOK
    assert sub.problems == (f"several notebooks; graded toy_nn.ipynb (ignored {other})",)


def test_several_notebooks_none_named_toy_nn(tmp_path: Path) -> None:
    files = {"a.ipynb": NOTEBOOK, "b.ipynb": NOTEBOOK, "hw3code/neural_net.py": MODULE}
    sub = read_submission(write_files(tmp_path / "alice", files))
    assert sub.notebook is None
    assert sub.problems == ("several notebooks and none named toy_nn.ipynb: a.ipynb, b.ipynb",)


def test_one_notebook_with_another_name_is_graded(tmp_path: Path) -> None:
    files = {"HW3_final.ipynb": NOTEBOOK, "hw3code/neural_net.py": MODULE}
    sub = read_submission(write_files(tmp_path / "alice", files))
    assert (sub.notebook_name, sub.notebook, sub.problems) == ("HW3_final.ipynb", NOTEBOOK, ())


def test_no_neural_net_py(tmp_path: Path) -> None:
    files = {"toy_nn.ipynb": NOTEBOOK, "hw3code/my_net.py": MODULE}
    sub = read_submission(write_files(tmp_path / "alice", files))
    assert sub.notebook == NOTEBOOK
    assert sub.module is None
    assert sub.problems == ("no hw3code/neural_net.py in the submission",)


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n"], ids=["zero-bytes", "whitespace"])
def test_empty_neural_net_py(tmp_path: Path, content: bytes) -> None:
    files = {"toy_nn.ipynb": NOTEBOOK, "hw3code/neural_net.py": content}
    sub = read_submission(write_files(tmp_path / "alice", files))
    assert sub.problems == ("hw3code/neural_net.py is empty",)


def test_several_modules_prefer_hw3code_and_the_plain_name(tmp_path: Path) -> None:
    files = {
        **homework(),
        "neural_net.py": b"# an old copy\n",
        "hw3code/neural_net (1).py": b"# a browser's duplicate download\n",
    }
    sub = read_submission(write_files(tmp_path / "alice", files))
    assert sub.module == MODULE
    assert sub.problems == ("several neural_net.py files; graded hw3code/neural_net.py",)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"PK\x03\x04 truncated", id="truncated"),
        pytest.param(b"this is not a zip at all", id="not-a-zip"),
        pytest.param(b"", id="empty-file"),
    ],
)
def test_corrupt_zip_is_graded_with_a_problem(tmp_path: Path, content: bytes) -> None:
    course = tmp_path / "class"
    write_files(course / "alice", homework())
    (course / "bob.zip").write_bytes(content)
    alice, bob = discover([course])
    assert_complete(alice, "alice")
    assert bob.student == "bob"
    assert (bob.notebook, bob.module) == (None, None)
    (problem,) = bob.problems
    assert problem.startswith(f"{course / 'bob.zip'}: not a readable zip archive")


def test_discover_missing_path_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(missing))}: no such file or folder"):
        discover([missing])


def test_discover_empty_folder_raises(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no submissions found in"):
        discover([tmp_path / "empty"])


def test_discover_a_file_that_is_not_a_zip_raises(tmp_path: Path) -> None:
    path = tmp_path / "toy_nn.ipynb"
    path.write_bytes(NOTEBOOK)
    with pytest.raises(ConfigError, match=r"a submission is a folder or a \.zip"):
        discover([path])


def discover_as_a_user(paths: list[Path]) -> list[dict]:
    """`discover`'s students, files found and problems, as read by someone file permissions apply to.

    Root reads any file, so as root `discover` runs in a child without the capabilities that allow it.
    """
    code = (
        "import json, sys; from grader.intake import discover\n"
        "subs = discover(sys.argv[1:])\n"
        "print(json.dumps([[s.student, s.notebook is not None, s.module is not None, s.problems] for s in subs]))"
    )
    if os.geteuid() != 0:
        return json.loads(
            subprocess.run(
                [sys.executable, "-c", code, *map(str, paths)], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout
        )
    if shutil.which("setpriv") is None:
        pytest.skip("running as root, without setpriv to drop the capability to read any file")
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    run = subprocess.run(
        [*drop, sys.executable, "-c", code, *map(str, paths)], cwd=REPO, capture_output=True, text=True, check=False
    )
    if run.returncode and run.stderr.startswith("setpriv"):
        pytest.skip(f"cannot drop the capability to read any file: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow
def test_unreadable_files_and_folders_are_problems_of_their_submission(tmp_path: Path) -> None:
    course = tmp_path / "class"
    write_files(course / "alice", homework())
    write_files(course / "bob", homework())
    write_files(course / "erin", homework())
    canvas = write_files(tmp_path / "canvas", CANVAS)
    locked = [course / "alice/hw3code/neural_net.py", course / "erin/hw3code", canvas / "bob_12346_67892_toy_nn.ipynb"]
    for path in locked:
        path.chmod(0)
    try:
        found = {student: rest for student, *rest in discover_as_a_user([course, canvas])}
    finally:
        for path in locked:
            path.chmod(0o755)
    assert sorted(found) == ["12345", "12346", "12347", "alice", "bob", "erin"]
    assert found["bob"] == [True, True, []]
    assert found["12345"] == [True, True, []]
    how = "(Permission denied); make it readable and regrade"
    assert found["alice"] == [
        True,
        False,
        [f"{locked[0]} cannot be read {how}", "no hw3code/neural_net.py in the submission"],
    ]
    assert found["erin"][:2] == [True, False]
    assert found["erin"][2][0] == f"{locked[1]}: the folder cannot be listed {how}"
    assert found["12346"][:2] == [False, True]
    assert found["12346"][2][0] == f"{locked[2]} cannot be read {how}"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        pytest.param(os.mkfifo, "is not a regular file and was not read", id="fifo"),
        pytest.param(Path.mkdir, "is a folder, not a file, and was not read", id="folder"),
    ],
)
def test_a_special_file_named_like_homework_is_a_problem(tmp_path: Path, make, problem: str) -> None:
    course = tmp_path / "class"
    write_files(course / "alice", {"toy_nn.ipynb": NOTEBOOK})
    write_files(course / "bob", homework())
    make(course / "alice" / "neural_net.py")
    alice, bob = discover([course])
    assert_complete(bob, "bob")
    assert (alice.notebook, alice.module) == (NOTEBOOK, None)
    assert alice.problems == (
        f"{course / 'alice' / 'neural_net.py'} {problem}",
        "no hw3code/neural_net.py in the submission",
    )


SECRET = b"SECRET = 'a host file, not the student's'\n"


def _host(tmp_path: Path) -> Path:
    """A folder outside the submission, with a neural_net.py that must never reach the grader."""
    return write_files(tmp_path / "host", {"neural_net.py": SECRET, "toy_nn.ipynb": SECRET})


@pytest.mark.parametrize(
    ("link", "target"),
    [
        pytest.param("hw3code/neural_net.py", "host/neural_net.py", id="file"),
        pytest.param("hw3code", "host", id="folder"),
        pytest.param("hw3code/neural_net.py", "nowhere/neural_net.py", id="dangling"),
    ],
)
def test_symlinks_inside_a_submission_are_not_followed(tmp_path: Path, link: str, target: str) -> None:
    _host(tmp_path)
    folder = write_files(tmp_path / "alice", {"toy_nn.ipynb": NOTEBOOK, "hw3code/notes.txt": b""})
    if link == "hw3code":
        shutil.rmtree(folder / "hw3code")
    (folder / link).symlink_to(tmp_path / target)
    (sub,) = discover([folder])
    assert (sub.student, sub.notebook, sub.module) == ("alice", NOTEBOOK, None)
    assert sub.problems == (
        f"{folder / link} is a symbolic link and was not read (links are never followed: copy in the file itself)",
        "no hw3code/neural_net.py in the submission",
    )


def test_symlinks_in_class_folders_and_downloads_are_not_followed(tmp_path: Path) -> None:
    host = _host(tmp_path)
    course = write_files(tmp_path / "class", homework("alice/"))
    (course / "bob").symlink_to(host)
    canvas = write_files(tmp_path / "canvas", CANVAS)
    (canvas / "bob_12346_67893_neural_net-1.py").unlink()
    (canvas / "bob_12346_67893_neural_net-1.py").symlink_to(host / "neural_net.py")
    subs = discover([course, canvas])
    assert [s.student for s in subs] == ["alice", "bob", "12345", "12346", "12347"]
    assert all(SECRET not in (s.notebook or b"") + (s.module or b"") for s in subs)
    assert subs[1].problems == (
        f"{course / 'bob'} is a symbolic link and was not read (links are never followed: copy in the file itself)",
    )
    assert subs[3].module is None
    assert (
        subs[3]
        .problems[0]
        .startswith(f"{canvas / 'bob_12346_67893_neural_net-1.py'} is a symbolic link and was not read")
    )


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_a_symlink_named_on_the_command_line_is_followed(tmp_path: Path, packed: bool) -> None:
    """The instructor chose it: graded under the link's name."""
    real = write_zip(tmp_path / "real.zip", homework()) if packed else write_files(tmp_path / "real", homework())
    link = tmp_path / ("alice.zip" if packed else "alice")
    link.symlink_to(real)
    (sub,) = discover([link])
    assert_complete(sub, "alice")


# ---------------------------------------------------------------- a group, graded once


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The students whose code was run: each run leaves a result and an executed notebook."""
    ran: list[str] = []

    def run(
        submission: Submission, course, *, reference, out_dir: Path, uid=None, before_commit=None
    ) -> SubmissionResult:
        ran.append(submission.student)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "executed.ipynb").write_bytes(submission.notebook or b"")
        result = SubmissionResult(
            student=submission.student,
            checks=(CheckResult("questions.test", "a free-text answer", "pending", 0.0, 5.0, "for a TA", manual=True),),
            execution_time=1.0,
            sandboxed=True,
            names=submission.names,
            fingerprint=grading._submission_fingerprint(submission, course),
        )
        if before_commit is not None:  # the reports, as grade_submission writes them: before the result
            before_commit(result)
        write_result(result, out_dir / "results.json")
        return result

    monkeypatch.setattr(grading, "grade_submission", run)
    monkeypatch.setattr(grading, "reference_evidence", lambda course, out, log: None)
    return ran


@pytest.mark.slow
def test_a_group_is_graded_once_and_every_member_gets_the_result(tmp_path: Path, runs: list[str]) -> None:
    """The sandboxed run is replaced by `runs`, which counts them: under test is how `grade_batch`
    hands one run's result to each member, not the run itself."""
    export = write_files(tmp_path / "export", {"submission_metadata.yml": GRADESCOPE_METADATA.encode()})
    for folder in ("submission_111111", "submission_222222", "submission_333333"):
        write_files(export / folder, homework())
    course = open_course(
        REPO / "solutions", REPO / "assignment", cifar_dir=None, cache=tmp_path / "cache", skip_cifar=True
    )
    out = tmp_path / "out"
    batch = grade_batch([export], out, course, log=lambda _: None)
    assert sorted(runs) == ["12345678", "23456789", "dan@example.edu"]  # one run per submission, not per member
    assert [r.student for r in batch.results] == ["12345678", "23456789", "34567890", "dan@example.edu"]
    bob, carol = (read_result(out / sid / "results.json") for sid in ("23456789", "34567890"))
    assert (carol.student, carol.names["name"], carol.names["email"]) == (
        "34567890",
        "Carol Danvers",
        "carol@example.edu",
    )
    assert bob.names["name"] == "Bob Builder"
    assert carol.fingerprint == bob.fingerprint
    assert (out / "34567890" / "executed.ipynb").read_bytes() == NOTEBOOK
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert rows["34567890"]["gradescope_submission"] == rows["23456789"]["gradescope_submission"] == "222222"
    assert rows["34567890"]["group"] == "Bob Builder, Carol Danvers"
    assert (rows["12345678"]["gradescope_submission"], rows["12345678"]["group"]) == ("111111", "")

    # Unchanged: nothing runs again, and a TA's score for one member stays that member's.
    bobs = [ManualScore("23456789", "questions.test", 4.0)]
    again = grade_batch([export], out, course, manual_scores=bobs, log=lambda _: None)
    assert len(runs) == 3
    assert sorted(again.reused) == ["12345678", "23456789", "34567890", "dan@example.edu"]
    scores = {sid: read_result(out / sid / "results.json").score for sid in ("23456789", "34567890")}
    assert scores == {"23456789": 4.0, "34567890": 0.0}
    shutil.rmtree(out / "34567890")  # one member's result gone: the group is graded again, once
    grade_batch([export], out, course, log=lambda _: None)
    assert len(runs) == 4
    scores = {sid: read_result(out / sid / "results.json").score for sid in ("23456789", "34567890")}
    assert scores == {"23456789": 4.0, "34567890": 0.0}  # carol's is not a copy of bob's scored result


# ---------------------------------------------------------------- load_submitted


def submitted(notebook: bytes | None = NOTEBOOK, module: bytes | None = MODULE) -> Submission:
    return Submission(
        student="alice",
        source=Path("alice"),
        notebook=notebook,
        notebook_name="toy_nn.ipynb" if notebook is not None else "",
        module=module,
    )


def test_load_submitted_reads_a_good_submission() -> None:
    notebook, module, problems = load_submitted(submitted(), RUBRIC)
    assert problems == []
    assert notebook is not None
    reference = nbformat.reads(NOTEBOOK.decode(), as_version=4)
    assert [c.id for c in notebook.cells] == [c.id for c in reference.cells]
    assert [c.source for c in notebook.cells] == [c.source for c in reference.cells]
    assert module == MODULE.decode()


def test_load_submitted_without_parts() -> None:
    assert load_submitted(submitted(None, None), RUBRIC) == (None, None, [])


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(NOTEBOOK[: len(NOTEBOOK) // 2], id="truncated"),
        pytest.param(NOTEBOOK.replace(b'"cells": [', b'"cells": [,', 1), id="stray-comma"),
        pytest.param(b"", id="empty"),
    ],
)
def test_invalid_json_notebook_names_file_line_and_column(broken: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(broken.decode())
    line, column = caught.value.lineno, caught.value.colno
    notebook, module, problems = load_submitted(submitted(broken), RUBRIC)
    assert notebook is None
    assert module == MODULE.decode()  # the module is still graded
    (problem,) = problems
    assert problem.startswith("toy_nn.ipynb: not a notebook: invalid JSON")
    assert f"line {line} column {column}" in problem
    assert "/tmp" not in problem  # the grader's temporary copy is not shown


def test_notebook_saved_as_nbformat_3_is_converted_with_a_note() -> None:
    reference = nbformat.reads(NOTEBOOK.decode(), as_version=4)
    old = nbformat.writes(nbformat.convert(copy.deepcopy(reference), 3), version=3)
    assert json.loads(old)["nbformat"] == 3 and "worksheets" in json.loads(old)
    notebook, _, problems = load_submitted(submitted(old.encode()), RUBRIC)
    assert problems == ["toy_nn.ipynb: saved as nbformat 3; read as nbformat 4"]
    assert notebook is not None and notebook.nbformat == 4
    assert [c.cell_type for c in notebook.cells] == [c.cell_type for c in reference.cells]
    assert [c.source for c in notebook.cells] == [c.source for c in reference.cells]
    ids = [c.id for c in notebook.cells]
    assert len(set(ids)) == len(ids)


def _with_ids(change) -> bytes:
    data = json.loads(NOTEBOOK)
    change(data["cells"])
    return json.dumps(data).encode()


def _drop_ids(cells: list[dict]) -> None:
    for cell in cells[3:6]:
        del cell["id"]


def _duplicate_ids(cells: list[dict]) -> None:
    cells[4]["id"] = cells[3]["id"]


def _invalid_ids(cells: list[dict]) -> None:
    cells[4]["id"] = "not a valid id!"


ORIGINAL_IDS = [cell["id"] for cell in json.loads(NOTEBOOK)["cells"]]


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        pytest.param(_drop_ids, {3, 4, 5}, id="missing"),
        pytest.param(_duplicate_ids, {4}, id="duplicate"),
        pytest.param(_invalid_ids, {4}, id="invalid"),
    ],
)
def test_bad_cell_ids_are_repaired(change, changed: set[int]) -> None:
    notebook, _, _ = load_submitted(submitted(_with_ids(change)), RUBRIC)
    assert notebook is not None
    ids = [c.id for c in notebook.cells]
    assert len(set(ids)) == len(ids) == len(ORIGINAL_IDS)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i) for i in ids)
    # Only the broken ids change: the others still match the starter's cells.
    assert [i for n, i in enumerate(ids) if n not in changed] == [
        i for n, i in enumerate(ORIGINAL_IDS) if n not in changed
    ]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_invalid_ids, id="invalid"),
        pytest.param(_duplicate_ids, id="duplicate"),
    ],
)
def test_bad_cell_ids_are_noted(change) -> None:
    _, _, problems = load_submitted(submitted(_with_ids(change)), RUBRIC)
    assert len(problems) == 1
    assert problems[0].startswith("toy_nn.ipynb: cell 5 had an invalid or repeated id")


def test_module_with_a_syntax_error_names_the_line() -> None:
    broken = MODULE.replace(b"def predict(self, X):", b"def predict(self, X)", 1)
    line = MODULE[: MODULE.index(b"def predict(self, X):")].count(b"\n") + 1
    notebook, module, problems = load_submitted(submitted(module=broken), RUBRIC)
    assert notebook is not None  # the notebook is still graded
    assert module == broken.decode()
    (problem,) = problems
    assert problem.startswith(f"hw3code/neural_net.py, line {line}: syntax error")


def test_non_utf8_module() -> None:
    latin1 = "# Numérique: le réseau\n".encode("latin-1") + MODULE
    _, module, problems = load_submitted(submitted(module=latin1), RUBRIC)
    assert module is None
    assert problems == ["hw3code/neural_net.py is not UTF-8 text"]


def test_module_with_a_byte_order_mark_is_read() -> None:
    _, module, problems = load_submitted(submitted(module=b"\xef\xbb\xbf" + MODULE), RUBRIC)
    assert (module, problems) == (MODULE.decode(), [])


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(MODULE + b"\nx = 1\x00\n", id="nul-byte"),
        pytest.param(b"x = " + b"1 + " * 100_000 + b"1\n", id="deeply-nested"),
    ],
)
def test_hostile_module_is_a_problem_not_a_crash(source: bytes) -> None:
    _, _, problems = load_submitted(submitted(module=source), RUBRIC)
    assert len(problems) == 1
    assert problems[0].startswith("hw3code/neural_net.py")
