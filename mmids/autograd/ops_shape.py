"""Indexing, reshaping and joining: operations that move entries without changing them.

Each output entry is one input entry (or, for ``Where``, one entry of one of two inputs), so the
Jacobian is a 0/1 selection matrix ``S`` and never needs to be formed:

* the JVP applies the operation itself to the tangent, ``v̇ = S u̇`` (slice the tangent,
  reshape it, transpose it, join the tangents);
* the VJP ``S^T p`` puts every entry of ``p`` back where it came from: into zeros at the indexed
  positions (``np.add.at``, so an index repeated ``k`` times receives ``k`` contributions),
  reshaped back, transposed by the inverse permutation, split into the joined pieces.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from mmids.autograd.core import AutogradValue
from mmids.autograd.values import Value, broadcast_like


def _scalar(out: Value) -> Value:
    return float(out) if np.ndim(out) == 0 else out


def _like(x: Value, like: Value) -> Value:
    """``x`` as a float when ``like`` is one (a piece of a gradient for a scalar input)."""
    return float(x) if isinstance(like, float) else x


def _is_basic(item: Any) -> bool:
    """Ints, slices, None and ``...``: basic indexing, where no entry can be picked twice."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        return True
    return isinstance(item, numbers.Integral) and not isinstance(item, bool)


def _index_text(item: Any) -> str:
    if isinstance(item, slice):
        parts = (item.start, item.stop) if item.step is None else (item.start, item.stop,
                                                                   item.step)
        return ":".join("" if v is None else str(v) for v in parts)
    if item is Ellipsis:
        return "..."
    if isinstance(item, (np.ndarray, list)):
        return str(np.asarray(item).tolist()) if np.size(item) <= 4 else "[…]"
    return str(item)


class GetItem(AutogradValue):
    """``a[index]``: basic indexing (ints, slices, None, ``...``) and advanced indexing (integer
    or boolean arrays). VJP: ``p`` added into zeros of ``a``'s shape at the indexed positions;
    repeated indices accumulate (``np.add.at``). JVP: ``u̇[index]``."""
    __slots__ = ("index", "basic")

    def __init__(self, a: Any, index: Any) -> None:
        items = index if isinstance(index, tuple) else (index,)
        if any(isinstance(item, AutogradValue) for item in items):
            raise TypeError(
                "an index cannot be an AutogradValue (indices are not differentiated): index "
                "with ints, slices or integer/boolean arrays, e.g. x[labels] or x[x.value > 0]"
            )
        self.index, self.basic = index, all(_is_basic(item) for item in items)
        super().__init__(a)

    def func(self, a: Value) -> Value:
        if isinstance(a, float):
            raise IndexError("a scalar (0-d) AutogradValue has no entries to index")
        return _scalar(a[self.index])

    def vjp(self, p: Value) -> list[Value | None]:
        out = np.zeros(self.args[0].shape)
        if self.basic:  # each entry of a is picked at most once
            out[self.index] = p
        else:
            np.add.at(out, self.index, p)
        return [out]

    def jvp(self, t: Value | None) -> Value:
        return broadcast_like(0.0, self.value) if t is None else _scalar(t[self.index])

    def describe(self, operands: list[str]) -> str:
        items = self.index if isinstance(self.index, tuple) else (self.index,)
        return f"{operands[0]}[{', '.join(_index_text(item) for item in items)}]"


class Reshape(AutogradValue):
    """``a.reshape(shape)`` (C order; one entry of ``shape`` may be -1). VJP: ``p`` reshaped
    back to ``a``'s shape; JVP: ``u̇`` reshaped."""
    __slots__ = ("newshape",)

    def __init__(self, a: Any, shape: int | tuple[int, ...]) -> None:
        self.newshape = shape
        super().__init__(a)

    def func(self, a: Value) -> Value:
        return _scalar(np.reshape(a, self.newshape))

    def vjp(self, p: Value) -> list[Value | None]:
        a = self.args[0]
        return [_like(np.reshape(p, np.shape(a)), a)]

    def jvp(self, t: Value | None) -> Value:
        return broadcast_like(0.0, self.value) if t is None else self.func(t)

    def describe(self, operands: list[str]) -> str:
        return f"reshape({operands[0]}, {np.shape(self.value)})"


