"""Out-of-kernel grading: Dask against the fork pool it replaced, and against nbgrader.

Builds a temporary copy of the course (``exercises/``), releases ``vjps``, writes
``MMIDS_BENCH_N`` (default 200) submissions from the source notebook's solutions (every
fourth one with a sign error in ``tanh_vjp``), then in the same run:

* grades all of them four ways: a local Dask cluster of 1 and of 2 workers (the engine of
  ``python -m autograders batch``, through ``autograders.batch.run_batch``), and the fork pool
  that engine replaced (re-implemented here as the baseline: ``ProcessPoolExecutor`` forked
  after the warm-up, each process grading with ``autograders.submission.grade_submission``,
  this process recording); the four alternate over four rounds of a quarter of the
  submissions each, so a change in the load of a shared machine affects all of them alike;
  pools and clusters are started once, before timing (their start-up is its own row);
* measures each engine's own per-task cost with no-op tasks (Dask round trip vs pool);
* grades the first ``MMIDS_BENCH_NBGRADER_N`` (default 20) with plain ``nbgrader autograde``
  and checks the totals agree;
* times ``python -m autograders grade`` of one notebook (the whole process, median of 3)
  against ``python -c "import torch"`` (the floor of any process whose oracles use torch).

Targets (issue 12): Dask at most 10% slower than the fork pool; 2 Dask workers at least 1.7x
faster than 1.
"""

from __future__ import annotations

import copy
import gc
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "vjps"
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)
_SIGN_ERROR = "import numpy as np\n\ndef tanh_vjp(t, p):\n    return (np.tanh(t) ** 2 - 1) * p\n"


def _submissions(course: Path, n: int) -> list[str]:
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    students = []
    for k in range(n):
        nb = copy.deepcopy(source)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                cell.source = _MARKER.sub("", cell.source)
                if k % 4 == 3 and meta.get("grade_id") == "tanh_vjp":
                    cell.source = _SIGN_ERROR
        student = f"s{k:04d}"
        out = course / "all_submitted" / student / ASSIGNMENT
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / f"{ASSIGNMENT}.ipynb")
        students.append(student)
    return students


