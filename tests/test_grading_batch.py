"""Batch grading: SIGKILL mid-run and resume, SQLite and PostgreSQL gradebooks, shards, CSV.

The PostgreSQL tests start their own server (Debian's postgresql 15) on 127.0.0.1 in a
temporary directory, as the ``postgres`` user when run as root, and tear it down afterwards.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograders import sandbox
from autograders.batch import BatchConfig, in_shard, parse_shard, run_batch
from autograders.core import CellResult
from autograders.gradebook import Gradebook
from autograders.sandbox import Limits
from tests.attacks.notebooks import HONEST_VJPS, submission

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(call_seconds=5.0, setup_seconds=20.0)
PG_BIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = pytest.mark.skipif(sandbox.sandbox_problem() is not None,
                                reason=f"bubblewrap cannot run: {sandbox.sandbox_problem()}")

_SIGN_FLIP = "import numpy as np\ndef tanh_vjp(t, p):\n    return (np.tanh(t)**2 - 1) * p\n"


def _make_class(root: Path, n: int) -> dict[str, float]:
    """n students; every third one flips the sign of tanh_vjp (loses its 1 point)."""
    expected = {}
    for k in range(n):
        student = f"s{k:03d}"
        sources = dict(HONEST_VJPS)
        if k % 3 == 2:
            sources["tanh_vjp"] = _SIGN_FLIP
        submission(root / student / "vjps" / "vjps.ipynb", sources)
        expected[student] = 14.0 if k % 3 == 2 else 15.0
    return expected


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "autograders", *args]


def _assert_complete(gb: Gradebook, expected: dict[str, float]) -> None:
    recorded = gb.recorded("vjps")
    assert {s: r.score for s, r in recorded.items()} == expected
    assert gb.counts("vjps") == (len(expected), 9 * len(expected))  # no duplicate, no half record
    for student in expected:
        cells = gb.cell_grades("vjps", student)
        assert len(cells) == 9
        assert sum(c.points for c in cells) == recorded[student].score


# ------------------------------------------------------------------------------ SQLite
@pytest.mark.slow
def test_sigkill_mid_batch_then_resume(tmp_path: Path) -> None:
    expected = _make_class(tmp_path / "submitted", 10)
    db = tmp_path / "gradebook.db"
    url = f"sqlite:///{db}"
    proc = subprocess.Popen(
        _cli("batch", "vjps", str(tmp_path / "submitted"), "--db", url, "--workers", "1",
             "--no-progress", "--json-dir", str(tmp_path / "json")),
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done_before = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    done_before = con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
            except sqlite3.OperationalError:
                done_before = 0
        if done_before >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    assert 3 <= done_before < len(expected)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()  # type: ignore[union-attr]
    # the forked grader processes and their sandboxes die with the batch
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(str(tmp_path)) == []
    with Gradebook(url) as gb:
        partial = gb.recorded("vjps")
        for student, rec in partial.items():  # what was recorded is complete and right
            assert rec.score == expected[student]
            assert len(gb.cell_grades("vjps", student)) == 9
            # the per-submission JSON is written (atomically) before the record
            result = json.loads((tmp_path / "json" / f"{student}.json").read_text())
            assert result["total"] == rec.score and len(result["cells"]) == 9
    report = run_batch("vjps", tmp_path / "submitted", BatchConfig(url, LIMITS), workers=1,
                       progress=False)
    assert sorted(report.skipped) == sorted(partial)
    assert len(report.graded) == len(expected) - len(partial)
    with Gradebook(url) as gb:
        _assert_complete(gb, expected)
        assert gb.export_csv(tmp_path / "grades.csv") == len(expected)
    again = run_batch("vjps", tmp_path / "submitted", BatchConfig(url, LIMITS), progress=False)
    assert again.graded == [] and len(again.skipped) == len(expected)
    with open(tmp_path / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # the columns of `nbgrader export` (nbgrader.plugins.export.CsvExportPlugin)
    assert list(rows[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name",
                             "first_name", "email", "raw_score", "late_submission_penalty",
                             "score", "max_score"]
    assert {r["student_id"]: float(r["score"]) for r in rows} == expected
    assert all(float(r["max_score"]) == 15 for r in rows)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if text.encode() in fh.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


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


def test_shard_split_is_a_partition() -> None:
    students = [f"s{k:03d}" for k in range(200)]
    shards = [[s for s in students if in_shard(s, (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(shards, [])) == students
    assert all(len(s) > 40 for s in shards)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "x", "1/2/3"):
        with pytest.raises(ValueError):
            parse_shard(bad)


# ------------------------------------------------------------------------------ PostgreSQL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL 15 server on 127.0.0.1 (its own data dir and port)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN}")
    root = Path(tempfile.mkdtemp(prefix="mmids-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
        if setpriv is None:
            pytest.skip("running as root and `setpriv` is missing: cannot start PostgreSQL")
        run_as = [setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups"]
    data, port = root / "data", _free_port()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    try:
        subprocess.run(run_as + [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust",
                                 "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, env=env, timeout=120)
        subprocess.run(run_as + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "60",
                                 "-l", str(root / "log"), "-o",
                                 f"-h 127.0.0.1 -p {port} -k {root} -F", "start"],
                       check=True, capture_output=True, env=env, timeout=120)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start here: {exc}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(run_as + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"], capture_output=True, env=env, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


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


@pytest.mark.slow
def test_two_shards_against_one_postgres_gradebook(tmp_path: Path, postgres_url: str) -> None:
    expected = _make_class(tmp_path / "submitted", 8)
    procs = [subprocess.Popen(
        _cli("batch", "vjps", str(tmp_path / "submitted"), "--db", postgres_url,
             "--shard", f"{i}/2", "--no-progress", "--call-seconds", "5"),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    with Gradebook(postgres_url) as gb:
        _assert_complete(gb, expected)
    # each shard graded exactly its own students
    for i, (out, _) in enumerate(outputs, start=1):
        mine = {s for s in expected if in_shard(s, (i, 2))}
        listed = {line.split()[0] for line in out.splitlines() if line.startswith("s0")}
        assert listed == mine
    rerun = run_batch("vjps", tmp_path / "submitted", BatchConfig(postgres_url, LIMITS),
                      shard=(1, 2), progress=False)
    assert rerun.graded == [] and len(rerun.skipped) == len(
        [s for s in expected if in_shard(s, (1, 2))])


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
