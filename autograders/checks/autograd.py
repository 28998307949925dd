"""Checks for the ``autograd`` assignment: an ``AutogradValue`` engine completed by the student.

Answer cells (grade_id = the method or function the student writes):

* ``backward_pass``: the class ``AutogradValue`` with ``backward_pass(self)`` (add the
  contributions ``self.vjp(self.grad)`` into each parent's ``.grad``: accumulation) and
  ``backward(self)`` (zero the grads, then visit the nodes in reverse topological order); it is
  called twice on the same graph, which must give the same gradients twice;
* ``grads``: the operations' local derivatives ``grads`` (Mul, Div, Pow, Exp, Log, Sigmoid) and
  the VJP of the matrix product with respect to both arguments (``MatMul.vjp(p)`` for the
  upstream gradient ``p = ∇_C 𝓛`` of ``C = A B``: ``(p B^T, A^T p)``);
* ``jvp``: ``jvp(f, x, dx) -> (f(x), J_f(x) dx)``, forward mode through the graph of ``f``
  using each node's ``tangent`` rule.

Each answer is graded on its own.  The traversals (``backward_pass``, ``jvp``) run on graphs
built from trusted operations (subclasses of the student's ``AutogradValue`` defined by the
driver), and the operations' derivatives are checked one node at a time through ``vjp``.
The named wrong traversals (no accumulation, inputs-first order, breadth-first order, no reset
between two calls) are computed by running the same driver on trusted engines with that mistake
(``_SimValue``), so their diagnoses are exact.
Everything is compared with torch.autograd and with central finite differences; the course's
reference engine ``mmids.autograd`` must agree with both on every graph (a grader self-check).
"""

from __future__ import annotations

import functools
import types
from typing import Any

import numpy as np

from autograders.checks._common import Case, Output, judge, oracles_agree, rng_for
from autograders.core import Assignment, Caller, CellResult, Check
from mmids import gradcheck as G

#: Graphs written once against an operations namespace ``o`` (numpy, torch or trusted nodes).
GRAPHS = '''
def g_reuse(o, x, w):            # x is used twice by the same node
    return o.sum(o.mul(o.mul(x, x), w))


def g_diamond(o, x):             # a = exp(x) feeds three uses
    a = o.exp(x)
    return o.sum(o.add(o.mul(a, a), o.sigmoid(a)))


def g_matmul(o, X, W):
    return o.sum(o.sigmoid(o.matmul(X, W)))


def g_chain(o, x):               # a deep chain (3 nodes per step), each value used twice
    t = x
    for _ in range(1500):
        t = o.add(o.mul(t, 0.999), o.mul(o.mul(t, t), 0.0001))
    return o.sum(t)


def f_elementwise(o, x):
    return o.mul(o.add(x, o.exp(x)), x)


def f_mlp(o, x, W1, W2):
    return o.matmul(W2, o.sigmoid(o.matmul(W1, x)))


def f_ratio(o, x):
    return o.div(o.log(o.add(o.mul(x, x), 1.0)), o.add(o.exp(x), 1.0))
'''

