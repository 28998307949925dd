"""The out-of-kernel gradebook: SQLite by default, PostgreSQL when ``db_url`` points at one.

Two tables.  ``submissions`` has one row per (assignment, student): the notebook's SHA-256,
score, max score, time graded and the feedback notes; ``grades`` has one row per graded test
cell with points, max points and the plain-words message.  :meth:`Gradebook.record` writes a
submission and all its cell grades in ONE transaction (replacing an earlier grading of the
same submission), so a grader killed at any moment leaves either the old or the new complete
record, never half of one; primary keys make duplicates impossible.  :meth:`export_csv`
writes nbgrader's CSV export format (``nbgrader export``'s columns, then ``notes``: the
feedback notes of the submission, whole, e.g. why it could not be graded).

``db_url``: ``sqlite:///path/gradebook.db`` (or a plain path), or
``postgresql://user@host:port/dbname`` (psycopg 3).
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autograders.core import CellResult

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS submissions (
        assignment TEXT NOT NULL,
        student TEXT NOT NULL,
        notebook_sha256 TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        max_score DOUBLE PRECISION NOT NULL,
        graded_at TEXT NOT NULL,
        seconds DOUBLE PRECISION NOT NULL,
        grader TEXT NOT NULL,
        notes TEXT NOT NULL,
        PRIMARY KEY (assignment, student))""",
    """CREATE TABLE IF NOT EXISTS grades (
        assignment TEXT NOT NULL,
        student TEXT NOT NULL,
        grade_id TEXT NOT NULL,
        points DOUBLE PRECISION NOT NULL,
        max_points DOUBLE PRECISION NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (assignment, student, grade_id),
        FOREIGN KEY (assignment, student) REFERENCES submissions (assignment, student)
            ON DELETE CASCADE)""",
)

#: Columns of ``nbgrader export`` (nbgrader.plugins.export.CsvExportPlugin), in order.
CSV_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
               "email", "raw_score", "late_submission_penalty", "score", "max_score")


@dataclass(frozen=True)
class Recorded:
    """One stored submission (what resuming and exporting need)."""

    assignment: str
    student: str
    notebook_sha256: str
    score: float
    max_score: float
    graded_at: str


def is_postgres(db_url: str) -> bool:
    return db_url.startswith(("postgresql://", "postgres://"))


