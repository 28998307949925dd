"""Out-of-kernel grading of ONE submission: read its answer cells, run them sandboxed, judge here.

The answer cells are read from the submitted ``.ipynb`` by their nbgrader ``grade_id`` (never
executed here), a sandboxed :class:`~autograders.sandbox.Worker` runs them plus the
assignment's trusted ``driver_source``, and every check of the assignment runs in THIS process
with a :class:`RemoteCaller`: arguments go to the worker by value, results come back by value,
and the oracles judge them here.  A worker that crashes, hangs or exceeds a limit costs the
check that was running (0 points, the reason as feedback); the next check gets a fresh worker,
up to ``max_starts`` workers per submission.

Two outcomes are not grades:

* **not gradable** (:attr:`SubmissionResult.problem`): no notebook, a file that is not a
  notebook, or a notebook with none of the assignment's answer cells (another assignment's).
  Every test cell gets 0 with the reason; a batch records it, ``grade`` exits 1.
* **grader-environment failure** (:attr:`SubmissionResult.environment_error`): one of the
  assignment's own locked set-up cells, byte for byte as in the pristine (source or release)
  notebook, raised in the sandbox (e.g. ``from mmids import check`` raising
  ModuleNotFoundError because the sandbox cannot see the grader's ``mmids``).  That is never
  the student's fault, so nothing is graded and nothing may be recorded.

Start-up: the notebook is parsed with :mod:`json` (``nbformat`` costs more than a second to
import) and the sandboxed worker is started in a background thread while this process imports
torch and draws the checks' inputs (:meth:`RemoteCaller.prestart`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograders import core
from autograders.core import Assignment, CellResult, StudentCodeError
from autograders.monitor import DIFFERENTIATION_LIBRARIES, refusal
from autograders.sandbox import Limits, Worker, WorkerDied

#: Largest submitted notebook read, in bytes.
MAX_NOTEBOOK_BYTES = 32 * 2**20
#: The folder holding this repository's course (``exercises/``): the last place a pristine
#: notebook is looked for.
REPO_COURSE = Path(__file__).resolve().parents[1] / "exercises"

Cells = list[tuple[str, str]]


# -------------------------------------------------------------------------------- reading
def read_notebook(path: str | Path) -> bytes:
    """The bytes of a submitted notebook; ``ValueError`` with a plain-words reason if none."""
    path = Path(path)
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.ipynb")) if path.parent.is_dir() else []
        found = f" (the folder holds: {', '.join(others)})" if others else ""
        raise ValueError(f"no notebook named `{path.name}` was submitted{found}")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    return path.read_bytes()


def _cells_of(data: bytes) -> list[dict[str, Any]]:
    """The cells of a notebook file's bytes, as nbformat-4 dicts with ``source`` a string."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the notebook could not be read (it is not JSON: {exc})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("nbformat", 4), int):
        raise ValueError("the notebook could not be read (it is not a Jupyter notebook)")
    if nb.get("nbformat", 4) < 4:  # rare: convert the old format with nbformat itself
        import nbformat

        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the submission's fault
            raise ValueError(f"the notebook could not be read ({type(exc).__name__}: "
                             f"{exc})") from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("the notebook could not be read (it has no list of cells)")
    out = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        meta = cell.get("metadata")
        out.append({"cell_type": cell.get("cell_type"), "source": source,
                    "metadata": meta if isinstance(meta, dict) else {}})
    return out


def parse_notebook(data: bytes) -> tuple[Cells, dict[str, str]]:
    """``(setup, answers)`` of a notebook given as bytes.

    ``answers`` maps the grade_id of every nbgrader answer (solution) code cell to its source,
    in notebook order; ``setup`` lists ``(grade_id, source)`` of the locked, ungraded code cells
    before the first answer cell (the notebook's imports), which the answers may rely on.
    Sources are plain Python (IPython syntax turned into calls, see :func:`to_python`).
    Raises ``ValueError`` with a plain-words reason if the bytes are not a readable notebook.
    """
    setup: Cells = []
    answers: dict[str, str] = {}
    for cell in _cells_of(data):
        meta = cell["metadata"].get("nbgrader", {})
        meta = meta if isinstance(meta, dict) else {}
        source = cell["source"]
        if cell["cell_type"] != "code" or not isinstance(source, str):
            continue
        grade_id = meta.get("grade_id")
        if meta.get("solution"):
            if isinstance(grade_id, str) and grade_id not in answers:
                answers[grade_id] = to_python(source)
        elif not answers and meta.get("locked") and not meta.get("grade"):
            setup.append((str(grade_id or f"setup-{len(setup)}"), to_python(source)))
    return setup, answers


