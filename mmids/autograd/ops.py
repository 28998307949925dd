"""The table of operations: one class per operation, its forward rule and derivative side by side.

Each class overrides

* ``func(*args)``  -- the value, from the values of the inputs;
* ``grads(*args)`` -- for element-wise operations: the local derivatives, one per input, so that
  ``dL/d(input) = dL/d(output) ⊙ local`` (``vjp``) and ``d(output) = Σ local ⊙ d(input)`` (``jvp``)
  follow from the base class;
* or, when the Jacobian is not diagonal (``Sum``, ``Mean``, ``MatMul``), ``vjp(g)`` and
  ``jvp(*tangents)`` directly, written with the structure of the Jacobian, never as a matrix.

The same code serves floats and numpy arrays. Scalars take a ``math`` fast path; arrays use numpy.
The line ``__slots__ = ()`` in each class only says "no attributes beyond the base class's four"
(it keeps every node small and fast to build; see :class:`~mmids.autograd.core.AutogradValue`).

Numerical trouble is reported, not hidden: ``log`` of a non-positive entry warns (RuntimeWarning
naming the operation) and returns nan/-inf as numpy does; overflow in ``exp`` or ``**`` shows
numpy's own RuntimeWarning.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from mmids import functions as F
from mmids.autograd.core import AutogradValue, Value, broadcast_like, is_operand


def _elementwise(scalar: Callable[[float], float], array: Callable[[Any], Any]) -> Callable:
    """Use ``scalar`` (math, fast) on floats and ``array`` (numpy) otherwise.

    If the math version fails (overflow, domain error) the numpy version gives inf/nan together
    with numpy's RuntimeWarning, so the problem is visible.
    """

    def apply(a: Value) -> Value:
        if isinstance(a, float):
            try:
                return scalar(a)
            except (OverflowError, ValueError):
                return float(array(np.float64(a)))
        return array(a)

    return apply


def _scalar_sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_user(message: str) -> None:
    """Issue a ``RuntimeWarning`` attributed to the user's line, not to the engine.

    The warning points at the first caller outside ``mmids/autograd/`` (e.g. the line calling
    ``log(x)``, or ``L.backward()`` when the trouble shows up in a local derivative).
    """
    frame, level = sys._getframe(1), 2  # stacklevel=2 is the caller of warn_user
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _array_log(a: Value) -> Value:
    if np.any(a <= 0):
        warn_user("log of a non-positive value: the result has -inf (at 0) or nan (below 0)")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a)


def _scalar_power(a: float, b: float) -> float:
    result = a**b  # Python gives a complex number for a < 0 with fractional b: use numpy then
    if isinstance(result, complex):
        raise ValueError("negative base")
    return result


exp_ = _elementwise(math.exp, np.exp)
log_ = _elementwise(math.log, _array_log)
sigmoid_ = _elementwise(_scalar_sigmoid, F.sigmoid)
tanh_ = _elementwise(math.tanh, np.tanh)
relu_ = _elementwise(lambda a: a if a > 0 else 0.0, lambda a: np.maximum(a, 0.0))
step_ = _elementwise(lambda a: 1.0 if a > 0 else 0.0, lambda a: (a > 0).astype(np.float64))


def divide_(a: Value, b: Value) -> Value:
    """``a / b``; a float division by zero gives ±inf or nan with numpy's warning (as torch)."""
    try:
        return a / b
    except ZeroDivisionError:
        return float(np.divide(np.float64(a), np.float64(b)))


