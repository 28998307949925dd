"""Instructor commands around nbgrader for the course in ``exercises/``.

    python -m autograders.course release <assignment>    generate_assignment, validate --invert,
                                                         leak check of the release notebook
    python -m autograders.course autograde <assignment>  autograde every submission
    python -m autograders.course feedback <assignment>   feedback HTML without hidden tests,
                                                         leak check of the feedback
    python -m autograders.course export                  grades.csv (nbgrader export)

``--course DIR`` selects another course directory (a copy of ``exercises/`` with its
``nbgrader_config.py``).  The commands run nbgrader with this interpreter, with the virtual
environment's ``bin`` on ``PATH`` (nbgrader calls ``alembic``) and with ``MMIDS_REPO`` /
``PYTHONPATH`` pointing at this repository so that grading kernels import ``autograders.guard``
at start-up.  Submissions go to ``<course>/submitted/<student>/<assignment>/`` as usual.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from html import unescape
from pathlib import Path
from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor

REPO = Path(__file__).resolve().parents[1]
DEFAULT_COURSE = REPO / "exercises"

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


def release(course: Path, assignment: str) -> int:
    proc = nbgrader(course, "generate_assignment", assignment, "--force")
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    problems = []
    for nb_path in sorted((course / "release" / assignment).glob("*.ipynb")):
        found = leaks(nb_path.read_text(), solution_snippets(course, assignment))
        if found:
            problems.append(f"{nb_path.name}: release contains {found}")
        val = nbgrader(course, "validate", "--invert", str(nb_path), guard=False)
        if "Success! The notebook does not pass any tests." not in val.stdout:
            problems.append(f"{nb_path.name}: validate --invert failed (a test passes on the "
                            f"blank release):\n{val.stdout[-2000:]}")
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"released {assignment}: {course / 'release' / assignment}")
    return 1 if problems else 0


def autograde(course: Path, assignment: str) -> int:
    proc = nbgrader(course, "autograde", assignment, "--force")
    sys.stdout.write(_summary(proc.stderr))
    return proc.returncode


def feedback(course: Path, assignment: str) -> int:
    proc = nbgrader(course, "generate_feedback", assignment, "--force")
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    bad = []
    snippets = solution_snippets(course, assignment)
    for html in sorted((course / "feedback").glob(f"*/{assignment}/*.html")):
        found = leaks(unescape(html.read_text()), snippets)
        if found:
            bad.append(f"{html}: {found}")
    for b in bad:
        print(f"feedback leaks: {b}", file=sys.stderr)
    return 1 if bad else 0


def export(course: Path) -> int:
    proc = nbgrader(course, "export")
    if proc.returncode == 0:
        print(course / "grades.csv")
    else:
        print(proc.stdout + proc.stderr, file=sys.stderr)
    return proc.returncode


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


def _summary(log: str) -> str:
    keep = [line for line in log.splitlines()
            if "ERROR" in line or "Autograding" in line or "failed" in line.lower()]
    return "\n".join(keep) + ("\n" if keep else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograders.course",
                                     description="Instructor commands around nbgrader.")
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE,
                        help="course directory (default: exercises/)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("release", "autograde", "feedback"):
        sub.add_parser(name).add_argument("assignment")
    sub.add_parser("export")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command == "release":
        return release(course, args.assignment)
    if args.command == "autograde":
        return autograde(course, args.assignment)
    if args.command == "feedback":
        return feedback(course, args.assignment)
    return export(course)


if __name__ == "__main__":
    raise SystemExit(main())
