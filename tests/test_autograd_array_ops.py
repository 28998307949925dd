"""The operations of mmids.autograd.ops_shape and ops_array and the newer element-wise ones:
values, VJPs and JVPs against torch (torch.autograd, torch.func.jvp) in float64 and central
finite differences, on hypothesis-drawn shapes, indices and axes (negative axes, size-1 axes,
repeated indices), with respect to each input alone and to all inputs at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mmids.autograd as ad
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V
from tests.autograd_checks import check_all_inputs, check_function

pytestmark = pytest.mark.task_autograd

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
SHAPES_OR_SCALAR = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SEEDS = st.integers(0, 2**16)


def _x(shape: tuple[int, ...], seed: int, away_from: float | None = None) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)
    if away_from is not None:  # keep clear of a kink, where finite differences mean nothing
        x = np.where(x >= away_from, x + 0.2, x - 0.2)
    return x


def _take(shape: tuple[int, ...], index: Any):
    """The torch reference for ``x[index]``: numpy says which entries (by flat position),
    ``torch.take`` picks them (and accumulates repeated positions in its backward pass)."""
    positions = torch.tensor(np.arange(int(np.prod(shape))).reshape(shape)[index].copy())
    return lambda t: torch.take(t, positions)


def _dims(axis: Any, ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)


def _axis(ndim: int) -> st.SearchStrategy:
    """None, one axis or a tuple of distinct axes, each possibly negative."""
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda axes: st.tuples(*(st.sampled_from([a, a - ndim]) for a in axes)))
    return st.one_of(st.none(), one, many)


# ---- indexing ---------------------------------------------------------------------------------


@given(data=st.data(), shape=SHAPES, seed=SEEDS)
def test_basic_indexing(data: Any, shape: tuple[int, ...], seed: int) -> None:
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="index")
    check_function(lambda v: v[index], _take(shape, index), _x(shape, seed), seed=seed,
                   name=f"x{list(shape)}[{index}]")


@given(data=st.data(), shape=SHAPES, seed=SEEDS)
def test_integer_array_indexing_accumulates_repeated_indices(
        data: Any, shape: tuple[int, ...], seed: int) -> None:
    n = shape[0]
    rows = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6), label="rows")
    kind = data.draw(st.sampled_from(["rows", "rows_then_slice", "all_axes"]), label="kind")
    if kind == "rows":
        index: Any = np.array(rows)
    elif kind == "rows_then_slice":
        index = (slice(None), np.array(rows) % shape[1]) if len(shape) > 1 else np.array(rows)
    else:
        index = data.draw(hnp.integer_array_indices(shape, result_shape=st.just((len(rows),))))
    check_function(lambda v: v[index], _take(shape, index), _x(shape, seed), seed=seed,
                   name=f"x{list(shape)}[{index}]")


def test_a_repeated_index_receives_one_contribution_per_use() -> None:
    x = V(np.array([1.0, 2.0, 3.0]))
    picked = x[[0, 0, 2, 0]]
    picked.backward(np.array([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_array_equal(np.array([1011.0, 0.0, 100.0]), x.grad)
    X = V(np.arange(6.0).reshape(2, 3))
    ad.sum(X[np.array([1, 1]), np.array([2, 2])] * 3.0).backward()
    np.testing.assert_array_equal(np.array([[0, 0, 0], [0, 0, 6.0]]), X.grad)


@given(shape=SHAPES, seed=SEEDS)
def test_boolean_mask_indexing(shape: tuple[int, ...], seed: int) -> None:
    x = _x(shape, seed)
    mask = x > 0.3  # a mask computed from the data, as in x[x > 0]
    check_function(lambda v: v[mask], _take(shape, mask), x, seed=seed, name="x[mask]")
    node = V(x)
    np.testing.assert_array_equal(node[node > 0.3].value, x[mask])  # a comparison gives a mask


def test_indexing_errors_are_clear() -> None:
    x = V(np.arange(3.0))
    with pytest.raises(TypeError, match="an index cannot be an AutogradValue"):
        x[V(1.0)]
    with pytest.raises(IndexError, match="a scalar .* has no entries"):
        V(2.0)[0]
    with pytest.raises(IndexError):
        x[5]


# ---- reshape, transpose, concatenate, stack -------------------------------------------------


@given(data=st.data(), shape=SHAPES_OR_SCALAR, seed=SEEDS)
def test_reshape(data: Any, shape: tuple[int, ...], seed: int) -> None:
    size = int(np.prod(shape))
    new = data.draw(st.sampled_from([(-1,), (size,), (1, size), (size, 1, 1), shape[::-1],
                                     (1,) + shape, (-1, 1)]), label="new shape")
    check_function(lambda v: v.reshape(new), lambda t: t.reshape(new), _x(shape, seed),
                   seed=seed, name=f"reshape {shape} -> {new}")
    check_function(lambda v: np.reshape(v, new), lambda t: t.reshape(new), _x(shape, seed),
                   seed=seed, name="np.reshape")


def test_reshape_to_and_from_a_scalar_keeps_floats() -> None:
    x = V(2.0)
    column = x.reshape(1, 1)
    assert column.shape == (1, 1)
    back = column.reshape(())
    assert isinstance(back.value, float)
    (back * 3.0).backward()
    assert x.grad == 3.0 and isinstance(x.grad, float)
    with pytest.raises(ValueError, match=r"reshape: bad input shapes \(\(6,\)\)"):
        V(np.ones(6)).reshape(4, 2)


@given(data=st.data(), shape=SHAPES, seed=SEEDS)
def test_transpose(data: Any, shape: tuple[int, ...], seed: int) -> None:
    ndim = len(shape)
    perm = data.draw(st.permutations(range(ndim)), label="axes")
    axes = tuple(data.draw(st.sampled_from([k, k - ndim])) for k in perm)
    x = _x(shape, seed)
    check_function(lambda v: np.transpose(v, axes), lambda t: t.permute(axes), x, seed=seed,
                   name=f"transpose {shape} by {axes}")
    reverse = tuple(reversed(range(ndim)))
    check_function(lambda v: v.T, lambda t: t.permute(reverse), x, seed=seed, name=".T")
    check_function(lambda v: v.transpose(*axes), lambda t: t.permute(axes), x, seed=seed,
                   name=".transpose(*axes)")


def test_transpose_rejects_axes_that_are_not_a_permutation() -> None:
    for bad in ((0, 0), (0,), (0, 2), (1, -2, 0)):
        with pytest.raises(ValueError, match="not a permutation of the 2 axes"):
            ad.transpose(V(np.ones((2, 3))), bad)
    assert ad.transpose(V(3.0)).value == 3.0  # a scalar is its own transpose


def _pieces(data: Any, ndim: int, stack: bool) -> tuple[list[tuple[int, ...]], int]:
    base = data.draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=3))
    k = data.draw(st.integers(1, 3), label="number of arrays")
    if stack:
        axis = data.draw(st.integers(-ndim - 1, ndim), label="axis")
        return [base] * k, axis
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    sizes = [data.draw(st.integers(1, 3)) for _ in range(k)]  # size-1 pieces included
    return [base[:axis % ndim] + (n,) + base[axis % ndim + 1:] for n in sizes], axis


@settings(max_examples=25)
@given(data=st.data(), ndim=st.integers(1, 3), seed=SEEDS, stack=st.booleans())
def test_concatenate_and_stack(data: Any, ndim: int, seed: int, stack: bool) -> None:
    shapes, axis = _pieces(data, ndim, stack)
    inputs = [_x(s, seed + k) for k, s in enumerate(shapes)]
    ours, theirs = (np.stack, torch.stack) if stack else (np.concatenate, torch.cat)
    for i in range(len(inputs)):  # with respect to input i, the others constants
        def f(v, i=i):
            return ours([v if j == i else x for j, x in enumerate(inputs)], axis=axis)

        def f_torch(t, i=i):
            return theirs([t if j == i else torch.tensor(x) for j, x in enumerate(inputs)],
                          dim=axis)

        check_function(f, f_torch, inputs[i], seed=seed, name=f"{ours.__name__} input {i}")
    check_all_inputs(lambda *a: ours(list(a), axis=axis), lambda *t: theirs(list(t), dim=axis),
                     inputs, seed=seed, name=ours.__name__)


def test_concatenate_flattened_and_stack_of_scalars() -> None:
    a, b = V(np.arange(6.0).reshape(2, 3)), V(5.0)
    flat = np.concatenate([a, b, np.ones(2)], axis=None)
    assert flat.shape == (9,)
    flat.backward(np.arange(9.0))
    np.testing.assert_array_equal(np.arange(6.0).reshape(2, 3), a.grad)
    assert b.grad == 6.0 and isinstance(b.grad, float)
    x, y = V(1.5), V(-2.0)
    pair = np.stack([x, y, 3.0])
    np.testing.assert_array_equal(np.array([1.5, -2.0, 3.0]), pair.value)
    ad.sum(pair * np.array([1.0, 2.0, 4.0])).backward()
    assert (x.grad, y.grad) == (1.0, 2.0) and isinstance(y.grad, float)
    with pytest.raises(ValueError, match="concatenate: bad input shapes"):
        ad.concatenate([a, V(np.ones((3, 2)))], axis=1)
    with pytest.raises(TypeError, match="list or tuple of arrays"):
        ad.concatenate(a)


# ---- element-wise: maximum, minimum, abs, sqrt -------------------------------------------------


BROADCAST_PAIRS = st.sampled_from([((), ()), ((3,), ()), ((), (2, 3)), ((2, 3), (3,)),
                                   ((2, 1), (1, 3)), ((2, 3), (2, 3))])


@given(shapes=BROADCAST_PAIRS, seed=SEEDS, which=st.sampled_from(["maximum", "minimum"]))
def test_maximum_and_minimum_away_from_ties(shapes: Any, seed: int, which: str) -> None:
    rng = np.random.default_rng(seed)  # odd and even multiples of 0.1: never closer than 0.1
    a = 0.1 * (2 * rng.integers(-10, 10, size=shapes[0]) + 1.0)
    b = 0.2 * rng.integers(-10, 10, size=shapes[1]).astype(float)
    ours, theirs = getattr(np, which), getattr(torch, which)
    check_function(lambda v: ours(v, b), lambda t: theirs(t, torch.tensor(b)), a, seed=seed,
                   name=f"{which} input 0")
    check_function(lambda v: ours(a, v), lambda t: theirs(torch.tensor(a), t), b, seed=seed,
                   name=f"{which} input 1")
    check_all_inputs(ours, theirs, [a, b], seed=seed, name=which)


@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_maximum_and_minimum_share_the_gradient_at_ties_as_torch(which: str) -> None:
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 2.0])  # ties at 0 and 2
    check_all_inputs(getattr(ad, which), getattr(torch, which), [a, b], name=f"{which} ties")
    check_all_inputs(getattr(ad, which), getattr(torch, which), [2.0, 2.0], name="float tie")
    x = V(np.array([-1.0, 0.0, 2.0]))
    relu_like = np.maximum(x, 0.0)  # a constant on one side
    ad.sum(relu_like).backward()
    np.testing.assert_array_equal(np.array([0.0, 0.5, 1.0]), x.grad)


@given(shape=SHAPES_OR_SCALAR, seed=SEEDS)
def test_abs_and_sqrt(shape: tuple[int, ...], seed: int) -> None:
    x = _x(shape, seed, away_from=0.0)
    check_function(np.abs, torch.abs, x, seed=seed, name="np.abs")
    check_function(abs, torch.abs, x, seed=seed, name="abs()")
    check_function(np.sqrt, torch.sqrt, np.abs(x), seed=seed, name="np.sqrt")
    check_function(lambda v: v.sqrt(), torch.sqrt, np.abs(x), seed=seed, name=".sqrt()")


def test_abs_and_sqrt_at_zero_follow_torch() -> None:
    for f_ad, f_t in ((ad.abs, torch.abs), (ad.sqrt, torch.sqrt)):
        for x in (0.0, np.zeros(2)):
            node = V(x)
            out = f_ad(node)
            ad.sum(out).backward()
            xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            f_t(xt).sum().backward()
            np.testing.assert_array_equal(xt.grad.numpy(), np.asarray(node.grad))
    with pytest.warns(RuntimeWarning, match="invalid value"):
        assert np.isnan(ad.sqrt(V(-1.0)).value)


# ---- reductions: logsumexp, max, min ----------------------------------------------------------


def _torch_reduce(name: str, axis: Any, keepdims: bool, ndim: int):
    dims = _dims(axis, ndim)

    def f(t: torch.Tensor) -> torch.Tensor:
        if name == "logsumexp":
            if not dims:
                return t
            return torch.logsumexp(t, dim=dims, keepdim=keepdims)
        reduce = torch.amax if name == "max" else torch.amin
        return reduce(t, dim=dims, keepdim=keepdims) if dims else t

    return f


@given(data=st.data(), shape=SHAPES_OR_SCALAR, seed=SEEDS, keepdims=st.booleans(),
       name=st.sampled_from(["logsumexp", "max", "min"]))
def test_logsumexp_max_min(data: Any, shape: tuple[int, ...], seed: int, keepdims: bool,
                           name: str) -> None:
    axis = data.draw(_axis(len(shape)), label="axis") if shape else None
    x = _x(shape, seed) * 10.0  # distinct entries: no ties for max and min
    ours = {"logsumexp": ad.logsumexp, "max": np.max, "min": np.min}[name]
    check_function(lambda v: ours(v, axis=axis, keepdims=keepdims),
                   _torch_reduce(name, axis, keepdims, len(shape)), x, seed=seed,
                   name=f"{name}(axis={axis}, keepdims={keepdims})")


def test_logsumexp_is_stable_for_huge_and_minus_infinite_entries() -> None:
    x = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, 0.0, -np.inf]])
    node = V(x)
    out = ad.logsumexp(node, axis=1)
    expected = torch.logsumexp(torch.tensor(x), dim=1)
    gc.assert_close(expected.numpy(), out.value, rtol=1e-14)
    ad.sum(out).backward()
    gc.assert_close(np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]), node.grad, atol=1e-300)
    with np.errstate(all="raise"):  # no overflow, no log(0) warning on an all -inf row
        assert ad.logsumexp(V(np.full(3, -np.inf))).value == -np.inf


def test_max_and_min_share_the_gradient_among_ties_as_torch_amax() -> None:
    x = np.array([[3.0, 1.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]])
    for name, reduce in (("max", torch.amax), ("min", torch.amin)):
        for axis in (None, 0, 1, (0, 1)):
            check_all_inputs(lambda v, a=axis, n=name: getattr(ad, n)(v, axis=a),
                             lambda t, a=axis, r=reduce: r(t, dim=_dims(a, 2)), [x],
                             name=f"{name} axis={axis} with ties")


# ---- where --------------------------------------------------------------------------------------


@given(shapes=BROADCAST_PAIRS, cond_shape=st.sampled_from([(), (3,), (2, 1), (2, 3)]),
       seed=SEEDS)
def test_where_sends_the_gradient_to_the_chosen_branch(shapes: Any, cond_shape: Any,
                                                        seed: int) -> None:
    a, b = _x(shapes[0], seed), _x(shapes[1], seed + 1)
    cond = np.random.default_rng(seed).random(cond_shape) > 0.5
    ct = torch.tensor(cond)
    check_function(lambda v: np.where(cond, v, b), lambda t: torch.where(ct, t, torch.tensor(b)),
                   a, seed=seed, name="where input a")
    check_function(lambda v: np.where(cond, a, v), lambda t: torch.where(ct, torch.tensor(a), t),
                   b, seed=seed, name="where input b")
    check_all_inputs(lambda x, y: ad.where(cond, x, y), lambda x, y: torch.where(ct, x, y),
                     [a, b], seed=seed, name="where")


def test_where_condition_is_data() -> None:
    x = V(np.array([-1.0, 2.0]))
    leaky = np.where(x > 0, x, 0.1 * x)  # the usual spelling: a comparison gives the mask
    ad.sum(leaky).backward()
    gc.assert_close(np.array([0.1, 1.0]), x.grad)
    with pytest.raises(TypeError, match="condition .* cannot be an AutogradValue"):
        ad.where(x, x, 0.0)
