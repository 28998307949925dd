"""Grading a class, resumably, on a Dask cluster (local or existing).

:func:`run_batch` lists ``<submitted>/<student>/<assignment>/<notebook>``, skips the
submissions already recorded with the same notebook (SHA-256), and sends one Dask task per
submission (:func:`autograders.cluster.grade_task`) to a local cluster it starts
(``workers`` processes) or to an existing scheduler.  Results come back by value and THIS
process alone records them, one transaction per submission, so a task that ran twice (its
worker was lost, then it was retried) is recorded once.  Before grading the class it runs the
assignment's own set-up cells in a sandbox on every worker: if they fail there, the grader's
environment is broken and the batch stops before grading anyone.

Nothing to grade means no cluster, no torch.  A ``stop`` event (set by the first Ctrl-C, see
:mod:`autograders.interrupt`) stops taking new submissions, records those that finish within
``grace_seconds`` and abandons the rest: running the same batch again grades what is left.

Reading and grading one submission lives in :mod:`autograders.submission` (re-exported here).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autograders.core import Assignment
from autograders.sandbox import Limits, SandboxUnavailable, sandbox_problem
from autograders.submission import (
    MAX_NOTEBOOK_BYTES,
    RemoteCaller,
    SubmissionResult,
    answer_cells,
    grade_notebook,
    grade_submission,
    not_gradable,
    notebook_cells,
    parse_notebook,
    pristine_setup,
    read_notebook,
    resolve,
    sandbox_refusal,
    sha256_bytes,
    sha256_of,
    to_python,
    warm_up,
)

__all__ = [
    "MAX_NOTEBOOK_BYTES", "BatchConfig", "BatchReport", "RemoteCaller", "Submission",
    "SubmissionResult", "Tally", "answer_cells", "default_db", "discover", "grade_notebook",
    "grade_submission", "notebook_cells", "parse_notebook", "resolve", "run_batch",
    "sandbox_problem", "sha256_of", "to_python", "warm_up",
]

#: Seconds the in-flight submissions get to finish after a stop request.
GRACE_SECONDS = 2.5
#: Times one submission is sent again after the worker running it was lost.
MAX_RESUBMITS = 2
#: Note length in the summary table (the JSON files and the CSV have them whole).
NOTE_WIDTH = 60


# -------------------------------------------------------------------------------- finding
@dataclass(frozen=True)
class Submission:
    student: str
    path: Path


def discover(submitted: str | Path, assignment: Assignment) -> list[Submission]:
    """nbgrader layout ``<submitted>/<student>/<assignment>/<notebook>``, sorted by student.

    A student who has an ``<assignment>`` folder but no notebook of the expected name is still
    listed: grading records a 0 whose message names the files found, never a silent gap.
    """
    root = Path(submitted)
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory of submissions")
    found = []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        nb = student_dir / assignment.name / assignment.notebook
        if nb.is_file() or nb.parent.is_dir():
            found.append(Submission(student_dir.name, nb))
    return found


def default_db(submitted: str | Path) -> str:
    """The gradebook next to the submissions: ``<submitted>/../gradebook_ook.db``."""
    return f"sqlite:///{(Path(submitted).absolute().parent / 'gradebook_ook.db')}"


def _course_of(subs: Sequence[Submission], submitted: Any) -> Path | None:
    """The course folder (the one holding ``submitted/``), for the pristine notebook."""
    if isinstance(submitted, str | Path):
        return Path(submitted).absolute().parent
    if subs and len(subs[0].path.absolute().parents) > 3:
        return subs[0].path.absolute().parents[3]
    return None


# -------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class BatchConfig:
    db_url: str
    limits: Limits = Limits()
    sandboxed: bool = True
    json_dir: Path | None = None
    grader: str = ""


@dataclass
class Tally:
    """Live counts of a running batch (read by a signal handler to say what is left)."""

    todo: int = 0
    recorded: int = 0

    @property
    def left(self) -> int:
        return self.todo - self.recorded


@dataclass
class BatchReport:
    """What a batch did.

    ``graded``: one row per submission recorded in this run (``problem`` set for a
    submission that could not be graded and was recorded as 0 with the reason); ``failed``:
    ``(student, reason)`` of submissions the grader could not grade (not recorded: the next
    run tries them again); ``environment_error``: why the batch stopped before grading the
    class; ``interrupted``/``left``: a stop request ended it with ``left`` submissions to go.
    """

    graded: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)
    environment_error: str | None = None
    interrupted: bool = False
    left: int = 0
    dashboard: str | None = None

    @property
    def not_gradable(self) -> list[dict[str, Any]]:
        return [r for r in self.graded if r.get("problem")]

    @property
    def could_not_grade(self) -> int:
        return len(self.not_gradable) + len(self.failed)

    def summary_line(self) -> str:
        n_ok = len(self.graded) - len(self.not_gradable)
        return (f"graded {n_ok}, could not grade {self.could_not_grade}, "
                f"skipped {len(self.skipped)} already recorded")

    def summary_table(self) -> str:
        """Plain-text table: per student score, and per test cell the mean points."""
        lines = [f"{'student':<24} {'score':>8} {'max':>6} {'seconds':>8}  notes"]
        cut = False
        for row in sorted(self.graded, key=lambda r: r["student"]):
            note = "; ".join(row["notes"])
            if row.get("problem"):
                note = f"NOT GRADABLE: {row['problem']}"
            if len(note) > NOTE_WIDTH:
                note, cut = note[:NOTE_WIDTH - 1] + "…", True
            lines.append(f"{row['student']:<24} {row['score']:>8.2f} {row['max_score']:>6.1f} "
                         f"{row['seconds']:>8.2f}  {note}")
        for student, reason in sorted(self.failed):
            lines.append(f"{student:<24} {'-':>8} {'-':>6} {'-':>8}  COULD NOT GRADE "
                         f"(not recorded): {reason}")
        if cut:
            lines.append(f"(notes cut at {NOTE_WIDTH} characters; whole in the --json-dir files, "
                         "the gradebook and the CSV export)")
        gradable = [r for r in self.graded if not r.get("problem")]
        if gradable:
            per_cell: dict[str, list[float]] = {}
            maxima: dict[str, float] = {}
            for row in gradable:
                for cell in row["cells"]:
                    per_cell.setdefault(cell["grade_id"], []).append(cell["points"])
                    maxima[cell["grade_id"]] = cell["max_points"]
            lines.append("")
            lines.append(f"{'test cell':<32} {'mean':>8} {'max':>6}")
            for gid, pts in per_cell.items():
                lines.append(f"{gid:<32} {sum(pts) / len(pts):>8.2f} {maxima[gid]:>6.1f}")
        lines.append(f"\n{self.summary_line()}; {self.wall_seconds:.1f} s wall clock")
        return "\n".join(lines)


# -------------------------------------------------------------------------------- batch
class _Stopped(Exception):
    """Internal: the batch must stop now (set on the report already)."""


def run_batch(assignment: str | Assignment, submitted: str | Path | Sequence[Submission],
              config: BatchConfig, *, workers: int = 1, scheduler: str | None = None,
              client: Any = None, progress: bool = True,
              on_result: Callable[[dict[str, Any]], None] | None = None,
              stop: threading.Event | None = None, grace_seconds: float = GRACE_SECONDS,
              tally: Tally | None = None,
              say: Callable[[str], None] | None = None) -> BatchReport:
    """Grade every submission not yet recorded (with the same notebook hash) into the gradebook.

    The tasks go to ``client`` (a ``distributed.Client``) if given, else to the scheduler at
    ``scheduler``, else to a local cluster of ``workers`` processes started for this batch.
    Raises :class:`~autograders.sandbox.SandboxUnavailable` before grading anyone when the
    sandbox cannot run (here, for a local cluster; on a worker, for a remote one) and
    ``config.sandboxed`` is true.  ``say`` receives one-line status messages.
    """
    from autograders.gradebook import Gradebook

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    spec = resolve(assignment)
    if config.sandboxed and client is None and scheduler is None:
        problem = sandbox_problem()
        if problem is not None:
            raise SandboxUnavailable(sandbox_refusal(problem))
    subs = (list(submitted) if not isinstance(submitted, str | Path)
            else discover(submitted, spec))
    if not config.grader:
        config = replace(config, grader=f"{socket.gethostname()}:{os.getpid()}")
    if config.json_dir is not None:
        config.json_dir.mkdir(parents=True, exist_ok=True)
    tally = tally if tally is not None else Tally()
    start = time.perf_counter()
    report = BatchReport()
    with Gradebook(config.db_url) as gb:
        done = gb.recorded(spec.name)
        todo = []
        for sub in subs:
            prev = done.get(sub.student)
            if prev is not None and prev.notebook_sha256 == sha256_of(sub.path):
                report.skipped.append(sub.student)
            else:
                todo.append(sub)
        tally.todo = len(todo)
        if todo and not (stop is not None and stop.is_set()):
            _Run(spec, config, gb, report, tally, stop, on_result, say, progress,
                 grace_seconds, _course_of(subs, submitted)).run(todo, workers, scheduler,
                                                                 client)
        elif todo:
            report.interrupted, report.left = True, len(todo)
    report.wall_seconds = time.perf_counter() - start
    return report


class _Run:
    """One batch's grading loop on a Dask client (see :func:`run_batch`)."""

    def __init__(self, spec: Assignment, config: BatchConfig, gb: Any, report: BatchReport,
                 tally: Tally, stop: threading.Event | None,
                 on_result: Callable[[dict[str, Any]], None] | None,
                 say: Callable[[str], None] | None, progress: bool, grace: float,
                 course: Path | None) -> None:
        self.spec, self.config, self.gb, self.report, self.tally = spec, config, gb, report, tally
        self.stop = stop or threading.Event()
        self.on_result, self.grace, self.course = on_result, grace, course
        self._say = say
        self.progress = progress
        self.bar: Any = None
        self.recorded: set[str] = set()

    def say(self, text: str) -> None:
        if self._say is not None:
            if self.bar is not None:
                self.bar.clear()
            self._say(text)
            if self.bar is not None:
                self.bar.refresh()

    # ---------------------------------------------------------------- set-up
    def run(self, todo: list[Submission], workers: int, scheduler: str | None,
            client: Any) -> None:
        from autograders import cluster

        found = pristine_setup(self.spec, self.course)
        self.pristine = found[1] if found else []
        if found is None:
            self.say(f"note: no pristine `{self.spec.notebook}` found (source/ or release/): "
                     "the set-up cells are not checked before grading")
        if client is not None:
            engine = cluster.Engine(client, owns_client=False)
        elif scheduler is not None:
            engine = cluster.connect(scheduler)
        else:
            self.say(f"starting a local Dask cluster of {workers} worker process"
                     f"{'es' if workers > 1 else ''}")
            engine = cluster.local_engine(workers)
        self.engine = engine
        try:
            dashboard = engine.dashboard()
            self.report.dashboard = dashboard
            if dashboard:
                self.say(f"Dask dashboard: {dashboard}")
            engine.client.register_plugin(cluster.WarmUp([self.spec.name]))
            self._preflight(cluster)
            self._loop(todo, cluster)
        except _Stopped:
            pass
        finally:
            if self.bar is not None:
                self.bar.close()
            if self.report.interrupted or self.report.environment_error:
                engine.abandon()
            engine.close()

    def _wait_for_workers(self) -> dict[str, int]:
        waited = False
        while not self.stop.is_set():
            workers = self.engine.workers()
            if len(workers) >= self.engine.expected:
                return workers
            if not waited and self.engine.cluster is None:
                self.say("waiting for Dask workers to connect to the scheduler ...")
                waited = True
            self.stop.wait(0.5)
        self._interrupted(self.tally.todo)
        raise _Stopped

    def _preflight(self, cluster: Any) -> None:
        """The assignment's own set-up cells, in a sandbox on every worker, before the class."""
        client = self.engine.client
        workers = self._wait_for_workers()
        futures = [client.submit(cluster.preflight_task, self.pristine, self.config.limits,
                                 self.config.sandboxed, workers=[addr],
                                 allow_other_workers=True, pure=False,
                                 key=f"preflight-{self.spec.name}-{addr}") for addr in workers]
        deadline = time.monotonic() + 120 + self.config.limits.setup_seconds
        pending = list(futures)
        while pending:
            if self.stop.is_set():
                client.cancel(futures)
                self._interrupted(self.tally.todo)
                raise _Stopped
            if time.monotonic() > deadline:
                client.cancel(futures)
                self._environment("the workers did not run the set-up check within "
                                  f"{deadline:.0f} s")
            for fut in [f for f in pending if f.done()]:
                pending.remove(fut)
                if fut.status == "error":
                    exc = fut.exception()
                    if isinstance(exc, SandboxUnavailable):
                        raise exc
                    self._environment(f"the set-up check failed on a worker: "
                                      f"{type(exc).__name__}: {exc}")
                out = fut.result()
                self._check_fingerprint(out, cluster)
                if out["error"]:
                    self._environment(out["error"])
            self.stop.wait(0.05)

    def _environment(self, message: str) -> None:
        self.report.environment_error = message
        self.report.left = self.tally.left
        raise _Stopped

    def _check_fingerprint(self, out: dict[str, Any], cluster: Any) -> None:
        if out.get("fingerprint") != cluster.fingerprint():
            self._environment(
                f"the worker on {out.get('host')} runs another version of the grader (its "
                "`autograders`/`mmids` files differ from this machine's): install the same "
                "checkout on every worker, then run the same command again")

    # ---------------------------------------------------------------- grading
    def _loop(self, todo: list[Submission], cluster: Any) -> None:
        from distributed import as_completed
        from tqdm import tqdm

        client = self.engine.client
        self.bar = tqdm(total=len(todo), desc=f"grading {self.spec.name}", unit="nb",
                        disable=not self.progress)
        queue = deque((sub, 0) for sub in todo)
        inflight: dict[Any, tuple[Submission, str, int]] = {}
        done = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        window, refreshed = 2, 0.0
        while queue or inflight:
            if self.stop.is_set():
                self._drain(done, inflight, queue, cluster)
                return
            if time.monotonic() - refreshed > 2.0:  # workers come and go
                window = max(2, 2 * sum(self.engine.workers().values()) + 1)
                refreshed = time.monotonic()
            while queue and len(inflight) < window:
                sub, attempt = queue.popleft()
                try:
                    data = read_notebook(sub.path)
                except ValueError as exc:  # no notebook: nothing to send to a worker
                    self._record(not_gradable(self.spec, str(exc), student=sub.student,
                                              notebook=str(sub.path), sha256=sha256_of(sub.path)))
                    continue
                sha = sha256_bytes(data)
                fut = client.submit(cluster.grade_task, self.spec.name, sub.student, data,
                                    self.config.limits, self.config.sandboxed, self.pristine,
                                    key=f"grade-{self.spec.name}-{sub.student}-{sha[:12]}-"
                                        f"{attempt}", pure=False)
                inflight[fut] = (sub, sha, attempt)
                done.add(fut)
            batch = done.next_batch(block=False)
            if not batch:
                self.stop.wait(0.02)
            for fut, result in batch:
                self._finished(fut, result, inflight, queue, cluster)

    def _finished(self, fut: Any, result: Any, inflight: dict[Any, tuple[Submission, str, int]],
                  queue: deque[tuple[Submission, int]] | None, cluster: Any) -> None:
        from distributed.scheduler import KilledWorker

        sub, sha, attempt = inflight.pop(fut)
        if fut.status == "finished":
            self._check_fingerprint(result, cluster)
            if result.get("environment_error"):
                self._environment(f"{result['environment_error']} (worker on "
                                  f"{result.get('host')})")
            res = SubmissionResult.from_dict(result)
            res.notebook, res.student = str(sub.path), sub.student
            self._record(res, host=str(result.get("host", "")))
            return
        if fut.status != "error":  # cancelled while stopping
            return
        exc = result[1] if isinstance(result, tuple) and len(result) > 1 else result
        if isinstance(exc, SandboxUnavailable):
            raise exc
        if isinstance(exc, KilledWorker) and attempt < MAX_RESUBMITS and queue is not None:
            queue.appendleft((sub, attempt + 1))  # lost workers again and again: try once more
            return
        reason = (f"its grading task was lost with its worker {attempt + 1} times"
                  if isinstance(exc, KilledWorker) else f"{type(exc).__name__}: {exc}")
        self.report.failed.append((sub.student, reason))
        self.bar.update(1)

    def _record(self, result: SubmissionResult, host: str = "") -> None:
        """Write one submission (JSON file first, then the gradebook, in one transaction)."""
        if result.student in self.recorded:  # a task that finished twice: recorded once
            return
        if self.config.json_dir is not None:
            out = self.config.json_dir / f"{result.student}.json"
            tmp = out.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(result.as_dict(), indent=1))
            os.replace(tmp, out)
        self.gb.record(self.spec.name, result.student, result.sha256, result.results,
                       seconds=result.seconds, grader=f"{self.config.grader}/{host}".rstrip("/"),
                       notes=result.notes)
        self.recorded.add(str(result.student))
        self.tally.recorded += 1
        row = {"student": result.student, "score": result.score,
               "max_score": result.max_score, "seconds": result.seconds,
               "cells": [r.as_dict() for r in result.results], "notes": result.notes,
               "problem": result.problem, "host": host}
        self.report.graded.append(row)
        if self.on_result is not None:
            self.on_result(row)
        if self.bar is not None:
            self.bar.update(1)

    def _drain(self, done: Any, inflight: dict[Any, tuple[Submission, str, int]],
               queue: deque[tuple[Submission, int]], cluster: Any) -> None:
        """After a stop request: record what finishes within the grace period, drop the rest."""
        self.say(f"stopping: waiting up to {self.grace:g} s for the {len(inflight)} "
                 "submission(s) being graded (Ctrl-C again to stop at once)")
        deadline = time.monotonic() + self.grace
        while inflight and time.monotonic() < deadline:
            batch = done.next_batch(block=False)
            if not batch:
                time.sleep(0.02)
            for fut, result in batch:
                self._finished(fut, result, inflight, None, cluster)
        if inflight:
            self.engine.client.cancel(list(inflight))
        self._interrupted(self.tally.left)

    def _interrupted(self, left: int) -> None:
        self.report.interrupted = True
        self.report.left = left