class Transpose(AutogradValue):
    """``np.transpose(a, axes)``: axis ``k`` of the result is axis ``axes[k]`` of ``a``
    (default: all axes reversed, ``a.T``). VJP: ``p`` transposed by the inverse permutation."""
    __slots__ = ("axes",)
    formula = "{0}ᵀ"

    def __init__(self, a: Any, axes: tuple[int, ...] | list[int] | None = None) -> None:
        ndim = np.ndim(a.value if isinstance(a, AutogradValue) else a)
        if axes is None:
            self.axes = tuple(reversed(range(ndim)))
        else:
            perm = tuple(axes)
            if (len(perm) != ndim
                    or not all(isinstance(k, numbers.Integral) and -ndim <= k < ndim for k in perm)
                    or sorted(int(k) % ndim for k in perm) != list(range(ndim))):
                raise ValueError(f"transpose: axes {axes!r} are not a permutation of the "
                                 f"{ndim} axes of the input")
            self.axes = tuple(int(k) % ndim for k in perm)
        super().__init__(a)

    def func(self, a: Value) -> Value:
        return a if isinstance(a, float) else np.transpose(a, self.axes)

    def vjp(self, p: Value) -> list[Value | None]:
        return [p if isinstance(p, float) else np.transpose(p, np.argsort(self.axes))]

    def jvp(self, t: Value | None) -> Value:
        return broadcast_like(0.0, self.value) if t is None else self.func(t)


class Join(AutogradValue):
    """Common part of ``Concatenate`` and ``Stack``: any number of inputs, one ``axis``."""
    __slots__ = ("axis",)

    def __init__(self, *arrays: Any, axis: int | None = 0) -> None:
        if not arrays:
            raise ValueError(f"{type(self).__name__.lower()} needs at least one array")
        self.axis = axis
        super().__init__(*arrays)

    def jvp(self, *tangents: Value | None) -> Value:
        filled = [np.zeros(np.shape(a)) if t is None else t for a, t in zip(self.args, tangents,
                                                                           strict=True)]
        return self.func(*filled)

    def describe(self, operands: list[str]) -> str:
        return f"{self.op}({', '.join(operands)})"


class Concatenate(Join):
    """``np.concatenate(arrays, axis)`` (``axis=None``: of the flattened arrays). VJP: ``p``
    split back into pieces of the inputs' sizes along ``axis``."""
    __slots__ = ()

    def func(self, *arrays: Value) -> Value:
        return np.concatenate(arrays, axis=self.axis)

    def vjp(self, p: Value) -> list[Value | None]:
        if self.axis is None:
            cuts = np.cumsum([np.size(a) for a in self.args])[:-1]
            pieces = [np.reshape(piece, np.shape(a))
                      for piece, a in zip(np.split(p, cuts), self.args, strict=True)]
        else:
            cuts = np.cumsum([np.shape(a)[self.axis] for a in self.args])[:-1]
            pieces = np.split(p, cuts, axis=self.axis)
        return [_like(piece, a) if isinstance(u, AutogradValue) else None
                for piece, a, u in zip(pieces, self.args, self.parents, strict=True)]


class Stack(Join):
    """``np.stack(arrays, axis)``: the inputs (all of one shape) along a new axis. VJP: the
    ``k``-th slice of ``p`` along that axis goes to input ``k``."""
    __slots__ = ()

    def func(self, *arrays: Value) -> Value:
        return np.stack(arrays, axis=self.axis)

    def vjp(self, p: Value) -> list[Value | None]:
        axis = self.axis % np.ndim(p)
        return [_like(np.take(p, k, axis=axis), a) if isinstance(u, AutogradValue) else None
                for k, (a, u) in enumerate(zip(self.args, self.parents, strict=True))]


class Where(AutogradValue):
    """``np.where(condition, a, b)``: ``a`` where the (constant, boolean) condition holds, ``b``
    elsewhere. The upstream gradient goes to the chosen branch: ``p_a = 1(c) ⊙ p`` and
    ``p_b = 1(¬c) ⊙ p`` (summed back to the shapes of ``a`` and ``b`` if they broadcast)."""
    __slots__ = ("condition",)

    def __init__(self, condition: Any, a: Any, b: Any) -> None:
        if isinstance(condition, AutogradValue):
            raise TypeError(
                "where: the condition is not differentiated, so it cannot be an AutogradValue; "
                "pass a boolean array such as x > 0 (comparisons of nodes give one)"
            )
        self.condition = np.asarray(condition, dtype=bool)
        super().__init__(a, b)

    def func(self, a: Value, b: Value) -> Value:
        return _scalar(np.where(self.condition, a, b))

    def vjp(self, p: Value) -> list[Value | None]:
        left, right = (isinstance(u, AutogradValue) for u in self.parents)
        return [np.where(self.condition, p, 0.0) if left else None,
                np.where(self.condition, 0.0, p) if right else None]

    def jvp(self, ta: Value | None, tb: Value | None) -> Value:
        chosen = np.where(self.condition, 0.0 if ta is None else ta, 0.0 if tb is None else tb)
        return broadcast_like(_scalar(chosen), self.value)

    def describe(self, operands: list[str]) -> str:
        return f"where(…, {operands[0]}, {operands[1]})"
