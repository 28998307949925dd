"""Out-of-kernel grading of one submission, and of many in parallel, resumably.

One submission: the answer cells are read from the submitted ``.ipynb`` by their nbgrader
``grade_id`` (never executed here), a sandboxed :class:`~autograders.sandbox.Worker` runs them
plus the assignment's trusted ``driver_source``, and every check of the assignment runs in
THIS process with a :class:`RemoteCaller`: arguments go to the worker by value, results come
back by value, and the oracles judge them here.  A worker that crashes, hangs or exceeds a
limit costs the check that was running (0 points, the reason as feedback); the next check gets
a fresh worker, up to ``max_starts`` workers per submission.

Many submissions: :func:`run_batch` grades them with ``workers`` processes forked from this
one (torch and the oracles are imported once, before the fork), records each submission in
the gradebook in one transaction, skips submissions already recorded with the same notebook
hash (so a killed batch resumes where it stopped), and can take only shard ``i`` of ``n``.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import multiprocessing
import os
import signal
import socket
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograders import core
from autograders.core import Assignment, CellResult, StudentCodeError
from autograders.monitor import DIFFERENTIATION_LIBRARIES, refusal
from autograders.sandbox import Limits, SandboxUnavailable, Worker, WorkerDied, sandbox_problem

#: Largest submitted notebook read, in bytes.
MAX_NOTEBOOK_BYTES = 32 * 2**20


# -------------------------------------------------------------------------------- reading
def notebook_cells(notebook: str | Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``(setup, answers)`` of a submitted notebook.

    ``answers`` maps the grade_id of every nbgrader answer (solution) code cell to its source,
    in notebook order; ``setup`` lists ``(grade_id, source)`` of the locked, ungraded code cells
    before the first answer cell (the notebook's imports), which the answers may rely on.
    Raises ``ValueError`` with a plain-words reason if the file is not a readable notebook.
    """
    import nbformat

    path = Path(notebook)
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.ipynb")) if path.parent.is_dir() else []
        found = f" (the folder holds: {', '.join(others)})" if others else ""
        raise ValueError(f"no notebook named `{path.name}` was submitted{found}")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the submission's fault
        raise ValueError(f"the notebook could not be read ({type(exc).__name__}: {exc})") from None
    setup: list[tuple[str, str]] = []
    answers: dict[str, str] = {}
    for cell in nb.get("cells", []):  # sources in plain Python (see to_python)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = cell.get("source", "")
        if cell.get("cell_type") != "code" or not isinstance(source, str):
            continue
        grade_id = meta.get("grade_id")
        if meta.get("solution"):
            if isinstance(grade_id, str) and grade_id not in answers:
                answers[grade_id] = to_python(source)
        elif not answers and meta.get("locked") and not meta.get("grade"):
            setup.append((str(grade_id or f"setup-{len(setup)}"), to_python(source)))
    return setup, answers


def to_python(source: str) -> str:
    """A cell's source with IPython syntax (``%magic``, ``!cmd``) turned into plain Python calls
    of ``get_ipython()``, as the notebook kernel does; unchanged if it cannot be transformed."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return str(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - the raw source then fails (or not) in the worker
        return source


def answer_cells(notebook: str | Path) -> dict[str, str]:
    """``{grade_id: source}`` of the nbgrader answer code cells, in notebook order."""
    return notebook_cells(notebook)[1]


def sha256_of(path: str | Path) -> str:
    """Hash of the notebook's bytes (of the empty file when none was submitted)."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes() if path.is_file() else b"").hexdigest()


