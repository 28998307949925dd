"""The node of a computational graph, the topological order, and the backward pass.

An :class:`AutogradValue` is one node ``v`` of the graph. It stores

* ``parents`` -- what it was computed from: other nodes, or constants (plain numbers and arrays);
* ``args``    -- the *values* of those parents (the only data the local derivatives need);
* ``value``   -- ``func(*args)``, a Python float or a float64 numpy array;
* ``grad``    -- the upstream gradient ``p_v = ∇_v 𝓛`` of the loss ``𝓛`` on which ``backward()``
  was called: the same shape as ``value`` (a float for a float).

Every operation is a subclass (the tables :mod:`~mmids.autograd.ops` for element-wise operations,
:mod:`~mmids.autograd.ops_array` for reductions and ``@``, :mod:`~mmids.autograd.ops_shape` for
indexing and reshaping) that overrides ``func`` (the operation) and either ``grads`` (the local
derivatives of an element-wise operation) or ``vjp``/``jvp``. The base class itself is a
*declared variable*: ``func`` is the identity, so ``AutogradValue(3.0)`` is an input of the graph.
A declared variable holds its own copy of an array it is given.

``𝓛.backward()`` lists the graph in topological order (iteratively: no recursion limit) and calls
``backward_pass()`` on every node from ``𝓛`` back to the inputs. ``backward_pass`` is the one step
of reverse mode: each parent ``u`` of ``v`` receives ``J_v(u)^T p_v`` (the VJP), *added* into its
``grad`` (a value used twice receives two contributions).

The rule for ``.grad``:

* a declared variable starts with zeros of its shape (``0.0`` for a float), so a leaf that no
  backward pass reaches reads as a zero gradient of the right shape (torch would leave ``None``);
* an operation's result holds ``0`` until a backward pass reaches it;
* ``backward()`` first sets ``.grad = 0`` on every node it can reach from ``𝓛`` and then fills
  them with ``p_v = ∇_v 𝓛``, so calling it twice gives the same result. It never accumulates
  across calls, and a node it does not reach keeps what it had. ``zero_grad()`` sets zeros of
  each node's shape on a whole graph (useful when you write your own backward loop).

Plain numbers and arrays are constants: they have no ``.grad`` (Python raises
``AttributeError: 'float' object has no attribute 'grad'``); only nodes are differentiated.

Python's operators build nodes (``x * w``, ``2 ** x``, ``A @ x``), and so do numpy's functions
(``np.exp(x)``, ``np.concatenate([X, ones], axis=1)``: ``__array_ufunc__``/``__array_function__``,
table in :mod:`~mmids.autograd.dispatch`), so code written for arrays runs on nodes. Names for
drawings (``AutogradValue(1.5, name="x")``, ``(x**2).named("a")``), numpy-style methods
(``x.sum(axis=0)``, ``x.T``, ``x[0]``) and comparisons come from
:class:`~mmids.autograd.methods.NodeMethods`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from mmids.autograd.methods import NodeMethods
from mmids.autograd.values import (
    Value,
    as_value,
    broadcast_like,
    constant,
    unbroadcast,
    zeros_like,
)

__all__ = ["AutogradValue", "Value", "broadcast_like", "is_operand", "topological_order",
           "unbroadcast"]


def is_operand(x: object) -> bool:
    """True for things an operation accepts: nodes, real numbers and numpy arrays."""
    return isinstance(x, _OPERAND_TYPES) and type(x) is not bool


def _init_node(self: AutogradValue, *args: Any) -> None:
    """Build a node from its parents: their values, ``value = func(*values)``, ``grad = 0``."""
    self.parents = args
    self.args = values = []  # the value of each parent (a constant is its own value)
    for a in args:
        values.append(a.value if isinstance(a, AutogradValue)
                      else a if type(a) is float else constant(a))
    try:
        self.value = self.func(*values)
    except ValueError as err:  # e.g. shapes that do not broadcast: say which operation
        shapes = ", ".join(str(np.shape(a)) for a in self.args)
        raise ValueError(f"{self.op}: bad input shapes ({shapes}): {err}") from None
    self.grad: Value = 0  # filled by the backward pass


class AutogradValue(NodeMethods):
    """A node of the computational graph; the base class is a declared variable (identity)."""

    # The attributes every node has. ``__slots__`` stores them in the object itself (no
    # per-node ``__dict__``), which makes nodes smaller and quicker to build; each operation
    # class repeats ``__slots__ = ()`` so that its nodes stay that small. ``_name`` is set only
    # on named nodes (``.name`` reads None otherwise), so unnamed nodes pay no time for it.
    __slots__ = ("parents", "args", "value", "grad", "_name", "__weakref__")
    formula: str | None = None  # how draw writes the operation, e.g. "{0} + {1}" (see draw)

    def __init__(self, *args: Any, name: str | None = None) -> None:
        """A declared variable ``AutogradValue(value, name=None)``: it owns a copy of ``value``
        and starts with a gradient of zeros of its shape.

        Operations (subclasses) take only their parents, ``Mul(a, b)``; name them with
        ``.named("c")``. A subclass without an ``__init__`` of its own is built by
        :func:`_init_node`; one with its own ``__init__`` (or a parent's) calls
        ``super().__init__(...)``.
        """
        _init_node(self, *args)
        if type(self) is AutogradValue:
            self.grad = zeros_like(self.value)
        if name is not None:
            self.name = name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # an operation's nodes are built by the lean _init_node (no name, no zeros): the
        # scalar path builds one node per arithmetic operator, so its cost is the engine's cost
        super().__init_subclass__(**kwargs)
        if cls.__init__ is AutogradValue.__init__:  # neither it nor a parent defines one
            cls.__init__ = _init_node  # type: ignore[method-assign]

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
    def vjp(self, p: Value) -> list[Value | None]:
        """The contribution ``J_v(u)^T p`` to each input ``u``'s gradient (``None``: skip).

        ``p = p_v`` is this node's upstream gradient (shape of ``value``). For element-wise
        operations the Jacobian is diagonal, ``diag(local)``, so the VJP is the element-wise
        product ``p ⊙ local`` with the local derivative.
        """
        contributions = []
        for local in self.grads(*self.args):
            contributions.append(p * local)
        if len(contributions) != len(self.args):
            raise ValueError(
                f"{type(self).__name__}.grads returned {len(contributions)} local derivatives "
                f"for {len(self.args)} inputs (it must return one per input, as a tuple)"
            )
        return contributions

    def jvp(self, *tangents: Value | None) -> Value:
        """Forward mode: ``v̇ = Σ_i J_v(u_i) u̇_i``; element-wise, ``Σ_i local_i ⊙ u̇_i``
        (``None`` = a zero tangent)."""
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

    def backward(self, p: Value | None = None) -> None:
        """Fill ``.grad = p_v = ∇_v 𝓛`` for every node ``v`` that this node ``𝓛`` depends on.

        ``p`` is the upstream gradient of this node itself (its shape); it may be omitted only
        when this node is a scalar (then ``p = 1``). Existing ``.grad`` values in the graph are
        reset first (no accumulation across calls).
        """
        shape = np.shape(self.value)
        if p is None:
            if shape != ():
                raise ValueError(
                    f"backward() on an output of shape {shape} needs an upstream gradient "
                    "p of that shape (or reduce the output to a scalar first, "
                    "e.g. with mmids.autograd.sum)"
                )
            p = 1.0
        elif np.shape(p) != shape:
            raise ValueError(
                f"upstream gradient has shape {np.shape(p)}, output has shape {shape}"
            )
        order = topological_order(self)
        for node in order:
            node.grad = 0
        self.grad = as_value(p) if shape == () else np.array(p, dtype=np.float64)
        for node in reversed(order):
            node.backward_pass()

    def zero_grad(self) -> None:
        """Set ``.grad`` to zeros of its shape on this node and every node it depends on."""
        for node in topological_order(self):
            node.grad = zeros_like(node.value)

    # ---- conveniences ------------------------------------------------------------------------
    @property
    def op(self) -> str:
        """Name of the operation (``"var"`` for a declared variable)."""
        return "var" if type(self) is AutogradValue else type(self).__name__.lower()

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    def __repr__(self) -> str:
        label = "" if self.name is None else f"name={self.name!r}, "
        return f"{type(self).__name__}({label}value={self.value!r}, grad={self.grad!r})"

    # NumPy calls these when a ufunc (np.exp, np.add, ...) or a function (np.sum, ...) meets a
    # node among its arguments: the table in ``dispatch`` builds the matching node.
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return dispatch.array_function(func, types, args, kwargs)

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


# ``ops`` gathers the operation classes of the three tables (they subclass AutogradValue, so they
# are imported last); ``dispatch`` routes numpy's calls to them.
from mmids.autograd import ops  # noqa: E402, I001  (ops before dispatch, which reads its table)
from mmids.autograd import dispatch  # noqa: E402