def _stats(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def _subs(course: Path, students: list[str]) -> list:
    from autograders.batch import Submission

    return [Submission(s, course / "all_submitted" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
            for s in students]


def _dask(client: Any, workers: int, course: Path, students: list[str],
          tag: str) -> tuple[list[float], float, dict[str, float]]:
    """One round through a running local Dask cluster (the batch command's engine)."""
    from autograders.batch import BatchConfig, run_batch

    db = f"sqlite:///{course / f'dask_{workers}_{tag}.db'}"
    start = time.perf_counter()
    report = run_batch(ASSIGNMENT, _subs(course, students), BatchConfig(db), client=client,
                       progress=False)
    wall = time.perf_counter() - start
    assert len(report.graded) == len(students) and not report.failed
    return ([r["seconds"] for r in report.graded], wall,
            {r["student"]: r["score"] for r in report.graded})


def _pool_init() -> None:
    import torch

    torch.set_num_threads(1)


def _pool_grade(path: str) -> dict[str, Any]:
    from autograders.submission import grade_submission

    return grade_submission(ASSIGNMENT, path).as_dict()


def _pool_noop(x: int) -> int:
    return x


def _fork_pool(pool: Any, workers: int, course: Path, students: list[str],
               tag: str) -> tuple[list[float], float, dict[str, float]]:
    """One round through the fork pool (the baseline), recording here as the batch does."""
    from autograders.gradebook import Gradebook
    from autograders.submission import SubmissionResult

    subs = _subs(course, students)
    start = time.perf_counter()
    results = []
    with Gradebook(f"sqlite:///{course / f'fork_{workers}_{tag}.db'}") as gb:
        futures = {pool.submit(_pool_grade, str(s.path)): s for s in subs}
        for fut in as_completed(futures):
            res = SubmissionResult.from_dict(fut.result())
            gb.record(ASSIGNMENT, futures[fut].student, res.sha256, res.results,
                      seconds=res.seconds, grader="bench", notes=res.notes)
            results.append((futures[fut].student, res))
    wall = time.perf_counter() - start
    return [r.seconds for _, r in results], wall, {s: r.score for s, r in results}


def _noop_seconds(run: Any, n: int = 200) -> float:
    start = time.perf_counter()
    run(n)
    return (time.perf_counter() - start) / n


#: Run subprocesses where this process imported the grader from (the same files).
_IMPORT_ROOT = Path(__import__("autograders").__file__).parent.parent


def _whole_process(argv: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=_IMPORT_ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} ... failed:\n{done.stderr[-2000:]}")
    return statistics.median(times)


_LOG = re.compile(r"^(\d\d:\d\d:\d\d\.\d\d\d) (.*)$")


def _nbgrader(course: Path, students: list[str]) -> tuple[list[float], float, dict[str, float]]:
    from nbgrader.api import Gradebook

    from autograders.course import nbgrader

    for s in students:
        shutil.copytree(course / "all_submitted" / s, course / "submitted" / s)
    start = time.perf_counter()
    proc = nbgrader(course, "autograde", ASSIGNMENT, "--force",
                    "--Application.log_datefmt=%H:%M:%S",
                    "--Application.log_format=%(asctime)s.%(msecs)03d %(message)s")
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed:\n{proc.stderr[-3000:]}")
    # per submission: from "Overwriting files" of that student to its last permissions line
    starts: list[datetime] = []
    ends: list[datetime] = []
    for line in proc.stderr.splitlines():
        m = _LOG.match(line)
        if not m:
            continue
        stamp = datetime.strptime(m.group(1), "%H:%M:%S.%f")
        if m.group(2).startswith("Overwriting files with master versions"):
            starts.append(stamp)
        elif m.group(2).startswith("Setting destination file permissions") and starts:
            if len(ends) == len(starts):
                ends[-1] = stamp
            else:
                ends.append(stamp)
    per = [(e - s).total_seconds() % 86400 for s, e in zip(starts, ends, strict=False)]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: float(gb.find_submission(ASSIGNMENT, s).score) for s in students}
    return per, wall, scores


def main() -> None:
    from autograders import cluster
    from autograders.course import nbgrader
    from autograders.sandbox import sandbox_problem
    from autograders.submission import resolve, warm_up

    n = int(os.environ.get("MMIDS_BENCH_N", "200"))
    n_nb = int(os.environ.get("MMIDS_BENCH_NBGRADER_N", "20"))
    if sandbox_problem() is not None:
        raise RuntimeError(f"the sandbox cannot run here: {sandbox_problem()}")
    with tempfile.TemporaryDirectory(prefix="mmids-bench-grading-") as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copy(REPO / "exercises" / "nbgrader_config.py", course)
        shutil.copytree(REPO / "exercises" / "source", course / "source")
        proc = nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
        if proc.returncode != 0:
            raise RuntimeError(f"generate_assignment failed:\n{proc.stderr[-2000:]}")
        students = _submissions(course, n)
        one = course / "all_submitted" / students[0] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        t_grade = _whole_process([sys.executable, "-m", "autograders", "grade", ASSIGNMENT,
                                  str(one), "--json"])
        t_torch = _whole_process([sys.executable, "-c", "import torch"])
        # the fork pools are forked first (after the warm-up), before any Dask thread exists
        start = time.perf_counter()
        warm_up(resolve(ASSIGNMENT))
        import torch  # noqa: F401 - loaded before the fork, as the old batch did

        gc.freeze()
        ctx = multiprocessing.get_context("fork")
        pools = {w: ProcessPoolExecutor(w, mp_context=ctx, initializer=_pool_init)
                 for w in (1, 2)}
        for w, pool in pools.items():
            list(pool.map(_pool_noop, range(w)))
        t_pool_start = time.perf_counter() - start
        engines = {}
        start = time.perf_counter()
        for w in (1, 2):
            engines[w] = cluster.local_engine(w)
            engines[w].client.wait_for_workers(w, timeout=300)
            engines[w].client.register_plugin(cluster.WarmUp([ASSIGNMENT]))
            engines[w].client.gather([engines[w].client.submit(
                cluster.warm, [ASSIGNMENT], pure=False, workers=[a])
                for a in engines[w].workers()])
        t_dask_start = (time.perf_counter() - start) / 2
        noop = {
            "fork": _noop_seconds(lambda k: list(pools[2].map(_pool_noop, range(k)))),
            "dask": _noop_seconds(lambda k: engines[2].client.gather(
                engines[2].client.map(_pool_noop, range(k), pure=False))),
        }
        scores: dict[str, dict[str, float]] = {}
        per: dict[str, list[float]] = {}
        walls: dict[str, float] = {}
        try:
            rounds = 4
            for r in range(rounds):
                chunk = students[r * n // rounds:(r + 1) * n // rounds]
                for w in (1, 2):
                    for name in ("fork", "dask"):
                        key = f"{name}{w}"
                        if name == "fork":
                            secs, wall, got = _fork_pool(pools[w], w, course, chunk, str(r))
                        else:
                            secs, wall, got = _dask(engines[w].client, w, course, chunk, str(r))
                        per.setdefault(key, []).extend(secs)
                        walls[key] = walls.get(key, 0.0) + wall
                        scores.setdefault(key, {}).update(got)
        finally:
            for engine in engines.values():
                engine.close()
            for pool in pools.values():
                pool.shutdown()
            gc.unfreeze()
        per_nb, wall_nb, nb_scores = _nbgrader(course, students[:n_nb])
    names = {"fork1": "fork pool (old engine), 1 process", "fork2": "fork pool, 2 processes",
             "dask1": "Dask local cluster, 1 worker", "dask2": "Dask local cluster, 2 workers"}
    print(f"{'method':<42} {'subs':>5} {'median s':>9} {'p95 s':>7} {'wall s':>8} "
          f"{'subs/min':>9}")
    for key in ("fork1", "dask1", "fork2", "dask2"):
        med, p95 = _stats(per[key])
        print(f"{names[key]:<42} {n:>5} {med:>9.2f} {p95:>7.2f} {walls[key]:>8.1f} "
              f"{60 * n / walls[key]:>9.1f}")
    med, p95 = _stats(per_nb)
    print(f"{'nbgrader autograde (1 kernel/submission)':<42} {n_nb:>5} {med:>9.2f} {p95:>7.2f} "
          f"{wall_nb:>8.1f} {60 * n_nb / wall_nb:>9.1f}")
    for w in (1, 2):
        ratio = walls[f"dask{w}"] / walls[f"fork{w}"]
        print(f"\nDask / fork pool wall clock, {w} worker{'s' if w > 1 else ''}: {ratio:.2f}x "
              f"(target <= 1.10x); Dask adds "
              f"{(walls[f'dask{w}'] - walls[f'fork{w}']) * w / n * 1000:+.0f} ms per task")
    print(f"speed-up of 2 Dask workers over 1 (wall, same {n} submissions): "
          f"{walls['dask1'] / walls['dask2']:.2f}x (target >= 1.7x); fork pool: "
          f"{walls['fork1'] / walls['fork2']:.2f}x")
    print(f"engine cost of a no-op task (2 workers): Dask {noop['dask'] * 1000:.1f} ms, "
          f"fork pool {noop['fork'] * 1000:.1f} ms")
    print(f"start-up paid once per batch: Dask cluster + warm-up {t_dask_start:.1f} s, "
          f"fork pool (warm-up in the parent, then fork) {t_pool_start:.1f} s")
    same = all(abs(nb_scores[s] - scores["dask2"][s]) < 1e-9 for s in students[:n_nb])
    agree = all(scores[k] == scores["dask2"] for k in scores)
    print(f"nbgrader and out-of-kernel totals agree on the {n_nb} shared submissions: {same}; "
          f"the four engines agree on all {n}: {agree}")
    print(f"`python -m autograders grade` of one notebook (whole process, median of 3): "
          f"{t_grade:.1f} s = {t_grade / t_torch:.1f}x `python -c 'import torch'` "
          f"({t_torch:.1f} s)")
    print(f"(machine load average at the end: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
