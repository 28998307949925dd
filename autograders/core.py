"""The grading contract shared by the in-notebook hidden tests and the out-of-kernel grader.

Everything that *judges* a submission lives in the trusted process that holds the
:class:`Check` objects.  The student's code is reached only through a :class:`Caller`:
``call(name, *args)`` runs the student's function ``name`` (or a trusted driver function
defined by :attr:`Assignment.driver_source`) on numpy arrays / floats / ints and returns what
it returned.  Two callers exist:

* in-notebook (``autograders.hidden``): calls the functions of the notebook namespace with
  references captured before any student code ran (``autograders.guard``);
* out-of-kernel (``python -m autograders grade``): ships arguments to a sandboxed worker by
  value and receives the results by value.

Both give the same scores for honest submissions because they share :func:`grade`.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from autograders.monitor import DIFFERENTIATION_LIBRARIES

__all__ = [
    "Assignment",
    "ASSIGNMENTS",
    "CellResult",
    "Caller",
    "Check",
    "FORBIDDEN_MODULES",
    "StudentCodeError",
    "grade",
    "screen_source",
    "total",
]


@dataclass(frozen=True)
class CellResult:
    """The outcome of one graded test cell.

    ``message`` is in plain words: what was checked, what went wrong (with the likely
    mistake when one is recognised) and the worst entry expected vs received.
    """

    grade_id: str
    points: float
    max_points: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form ``{grade_id, points, max_points, message}``."""
        return {
            "grade_id": self.grade_id,
            "points": self.points,
            "max_points": self.max_points,
            "message": self.message,
        }


class StudentCodeError(Exception):
    """Raised by a caller when the student's code raised, timed out or died.

    Its ``str()`` is the plain-words reason shown to the student as feedback.
    """


#: ``call(name, *args) -> result``: calls the student's function (or a trusted driver).
Caller = Callable[..., Any]


@dataclass(frozen=True)
class Check:
    """One graded test cell: draws seeded inputs, calls the student, judges with the oracles."""

    grade_id: str
    answer_id: str
    max_points: float
    run: Callable[[Caller], CellResult]


@dataclass(frozen=True)
class Assignment:
    """An nbgrader assignment and the checks behind its graded test cells.

    ``driver_source`` is trusted helper code executed in the student's namespace after the
    answer cells (it turns student classes into array-in / array-out functions); ``""`` if none.
    ``answer_ids`` lists the grade_ids of the answer cells, in notebook order.
    """

    name: str
    notebook: str
    checks: tuple[Check, ...]
    driver_source: str = ""
    answer_ids: tuple[str, ...] = ()

    @property
    def max_points(self) -> float:
        return float(sum(c.max_points for c in self.checks))

    def check(self, grade_id: str) -> Check:
        """The check behind the test cell ``grade_id`` (KeyError with the known ids otherwise)."""
        for c in self.checks:
            if c.grade_id == grade_id:
                return c
        known = ", ".join(c.grade_id for c in self.checks)
        raise KeyError(f"assignment {self.name!r} has no test cell {grade_id!r}; known: {known}")


# --------------------------------------------------------------------------------------------
# Refusing answers that use a differentiation library
# --------------------------------------------------------------------------------------------

#: Top-level packages an answer may not use: they would compute the derivative for the student.
FORBIDDEN_MODULES: frozenset[str] = DIFFERENTIATION_LIBRARIES | frozenset(
    {"scipy.optimize", "scipy.differentiate", "mmids", "autograders", "importlib", "ctypes",
     "cffi", "pickle", "marshal"}
)
#: Names that allow importing or evaluating code behind the screen's back.
FORBIDDEN_CALLS: frozenset[str] = frozenset(
    {"__import__", "exec", "eval", "compile", "globals", "breakpoint", "__builtins__"}
)

#: Attributes that reach loaded modules or switch off the run-time monitor.
_FORBIDDEN_ATTRIBUTES = frozenset({"modules", "__import__", "setprofile", "settrace"})

# mmids itself is allowed only for its student self-check helper.
_ALLOWED_FROM_MMIDS = frozenset({"check"})


def screen_source(source: str) -> str | None:
    """Screen an answer cell's source; return a refusal message, or ``None`` if it is allowed.

    Refused: importing a differentiation library (torch, jax, autograd, tensorflow, ...), the
    course's reference package (``mmids``, except ``from mmids import check``), or dynamic
    imports / ``exec`` / ``eval`` that would hide such a use.  A syntax error is reported too.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"the answer cell has a syntax error (line {exc.lineno}): {exc.msg}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_forbidden_module(alias.name):
                    return refusal_message(f"`import {alias.name}`")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "mmids" and all(a.name in _ALLOWED_FROM_MMIDS for a in node.names):
                continue
            if is_forbidden_module(module) or any(
                is_forbidden_module(f"{module}.{a.name}") for a in node.names
            ):
                return refusal_message(f"`from {module} import ...`")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS:
            return refusal_message(f"`{node.id}`")
        elif isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_ATTRIBUTES:
            return refusal_message(f"`.{node.attr}`")
    return None


def is_forbidden_module(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in FORBIDDEN_MODULES for i in range(1, len(parts) + 1))


def refusal_message(what: str) -> str:
    return (
        f"Refused: this answer uses {what}. Answers must compute the derivative themselves with "
        "numpy; automatic-differentiation libraries (torch, jax, autograd, ...), the mmids "
        "reference code, dynamic imports and exec/eval are not allowed. No credit is given."
    )


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------


def grade(
    assignment: str,
    call: Caller,
    sources: Mapping[str, str] | None = None,
) -> list[CellResult]:
    """Run every check of ``assignment`` with ``call``; never raises for student faults.

    ``sources`` maps answer-cell grade_ids to their source code.  When given, an answer whose
    source is refused by :func:`screen_source` earns 0 on every check that depends on it.
    """
    spec = ASSIGNMENTS[assignment]
    return [run_check(spec, check, call, sources) for check in spec.checks]


def run_check(
    spec: Assignment,
    check: Check,
    call: Caller,
    sources: Mapping[str, str] | None = None,
) -> CellResult:
    """Run one check, turning every failure of the student's code into a 0 with a message."""
    if sources is not None:
        src = sources.get(check.answer_id)
        if src is None:
            return CellResult(check.grade_id, 0.0, check.max_points,
                              f"No answer cell `{check.answer_id}` was found in the notebook.")
        refusal = screen_source(src)
        if refusal is not None:
            return CellResult(check.grade_id, 0.0, check.max_points, refusal)
    try:
        result = check.run(call)
    except StudentCodeError as exc:
        return CellResult(check.grade_id, 0.0, check.max_points, f"Your code failed: {exc}")
    except Exception as exc:  # a check must never crash the batch; report it honestly
        return CellResult(
            check.grade_id, 0.0, check.max_points,
            f"The grader could not evaluate this answer ({type(exc).__name__}: {exc}).",
        )
    points = result.points if math.isfinite(result.points) else 0.0
    points = min(max(points, 0.0), check.max_points)
    return CellResult(check.grade_id, round(points, 4), check.max_points, result.message)


def total(results: list[CellResult]) -> tuple[float, float]:
    """(points earned, maximum points) over a list of results."""
    return (float(sum(r.points for r in results)), float(sum(r.max_points for r in results)))


def _load_assignments() -> dict[str, Assignment]:
    from autograders.checks import load_assignments

    return load_assignments()


#: Every assignment by name: "vjps", "backprop", "autograd", "gradient_problems".
ASSIGNMENTS: dict[str, Assignment] = _load_assignments()
