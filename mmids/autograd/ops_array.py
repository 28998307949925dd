"""Reductions and the matrix product: VJP and JVP written from the structure of the Jacobian.

A reduction over ``axis`` maps ``a`` to ``r`` with one output per kept position; output ``r_k``
depends only on the entries of ``a`` reduced into it, through a row of weights ``w_k``:

* ``Sum``: ``w = 1``; ``Mean``: ``w = 1/n`` (``n`` entries averaged);
* ``Max``/``Min``: ``w = 1/m`` on the ``m`` entries equal to the maximum (torch's convention for
  ties: the gradient is shared evenly), 0 elsewhere;
* ``LogSumExp``: ``w = softmax`` of the reduced entries, ``exp(a − r)``.

So the VJP spreads ``p`` (shape of ``r``) back over the reduced axes and multiplies by ``w``:
``p_a = w ⊙ spread(p)``; the JVP is the reduction ``ṙ = Σ_axis w ⊙ ȧ``. No Jacobian is formed.
``axis`` is an int, a tuple of ints (as in numpy, negative allowed) or None (all entries).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from mmids.autograd.core import AutogradValue
from mmids.autograd.values import Value, broadcast_like

Axis = int | tuple[int, ...] | None


def _axes(axis: Axis, shape: tuple[int, ...], name: str) -> tuple[int, ...] | None:
    """``axis`` (an int, a tuple of ints or None) as a tuple of distinct axes in ``0..ndim−1``."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple) else (axis,)
    ndim, out = len(shape), []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, numbers.Integral):
            raise TypeError(
                f"{name}: axis must be an int, a tuple of ints or None, not {axis!r}"
            )
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} is out of range for an input of shape {shape}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: axis {axis!r} names the same axis twice (shape {shape})")
    return tuple(out)


def _spread(p: Value, like: Value, axis: tuple[int, ...] | None, keepdims: bool) -> Value:
    """Broadcast ``p`` (shape of a reduction of ``like`` over ``axis``) back to ``like``'s shape."""
    if isinstance(like, float):
        return float(p)
    if axis is not None and not keepdims:
        p = np.expand_dims(p, axis)
    return np.broadcast_to(p, like.shape).copy()


def _scalar(out: Value) -> Value:
    return float(out) if np.ndim(out) == 0 else out


def _sum(a: Value, axis: tuple[int, ...] | None, keepdims: bool) -> Value:
    if isinstance(a, float) and axis is None:
        return a
    return _scalar(np.sum(a, axis=axis, keepdims=keepdims))


class Reduction(AutogradValue):
    """Common part of the reductions: ``axis`` (tuple of non-negative ints, or None: all) and
    ``keepdims``; ``weights()`` gives ``w`` (shape of the input) for ``vjp`` and ``jvp``."""
    __slots__ = ("axis", "keepdims")

    def __init__(self, a: object, axis: Axis = None, keepdims: bool = False) -> None:
        shape = np.shape(a.value if isinstance(a, AutogradValue) else a)
        self.axis, self.keepdims = _axes(axis, shape, type(self).__name__.lower()), keepdims
        super().__init__(a)

    def weights(self) -> Value:
        raise NotImplementedError

    def vjp(self, p: Value) -> list[Value | None]:
        return [self.weights() * _spread(p, self.args[0], self.axis, self.keepdims)]

    def jvp(self, t: Value | None) -> Value:
        if t is None:
            return broadcast_like(0.0, self.value)
        return _sum(self.weights() * broadcast_like(t, self.args[0]), self.axis, self.keepdims)

    def describe(self, operands: list[str]) -> str:
        if self.axis is None:
            return f"{self.op}({operands[0]})"
        axis = self.axis[0] if len(self.axis) == 1 else self.axis
        return f"{self.op}({operands[0]}, axis={axis})"


