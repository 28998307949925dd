"""The engine's value types, and broadcasting in both directions.

A value is a Python ``float`` (the scalar path) or a float64 numpy array; nothing else is stored
in a node. Constants (plain numbers and arrays) are brought to those types when a node is built,
so ``2 ** x`` and ``np.float64(3) * x`` give float values when ``x`` holds a float.

* ``unbroadcast(p, like)``: the VJP of numpy broadcasting (sum ``p`` back to ``like``'s shape);
* ``broadcast_like(t, like)``: the JVP of it (spread a tangent over ``like``'s shape).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

Value = Any  # a float or a float64 numpy array


def as_value(x: object) -> Value:
    """Convert a declared value to the engine's types: Python float or float64 array."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.ndarray, list, tuple)):
        raise TypeError(
            f"AutogradValue holds a real number or a numpy array, not {type(x).__name__}"
        )
    if isinstance(x, numbers.Real):
        return float(x)
    array = np.asarray(x, dtype=np.float64)
    return float(array) if array.ndim == 0 else array


def constant(x: Any) -> Any:
    """A constant operand in the engine's types: a number or 0-d array becomes a Python float,
    an array of another dtype a float64 array; anything else is returned as it is."""
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return float(x)
        return x if x.dtype == np.float64 else x.astype(np.float64)
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    return x


def zeros_like(v: Value) -> Value:
    """``0.0`` for a float, a float64 array of zeros for an array (a gradient of shape ``v``)."""
    return 0.0 if isinstance(v, float) else np.zeros(np.shape(v))


def unbroadcast(p: Value, like: Value) -> Value:
    """Sum ``p`` back to the shape of ``like``: the VJP of numpy broadcasting.

    If ``a`` (shape (3,)) was broadcast to (2, 3) in ``a + B``, each ``a_j`` was used twice, so
    its gradient is the sum of the two upstream entries: sum over the added leading axes, and
    over the axes where ``like`` has size 1.

    In general ``p`` stands for its broadcast to ``S = broadcast_shapes(p.shape, like.shape)``,
    and the result is that array summed back to ``like.shape``. So a ``p`` of lower rank (e.g. a
    scalar, the same contribution for every entry) is spread over ``like``'s shape:
    ``unbroadcast(2.0, np.zeros((1, 3)))`` is ``[[2., 2., 2.]]``. Shapes that do not broadcast
    together, or broadcast beyond ``like`` along an axis where ``like`` is not of size 1, raise a
    ``ValueError`` naming both.
    """
    if isinstance(like, float):
        return float(p) if isinstance(p, float) else float(np.sum(p))
    shape = like.shape
    if np.shape(p) == shape:
        return p
    p_shape = np.shape(p)
    p = np.asarray(p)
    extra = p.ndim - len(shape)
    if extra > 0:
        p = p.sum(axis=tuple(range(extra)))
    elif extra < 0:  # lower rank: the same contribution along the missing leading axes
        p = p.reshape((1,) * -extra + p.shape)
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and p.shape[i] != 1)
    p = p.sum(axis=ones, keepdims=True) if ones else p
    if p.shape == shape:
        return p
    try:  # fails only on an axis where both sizes differ and neither is 1
        return np.broadcast_to(p, shape).copy()
    except ValueError:
        raise ValueError(
            f"unbroadcast: a gradient of shape {p_shape} does not broadcast against a parent "
            f"of shape {shape}"
        ) from None


def broadcast_like(t: Value, like: Value) -> Value:
    """Broadcast a tangent ``t`` to the shape of ``like`` (float stays float)."""
    if isinstance(like, float):
        return float(t)
    if np.shape(t) == like.shape:
        return t
    return np.broadcast_to(t, like.shape).astype(np.float64)  # a writable float copy
