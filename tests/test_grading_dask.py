"""Grading on Dask: a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.

A class of 30 is graded through ``batch --scheduler`` while one worker is SIGKILLed mid-batch:
every submission is recorded exactly once, with the same cell grades as a local run (a local
cluster whose worker is also killed mid-batch, then restarted by its nanny); once with SQLite
and once with a PostgreSQL server.  The scheduler and the workers are gone at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograders import cluster, sandbox
from autograders.batch import BatchConfig, run_batch
from autograders.gradebook import Gradebook
from autograders.sandbox import SandboxUnavailable
from tests.grading_helpers import (
    IMPORT_ROOT,
    LIMITS,
    assert_complete,
    assert_gone,
    cli,
    descendants,
    free_port,
    fresh_postgres_db,
    make_class,
    postgres_url,
    recorded_count,
    subprocess_env,
    wait_until,
)

__all__ = ["postgres_url"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sandbox.sandbox_problem() is not None,
                       reason=f"bubblewrap cannot run: {sandbox.sandbox_problem()}"),
]

DASK = Path(sys.executable).parent / "dask"
N_STUDENTS = 30
CellGrades = dict[str, list[tuple[str, float, str]]]


def _cell_grades(db_url: str) -> CellGrades:
    with Gradebook(db_url) as gb:
        return {s: [(c.grade_id, c.points, c.message) for c in gb.cell_grades("vjps", s)]
                for s in gb.recorded("vjps")}


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    root = tmp_path_factory.mktemp("class") / "submitted"
    return root, make_class(root, N_STUDENTS)


@pytest.fixture(scope="module")
def local_grades(klass: tuple[Path, dict[str, float]],
                 tmp_path_factory: pytest.TempPathFactory) -> CellGrades:
    """The class graded on a local cluster of 2; one worker SIGKILLed after 3 results."""
    submitted, expected = klass
    url = f"sqlite:///{tmp_path_factory.mktemp('local') / 'g.db'}"
    engine = cluster.local_engine(2)
    try:
        engine.client.wait_for_workers(2, timeout=120)
        pids = engine.client.run(os.getpid)
        victim = next(iter(pids.values()))
        killed: list[int] = []

        def kill_once(row: dict) -> None:
            if len(killed) == 0 and recorded_count(url) >= 3:
                killed.append(victim)
                os.kill(victim, 9)

        report = run_batch("vjps", submitted, BatchConfig(url, LIMITS), client=engine.client,
                           progress=False, on_result=kill_once)
        assert killed, "the worker was killed mid-batch"
        assert len(report.graded) == N_STUDENTS and report.failed == []
        engine.client.wait_for_workers(2, timeout=120)
        restarted = set(engine.client.run(os.getpid).values())
        assert victim not in restarted and len(restarted) == 2  # its nanny started another
    finally:
        engine.close()
    with Gradebook(url) as gb:
        assert_complete(gb, expected)
    return _cell_grades(url)


@contextlib.contextmanager
def _dask(tmp_path: Path, n_workers: int, env: dict[str, str]) -> Iterator[dict]:
    """``dask scheduler`` + ``dask worker --no-nanny --nthreads 1`` on free loopback ports;
    on exit, every process of it (sandboxes included) is gone."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir(exist_ok=True)

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as log:
            return subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT,
                                    env=env, cwd=tmp_path, start_new_session=True)

    procs = [start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                   "--no-dashboard")]
    for i in range(n_workers):
        procs.append(start(f"worker{i}", "worker", address, "--nthreads", "1", "--no-nanny",
                           "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0",
                           "--local-directory", str(tmp_path / f"worker{i}")))
    try:
        from distributed import Client

        with Client(address, timeout=120, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=120)
        yield {"address": address, "scheduler": procs[0], "workers": procs[1:], "logs": logs}
    finally:
        everything = [p for proc in procs for p in descendants(proc.pid)]
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert_gone(everything)
    assert all(p.poll() is not None for p in procs)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[dict]:
    """A scheduler and 2 workers that import the grader from where this test imported it."""
    with _dask(tmp_path, 2, subprocess_env()) as running:
        yield running