def power_(a: Value, b: Value) -> Value:
    if isinstance(a, float) and isinstance(b, (int, float)):
        try:
            return _scalar_power(a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            return float(np.power(np.float64(a), b))
    return np.power(a, b)


# ---- element-wise operations: value | local derivative w.r.t. each input ---------------------


class Add(AutogradValue):
    """``a + b``"""
    __slots__ = ()

    def func(self, a: Value, b: Value) -> Value:
        return a + b

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return 1.0, 1.0


class Sub(AutogradValue):
    """``a - b``"""
    __slots__ = ()

    def func(self, a: Value, b: Value) -> Value:
        return a - b

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return 1.0, -1.0


class Mul(AutogradValue):
    """``a * b`` (element-wise)"""
    __slots__ = ()

    def func(self, a: Value, b: Value) -> Value:
        return a * b

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return b, a


class Div(AutogradValue):
    """``a / b``"""
    __slots__ = ()

    def func(self, a: Value, b: Value) -> Value:
        return divide_(a, b)

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return divide_(1.0, b), -divide_(a, b * b)


class Pow(AutogradValue):
    """``a ** b``, with torch's conventions where the formulas meet ``0 · ∞``.

    * ``∂/∂a = b a^(b−1)``, taken as 0 where ``b = 0`` (``a^0 = 1`` does not depend on ``a``,
      also at ``a = 0``, where the formula would give ``0 · ∞``);
    * ``∂/∂b = a^b log a``, taken as 0 where ``a = 0`` and ``b ≥ 0`` (there ``a^b`` is 0, or 1
      for ``b = 0``, and ``log 0 = −∞``); where ``a < 0`` it is nan, with a warning.

    Each derivative is computed only when its input is a node (``x ** 2``: no log; ``2.0 ** x``:
    no power in the base), and without numpy warnings: ``∞`` (``d√x/dx`` at 0) is the derivative.
    """
    __slots__ = ()

    def func(self, a: Value, b: Value) -> Value:
        return power_(a, b)

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        base, exponent = self.parents
        return (
            _pow_grad_base(a, b) if isinstance(base, AutogradValue) else 0.0,
            _pow_grad_exponent(a, b, self.value) if isinstance(exponent, AutogradValue) else 0.0,
        )


def _pow_grad_base(a: Value, b: Value) -> Value:
    """``∂(a^b)/∂a = b a^(b−1)``, and 0 where ``b = 0``."""
    if isinstance(b, (int, float)):
        if b == 0:
            return 0.0
        if isinstance(a, float):
            try:
                return b * _scalar_power(a, b - 1)
            except (ZeroDivisionError, OverflowError, ValueError):
                pass
    with np.errstate(all="ignore"):
        d = b * np.power(a, b - 1)
    d = np.where(np.asarray(b) == 0, 0.0, d) if isinstance(b, np.ndarray) else d
    return float(d) if np.ndim(d) == 0 else d


def _pow_grad_exponent(a: Value, b: Value, value: Value) -> Value:
    """``∂(a^b)/∂b = a^b log a``, and 0 where ``a = 0`` and ``b ≥ 0``."""
    if np.any(np.asarray(a) < 0):
        warn_user("pow: the derivative in the exponent, a**b * log(a), is nan where the base "
                  "a is negative (log of a negative number)")
    if isinstance(a, float) and isinstance(b, (int, float)):
        if a > 0:
            return value * math.log(a)
        if a == 0:
            return 0.0 if b >= 0 else value * -math.inf
        return math.nan
    with np.errstate(all="ignore"):
        d = value * np.log(a)
    d = np.where((np.asarray(a) == 0) & (np.asarray(b) >= 0), 0.0, d)
    return float(d) if np.ndim(d) == 0 else d


class Neg(AutogradValue):
    """``-a``"""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return -a

    def grads(self, a: Value) -> tuple[Value]:
        return (-1.0,)


class Exp(AutogradValue):
    """``exp(a)``; its derivative is itself."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return exp_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (self.value,)


class Log(AutogradValue):
    """``log(a)`` (natural); warns on non-positive entries."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return log_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (divide_(1.0, a),)


class Sigmoid(AutogradValue):
    """``σ(a) = 1 / (1 + exp(-a))``; ``σ' = σ (1 - σ)``."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return sigmoid_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (self.value * (1.0 - self.value),)


class Tanh(AutogradValue):
    """``tanh(a)``; ``tanh' = 1 - tanh²``."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return tanh_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (1.0 - self.value * self.value,)


class Relu(AutogradValue):
    """``max(a, 0)``; derivative ``1(a > 0)`` (0 at ``a = 0``, a convention)."""
    __slots__ = ()

    def func(self, a: Value) -> Value:
        return relu_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (step_(a),)


# ---- reductions and matrix product: VJP and JVP written with the Jacobian's structure ---------


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


class Sum(AutogradValue):
    """``Σ a`` over ``axis`` (an int, a tuple of ints as in numpy, or None for all entries).

    The Jacobian is a row of ones per output, so the VJP copies (broadcasts) the upstream
    gradient back to every summed entry: ``dL/da = g`` expanded along the summed axes.
    ``self.axis`` holds the summed axes as a tuple of non-negative ints (None: all)."""
    __slots__ = ("axis", "keepdims")

    def __init__(self, a: Any, axis: Axis = None, keepdims: bool = False) -> None:
        shape = np.shape(a.value if isinstance(a, AutogradValue) else a)
        self.axis, self.keepdims = _axes(axis, shape, type(self).__name__.lower()), keepdims
        super().__init__(a)

    def func(self, a: Value) -> Value:
        if isinstance(a, float) and self.axis is None:
            return a
        out = np.sum(a, axis=self.axis, keepdims=self.keepdims)
        return float(out) if np.ndim(out) == 0 else out

    def vjp(self, g: Value) -> list[Value | None]:
        return [_spread(g, self.args[0], self.axis, self.keepdims)]

    def jvp(self, t: Value | None) -> Value:
        return 0.0 if t is None else self.func(broadcast_like(t, self.args[0]))


class Mean(Sum):
    """``mean(a)`` over ``axis``: the sum divided by the number ``n`` of entries averaged
    (the product of the sizes of the summed axes); VJP ``g / n`` spread like ``Sum``'s."""
    __slots__ = ()

    def count(self) -> int:
        if self.axis is None:
            return int(np.size(self.args[0]))
        shape = np.shape(self.args[0])
        return math.prod(shape[ax] for ax in self.axis)

    def func(self, a: Value) -> Value:
        return super().func(a) / self.count()

    def vjp(self, g: Value) -> list[Value | None]:
        return [_spread(g / self.count(), self.args[0], self.axis, self.keepdims)]


def _spread(g: Value, like: Value, axis: tuple[int, ...] | None, keepdims: bool) -> Value:
    """Broadcast ``g`` (shape of a sum of ``like`` over ``axis``) back to the shape of ``like``."""
    if isinstance(like, float):
        return float(g)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, like.shape).copy()


