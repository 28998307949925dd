"""nbgrader configuration of the course (run nbgrader commands from this directory).

The hidden tests call ``autograders.hidden``, which relies on ``autograders.guard`` having been
imported when the kernel started, before any student cell ran: the kernel gets an IPython
``exec_lines`` that puts the repository root on ``sys.path`` and imports the guard.
Feedback is generated with the hidden tests removed, so students never see them, on a page
that loads MathJax from the course's files and names each test (autograders/templates/); the
export lists every student with a submission folder, with a note where a grade is 0 for want of
a gradable notebook (autograders/course_grades.py).
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

HERE = Path(__file__).resolve().parent
# The repository holding autograders/ (override with MMIDS_REPO for a course copied elsewhere).
REPO = Path(os.environ.get("MMIDS_REPO", HERE.parent)).resolve()

c.CourseDirectory.root = str(HERE)
c.CourseDirectory.course_id = "mmids-autodiff"
c.CourseDirectory.db_url = os.environ.get(
    "MMIDS_GRADEBOOK_URL", f"sqlite:///{HERE / 'gradebook.db'}"
)

# Start every grading kernel with the pristine references captured (see autograders/guard.py).
# (``MMIDS_NO_GUARD=1`` skips it where no hidden test runs, e.g. ``validate`` of a release.)
_startup = f"import sys; sys.path.insert(0, {json.dumps(str(REPO))}); import autograders.guard"
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]
if not os.environ.get("MMIDS_NO_GUARD"):
    c.Execute.extra_arguments.insert(0, f"--IPKernelApp.exec_lines={_startup}")
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Release notebooks and feedback: solutions and hidden tests removed.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearHiddenTests.enforce_metadata = True
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograders.course.ScrubTestTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# Feedback pages: nbgrader's template with MathJax 3 served from <course>/feedback/_mathjax/
# (copied there by `python -m autograders.course feedback`) and test cells named in the table of
# contents; see autograders/templates/mmids_feedback/.
import nbgrader  # noqa: E402

c.HTMLExporter.template_name = "mmids_feedback"
c.HTMLExporter.template_file = "feedback_page.html.j2"
c.HTMLExporter.extra_template_basedirs = [
    str(REPO / "autograders" / "templates"),
    str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"),
]

# `nbgrader export` (and `python -m autograders.course export`): every student with a submission
# folder gets a row, with a note saying why a grade is 0 when it was not graded.
c.ExportApp.plugin_class = "autograders.course_grades.CsvExportWithNotes"
