"""What a node offers beyond the graph mechanics: a name, numpy-style methods, comparisons.

:class:`~mmids.autograd.core.AutogradValue` inherits :class:`NodeMethods`:

* ``name`` / ``named(text)``: the name :func:`~mmids.autograd.draw` shows (``a = x²``);
* ``x.exp()``, ``x.sum(axis=0)``, ``x.reshape(2, 3)``, ``x.T``, ``x[0, 1:]``, ``abs(x)``, ...:
  the same nodes as ``mmids.autograd.exp(x)`` or ``np.exp(x)``;
* ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``: comparisons of the values, with no node and no
  gradient (as in torch), so ``np.where(x > 0, x, 0.1 * x)`` and ``x[x > 0]`` read as in numpy.
  Nodes still hash by identity, so they stay usable as dictionary keys and set members.

Each method builds a node from the table ``core.ops``. The table subclasses ``AutogradValue``, so
it exists only once ``core`` is loaded; the methods look it up there when they are called.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from mmids.autograd import core


class NodeMethods:
    """Mixed into ``AutogradValue``; adds no attribute (``_name`` is one of its slots)."""

    __slots__ = ()

    @property
    def name(self) -> str | None:
        """The node's name for drawings (``None`` if it has none)."""
        return getattr(self, "_name", None)

    @name.setter
    def name(self, text: str | None) -> None:
        if text is not None and not isinstance(text, str):
            raise TypeError(f"a node's name is a str, not {type(text).__name__}")
        self._name = text

    def named(self, text: str) -> Any:
        """Give this node a name and return it: ``a = (x**2).named("a")``."""
        if not isinstance(text, str):
            raise TypeError(f"a node's name is a str, not {type(text).__name__}")
        self.name = text
        return self

    def describe(self, operands: list[str]) -> str:
        """How ``draw`` writes the operation, given the text of each operand: ``formula`` filled
        in (``"w · a"``), or ``op(operands)`` for an operation without one."""
        if self.formula is None:
            return f"{self.op}({', '.join(operands)})"
        return self.formula.format(*operands)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    def __abs__(self) -> Any:
        return core.ops.Abs(self)

    def __getitem__(self, index: Any) -> Any:
        return core.ops.GetItem(self, index)

    def __iter__(self) -> Any:  # the rows, as numpy iterates an array (a scalar is not iterable)
        if self.ndim == 0:
            raise TypeError("iteration over a scalar (0-d) AutogradValue")
        return (core.ops.GetItem(self, k) for k in range(self.shape[0]))

    # Comparisons compare values: no node, no gradient (a boolean or a boolean array).
    def __lt__(self, other: Any) -> Any:
        return core.dispatch.compare(np.less, self, other)

    def __le__(self, other: Any) -> Any:
        return core.dispatch.compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Any:
        return core.dispatch.compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Any:
        return core.dispatch.compare(np.greater_equal, self, other)

    def __eq__(self, other: object) -> Any:
        return core.dispatch.compare(np.equal, self, other)

    def __ne__(self, other: object) -> Any:
        return core.dispatch.compare(np.not_equal, self, other)

    __hash__ = object.__hash__  # by identity: nodes are dictionary keys (graphs, draw, tangents)

    # Methods for the named functions: ``x.relu()`` is ``mmids.autograd.relu(x)``.
    def exp(self) -> Any:
        return core.ops.Exp(self)

    def log(self) -> Any:
        return core.ops.Log(self)

    def sigmoid(self) -> Any:
        return core.ops.Sigmoid(self)

    def relu(self) -> Any:
        return core.ops.Relu(self)

    def tanh(self) -> Any:
        return core.ops.Tanh(self)

    def sqrt(self) -> Any:
        return core.ops.Sqrt(self)

    def abs(self) -> Any:
        return core.ops.Abs(self)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return core.ops.Sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return core.ops.Mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return core.ops.Max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return core.ops.Min(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return core.ops.LogSumExp(self, axis=axis, keepdims=keepdims)

    def matmul(self, other: Any) -> Any:
        return core.ops.MatMul(self, other)

    def reshape(self, *shape: Any) -> Any:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``, as in numpy."""
        return core.ops.Reshape(self, shape[0] if len(shape) == 1 else shape)  # (2, 3), 6 or 2, 3

    def transpose(self, *axes: Any) -> Any:
        """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``, as in numpy."""
        if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
            axes = axes[0]  # one argument: a tuple of axes, or None
        return core.ops.Transpose(self, axes or None)

    @property
    def T(self) -> Any:  # noqa: N802 (numpy's name)
        return core.ops.Transpose(self)