DRIVER = GRAPHS + '''
import numpy as _drv_np


class _DrvOp(AutogradValue):
    """Trusted operations on top of the student's AutogradValue (its traversal is under test)."""


def _drv_unwrap(v):
    return v.value if isinstance(v, AutogradValue) else v


class _DrvAdd(_DrvOp):
    def func(self, a, b): return a + b
    def vjp(self, p): return [p * _drv_np.ones_like(self.value), p * _drv_np.ones_like(self.value)]
    def tangent(self, ta, tb): return (0.0 if ta is None else ta) + (0.0 if tb is None else tb)


class _DrvMul(_DrvOp):
    def func(self, a, b): return a * b
    def vjp(self, p): return [p * self.args[1], p * self.args[0]]
    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta * b) + (0.0 if tb is None else a * tb)


class _DrvDiv(_DrvOp):
    def func(self, a, b): return a / b
    def vjp(self, p):
        a, b = self.args
        return [p / b, -p * a / b ** 2]
    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta / b) - (0.0 if tb is None else a * tb / b ** 2)


class _DrvUnary(_DrvOp):
    def vjp(self, p): return [p * self.local(self.args[0])]
    def tangent(self, t): return self.local(self.args[0]) * t


class _DrvExp(_DrvUnary):
    def func(self, a): return _drv_np.exp(a)
    def local(self, a): return _drv_np.exp(a)


class _DrvLog(_DrvUnary):
    def func(self, a): return _drv_np.log(a)
    def local(self, a): return 1.0 / a


class _DrvSigmoid(_DrvUnary):
    def func(self, a): return 1.0 / (1.0 + _drv_np.exp(-a))
    def local(self, a):
        s = 1.0 / (1.0 + _drv_np.exp(-a))
        return s * (1.0 - s)


class _DrvSum(_DrvOp):
    def func(self, a): return _drv_np.sum(a)
    def vjp(self, p): return [p * _drv_np.ones_like(self.args[0])]
    def tangent(self, t): return _drv_np.sum(t)


class _DrvMatMul(_DrvOp):
    def func(self, a, b): return a @ b
    def vjp(self, p):
        a, b = self.args
        da = _drv_np.outer(p, b) if _drv_np.ndim(b) == 1 else p @ b.T
        db = _drv_np.outer(a, p) if _drv_np.ndim(a) == 1 else a.T @ p
        return [da, db]
    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta @ b) + (0.0 if tb is None else a @ tb)


class _DrvOps:
    add, mul, div, exp, log = _DrvAdd, _DrvMul, _DrvDiv, _DrvExp, _DrvLog
    sigmoid, sum, matmul = _DrvSigmoid, _DrvSum, _DrvMatMul


def _drv_backward(graph, *leaves):
    """The leaves' grads after L.backward(), then after a second L.backward() on the same graph."""
    nodes = [AutogradValue(_drv_np.array(v)) for v in leaves]
    L = {"reuse": g_reuse, "diamond": g_diamond, "matmul": g_matmul,
         "chain": g_chain}[graph](_DrvOps, *nodes)
    grads = []
    for _ in range(2):
        L.backward()
        grads += [_drv_np.array(_drv_np.asarray(n.grad, dtype=float) * _drv_np.ones_like(n.value))
                  for n in nodes]
    return tuple(grads)


def _drv_op_vjp(op, p, *inputs):
    cls = {"Mul": Mul, "Div": Div, "Exp": Exp, "Log": Log, "Sigmoid": Sigmoid,
           "MatMul": MatMul, "Pow3": Pow, "Pow2": Pow}[op]
    if op.startswith("Pow"):
        node = cls(AutogradValue(inputs[0]), float(op[-1]))
        return (node.vjp(p)[0],)
    node = cls(*[AutogradValue(v) for v in inputs])
    return tuple(node.vjp(p))


def _drv_jvp(graph, x, dx, *consts):
    """(f(x), the tangent of the identity function (must be dx), J_f(x) dx)."""
    fs = {"elementwise": f_elementwise, "mlp": f_mlp, "ratio": f_ratio}
    identity = jvp(lambda node: node, _drv_np.array(x), _drv_np.array(dx))
    out = jvp(lambda node: fs[graph](_DrvOps, node, *consts), x, dx)
    for pair in (identity, out):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError("jvp must return a pair (f(x), J_f(x) dx)")
    return out[0], identity[1], out[1]
'''


def _graphs() -> types.SimpleNamespace:
    ns: dict[str, Any] = {}
    exec(compile(GRAPHS, "<autograd graphs>", "exec"), ns)
    return types.SimpleNamespace(**ns)


def _np_ops() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        add=np.add, mul=np.multiply, div=np.divide, exp=np.exp, log=np.log,
        sigmoid=lambda a: 1.0 / (1.0 + np.exp(-a)), sum=np.sum, matmul=np.matmul)