class Gradebook:
    """A connection to the gradebook; use one per process (``with Gradebook(url) as gb:``)."""

    def __init__(self, db_url: str) -> None:
        if not isinstance(db_url, str) or not db_url:
            raise ValueError("db_url must be a non-empty string (a path, sqlite:/// or "
                             "postgresql:// URL)")
        self.db_url = db_url
        self.postgres = is_postgres(db_url)
        if self.postgres:
            import psycopg

            self._conn: Any = psycopg.connect(db_url, autocommit=False, connect_timeout=10)
        else:
            path = db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite:///") else db_url
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            self._conn = sqlite3.connect(path, timeout=60, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        self._create()

    # ---------------------------------------------------------------- plumbing
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _begin(self) -> Any:
        cur = self._conn.cursor()
        if not self.postgres:
            cur.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlocks
        return cur

    def _create(self) -> None:
        cur = self._begin()
        try:
            if self.postgres:  # concurrent CREATE TABLE IF NOT EXISTS can race in PostgreSQL
                cur.execute("SELECT pg_advisory_xact_lock(727274)")
            for stmt in _SCHEMA:
                cur.execute(stmt)
            self._commit(cur)
        except BaseException:
            self._rollback(cur)
            raise

    def _commit(self, cur: Any) -> None:
        if self.postgres:
            self._conn.commit()
        else:
            cur.execute("COMMIT")

    def _rollback(self, cur: Any) -> None:
        try:
            if self.postgres:
                self._conn.rollback()
            else:
                cur.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - nothing left to roll back
            pass

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- API
    def record(self, assignment: str, student: str, notebook_sha256: str,
               results: Sequence[CellResult], *, seconds: float, grader: str,
               notes: Iterable[str] = ()) -> None:
        """Store one graded submission and its cell grades atomically (replacing older ones)."""
        if not results:
            raise ValueError("refusing to record a submission without any graded cell")
        score = float(sum(r.points for r in results))
        max_score = float(sum(r.max_points for r in results))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        cur = self._begin()
        try:
            cur.execute(self._sql("DELETE FROM grades WHERE assignment = ? AND student = ?"),
                        (assignment, student))
            cur.execute(self._sql(
                "INSERT INTO submissions (assignment, student, notebook_sha256, score, "
                "max_score, graded_at, seconds, grader, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (assignment, student) DO UPDATE SET "
                "notebook_sha256 = excluded.notebook_sha256, score = excluded.score, "
                "max_score = excluded.max_score, graded_at = excluded.graded_at, "
                "seconds = excluded.seconds, grader = excluded.grader, notes = excluded.notes"),
                (assignment, student, notebook_sha256, score, max_score, now, float(seconds),
                 grader, "\n".join(notes)))
            cur.executemany(self._sql(
                "INSERT INTO grades (assignment, student, grade_id, points, max_points, message) "
                "VALUES (?, ?, ?, ?, ?, ?)"),
                [(assignment, student, r.grade_id, float(r.points), float(r.max_points),
                  r.message) for r in results])
            self._commit(cur)
        except BaseException:
            self._rollback(cur)
            raise

    def recorded(self, assignment: str) -> dict[str, Recorded]:
        """Every stored submission of ``assignment`` by student id."""
        cur = self._conn.cursor()
        cur.execute(self._sql(
            "SELECT assignment, student, notebook_sha256, score, max_score, graded_at "
            "FROM submissions WHERE assignment = ? ORDER BY student"), (assignment,))
        rows = cur.fetchall()
        self._end_read(cur)
        return {r[1]: Recorded(r[0], r[1], r[2], float(r[3]), float(r[4]), r[5]) for r in rows}

    def cell_grades(self, assignment: str, student: str) -> list[CellResult]:
        """The stored cell grades of one submission, ordered by grade_id."""
        cur = self._conn.cursor()
        cur.execute(self._sql(
            "SELECT grade_id, points, max_points, message FROM grades "
            "WHERE assignment = ? AND student = ? ORDER BY grade_id"), (assignment, student))
        rows = cur.fetchall()
        self._end_read(cur)
        return [CellResult(r[0], float(r[1]), float(r[2]), r[3]) for r in rows]

    def counts(self, assignment: str) -> tuple[int, int]:
        """(number of submission rows, number of cell-grade rows) of ``assignment``."""
        cur = self._conn.cursor()
        cur.execute(self._sql(
            "SELECT (SELECT COUNT(*) FROM submissions WHERE assignment = ?), "
            "(SELECT COUNT(*) FROM grades WHERE assignment = ?)"), (assignment, assignment))
        n_sub, n_grades = cur.fetchone()
        self._end_read(cur)
        return int(n_sub), int(n_grades)

    def _end_read(self, cur: Any) -> None:
        if self.postgres:
            self._conn.rollback()  # close the implicit read transaction

    def export_csv(self, path: str | Path, assignments: Sequence[str] | None = None) -> int:
        """Write nbgrader's CSV export (one row per stored submission) plus a ``notes`` column
        (the notes whole, one per line); return the row count."""
        cur = self._conn.cursor()
        cur.execute("SELECT assignment, student, score, max_score, graded_at, notes "
                    "FROM submissions ORDER BY assignment, student")
        rows = [r for r in cur.fetchall() if not assignments or r[0] in assignments]
        self._end_read(cur)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow((*CSV_COLUMNS, "notes"))
            for assignment, student, score, max_score, graded_at, notes in rows:
                out.writerow([assignment, "", graded_at, student, "", "", "", float(score),
                              0.0, max(0.0, float(score)), float(max_score), notes])
        return len(rows)


def write_to_nbgrader(gradebook: Gradebook, nbgrader_db_url: str, assignment: str,
                      notebook: str) -> int:
    """Copy the stored grades of ``assignment`` into an nbgrader gradebook; return the count.

    The assignment must already be in nbgrader's database (``nbgrader generate_assignment``);
    each test cell's points become nbgrader's ``auto_score`` of that grade cell of notebook
    ``notebook`` (file name without ``.ipynb``), so ``nbgrader export`` and the formgrader show
    them.  Students are created as needed; existing submissions are updated in place.
    """
    from nbgrader.api import Gradebook as NbGradebook
    from nbgrader.api import MissingEntry

    recorded = gradebook.recorded(assignment)
    with NbGradebook(nbgrader_db_url) as nb:
        nb.find_assignment(assignment)  # MissingEntry if it was never generated
        for student, rec in recorded.items():
            nb.update_or_create_student(student)
            try:
                nb.find_submission(assignment, student)
            except MissingEntry:
                with nb.db.no_autoflush:  # as nbgrader's own autograde: no flush mid-build
                    nb.add_submission(assignment, student, timestamp=rec.graded_at)
            for cell in gradebook.cell_grades(assignment, student):
                grade = nb.find_grade(cell.grade_id, notebook, assignment, student)
                grade.auto_score = float(cell.points)
            nb.db.commit()
    return len(recorded)