class Sum(Reduction):
    """``Σ a`` over ``axis``. The Jacobian is a row of ones per output, so the VJP copies
    (broadcasts) ``p`` back to every summed entry."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return _sum(a, self.axis, self.keepdims)

    def vjp(self, p: Value) -> list[Value | None]:
        return [_spread(p, self.args[0], self.axis, self.keepdims)]

    def jvp(self, t: Value | None) -> Value:
        return 0.0 if t is None else self.func(broadcast_like(t, self.args[0]))

    def describe(self, operands: list[str]) -> str:
        return f"Σ {operands[0]}" if self.axis is None else super().describe(operands)


class Mean(Sum):
    """``mean(a)`` over ``axis``: the sum divided by the number ``n`` of entries averaged
    (the product of the sizes of the summed axes); VJP ``p / n`` spread like ``Sum``'s."""
    __slots__ = ()

    def count(self) -> int:
        if self.axis is None:
            return int(np.size(self.args[0]))
        shape = np.shape(self.args[0])
        return math.prod(shape[ax] for ax in self.axis)

    def func(self, a: Value) -> Value:
        return super().func(a) / self.count()

    def vjp(self, p: Value) -> list[Value | None]:
        return [_spread(p / self.count(), self.args[0], self.axis, self.keepdims)]

    def describe(self, operands: list[str]) -> str:
        return Reduction.describe(self, operands)


class Max(Reduction):
    """``max a`` over ``axis``; the gradient goes to the maximal entries, shared evenly among
    ties (``w = 1(a = max) / #ties``, as ``torch.amax``)."""
    __slots__ = ()
    reduce = staticmethod(np.max)

    def func(self, a: Value) -> Value:
        if isinstance(a, float) and self.axis is None:
            return a
        return _scalar(self.reduce(a, axis=self.axis, keepdims=self.keepdims))

    def weights(self) -> Value:
        a = self.args[0]
        if isinstance(a, float):
            return 1.0
        extreme = self.reduce(a, axis=self.axis, keepdims=True)
        hit = (a == extreme).astype(np.float64)
        return hit / np.sum(hit, axis=self.axis, keepdims=True)


class Min(Max):
    """``min a`` over ``axis``; as ``Max``, to the minimal entries."""
    __slots__ = ()
    reduce = staticmethod(np.min)


class LogSumExp(Reduction):
    """``log Σ exp(a)`` over ``axis``, computed as ``m + log Σ exp(a − m)`` with ``m`` the
    maximum (no overflow; ``m`` is taken as 0 where it is ±∞, so an all ``−∞`` slice gives
    ``−∞``). Its weights are the softmax ``exp(a − r)`` of each reduced slice."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        if isinstance(a, float) and self.axis is None:
            return a
        m = np.max(a, axis=self.axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(divide="ignore"):  # log 0 = −∞ for an all −∞ slice
            out = np.log(np.sum(np.exp(a - m), axis=self.axis, keepdims=True)) + m
        if not self.keepdims:
            out = np.squeeze(out, axis=self.axis)
        return _scalar(out)

    def weights(self) -> Value:
        a = self.args[0]
        if isinstance(a, float):
            return 1.0
        r = self.value if self.keepdims or self.axis is None else np.expand_dims(
            self.value, self.axis)
        return np.exp(a - r)


class MatMul(AutogradValue):
    """``A @ B`` for 1-D/2-D operands, ``C_ik = Σ_j A_ij B_jk``.

    VJPs: ``p_A = P B^T`` and ``p_B = A^T P`` with ``P = p_C`` (the structure
    ``∂C_ik/∂A_ij = B_jk``; the N×N×d Jacobian is never formed). A 1-D ``a`` is treated as the
    row ``(1, n)`` and a 1-D ``b`` as the column ``(n, 1)``. The product for a plain-array input
    (data) is skipped: it is never needed and costs as much as the forward product.
    """
    __slots__ = ()
    formula = "{0} @ {1}"

    def func(self, a: Value, b: Value) -> Value:
        if np.ndim(a) not in (1, 2) or np.ndim(b) not in (1, 2):
            raise ValueError("matmul needs 1-D or 2-D operands")
        return _scalar(a @ b)

    def vjp(self, p: Value) -> list[Value | None]:
        a, b = self.args
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        p2 = np.reshape(p, (a2.shape[0], b2.shape[1]))
        left, right = (isinstance(u, AutogradValue) for u in self.parents)
        return [
            (p2 @ b2.T).reshape(a.shape) if left else None,
            (a2.T @ p2).reshape(b.shape) if right else None,
        ]

    def jvp(self, ta: Value | None, tb: Value | None) -> Value:
        a, b = self.args
        total = 0.0 if ta is None else self.func(ta, b)
        return total if tb is None else total + self.func(a, tb)