def _torch_ops() -> types.SimpleNamespace:
    import torch

    return types.SimpleNamespace(
        add=torch.add, mul=torch.mul, div=torch.div, exp=torch.exp, log=torch.log,
        sigmoid=torch.sigmoid, sum=torch.sum, matmul=torch.matmul)


def _mmids_ops() -> types.SimpleNamespace:
    """The course's reference engine (``mmids.autograd``) as a third, cross-checking oracle."""
    import mmids.autograd as ag

    return types.SimpleNamespace(
        add=lambda a, b: a + b, mul=lambda a, b: a * b, div=lambda a, b: a / b, exp=ag.exp,
        log=ag.log, sigmoid=ag.sigmoid, sum=ag.sum, matmul=ag.matmul)


def _reference_engine_agrees(expected: np.ndarray, got: Any, what: str) -> None:
    report = G.compare(expected, np.asarray(got, dtype=np.float64), rtol=1e-9, atol=1e-12,
                       name=what)
    if not report.ok:
        raise RuntimeError(f"mmids.autograd disagrees with torch for {what}:\n{report}")


def _as_torch(v: Any) -> Any:
    import torch

    return torch.tensor(v) if isinstance(v, np.ndarray) else v


# --------------------------------------------------------------------------------------------
# backward_pass / backward
# --------------------------------------------------------------------------------------------

_HINT_ACCUMULATE = ("this graph uses a value more than once: its gradient is the SUM of the "
                    "contributions of all its uses (accumulate with +=, never overwrite)")
_HINT_ORDER = ("a node may pass its gradient on only after every node that uses it has added "
               "its contribution: visit the nodes in reverse topological order")
_HINT_RECURSION = ("a recursive traversal hits Python's recursion limit on this deep graph: "
                   "build the topological order with an explicit stack (a loop), not recursion")
_HINT_RESET = ("a second call of backward() must give the same gradients: set every node's "
               "grad to 0 at the start of backward, before accumulating")


class _SimValue:
    """A trusted node class with a selectable traversal, to compute the named wrong answers.

    ``order``: ``"reverse"`` (reverse topological: right), ``"topological"`` (inputs first) or
    ``"breadth-first"`` (from the output, each node once); ``accumulate=False`` overwrites a
    parent's grad instead of adding to it; ``reset=False`` never zeroes the grads.
    """

    order = "reverse"
    accumulate = True
    reset = True

    def __init__(self, *args: Any) -> None:
        self.parents = args
        self.args = [a.value if isinstance(a, _SimValue) else a for a in args]
        self.value = self.func(*self.args)
        self.grad: Any = 0.0

    def func(self, x: Any) -> Any:
        return x

    def grads(self, x: Any) -> tuple[float]:
        return (1.0,)

    def vjp(self, p: Any) -> list[Any]:
        return [p * local for local in self.grads(*self.args)]

    def tangent(self, *tangents: Any) -> Any:
        raise NotImplementedError

    def backward_pass(self) -> None:
        for parent, contribution in zip(self.parents, self.vjp(self.grad), strict=False):
            if isinstance(parent, _SimValue):
                parent.grad = parent.grad + contribution if self.accumulate else contribution

    def _nodes(self, order: str | None = None) -> list[_SimValue]:
        """Every node, in the engine's ``order`` (or the one given)."""
        order = order or self.order
        if order == "breadth-first":
            queue, seen = [self], {id(self)}
            for node in queue:
                for parent in node.parents:
                    if isinstance(parent, _SimValue) and id(parent) not in seen:
                        seen.add(id(parent))
                        queue.append(parent)
            return queue
        topological: list[_SimValue] = []
        seen_ids: set[int] = set()
        stack: list[tuple[_SimValue, bool]] = [(self, False)]
        while stack:
            node, finished = stack.pop()
            if finished:
                topological.append(node)
            elif id(node) not in seen_ids:
                seen_ids.add(id(node))
                stack.append((node, True))
                stack += [(q, False) for q in node.parents
                          if isinstance(q, _SimValue) and id(q) not in seen_ids]
        return topological[::-1] if order == "reverse" else topological

    def backward(self) -> None:
        nodes = self._nodes()
        if self.reset:
            for node in nodes:
                node.grad = 0.0
        self.grad = 1.0
        for node in nodes:
            node.backward_pass()


