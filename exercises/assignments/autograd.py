"""Assignment 3 (autograd): complete an AutogradValue engine (reverse and forward mode)."""

from build_sources import answer, md, selfcheck, test

A = "autograd"

CELLS = [
    md(r"""
# Assignment 3 — Automatic differentiation from scratch

Every node of a computational graph is an `AutogradValue` that stores its `value`, its
`parents` (the nodes or plain numbers it was computed from), their values `args`, and `grad`
$= \partial L/\partial\,\text{node}$ (0 until the backward pass). An operation is a subclass
that overrides `func` (the forward computation) and `grads` (the local derivatives, one per
input, for element-wise operations) or `vjp` (the vector–Jacobian product, for the matrix
product). You complete three parts:

1. the reverse-mode traversal: `backward_pass` (one node adds its contributions into its
   parents) and `backward` (all nodes, in reverse topological order);
2. the local derivatives of several operations, including the matrix product with respect to
   both arguments;
3. forward mode: `jvp(f, x, dx)` computes $J_f(x)\,dx$ by pushing tangents through the graph.

Use `numpy` only (no `torch`, `jax`, `autograd`, no `mmids` reference code). Each part is
graded on its own with partial credit per case; a value used several times, a long chain and
matrix products are among the hidden tests.
""", "intro"),
    md(r"""
## 1. The node class and reverse mode

`backward_pass(self)` adds `self.grad` × local derivative into the `.grad` of each parent that
is an `AutogradValue` (`self.vjp(self.grad)` gives the contributions, one per parent). A value
used several times receives several contributions: **add** them. `backward(self)` sets every
node's `grad` to 0, sets `self.grad = 1` (the output $L$ is a scalar) and calls `backward_pass`
on every node in **reverse topological order**, so that a node passes its gradient on only
after all its uses have contributed. Deep graphs must work: avoid recursion.
""", "md-node"),
    answer("backward_pass", '''
import numpy as np


class AutogradValue:
    """A node of the graph; the base class is a declared variable (func is the identity)."""

    def __init__(self, *args):
        self.parents = args
        self.args = [a.value if isinstance(a, AutogradValue) else a for a in args]
        self.value = self.func(*self.args)
        self.grad = 0.0

    def func(self, x):
        return x

    def grads(self, x):
        return (1.0,)

    def vjp(self, g):
        """Contributions g * d(value)/d(input_i) for element-wise operations."""
        return [g * local for local in self.grads(*self.args)]

    def tangent(self, *tangents):
        """Forward mode for element-wise operations: sum_i d(value)/d(input_i) * tangent_i."""
        total = 0.0
        for local, t in zip(self.grads(*self.args), tangents):
            if t is not None:
                total = total + local * t
        return total

    def __add__(self, other): return Add(self, other)
    def __radd__(self, other): return Add(other, self)
    def __sub__(self, other): return Sub(self, other)
    def __rsub__(self, other): return Sub(other, self)
    def __mul__(self, other): return Mul(self, other)
    def __rmul__(self, other): return Mul(other, self)
    def __truediv__(self, other): return Div(self, other)
    def __rtruediv__(self, other): return Div(other, self)
    def __pow__(self, n): return Pow(self, n)
    def __matmul__(self, other): return MatMul(self, other)
    def __neg__(self): return Mul(self, -1.0)
    def exp(self): return Exp(self)
    def log(self): return Log(self)
    def sigmoid(self): return Sigmoid(self)
    def sum(self): return Sum(self)

    def backward_pass(self):
        """Add this node's contribution self.grad x local derivative into its parents' grad."""
        ### BEGIN SOLUTION
        for parent, contribution in zip(self.parents, self.vjp(self.grad)):
            if isinstance(parent, AutogradValue):
                parent.grad = parent.grad + contribution
        ### END SOLUTION

    def backward(self):
        """Fill .grad = dL/d(node) for every node that the scalar L = self depends on."""
        ### BEGIN SOLUTION
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, finished = stack.pop()
            if finished:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for parent in node.parents:
                if isinstance(parent, AutogradValue) and id(parent) not in seen:
                    stack.append((parent, False))
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node.backward_pass()
        ### END SOLUTION
'''),
    test(A, "test_backward_pass", 3, """
x = AutogradValue(2.0)
x.backward()
assert x.grad == 1.0
"""),
    md(r"""
## 2. Local derivatives

Complete `grads` for `Mul`, `Div`, `Pow` (a node raised to a constant power `n`), `Exp`, `Log`
and `Sigmoid` (all element-wise: return one array of local derivatives per input), and
`MatMul.vjp`: for $C = AB$ and an upstream $G = \partial L/\partial C$, return the two
contributions $\partial L/\partial A$ and $\partial L/\partial B$ (shapes of $A$ and $B$;
$B$ may also be a vector). Never form a 3-D Jacobian: use matrix products.
""", "md-ops"),
    answer("grads", '''
import numpy as np


class Add(AutogradValue):
    def func(self, a, b): return a + b
    def grads(self, a, b): return (1.0, 1.0)


class Sub(AutogradValue):
    def func(self, a, b): return a - b
    def grads(self, a, b): return (1.0, -1.0)


class Sum(AutogradValue):
    def func(self, a): return np.sum(a)
    def vjp(self, g): return [g * np.ones_like(self.args[0])]
    def tangent(self, t): return np.sum(t)


class Mul(AutogradValue):
    def func(self, a, b): return a * b

    def grads(self, a, b):
        ### BEGIN SOLUTION
        return (b, a)
        ### END SOLUTION


class Div(AutogradValue):
    def func(self, a, b): return a / b

    def grads(self, a, b):
        ### BEGIN SOLUTION
        return (1.0 / b, -a / b ** 2)
        ### END SOLUTION


class Pow(AutogradValue):
    """a ** n for a constant exponent n (the second parent is a plain number)."""

    def func(self, a, n): return a ** n

    def grads(self, a, n):
        ### BEGIN SOLUTION
        return (n * a ** (n - 1), 0.0)
        ### END SOLUTION


class Exp(AutogradValue):
    def func(self, a): return np.exp(a)

    def grads(self, a):
        ### BEGIN SOLUTION
        return (np.exp(a),)
        ### END SOLUTION


class Log(AutogradValue):
    def func(self, a): return np.log(a)

    def grads(self, a):
        ### BEGIN SOLUTION
        return (1.0 / a,)
        ### END SOLUTION


class Sigmoid(AutogradValue):
    def func(self, a): return 1.0 / (1.0 + np.exp(-a))

    def grads(self, a):
        ### BEGIN SOLUTION
        s = 1.0 / (1.0 + np.exp(-a))
        return (s * (1.0 - s),)
        ### END SOLUTION


class MatMul(AutogradValue):
    def func(self, a, b): return a @ b

    def vjp(self, g):
        """[dL/dA, dL/dB] for C = A @ B and g = dL/dC."""
        ### BEGIN SOLUTION
        a, b = self.args
        da = np.outer(g, b) if np.ndim(b) == 1 else g @ b.T
        db = a.T @ g
        return [da, db]
        ### END SOLUTION

    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta @ b) + (0.0 if tb is None else a @ tb)
'''),
    selfcheck("selfcheck-backward", """
# Reverse mode with your backward: dL/dx = 4x = 12 only if both uses of x are added up.
x = AutogradValue(3.0)
L = x * x * 2.0
L.backward()
print(x.grad)
"""),
    selfcheck("selfcheck-ops", """
from mmids import check

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4))
check(lambda B: A @ B, lambda B, g: MatMul(AutogradValue(A), AutogradValue(B)).vjp(g)[1],
      rng.standard_normal((4, 2)))
check(np.exp, lambda a, g: Exp(AutogradValue(a)).vjp(g)[0], rng.standard_normal(5))
"""),
    test(A, "test_grads_elementwise", 3, """
node = Mul(AutogradValue(np.ones(2)), AutogradValue(np.ones(2)))
assert np.shape(node.vjp(np.ones(2))[0]) == (2,)
"""),
    test(A, "test_grads_matmul", 2, """
node = MatMul(AutogradValue(np.ones((2, 3))), AutogradValue(np.ones(3)))
assert np.shape(node.vjp(np.ones(2))[1]) == (3,)
"""),
    md(r"""
## 3. Forward mode

`jvp(f, x, dx)` returns `(f(x), J_f(x) dx)`. Wrap `x` in an `AutogradValue`, build the graph by
calling `f`, then visit the nodes in topological order (parents first): the input's tangent is
`dx`, and every other node's tangent is `node.tangent(*parent_tangents)`, where a parent that
is a plain number (a constant) has tangent `None`.
""", "md-jvp"),
    answer("jvp", '''
def jvp(f, x, dx):
    """(f(x), J_f(x) dx) by forward mode through the graph of f."""
    ### BEGIN SOLUTION
    x_node = AutogradValue(x)
    out = f(x_node)
    order, seen = [], set()
    stack = [(out, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node.parents:
            if isinstance(parent, AutogradValue) and id(parent) not in seen:
                stack.append((parent, False))
    tangent = {id(x_node): dx}
    for node in order:
        if node is x_node:
            continue
        ts = [tangent.get(id(p)) if isinstance(p, AutogradValue) else None
              for p in node.parents]
        tangent[id(node)] = None if all(t is None for t in ts) else node.tangent(*ts)
    return out.value, tangent[id(out)]
    ### END SOLUTION
'''),
    selfcheck("selfcheck-jvp", """
value, t = jvp(lambda v: (v * v).exp(), np.array([0.1, 0.2]), np.array([1.0, 0.0]))
print(value, t)  # the tangent should be [2 * 0.1 * exp(0.01), 0]
"""),
    test(A, "test_jvp", 2, """
value, t = jvp(lambda v: v * 2.0, np.ones(3), np.ones(3))
assert np.shape(t) == (3,)
"""),
]
