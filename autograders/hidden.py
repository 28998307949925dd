"""Entry point of the in-notebook hidden tests.

A hidden test cell of a source notebook contains only::

    import autograders.hidden
    autograders.hidden.run("vjps", "test_softmax_vjp", globals())

:func:`run` restores the pristine references captured by :mod:`autograders.guard`, builds a
caller over the notebook namespace (each call time-limited, with its prints and warnings
captured so that nothing reaches stderr, and with the guard's snapshot restored after it),
screens the answer for differentiation libraries, runs the check of :mod:`autograders.core`,
prints the feedback and returns the points.  The returned float is the cell's value, which
nbgrader reads as partial credit.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import signal
import traceback
import types
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

import mmids
from autograders import core, guard
from autograders.core import CellResult, StudentCodeError
from autograders.monitor import LibraryMonitor, refusal

#: Wall-clock limit for one call of a student function, in seconds.
CALL_TIME_LIMIT = 5.0
_DRIVERS_LOADED = "__autograders_drivers_loaded__"

__all__ = ["NamespaceCaller", "run", "CALL_TIME_LIMIT"]


class _TimeUp(BaseException):
    """Raised inside student code by the per-call timer."""


class _ProcessExit(BaseException):
    """Raised in place of ``os._exit`` / ``os.abort`` while a student function runs."""


def _refuse_exit(*args: Any) -> None:
    raise _ProcessExit()


class NamespaceCaller:
    """``call(name, *args)`` on the functions of a notebook namespace; results copied by value."""

    def __init__(self, namespace: Mapping[str, Any], time_limit: float = CALL_TIME_LIMIT):
        self.namespace = namespace
        self.time_limit = time_limit
        self.hung: set[str] = set()

    def __call__(self, name: str, *args: Any) -> Any:
        if name in self.hung:
            raise StudentCodeError(
                f"`{name}` did not finish within {self.time_limit:g} s on an earlier input, so it "
                "was not called again (an infinite loop, or a very slow method?)")
        fn = self.namespace.get(name)
        if fn is None:
            raise StudentCodeError(f"`{name}` is not defined: did you run the cell defining it?")
        if not callable(fn):
            raise StudentCodeError(f"`{name}` is a {type(fn).__name__}, not a function")
        sink = io.StringIO()
        watch: LibraryMonitor | None = None
        old_handler = signal.getsignal(signal.SIGALRM)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                    warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                signal.signal(signal.SIGALRM, _raise_time_up)
                signal.setitimer(signal.ITIMER_REAL, self.time_limit)
                # os._exit would kill the kernel and lose the whole notebook's grade
                real_exit, real_abort = os._exit, os.abort
                os._exit = os.abort = _refuse_exit
                try:
                    with LibraryMonitor() as watch:
                        result = fn(*args)
                finally:
                    os._exit, os.abort = real_exit, real_abort
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _TimeUp:
            self.hung.add(name)
            raise StudentCodeError(
                f"`{name}` did not return within {self.time_limit:g} s (an infinite loop?)"
            ) from None
        except MemoryError:
            raise StudentCodeError(f"`{name}` ran out of memory") from None
        except _ProcessExit:
            raise StudentCodeError(f"`{name}` called os._exit or os.abort (it would end the "
                                   "notebook's kernel)") from None
        except BaseException as exc:  # SystemExit, KeyboardInterrupt and every error
            if watch is not None and watch.used is not None:
                raise StudentCodeError(refusal(watch.used)) from None
            raise StudentCodeError(_describe(name, exc)) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            guard.restore()
        if watch.used is not None:
            raise StudentCodeError(refusal(watch.used))
        return _by_value(result)


def _raise_time_up(signum: int, frame: Any) -> None:
    raise _TimeUp()


def _describe(name: str, exc: BaseException) -> str:
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if not _is_library_file(frame.filename):
            where = f" (at `{(frame.line or '').strip()}`)" if frame.line else ""
            break
    text = str(exc).strip()
    return f"`{name}` raised {type(exc).__name__}{': ' + text if text else ''}{where}"


def _is_library_file(filename: str) -> bool:
    path = os.path.abspath(filename)
    return "site-packages" in path or path.startswith(_LIBRARY_DIRS)


_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(m.__file__)) for m in (core, np, mmids) if m.__file__
)


def _by_value(value: Any) -> Any:
    """A private copy of a returned value (arrays copied as plain ndarrays)."""
    if isinstance(value, np.ndarray | np.generic):
        return np.array(value, copy=True, subok=False)
    if type(value) is tuple:
        return tuple(_by_value(v) for v in value)
    if type(value) is list:
        return [_by_value(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# answer screening inside the kernel
# --------------------------------------------------------------------------------------------


def _find_answers(namespace: Mapping[str, Any], answer_id: str) -> list[Any]:
    """The student's objects behind an answer: the function, or every class with that method."""
    obj = namespace.get(answer_id)
    if isinstance(obj, types.FunctionType | type):
        return [obj]
    return [v for v in list(namespace.values())
            if isinstance(v, type) and isinstance(vars(v).get(answer_id), types.FunctionType)
            and not v.__name__.startswith("_Drv")]


