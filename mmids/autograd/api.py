"""The functions ``mmids.autograd.<name>(...)``: each checks its operands and builds one node.

They accept nodes, real numbers and numpy arrays (constants); each is also reachable by its
numpy name on nodes (``np.exp(x)``, ``np.concatenate([X, ones], axis=1)``: see
:mod:`~mmids.autograd.dispatch`) and, where numpy has one, by a method (``x.exp()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmids.autograd import ops
from mmids.autograd.core import AutogradValue, is_operand
from mmids.autograd.ops_array import Axis

__all__ = [
    "abs", "concatenate", "exp", "log", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "relu", "reshape", "sigmoid", "sqrt", "stack", "sum", "tanh", "transpose",
    "where",
]


def _operand(x: Any) -> Any:
    if not is_operand(x):
        raise TypeError(
            f"expected an AutogradValue, a real number or a numpy array, not {type(x).__name__}"
        )
    return x


def _operands(arrays: Sequence[Any], name: str) -> list[Any]:
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name} takes a list or tuple of arrays, not {type(arrays).__name__}")
    return [_operand(a) for a in arrays]


# ---- element-wise -----------------------------------------------------------------------------


def exp(x: Any) -> AutogradValue:
    """Element-wise ``exp``."""
    return ops.Exp(_operand(x))


def log(x: Any) -> AutogradValue:
    """Element-wise natural logarithm (warns on entries <= 0)."""
    return ops.Log(_operand(x))


def sigmoid(x: Any) -> AutogradValue:
    """Element-wise logistic sigmoid."""
    return ops.Sigmoid(_operand(x))


def relu(x: Any) -> AutogradValue:
    """Element-wise ``max(x, 0)``."""
    return ops.Relu(_operand(x))


def tanh(x: Any) -> AutogradValue:
    """Element-wise hyperbolic tangent."""
    return ops.Tanh(_operand(x))


def sqrt(x: Any) -> AutogradValue:
    """Element-wise square root."""
    return ops.Sqrt(_operand(x))


def abs(x: Any) -> AutogradValue:  # noqa: A001
    """Element-wise absolute value (derivative 0 at 0)."""
    return ops.Abs(_operand(x))


def maximum(a: Any, b: Any) -> AutogradValue:
    """Element-wise maximum (gradient to the larger input, halves at ties)."""
    return ops.Maximum(_operand(a), _operand(b))


def minimum(a: Any, b: Any) -> AutogradValue:
    """Element-wise minimum (gradient to the smaller input, halves at ties)."""
    return ops.Minimum(_operand(a), _operand(b))


# ---- reductions and the matrix product ------------------------------------------------------


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:  # noqa: A001
    """Sum of the entries (over ``axis`` if given: an int or a tuple of ints, as in numpy)."""
    return ops.Sum(_operand(x), axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:
    """Mean of the entries (over ``axis`` if given: an int or a tuple of ints, as in numpy)."""
    return ops.Mean(_operand(x), axis=axis, keepdims=keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:  # noqa: A001
    """Largest entry (over ``axis``); ties share the gradient evenly."""
    return ops.Max(_operand(x), axis=axis, keepdims=keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:  # noqa: A001
    """Smallest entry (over ``axis``); ties share the gradient evenly."""
    return ops.Min(_operand(x), axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> AutogradValue:
    """``log Σ exp(x)`` over ``axis``, without overflow; its gradient is the softmax."""
    return ops.LogSumExp(_operand(x), axis=axis, keepdims=keepdims)


def matmul(a: Any, b: Any) -> AutogradValue:
    """Matrix product ``a @ b`` (1-D or 2-D operands)."""
    return ops.MatMul(_operand(a), _operand(b))


# ---- shapes -----------------------------------------------------------------------------------


def reshape(x: Any, shape: int | tuple[int, ...]) -> AutogradValue:
    """``x`` with a new shape (same entries in C order; one entry may be -1)."""
    return ops.Reshape(_operand(x), shape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> AutogradValue:
    """Permute the axes (default: reverse them, ``x.T``)."""
    return ops.Transpose(_operand(x), axes)


def concatenate(arrays: Sequence[Any], axis: int | None = 0) -> AutogradValue:
    """Join arrays along an existing axis (``axis=None``: flatten them first)."""
    return ops.Concatenate(*_operands(arrays, "concatenate"), axis=axis)


def stack(arrays: Sequence[Any], axis: int = 0) -> AutogradValue:
    """Join arrays of one shape along a new axis."""
    return ops.Stack(*_operands(arrays, "stack"), axis=axis)


def where(condition: Any, a: Any, b: Any) -> AutogradValue:
    """``a`` where the boolean ``condition`` holds, ``b`` elsewhere (gradient to the branch)."""
    return ops.Where(condition, _operand(a), _operand(b))