#: The named wrong traversals: (sentence, engine settings).
_WRONG_TRAVERSALS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("the gradients are not accumulated: a value used several times kept only the last "
     "contribution; add each contribution to parent.grad (+=), never overwrite it",
     {"accumulate": False}),
    ("the nodes were visited in topological order (inputs first); backpropagation visits them "
     "in REVERSE topological order (the output first), so that a node passes its gradient on "
     "only after all its uses have contributed", {"order": "topological"}),
    ("the nodes were visited in breadth-first order from the output, which is not a "
     "topological order: a node used at different depths passed its gradient on before all "
     "its uses had contributed; visit the nodes in reverse topological order (a depth-first "
     "post-order, reversed)", {"order": "breadth-first"}),
)
_NO_RESET = ("backward() does not reset the gradients: the second call added to the grads left "
             "by the first; set every node's grad to 0 at the start of backward")


@functools.cache
def _simulator(settings: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The driver's namespace on a trusted engine with the given (wrong) settings."""
    engine = type("AutogradValue", (_SimValue,), dict(settings))
    ns: dict[str, Any] = {"AutogradValue": engine}
    exec(compile(DRIVER, "<autograd simulated driver>", "exec"), ns)
    return ns


def _simulate(settings: dict[str, Any], name: str, leaves: list[np.ndarray]) -> list[np.ndarray]:
    """The driver's outputs (grads after one and after two calls) on a simulated engine; empty
    arrays where the mistake makes the computation fail (no candidate then)."""
    ns = _simulator(tuple(sorted(settings.items())))
    try:
        with np.errstate(all="ignore"):
            return list(ns["_drv_backward"](name, *leaves))
    except (ValueError, TypeError):  # e.g. a scalar 0.0 grad reaching a matrix product
        return [np.zeros(0)] * (2 * len(leaves))


def _backward_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    g = _graphs()
    npo, tho = _np_ops(), _torch_ops()
    specs = [
        ("x·x·w (x used twice by one node)", "reuse",
         [rng.standard_normal(5), rng.standard_normal(5)], _HINT_ACCUMULATE),
        ("a = exp(x) used three times (a·a + σ(a))", "diamond",
         [0.5 * rng.standard_normal(4)], _HINT_ACCUMULATE + "; " + _HINT_ORDER),
        ("Σ σ(X W), gradients for X and W", "matmul",
         [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))], _HINT_ORDER),
        ("a chain of 4,500 nodes", "chain", [rng.uniform(0.5, 1.5, 3)], _HINT_ORDER),
    ]
    cases = []
    import mmids.autograd as ag

    ago = _mmids_ops()
    for label, name, leaves, hint in specs:
        fn = getattr(g, f"g_{name}")
        nodes = [ag.AutogradValue(leaf) for leaf in leaves]
        fn(ago, *nodes).backward()
        wrong = [(sentence, _simulate(settings, name, leaves)[:len(leaves)])
                 for sentence, settings in _WRONG_TRAVERSALS]
        no_reset = _simulate({"reset": False}, name, leaves)[len(leaves):]
        first, second = [], []
        for i, leaf in enumerate(leaves):
            def f_np(v: np.ndarray, i: int = i, fn: Any = fn, leaves: list = leaves) -> Any:
                return fn(npo, *[v if j == i else leaves[j] for j in range(len(leaves))])

            def f_t(v: Any, i: int = i, fn: Any = fn, leaves: list = leaves) -> Any:
                return fn(tho, *[v if j == i else _as_torch(leaves[j])
                                 for j in range(len(leaves))])

            expected = G.torch_gradient(f_t, leaf)
            fd = G.numerical_gradient(f_np, leaf)
            oracles_agree(expected, fd, f"backward ({label}, input {i + 1})")
            _reference_engine_agrees(expected, nodes[i].grad, f"backward ({label})")
            _reference_engine_agrees(expected, _simulate({}, name, leaves)[i],
                                     f"simulated backward ({label})")
            first.append(Output(f"the grad of input {i + 1}", expected, fd,
                                [(sentence, grads[i]) for sentence, grads in wrong]))
            second.append(Output(f"the grad of input {i + 1} after a second call of backward()",
                                 expected, fd, [(_NO_RESET, no_reset[i])], hint=_HINT_RESET,
                                 followup=True))
        cases.append(Case(label, (name, *leaves), (*first, *second), returns_tuple=True,
                          hint_on_error=hint, extra={"hint_wrong": hint},
                          error_hints=(("RecursionError", _HINT_RECURSION),)))
    return cases


