"""Shared helpers of the grading tests: a class of submissions, process checks, PostgreSQL.

The PostgreSQL fixture starts its own server (Debian's postgresql 15) on 127.0.0.1 in a
temporary directory, as the ``postgres`` user when run as root, and tears it down afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

import autograders
from autograders.gradebook import Gradebook
from autograders.sandbox import Limits
from tests.attacks.notebooks import HONEST_VJPS, submission

REPO = Path(__file__).resolve().parents[1]
#: Where this process imported the grader from: subprocesses (a batch, Dask workers) run from
#: there, so that they grade with the same files (the grader compares their fingerprints).
IMPORT_ROOT = Path(autograders.__file__).parent.parent
LIMITS = Limits(call_seconds=5.0, setup_seconds=20.0)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SIGN_FLIP = "import numpy as np\ndef tanh_vjp(t, p):\n    return (np.tanh(t)**2 - 1) * p\n"


def make_class(root: Path, n: int) -> dict[str, float]:
    """n students under ``root``; every third one flips the sign of tanh_vjp (loses 1 point)."""
    expected = {}
    for k in range(n):
        student = f"s{k:03d}"
        sources = dict(HONEST_VJPS)
        if k % 3 == 2:
            sources["tanh_vjp"] = SIGN_FLIP
        submission(root / student / "vjps" / "vjps.ipynb", sources)
        expected[student] = 14.0 if k % 3 == 2 else 15.0
    return expected


def with_setup_cell(path: Path, sources: dict[str, str], setup: str) -> Path:
    """:func:`~tests.attacks.notebooks.submission` with a locked set-up cell ``imports`` (the
    assignment's own, as nbgrader releases it) before the answer cells."""
    import nbformat

    submission(path, sources)
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_code_cell(setup)
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                 "grade_id": "imports", "schema_version": 3}
    nb.cells.insert(1, cell)
    nbformat.write(nb, path)
    return path


def cli(*args: str) -> list[str]:
    """The command line of ``python -m autograders <args>`` with this interpreter (run it with
    ``cwd=IMPORT_ROOT``)."""
    return [sys.executable, "-m", "autograders", *args]


def subprocess_env() -> dict[str, str]:
    """This environment, with the grader importable from :data:`IMPORT_ROOT`."""
    return {**os.environ, "PYTHONPATH": str(IMPORT_ROOT)}


def assert_complete(gb: Gradebook, expected: dict[str, float]) -> None:
    """Every student recorded once with the expected score and all 9 cells, nothing else."""
    recorded = gb.recorded("vjps")
    assert {s: r.score for s, r in recorded.items()} == expected
    assert gb.counts("vjps") == (len(expected), 9 * len(expected))  # no duplicate, no half record
    for student in expected:
        cells = gb.cell_grades("vjps", student)
        assert len(cells) == 9
        assert sum(c.points for c in cells) == recorded[student].score


def recorded_count(db_url: str) -> int:
    """Rows in ``submissions`` now (0 while the gradebook does not exist yet)."""
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.exists():
            return 0
        try:
            with sqlite3.connect(path, timeout=1) as con:
                return int(con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
    import psycopg

    try:
        with psycopg.connect(db_url, connect_timeout=5) as con:
            row = con.execute("SELECT COUNT(*) FROM submissions").fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               proc: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` every 50 ms; fail with ``what`` after ``timeout`` seconds (or as soon
    as ``proc`` has exited without the condition being met)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process exited (code {proc.returncode}) before: {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for: {what}")


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def alive(procs: list[psutil.Process]) -> list[str]:
    """The processes of ``procs`` still running (zombies excluded), as ``pid cmdline``."""
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            continue
    return left


def assert_gone(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(procs) == []


def free_port() -> int:
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
    data, port = root / "data", free_port()
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


def fresh_postgres_db(url: str, name: str) -> str:
    """A new, empty database on the server of ``url``; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name}")
        con.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + f"/{name}"