# -------------------------------------------------------------------------------- one
class RemoteCaller:
    """The out-of-kernel :data:`autograders.core.Caller`: calls functions in a sandboxed worker.

    Call :meth:`begin_check` before each check: once the worker dies during a check, the rest
    of that check's calls fail at once with the same reason, and the next check starts a new
    worker (at most ``max_starts`` per submission; a failure while running the answer cells
    themselves is final, since a fresh worker would fail the same way).
    """

    def __init__(self, cells: Sequence[tuple[str, str]], driver_source: str, limits: Limits,
                 *, sandboxed: bool = True, max_starts: int = 5) -> None:
        self.cells = [(str(g), str(s)) for g, s in cells]
        self.driver_source = driver_source
        self.limits = limits
        self.sandboxed = sandboxed
        self.max_starts = max_starts
        self.notes: list[str] = []
        self.output = ""
        self._worker: Worker | None = None
        self._starts = 0
        self._final: str | None = None
        self._check_failure: str | None = None

    def begin_check(self) -> None:
        self._check_failure = None

    def _live_worker(self) -> Worker:
        if self._worker is not None and self._worker.alive:
            return self._worker
        if self._final is not None:
            raise StudentCodeError(self._final)
        if self._starts >= self.max_starts:
            self._final = (f"not run: the worker running your code was stopped {self._starts} "
                           "times already, so the remaining checks were skipped")
            raise StudentCodeError(self._final)
        self._starts += 1
        self._close_worker()
        worker = Worker(self.limits, sandboxed=self.sandboxed)
        self._worker = worker
        try:
            reply = worker.request({"op": "setup", "cells": self.cells,
                                    "driver": self.driver_source,
                                    "blocked": sorted(DIFFERENTIATION_LIBRARIES)},
                                   self.limits.setup_seconds)
        except WorkerDied as exc:
            self._final = f"running your answer cells failed: {exc}"
            self.notes.append(self._final)
            raise StudentCodeError(self._final) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("cell_errors"), dict):
            worker.kill("it sent back a malformed setup reply")
            self._final = "running your answer cells failed: the worker sent a malformed reply"
            raise StudentCodeError(self._final)
        if self._starts == 1:
            for gid, err in reply["cell_errors"].items():
                self.notes.append(f"answer cell `{gid}` raised {str(err)[:500]}")
        if reply.get("driver_error"):
            self.notes.append(f"the grader's driver code failed: {str(reply['driver_error'])}")
        return worker

    def __call__(self, name: str, *args: Any) -> Any:
        if self._check_failure is not None:
            raise StudentCodeError(self._check_failure)
        worker = self._live_worker()
        try:
            reply = worker.request({"op": "call", "name": str(name), "args": list(args)},
                                   self.limits.call_seconds)
        except WorkerDied as exc:
            msg = f"the worker running `{name}` was stopped: {exc}"
            self.notes.append(msg)
            self._check_failure = msg + " (the remaining cases of this check were skipped)"
            raise StudentCodeError(msg) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            worker.kill("it sent back a malformed reply")
            self._check_failure = f"`{name}`: the worker sent back a malformed reply"
            raise StudentCodeError(self._check_failure)
        if reply["ok"]:
            return reply.get("value")
        if reply.get("refused"):
            raise StudentCodeError(refusal(str(reply["refused"])[:100]))
        raise StudentCodeError(str(reply.get("error", "unknown error"))[:1500])

    def _close_worker(self) -> None:
        if self._worker is not None:
            if not self.output:
                self.output = self._worker.output()
            self._worker.close()
            self._worker = None

    def close(self) -> None:
        self._close_worker()


