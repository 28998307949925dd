"""The grading commands as an instructor runs them: Ctrl-C, exit codes, start-up, set-up failures.

Signals are real: ``os.killpg`` on a real ``python -m autograders batch`` started in its own
session, as a terminal's Ctrl-C reaches the whole foreground process group.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograders import cli, sandbox
from autograders.gradebook import Gradebook
from tests.attacks.notebooks import HONEST_VJPS, submission
from tests.grading_helpers import (
    IMPORT_ROOT,
    assert_complete,
    assert_gone,
    descendants,
    make_class,
    recorded_count,
    subprocess_env,
    wait_until,
    with_setup_cell,
)
from tests.grading_helpers import cli as cli_argv

pytestmark = pytest.mark.skipif(sandbox.sandbox_problem() is not None,
                                reason=f"bubblewrap cannot run: {sandbox.sandbox_problem()}")

N_CLASS = 16
RESUME = "run the same command again to resume"


def _start_batch(submitted: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli_argv("batch", "vjps", str(submitted), "--workers", "2", "--no-progress",
                 "--call-seconds", "5", *extra),
        cwd=IMPORT_ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)


def _db(submitted: Path) -> str:
    return f"sqlite:///{submitted.parent / 'gradebook_ook.db'}"


# ------------------------------------------------------------------------------ Ctrl-C
@pytest.mark.slow
def test_ctrl_c_stops_within_seconds_and_the_rerun_finishes(tmp_path: Path) -> None:
    submitted = tmp_path / "course" / "submitted"
    expected = make_class(submitted, N_CLASS)
    db = _db(submitted)  # the default gradebook: next to the submissions
    proc = _start_batch(submitted)
    wait_until(lambda: recorded_count(db) >= 3, 240, "3 submissions recorded", proc)
    children = descendants(proc.pid)
    assert len(children) >= 3  # fork server, 2 workers (and their sandboxes)
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    out, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - start
    assert proc.returncode == 130, err
    assert seconds < 8, f"{seconds:.1f} s from SIGINT to exit"
    assert "Traceback" not in err and "Error" not in err, err
    n = recorded_count(db)
    assert f"interrupted: {n} recorded, {N_CLASS - n} left; {RESUME}" in err
    assert 3 <= n < N_CLASS
    assert_gone(children)  # no worker, fork server or sandbox left
    rerun = subprocess.run(cli_argv("batch", "vjps", str(submitted), "--workers", "2",
                                    "--no-progress"),
                           cwd=IMPORT_ROOT, env=subprocess_env(), capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"graded {N_CLASS - n}, could not grade 0, skipped {n} already recorded" in rerun.stdout
    with Gradebook(db) as gb:
        assert_complete(gb, expected)  # nothing lost, nothing twice


@pytest.mark.slow
@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
def test_a_second_ctrl_c_or_sigterm_ends_everything_at_once(tmp_path: Path, second: int) -> None:
    submitted = tmp_path / "course" / "submitted"
    expected = make_class(submitted, 8)
    db = _db(submitted)
    proc = _start_batch(submitted)
    wait_until(lambda: recorded_count(db) >= 1, 240, "1 submission recorded", proc)
    children = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.2)
    start = time.monotonic()
    os.kill(proc.pid, second)
    out, err = proc.communicate(timeout=30)
    seconds = time.monotonic() - start
    assert proc.returncode == 128 + second, err
    assert seconds < 3, f"{seconds:.1f} s from the second signal to exit"
    assert "Traceback" not in err, err
    n = recorded_count(db)
    assert f"stopped at once: {n} recorded, {8 - n} left; {RESUME}" in err
    assert_gone(children, timeout=2)
    rerun = subprocess.run(cli_argv("batch", "vjps", str(submitted), "--workers", "2",
                                    "--no-progress"),
                           cwd=IMPORT_ROOT, env=subprocess_env(), capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    with Gradebook(db) as gb:
        assert_complete(gb, expected)


# ------------------------------------------------------------------------------ exit codes
def test_grade_exit_codes_and_student_id(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    good = submission(tmp_path / "submitted" / "ann" / "vjps" / "vjps.ipynb", HONEST_VJPS)
    assert cli.main(["grade", "vjps", str(good), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["student"] == "ann" and out["gradable"] is True and out["total"] == 15
    assert cli.main(["grade", "vjps", str(good), "--json", "--student", "a.b"]) == 0
    assert json.loads(capsys.readouterr().out)["student"] == "a.b"

    not_a_notebook = tmp_path / "essay.ipynb"
    not_a_notebook.write_text("Dear grader, here is my essay.")
    assert cli.main(["grade", "vjps", str(not_a_notebook)]) == 1
    captured = capsys.readouterr()
    assert "not graded: the notebook could not be read" in captured.err
    assert "total: 0 / 15" in captured.out

    other = submission(tmp_path / "other.ipynb", {"clip_grad_norm": "def clip_grad_norm(g, c):\n"
                                                                     "    return g\n"})
    assert cli.main(["grade", "vjps", str(other), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["gradable"] is False and out["total"] == 0
    assert "another assignment's notebook" in out["problem"]
    assert out["student"] is None  # not in the <student>/<assignment>/ layout, no --student

    assert cli.main(["grade", "vjps", str(tmp_path / "missing.ipynb")]) == 2
    assert cli.main(["grade", "no_such_assignment", str(good)]) == 2
    with pytest.raises(SystemExit) as usage:
        cli.main(["grade", "vjps"])
    assert usage.value.code == 2


def test_help_documents_the_exit_codes() -> None:
    done = subprocess.run(cli_argv("batch", "--help"), cwd=IMPORT_ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130"):
        assert f"\n  {code}" in done.stdout
    assert "--scheduler" in done.stdout and "--shard" not in done.stdout


def test_top_level_help_lists_every_command() -> None:
    done = subprocess.run(cli_argv("--help"), cwd=IMPORT_ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("grade", "batch", "export", "gradescope"):
        assert f"\n    {command} " in done.stdout, (command, done.stdout)
    sub = subprocess.run(cli_argv("gradescope", "--help"), cwd=IMPORT_ROOT, env=subprocess_env(),
                         capture_output=True, text=True, timeout=60)
    assert sub.returncode == 0 and "--out" in sub.stdout, sub.stdout + sub.stderr


@pytest.mark.slow
def test_batch_summary_exit_code_and_whole_notes(tmp_path: Path) -> None:
    submitted = tmp_path / "course" / "submitted"
    make_class(submitted, 3)
    (submitted / "s900" / "vjps").mkdir(parents=True)  # no notebook at all
    (submitted / "s901" / "vjps").mkdir(parents=True)
    (submitted / "s901" / "vjps" / "vjps.ipynb").write_text("not json")
    json_dir, grades = tmp_path / "json", tmp_path / "out" / "grades.csv"
    done = subprocess.run(cli_argv("batch", "vjps", str(submitted), "--workers", "1",
                                   "--no-progress", "--json-dir", str(json_dir),
                                   "--csv", str(grades)),
                          cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1, done.stderr
    assert "graded 3, could not grade 2, skipped 0 already recorded" in done.stdout
    db = submitted.parent / "gradebook_ook.db"
    assert f"gradebook: sqlite:///{db}" in done.stdout and db.is_file()
    assert f"wrote 5 rows to {grades}" in done.stdout
    assert not (tmp_path / "gradebook_ook.db").exists()  # nothing in the current directory
    whole = "no notebook named `vjps.ipynb` was submitted"
    table_line = next(line for line in done.stdout.splitlines() if line.startswith("s901"))
    assert table_line.endswith("…") and len(table_line.split("  ")[-1]) <= 61
    assert json.loads((json_dir / "s900.json").read_text())["notes"] == [whole]
    note = json.loads((json_dir / "s901.json").read_text())["notes"][0]
    assert note.startswith("the notebook could not be read") and len(note) > 60
    with open(grades, newline="") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert rows["s900"]["notes"] == whole and rows["s901"]["notes"] == note
    again = subprocess.run(cli_argv("batch", "vjps", str(submitted), "--no-progress"),
                           cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    assert "graded 0, could not grade 0, skipped 5 already recorded" in again.stdout


# ------------------------------------------------------------------------------ start-up
def test_a_batch_with_nothing_to_grade_starts_no_cluster_and_no_torch(tmp_path: Path) -> None:
    submitted = tmp_path / "course" / "submitted"
    make_class(submitted, 2)
    from autograders.batch import sha256_of

    with Gradebook(f"sqlite:///{submitted.parent / 'gradebook_ook.db'}") as gb:
        from autograders.core import CellResult

        for s in ("s000", "s001"):
            gb.record("vjps", s, sha256_of(submitted / s / "vjps" / "vjps.ipynb"),
                      [CellResult("test_relu_vjp", 1.0, 1.0, "ok")], seconds=0.1, grader="t")
    code = ("import sys\nfrom autograders import cli\n"
            f"rc = cli.main(['batch', 'vjps', {str(submitted)!r}, '--no-progress'])\n"
            "print('loaded:', sorted(m for m in ('torch', 'distributed', 'nbformat') "
            "if m in sys.modules))\nsys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=IMPORT_ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout
    assert "graded 0, could not grade 0, skipped 2 already recorded" in done.stdout


# ------------------------------------------------------------------------------ environment
def _course_with_broken_setup(root: Path, n: int) -> Path:
    """A course whose own set-up cell imports a module the sandbox cannot import."""
    setup = "import numpy as np\nimport no_such_module_in_the_grader_env\n"
    with_setup_cell(root / "source" / "vjps" / "vjps.ipynb", HONEST_VJPS, setup)
    for k in range(n):
        with_setup_cell(root / "submitted" / f"s{k:03d}" / "vjps" / "vjps.ipynb", HONEST_VJPS,
                        setup)
    return root / "submitted"


@pytest.mark.slow
def test_a_broken_grader_environment_stops_the_batch_before_the_class(tmp_path: Path) -> None:
    submitted = _course_with_broken_setup(tmp_path / "course", 4)
    done = subprocess.run(cli_argv("batch", "vjps", str(submitted), "--workers", "1",
                                   "--no-progress"),
                          cwd=IMPORT_ROOT, env=subprocess_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 4, done.stderr
    assert "the grader's environment is broken" in done.stderr
    assert "set-up cell `imports`" in done.stderr
    assert "no_such_module_in_the_grader_env" in done.stderr
    assert "stopped before grading the class: 0 recorded, 4 left" in done.stderr
    assert recorded_count(_db(submitted)) == 0


def test_grade_reports_a_broken_environment_not_a_student_mistake(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    submitted = _course_with_broken_setup(tmp_path / "course", 1)
    nb = submitted / "s000" / "vjps" / "vjps.ipynb"
    assert cli.main(["grade", "vjps", str(nb), "--json"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""  # no grades: they would blame the student
    assert "no_such_module_in_the_grader_env" in captured.err
    assert "not the students' code" in captured.err
