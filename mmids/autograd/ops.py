"""The table of operations: one class per operation, its value and derivative side by side.

This module holds the element-wise operations. Each class overrides

* ``func(*args)``  -- the value, from the values of the inputs;
* ``grads(*args)`` -- the local derivatives, one per input: the Jacobian of an element-wise
  operation is diagonal, ``diag(local)``, so ``vjp(p) = p ⊙ local`` (reverse) and
  ``jvp = Σ local ⊙ u̇`` (forward) follow from the base class;
* ``formula`` -- how :func:`~mmids.autograd.draw` writes it (``{0}``, ``{1}``: the operands).

The operations whose Jacobian is not diagonal write ``vjp(p)`` and ``jvp(*tangents)`` from the
structure of the Jacobian, never as a matrix: reductions and the matrix product in
:mod:`~mmids.autograd.ops_array`, indexing, reshaping and joining in
:mod:`~mmids.autograd.ops_shape`. All of them are importable from here (``ops.MatMul``, ...),
so ``ops`` is the whole table.

The same code serves floats and numpy arrays: scalars take a ``math`` fast path, arrays use numpy
(:mod:`~mmids.autograd.kernels`). The line ``__slots__ = ()`` in each class only says "no
attributes beyond the base class's" (it keeps every node small and fast to build).
"""

from __future__ import annotations

import math

import numpy as np

from mmids.autograd.core import AutogradValue
from mmids.autograd.kernels import (
    abs_,
    divide_,
    exp_,
    log_,
    maximum_,
    minimum_,
    power_,
    relu_,
    scalar_power,
    sigmoid_,
    sign_,
    sqrt_,
    step_,
    tanh_,
    warn_user,
)
from mmids.autograd.ops_array import LogSumExp, MatMul, Max, Mean, Min, Sum
from mmids.autograd.ops_shape import Concatenate, GetItem, Reshape, Stack, Transpose, Where
from mmids.autograd.values import Value

__all__ = [
    "Abs", "Add", "Concatenate", "Div", "Exp", "GetItem", "Log", "LogSumExp", "MatMul", "Max",
    "Maximum", "Mean", "Min", "Minimum", "Mul", "Neg", "Pow", "Relu", "Reshape", "Sigmoid",
    "Sqrt", "Stack", "Sub", "Sum", "Tanh", "Transpose", "Where",
]

# ---- element-wise operations: value | local derivative w.r.t. each input ---------------------


class Add(AutogradValue):
    """``a + b``"""
    __slots__ = ()
    formula = "{0} + {1}"

    def func(self, a: Value, b: Value) -> Value:
        return a + b

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return 1.0, 1.0


class Sub(AutogradValue):
    """``a - b``"""
    __slots__ = ()
    formula = "{0} − {1}"

    def func(self, a: Value, b: Value) -> Value:
        return a - b

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return 1.0, -1.0


class Mul(AutogradValue):
    """``a * b`` (element-wise)"""
    __slots__ = ()
    formula = "{0} · {1}"

    def func(self, a: Value, b: Value) -> Value:
        return a * b

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return b, a


class Div(AutogradValue):
    """``a / b``"""
    __slots__ = ()
    formula = "{0} / {1}"

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
    formula = "{0}^{1}"

    def func(self, a: Value, b: Value) -> Value:
        return power_(a, b)

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        base, exponent = self.parents
        return (
            _pow_grad_base(a, b) if isinstance(base, AutogradValue) else 0.0,
            _pow_grad_exponent(a, b, self.value) if isinstance(exponent, AutogradValue) else 0.0,
        )

    def describe(self, operands: list[str]) -> str:
        base, exponent = operands
        if exponent.lstrip("-").isdigit() and len(exponent) <= 3:  # x², x⁻¹
            return base + exponent.translate(_SUPERSCRIPTS)
        return f"{base}^{exponent}"


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _pow_grad_base(a: Value, b: Value) -> Value:
    """``∂(a^b)/∂a = b a^(b−1)``, and 0 where ``b = 0``."""
    if isinstance(b, (int, float)):
        if b == 0:
            return 0.0
        if isinstance(a, float):
            try:
                return b * scalar_power(a, b - 1)
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
    formula = "−{0}"

    def func(self, a: Value) -> Value:
        return -a

    def grads(self, a: Value) -> tuple[Value]:
        return (-1.0,)


