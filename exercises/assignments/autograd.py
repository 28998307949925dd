"""Assignment 3 (autograd): complete an AutogradValue engine (reverse and forward mode)."""

from build_sources import answer, code, md, selfcheck, test

A = "autograd"

CELLS = [
    md(r"""
# Assignment 3 — Automatic differentiation from scratch

Every node $v$ of a computational graph is an `AutogradValue` that stores its `value`, its
`parents` (the nodes or plain numbers it was computed from), their values `args`, and `grad`
$= p_v = \nabla_v \mathcal{L}$, the upstream gradient (adjoint) of the node: the gradient of the
scalar output $\mathcal{L}$ with respect to $v$, with the shape of $v$ (0 until the backward
pass). An operation is a subclass that overrides `func` (the forward computation) and `grads`
(the local derivatives, one per input, for element-wise operations) or `vjp(p)` (the
vector–Jacobian product with the node's upstream gradient $p$, for the matrix product). You
complete three parts:

1. the reverse-mode traversal: `backward_pass` (one node adds its contributions into its
   parents) and `backward` (all nodes, in reverse topological order);
2. the local derivatives of several operations, including the matrix product with respect to
   both arguments;
3. forward mode: `jvp(f, x, dx)` computes $J_f(x)\,dx$ by pushing tangents through the graph.

Use `numpy` only (no `torch`, `jax`, `autograd`, no `mmids` reference code). Each part is
graded on its own with partial credit per case; a value used several times, a long chain,
matrix products and a second call of `backward` are among the hidden tests. The self-check
cells try the same kinds of graphs on other values and print `PASSED` or `FAILED` per check.
""", "intro"),
    md(r"""
## 1. The node class and reverse mode

`backward_pass(self)` adds the node's contributions to the `.grad` of each parent that is an
`AutogradValue`: `self.vjp(self.grad)` gives them, one per parent ($J^T p$ for the node's
upstream gradient $p$). A value used several times receives several contributions: **add**
them. `backward(self)` sets every node's `grad` to 0, sets `self.grad = 1` (the output
$\mathcal{L}$ is a scalar) and calls `backward_pass` on every node in **reverse topological
order**, so that a node passes its gradient on only after all its uses have contributed.
Calling `backward()` a second time must give the same gradients. Deep graphs must work: avoid
recursion.
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

    def vjp(self, p):
        """Contributions p * d(value)/d(input_i) for element-wise operations (p = self's grad)."""
        return [p * local for local in self.grads(*self.args)]

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
        """Add this node's contributions self.vjp(self.grad) into its parents' grad."""
        ### BEGIN SOLUTION
        for parent, contribution in zip(self.parents, self.vjp(self.grad)):
            if isinstance(parent, AutogradValue):
                parent.grad = parent.grad + contribution
        ### END SOLUTION

    def backward(self):
        """Fill .grad = the gradient of the scalar L = self for every node L depends on."""
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
    code("""
# Given operations (their local derivatives are simple): +, -, and the sum of all entries.
class Add(AutogradValue):
    def func(self, a, b): return a + b
    def grads(self, a, b): return (1.0, 1.0)


class Sub(AutogradValue):
    def func(self, a, b): return a - b
    def grads(self, a, b): return (1.0, -1.0)


class Sum(AutogradValue):
    def func(self, a): return np.sum(a)
    def vjp(self, p): return [p * np.ones_like(self.args[0])]
    def tangent(self, t): return np.sum(t)
""", "given-ops"),
    selfcheck("selfcheck-backward", """
from mmids import check

rng = np.random.default_rng(0)


def gradient_by_backward(graph, *others):
    # x -> the gradient of L = graph(x, *others) for x, by your backward (called twice)
    def gradient(x):
        nodes = [AutogradValue(v) for v in (x, *others)]
        L = graph(*nodes)
        L.backward()
        L.backward()
        return nodes[0].grad
    return gradient


# The graphs use only +, - and .sum(), so they run on numpy arrays and on your nodes.
def reuse(x):          # x used twice by one node
    return (x + x).sum()

def diamond(x):        # a = x + x is used by two later nodes
    a = x + x
    return (a + (a - x)).sum()

def chain(x):          # 3,000 nodes deep
    for _ in range(1500):
        x = (x + x) - x
    return x.sum()

def two_inputs(x, w):  # matrices; w reaches L only as a second parent
    return ((x - w) + x + w + w).sum()

x = rng.standard_normal(4)
X, W = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
check(reuse, gradient_by_backward(reuse), x, name="backward, x used twice")
check(diamond, gradient_by_backward(diamond), x, name="backward, a value used by two nodes")
check(chain, gradient_by_backward(chain), x[:3], name="backward, a chain of 3,000 nodes")
check(lambda v: two_inputs(v, W), gradient_by_backward(two_inputs, W), X,
      name="backward, the first of two matrix inputs")
check(lambda v: two_inputs(X, v), gradient_by_backward(lambda v, u: two_inputs(u, v), X), W,
      name="backward, the second of two matrix inputs");
"""),
    test(A, "test_backward_pass", 3, """
x = AutogradValue(2.0)
x.backward()
assert x.grad == 1.0
"""),
    md(r"""
## 2. Local derivatives

Complete `grads` for `Mul`, `Div`, `Pow` (a node raised to a constant power `n`), `Exp`, `Log`
and `Sigmoid` (all element-wise: return one array of local derivatives per input), and
`MatMul.vjp(p)`: for $C = AB$ and its upstream gradient $p = \nabla_C \mathcal{L}$ (a matrix
with the shape of $C$), return the two contributions $\nabla_A \mathcal{L}$ and
$\nabla_B \mathcal{L}$ (shapes of $A$ and $B$; $B$ may also be a vector). Never form a 3-D
Jacobian: use matrix products.
""", "md-ops"),
    answer("grads", '''
import numpy as np


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

    def vjp(self, p):
        """[gradient for A, gradient for B] of C = A @ B, for the upstream gradient p of C."""
        ### BEGIN SOLUTION
        a, b = self.args
        da = np.outer(p, b) if np.ndim(b) == 1 else p @ b.T
        db = a.T @ p
        return [da, db]
        ### END SOLUTION

    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta @ b) + (0.0 if tb is None else a @ tb)
'''),
    selfcheck("selfcheck-ops", """
def vjp_of(Op, i, *inputs):
    # (v, p) -> the contribution of your Op to its input i, where input i is v
    def vjp(v, p):
        args = [AutogradValue(a) if isinstance(a, np.ndarray) else a for a in inputs]
        args[i] = AutogradValue(v)
        return Op(*args).vjp(p)[i]
    return vjp


a, b = rng.standard_normal((2, 3)), rng.uniform(0.5, 2.0, (2, 3))
check(lambda v: v * b, vjp_of(Mul, 0, a, b), a, name="Mul, first input")
check(lambda v: a * v, vjp_of(Mul, 1, a, b), b, name="Mul, second input")
check(lambda v: v / b, vjp_of(Div, 0, a, b), a, name="Div, first input")
check(lambda v: a / v, vjp_of(Div, 1, a, b), b, name="Div, second input")
check(lambda v: v ** 3, vjp_of(Pow, 0, a, 3.0), a, name="Pow(a, 3)")
check(np.exp, vjp_of(Exp, 0, a), a, name="Exp")
check(np.log, vjp_of(Log, 0, b), b, name="Log")
check(lambda v: 1 / (1 + np.exp(-v)), vjp_of(Sigmoid, 0, a), a, name="Sigmoid")

A, B = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
X, w = rng.standard_normal((5, 3)), rng.standard_normal(3)
check(lambda V: V @ B, vjp_of(MatMul, 0, A, B), A, name="MatMul, A of A B (3×4 times 4×2)")
check(lambda V: A @ V, vjp_of(MatMul, 1, A, B), B, name="MatMul, B of A B")
check(lambda V: V @ w, vjp_of(MatMul, 0, X, w), X, name="MatMul, X of X w (w a vector)")
check(lambda v: X @ v, vjp_of(MatMul, 1, X, w), w, name="MatMul, w of X w");
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
calling `f`, then visit the nodes in topological order (parents first), carrying each node's
tangent $\dot v$ (its derivative in the direction `dx`): the input's tangent is `dx`, and every
other node's tangent is `node.tangent(*parent_tangents)`, where a parent that is a plain number
(a constant) has tangent `None`.
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
W1, W2 = rng.standard_normal((5, 3)), rng.standard_normal((2, 5))
x, dx = rng.standard_normal(3), rng.standard_normal(3)


def f_graph(v):   # with the given operations and MatMul; h is used twice, 1.0 is a constant
    h = MatMul(W1, v) + 1.0
    return MatMul(W2, (h + h) - MatMul(W1, v))

def f_numpy(x):   # the same function on numbers
    h = W1 @ x + 1.0
    return W2 @ ((h + h) - W1 @ x)


check.values(jvp(lambda v: v, x, dx)[1], dx, name="the tangent of the identity (it is dx)")
check.values(jvp(f_graph, x, dx)[0], f_numpy(x), name="the value f(x) returned by jvp")
check(f_numpy, lambda u, du: jvp(f_graph, u, du)[1], x, kind="jvp",
      name="jvp of W2 (2h - W1 x), h = W1 x + 1")
check(lambda u: (u + np.exp(u)) * u, lambda u, du: jvp(lambda v: (v + v.exp()) * v, u, du)[1],
      x, kind="jvp", name="jvp of (x + exp(x)) * x (uses your Mul and Exp)");
"""),
    test(A, "test_jvp", 2, """
value, t = jvp(lambda v: v * 2.0, np.ones(3), np.ones(3))
assert np.shape(t) == (3,)
"""),
]
