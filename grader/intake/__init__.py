"""Intake: turn what an instructor downloaded into one `Submission` per student (or group).

Accepted layouts, for each path given to `grader grade`, each a folder or a `.zip` of it:

- one submission: the rubric's notebook (`toy_nn.ipynb`, or the only `.ipynb`) and module
  (`hw3code/neural_net.py`, or a lone `neural_net.py`); the id is the folder's or zip's name;
- a class folder whose entries are such folders or zips; the id is the entry's name;
- a Gradescope "export submissions" folder (`submission_metadata.yml` and one
  `submission_<n>/` folder each): the id is the submitter's SID (else email, name); a group
  submission is one `Submission` whose `members` are every member, graded once for all;
- a Canvas "Download Submissions" zip: flat files `{name}_{LATE_}{user id}_{file id}_{file}`
  (or `{LATE_}anon_{id}_{file id}_{file}` when grading is anonymous); the id is the Canvas
  user id (or `anon_<id>`), and of a re-upload Canvas renamed `toy_nn-1.ipynb` the newest is graded;
- a Moodle "Download all submissions" zip: a folder `{Full Name}_{id}_assignsubmission_file`
  per student (`..._file_` before Moodle 4.1; flat `..._file_{file}` names without folders);
  the id is Moodle's participant id;
- a Blackboard "Download Assignment" zip: flat files `{assignment}_{username}_attempt_{date}_{file}`
  and a receipt `{assignment}_{username}_attempt_{date}.txt` per attempt; the id is the username,
  the latest attempt is graded and its receipt gives the student's name.

A student's own `.zip` in a Canvas, Moodle or Blackboard download, or among a class
folder's entries, is read as (part of) their submission. Files are read into memory here
(zips are never extracted, so no archive can write outside its folder), and every zip is
bounded (`MAX_ARCHIVE_BYTES`, `MAX_ARCHIVE_ENTRIES`, `MAX_COMPRESSION_RATIO`) before any of
it is unpacked; everything else in a submission is ignored. Symbolic links are followed only
for the paths the instructor names; one found inside is never followed, and is reported,
as is a hard link (another name of a file that may be the solution's), which is not read. A
submission with a missing or unreadable part is still returned, with `problems` that say what
is missing: it is graded as far as possible. A loose homework file where a submission was
expected (a notebook beside the students' folders) becomes an entry of its own, with no files
and a problem that says so, so that it shows in the gradebook.

The file names are the rubric's (`Homework.of(rubric)`; the names above are this course's).

Inside: `discovery` reads the paths named (`discover`, `read_submission`): each is opened once
as a `Source` (`sources`: a folder or a zip, read alike into one mapping of each relative name
to its bytes or to why it could not be read, with its sub-folders), its layout is found and
read (`layouts`: each layout once, on a `Source`), and `submission` chooses each submission's
notebook and module among its files by the names `Homework` holds.
"""

from .discovery import discover, read_submission
from .sources import MAX_ARCHIVE_BYTES, MAX_ARCHIVE_ENTRIES, MAX_COMPRESSION_RATIO
from .submission import Homework, Member, Submission

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_ENTRIES",
    "MAX_COMPRESSION_RATIO",
    "Homework",
    "Member",
    "Submission",
    "discover",
    "read_submission",
]
