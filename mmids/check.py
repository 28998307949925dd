"""``mmids.check``: test your own derivative code against finite differences; friendly report.

Usage (the module itself is callable, so both spellings work)::

    from mmids import check
    check(f, my_vjp, x)          # my_vjp(x, p) should return J_f(x)^T p  (shape of x)
    check(f, my_grad, x)         # scalar f: my_grad(x) should return ∇f(x) (shape of x)
    check(f, my_jacobian, x)     # vector f: my_jacobian(x) should return J_f(x) (rows = outputs)

What your function must compute is recognised from how many arguments it takes (two: a VJP;
one: the gradient if ``f(x)`` is a number, otherwise the Jacobian); pass ``kind=`` to say it
explicitly. The reference is computed by central finite differences in float64
(``mmids.gradcheck``); with ``f_torch=`` it is also compared with ``torch.autograd``.

The report says PASSED or FAILED, names the entries that differ most, and adds hints for common
mistakes (a flipped sign, a constant factor, a transposed Jacobian, a wrong shape, NaN).
It is printed and also returned (a ``CheckReport``; ``bool(report)`` is True when it passed).
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

__all__ = ["check", "diagnose", "quiet"]

Kind = Literal["auto", "vjp", "gradient", "jacobian"]


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
    kind: str, f: Callable[[np.ndarray], Any], x: np.ndarray, p: np.ndarray | None, eps: float,
    f_torch: Callable[[Any], Any] | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    if kind == "vjp":
        assert p is not None
        ref = numerical_vjp(f, x, p, eps)
        tref = None if f_torch is None else torch_vjp(f_torch, x, p)
    elif kind == "gradient":
        ref = numerical_gradient(f, x, eps)
        tref = None if f_torch is None else torch_gradient(f_torch, x)
    else:
        ref = numerical_jacobian(f, x, eps)
        tref = None if f_torch is None else torch_jacobian(f_torch, x)
    return ref, tref


def check(
    f: Callable[[np.ndarray], Any],
    derivative: Callable[..., Any],
    x: ArrayLike,
    *,
    kind: Kind = "auto",
    p: ArrayLike | None = None,
    seed: int = 0,
    f_torch: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    verbose: bool = True,
) -> CheckReport:
    """Check ``derivative`` (your VJP, gradient or Jacobian of ``f``) at ``x``; print a report.

    * ``kind="vjp"``: ``derivative(x, p)`` should be ``J_f(x)^T p`` with the shape of ``x``;
      ``p`` (shape of ``f(x)``) defaults to a random normal vector drawn with ``seed``.
    * ``kind="gradient"``: ``derivative(x)`` should be ``∇f(x)`` (shape of ``x``), ``f`` scalar.
    * ``kind="jacobian"``: ``derivative(x)`` should be ``J_f(x)`` of shape
      ``(f(x).size, x.size)`` (rows = outputs, columns = inputs, both flattened row-major).
    * ``kind="auto"`` (default): two arguments mean a VJP; one argument means the gradient if
      ``f(x)`` is a single number, the Jacobian otherwise.

    Entries pass when ``|ref − yours| ≤ atol + rtol · max(|ref|, |yours|)``. If ``f_torch``
    (the same function written with torch operations) is given, the answer is also compared
    with ``torch.autograd`` (tolerance ``1e-9`` relative). Prints the report unless
    ``verbose=False`` and returns it. Errors raised by your function are reported, not raised.
    """
    if kind not in ("auto", "vjp", "gradient", "jacobian"):
        raise ValueError(f"kind must be 'auto', 'vjp', 'gradient' or 'jacobian', got {kind!r}")
    x_arr = as_float_array(x, "x", copy=True)
    who = _describe(derivative)
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
                "(x, p) or a gradient/Jacobian (x); pass kind='vjp', 'gradient' or 'jacobian'"
            )
    if kind == "gradient" and out.size != 1:
        raise ValueError(
            f"kind='gradient' needs a scalar f, but f(x) has shape {out.shape}; "
            "use kind='vjp' or kind='jacobian'"
        )
    p_arr = None
    if kind == "vjp":
        if p is None:
            p_arr = np.random.default_rng(seed).standard_normal(out.shape)
        else:
            p_arr = np.array(p, dtype=np.float64)
            if p_arr.shape != out.shape:
                raise ValueError(f"p must have the shape of f(x), {out.shape}, got {p_arr.shape}")
    ref, tref = _reference(kind, f, x_arr, p_arr, eps, f_torch)
    title = f"{who} ({kind})"
    try:
        got = derivative(x_arr.copy(), p_arr.copy()) if kind == "vjp" else derivative(x_arr.copy())
    except Exception as exc:  # report, do not crash the student's notebook
        report = CheckReport(
            title, False, float("inf"), float("inf"), shape=ref.shape, rtol=rtol, atol=atol,
            message=f"calling it raised {type(exc).__name__}: {exc}",
        )
    else:
        parts = [
            compare(ref, got, rtol=rtol, atol=atol, name=f"{title} vs finite differences",
                    expected_label="finite differences", actual_label="yours")
        ]
        if tref is not None:
            parts.append(
                compare(tref, got, rtol=1e-9, atol=1e-12, name=f"{title} vs torch.autograd",
                        expected_label="torch", actual_label="yours")
            )
        report = parts[0] if len(parts) == 1 else CheckReport.combine(title, parts)
        if not report.ok:
            report.hints = diagnose(ref, got, kind)
    if verbose:
        print(_friendly(report, kind, who, x_arr.shape))
    return report


def _friendly(report: CheckReport, kind: str, who: str, x_shape: tuple[int, ...]) -> str:
    if report.ok:
        return (
            f"PASSED: {who} ({kind}) agrees with finite differences at x of shape {x_shape} "
            f"(max relative error {report.max_rel_error:.2g})."
        )
    return f"FAILED: {who} ({kind}) at x of shape {x_shape} does not match.\n{report}"


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
