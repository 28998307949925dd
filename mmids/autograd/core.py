"""The node of a computational graph, the topological order, and the backward pass.

An :class:`AutogradValue` is one node ``v`` of the graph. It stores

* ``parents`` -- what it was computed from: other nodes, or plain numbers/arrays (constants);
* ``args``    -- the *values* of those parents (the only data the local derivatives need);
* ``value``   -- ``func(*args)``, a float or a numpy array (float64);
* ``grad``    -- the adjoint ``dL/dv`` (same shape as ``value``), 0 until a backward pass fills it.

Every operation is a subclass (see :mod:`mmids.autograd.ops`) that overrides ``func`` (the
operation) and ``grads`` (a tuple with the local derivative with respect to each input). The base
class itself is a *declared variable*: ``func`` is the identity, so ``AutogradValue(3.0)`` is an
input of the graph. A declared variable holds its own copy of an array it is given.

``L.backward()`` lists the graph in topological order (iteratively: no recursion limit) and calls
``backward_pass()`` on every node from ``L`` back to the inputs. ``backward_pass`` is the one step
of reverse mode: *downstream gradient = upstream gradient x local derivative*, added into each
parent (a value used twice receives two contributions).

What ``backward()`` does to existing ``.grad``: it first sets ``.grad = 0`` on every node it can
reach from ``L`` and then fills them with ``dL/dv``, so calling it twice gives the same result.
It never accumulates across calls; ``zero_grad()`` clears a graph by hand (useful when you write
your own backward loop, as in the exercises).

Plain numbers and arrays are constants: they have no ``.grad`` (Python raises
``AttributeError: 'float' object has no attribute 'grad'``); only nodes are differentiated.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

Value = Any  # a float or a float64 numpy array


def is_operand(x: object) -> bool:
    """True for things an operation accepts: nodes, real numbers and numpy arrays."""
    return isinstance(x, _OPERAND_TYPES) and type(x) is not bool


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


class AutogradValue:
    """A node of the computational graph; the base class is a declared variable (identity)."""

    # The four attributes every node has. ``__slots__`` stores them in the object itself (no
    # per-node ``__dict__``), which makes nodes smaller and quicker to build; each operation
    # class repeats ``__slots__ = ()`` so that its nodes stay that small.
    __slots__ = ("parents", "args", "value", "grad", "__weakref__")
    __array_ufunc__ = None  # makes ``ndarray + node`` call ``node.__radd__`` (numpy defers)

    def __init__(self, *args: Any) -> None:
        self.parents = args
        self.args = values = []  # the value of each parent (a constant is its own value)
        for a in args:
            values.append(a.value if isinstance(a, AutogradValue) else a)
        try:
            self.value = self.func(*values)
        except ValueError as err:  # e.g. shapes that do not broadcast: say which operation
            shapes = ", ".join(str(np.shape(a)) for a in self.args)
            raise ValueError(f"{self.op}: bad input shapes ({shapes}): {err}") from None
        self.grad: Value = 0

    # ---- the two methods every operation overrides -------------------------------------------
    def func(self, x: Value) -> Value:
        """The operation: for a declared variable, the identity, on its own copy of ``x``.

        A declared variable owns its data: ``AutogradValue(arr)`` never aliases ``arr``, so an
        optimiser updating ``.value`` in place leaves the caller's array alone.
        """
        value = as_value(x)
        return value.copy() if value is x and isinstance(value, np.ndarray) else value

    def grads(self, x: Value) -> tuple[Value, ...]:
        """Local derivatives d(value)/d(input), one per input (element-wise)."""
        return (1.0,)

    # ---- derived from ``grads``; non-element-wise operations override these -------------------
    def vjp(self, g: Value) -> list[Value | None]:
        """Contribution ``g x d(value)/d(input)`` to each input's gradient (``None``: skip).

        For element-wise operations the Jacobian is diagonal, so the vector-Jacobian product is
        the element-wise product of the upstream gradient with the local derivative.
        """
        contributions = []
        for local in self.grads(*self.args):
            contributions.append(g * local)
        if len(contributions) != len(self.args):
            raise ValueError(
                f"{type(self).__name__}.grads returned {len(contributions)} local derivatives "
                f"for {len(self.args)} inputs (it must return one per input, as a tuple)"
            )
        return contributions

    def jvp(self, *tangents: Value | None) -> Value:
        """Forward mode: ``d(value) = sum_i d(value)/d(input_i) x d(input_i)`` (``None`` = 0)."""
        total: Value = 0.0
        for local, t in zip(self.grads(*self.args), tangents, strict=True):
            if t is not None:
                total = total + local * t
        return broadcast_like(total, self.value)

    # ---- reverse mode ------------------------------------------------------------------------
    def backward_pass(self) -> None:
        """One step of reverse mode: add this node's contribution into each parent's ``.grad``.

        ``vjp`` gives one contribution per parent; constants (not nodes) are skipped. Only arrays
        can need ``unbroadcast``: a float contribution to a float parent is added as it is.
        """
        for parent, contribution in zip(self.parents, self.vjp(self.grad), strict=False):
            if isinstance(parent, AutogradValue):
                if type(contribution) is not float or type(parent.value) is not float:
                    contribution = unbroadcast(contribution, parent.value)
                parent.grad += contribution

    def backward(self, upstream: Value | None = None) -> None:
        """Fill ``.grad = dL/dv`` for every node ``v`` that this node ``L`` depends on.

        ``upstream`` is ``dL/d(self)``; it may be omitted only when ``self`` is a scalar (then 1).
        Existing ``.grad`` values in the graph are reset to 0 first (no accumulation across calls).
        """
        shape = np.shape(self.value)
        if upstream is None:
            if shape != ():
                raise ValueError(
                    f"backward() on an output of shape {shape} needs an upstream gradient "
                    "dL/d(output) of that shape (or reduce the output to a scalar first, "
                    "e.g. with mmids.autograd.sum)"
                )
            upstream = 1.0
        elif np.shape(upstream) != shape:
            raise ValueError(
                f"upstream gradient has shape {np.shape(upstream)}, output has shape {shape}"
            )
        order = topological_order(self)
        for node in order:
            node.grad = 0
        self.grad = as_value(upstream) if shape == () else np.array(upstream, dtype=np.float64)
        for node in reversed(order):
            node.backward_pass()

    def zero_grad(self) -> None:
        """Set ``.grad = 0`` on this node and every node it depends on."""
        for node in topological_order(self):
            node.grad = 0

    # ---- conveniences ------------------------------------------------------------------------
    @property
    def op(self) -> str:
        """Name of the operation (``"var"`` for a declared variable)."""
        return "var" if type(self) is AutogradValue else type(self).__name__.lower()

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self.value!r}, grad={self.grad!r})"

    # Python operators: each builds a node of the matching operation in ``ops``; plain numbers
    # may stand on either side. Unsupported operands make Python raise its usual TypeError.
    def __add__(self, other: Any) -> Any:
        return ops.Add(self, other) if is_operand(other) else NotImplemented

    def __radd__(self, other: Any) -> Any:
        return ops.Add(other, self) if is_operand(other) else NotImplemented

    def __sub__(self, other: Any) -> Any:
        return ops.Sub(self, other) if is_operand(other) else NotImplemented

    def __rsub__(self, other: Any) -> Any:
        return ops.Sub(other, self) if is_operand(other) else NotImplemented

    def __mul__(self, other: Any) -> Any:
        return ops.Mul(self, other) if is_operand(other) else NotImplemented

    def __rmul__(self, other: Any) -> Any:
        return ops.Mul(other, self) if is_operand(other) else NotImplemented

    def __truediv__(self, other: Any) -> Any:
        return ops.Div(self, other) if is_operand(other) else NotImplemented

    def __rtruediv__(self, other: Any) -> Any:
        return ops.Div(other, self) if is_operand(other) else NotImplemented

    def __pow__(self, other: Any) -> Any:
        return ops.Pow(self, other) if is_operand(other) else NotImplemented

    def __rpow__(self, other: Any) -> Any:
        return ops.Pow(other, self) if is_operand(other) else NotImplemented

    def __matmul__(self, other: Any) -> Any:
        return ops.MatMul(self, other) if is_operand(other) else NotImplemented

    def __rmatmul__(self, other: Any) -> Any:
        return ops.MatMul(other, self) if is_operand(other) else NotImplemented

    def __neg__(self) -> Any:
        return ops.Neg(self)

    # Methods for the named functions: ``x.relu()`` is ``mmids.autograd.relu(x)``.
    def exp(self) -> Any:
        return ops.Exp(self)

    def log(self) -> Any:
        return ops.Log(self)

    def sigmoid(self) -> Any:
        return ops.Sigmoid(self)

    def relu(self) -> Any:
        return ops.Relu(self)

    def tanh(self) -> Any:
        return ops.Tanh(self)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return ops.Sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        return ops.Mean(self, axis=axis, keepdims=keepdims)

    def matmul(self, other: Any) -> Any:
        return ops.MatMul(self, other)


_OPERAND_TYPES = (AutogradValue, float, int, np.ndarray, numbers.Real)  # common ones first


def topological_order(root: AutogradValue) -> list[AutogradValue]:
    """Every node ``root`` depends on, each listed after all of its parents (root last).

    Depth-first search with an explicit stack instead of recursion, so a chain of a million
    nodes does not hit Python's recursion limit. The first time a node is popped, it goes back on
    the stack under a ``None`` marker, with its parents pushed above; when the marker is popped,
    all of those parents are listed, so the node under it is listed next.
    """
    order: list[AutogradValue] = []
    seen: set[AutogradValue] = set()  # nodes whose parents have been pushed
    stack: list[AutogradValue | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:  # the marker: the node under it has all its parents listed
            order.append(stack.pop())
        elif node not in seen:
            seen.add(node)
            stack += (node, None)
            for parent in node.parents:
                if isinstance(parent, AutogradValue) and parent not in seen:
                    stack.append(parent)
    return order


def unbroadcast(g: Value, like: Value) -> Value:
    """Sum ``g`` back to the shape of ``like``: the VJP of numpy broadcasting.

    If ``a`` (shape (3,)) was broadcast to (2, 3) in ``a + B``, each ``a_j`` was used twice, so
    its gradient is the sum of the two upstream entries: sum over the added leading axes, and
    over the axes where ``like`` has size 1.

    In general ``g`` stands for its broadcast to ``S = broadcast_shapes(g.shape, like.shape)``,
    and the result is that array summed back to ``like.shape``. So a ``g`` of lower rank (e.g. a
    scalar, the same contribution for every entry) is spread over ``like``'s shape:
    ``unbroadcast(2.0, np.zeros((1, 3)))`` is ``[[2., 2., 2.]]``. Shapes that do not broadcast
    together, or broadcast beyond ``like`` along an axis where ``like`` is not of size 1, raise a
    ``ValueError`` naming both.
    """
    if isinstance(like, float):
        return g if isinstance(g, float) else float(np.sum(g))
    shape = like.shape
    if np.shape(g) == shape:
        return g
    g_shape = np.shape(g)
    g = np.asarray(g)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    elif extra < 0:  # lower rank: the same contribution along the missing leading axes
        g = g.reshape((1,) * -extra + g.shape)
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    g = g.sum(axis=ones, keepdims=True) if ones else g
    if g.shape == shape:
        return g
    try:  # fails only on an axis where both sizes differ and neither is 1
        return np.broadcast_to(g, shape).copy()
    except ValueError:
        raise ValueError(
            f"unbroadcast: a gradient of shape {g_shape} does not broadcast against a parent "
            f"of shape {shape}"
        ) from None


def broadcast_like(t: Value, like: Value) -> Value:
    """Broadcast a tangent ``t`` to the shape of ``like`` (float stays float)."""
    if isinstance(like, float):
        return float(t)
    if np.shape(t) == like.shape:
        return t
    return np.broadcast_to(t, like.shape).astype(np.float64)  # a writable float copy


from mmids.autograd import ops  # noqa: E402  (ops subclasses AutogradValue: import it last)
