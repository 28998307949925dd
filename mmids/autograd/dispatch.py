"""NumPy's names for the engine's operations: ``np.exp(x)``, ``np.sum(x, axis=0)`` on nodes.

NumPy hands a call to ``AutogradValue.__array_ufunc__`` when a ufunc (``np.exp``, ``np.add``, and
the operators of an array with a node on its right, ``A @ x``) meets a node, and to
``__array_function__`` for the functions it dispatches (``np.sum``, ``np.concatenate``, ...).
The two tables below map each supported numpy callable to the operation that builds the node, so
the same function runs on arrays and on nodes. Anything else raises a ``TypeError`` naming the
numpy function and listing the supported ones: a silent conversion to an object array would lose
the graph.

Comparisons (``np.greater``, ``x > 0``, ``x == y``) are not differentiated: they compare the
values and return booleans or boolean arrays, which ``np.where`` and indexing accept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from mmids.autograd import api, ops
from mmids.autograd.core import AutogradValue, is_operand

UFUNCS: dict[np.ufunc, Callable[..., AutogradValue]] = {
    np.add: ops.Add, np.subtract: ops.Sub, np.multiply: ops.Mul, np.divide: ops.Div,
    np.power: ops.Pow, np.negative: ops.Neg, np.exp: ops.Exp, np.log: ops.Log, np.tanh: ops.Tanh,
    np.maximum: ops.Maximum, np.minimum: ops.Minimum, np.absolute: ops.Abs, np.sqrt: ops.Sqrt,
    np.matmul: ops.MatMul, np.square: lambda a: ops.Pow(a, 2.0),
}
COMPARISONS = (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)


def _value(x: Any) -> Any:
    return x.value if isinstance(x, AutogradValue) else x


def compare(ufunc: np.ufunc, a: Any, b: Any) -> Any:
    """``ufunc`` (a comparison) on the values: a bool, or a boolean array; no node."""
    if not (is_operand(a) and is_operand(b)):
        return NotImplemented
    result = ufunc(_value(a), _value(b))
    return bool(result) if np.ndim(result) == 0 else result


# ---- numpy functions: the arguments the engine supports, in numpy's order --------------------


def _sum(a: Any, axis: Any = None, keepdims: bool = False) -> AutogradValue:
    return api.sum(a, axis, keepdims)


def _mean(a: Any, axis: Any = None, keepdims: bool = False) -> AutogradValue:
    return api.mean(a, axis, keepdims)


def _max(a: Any, axis: Any = None, keepdims: bool = False) -> AutogradValue:
    return api.max(a, axis, keepdims)


def _min(a: Any, axis: Any = None, keepdims: bool = False) -> AutogradValue:
    return api.min(a, axis, keepdims)


def _reshape(a: Any, shape: Any, order: str = "C") -> AutogradValue:
    if order != "C":
        raise ValueError(f"numpy.reshape of an AutogradValue supports order='C' only, not "
                         f"{order!r}")
    return api.reshape(a, shape)


def _transpose(a: Any, axes: Any = None) -> AutogradValue:
    return api.transpose(a, axes)


def _concatenate(arrays: Any, axis: int | None = 0) -> AutogradValue:
    return api.concatenate(arrays, axis)


def _stack(arrays: Any, axis: int = 0) -> AutogradValue:
    return api.stack(arrays, axis)


def _where(condition: Any, x: Any = None, y: Any = None) -> AutogradValue:
    if x is None or y is None:
        raise TypeError(
            "numpy.where(condition) with one argument returns indices, which have no gradient: "
            "call it on the values (x.value), or use the three-argument form where(c, a, b)"
        )
    return api.where(condition, x, y)


def _dot(a: Any, b: Any) -> AutogradValue:
    return api.matmul(a, b)  # the same product for 1-D and 2-D operands


FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {
    np.sum: _sum, np.mean: _mean, np.max: _max, np.amax: _max, np.min: _min, np.amin: _min,
    np.reshape: _reshape, np.transpose: _transpose, np.concatenate: _concatenate,
    np.stack: _stack, np.where: _where, np.dot: _dot,
    np.shape: lambda a: np.shape(_value(a)), np.ndim: lambda a: np.ndim(_value(a)),
    np.size: lambda a, axis=None: np.size(_value(a), axis),
}
_PARAMETERS = {f: tuple(inspect.signature(rule).parameters) for f, rule in FUNCTIONS.items()}


def supported() -> str:
    """The supported numpy names, for error messages."""
    ufuncs = sorted(f"numpy.{u.__name__}" for u in UFUNCS)
    functions = sorted({f"numpy.{f.__name__}" for f in FUNCTIONS})
    comparisons = ", ".join(f"numpy.{u.__name__}" for u in COMPARISONS)
    return (f"supported ufuncs: {', '.join(ufuncs)} (and the comparisons {comparisons}, on "
            f"values); supported functions: {', '.join(functions)}")


def _unsupported(name: str) -> TypeError:
    return TypeError(
        f"{name} is not supported on an AutogradValue (mmids.autograd has no derivative rule "
        f"for it; use x.value for a computation that needs no gradient). {supported()}"
    )


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``__array_ufunc__``: build the node of ``ufunc(*inputs)``."""
    rule = UFUNCS.get(ufunc)
    if rule is not None and method == "__call__" and not kwargs:  # the common case, first
        for x in inputs:
            if not is_operand(x):
                return NotImplemented  # numpy then raises its TypeError naming the types
        return rule(*inputs)
    name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if method != "__call__" or (rule is None and ufunc not in COMPARISONS):
        raise _unsupported(name)
    if "out" in kwargs:
        raise TypeError(
            f"{name}(..., out=...): a node cannot be written into an array (as in a += x, "
            "with a an array and x an AutogradValue); write a = a + x instead"
        )
    if kwargs:
        raise TypeError(f"{name} on an AutogradValue takes no keyword arguments, got "
                        f"{', '.join(sorted(kwargs))}")
    return compare(ufunc, *inputs)


def array_function(func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
    """``__array_function__``: run the engine's version of ``func``."""
    if not all(issubclass(t, (AutogradValue, np.ndarray)) for t in types):
        return NotImplemented
    rule = FUNCTIONS.get(func)
    name = f"{getattr(func, '__module__', 'numpy')}.{getattr(func, '__name__', func)}"
    if rule is None:
        raise _unsupported(name)
    parameters = _PARAMETERS[func]
    extra = [k for k in kwargs if k not in parameters]
    if extra or len(args) > len(parameters):
        given = extra or [f"{len(args)} positional arguments"]
        raise TypeError(f"{name} on an AutogradValue takes the arguments "
                        f"({', '.join(parameters)}), not {', '.join(given)}")
    return rule(*args, **kwargs)
