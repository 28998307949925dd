"""Quick checks of the course commands' pieces (the full nbgrader cycle is in
``tests/test_exercises_nbgrader.py``): reading nbgrader's log, the notes of missing notebooks,
the MathJax copy, the default course folder, refusing a folder that is not a course."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from autograders import course
from autograders.course_grades import format_columns, missing_notebook_note
from autograders.feedback_page import MATHJAX_SCRIPT, install_mathjax

# The shape of `nbgrader autograde`'s log (nbgrader 0.9): a student header, ERROR lines whose
# tracebacks continue on indented lines, other apps' lines, and a closing summary.
LOG = """\
[AutogradeApp | INFO] Creating/updating student with ID 'ann': {}
[AutogradeApp | INFO] Converting notebook /c/submitted/ann/vjps/vjps.ipynb
[IPKernelApp] WARNING | some kernel warning
[AutogradeApp | INFO] Creating/updating student with ID 'bob': {}
[AutogradeApp | ERROR] Kernel died while waiting for execute reply.
[AutogradeApp | ERROR] There was an error processing assignment: /c/submitted/bob/vjps
[AutogradeApp | ERROR] Traceback (most recent call last):
      File "nbclient/client.py", line 1009, in async_execute_cell
        raise DeadKernelError("Kernel died") from None
    nbclient.exceptions.DeadKernelError: Kernel died

[AutogradeApp | WARNING] Removing failed assignment: /c/autograded/bob/vjps
[AutogradeApp | INFO] Creating/updating student with ID 'cy': {}
/site-packages/nbgrader/api.py:2229: SAWarning: Object of type <SubmittedAssignment> ...
[AutogradeApp | ERROR] There was an error processing assignment 'vjps' for student 'bob'
[AutogradeApp | ERROR] Please see the the above traceback for details on the specific errors.
"""


def test_nbgrader_errors_keeps_whole_tracebacks_by_student() -> None:
    errors = course.nbgrader_errors(LOG)
    assert list(errors) == ["bob"]  # the summary lines after 'cy' are not cy's
    blocks = errors["bob"]
    assert len(blocks) == 3
    assert blocks[2].splitlines()[0].endswith("Traceback (most recent call last):")
    assert blocks[2].splitlines()[-1].strip() == "nbclient.exceptions.DeadKernelError: Kernel died"
    assert "Removing failed" not in "\n".join(blocks)
    assert course._first_reason(blocks) == ("Kernel died while waiting for execute reply.; "
                                            "nbclient.exceptions.DeadKernelError: Kernel died")


def test_errors_before_any_student_belong_to_the_course() -> None:
    errors = course.nbgrader_errors("[AutogradeApp | ERROR] No such assignment: vjps\n" + LOG)
    assert errors[""] == ["[AutogradeApp | ERROR] No such assignment: vjps"]


def test_missing_notebook_notes(tmp_path: Path) -> None:
    folder = tmp_path / "vjps"
    assert missing_notebook_note(folder, "vjps.ipynb") == "nothing was submitted for `vjps`"
    folder.mkdir()
    assert missing_notebook_note(folder, "vjps.ipynb") == (
        "no notebook named `vjps.ipynb` was submitted (the folder is empty)")
    (folder / "Vjps (1).ipynb").write_text("{}")
    (folder / "notes.txt").write_text("")
    assert missing_notebook_note(folder, "vjps.ipynb") == (
        "no notebook named `vjps.ipynb` was submitted (the folder holds: Vjps (1).ipynb, "
        "notes.txt)")
    (folder / "vjps.ipynb").write_text("{}")
    assert missing_notebook_note(folder, "vjps.ipynb") is None


def test_format_columns_pads_all_but_the_last_column() -> None:
    text = format_columns([("a", "bb", "note"), ("ccc", "d", "")])
    assert text == "a    bb  note\nccc  d\n"


def test_install_mathjax_copies_once(tmp_path: Path) -> None:
    target = install_mathjax(tmp_path)
    script = target / MATHJAX_SCRIPT
    assert target == tmp_path / "_mathjax" and script.stat().st_size > 500_000
    assert (target / "output" / "chtml" / "fonts" / "woff-v2").is_dir()  # fonts load from here
    mtime = script.stat().st_mtime_ns
    assert install_mathjax(tmp_path) == target and script.stat().st_mtime_ns == mtime
    (target / "VERSION").write_text("3.0.0\n")  # another release there: replaced whole
    (target / "stale.js").write_text("")
    install_mathjax(tmp_path)
    assert not (target / "stale.js").exists() and script.is_file()


def test_default_course_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MMIDS_COURSE", raising=False)
    assert course.default_course() == course.DEFAULT_COURSE
    monkeypatch.setenv("MMIDS_COURSE", str(tmp_path))
    assert course.default_course() == tmp_path


def test_a_folder_without_nbgrader_config_is_refused(tmp_path: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        course.main(["--course", str(tmp_path), "export"])
    assert exc.value.code == 2
    assert "is not a course directory (no nbgrader_config.py)" in err.getvalue()