def notebook_cells(notebook: str | Path) -> tuple[Cells, dict[str, str]]:
    """:func:`parse_notebook` of a file (``ValueError`` if missing or unreadable)."""
    return parse_notebook(read_notebook(notebook))


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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: str | Path) -> str:
    """Hash of the notebook's bytes (of the empty file when none was submitted)."""
    path = Path(path)
    return sha256_bytes(path.read_bytes() if path.is_file() else b"")


# -------------------------------------------------------------------------------- pristine
def pristine_candidates(spec: Assignment, course: Path | None) -> list[Path]:
    """Where the assignment's own notebook may be: the course's ``source/`` and ``release/``
    folders (``course`` is the folder holding ``submitted/``), then this repository's."""
    roots = ([course] if course is not None else []) + [REPO_COURSE]
    return [root / sub / spec.name / spec.notebook for root in roots
            for sub in ("source", "release")]


def pristine_setup(spec: Assignment, course: Path | None) -> tuple[Path, Cells] | None:
    """``(notebook, set-up cells)`` of the first pristine notebook found, or ``None``."""
    for path in pristine_candidates(spec, course):
        if path.is_file():
            try:
                return path, notebook_cells(path)[0]
            except ValueError:
                continue
    return None


def environment_message(grade_id: str, error: str, where: str = "") -> str:
    """The plain-words report of a set-up cell that fails for a reason not the student's."""
    on = f" on {where}" if where else ""
    return (f"the assignment's own set-up cell `{grade_id}` (unchanged from the assignment's "
            f"notebook) fails in the grading sandbox{on}: {error}. This is the grader's "
            "environment, not the students' code (e.g. the virtual environment's `mmids` "
            "points at another checkout): fix it, then run the same command again. Nothing "
            "was recorded for this submission.")


def sandbox_refusal(problem: str, where: str = "") -> str:
    """The one message for 'bubblewrap cannot run, so no student code runs'."""
    here = f"on {where}" if where else "here"
    return (f"the sandbox cannot run {here} ({problem}); refusing to run student code. "
            "Pass --unsafe-no-sandbox only if you trust every submission.")


