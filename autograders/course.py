"""Instructor commands around nbgrader for the course in ``exercises/``.

    python -m autograders.course release <assignment>    generate_assignment, leak check,
                                                         validate --invert, student bundle
    python -m autograders.course autograde <assignment>  autograde every submission; nbgrader's
                                                         errors whole, a table of the grades
    python -m autograders.course feedback <assignment>   feedback HTML without hidden tests,
                                                         leak check, MathJax; where the pages are
    python -m autograders.course export [--out FILE]     <course>/grades.csv, with a note on
                                                         every grade not earned by grading

``--course DIR`` (default ``$MMIDS_COURSE``, else ``exercises/``) selects another course
directory (a copy of ``exercises/`` with its ``nbgrader_config.py``).  The commands run nbgrader
with this interpreter, with the virtual environment's ``bin`` on ``PATH`` (nbgrader calls
``alembic``) and with ``MMIDS_REPO`` / ``PYTHONPATH`` pointing at this repository so that
grading kernels import ``autograders.guard`` at start-up.  Submissions go to
``<course>/submitted/<student>/<assignment>/`` as usual; every output stays in the course folder
and each command prints where it is.  The student bundle is ``autograders/bundle.py``, the
grade rows and their notes ``autograders/course_grades.py``, the feedback's MathJax
``autograders/feedback_page.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbgrader.preprocessors import NbGraderPreprocessor

if TYPE_CHECKING:
    from autograders.course_grades import GradeRow

REPO = Path(__file__).resolve().parents[1]
DEFAULT_COURSE = REPO / "exercises"


def default_course() -> Path:
    """``$MMIDS_COURSE`` if set (a copy of ``exercises/``), else ``exercises/`` of this repo."""
    value = os.environ.get("MMIDS_COURSE")
    return Path(value).expanduser() if value else DEFAULT_COURSE

#: Text that must never reach students: solution markers, hidden-test markers, the grader.
LEAK_PATTERNS: tuple[str, ...] = (
    "BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
    "autograders.hidden", "autograders.guard",
)

__all__ = ["LEAK_PATTERNS", "leaks", "main", "nbgrader"]


def _env(course: Path) -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["MMIDS_REPO"] = str(REPO)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def nbgrader(course: Path, *args: str, timeout: float | None = None,
             guard: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``course``; output captured, never raises on failure.

    ``guard=False`` starts kernels without ``autograders.guard`` (nothing hidden runs there).
    """
    env = _env(course)
    if not guard:
        env["MMIDS_NO_GUARD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def leaks(text: str, extra: Sequence[str] = ()) -> list[str]:
    """The leak patterns (plus ``extra`` snippets of solution code) found in ``text``."""
    return [p for p in (*LEAK_PATTERNS, *extra) if p and p in text]


def solution_snippets(course: Path, assignment: str) -> list[str]:
    """Distinctive lines of the source notebook's solution regions (for leak checks).

    Lines that also occur outside the solution regions (e.g. in a visible test) are skipped.
    """
    import nbformat

    nb = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    solution, elsewhere = [], set()
    pattern = r"### BEGIN SOLUTION\n(.*?)### END SOLUTION"
    for cell in nb.cells:
        for region in re.findall(pattern, cell.source, flags=re.DOTALL):
            solution += [line.strip() for line in region.splitlines()]
        outside = re.sub(pattern, "", cell.source, flags=re.DOTALL)
        elsewhere |= {line.strip() for line in outside.splitlines()}
    return [line for line in dict.fromkeys(solution) if len(line) > 12 and line not in elsewhere]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _relative(path: Path, course: Path) -> str:
    try:
        return str(path.relative_to(course))
    except ValueError:
        return str(path)


def release(course: Path, assignment: str) -> int:
    """generate_assignment, leak check, validate --invert, then the student bundle."""
    from autograders import bundle

    _progress(f"release {assignment}: nbgrader generate_assignment")
    proc = nbgrader(course, "generate_assignment", assignment, "--force")
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    folder = course / "release" / assignment
    problems = []
    for nb_path in sorted(folder.glob("*.ipynb")):
        found = leaks(nb_path.read_text(), solution_snippets(course, assignment))
        if found:
            problems.append(f"{nb_path.name}: release contains {found}")
        _progress(f"release {assignment}: nbgrader validate --invert {nb_path.name}")
        val = nbgrader(course, "validate", "--invert", str(nb_path), guard=False)
        if "Success! The notebook does not pass any tests." not in val.stdout:
            problems.append(f"{nb_path.name}: validate --invert failed (a test passes on the "
                            f"blank release):\n{val.stdout[-2000:]}")
    if not problems:
        _progress(f"release {assignment}: the student bundle (mmids wheel, requirements.txt)")
        try:
            written = bundle.write_bundle(folder, forbidden=LEAK_PATTERNS)
        except (RuntimeError, FileNotFoundError) as exc:
            problems.append(f"student bundle: {exc}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"released {assignment}: {folder}")
    for path in (*sorted(folder.glob("*.ipynb")), *written):
        print(f"  {path.name}")
    print("Students install the bundle in that folder with "
          "`python -m pip install -r requirements.txt` (see README.md).")
    return 0


# -------------------------------------------------------------------------- nbgrader's log
_LOG_LINE = re.compile(r"^\[(?P<app>\w+) \| (?P<level>[A-Z]+)\] (?P<message>.*)$")
_STUDENT = re.compile(r"Creating/updating student with ID '(?P<student>[^']+)'")
_SUMMARY = re.compile(r"There was an error processing assignment '[^']*' for student '[^']+'"
                      r"|Please see the (the )?above traceback")


def nbgrader_errors(log: str) -> dict[str, list[str]]:
    """nbgrader's ERROR messages, whole (tracebacks included), by the student being processed.

    Messages logged before the first student (e.g. a broken configuration) are under ``""``.
    nbgrader's closing summary ("There was an error processing assignment ... for student
    ..."), which repeats what came before, is left out.
    """
    errors: dict[str, list[list[str]]] = {}
    student, block = "", None
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        if match is None:
            if block is not None and line[:1].isspace() and line.strip():
                block.append(line)  # a traceback, or the rest of a long message
            else:
                block = None
            continue
        block = None
        if found := _STUDENT.search(match["message"]):
            student = found["student"]
        elif match["level"] in ("ERROR", "CRITICAL") and not _SUMMARY.search(match["message"]):
            block = [line]
            errors.setdefault(student, []).append(block)
    return {s: ["\n".join(b) for b in blocks] for s, blocks in errors.items()}


def _first_reason(blocks: list[str]) -> str:
    """One line for the table: nbgrader's first specific message, and the exception's last."""
    messages = [_LOG_LINE.match(b.splitlines()[0])["message"] for b in blocks]
    specific = [m for m in messages if not m.startswith("There was an error processing")]
    last = [b.splitlines()[-1].strip() for b in blocks if len(b.splitlines()) > 1]
    parts = list(dict.fromkeys([*specific[:1], *last[-1:]]))
    return "; ".join(parts) or messages[0]


def _run_streaming(course: Path, args: Sequence[str], students: Sequence[str],
                   verb: str) -> tuple[int, str]:
    """Run nbgrader, showing one progress line per student on stderr; returns (code, log)."""
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course,
                            env=_env(course), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    log = []
    done = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        log.append(line)
        if found := _STUDENT.search(line):
            done += 1
            _progress(f"  {verb} {found['student']} ({done}/{len(students)})")
    return proc.wait(), "".join(log)


def _submitted_students(course: Path, assignment: str) -> list[str]:
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}")
                  if p.is_dir())


