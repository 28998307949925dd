"""The grades of the nbgrader course, one row per student and assignment, each with a note.

nbgrader's own export lists only the students its gradebook knows, and a student whose
``submitted/<student>/<assignment>/`` folder holds no notebook (or one of another name) never
gets there. Here every such folder gets a row too: 0 points and a note that says why, in the
words the out-of-kernel ``batch`` uses ("no notebook named `vjps.ipynb` was submitted (the
folder holds: answers.ipynb)"). A submission nbgrader failed on (e.g. its kernel died) is 0 with
the error's first line as its note.

* :func:`course_rows` builds the rows from nbgrader's gradebook and the course folders;
* :func:`write_csv` writes nbgrader's CSV columns plus ``note``;
* :class:`CsvExportWithNotes` is the ``nbgrader export`` plugin doing both (configured in
  ``exercises/nbgrader_config.py``, so ``nbgrader export`` and ``python -m autograders.course
  export`` agree);
* :func:`format_table` is the table the course commands print.

Failures are recorded by ``python -m autograders.course autograde`` in
``<course>/logs/autograde-<assignment>.json`` (:func:`failures_path`), next to nbgrader's full log.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbgrader.plugins.export import ExportPlugin

#: Columns of ``nbgrader export`` (nbgrader.plugins.export.CsvExportPlugin), then the note.
COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
           "email", "raw_score", "late_submission_penalty", "score", "max_score", "note")

__all__ = ["COLUMNS", "CsvExportWithNotes", "GradeRow", "course_rows", "failures_path",
           "format_columns", "format_table", "missing_notebook_note", "write_csv"]


@dataclass(frozen=True)
class GradeRow:
    """One student's grade for one assignment (``score`` after the late penalty)."""

    assignment: str
    student: str
    score: float
    max_score: float
    raw_score: float = 0.0
    late_submission_penalty: float = 0.0
    timestamp: str = ""
    duedate: str = ""
    last_name: str = ""
    first_name: str = ""
    email: str = ""
    note: str = ""

    def csv_values(self) -> list[str]:
        values = {"student_id": self.student, **self.__dict__}
        return ["" if values[c] is None else str(values[c]) for c in COLUMNS]


def failures_path(root: Path, assignment: str) -> Path:
    """Where ``course autograde`` records the submissions nbgrader could not grade."""
    return root / "logs" / f"autograde-{assignment}.json"


def missing_notebook_note(folder: Path, notebook: str) -> str | None:
    """Why ``folder`` (``submitted/<student>/<assignment>``) has no gradable ``notebook``, or None.
    """
    if (folder / notebook).is_file():
        return None
    if not folder.is_dir():
        return f"nothing was submitted for `{folder.name}`"
    others = sorted(p.name for p in folder.iterdir() if p.name != ".ipynb_checkpoints")
    found = f" (the folder holds: {', '.join(others)})" if others else " (the folder is empty)"
    return f"no notebook named `{notebook}` was submitted{found}"


def _failures(root: Path, assignment: str) -> dict[str, str]:
    path = failures_path(root, assignment)
    return json.loads(path.read_text()) if path.is_file() else {}


def _note(root: Path, assignment: str, student: str, notebooks: Sequence[str],
          failures: dict[str, str]) -> str:
    submitted = root / "submitted" / student / assignment
    missing = [m for nb in notebooks if (m := missing_notebook_note(submitted, nb))]
    if missing:
        return "; ".join(missing)
    autograded = root / "autograded" / student / assignment
    if all((autograded / nb).is_file() for nb in notebooks):
        return ""
    if student in failures:
        return f"nbgrader could not grade it: {failures[student]}"
    return "not autograded (nbgrader failed on it, or autograde has not run since it came in)"


def course_rows(gradebook: Any, root: Path, assignments: Iterable[str] = (),
                students: Iterable[str] = ()) -> list[GradeRow]:
    """Every (assignment, student) pair of the gradebook and of ``<root>/submitted``, sorted.

    ``gradebook`` is an open ``nbgrader.api.Gradebook``; ``assignments`` / ``students`` restrict
    the rows (empty: all). Students with a folder in ``submitted/`` but unknown to the gradebook
    get 0 and a note, like students whose submission nbgrader could not grade.
    """
    from nbgrader.api import MissingEntry

    only_a, only_s = set(assignments), set(students)
    known = {s.id: s for s in gradebook.students}
    rows = []
    for assignment in gradebook.assignments:
        if only_a and assignment.name not in only_a:
            continue
        notebooks = [f"{nb.name}.ipynb" for nb in assignment.notebooks]
        on_disk = {p.parent.name for p in (root / "submitted").glob(f"*/{assignment.name}")
                   if p.is_dir()}
        failures = _failures(root, assignment.name)
        for student in sorted(set(known) | on_disk):
            if only_s and student not in only_s:
                continue
            person = known.get(student)
            names = {"last_name": person.last_name or "", "first_name": person.first_name or "",
                     "email": person.email or ""} if person else {}
            try:
                sub = gradebook.find_submission(assignment.name, student)
            except MissingEntry:
                points = {"raw_score": 0.0, "late_submission_penalty": 0.0, "score": 0.0}
                timestamp = ""
            else:
                penalty = sub.late_submission_penalty or 0.0
                points = {"raw_score": sub.score, "late_submission_penalty": penalty,
                          "score": max(0.0, sub.score - penalty)}
                timestamp = "" if sub.timestamp is None else str(sub.timestamp)
            rows.append(GradeRow(
                assignment=assignment.name, student=student, max_score=assignment.max_score,
                timestamp=timestamp,
                duedate="" if assignment.duedate is None else str(assignment.duedate),
                note=_note(root, assignment.name, student, notebooks, failures),
                **points, **names,
            ))
    return rows


def write_csv(rows: Sequence[GradeRow], path: Path) -> None:
    """nbgrader's CSV columns plus ``note`` (quoted where needed: notes contain commas)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        out.writerows(row.csv_values() for row in rows)


def format_columns(lines: Sequence[Sequence[str]]) -> str:
    """Plain-text table: the first line is the header; the last column is not padded."""
    if not lines:
        return ""
    n = len(lines[0])
    widths = [max(len(line[i]) for line in lines) for i in range(n - 1)]
    out = ["  ".join([*(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)),
                      line[-1]]).rstrip() for line in lines]
    return "\n".join(out) + "\n"


def format_table(rows: Sequence[GradeRow]) -> str:
    """One line per row: assignment, student, score / max, note."""
    if not rows:
        return "(no students)\n"
    return format_columns([("assignment", "student", "score", "note"), *(
        (r.assignment, r.student, f"{r.score:g} / {r.max_score:g}", r.note) for r in rows)])


class CsvExportWithNotes(ExportPlugin):
    """``nbgrader export`` plugin: :func:`course_rows` as CSV (default ``<course>/grades.csv``)."""

    def export(self, gradebook: Any) -> None:
        root = Path(self.parent.coursedir.root)
        dest = Path(self.to) if self.to else root / "grades.csv"
        rows = course_rows(gradebook, root, self.assignment, self.student)
        write_csv(rows, dest)
        self.log.info("Exported %d grades to %s", len(rows), dest)