# -------------------------------------------------------------------------------- caller
class RemoteCaller:
    """The out-of-kernel :data:`autograders.core.Caller`: calls functions in a sandboxed worker.

    Call :meth:`begin_check` before each check: once the worker dies during a check, the rest
    of that check's calls fail at once with the same reason, and the next check starts a new
    worker (at most ``max_starts`` per submission; a failure while running the answer cells
    themselves is final, since a fresh worker would fail the same way).

    ``pristine`` lists the assignment's own set-up cells: if one of them, unchanged, raised
    while the worker ran the cells, :attr:`environment_error` says so (and every call fails).
    """

    def __init__(self, cells: Sequence[tuple[str, str]], driver_source: str, limits: Limits,
                 *, sandboxed: bool = True, max_starts: int = 5,
                 pristine: Collection[tuple[str, str]] = ()) -> None:
        self.cells = [(str(g), str(s)) for g, s in cells]
        self.driver_source = driver_source
        self.limits = limits
        self.sandboxed = sandboxed
        self.max_starts = max_starts
        self.pristine = {(str(g), str(s)) for g, s in pristine}
        self.notes: list[str] = []
        self.output = ""
        self.environment_error: str | None = None
        self._worker: Worker | None = None
        self._starts = 0
        self._final: str | None = None
        self._check_failure: str | None = None
        self._prestart: threading.Thread | None = None
        self._prestart_error: BaseException | None = None

    def prestart(self) -> None:
        """Start the worker now and let it run the answer cells while this thread goes on.

        The worker process is started HERE: bubblewrap's ``--die-with-parent`` ties it to the
        thread that started it, so that thread must outlive it; only the wait for the set-up
        reply runs in the background.
        """
        try:
            worker = self._start_worker()
        except StudentCodeError:
            return  # the first call raises it again

        def run() -> None:
            try:
                self._setup(worker)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the first call
                self._prestart_error = exc

        self._prestart = threading.Thread(target=run, name="worker-setup", daemon=True)
        self._prestart.start()

    def _join_prestart(self) -> None:
        if self._prestart is not None:
            self._prestart.join()
            self._prestart = None
            if self._prestart_error is not None and not isinstance(self._prestart_error,
                                                                   StudentCodeError):
                raise self._prestart_error

    def begin_check(self) -> None:
        self._check_failure = None

    def _live_worker(self) -> Worker:
        if self._worker is not None and self._worker.alive:
            return self._worker
        return self._setup(self._start_worker())

    def _start_worker(self) -> Worker:
        if self._final is not None:
            raise StudentCodeError(self._final)
        if self._starts >= self.max_starts:
            self._final = (f"not run: the worker running your code was stopped {self._starts} "
                           "times already, so the remaining checks were skipped")
            raise StudentCodeError(self._final)
        self._starts += 1
        self._close_worker()
        self._worker = Worker(self.limits, sandboxed=self.sandboxed)
        return self._worker

    def _setup(self, worker: Worker) -> Worker:
        """Run the answer cells and the driver in ``worker``; note what the cells raised."""
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
            sources = dict(self.cells)
            for gid, err in reply["cell_errors"].items():
                if (str(gid), sources.get(str(gid))) in self.pristine:
                    self.environment_error = environment_message(str(gid), str(err)[:500])
                    self._final = self.environment_error
                    raise StudentCodeError(self._final)
                self.notes.append(f"answer cell `{gid}` raised {str(err)[:500]}")
        if reply.get("driver_error"):
            self.notes.append(f"the grader's driver code failed: {str(reply['driver_error'])}")
        return worker

    def __call__(self, name: str, *args: Any) -> Any:
        self._join_prestart()
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
        try:
            self._join_prestart()
        finally:
            self._close_worker()