def _source_of(obj: Any) -> str:
    code = getattr(obj, "__code__", None)
    if code is None and isinstance(obj, type):
        for attr in vars(obj).values():
            code = getattr(attr, "__code__", None)
            if code is not None:
                break
    if code is None:
        return ""
    return "".join(linecache.getlines(code.co_filename))


def _forbidden_globals(obj: Any) -> str | None:
    """A refusal if the answer's code refers to a forbidden module defined in another cell."""
    if isinstance(obj, type):
        funcs = [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
    else:
        funcs = [obj]
    for fn in funcs:
        for name in _all_names(fn.__code__):
            value = fn.__globals__.get(name)
            if value is None:
                continue
            mod = _module_of(value)
            if mod and core.is_forbidden_module(mod) and mod.split(".")[0] != "mmids":
                return core.refusal_message(f"`{name}` from `{mod}`")
    return None


def _module_of(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return value.__name__
    mod = getattr(value, "__module__", None) if callable(value) else type(value).__module__
    return mod if isinstance(mod, str) else ""


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names


# --------------------------------------------------------------------------------------------
# the hidden test
# --------------------------------------------------------------------------------------------


def run(assignment: str, grade_id: str, namespace: dict[str, Any]) -> float:
    """Grade one test cell inside the notebook; print the feedback and return the points."""
    guard.restore()
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            result = _grade_cell(assignment, grade_id, namespace)
        except BaseException as exc:  # never an error in a test cell: report and give 0
            result = CellResult(grade_id, 0.0, 0.0,
                                f"The grader failed ({type(exc).__name__}: {exc}); ask your "
                                "instructor to grade this notebook by hand.")
    guard.restore()
    print(f"{result.grade_id}: {result.points:g} / {result.max_points:g} points")
    print(result.message)
    return float(result.points)


def _grade_cell(assignment: str, grade_id: str, namespace: dict[str, Any]) -> CellResult:
    spec = core.ASSIGNMENTS[assignment]
    check = spec.check(grade_id)
    if not guard.LOADED_AT_STARTUP:
        changed = guard.tampered()
        if changed:
            return CellResult(grade_id, 0.0, check.max_points,
                              "Refused: code in this notebook replaced functions the grader "
                              f"relies on ({', '.join(changed[:5])}). No credit is given.")
    if spec.driver_source and not namespace.get(_DRIVERS_LOADED):
        exec(compile(spec.driver_source, f"<autograders driver {assignment}>", "exec"),
             namespace)
        namespace[_DRIVERS_LOADED] = True
        guard.restore()
    answers = _find_answers(namespace, check.answer_id)
    cell_sources = dict.fromkeys(_source_of(a) for a in answers)
    sources = {check.answer_id: "\n".join(cell_sources)}
    for answer in answers:
        refusal = _forbidden_globals(answer)
        if refusal is not None:
            return CellResult(grade_id, 0.0, check.max_points, refusal)
    return core.run_check(spec, check, NamespaceCaller(namespace), sources)

