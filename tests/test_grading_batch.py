"""Batch grading: SIGKILL mid-run and resume, SQLite and PostgreSQL gradebooks, CSV, nbgrader.

The Dask engine itself (an existing scheduler, a worker killed mid-batch) is tested in
``tests/test_grading_dask.py``; Ctrl-C, exit codes and start-up in ``tests/test_grading_cli.py``.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from autograders import sandbox
from autograders.batch import BatchConfig, run_batch
from autograders.core import CellResult
from autograders.gradebook import Gradebook
from tests.grading_helpers import (
    IMPORT_ROOT,
    LIMITS,
    REPO,
    assert_complete,
    assert_gone,
    cli,
    descendants,
    make_class,
    postgres_url,
    recorded_count,
    subprocess_env,
    wait_until,
)

__all__ = ["postgres_url"]  # the fixture, shared with the other grading tests

pytestmark = pytest.mark.skipif(sandbox.sandbox_problem() is not None,
                                reason=f"bubblewrap cannot run: {sandbox.sandbox_problem()}")


# ------------------------------------------------------------------------------ SQLite
@pytest.mark.slow
def test_sigkill_mid_batch_then_resume(tmp_path: Path) -> None:
    expected = make_class(tmp_path / "submitted", 10)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    proc = subprocess.Popen(
        cli("batch", "vjps", str(tmp_path / "submitted"), "--db", url, "--workers", "1",
            "--no-progress", "--json-dir", str(tmp_path / "json")),
        cwd=IMPORT_ROOT, env=subprocess_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    wait_until(lambda: recorded_count(url) >= 3, 180, "3 submissions recorded", proc)
    children = descendants(proc.pid)  # Dask workers, fork server, sandboxes
    assert children
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()  # type: ignore[union-attr]
    assert_gone(children)  # the worker processes and their sandboxes die with the batch
    with Gradebook(url) as gb:
        partial = gb.recorded("vjps")
        assert 3 <= len(partial) < len(expected)
        for student, rec in partial.items():  # what was recorded is complete and right
            assert rec.score == expected[student]
            assert len(gb.cell_grades("vjps", student)) == 9
            # the per-submission JSON is written (atomically) before the record
            result = json.loads((tmp_path / "json" / f"{student}.json").read_text())
            assert result["total"] == rec.score and len(result["cells"]) == 9
            assert result["student"] == student
    report = run_batch("vjps", tmp_path / "submitted", BatchConfig(url, LIMITS), workers=1,
                       progress=False)
    assert sorted(report.skipped) == sorted(partial)
    assert len(report.graded) == len(expected) - len(partial)
    with Gradebook(url) as gb:
        assert_complete(gb, expected)
        assert gb.export_csv(tmp_path / "grades.csv") == len(expected)
    again = run_batch("vjps", tmp_path / "submitted", BatchConfig(url, LIMITS), progress=False)
    assert again.graded == [] and len(again.skipped) == len(expected)
    with open(tmp_path / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # the columns of `nbgrader export` (nbgrader.plugins.export.CsvExportPlugin), then notes
    assert list(rows[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name",
                             "first_name", "email", "raw_score", "late_submission_penalty",
                             "score", "max_score", "notes"]
    assert {r["student_id"]: float(r["score"]) for r in rows} == expected
    assert all(float(r["max_score"]) == 15 for r in rows)


def test_regrading_a_changed_notebook_replaces_its_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Gradebook(url) as gb:
        first = [CellResult("a", 1.0, 2.0, "half"), CellResult("b", 0.0, 1.0, "none")]
        gb.record("hw", "ann", "sha1", first, seconds=1.0, grader="t")
        gb.record("hw", "ann", "sha2", [CellResult("a", 2.0, 2.0, "ok")], seconds=1.0,
                  grader="t")
        assert gb.recorded("hw")["ann"].notebook_sha256 == "sha2"
        assert [c.grade_id for c in gb.cell_grades("hw", "ann")] == ["a"]
        assert gb.counts("hw") == (1, 1)
        with pytest.raises(ValueError, match="without any graded cell"):
            gb.record("hw", "bob", "sha", [], seconds=0.0, grader="t")


# ------------------------------------------------------------------------------ PostgreSQL
def test_postgres_gradebook_records_atomically(postgres_url: str) -> None:
    with Gradebook(postgres_url) as gb:
        gb.record("pg_unit", "ann", "h1", [CellResult("a", 1.0, 1.0, "ok")], seconds=0.1,
                  grader="t")
        with pytest.raises(Exception):  # noqa: B017 - a duplicate grade_id violates the key
            gb.record("pg_unit", "ann", "h2", [CellResult("a", 0.0, 1.0, "x"),
                                               CellResult("a", 0.0, 1.0, "y")],
                      seconds=0.1, grader="t")
        # the failed transaction left the earlier complete record untouched
        assert gb.recorded("pg_unit")["ann"].notebook_sha256 == "h1"
        assert [c.message for c in gb.cell_grades("pg_unit", "ann")] == ["ok"]


# ------------------------------------------------------------------------------ nbgrader
@pytest.mark.slow
def test_grades_written_into_nbgrader_gradebook_show_in_nbgrader_export(tmp_path: Path) -> None:
    from autograders import cli
    from autograders.core import ASSIGNMENTS
    from autograders.course import nbgrader

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", course)
    shutil.copytree(REPO / "exercises" / "source" / "vjps", course / "source" / "vjps")
    assert nbgrader(course, "generate_assignment", "vjps", "--force").returncode == 0
    ours = f"sqlite:///{tmp_path / 'ours.db'}"
    checks = ASSIGNMENTS["vjps"].checks
    with Gradebook(ours) as gb:
        for student, lost in (("ann", 0), ("bob", 2)):
            cells = [CellResult(c.grade_id, c.max_points - (1.0 if k < lost else 0.0),
                                c.max_points, "msg") for k, c in enumerate(checks)]
            gb.record("vjps", student, "sha", cells, seconds=0.1, grader="t")
    nb_url = f"sqlite:///{course / 'gradebook.db'}"
    assert cli.main(["export", "--db", ours, "--out", str(tmp_path / "ours.csv"),
                     "--assignment", "vjps", "--nbgrader-db", nb_url]) == 0
    assert cli.main(["export", "--db", ours, "--out", str(tmp_path / "ours.csv"),
                     "--assignment", "vjps", "--nbgrader-db", nb_url]) == 0  # idempotent
    assert nbgrader(course, "export").returncode == 0
    with open(course / "grades.csv", newline="") as fh:
        exported = {r["student_id"]: (float(r["score"]), float(r["max_score"]))
                    for r in csv.DictReader(fh)}
    full = ASSIGNMENTS["vjps"].max_points
    assert exported == {"ann": (full, full), "bob": (full - 2, full)}