# -------------------------------------------------------------------------------- result
@dataclass
class SubmissionResult:
    """Everything the grader learned about one submission.

    ``problem``: why the submission is not gradable (no notebook, not a notebook, another
    assignment's notebook), else ``None``.  ``environment_error``: set when the grader's own
    environment failed (then ``results`` is empty and nothing may be recorded).
    """

    assignment: str
    student: str | None
    notebook: str
    sha256: str
    results: list[CellResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    problem: str | None = None
    environment_error: str | None = None

    @property
    def score(self) -> float:
        return float(sum(r.points for r in self.results))

    @property
    def max_score(self) -> float:
        return float(sum(r.max_points for r in self.results))

    def as_dict(self) -> dict[str, Any]:
        """JSON form: per graded cell ``{grade_id, points, max_points, message}`` and totals;
        ``notes`` whole (never shortened); ``gradable`` false with ``problem`` when the
        submission could not be graded."""
        return {"assignment": self.assignment, "student": self.student,
                "notebook": self.notebook, "sha256": self.sha256,
                "cells": [r.as_dict() for r in self.results],
                "total": round(self.score, 4), "max_total": self.max_score,
                "notes": self.notes, "seconds": round(self.seconds, 3),
                "gradable": self.problem is None and self.environment_error is None,
                "problem": self.problem, "environment_error": self.environment_error}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SubmissionResult:
        """Inverse of :meth:`as_dict` (for results that travelled by value)."""
        return cls(str(d["assignment"]), d.get("student"), str(d.get("notebook", "")),
                   str(d["sha256"]),
                   [CellResult(str(c["grade_id"]), float(c["points"]), float(c["max_points"]),
                               str(c["message"])) for c in d["cells"]],
                   [str(n) for n in d.get("notes", [])], float(d.get("seconds", 0.0)),
                   d.get("problem"), d.get("environment_error"))


def resolve(assignment: str | Assignment) -> Assignment:
    if isinstance(assignment, Assignment):
        return assignment
    try:
        return core.ASSIGNMENTS[assignment]
    except KeyError:
        known = ", ".join(sorted(core.ASSIGNMENTS))
        raise ValueError(f"unknown assignment {assignment!r}; known: {known}") from None


def not_gradable(spec: Assignment, problem: str, *, student: str | None, notebook: str,
                 sha256: str, seconds: float = 0.0) -> SubmissionResult:
    """0 on every test cell, with the reason."""
    results = [CellResult(c.grade_id, 0.0, c.max_points, f"No credit: {problem}.")
               for c in spec.checks]
    return SubmissionResult(spec.name, student, notebook, sha256, results, [problem], seconds,
                            problem=problem)


def _wanted(spec: Assignment) -> set[str]:
    return set(spec.answer_ids) or {c.answer_id for c in spec.checks}


def grade_notebook(assignment: str | Assignment, data: bytes, *, student: str | None = "",
                   notebook: str = "", limits: Limits | None = None, sandboxed: bool = True,
                   pristine: Iterable[tuple[str, str]] = ()) -> SubmissionResult:
    """Grade a notebook given as bytes; never raises for the student's faults.

    ``pristine``: the assignment's own set-up cells (see :func:`pristine_setup`), to tell a
    broken grader environment from a student's mistake.
    """
    spec = resolve(assignment)
    limits = limits or Limits()
    start = time.perf_counter()
    sha = sha256_bytes(data)
    try:
        setup, sources = parse_notebook(data)
    except ValueError as exc:
        return not_gradable(spec, str(exc), student=student, notebook=notebook, sha256=sha,
                            seconds=time.perf_counter() - start)
    wanted = _wanted(spec)
    if not wanted & set(sources):
        names = ", ".join(f"`{a}`" for a in sorted(wanted))
        problem = (f"none of the answer cells of `{spec.name}` ({names}) was found in the "
                   "notebook: is it another assignment's notebook?")
        return not_gradable(spec, problem, student=student, notebook=notebook, sha256=sha,
                            seconds=time.perf_counter() - start)
    cells = setup + [(g, s) for g, s in sources.items() if g in wanted]
    caller = RemoteCaller(cells, spec.driver_source, limits, sandboxed=sandboxed,
                          pristine=list(pristine))
    results = []
    try:
        caller.prestart()
        for check in spec.checks:
            caller.begin_check()
            results.append(core.run_check(spec, check, caller, sources))
            if caller.environment_error is not None:
                break
    finally:
        caller.close()
    seconds = time.perf_counter() - start
    if caller.environment_error is not None:
        return SubmissionResult(spec.name, student, notebook, sha, [], [], seconds,
                                environment_error=caller.environment_error)
    notes = list(caller.notes)
    if caller.output.strip():
        notes.append("your code printed: " + caller.output.strip()[:300])
    return SubmissionResult(spec.name, student, notebook, sha, results, notes, seconds)


def grade_submission(assignment: str | Assignment, notebook: str | Path, *,
                     student: str | None = "", limits: Limits | None = None,
                     sandboxed: bool = True,
                     pristine: Iterable[tuple[str, str]] = ()) -> SubmissionResult:
    """Grade one submitted notebook file out of kernel; never raises for the student's faults."""
    spec = resolve(assignment)
    path = Path(notebook)
    try:
        data = read_notebook(path)
    except ValueError as exc:
        return not_gradable(spec, str(exc), student=student, notebook=str(path),
                            sha256=sha256_of(path))
    return grade_notebook(spec, data, student=student, notebook=str(path), limits=limits,
                          sandboxed=sandboxed, pristine=pristine)


def _no_student(name: str, *args: Any) -> Any:
    raise StudentCodeError("warm-up: no student code")


def warm_up(spec: Assignment) -> None:
    """Run every check once against no student, so its seeded inputs and oracle values exist.

    Checks build them on first use and keep them; a grader process that grades many
    submissions pays for them once.
    """
    for check in spec.checks:
        core.run_check(spec, check, _no_student)


def student_from_path(path: Path, assignment: str) -> str | None:
    """``<submitted>/<student>/<assignment>/<notebook>`` -> ``student``; else ``None``."""
    parent = path.resolve().parent if path.exists() else path.absolute().parent
    if parent.name == assignment and parent.parent.name:
        return parent.parent.name
    return None
