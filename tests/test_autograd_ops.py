"""Every operation of mmids.autograd.ops: its VJP (reverse) and JVP (forward) against central
finite differences and torch.autograd in float64, on random shapes with broadcasting and batches,
with respect to each input (the other input also a node, or a plain constant)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import mmids.autograd as ad
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V
from mmids.autograd import ops

pytestmark = pytest.mark.task_autograd


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[..., Any]  # engine: operands -> node
    torch_fn: Callable[..., Any]  # torch: tensors -> tensor
    shapes: tuple[tuple[int, ...], ...]
    domain: str = "any"  # "any", "positive", "away_from_zero"


def _sample(shape: tuple[int, ...], domain: str, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(-2.0, 2.0, size=shape)
    if domain == "positive":
        x = np.abs(x) + 0.3
    elif domain == "away_from_zero":
        x = np.sign(x) * (np.abs(x) + 0.2)
    return x


UNARY_SHAPES = [(), (4,), (3, 4)]
BINARY_SHAPES = [((), (3,)), ((3,), ()), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), (2, 3))]
MATMUL_SHAPES = [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)), ((5, 3), (3, 1))]

CASES: list[Case] = []
for s in UNARY_SHAPES:
    CASES += [
        Case("exp", ad.exp, torch.exp, (s,)),
        Case("log", ad.log, torch.log, (s,), "positive"),
        Case("sigmoid", ad.sigmoid, torch.sigmoid, (s,)),
        Case("tanh", ad.tanh, torch.tanh, (s,)),
        Case("relu", ad.relu, torch.relu, (s,), "away_from_zero"),
        Case("neg", lambda a: -a, lambda a: -a, (s,)),
        Case("square", lambda a: a**2, lambda a: a**2, (s,)),
        Case("pow_const", lambda a: a**1.5, lambda a: a**1.5, (s,), "positive"),
        Case("sum", ad.sum, torch.sum, (s,)),
        Case("mean", ad.mean, torch.mean, (s,)),
    ]
for axis in (0, 1):
    for keep in (False, True):
        CASES += [
            Case(f"sum_axis{axis}_keep{keep}", lambda a, ax=axis, k=keep: ad.sum(a, ax, k),
                 lambda a, ax=axis, k=keep: torch.sum(a, dim=ax, keepdim=k), ((3, 4),)),
            Case(f"mean_axis{axis}_keep{keep}", lambda a, ax=axis, k=keep: ad.mean(a, ax, k),
                 lambda a, ax=axis, k=keep: torch.mean(a, dim=ax, keepdim=k), ((3, 4),)),
        ]
for axes in ((0, 2), (-1, 0), (1,), (0, 1, 2), (2, -2)):  # tuple axes, as in numpy
    for keep in (False, True):
        CASES += [
            Case(f"sum_axes{axes}_keep{keep}", lambda a, ax=axes, k=keep: ad.sum(a, ax, k),
                 lambda a, ax=axes, k=keep: torch.sum(a, dim=ax, keepdim=k), ((2, 3, 4),)),
            Case(f"mean_axes{axes}_keep{keep}", lambda a, ax=axes, k=keep: a.mean(ax, k),
                 lambda a, ax=axes, k=keep: torch.mean(a, dim=ax, keepdim=k), ((2, 3, 4),)),
        ]
for sa, sb in BINARY_SHAPES:
    CASES += [
        Case("add", lambda a, b: a + b, lambda a, b: a + b, (sa, sb)),
        Case("sub", lambda a, b: a - b, lambda a, b: a - b, (sa, sb)),
        Case("mul", lambda a, b: a * b, lambda a, b: a * b, (sa, sb)),
        Case("div", lambda a, b: a / b, lambda a, b: a / b, (sa, sb), "away_from_zero"),
        Case("pow", lambda a, b: a**b, lambda a, b: a**b, (sa, sb), "positive"),
    ]
for sa, sb in MATMUL_SHAPES:
    CASES.append(Case("matmul", ad.matmul, torch.matmul, (sa, sb)))

IDS = [f"{c.name}-{'x'.join(map(str, c.shapes))}" for c in CASES]


def _pieces(case: Case, i: int, const_other: bool, seed: int):
    """Engine and torch functions of input ``i`` alone (others fixed), and a point."""
    rng = np.random.default_rng(seed)
    values = [_sample(s, case.domain, rng) for s in case.shapes]

    def operands(x: Any) -> list[Any]:
        ops_ = []
        for j, v in enumerate(values):
            if j == i:
                ops_.append(x)
            else:
                ops_.append(v if const_other and v.ndim else V(v))
        return ops_

    def f_engine(x: Any) -> Any:
        return case.build(*operands(x))

    def f_numpy(x: np.ndarray) -> np.ndarray:
        return np.asarray(f_engine(V(x)).value)

    def f_torch(xt: Any) -> Any:
        args = [xt if j == i else torch.tensor(v, dtype=torch.float64) for j, v in
                enumerate(values)]
        return case.torch_fn(*args)

    return f_engine, f_numpy, f_torch, values[i], rng


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vjp_matches_finite_differences_and_torch(case: Case) -> None:
    for i in range(len(case.shapes)):
        for const_other in (False, True) if len(case.shapes) > 1 else (False,):
            f_engine, f_numpy, f_torch, x, rng = _pieces(case, i, const_other, seed=i)
            report = gc.check_vjp(
                f_numpy,
                lambda x, p, f=f_engine: np.asarray(ad.vjp(f, x, p)[1]),
                x, rng=rng, f_torch=f_torch, name=f"{case.name} input {i}",
            )
            assert report.ok, str(report)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp_matches_finite_differences_and_torch(case: Case) -> None:
    for i in range(len(case.shapes)):
        f_engine, f_numpy, f_torch, x, rng = _pieces(case, i, const_other=False, seed=10 + i)
        dx = rng.standard_normal(x.shape)
        value, tangent = ad.jvp(f_engine, x, dx)
        gc.assert_close(f_numpy(x), np.asarray(value), name=f"{case.name} value")
        expected = (gc.numerical_jacobian(f_numpy, x) @ dx.ravel()).reshape(np.shape(value))
        gc.assert_close(expected, np.asarray(tangent), rtol=1e-5, atol=1e-7,
                        name=f"{case.name} jvp vs finite differences")
        by_torch = (gc.torch_jacobian(f_torch, x) @ dx.ravel()).reshape(np.shape(value))
        gc.assert_close(by_torch, np.asarray(tangent), rtol=1e-10, atol=1e-12,
                        name=f"{case.name} jvp vs torch")


def test_every_operation_of_the_table_is_covered() -> None:
    # every operation class reachable from ``ops`` (the whole table), and where it is tested
    table = {
        name for name, obj in vars(ops).items()
        if isinstance(obj, type) and issubclass(obj, V) and obj is not V
    }
    here = {"Exp", "Log", "Sigmoid", "Tanh", "Relu", "Neg", "Pow", "Sum", "Mean", "Add", "Sub",
            "Mul", "Div", "MatMul"}
    in_test_autograd_array_ops = {"GetItem", "Reshape", "Transpose", "Concatenate", "Stack",
                                  "Where", "Maximum", "Minimum", "Abs", "Sqrt", "LogSumExp",
                                  "Max", "Min"}
    assert table == here | in_test_autograd_array_ops
    assert set(ops.__all__) == table


def test_matmul_vjp_with_respect_to_a_matrix_is_an_outer_product() -> None:
    rng = np.random.default_rng(3)
    X, w, a_bar = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    Xn, wn = V(X), V(w)
    (ad.matmul(Xn, wn)).backward(a_bar)
    gc.assert_close(np.outer(a_bar, w), Xn.grad)  # dL/dX = (dL/da) w^T
    gc.assert_close(X.T @ a_bar, wn.grad)  # dL/dw = X^T (dL/da)


def test_matmul_skips_the_product_for_constant_data() -> None:
    X = np.ones((4, 3))
    node = ops.MatMul(X, V(np.ones(3)))
    contributions = node.vjp(np.ones(4))  # p = ∇_{Xw} 𝓛
    assert contributions[0] is None and contributions[1].shape == (3,)


# ---- Pow at the edges: torch's conventions where the formulas give 0·∞ -----------------------

POW_EDGES = [(0.0, 0.0), (0.0, 1.0), (0.0, 2.0), (0.0, 3.0), (0.0, 0.5), (0.0, -1.0),
             (0.0, -0.5), (-2.0, 2.0), (-2.0, 0.0), (-2.0, 3.0), (2.0, 0.0), (1.5, -1.0)]


def _pow_pair(a: float, b: float, variant: str, kind: str):
    """(base, exponent) for the engine and for torch: nodes where differentiated."""
    wrap = (lambda v: v) if kind == "float" else (lambda v: np.full((2, 3), v))
    av, bv = wrap(a), wrap(b)
    base = av if variant == "const_base" else V(av)
    exponent = bv if variant == "const_exponent" else V(bv)
    tb = av if variant == "const_base" and kind == "float" else torch.tensor(
        av, dtype=torch.float64, requires_grad=variant != "const_base")
    te = bv if variant == "const_exponent" and kind == "float" else torch.tensor(
        bv, dtype=torch.float64, requires_grad=variant != "const_exponent")
    return base, exponent, tb, te


@pytest.mark.parametrize("kind", ["float", "array"])
@pytest.mark.parametrize("variant", ["both", "const_exponent", "const_base"])
@pytest.mark.parametrize(("a", "b"), POW_EDGES, ids=[f"{a}**{b}" for a, b in POW_EDGES])
def test_pow_edge_cases_match_torch(a: float, b: float, variant: str, kind: str) -> None:
    import warnings

    base, exponent, tb, te = _pow_pair(a, b, variant, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 0 ** -1 = inf: numpy reports it in the forward pass
        y = base**exponent
        yt = torch.pow(tb, te)
    L = ad.sum(y)
    yt.sum().backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        L.backward()
    np.testing.assert_array_equal(yt.detach().numpy(), np.asarray(y.value))
    for node, t in ((base, tb), (exponent, te)):
        if isinstance(node, V):
            np.testing.assert_allclose(np.asarray(node.grad), t.grad.numpy(), rtol=1e-14,
                                       atol=0, err_msg=f"{variant}: grad of {t}")
    warned = a < 0 and variant != "const_exponent"  # the derivative in b needs log of a < 0
    assert len(caught) == int(warned), [str(w.message) for w in caught]
    for w in caught:  # reported at the user's line (L.backward() above), not inside mmids
        assert "derivative in the exponent" in str(w.message) and w.filename == __file__


def test_pow_skips_the_derivative_of_a_constant_input() -> None:
    x = V(np.array([0.0, 1.0, 4.0]))
    assert ops.Pow(x, 0.5).grads(*ops.Pow(x, 0.5).args)[1] == 0.0  # no log of the base
    node = ops.Pow(np.array([0.5, 2.0]), V(-1.0))  # a constant base: no b a^(b-1)
    local_base = node.grads(*node.args)[0]
    assert isinstance(local_base, float) and local_base == 0.0


def test_log_warning_points_at_the_users_line() -> None:
    with pytest.warns(RuntimeWarning, match="log of a non-positive value") as caught:
        ad.log(V(np.array([1.0, -1.0])))
        V(0.0).log()
    assert [w.filename for w in caught] == [__file__, __file__]


def test_sum_and_mean_over_no_axes_and_bad_tuple_axes() -> None:
    x = np.arange(6.0).reshape(2, 3)
    for f, ref in ((ad.sum, np.sum), (ad.mean, np.mean)):
        node = V(x)
        out = f(node, ())  # numpy: reduce over no axis, the identity
        gc.assert_close(ref(x, axis=()), out.value)
        ad.sum(out * x).backward()
        gc.assert_close(x, node.grad)
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range .* shape \(2, 3\)"):
        ad.sum(V(x), (0, 2))
    with pytest.raises(ValueError, match=r"mean: axis \(1, -1\) names the same axis twice"):
        ad.mean(V(x), (1, -1))
    with pytest.raises(TypeError, match=r"sum: axis must be an int, a tuple of ints or None"):
        ad.sum(V(x), [0, 1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"mean: axis must be an int, a tuple of ints or None"):
        V(x).mean((0, 1.0))  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "f_ad", "f_torch"), [
    ("log(0)", lambda x: ad.log(x), torch.log),
    ("1/x at 0", lambda x: 1.0 / x, lambda x: 1.0 / x),
    ("x/x at 0", lambda x: x / x, lambda x: x / x),
    ("x/(x-x) at 0", lambda x: x / (x - x), lambda x: x / (x - x)),
])
@pytest.mark.parametrize("kind", ["float", "array"])
def test_division_by_zero_gives_torchs_inf_and_nan_with_a_warning(
        name: str, f_ad: Callable, f_torch: Callable, kind: str) -> None:
    x = V(0.0) if kind == "float" else V(np.zeros(2))
    with pytest.warns(RuntimeWarning):
        out = f_ad(x)
        ad.sum(out).backward() if kind == "array" else out.backward()
    xt = torch.zeros(() if kind == "float" else (2,), dtype=torch.float64, requires_grad=True)
    yt = f_torch(xt)
    yt.sum().backward()
    np.testing.assert_array_equal(np.asarray(out.value), yt.detach().numpy())
    np.testing.assert_array_equal(np.asarray(x.grad), xt.grad.numpy())
