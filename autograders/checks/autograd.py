"""Checks for the ``autograd`` assignment: an ``AutogradValue`` engine completed by the student.

Answer cells (grade_id = the method or function the student writes):

* ``backward_pass``: the class ``AutogradValue`` with ``backward_pass(self)`` (add
  ``self.grad × local derivative`` into each parent's ``.grad``: accumulation) and
  ``backward(self)`` (zero the grads, then visit the nodes in reverse topological order);
* ``grads``: the operations' local derivatives ``grads`` (Mul, Div, Pow, Exp, Log, Sigmoid) and
  the VJP of the matrix product with respect to both arguments (``MatMul.vjp``);
* ``jvp``: ``jvp(f, x, dx) -> (f(x), J_f(x) dx)``, forward mode through the graph of ``f``
  using each node's ``tangent`` rule.

Each answer is graded on its own.  The traversals (``backward_pass``, ``jvp``) run on graphs
built from trusted operations (subclasses of the student's ``AutogradValue`` defined by the
driver), and the operations' derivatives are checked one node at a time through ``vjp``.
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
    def vjp(self, g): return [g * _drv_np.ones_like(self.value), g * _drv_np.ones_like(self.value)]
    def tangent(self, ta, tb): return (0.0 if ta is None else ta) + (0.0 if tb is None else tb)


class _DrvMul(_DrvOp):
    def func(self, a, b): return a * b
    def vjp(self, g): return [g * self.args[1], g * self.args[0]]
    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta * b) + (0.0 if tb is None else a * tb)


class _DrvDiv(_DrvOp):
    def func(self, a, b): return a / b
    def vjp(self, g):
        a, b = self.args
        return [g / b, -g * a / b ** 2]
    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta / b) - (0.0 if tb is None else a * tb / b ** 2)


class _DrvUnary(_DrvOp):
    def vjp(self, g): return [g * self.local(self.args[0])]
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
    def vjp(self, g): return [g * _drv_np.ones_like(self.args[0])]
    def tangent(self, t): return _drv_np.sum(t)


class _DrvMatMul(_DrvOp):
    def func(self, a, b): return a @ b
    def vjp(self, g):
        a, b = self.args
        da = _drv_np.outer(g, b) if _drv_np.ndim(b) == 1 else g @ b.T
        db = _drv_np.outer(a, g) if _drv_np.ndim(a) == 1 else a.T @ g
        return [da, db]
    def tangent(self, ta, tb):
        a, b = self.args
        return (0.0 if ta is None else ta @ b) + (0.0 if tb is None else a @ tb)


class _DrvOps:
    add, mul, div, exp, log = _DrvAdd, _DrvMul, _DrvDiv, _DrvExp, _DrvLog
    sigmoid, sum, matmul = _DrvSigmoid, _DrvSum, _DrvMatMul


def _drv_backward(graph, *leaves):
    nodes = [AutogradValue(_drv_np.array(v)) for v in leaves]
    L = {"reuse": g_reuse, "diamond": g_diamond, "matmul": g_matmul,
         "chain": g_chain}[graph](_DrvOps, *nodes)
    L.backward()
    return tuple(_drv_np.asarray(n.grad, dtype=float) * _drv_np.ones_like(n.value)
                 for n in nodes)


def _drv_op_vjp(op, g, *inputs):
    cls = {"Mul": Mul, "Div": Div, "Exp": Exp, "Log": Log, "Sigmoid": Sigmoid,
           "MatMul": MatMul, "Pow3": Pow, "Pow2": Pow}[op]
    if op.startswith("Pow"):
        node = cls(AutogradValue(inputs[0]), float(op[-1]))
        return (node.vjp(g)[0],)
    node = cls(*[AutogradValue(v) for v in inputs])
    return tuple(node.vjp(g))


def _drv_jvp(graph, x, dx, *consts):
    fs = {"elementwise": f_elementwise, "mlp": f_mlp, "ratio": f_ratio}
    out = jvp(lambda node: fs[graph](_DrvOps, node, *consts), x, dx)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("jvp must return a pair (f(x), J_f(x) dx)")
    return tuple(out)
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
        ("a chain of 4,500 nodes", "chain", [rng.uniform(0.5, 1.5, 3)],
         "(a recursive traversal hits Python's recursion limit here: use an explicit stack) "
         + _HINT_ORDER),
    ]
    cases = []
    import mmids.autograd as ag

    ago = _mmids_ops()
    for label, name, leaves, hint in specs:
        fn = getattr(g, f"g_{name}")
        nodes = [ag.AutogradValue(leaf) for leaf in leaves]
        fn(ago, *nodes).backward()
        outs = []
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
            outs.append(Output(f"the grad of input {i + 1}", expected, fd))
        cases.append(Case(label, (name, *leaves), tuple(outs), returns_tuple=True,
                          hint_on_error=hint, extra={"hint_wrong": hint}))
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
        g = rng.standard_normal(out_shape)
        outs = []
        for i, x in enumerate(inputs):
            def f_np(v: np.ndarray, i: int = i, op: str = op, inputs: list = inputs) -> Any:
                return np_fns[op](*[v if j == i else inputs[j] for j in range(len(inputs))])

            def f_t(v: Any, i: int = i, op: str = op, inputs: list = inputs) -> Any:
                return torch_fns[op](*[v if j == i else _as_torch(inputs[j])
                                       for j in range(len(inputs))])

            expected = G.torch_vjp(f_t, x, g)
            fd = G.numerical_vjp(f_np, x, g)
            oracles_agree(expected, fd, f"{label} input {i + 1}")
            outs.append(Output(f"the VJP for input {i + 1}", expected, fd,
                               _op_candidates(op, i, inputs, g)))
        cases.append(Case(label, (op, g, *inputs), tuple(outs), returns_tuple=True))
    return cases


def _op_candidates(op: str, i: int, inputs: list[np.ndarray], g: np.ndarray) -> list:
    a = inputs[0]
    b = inputs[1] if len(inputs) > 1 else None
    if op == "Pow3":
        return [("the derivative of a**n must be n·a**(n−1); this is n·a**n", g * 3 * a ** 3),
                ("the derivative of a**n must be n·a**(n−1); this is a**(n−1) (factor n "
                 "missing)", g * a ** 2)]
    if op == "Pow2":
        return [("the derivative of a**2 is 2·a, not a**2", g * a ** 2),
                ("the derivative of a**2 is 2·a, not 2·a**2", g * 2 * a ** 2)]
    if op == "Div" and i == 1:
        return [("∂(a/b)/∂b is −a/b², not −a/b", -g * a / b),
                ("∂(a/b)/∂b is −a/b², not a/b² (sign)", g * a / b ** 2)]
    if op == "Mul":
        return [("each input's derivative is the OTHER input: ∂(ab)/∂a = b",
                 g * (a if i == 0 else b))]
    if op == "Sigmoid":
        s = 1 / (1 + np.exp(-a))
        return [("it uses σ(a) instead of σ'(a) = σ(a)(1 − σ(a))", g * s)]
    if op == "Log":
        return [("∂ log a / ∂a is 1/a, not log a", g * np.log(a))]
    if op == "MatMul" and b is not None:
        if i == 0 and b.ndim == 2:
            return [("∂/∂A of A B applied to g is g B^T; this is g B (transpose missing)",
                     g @ b if g.shape[1] == b.shape[0] else np.zeros(0))]
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
        hint = ("a value used twice contributes through both uses: add the tangent "
                "contributions of all inputs")
        cases.append(Case(label, (name, x, dx, *consts),
                          (Output("f(x)", value, None),
                           Output("the tangent J_f(x) dx", expected, fd)),
                          extra={"hint_wrong": hint}))
    return cases


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