def _grade_through_scheduler(submitted: Path, db_url: str, dask_cluster: dict) -> str:
    proc = subprocess.Popen(
        cli("batch", "vjps", str(submitted), "--scheduler", dask_cluster["address"],
            "--db", db_url, "--no-progress", "--call-seconds", "5"),
        cwd=IMPORT_ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    wait_until(lambda: recorded_count(db_url) >= 3, 240, "3 submissions recorded", proc)
    victim = dask_cluster["workers"][0]
    its_sandboxes = descendants(victim.pid)
    victim.kill()  # SIGKILL, mid-batch
    victim.wait()
    assert_gone(its_sandboxes)  # bubblewrap --die-with-parent
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err + "\n" + (dask_cluster["logs"] / "scheduler.log").read_text()
    assert f"graded {N_STUDENTS}, could not grade 0, skipped 0 already recorded" in out
    return out


def test_scheduler_batch_with_sqlite_survives_a_killed_worker(
        klass: tuple[Path, dict[str, float]], local_grades: CellGrades, dask_cluster: dict,
        tmp_path: Path) -> None:
    submitted, expected = klass
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _grade_through_scheduler(submitted, url, dask_cluster)
    with Gradebook(url) as gb:
        assert_complete(gb, expected)  # each submission once, complete
    assert _cell_grades(url) == local_grades


def test_scheduler_batch_with_postgres_survives_a_killed_worker(
        klass: tuple[Path, dict[str, float]], local_grades: CellGrades, dask_cluster: dict,
        postgres_url: str) -> None:
    submitted, expected = klass
    url = fresh_postgres_db(postgres_url, "dask_batch")
    _grade_through_scheduler(submitted, url, dask_cluster)
    with Gradebook(url) as gb:
        assert_complete(gb, expected)
    assert _cell_grades(url) == local_grades
    # a second run finds everything recorded and starts nothing
    rerun = run_batch("vjps", submitted, BatchConfig(url, LIMITS),
                      scheduler=dask_cluster["address"], progress=False)
    assert rerun.graded == [] and len(rerun.skipped) == N_STUDENTS


def test_a_worker_without_bubblewrap_refuses_the_task(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    submitted = tmp_path / "submitted"
    make_class(submitted, 2)
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=":0", env={"PATH": "/nonexistent"}) as lc, \
            Client(lc, set_as_default=False) as client:
        with pytest.raises(SandboxUnavailable) as err:
            run_batch("vjps", submitted, BatchConfig(url, LIMITS), client=client,
                      progress=False)
    message = str(err.value)
    assert "bubblewrap (`bwrap`) is not installed" in message
    assert "refusing to run student code" in message and "--unsafe-no-sandbox" in message
    with Gradebook(url) as gb:
        assert gb.counts("vjps") == (0, 0)


def test_a_worker_with_other_grader_files_stops_the_batch(tmp_path: Path) -> None:
    """A worker whose checks differ from the client's would grade with other checks."""
    other = tmp_path / "other-checkout"
    shutil.copytree(IMPORT_ROOT / "autograders", other / "autograders",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "autograders" / "checks" / "vjps.py", "a") as fh:
        fh.write("\n# an edit made on the worker's checkout only\n")
    submitted = tmp_path / "submitted"
    make_class(submitted, 2)
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with _dask(tmp_path, 1, {**os.environ, "PYTHONPATH": str(other)}) as running:
        done = subprocess.run(
            cli("batch", "vjps", str(submitted), "--scheduler", running["address"], "--db", url,
                "--no-progress"),
            cwd=IMPORT_ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 4, done.stderr
    assert "runs another version of the grader" in done.stderr
    assert recorded_count(url) == 0


def _blas_in_a_thread() -> dict[str, int]:
    """In a worker: the BLAS/OpenMP pool sizes, after a matrix product run from a new thread
    (the warm-up's situation) that must finish."""
    import threading

    import numpy as np
    import threadpoolctl

    done = threading.Event()

    def product() -> None:
        a = np.ones((32, 784))
        for _ in range(50):
            a @ np.ones((784, 1500))
        done.set()

    threading.Thread(target=product, daemon=True).start()
    finished = done.wait(60)
    pools = {i["internal_api"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
    return {"finished": int(finished), **pools}


def test_local_workers_use_one_blas_thread() -> None:
    """Workers forked from the fork server have single-threaded BLAS: a pool created before the
    fork would not exist in the worker, and OpenBLAS would spin forever in a product."""
    engine = cluster.local_engine(1)
    try:
        engine.client.wait_for_workers(1, timeout=120)
        (info,) = engine.client.run(_blas_in_a_thread).values()
    finally:
        engine.close()
    assert info["finished"] == 1, info
    assert info.get("openblas") == 1, info