@dataclass
class SubmissionResult:
    """Everything the grader learned about one submission."""

    assignment: str
    student: str
    notebook: str
    sha256: str
    results: list[CellResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return float(sum(r.points for r in self.results))

    @property
    def max_score(self) -> float:
        return float(sum(r.max_points for r in self.results))

    def as_dict(self) -> dict[str, Any]:
        """JSON form: per graded cell ``{grade_id, points, max_points, message}`` and totals."""
        return {"assignment": self.assignment, "student": self.student,
                "notebook": self.notebook, "sha256": self.sha256,
                "cells": [r.as_dict() for r in self.results],
                "total": round(self.score, 4), "max_total": self.max_score,
                "notes": self.notes, "seconds": round(self.seconds, 3)}


def resolve(assignment: str | Assignment) -> Assignment:
    if isinstance(assignment, Assignment):
        return assignment
    try:
        return core.ASSIGNMENTS[assignment]
    except KeyError:
        known = ", ".join(sorted(core.ASSIGNMENTS))
        raise ValueError(f"unknown assignment {assignment!r}; known: {known}") from None


def grade_submission(assignment: str | Assignment, notebook: str | Path, *,
                     student: str = "", limits: Limits | None = None,
                     sandboxed: bool = True) -> SubmissionResult:
    """Grade one submitted notebook out of kernel; never raises for the student's faults."""
    spec = resolve(assignment)
    limits = limits or Limits()
    start = time.perf_counter()
    path = Path(notebook)
    sha = sha256_of(path)
    try:
        setup, sources = notebook_cells(path)
    except ValueError as exc:
        results = [CellResult(c.grade_id, 0.0, c.max_points, f"No credit: {exc}.")
                   for c in spec.checks]
        return SubmissionResult(spec.name, student, str(path), sha, results, [str(exc)],
                                time.perf_counter() - start)
    wanted = set(spec.answer_ids) or {c.answer_id for c in spec.checks}
    cells = setup + [(g, s) for g, s in sources.items() if g in wanted]
    caller = RemoteCaller(cells, spec.driver_source, limits, sandboxed=sandboxed)
    results = []
    try:
        for check in spec.checks:
            caller.begin_check()
            results.append(core.run_check(spec, check, caller, sources))
    finally:
        caller.close()
    notes = list(caller.notes)
    if caller.output.strip():
        notes.append("your code printed: " + caller.output.strip()[:300])
    return SubmissionResult(spec.name, student, str(path), sha, results, notes,
                            time.perf_counter() - start)


# -------------------------------------------------------------------------------- many
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


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> (i, n)."""
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 1/2), got {text!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text}: need 1 <= i <= n")
    return i, n


def in_shard(student: str, shard: tuple[int, int]) -> bool:
    """Stable split of students over shards (crc32 of the student id, independent of order)."""
    i, n = shard
    return zlib.crc32(student.encode()) % n == i - 1


@dataclass(frozen=True)
class BatchConfig:
    db_url: str
    limits: Limits = Limits()
    sandboxed: bool = True
    json_dir: Path | None = None
    grader: str = ""


_STATE: dict[str, Any] = {}


def _die_with_parent() -> None:
    """Linux PR_SET_PDEATHSIG: a killed batch takes its grader processes with it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - non-Linux
        pass


def _init_process(spec: Assignment, config: BatchConfig, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a grading dependency
        pass
    from autograders.gradebook import Gradebook

    _STATE.update(spec=spec, config=config, gradebook=Gradebook(config.db_url))


def _grade_and_record(sub: Submission) -> dict[str, Any]:
    spec: Assignment = _STATE["spec"]
    config: BatchConfig = _STATE["config"]
    result = grade_submission(spec, sub.path, student=sub.student, limits=config.limits,
                              sandboxed=config.sandboxed)
    if config.json_dir is not None:
        out = config.json_dir / f"{sub.student}.json"
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result.as_dict(), indent=1))
        os.replace(tmp, out)
    _STATE["gradebook"].record(spec.name, sub.student, result.sha256, result.results,
                               seconds=result.seconds, grader=config.grader,
                               notes=result.notes)
    return {"student": sub.student, "score": result.score, "max_score": result.max_score,
            "seconds": result.seconds, "cells": [r.as_dict() for r in result.results],
            "notes": result.notes}


def _no_student(name: str, *args: Any) -> Any:
    raise StudentCodeError("warm-up: no student code")


def warm_up(spec: Assignment) -> None:
    """Import the notebook readers and run every check once against no student, before forking.

    Checks build their seeded inputs and oracle values on first use and keep them, so the
    forked grader processes inherit them instead of each recomputing them.
    """
    import nbformat  # noqa: F401 - imported once here rather than in every grader process
    from IPython.core import inputtransformer2  # noqa: F401

    for check in spec.checks:
        core.run_check(spec, check, _no_student)