class MatMul(AutogradValue):
    """``A @ B`` for 1-D/2-D operands, ``C_ik = Σ_j A_ij B_jk``.

    VJPs: ``dL/dA = G B^T`` and ``dL/dB = A^T G`` with ``G = dL/dC`` (the structure
    ``∂C_ik/∂A_ij = B_jk``; the N×N×d Jacobian is never formed). A 1-D ``a`` is treated as the
    row ``(1, n)`` and a 1-D ``b`` as the column ``(n, 1)``. The product for a plain-array input
    (data) is skipped: it is never needed and costs as much as the forward product.
    """
    __slots__ = ()

    def func(self, a: Value, b: Value) -> Value:
        if np.ndim(a) not in (1, 2) or np.ndim(b) not in (1, 2):
            raise ValueError("matmul needs 1-D or 2-D operands")
        out = a @ b
        return float(out) if np.ndim(out) == 0 else out

    def vjp(self, g: Value) -> list[Value | None]:
        a, b = self.args
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
        left, right = (isinstance(p, AutogradValue) for p in self.parents)
        return [
            (g2 @ b2.T).reshape(a.shape) if left else None,
            (a2.T @ g2).reshape(b.shape) if right else None,
        ]

    def jvp(self, ta: Value | None, tb: Value | None) -> Value:
        a, b = self.args
        total = 0.0 if ta is None else self.func(ta, b)
        return total if tb is None else total + self.func(a, tb)


# ---- the functions: mmids.autograd.<name>(x) -----------------------------------------------


def _operand(x: Any) -> Any:
    if not is_operand(x):
        raise TypeError(
            f"expected an AutogradValue, a real number or a numpy array, not {type(x).__name__}"
        )
    return x


def exp(x: Any) -> AutogradValue:
    """Element-wise ``exp``."""
    return Exp(_operand(x))


def log(x: Any) -> AutogradValue:
    """Element-wise natural logarithm (warns on entries <= 0)."""
    return Log(_operand(x))


def sigmoid(x: Any) -> AutogradValue:
    """Element-wise logistic sigmoid."""
    return Sigmoid(_operand(x))


def relu(x: Any) -> AutogradValue:
    """Element-wise ``max(x, 0)``."""
    return Relu(_operand(x))


def tanh(x: Any) -> AutogradValue:
    """Element-wise hyperbolic tangent."""
    return Tanh(_operand(x))


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:  # noqa: A001
    """Sum of the entries (over ``axis`` if given: an int or a tuple of ints, as in numpy)."""
    return Sum(_operand(x), axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:
    """Mean of the entries (over ``axis`` if given: an int or a tuple of ints, as in numpy)."""
    return Mean(_operand(x), axis=axis, keepdims=keepdims)


def matmul(a: Any, b: Any) -> AutogradValue:
    """Matrix product ``a @ b`` (1-D or 2-D operands)."""
    return MatMul(_operand(a), _operand(b))