class Exp(AutogradValue):
    """``exp(a)``; its derivative is itself."""
    __slots__ = ()
    formula = "exp({0})"

    def func(self, a: Value) -> Value:
        return exp_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (self.value,)


class Log(AutogradValue):
    """``log(a)`` (natural); warns on non-positive entries."""
    __slots__ = ()
    formula = "log({0})"

    def func(self, a: Value) -> Value:
        return log_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (divide_(1.0, a),)


class Sigmoid(AutogradValue):
    """``σ(a) = 1 / (1 + exp(-a))``; ``σ' = σ (1 - σ)``."""
    __slots__ = ()
    formula = "σ({0})"

    def func(self, a: Value) -> Value:
        return sigmoid_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (self.value * (1.0 - self.value),)


class Tanh(AutogradValue):
    """``tanh(a)``; ``tanh' = 1 - tanh²``."""
    __slots__ = ()
    formula = "tanh({0})"

    def func(self, a: Value) -> Value:
        return tanh_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (1.0 - self.value * self.value,)


class Relu(AutogradValue):
    """``max(a, 0)``; derivative ``1(a > 0)`` (0 at ``a = 0``, a convention)."""
    __slots__ = ()
    formula = "relu({0})"

    def func(self, a: Value) -> Value:
        return relu_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (step_(a),)


class Abs(AutogradValue):
    """``|a|``; derivative ``sign(a)`` (0 at ``a = 0``, as torch)."""
    __slots__ = ()
    formula = "|{0}|"

    def func(self, a: Value) -> Value:
        return abs_(a)

    def grads(self, a: Value) -> tuple[Value]:
        return (sign_(a),)


class Sqrt(AutogradValue):
    """``√a``; derivative ``1 / (2 √a)``: ``∞`` at ``a = 0`` (no warning, as ``a ** 0.5``);
    a negative entry gives nan with numpy's warning in the forward pass."""
    __slots__ = ()
    formula = "√{0}"

    def func(self, a: Value) -> Value:
        return sqrt_(a)

    def grads(self, a: Value) -> tuple[Value]:
        root = self.value
        if isinstance(root, float):
            return (0.5 / root if root != 0 else math.inf,)
        with np.errstate(divide="ignore"):
            return (0.5 / root,)


class Maximum(AutogradValue):
    """``max(a, b)`` element-wise; the upstream gradient goes to the larger input, split in
    halves where ``a = b`` (torch's convention)."""
    __slots__ = ()
    formula = "max({0}, {1})"

    def func(self, a: Value, b: Value) -> Value:
        return maximum_(a, b)

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return _choice(a, b)


class Minimum(AutogradValue):
    """``min(a, b)`` element-wise; as ``Maximum``, to the smaller input (halves at ties)."""
    __slots__ = ()
    formula = "min({0}, {1})"

    def func(self, a: Value, b: Value) -> Value:
        return minimum_(a, b)

    def grads(self, a: Value, b: Value) -> tuple[Value, Value]:
        return _choice(b, a)


def _choice(a: Value, b: Value) -> tuple[Value, Value]:
    """The local derivatives of ``max(a, b)``, torch's rule: 1, or ½ where ``a = b``; and 0 for
    ``a`` where ``a < b``, for ``b`` where ``a > b``. (``Minimum`` uses it with ``a, b`` swapped:
    its ``a`` gets 0 where ``a > b``.) A nan compares false, so both inputs receive 1 there."""
    if isinstance(a, float) and isinstance(b, float):
        both = 0.5 if a == b else 1.0
        return (0.0 if a < b else both), (0.0 if a > b else both)
    both = np.where(np.asarray(a) == b, 0.5, 1.0)
    return np.where(a < b, 0.0, both), np.where(a > b, 0.0, both)
