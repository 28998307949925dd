"""Run what a student sees: the self-check cells and the visible part of the graded cells.

:func:`run_visible` executes a source notebook's code cells in order in one namespace, as a
kernel would (answer cells from the reference solution, with corpus answers swapped in), and
returns, for each visible check cell, what it printed and whether it raised. A visible check
*fails* when it printed ``FAILED`` (``mmids.check``) or raised an exception (a traceback in the
student's notebook). :func:`recording` wraps the answers so that every input they are called
with is kept, for comparing the visible inputs with the hidden tests' inputs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.corpora.tools import reference_answers, source_notebook

_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
#: Seconds one visible cell may take before it counts as failed (a hanging wrong answer).
CELL_SECONDS = 120


@dataclass
class CellRun:
    """One visible check cell after it ran: its printed output and the error it raised."""

    grade_id: str
    kind: str  # "selfcheck" (ungraded) or "test" (the visible part of a graded cell)
    answer: str  # the answer cell it checks (the last answer cell above it)
    output: str
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or "FAILED" in self.output


@dataclass
class Recorder:
    """Inputs the answers were called with: arrays, and the calls whose arguments are scalars."""

    arrays: list[np.ndarray] = field(default_factory=list)
    scalar_calls: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, args: tuple[Any, ...]) -> None:
        if args and all(isinstance(a, int | float | str) for a in args):
            self.scalar_calls.append(tuple(args))
        for a in args:
            self._add_value(a)

    def _add_value(self, value: Any) -> None:
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f" and value.size >= 2 and np.ptp(value) > 0:
                self.arrays.append(np.array(value, dtype=np.float64))
        elif isinstance(value, list | tuple):
            for v in value:
                self._add_value(v)


class _TimeUp(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise _TimeUp(f"the cell did not finish within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run(source: str, ns: dict[str, Any]) -> tuple[str, str | None]:
    out = io.StringIO()
    error = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
            np.errstate(all="ignore"):
        try:
            with _time_limit(CELL_SECONDS):
                exec(compile(source, "<notebook cell>", "exec"), ns)
        except BaseException as exc:  # noqa: BLE001 - any error is what the student would see
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return out.getvalue(), error


def _wrap(fn: Callable[..., Any], recorder: Recorder) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        recorder.add(args)
        return fn(*args, **kwargs)

    return wrapper


def _record_answers(ns: dict[str, Any], names: tuple[str, ...], recorder: Recorder) -> None:
    """Wrap the answers defined in ``ns``: functions, and the constructor of the node class."""
    for name in names:
        fn = ns.get(name)
        if callable(fn) and not isinstance(fn, type) and not hasattr(fn, "__wrapped__"):
            ns[name] = _wrap(fn, recorder)
    node = ns.get("AutogradValue")
    if isinstance(node, type) and not hasattr(node.__init__, "__wrapped__"):
        node.__init__ = _wrap(node.__init__, recorder)  # (self, *args): self is not an array


def run_visible(assignment: str, overrides: dict[str, str] | None = None,
                only_answer: str | None = None,
                recorder: Recorder | None = None) -> list[CellRun]:
    """Run the notebook ``assignment`` with the reference answers (``overrides`` swapped in).

    Every cell runs, in order (a later check may use an earlier one's helpers); with
    ``only_answer`` only the checks of that answer are returned. With ``recorder``, the inputs
    of every call of an answer are recorded.
    """
    from autograders.core import ASSIGNMENTS

    answer_ids = ASSIGNMENTS[assignment].answer_ids
    answers = {**reference_answers(assignment), **(overrides or {})}
    ns: dict[str, Any] = {"__name__": "__main__"}
    runs: list[CellRun] = []
    current = ""
    for cell in source_notebook(assignment).cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata["nbgrader"]
        gid = meta["grade_id"]
        if meta.get("solution"):
            current = gid
            _, error = _run(answers[gid], ns)
            if error is not None:
                runs.append(CellRun(gid, "answer", gid, "", error))
            if recorder is not None:
                _record_answers(ns, (*answer_ids, "jvp"), recorder)
            continue
        kind = "test" if meta.get("grade") else "selfcheck" if gid.startswith(
            "selfcheck") else "code"
        source = _HIDDEN.sub("", cell.source) if kind == "test" else cell.source
        output, error = _run(source, ns)
        if kind == "code":
            if error is not None:
                raise RuntimeError(f"the locked cell {gid} of {assignment} failed: {error}")
        elif only_answer is None or current == only_answer:
            runs.append(CellRun(gid, kind, current, output, error))
    return runs