@dataclass
class BatchReport:
    graded: list[dict[str, Any]]
    skipped: list[str]
    wall_seconds: float

    def summary_table(self) -> str:
        """Plain-text table: per student score, and per test cell the mean points."""
        lines = [f"{'student':<24} {'score':>8} {'max':>6} {'seconds':>8}  notes"]
        for row in sorted(self.graded, key=lambda r: r["student"]):
            note = "; ".join(row["notes"])[:60]
            lines.append(f"{row['student']:<24} {row['score']:>8.2f} {row['max_score']:>6.1f} "
                         f"{row['seconds']:>8.2f}  {note}")
        if self.graded:
            per_cell: dict[str, list[float]] = {}
            maxima: dict[str, float] = {}
            for row in self.graded:
                for cell in row["cells"]:
                    per_cell.setdefault(cell["grade_id"], []).append(cell["points"])
                    maxima[cell["grade_id"]] = cell["max_points"]
            lines.append("")
            lines.append(f"{'test cell':<32} {'mean':>8} {'max':>6}")
            for gid, pts in per_cell.items():
                lines.append(f"{gid:<32} {sum(pts) / len(pts):>8.2f} {maxima[gid]:>6.1f}")
        lines.append(f"\ngraded {len(self.graded)}, already recorded {len(self.skipped)}, "
                     f"{self.wall_seconds:.1f} s wall clock")
        return "\n".join(lines)


def run_batch(assignment: str | Assignment, submitted: str | Path | Sequence[Submission],
              config: BatchConfig, *, workers: int = 1, shard: tuple[int, int] = (1, 1),
              progress: bool = True,
              on_result: Callable[[dict[str, Any]], None] | None = None) -> BatchReport:
    """Grade every submission not yet recorded (with the same notebook hash) into the gradebook.

    Raises :class:`~autograders.sandbox.SandboxUnavailable` before touching any submission if
    the sandbox cannot run and ``config.sandboxed`` is true.
    """
    from tqdm import tqdm

    from autograders.gradebook import Gradebook

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    spec = resolve(assignment)
    if config.sandboxed:
        problem = sandbox_problem()
        if problem is not None:
            raise SandboxUnavailable(
                f"{problem}. Refusing to run student code without a sandbox; pass "
                "--unsafe-no-sandbox only if you trust every submission.")
    subs = (list(submitted) if not isinstance(submitted, str | Path)
            else discover(submitted, spec))
    subs = [s for s in subs if in_shard(s.student, shard)]
    if config.json_dir is not None:
        config.json_dir.mkdir(parents=True, exist_ok=True)
    if not config.grader:
        config = BatchConfig(config.db_url, config.limits, config.sandboxed, config.json_dir,
                             f"{socket.gethostname()}:{os.getpid()}")
    start = time.perf_counter()
    with Gradebook(config.db_url) as gb:
        done = gb.recorded(spec.name)
    todo, skipped = [], []
    for sub in subs:
        prev = done.get(sub.student)
        if prev is not None and prev.notebook_sha256 == sha256_of(sub.path):
            skipped.append(sub.student)
        else:
            todo.append(sub)
    warm_up(spec)
    gc.freeze()  # forked grader processes then copy far fewer of the parent's memory pages
    graded: list[dict[str, Any]] = []
    ctx = multiprocessing.get_context("fork")
    bar = tqdm(total=len(todo), desc=f"grading {spec.name}", unit="nb", disable=not progress)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_init_process,
                                 initargs=(spec, config, os.getpid())) as pool:
            futures = {pool.submit(_grade_and_record, sub): sub for sub in todo}
            for fut in as_completed(futures):
                row = fut.result()  # a grader bug must surface, not be recorded as a 0
                graded.append(row)
                if on_result is not None:
                    on_result(row)
                bar.update(1)
    finally:
        bar.close()
        gc.unfreeze()
    return BatchReport(graded, skipped, time.perf_counter() - start)