def _rows(course: Path, assignment: str) -> list[GradeRow]:
    """The grade rows of ``assignment`` (none if it is not in the gradebook yet)."""
    from nbgrader.api import Gradebook

    from autograders.course_grades import course_rows

    with Gradebook(db_url(course)) as gb:
        return course_rows(gb, course, [assignment])


def db_url(course: Path) -> str:
    """The gradebook URL of ``course``, as its ``nbgrader_config.py`` sets it."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    url = config.CourseDirectory.get("db_url")
    return str(url) if url else f"sqlite:///{course / 'gradebook.db'}"


def autograde(course: Path, assignment: str) -> int:
    """nbgrader autograde of every submission; nbgrader's errors in full, then the grades.

    Exit code 1 when nbgrader could not grade a submitted notebook (or failed as a whole);
    a missing or misnamed notebook is recorded (0 and the reason) and does not count.
    """
    from autograders.course_grades import failures_path, format_table

    students = _submitted_students(course, assignment)
    _progress(f"autograde {assignment}: {len(students)} submission folder(s) in "
              f"{course / 'submitted'}")
    code, log = _run_streaming(course, ["autograde", assignment, "--force"], students,
                               "grading")
    log_path = failures_path(course, assignment).with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(log)
    errors = nbgrader_errors(log)
    missing = {r.student for r in _rows(course, assignment)
               if r.note.startswith(("no notebook", "nothing was submitted"))}
    failed = {s: _first_reason(b) for s, b in errors.items() if s and s not in missing}
    failures_path(course, assignment).write_text(json.dumps(failed, indent=1, sort_keys=True))
    for student, blocks in errors.items():
        if student in missing:
            continue
        who = f"student {student}" if student else "the course"
        print(f"\nnbgrader could not grade {who}:", file=sys.stderr)
        print("\n".join(blocks), file=sys.stderr)
    rows = _rows(course, assignment)
    print()
    sys.stdout.write(format_table(rows))
    print(f"\nautograded notebooks: {course / 'autograded'}/<student>/{assignment}/")
    print(f"nbgrader's log: {log_path}")
    bad = code != 0 and (bool(failed) or "" in errors or not rows)
    return 1 if bad else 0


def feedback(course: Path, assignment: str) -> int:
    """Feedback HTML (hidden tests removed, leak-checked) and its MathJax; says where it is."""
    from autograders.course_grades import format_columns
    from autograders.feedback_page import install_mathjax

    proc = nbgrader(course, "generate_feedback", assignment, "--force")
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    mathjax = install_mathjax(course / "feedback")
    bad = []
    snippets = solution_snippets(course, assignment)
    for html in sorted((course / "feedback").glob(f"*/{assignment}/*.html")):
        found = leaks(unescape(html.read_text()), snippets)
        if found:
            bad.append(f"{html}: {found}")
    for b in bad:
        print(f"feedback leaks: {b}", file=sys.stderr)
    if bad:
        return 1
    lines = [("student", "score", "feedback")]
    for row in _rows(course, assignment):
        pages = sorted((course / "feedback" / row.student / assignment).glob("*.html"))
        where = ", ".join(_relative(p, course) for p in pages) or f"none: {row.note}"
        lines.append((row.student, f"{row.score:g} / {row.max_score:g}", where))
    sys.stdout.write(format_columns(lines))
    print(f"\nfeedback pages: {course / 'feedback'}/<student>/{assignment}/ (paths above are "
          f"relative to {course});")
    print(f"they load MathJax from {mathjax}: hand each student their folder "
          f"feedback/<student>/ together with feedback/{mathjax.name}/.")
    return 0


def export(course: Path, out: Path | None = None) -> int:
    """grades.csv of every assignment (nbgrader's columns plus ``note``); says where."""
    from autograders.course_grades import format_table

    dest = (out or course / "grades.csv").resolve()
    proc = nbgrader(course, "export", "--to", str(dest))
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return proc.returncode
    with open(dest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_assignment: dict[str, list[dict]] = {}
    for row in rows:
        by_assignment.setdefault(row["assignment"], []).append(row)
    for name, group in by_assignment.items():
        scores = [float(r["score"]) for r in group]
        noted = sum(1 for r in group if r["note"])
        print(f"{name}: {len(group)} student(s), mean {sum(scores) / len(scores):.4g} / "
              f"{float(group[0]['max_score']):g}, {noted} with a note")
    from autograders.course_grades import GradeRow

    noted_rows = [GradeRow(r["assignment"], r["student_id"], float(r["score"]),
                           float(r["max_score"]), note=r["note"]) for r in rows if r["note"]]
    if noted_rows:
        print()
        sys.stdout.write(format_table(noted_rows))
    print(f"\nwrote {len(rows)} row(s) to {dest}")
    return 0


class ScrubTestTracebacks(NbGraderPreprocessor):
    """nbgrader feedback preprocessor: test-cell tracebacks shortened to ``ename: evalue``.

    ``ClearHiddenTests`` removes the hidden lines from a test cell's source, but a traceback in
    the cell's output still quotes them; this keeps only the error's name and message.
    Configured in ``exercises/nbgrader_config.py`` (``GenerateFeedback.preprocessors``).
    """

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename')}: {out.get('evalue')}"]
        return cell, resources


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograders.course", description="Instructor commands around nbgrader.")
    parser.add_argument("--course", type=Path, default=default_course(),
                        help="course directory (default: $MMIDS_COURSE, else exercises/ of "
                             "this repository)")
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {"release": "generate_assignment, leak check, validate --invert, student bundle",
             "autograde": "nbgrader autograde of every submission, then the grades",
             "feedback": "feedback HTML without hidden tests, leak check, MathJax"}
    for name, text in helps.items():
        sub.add_parser(name, help=text).add_argument("assignment")
    exp = sub.add_parser("export", help="grades.csv: every student, with a note where needed")
    exp.add_argument("--out", type=Path, default=None,
                     help="CSV file to write (default: <course>/grades.csv)")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if not (course / "nbgrader_config.py").is_file():
        parser.error(f"{course} is not a course directory (no nbgrader_config.py)")
    if args.command == "release":
        return release(course, args.assignment)
    if args.command == "autograde":
        return autograde(course, args.assignment)
    if args.command == "feedback":
        return feedback(course, args.assignment)
    return export(course, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
