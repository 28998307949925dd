"""Central finite differences in float64: Jacobian, gradient and VJP of a numpy function.

``∂f/∂x_j ≈ (f(x + δ e_j) − f(x − δ e_j)) / (2δ)`` with the step ``δ`` (the argument ``eps``):
error ``O(δ²)`` plus rounding ``O(u |f| / δ)`` (``u ≈ 1.1e-16``), about ``1e-10 |f|`` for the
default ``δ = 1e-6``.
Jacobians have rows = outputs and columns = inputs, both flattened row-major.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import as_float_array

__all__ = ["numerical_gradient", "numerical_jacobian", "numerical_vjp"]

Array = NDArray[np.float64]


def _check_eps(eps: float) -> None:
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")


def evaluate(f: Callable[[Array], Any], x: Array) -> Array:
    return np.asarray(f(x.copy()), dtype=np.float64)


def numerical_jacobian(f: Callable[[Array], ArrayLike], x: ArrayLike, eps: float = 1e-6) -> Array:
    """Central-difference Jacobian of ``f`` at ``x``: shape ``(f(x).size, x.size)``.

    Column ``j`` is ``(f(x + δ e_j) − f(x − δ e_j)) / (2δ)`` with ``e_j`` the ``j``-th entry of
    ``x`` in row-major order; rows follow ``f(x)`` flattened row-major. Costs ``2 x.size``
    evaluations of ``f`` (each on a fresh copy, so ``f`` may modify its argument).
    """
    _check_eps(eps)
    x = as_float_array(x, "x", copy=True)
    m = evaluate(f, x).size
    J = np.empty((m, x.size))
    flat = x.reshape(-1)
    for j in range(x.size):
        old = flat[j]
        flat[j] = old + eps
        plus = evaluate(f, x).reshape(-1)
        flat[j] = old - eps
        minus = evaluate(f, x).reshape(-1)
        flat[j] = old
        if plus.size != m or minus.size != m:
            raise ValueError("f must return outputs of the same size for every input")
        J[:, j] = (plus - minus) / (2.0 * eps)
    return J


def numerical_gradient(f: Callable[[Array], ArrayLike], x: ArrayLike, eps: float = 1e-6) -> Array:
    """Central-difference gradient ``∇f(x)`` of a scalar-valued ``f``; same shape as ``x``."""
    _check_eps(eps)
    x = as_float_array(x, "x", copy=True)
    value = evaluate(f, x)
    if value.size != 1:
        raise ValueError(
            f"numerical_gradient needs a scalar-valued f, but f(x) has shape {value.shape}; "
            "use numerical_jacobian or numerical_vjp for vector-valued functions"
        )
    return numerical_jacobian(f, x, eps).reshape(x.shape)


def numerical_vjp(
    f: Callable[[Array], ArrayLike], x: ArrayLike, p: ArrayLike, eps: float = 1e-6
) -> Array:
    """Central-difference VJP ``J_f(x)^T p``: the gradient of ``x ↦ ⟨p, f(x)⟩``; shape of ``x``.

    ``p`` must have the shape of ``f(x)``. Costs ``2 x.size`` evaluations of ``f``.
    """
    x = as_float_array(x, "x", copy=True)
    p = as_float_array(p, "p", copy=True)
    out = evaluate(f, x)
    if p.shape != out.shape:
        raise ValueError(f"p must have the shape of f(x), {out.shape}, got {p.shape}")
    return numerical_gradient(lambda u: float(np.sum(p * np.asarray(f(u), np.float64))), x, eps)
