"""``mmids.check``: test your own derivative code against finite differences; friendly report.

Usage (the module itself is callable, so both spellings work)::

    from mmids import check
    check(f, my_vjp, x)          # my_vjp(x, p) should return J_f(x)^T p  (shape of x)
    check(f, my_grad, x)         # scalar f: my_grad(x) should return ∇f(x) (shape of x)
    check(f, my_jacobian, x)     # vector f: my_jacobian(x) should return J_f(x) (rows = outputs)
    check(f, my_jvp, x, kind="jvp")   # my_jvp(x, dx) should return J_f(x) dx (shape of f(x))

What your function must compute is recognised from how many arguments it takes (two: a VJP;
one: the gradient if ``f(x)`` is a number, otherwise the Jacobian); pass ``kind=`` to say it
explicitly (a JVP also takes two arguments, so it always needs ``kind="jvp"``). The reference
is computed by central finite differences in float64 (``mmids.gradcheck``); with ``f_torch=``
it is also compared with ``torch.autograd``. ``name=`` names the check in the report.

Two helpers check things that are not derivatives::

    check.values(yours, expected, name="...")      # arrays (or lists of arrays) agree
    check.that(condition, "what must hold")           # a property, e.g. an input left unchanged

Each check prints one line, ``PASSED: ...`` or ``FAILED: ...``; a failure is followed by the
entries that differ most and hints for common mistakes (a flipped sign, a constant factor, a
transposed Jacobian, a wrong shape, NaN, a Python list or float32 instead of a float64 array).
The report is also returned (a ``CheckReport``; ``bool(report)`` is True when it passed; in a
notebook it displays as one line). End a cell with ``;`` to show only the printed line.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from mmids._validate import as_float_array
from mmids.gradcheck import (
    CheckReport,
    compare,
    numerical_gradient,
    numerical_jacobian,
    numerical_vjp,
    torch_gradient,
    torch_jacobian,
    torch_vjp,
)

__all__ = ["check", "diagnose", "quiet", "that", "values"]

Kind = Literal["auto", "vjp", "jvp", "gradient", "jacobian"]


def _n_positional(func: Callable[..., Any]) -> int | None:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    return sum(1 for p in params if p.kind in kinds and p.default is inspect.Parameter.empty)


def _describe(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None)
    return f"`{name}`" if name and name != "<lambda>" else "your function"


def diagnose(expected: ArrayLike, actual: ArrayLike, kind: str = "vjp") -> list[str]:
    """Plain-words hints about how ``actual`` differs from ``expected`` (empty if no idea).

    Recognises: wrong shape (and a transpose or a reshape of the right values), NaN/inf, all
    zeros, a flipped sign, a constant factor, a transposed Jacobian.
    """
    e = np.asarray(expected, dtype=np.float64)
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return [f"it returned {type(actual).__name__}, not an array of numbers"]
    hints: list[str] = []
    if a.shape != e.shape:
        hints.append(f"it returned shape {a.shape}, but the {kind} must have shape {e.shape}")
        if a.size == e.size:
            if a.ndim == 2 and a.T.shape == e.shape and np.allclose(a.T, e, rtol=1e-4, atol=1e-6):
                hints.append("its transpose is right: rows should be outputs, columns inputs")
            elif np.allclose(a.reshape(e.shape), e, rtol=1e-4, atol=1e-6):
                hints.append(f"the values are right: reshape the result to {e.shape}")
        return hints
    if not np.all(np.isfinite(a)):
        hints.append(
            "it returned NaN or inf: look for overflow (exp of a large number), log(0) or a "
            "division by zero"
        )
        return hints
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    if e.size == 0 or scale == 0:
        return hints
    if not np.any(a):
        hints.append("it returned all zeros")
        return hints
    if (
        kind == "jacobian" and e.ndim == 2 and e.shape[0] == e.shape[1]
        and np.allclose(a.T, e, rtol=1e-4, atol=1e-6 * scale)
    ):
        hints.append("its transpose is right: rows should be outputs, columns inputs")
        return hints
    c = float(np.vdot(e, a) / np.vdot(e, e))
    if np.allclose(a, c * e, rtol=1e-4, atol=1e-6 * scale) and not np.isclose(c, 1.0, rtol=1e-4):
        if np.isclose(c, -1.0, rtol=1e-4):
            hints.append("the values have the wrong sign (it returned minus the right answer)")
        else:
            hints.append(
                f"it is {c:.4g} times the right answer: a constant factor is missing or extra"
            )
    return hints


def _reference(
    kind: str, f: Callable[[np.ndarray], Any], x: np.ndarray, v: np.ndarray | None, eps: float,
    f_torch: Callable[[Any], Any] | None, out_shape: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray | None]:
    """(finite-difference reference, torch reference or None); ``v`` is p (vjp) or dx (jvp)."""
    if kind == "vjp":
        assert v is not None
        ref = numerical_vjp(f, x, v, eps)
        tref = None if f_torch is None else torch_vjp(f_torch, x, v)
    elif kind == "jvp":
        assert v is not None
        ref = (numerical_jacobian(f, x, eps) @ v.reshape(-1)).reshape(out_shape)
        tref = (None if f_torch is None
                else (torch_jacobian(f_torch, x) @ v.reshape(-1)).reshape(out_shape))
    elif kind == "gradient":
        ref = numerical_gradient(f, x, eps)
        tref = None if f_torch is None else torch_gradient(f_torch, x)
    else:
        ref = numerical_jacobian(f, x, eps)
        tref = None if f_torch is None else torch_jacobian(f_torch, x)
    return ref, tref


def _returned_problem(value: Any, what: str) -> str | None:
    """Why ``value`` is not a float64 numpy array (or number), in plain words; None if it is."""
    if value is None:
        return f"{what} returned None: did you forget the `return` statement?"
    if isinstance(value, list | tuple):
        return (f"{what} returned a Python {type(value).__name__}; return a numpy array "
                "(np.array(...))")
    if isinstance(value, bool | np.bool_):
        return f"{what} returned a boolean; return a numpy array of floats"
    if isinstance(value, int | float):
        return None
    if not isinstance(value, np.ndarray | np.generic):
        return f"{what} returned a {type(value).__name__}, not a numpy array"
    if value.dtype.kind != "f":
        kinds = {"i": "integers", "u": "integers", "b": "booleans", "c": "complex numbers"}
        return (f"{what} returned {kinds.get(value.dtype.kind, f'dtype {value.dtype}')} "
                f"(dtype {value.dtype}); return floating-point numbers (float64)")
    if value.dtype.itemsize < 8:
        return (f"{what} returned dtype {value.dtype} for float64 inputs: precision was lost; "
                "keep float64 (do not convert to a lower precision)")
    return None


def _draw(given: ArrayLike | None, shape: tuple[int, ...], seed: int, what: str) -> np.ndarray:
    if given is None:
        return np.random.default_rng(seed).standard_normal(shape)
    arr = np.array(given, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{what}, {shape}, got {arr.shape}")
    return arr


def check(
    f: Callable[[np.ndarray], Any],
    derivative: Callable[..., Any],
    x: ArrayLike,
    *,
    kind: Kind = "auto",
    p: ArrayLike | None = None,
    dx: ArrayLike | None = None,
    name: str | None = None,
    seed: int = 0,
    f_torch: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    verbose: bool = True,
) -> CheckReport:
    """Check ``derivative`` (your VJP, JVP, gradient or Jacobian of ``f``) at ``x``; print a report.

    * ``kind="vjp"``: ``derivative(x, p)`` should be ``J_f(x)^T p`` with the shape of ``x``;
      ``p`` (shape of ``f(x)``) defaults to a random normal array drawn with ``seed``.
    * ``kind="jvp"``: ``derivative(x, dx)`` should be ``J_f(x) dx`` with the shape of ``f(x)``;
      ``dx`` (shape of ``x``) defaults to a random normal array drawn with ``seed``.
    * ``kind="gradient"``: ``derivative(x)`` should be ``∇f(x)`` (shape of ``x``), ``f`` scalar.
    * ``kind="jacobian"``: ``derivative(x)`` should be ``J_f(x)`` of shape
      ``(f(x).size, x.size)`` (rows = outputs, columns = inputs, both flattened row-major).
    * ``kind="auto"`` (default): two arguments mean a VJP; one argument means the gradient if
      ``f(x)`` is a single number, the Jacobian otherwise.

    Entries pass when ``|ref − yours| ≤ atol + rtol · max(|ref|, |yours|)``; the answer must
    also be a numpy array of float64 numbers (not a list, not float32 for float64 inputs). If
    ``f_torch`` (the same function written with torch operations) is given, the answer is also
    compared with ``torch.autograd`` (tolerance ``1e-9`` relative). ``name`` names the check
    (default: your function's name). Prints one line (and, on failure, the worst entries and
    hints) unless ``verbose=False``, and returns the report. Errors raised by your function are
    reported, not raised.
    """
    if kind not in ("auto", "vjp", "jvp", "gradient", "jacobian"):
        raise ValueError(
            f"kind must be 'auto', 'vjp', 'jvp', 'gradient' or 'jacobian', got {kind!r}")
    x_arr = as_float_array(x, "x", copy=True)
    who = name or _describe(derivative)
    out = np.asarray(f(x_arr.copy()), dtype=np.float64)
    if kind == "auto":
        n_args = _n_positional(derivative)
        if n_args == 2:
            kind = "vjp"
        elif n_args == 1:
            kind = "gradient" if out.size == 1 else "jacobian"
        else:
            raise ValueError(
                "could not tell from its arguments whether the derivative is a VJP "
                "(x, p) or a gradient/Jacobian (x); pass kind='vjp', 'jvp', 'gradient' or "
                "'jacobian'"
            )
    if kind == "gradient" and out.size != 1:
        raise ValueError(
            f"kind='gradient' needs a scalar f, but f(x) has shape {out.shape}; "
            "use kind='vjp' or kind='jacobian'"
        )
    v = None
    if kind == "vjp":
        v = _draw(p, out.shape, seed, "p must have the shape of f(x)")
    elif kind == "jvp":
        v = _draw(dx, x_arr.shape, seed, "dx must have the shape of x")
    ref, tref = _reference(kind, f, x_arr, v, eps, f_torch, out.shape)
    title = f"{who} ({kind})"
    against = "finite differences" + ("" if tref is None else " and torch.autograd")
    try:
        got = derivative(x_arr.copy(), v.copy()) if v is not None else derivative(x_arr.copy())
    except Exception as exc:  # report, do not crash the student's notebook
        report = _failed(title, f"calling it raised {type(exc).__name__}: {exc}", ref.shape,
                         rtol, atol)
    else:
        problem = _returned_problem(got, "it")
        if problem is not None:
            report = _failed(title, problem, ref.shape, rtol, atol)
        else:
            parts = [
                compare(ref, got, rtol=rtol, atol=atol, name=f"{title} vs finite differences",
                        expected_label="finite differences", actual_label="yours", n_worst=3)
            ]
            if tref is not None:
                parts.append(
                    compare(tref, got, rtol=1e-9, atol=1e-12, name=f"{title} vs torch.autograd",
                            expected_label="torch", actual_label="yours", n_worst=3)
                )
            report = parts[0] if len(parts) == 1 else CheckReport.combine(title, parts)
            report.name = title
            if not report.ok:
                report.hints = diagnose(ref, got, kind)
    if verbose:
        print(_friendly(report, title, f"{against} at x of shape {x_arr.shape}"))
    return report


def _failed(name: str, message: str, shape: tuple[int, ...], rtol: float,
            atol: float) -> CheckReport:
    return CheckReport(name, False, float("inf"), float("inf"), shape=shape, rtol=rtol,
                       atol=atol, message=message)


def _friendly(report: CheckReport, title: str, against: str) -> str:
    """``PASSED: <title> matches <against> (max error ...).`` or FAILED with the details."""
    if report.ok:
        return (f"PASSED: {title} matches {against} "
                f"(max error {report.max_abs_error:.1g}).")
    lines = [line for line in report.failure_lines()
             if not (line.startswith("hint: it returned shape") and "shape mismatch" in
                     report.message)]  # the mismatch itself is already said
    if report.message and not report.worst and not report.parts:
        head = f"FAILED: {title}: {lines.pop(0)}"
    else:
        head = f"FAILED: {title} does not match {against}:"
    return "\n".join([head, *(f"  {line}" for line in lines)])


def values(
    yours: Any,
    expected: Any,
    *,
    name: str = "the result",
    rtol: float = 1e-7,
    atol: float = 1e-10,
    verbose: bool = True,
) -> CheckReport:
    """Check that ``yours`` equals ``expected`` (arrays, numbers, or lists of arrays); print it.

    Entries pass when ``|expected − yours| ≤ atol + rtol · max(|expected|, |yours|)``. A list or
    tuple ``expected`` is compared array by array with ``yours``, which must then be a list or
    tuple of the same length; otherwise ``yours`` must be a numpy array (or a number) of
    float64 numbers. Prints one line (PASSED / FAILED, with the worst entries on failure) unless
    ``verbose=False``, and returns the report.
    """
    if isinstance(expected, list | tuple):
        if not isinstance(yours, list | tuple):
            report = _failed(name, f"it is a {type(yours).__name__}, but a list of "
                             f"{len(expected)} arrays is expected", (len(expected),), rtol, atol)
        elif len(yours) != len(expected):
            n = len(yours)
            report = _failed(name, f"it holds {n} array{'' if n == 1 else 's'}, but "
                             f"{len(expected)} are expected", (len(expected),), rtol, atol)
        else:
            parts = [_compare_values(y, e, f"{name}[{i}]", rtol, atol, f"{name}[{i}]")
                     for i, (y, e) in enumerate(zip(yours, expected, strict=True))]
            report = CheckReport.combine(name, parts) if parts else CheckReport(name, True, 0, 0)
            failing = [r for r in parts if not r.ok]
            if failing:
                report.parts = failing
    else:
        report = _compare_values(yours, expected, name, rtol, atol)
    if verbose:
        print(_friendly(report, name, "the expected values"))
    return report


def _compare_values(yours: Any, expected: Any, name: str, rtol: float, atol: float,
                    label: str = "yours") -> CheckReport:
    e = np.asarray(expected, dtype=np.float64)
    problem = _returned_problem(yours, "it")
    if problem is not None:
        return _failed(name, problem.replace("it returned", "it is"), e.shape, rtol, atol)
    report = compare(e, yours, rtol=rtol, atol=atol, name=name, expected_label="expected",
                     actual_label=label, n_worst=3)
    if not report.ok and report.worst:
        report.hints = diagnose(e, yours, "result")
    return report


def that(condition: Any, what: str, *, hint: str = "", verbose: bool = True) -> CheckReport:
    """Check a property: prints ``PASSED: <what>.`` if ``condition`` is true, else
    ``FAILED: not true that <what>.``

    ``what`` states what must hold, e.g. ``"clip_grad_norm leaves its input list unchanged"``;
    ``hint`` is printed on failure. Returns the report (``bool(report)`` is the outcome).
    """
    ok = bool(condition)
    report = CheckReport(what, ok, 0.0 if ok else float("inf"), 0.0 if ok else float("inf"),
                         message="" if ok else "not true",
                         hints=[hint] if hint and not ok else [])
    if verbose:
        text = f"PASSED: {what}." if ok else f"FAILED: not true that {what}."
        if hint and not ok:
            text += f"\n  hint: {hint}"
        print(text)
    return report


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Run a block with everything it writes to stderr (warnings included) sent to stdout.

    nbgrader gives 0 to a graded cell that writes to stderr, even when its tests pass; the
    visible tests of the exercises run inside ``with check.quiet():`` so that a numpy warning
    from your code is still shown to you but cannot cost you the cell's points.
    """
    with contextlib.redirect_stderr(sys.stdout):
        yield


class _CallableModule(types.ModuleType):
    """Lets ``from mmids import check; check(...)`` call the function ``check``."""

    def __call__(self, *args: Any, **kwargs: Any) -> CheckReport:
        return check(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
