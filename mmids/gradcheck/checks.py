"""One-call checks of a hand-written derivative against finite differences and torch.autograd.

Each check compares the derivative with its central-difference counterpart (tolerances
``rtol``, ``atol``) and, when ``f_torch`` (the same function written with torch operations) is
given, also ``f(x)`` with ``f_torch(x)`` and the derivative with ``torch.autograd``
(``torch_rtol``, ``torch_atol``). The result is one ``CheckReport`` with a part per comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import as_float_array
from mmids.gradcheck.numerical import (
    evaluate,
    numerical_gradient,
    numerical_jacobian,
    numerical_vjp,
)
from mmids.gradcheck.report import CheckReport, compare
from mmids.gradcheck.torch_ref import import_torch, torch_gradient, torch_jacobian, torch_vjp

__all__ = ["check_gradient", "check_jacobian", "check_vjp"]

Array = NDArray[np.float64]
RngLike = np.random.Generator | int | None
TorchFn = Callable[[Any], Any]


def _rng(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _forward_part(
    f: Callable[[Array], ArrayLike], f_torch: TorchFn, x: Array,
    rtol: float, atol: float, name: str,
) -> CheckReport:
    torch = import_torch()
    with torch.no_grad():
        out_t = f_torch(torch.tensor(x, dtype=torch.float64))
    return compare(
        np.asarray(out_t.detach().numpy(), dtype=np.float64), evaluate(f, x),
        rtol=rtol, atol=atol, name=f"{name}: f(x) agrees with f_torch(x)",
        expected_label="torch", actual_label="f",
    )


def _against_references(
    name: str,
    got: ArrayLike,
    finite_differences: Callable[[], Array],
    f: Callable[[Array], ArrayLike],
    x: Array,
    f_torch: TorchFn | None,
    by_torch: Callable[[TorchFn], Array],
    tolerances: tuple[float, float, float, float],
) -> CheckReport:
    """``got`` vs ``finite_differences()`` and, with ``f_torch``, ``f`` vs ``f_torch`` and
    ``got`` vs ``by_torch(f_torch)``; ``tolerances = (rtol, atol, torch_rtol, torch_atol)``."""
    rtol, atol, torch_rtol, torch_atol = tolerances
    parts = [
        compare(
            finite_differences(), got, rtol=rtol, atol=atol,
            name=f"{name} vs finite differences",
            expected_label="finite differences", actual_label=name,
        )
    ]
    if f_torch is not None:
        parts.append(_forward_part(f, f_torch, x, torch_rtol, torch_atol, name))
        parts.append(
            compare(
                by_torch(f_torch), got, rtol=torch_rtol, atol=torch_atol,
                name=f"{name} vs torch.autograd", expected_label="torch", actual_label=name,
            )
        )
    return CheckReport.combine(name, parts)


def _check_explicit(
    f: Callable[[Array], ArrayLike],
    derivative: Callable[[Array], ArrayLike],
    x: ArrayLike,
    numerical: Callable[[Callable[[Array], ArrayLike], Array, float], Array],
    by_torch: Callable[[TorchFn, Array], Array],
    f_torch: TorchFn | None,
    eps: float,
    tolerances: tuple[float, float, float, float],
    name: str,
) -> CheckReport:
    """A derivative that depends on ``x`` only (gradient, Jacobian) against its references."""
    x_arr = as_float_array(x, "x", copy=True)
    got = derivative(x_arr.copy())
    return _against_references(
        name, got, lambda: numerical(f, x_arr, eps), f, x_arr, f_torch,
        lambda ft: by_torch(ft, x_arr), tolerances,
    )


def check_vjp(
    f: Callable[[Array], ArrayLike],
    vjp: Callable[[Array, Array], ArrayLike],
    x: ArrayLike,
    *,
    p: ArrayLike | None = None,
    rng: RngLike = None,
    f_torch: TorchFn | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    torch_rtol: float = 1e-9,
    torch_atol: float = 1e-12,
    name: str = "vjp",
) -> CheckReport:
    """Check a hand-written VJP ``vjp(x, p) ≈ J_f(x)^T p``.

    ``p`` defaults to a standard normal upstream vector of the shape of ``f(x)`` drawn from
    ``rng`` (a Generator or a seed; seed 0 if None, so the check is reproducible). The VJP is
    compared with ``numerical_vjp`` (tolerances ``rtol``, ``atol``) and, if ``f_torch`` is
    given, with ``torch_vjp`` (``torch_rtol``, ``torch_atol``); ``f(x)`` itself is then also
    compared with ``f_torch(x)`` so that a wrong torch reference is noticed.
    """
    x = as_float_array(x, "x", copy=True)
    out = evaluate(f, x)
    p_arr = _rng(rng).standard_normal(out.shape) if p is None else as_float_array(p, "p", copy=True)
    if p_arr.shape != out.shape:
        raise ValueError(f"p must have the shape of f(x), {out.shape}, got {p_arr.shape}")
    got = vjp(x.copy(), p_arr.copy())
    return _against_references(
        name, got, lambda: numerical_vjp(f, x, p_arr, eps), f, x, f_torch,
        lambda ft: torch_vjp(ft, x, p_arr), (rtol, atol, torch_rtol, torch_atol),
    )


def check_gradient(
    f: Callable[[Array], ArrayLike],
    grad: Callable[[Array], ArrayLike],
    x: ArrayLike,
    *,
    f_torch: TorchFn | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    torch_rtol: float = 1e-9,
    torch_atol: float = 1e-12,
    name: str = "gradient",
) -> CheckReport:
    """Check ``grad(x) ≈ ∇f(x)`` for scalar ``f`` against finite differences (and torch)."""
    return _check_explicit(
        f, grad, x, numerical_gradient, torch_gradient, f_torch, eps,
        (rtol, atol, torch_rtol, torch_atol), name,
    )


def check_jacobian(
    f: Callable[[Array], ArrayLike],
    jac: Callable[[Array], ArrayLike],
    x: ArrayLike,
    *,
    f_torch: TorchFn | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    torch_rtol: float = 1e-9,
    torch_atol: float = 1e-12,
    name: str = "jacobian",
) -> CheckReport:
    """Check an explicit Jacobian ``jac(x)`` of shape ``(f(x).size, x.size)`` (rows = outputs)."""
    return _check_explicit(
        f, jac, x, numerical_jacobian, torch_jacobian, f_torch, eps,
        (rtol, atol, torch_rtol, torch_atol), name,
    )