# --------------------------------------------------------------------------------------------
# grads of the operations
# --------------------------------------------------------------------------------------------


def _op_cases(grade_id: str, which: str) -> list[Case]:
    rng = rng_for(grade_id)
    torch_fns: dict[str, Any] = {
        "Mul": lambda a, b: a * b, "Div": lambda a, b: a / b, "Exp": lambda a: a.exp(),
        "Log": lambda a: a.log(), "Sigmoid": lambda a: a.sigmoid(),
        "Pow3": lambda a: a ** 3, "Pow2": lambda a: a ** 2, "MatMul": lambda a, b: a @ b,
    }
    np_fns: dict[str, Any] = {
        "Mul": np.multiply, "Div": np.divide, "Exp": np.exp, "Log": np.log,
        "Sigmoid": lambda a: 1 / (1 + np.exp(-a)), "Pow3": lambda a: a ** 3,
        "Pow2": lambda a: a ** 2, "MatMul": np.matmul,
    }
    if which == "elementwise":
        specs = [("Mul(a, b)", "Mul", [(4,), (4,)]), ("Div(a, b)", "Div", [(5,), (5,)]),
                 ("Pow(a, 3)", "Pow3", [(4,)]), ("Pow(a, 2)", "Pow2", [(3, 2)]),
                 ("Exp(a)", "Exp", [(4,)]), ("Log(a)", "Log", [(5,)]),
                 ("Sigmoid(a)", "Sigmoid", [(2, 3)])]
    else:
        specs = [("MatMul(A, B), A 3×4, B 4×2", "MatMul", [(3, 4), (4, 2)]),
                 ("MatMul(X, w), X 5×3, w of length 3", "MatMul", [(5, 3), (3,)]),
                 ("MatMul(A, B), square 3×3", "MatMul", [(3, 3), (3, 3)])]
    cases = []
    for label, op, shapes in specs:
        inputs = [rng.standard_normal(s) for s in shapes]
        if op in {"Log", "Div"}:
            inputs[-1] = rng.uniform(0.5, 2.0, shapes[-1])
        out_shape = np.shape(np_fns[op](*inputs))
        p = rng.standard_normal(out_shape)
        outs = []
        for i, x in enumerate(inputs):
            def f_np(v: np.ndarray, i: int = i, op: str = op, inputs: list = inputs) -> Any:
                return np_fns[op](*[v if j == i else inputs[j] for j in range(len(inputs))])

            def f_t(v: Any, i: int = i, op: str = op, inputs: list = inputs) -> Any:
                return torch_fns[op](*[v if j == i else _as_torch(inputs[j])
                                       for j in range(len(inputs))])

            expected = G.torch_vjp(f_t, x, p)
            fd = G.numerical_vjp(f_np, x, p)
            oracles_agree(expected, fd, f"{label} input {i + 1}")
            outs.append(Output(f"the VJP for input {i + 1}", expected, fd,
                               _op_candidates(op, i, inputs, p)))
        cases.append(Case(label, (op, p, *inputs), tuple(outs), returns_tuple=True))
    return cases


