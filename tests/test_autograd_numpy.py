"""mmids.autograd speaks numpy: every dispatched ufunc and function on nodes gives numpy's value
and torch's derivatives (VJP, JVP; float64, hypothesis-drawn shapes, finite differences too);
code written once for arrays (a two-layer MLP) runs on nodes; unsupported calls raise a clear
TypeError; the scalar path stays in Python floats; an unreached leaf has a zero gradient."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mmids.autograd as ad
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V
from mmids.autograd import dispatch
from tests.autograd_checks import check_all_inputs, check_function

pytestmark = pytest.mark.task_autograd

SEEDS = st.integers(0, 2**16)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def _x(shape: tuple[int, ...], seed: int, domain: str = "any") -> np.ndarray:
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)
    if domain == "positive":
        return np.abs(x) + 0.3
    if domain == "away_from_zero":
        return np.where(x >= 0, x + 0.2, x - 0.2)
    return x


# ufunc -> (torch function, domain of the inputs); the binary ones are tried with the node on
# either side and a constant array on the other (an ndarray on the left calls __array_ufunc__)
UNARY = {
    np.negative: (torch.neg, "any"), np.exp: (torch.exp, "any"), np.log: (torch.log, "positive"),
    np.tanh: (torch.tanh, "any"), np.absolute: (torch.abs, "away_from_zero"),
    np.sqrt: (torch.sqrt, "positive"), np.square: (torch.square, "any"),
}
BINARY = {
    np.add: (torch.add, "any"), np.subtract: (torch.sub, "any"),
    np.multiply: (torch.mul, "any"), np.divide: (torch.div, "away_from_zero"),
    np.power: (torch.pow, "positive"), np.maximum: (torch.maximum, "any"),
    np.minimum: (torch.minimum, "any"),
}
PAIRS = st.sampled_from([((), ()), ((3,), ()), ((), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)),
                         ((4,), (4,))])
MATMUL_SHAPES = st.sampled_from([((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
                                 ((1, 3), (3, 1))])


def test_the_ufunc_table_is_what_these_tests_cover() -> None:
    assert set(dispatch.UFUNCS) == set(UNARY) | set(BINARY) | {np.matmul}


@pytest.mark.parametrize("ufunc", list(UNARY), ids=lambda u: u.__name__)
@given(shape=SHAPES, seed=SEEDS)
def test_unary_ufuncs_on_nodes(ufunc: np.ufunc, shape: tuple[int, ...], seed: int) -> None:
    f_torch, domain = UNARY[ufunc]
    x = _x(shape, seed, domain)
    gc.assert_close(ufunc(x), np.asarray(ufunc(V(x)).value), rtol=1e-15, name="numpy value")
    check_function(ufunc, f_torch, x, seed=seed, name=f"numpy.{ufunc.__name__}")


@pytest.mark.parametrize("ufunc", list(BINARY), ids=lambda u: u.__name__)
@given(shapes=PAIRS, seed=SEEDS)
def test_binary_ufuncs_on_nodes(ufunc: np.ufunc, shapes: Any, seed: int) -> None:
    f_torch, domain = BINARY[ufunc]
    rng = np.random.default_rng(seed)
    a, b = _x(shapes[0], seed, domain), _x(shapes[1], seed + 1, domain)
    if ufunc in (np.maximum, np.minimum):  # odd and even multiples of 0.1: no near-ties
        a = 0.1 * (2 * rng.integers(-10, 10, size=shapes[0]) + 1.0)
        b = 0.2 * rng.integers(-10, 10, size=shapes[1]).astype(float)
    ta, tb = torch.tensor(a), torch.tensor(b)
    gc.assert_close(ufunc(a, b), np.asarray(ufunc(V(a), b).value), rtol=1e-15)
    check_function(lambda v: ufunc(v, b), lambda t: f_torch(t, tb), a, seed=seed,
                   name=f"numpy.{ufunc.__name__}(node, array)")
    check_function(lambda v: ufunc(a, v), lambda t: f_torch(ta, t), b, seed=seed,
                   name=f"numpy.{ufunc.__name__}(array, node)")
    check_all_inputs(ufunc, f_torch, [a, b], seed=seed, name=f"numpy.{ufunc.__name__}")


@given(shapes=MATMUL_SHAPES, seed=SEEDS)
def test_matmul_and_dot_with_an_array_on_the_left(shapes: Any, seed: int) -> None:
    A, B = _x(shapes[0], seed), _x(shapes[1], seed + 1)
    tA = torch.tensor(A)
    for f in (np.matmul, np.dot, lambda a, b: a @ b):
        gc.assert_close(A @ B, np.asarray(f(A, V(B)).value), rtol=1e-14)
        check_function(lambda v, f=f: f(A, v), lambda t: tA @ t, B, seed=seed, name="A @ node")
    check_all_inputs(np.dot, torch.matmul, [A, B], seed=seed, name="numpy.dot")


def _axes(data: Any, ndim: int) -> Any:
    if ndim == 0:
        return None
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), min_size=1, unique=True).map(tuple)
    return data.draw(st.one_of(st.none(), one, many), label="axis")


def _dims(axis: Any, ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)


REDUCTIONS = {np.sum: torch.sum, np.mean: torch.mean, np.max: torch.amax, np.amax: torch.amax,
              np.min: torch.amin, np.amin: torch.amin}


@pytest.mark.parametrize("func", list(REDUCTIONS), ids=lambda f: f.__name__)
@given(data=st.data(), shape=SHAPES, seed=SEEDS, keepdims=st.booleans())
def test_numpy_reductions_on_nodes(func: Any, data: Any, shape: tuple[int, ...], seed: int,
                                   keepdims: bool) -> None:
    axis = _axes(data, len(shape))
    dims = _dims(axis, len(shape))
    x = _x(shape, seed) * 10  # distinct entries: no ties for max and min

    def f_torch(t: torch.Tensor) -> torch.Tensor:
        return REDUCTIONS[func](t, dim=dims, keepdim=keepdims) if dims else t

    gc.assert_close(func(x, axis=axis, keepdims=keepdims),
                    np.asarray(func(V(x), axis=axis, keepdims=keepdims).value), rtol=1e-14)
    check_function(lambda v: func(v, axis, keepdims=keepdims), f_torch, x, seed=seed,
                   name=f"numpy.{func.__name__}(axis={axis}, keepdims={keepdims})")


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), seed=SEEDS)
def test_numpy_shape_functions_on_nodes(shape: tuple[int, ...], seed: int) -> None:
    x = _x(shape, seed)
    node = V(x)
    assert (np.shape(node), np.ndim(node), np.size(node)) == (x.shape, x.ndim, x.size)
    assert np.size(node, -1) == shape[-1]
    check_function(lambda v: np.reshape(v, (-1,)), lambda t: t.reshape(-1), x, seed=seed,
                   name="numpy.reshape")
    check_function(np.transpose, lambda t: t.permute(tuple(reversed(range(len(shape))))), x,
                   seed=seed, name="numpy.transpose")
    other = _x(shape, seed + 1)
    for func, f_torch in ((np.concatenate, torch.cat), (np.stack, torch.stack)):
        for axis in (0, -1):
            check_all_inputs(lambda a, b, f=func, k=axis: f([a, b, other], axis=k),
                             lambda a, b, f=f_torch, k=axis: f([a, b, torch.tensor(other)],
                                                               dim=k),
                             [x, _x(shape, seed + 2)], seed=seed, name=f"numpy.{func.__name__}")
    mask = x > 0
    check_all_inputs(lambda a, b: np.where(mask, a, b),
                     lambda a, b: torch.where(torch.tensor(mask), a, b), [x, other], seed=seed,
                     name="numpy.where")


def test_the_function_table_is_what_these_tests_cover() -> None:
    covered = set(REDUCTIONS) | {np.reshape, np.transpose, np.concatenate, np.stack, np.where,
                                 np.dot, np.shape, np.ndim, np.size}
    assert set(dispatch.FUNCTIONS) == covered


# ---- code written once for arrays runs on nodes ---------------------------------------------


def two_layer_loss(w: Any, X: np.ndarray, labels: np.ndarray, m: int, K: int) -> Any:
    """Mean cross-entropy of the MLP ``x -> W2 (tanh(W1 (x, 1)), 1)`` on the rows of ``X``; the
    parameters ``w`` are ``W1`` (m × (d+1)) then ``W2`` (K × (m+1)), rows stacked. Plain numpy:
    it runs on an array ``w`` and on a node ``w`` alike."""
    N, d = X.shape
    W1 = w[: m * (d + 1)].reshape(m, d + 1)  # split the parameter vector into the two layers
    W2 = w[m * (d + 1):].reshape(K, m + 1)
    ones = np.ones((N, 1))
    H = np.tanh(np.concatenate([X, ones], axis=1) @ W1.T)  # the bias as a column of ones
    T = np.concatenate([H, ones], axis=1) @ W2.T  # logits, N × K
    T = T - np.max(T, axis=1, keepdims=True)
    E = np.exp(T)
    probabilities = E / np.sum(E, axis=1, keepdims=True)  # softmax
    return -np.mean(np.log(probabilities[np.arange(N), labels]))  # the true class's entry


def two_layer_loss_torch(w: torch.Tensor, X: np.ndarray, labels: np.ndarray, m: int,
                         K: int) -> torch.Tensor:
    N, d = X.shape
    W1, W2 = w[: m * (d + 1)].reshape(m, d + 1), w[m * (d + 1):].reshape(K, m + 1)
    Xt, ones = torch.tensor(X), torch.ones((N, 1), dtype=torch.float64)
    H = torch.tanh(torch.cat([Xt, ones], dim=1) @ W1.T)
    logits = torch.cat([H, ones], dim=1) @ W2.T
    return torch.nn.functional.cross_entropy(logits, torch.tensor(labels))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_written_for_numpy_arrays_gives_torchs_gradient_on_nodes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    N, d, m, K = 6, 3, 4, 3
    X, labels = rng.standard_normal((N, d)), rng.integers(0, K, size=N)
    w = rng.standard_normal(m * (d + 1) + K * (m + 1))
    on_arrays = two_layer_loss(w, X, labels, m, K)
    assert isinstance(on_arrays, np.floating)  # the same code, numpy only: a number
    node = V(w)
    loss = two_layer_loss(node, X, labels, m, K)
    assert isinstance(loss, V) and isinstance(loss.value, float)
    gc.assert_close(on_arrays, loss.value, rtol=1e-14, name="same value on arrays and nodes")
    loss.backward()

    def gradient(v: np.ndarray) -> np.ndarray:
        v_node = V(v)
        two_layer_loss(v_node, X, labels, m, K).backward()
        return v_node.grad

    report = gc.check_gradient(
        lambda v: two_layer_loss(v, X, labels, m, K), gradient, w,
        f_torch=lambda t: two_layer_loss_torch(t, X, labels, m, K), name="MLP gradient")
    assert report.ok, str(report)
    expected = gc.torch_gradient(lambda t: two_layer_loss_torch(t, X, labels, m, K), w)
    gc.assert_close(expected, node.grad, rtol=1e-10, atol=1e-13, name="dL/dw vs torch")


# ---- errors, types, unreached leaves, comparisons -------------------------------------------


@pytest.mark.parametrize(("call", "name"), [
    (lambda x: np.sin(x), "numpy.sin"),
    (lambda x: np.cumsum(x), "numpy.cumsum"),
    (lambda x: np.linalg.norm(x), "numpy.linalg.norm"),
    (lambda x: np.add.reduce(x), "numpy.add.reduce"),
    (lambda x: np.multiply.outer(x, x), "numpy.multiply.outer"),
])
def test_an_unsupported_numpy_function_is_a_type_error_listing_the_supported(call, name) -> None:
    with pytest.raises(TypeError) as caught:
        call(V(np.arange(3.0)))
    message = str(caught.value)
    assert message.startswith(f"{name} is not supported on an AutogradValue"), message
    for supported in ("numpy.exp", "numpy.matmul", "numpy.sum", "numpy.concatenate",
                      "numpy.where", "numpy.greater"):
        assert supported in message, (supported, message)


def test_unsupported_arguments_are_named() -> None:
    x = V(np.arange(3.0))
    with pytest.raises(TypeError, match=r"numpy.sum on an AutogradValue takes the arguments "
                                        r"\(a, axis, keepdims\), not dtype"):
        np.sum(x, dtype=np.float32)
    with pytest.raises(TypeError, match=r"numpy.exp on an AutogradValue takes no keyword"):
        np.exp(x, where=np.array([True, False, True]))
    with pytest.raises(TypeError, match=r"a node cannot be written into an array .* a = a \+ x"):
        a = np.zeros(3)
        a += x
    with pytest.raises(TypeError, match=r"numpy.where\(condition\) with one argument"):
        np.where(x)
    with pytest.raises(ValueError, match="order='C' only"):
        np.reshape(x, (3, 1), order="F")
    with pytest.raises(TypeError, match="expected an AutogradValue, a real number or a numpy "
                                        "array, not str"):
        np.concatenate([x, "ab"])  # type: ignore[list-item]


@pytest.mark.parametrize("make", [
    lambda x: 2 ** x, lambda x: np.float64(3) * x, lambda x: x * np.float64(3),
    lambda x: np.int64(2) + x, lambda x: x ** np.int32(2), lambda x: x * np.array(2.0),
    lambda x: np.array(2.0) - x, lambda x: np.exp(x), lambda x: np.sqrt(x), lambda x: abs(x),
    lambda x: np.maximum(x, 0), lambda x: np.sum(x), lambda x: np.where(True, x, 0.0),
    lambda x: np.stack([x, x])[1], lambda x: np.reshape(x, (1, 1))[0, 0], lambda x: x.T,
    lambda x: ad.logsumexp(x), lambda x: np.max(x), lambda x: np.float32(1.5) / x,
])
def test_the_scalar_path_gives_python_floats(make) -> None:
    x = V(3.0)
    y = make(x)
    assert isinstance(y, V) and type(y.value) is float, (type(y).__name__, type(y.value))
    y.backward()
    assert type(x.grad) is float and type(y.grad) is float


def test_an_unreached_leaf_has_a_zero_gradient_of_its_shape() -> None:
    A, b, unused = V(np.ones((2, 3))), V(2.0), V(np.ones(4))
    assert A.grad.shape == (2, 3) and not A.grad.any() and b.grad == 0.0  # from the start
    L = ad.sum(A * 3.0)
    L.backward()
    np.testing.assert_array_equal(np.full((2, 3), 3.0), A.grad)
    assert type(b.grad) is float and b.grad == 0.0  # never reached: still a zero float
    np.testing.assert_array_equal(np.zeros(4), unused.grad)
    # an optimiser step works on every parameter, reached or not
    from mmids.autograd import nn

    nn.SGD([A, b, unused], lr=0.1).step()
    np.testing.assert_array_equal(np.ones(4), unused.value)
    assert A.grad.dtype == np.float64


def test_comparisons_compare_values_and_nodes_stay_hashable() -> None:
    x, y = V(np.array([-1.0, 2.0])), V(2.0)
    assert (x > 0).tolist() == [False, True] and (0 < x).tolist() == [False, True]
    assert (x == y).tolist() == [False, True] and (np.array([2.0, 1.0]) >= x).tolist() == [
        True, False]
    assert (y <= 2) is True and (y != 2.0) is False and (y == "2") is False
    assert len({x, y, V(2.0)}) == 3  # hashing by identity: equal values, distinct nodes
    assert {x: "x"}[x] == "x" and y in {x, y} and V(2.0) not in {x, y}
    with pytest.raises(TypeError):
        _ = x < "a"


def test_object_arrays_of_scalar_nodes_still_work() -> None:
    nodes = np.array([V(0.5), V(-1.0)], dtype=object)
    total = np.sum(np.exp(nodes) * np.array([1.0, 2.0]))  # numpy's object loops call the nodes
    assert isinstance(total, V)
    total.backward()
    gc.assert_close(np.array([np.exp(0.5), 2 * np.exp(-1.0)]),
                    np.array([n.grad for n in nodes]))
