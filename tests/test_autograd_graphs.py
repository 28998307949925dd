"""Random expression graphs (hypothesis): values and gradients equal PyTorch's in float64, and
Jacobians by forward mode = reverse mode = torch.autograd.

A program is a list of steps over a pool of values that starts with the inputs; each step applies
a random operation to operands drawn from the whole pool (so values are reused), with shapes from
a broadcast-compatible family, and appends the result. The same program is replayed with torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmids.autograd as ad
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V

pytestmark = pytest.mark.task_autograd

SHAPES = [(), (3,), (2, 3), (2, 1), (1, 3)]  # all broadcast together (to at most (2, 3))


class Engine:
    tanh, sigmoid, relu, exp, log = ad.tanh, ad.sigmoid, ad.relu, ad.exp, ad.log
    abs, sqrt, maximum, minimum, where = ad.abs, ad.sqrt, ad.maximum, ad.minimum, ad.where
    logsumexp, max = staticmethod(ad.logsumexp), staticmethod(ad.max)

    @staticmethod
    def sum(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return ad.sum(a, axis, keepdims)

    @staticmethod
    def mean(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return ad.mean(a, axis, keepdims)


class Torch:
    tanh, sigmoid, relu, exp, log = torch.tanh, torch.sigmoid, torch.relu, torch.exp, torch.log
    abs, sqrt, maximum, minimum = torch.abs, torch.sqrt, torch.maximum, torch.minimum
    where = torch.where

    @staticmethod
    def logsumexp(a: Any, axis: int, keepdims: bool) -> Any:
        return torch.logsumexp(a, dim=axis, keepdim=keepdims)

    @staticmethod
    def max(a: Any, axis: int, keepdims: bool) -> Any:
        return torch.amax(a, dim=axis, keepdim=keepdims)

    @staticmethod
    def sum(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return torch.sum(a) if axis is None else torch.sum(a, dim=axis, keepdim=keepdims)

    @staticmethod
    def mean(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return torch.mean(a) if axis is None else torch.mean(a, dim=axis, keepdim=keepdims)


# name -> (number of operands, rule(operands..., m) with m = Engine or Torch, which shapes fit)
def _any(*shapes: tuple[int, ...]) -> bool:
    return True


OPS: dict[str, tuple[int, Callable[..., Any], Callable[..., bool]]] = {
    "tanh": (1, lambda a, m: m.tanh(a), _any),
    "sigmoid": (1, lambda a, m: m.sigmoid(a), _any),
    "relu": (1, lambda a, m: m.relu(a), _any),
    "neg": (1, lambda a, m: -a, _any),
    "exp_tanh": (1, lambda a, m: m.exp(m.tanh(a)), _any),
    "log_1p_square": (1, lambda a, m: m.log(a * a + 1.0), _any),
    "square": (1, lambda a, m: a**2, _any),
    "constants": (1, lambda a, m: 2.0 - 0.5 * a / 3.0 + a * 1.5 - 1, _any),
    "sum": (1, lambda a, m: m.sum(a), _any),
    "mean": (1, lambda a, m: m.mean(a), _any),
    "sum_axis0": (1, lambda a, m: m.sum(a, 0, True), lambda s: len(s) == 2),
    "mean_axis1": (1, lambda a, m: m.mean(a, 1, True), lambda s: len(s) == 2),
    "sum_axis0_drop": (1, lambda a, m: m.sum(a, 0), lambda s: len(s) == 2),
    "add": (2, lambda a, b, m: a + b, _any),
    "sub": (2, lambda a, b, m: a - b, _any),
    "mul": (2, lambda a, b, m: a * b, _any),
    "div": (2, lambda a, b, m: a / (b * b + 1.0), _any),
    "pow": (2, lambda a, b, m: (a * a + 0.5) ** m.tanh(b), _any),
    "matmul": (2, lambda a, w, m: a @ w, lambda sa, sw: sa[-1:] == (3,) and sw == (3, 3)),
    "sum_axes01_keep": (1, lambda a, m: m.sum(a, (0, 1), True), lambda s: len(s) == 2),
    "mean_axes10": (1, lambda a, m: m.mean(a, (1, -2)), lambda s: len(s) == 2),
    "abs": (1, lambda a, m: m.abs(a), _any),
    "sqrt_1p_square": (1, lambda a, m: m.sqrt(a * a + 1.0), _any),
    "maximum": (2, lambda a, b, m: m.maximum(a, b), _any),
    "minimum": (2, lambda a, b, m: m.minimum(a, b), _any),
    "where_greater": (2, lambda a, b, m: m.where(a > b, a, b * b), _any),
    "logsumexp_last_keep": (1, lambda a, m: m.logsumexp(a, -1, True), lambda s: len(s) >= 1),
    "max_axis0_keep": (1, lambda a, m: m.max(a, 0, True), lambda s: len(s) == 2),
}

# Operations with a plain Python float ``c`` drawn by hypothesis for each step (the same float is
# given to the engine and to torch): numbers on either side of every operator, as in ``2.5 * x``.
CONST_OPS: dict[str, tuple[int, Callable[..., Any], Callable[..., bool]]] = {
    "c_times": (1, lambda a, c, m: c * a, _any),
    "times_c": (1, lambda a, c, m: a * c, _any),
    "plus_c": (1, lambda a, c, m: a + c, _any),
    "c_plus": (1, lambda a, c, m: c + a, _any),
    "minus_c": (1, lambda a, c, m: a - c, _any),
    "c_minus": (1, lambda a, c, m: c - a, _any),
    "c_over": (1, lambda a, c, m: c / (1.0 + a**2), _any),
    "over_c": (1, lambda a, c, m: a / (abs(c) + 0.5), _any),
    "pow_c": (1, lambda a, c, m: (a * a + 0.5) ** c, _any),
    "c_pow": (1, lambda a, c, m: (abs(c) + 0.1) ** m.tanh(a), _any),
    "c_mix": (2, lambda a, b, c, m: (c - a) * (b + c) / (2.0 + c * c), _any),
}
ALL_OPS = {**OPS, **CONST_OPS}
CONSTANTS = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_subnormal=False)


def _apply(name: str, operands: list[Any], c: float, m: Any) -> Any:
    rule = ALL_OPS[name][1]
    return rule(*operands, c, m) if name in CONST_OPS else rule(*operands, m)


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(v.shape) if isinstance(v, (V, torch.Tensor)) else np.shape(v)


Step = tuple[str, tuple[int, ...], float]


def draw_program(data: Any, n_inputs: int) -> tuple[list[Step], list]:
    """Steps (operation, operand positions in the pool, a plain float constant for the ops of
    ``CONST_OPS``); the pool holds shapes only here."""
    shapes = [data.draw(st.sampled_from(SHAPES)) for _ in range(n_inputs)] + [(3, 3)]
    steps: list[Step] = []
    w = n_inputs  # position of the (3, 3) matrix: only ever the right operand of matmul
    for _ in range(data.draw(st.integers(1, 8))):
        name = data.draw(st.sampled_from(sorted(ALL_OPS)))
        c = data.draw(CONSTANTS) if name in CONST_OPS else 0.0
        arity, _, fits = ALL_OPS[name]
        others = [k for k in range(len(shapes)) if k != w]
        picks = tuple(data.draw(st.sampled_from(others)) for _ in range(arity))
        if name == "matmul":
            picks = (picks[0], w)
        if not fits(*(shapes[k] for k in picks)):
            continue
        shapes.append(_eval_shape(name, [shapes[k] for k in picks]))
        assert np.broadcast_shapes(shapes[-1], (2, 3)) == (2, 3)  # stays in the family
        steps.append((name, picks, c))
    return steps, shapes


def _eval_shape(name: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    fake = [np.ones(s) for s in shapes]
    return np.shape(_apply(name, fake, 1.0, _NumpyShapes))


class _NumpyShapes:
    tanh = sigmoid = relu = exp = log = abs = sqrt = staticmethod(lambda a: a)
    maximum = minimum = staticmethod(np.maximum)
    where = staticmethod(np.where)
    logsumexp = max = staticmethod(lambda a, axis, keepdims: np.max(a, axis=axis,
                                                                     keepdims=keepdims))

    @staticmethod
    def sum(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return np.sum(a, axis=axis, keepdims=keepdims)

    mean = sum


def run(steps: list[Step], pool: list[Any], m: type) -> list[Any]:
    pool = list(pool)
    for name, picks, c in steps:
        pool.append(_apply(name, [pool[k] for k in picks], c, m))
    return pool


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_inputs=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_random_graphs_match_torch(data: Any, n_inputs: int, seed: int) -> None:
    steps, shapes = draw_program(data, n_inputs)
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-1.5, 1.5, size=s) for s in shapes[: n_inputs + 1]]
    inputs = [float(x) if x.ndim == 0 else x for x in inputs]
    constant = [data.draw(st.booleans()) for _ in inputs]
    constant[data.draw(st.integers(0, len(inputs) - 1))] = False  # at least one variable

    nodes = [x if c and np.ndim(x) else V(x) for x, c in zip(inputs, constant, strict=True)]
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=not (c and np.ndim(x)))
               for x, c in zip(inputs, constant, strict=True)]
    pool, tpool = run(steps, nodes, Engine), run(steps, tensors, Torch)
    L = Engine.sum(pool[-1]) + Engine.sum(pool[-2]) * 0.5 + Engine.sum(pool[0])
    Lt = Torch.sum(tpool[-1]) + Torch.sum(tpool[-2]) * 0.5 + Torch.sum(tpool[0])
    L.backward()
    if Lt.requires_grad:  # else L depends on no variable: every grad below must be 0
        Lt.backward()
    scale = 1.0 + abs(Lt.item())
    gc.assert_close(Lt.item(), L.value, rtol=1e-10, atol=1e-12 * scale, name="L")
    for k, (node, t) in enumerate(zip(pool, tpool, strict=True)):
        if isinstance(node, V):
            gc.assert_close(t.detach().numpy(), np.asarray(node.value), rtol=1e-10,
                            atol=1e-12 * scale, name=f"value of pool[{k}]")
    for k, (node, t) in enumerate(zip(nodes, tensors, strict=True)):
        if isinstance(node, V):
            expected = np.zeros(np.shape(node.value)) if t.grad is None else t.grad.numpy()
            g_scale = 1.0 + float(np.max(np.abs(expected), initial=0.0))
            gc.assert_close(expected, np.asarray(node.grad, dtype=float) + 0 * expected,
                            rtol=1e-8, atol=1e-11 * g_scale, name=f"grad of input {k}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_inputs=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_forward_equals_reverse_equals_torch_jacobian(data: Any, n_inputs: int, seed: int) -> None:
    steps, shapes = draw_program(data, n_inputs)
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-1.5, 1.5, size=s) for s in shapes[: n_inputs + 1]]
    which = data.draw(st.integers(0, len(inputs) - 1))  # the variable; the rest are constants

    def f(x: Any) -> Any:
        pool = [x if k == which else (float(v) if v.ndim == 0 else v) for k, v in
                enumerate(inputs)]
        return run(steps, pool, Engine)[-1]

    def f_torch(xt: Any) -> Any:
        pool = [xt if k == which else torch.tensor(v, dtype=torch.float64) for k, v in
                enumerate(inputs)]
        return run(steps, pool, Torch)[-1]

    x = inputs[which]
    out = f(V(x))
    J_fwd = ad.jacobian(f, x, mode="forward")
    J_rev = ad.jacobian(f, x, mode="reverse")
    out_t = f_torch(torch.tensor(x, dtype=torch.float64, requires_grad=True))
    if not out_t.requires_grad:  # the output does not depend on x
        np.testing.assert_array_equal(J_fwd, 0.0)
        np.testing.assert_array_equal(J_rev, 0.0)
        return
    J_t = gc.torch_jacobian(f_torch, x)
    scale = 1.0 + float(np.max(np.abs(J_t), initial=0.0))
    assert J_fwd.shape == J_rev.shape == J_t.shape == (np.size(np.asarray(out.value)), x.size)
    gc.assert_close(J_t, J_fwd, rtol=1e-8, atol=1e-11 * scale, name="forward vs torch")
    gc.assert_close(J_t, J_rev, rtol=1e-8, atol=1e-11 * scale, name="reverse vs torch")
    gc.assert_close(J_rev, J_fwd, rtol=1e-9, atol=1e-12 * scale, name="forward vs reverse")


def test_jacobian_of_a_fixed_function_by_both_modes_and_finite_differences() -> None:
    W = np.arange(12.0).reshape(4, 3) / 10

    def f(x: Any) -> Any:
        return ad.tanh(W @ x) * ad.sum(x * x)

    x = np.array([0.3, -0.7, 1.1])
    f_np = lambda v: f(V(v)).value  # noqa: E731
    J_fd = gc.numerical_jacobian(f_np, x)
    for mode in ("forward", "reverse"):
        gc.assert_close(J_fd, ad.jacobian(f, x, mode=mode), rtol=1e-6, atol=1e-8, name=mode)
    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(np.eye(3), ad.jacobian(lambda v: v, x, mode=mode))
        J0 = ad.jacobian(lambda v: np.ones(4), x, mode=mode)  # ignores its input
        assert J0.shape == (4, 3) and not J0.any()
    _, g = ad.vjp(lambda v: ad.exp(np.ones(2)), x, np.ones(2))
    assert g.dtype == np.float64 and g.shape == (3,) and not g.any()
    with pytest.raises(ValueError, match="mode must be"):
        ad.jacobian(f, x, mode="sideways")
    with pytest.raises(ValueError, match="tangent dx has shape"):
        ad.jvp(f, x, np.ones(2))


def test_jvp_and_vjp_are_adjoint() -> None:
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 3))

    def f(x: Any) -> Any:
        return ad.sigmoid(A @ x) * (x @ x)

    x, dx, p = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(4)
    _, Jdx = ad.jvp(f, x, dx)
    _, JTp = ad.vjp(f, x, p)
    assert float(p @ Jdx) == pytest.approx(float(JTp @ dx), rel=1e-12)