def _op_candidates(op: str, i: int, inputs: list[np.ndarray], p: np.ndarray) -> list:
    """Named wrong VJPs of one operation for input ``i``, with upstream gradient ``p``."""
    a = inputs[0]
    b = inputs[1] if len(inputs) > 1 else None
    if op == "Pow3":
        return [("the derivative of a**n must be n·a**(n−1); this is n·a**n", p * 3 * a ** 3),
                ("the derivative of a**n must be n·a**(n−1); this is a**(n−1) (factor n "
                 "missing)", p * a ** 2)]
    if op == "Pow2":
        return [("the derivative of a**2 is 2·a, not a**2", p * a ** 2),
                ("the derivative of a**2 is 2·a, not 2·a**2", p * 2 * a ** 2)]
    if op == "Div" and b is not None:
        swapped = ("the two local derivatives are swapped: grads must return them in the order "
                   "of the inputs, (∂(a/b)/∂a, ∂(a/b)/∂b) = (1/b, −a/b²)")
        if i == 0:
            return [(swapped, -p * a / b ** 2)]
        return [("∂(a/b)/∂b is −a/b², not −a/b", -p * a / b),
                ("∂(a/b)/∂b is −a/b², not a/b² (sign)", p * a / b ** 2),
                (swapped, p / b)]
    if op == "Mul":
        return [("each input's derivative is the OTHER input: ∂(ab)/∂a = b",
                 p * (a if i == 0 else b))]
    if op == "Sigmoid":
        s = 1 / (1 + np.exp(-a))
        return [("it uses σ(a) instead of σ'(a) = σ(a)(1 − σ(a))", p * s),
                ("it computes a(1 − a) from the input a; σ'(a) = σ(a)(1 − σ(a)) needs σ(a) "
                 "first (the formula s(1 − s) holds for the output s = σ(a), not the input)",
                 p * a * (1 - a))]
    if op == "Log":
        return [("∂ log a / ∂a is 1/a, not log a", p * np.log(a))]
    if op == "MatMul" and b is not None:
        if i == 0 and b.ndim == 2:
            return [("∂/∂A of A B applied to p is p B^T; this is p B (transpose missing)",
                     p @ b if p.shape[1] == b.shape[0] else np.zeros(0))]
    return []


# --------------------------------------------------------------------------------------------
# jvp
# --------------------------------------------------------------------------------------------


def _jvp_cases(grade_id: str) -> list[Case]:
    import mmids.autograd as ag

    rng = rng_for(grade_id)
    g = _graphs()
    npo, tho = _np_ops(), _torch_ops()
    specs = [
        ("f(x) = (x + eˣ) ⊙ x (x used twice)", "elementwise", 4, []),
        ("f(x) = W2 σ(W1 x), matrix products", "mlp", 3,
         [rng.standard_normal((5, 3)), rng.standard_normal((2, 5))]),
        ("f(x) = log(x² + 1) / (eˣ + 1)", "ratio", 5, []),
    ]
    cases = []
    for label, name, n, consts in specs:
        fn = getattr(g, f"f_{name}")
        x = rng.standard_normal(n)
        dx = rng.standard_normal(n)

        def f_np(v: np.ndarray, fn: Any = fn, consts: list = consts) -> Any:
            return fn(npo, v, *consts)

        def f_t(v: Any, fn: Any = fn, consts: list = consts) -> Any:
            return fn(tho, v, *[_as_torch(c) for c in consts])

        value = np.asarray(f_np(x), dtype=np.float64)
        expected = G.torch_jacobian(f_t, x) @ dx
        fd = G.numerical_jacobian(f_np, x) @ dx
        oracles_agree(expected, fd, f"jvp ({label})")
        _reference_engine_agrees(expected, ag.jvp(
            lambda v, fn=fn, consts=consts: fn(_mmids_ops(), v, *consts), x, dx)[1],
            f"jvp ({label})")
        identity = Output(
            "the tangent of jvp(lambda v: v, x, dx)", np.array(dx), None,
            [("the input's tangent is x; it must be dx, the direction given to jvp", x)],
            none_message=_INPUT_TANGENT_NONE, hint=_INPUT_TANGENT)
        cases.append(Case(label, (name, x, dx, *consts), (
            Output("f(x)", value, None), identity,
            Output("the tangent J_f(x) dx", expected, fd, _jvp_candidates(name, x, dx, consts),
                   none_message=_OUTPUT_TANGENT_NONE, followup=True))))
    return cases


_JVP_REVERSE = ("the nodes were visited in reverse topological order (the output first), so "
                "nodes were visited before their parents had a tangent; visit them in "
                "topological order (parents first)")


def _reverse_order_jvp(f: Any, x: np.ndarray, dx: np.ndarray) -> tuple[Any, Any]:
    """A trusted jvp with the order mistake: nodes visited output first."""
    x_node = _SimValue(x)
    out = f(x_node)
    tangent: dict[int, Any] = {id(x_node): dx}
    for node in out._nodes("reverse"):
        if node is x_node:
            continue
        ts = [tangent.get(id(q)) if isinstance(q, _SimValue) else None for q in node.parents]
        tangent[id(node)] = None if all(t is None for t in ts) else node.tangent(*ts)
    return out.value, tangent[id(out)]


@functools.cache
def _jvp_simulator() -> dict[str, Any]:
    """The driver's namespace on the trusted engine, with the reverse-order jvp."""
    ns: dict[str, Any] = {"AutogradValue": _SimValue, "jvp": _reverse_order_jvp}
    exec(compile(DRIVER, "<autograd simulated driver>", "exec"), ns)
    return ns


def _jvp_candidates(name: str, x: np.ndarray, dx: np.ndarray,
                    consts: list[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    with np.errstate(all="ignore"):
        tangent = _jvp_simulator()["_drv_jvp"](name, x, dx, *consts)[2]
    return [] if tangent is None else [(_JVP_REVERSE, np.asarray(tangent, dtype=np.float64))]


_INPUT_TANGENT = ("the input node's tangent is dx and stays dx: it is a leaf, so do not "
                  "recompute it with node.tangent(...)")
_INPUT_TANGENT_NONE = ("jvp(lambda v: v, x, dx) gave the tangent None instead of dx: the input "
                       "node's tangent was overwritten; " + _INPUT_TANGENT)
_OUTPUT_TANGENT_NONE = ("the tangent J_f(x) dx is None: no tangent reached the output. Visit the "
                        "nodes in topological order (parents before the nodes computed from "
                        "them), so that every node's parents have their tangents when it is "
                        "visited")


# --------------------------------------------------------------------------------------------


def _check(grade_id: str, answer_id: str, fn: str, points: float, what: str, build: Any) -> Check:
    @functools.cache
    def cases() -> tuple[Case, ...]:
        with np.errstate(all="ignore"):
            return tuple(build(grade_id))

    def run(call: Caller) -> CellResult:
        return judge(call, fn, cases(), grade_id, points, what, shown=answer_id)

    return Check(grade_id, answer_id, points, run)


CHECKS = (
    _check("test_backward_pass", "backward_pass", "_drv_backward", 3.0,
           "backward_pass / backward: reverse topological order with accumulation",
           _backward_cases),
    _check("test_grads_elementwise", "grads", "_drv_op_vjp", 3.0,
           "grads of Mul, Div, Pow, Exp, Log, Sigmoid", lambda g: _op_cases(g, "elementwise")),
    _check("test_grads_matmul", "grads", "_drv_op_vjp", 2.0,
           "MatMul.vjp with respect to both arguments", lambda g: _op_cases(g, "matmul")),
    _check("test_jvp", "jvp", "_drv_jvp", 2.0, "jvp: forward mode, J_f(x) dx", _jvp_cases),
)

ASSIGNMENT = Assignment(
    name="autograd",
    notebook="autograd.ipynb",
    checks=CHECKS,
    driver_source=DRIVER,
    answer_ids=("backward_pass", "grads", "jvp"),
)
