"""mmids.autograd: the node design, backward semantics, operators, errors, deep/wide graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mmids.autograd as ad
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V

pytestmark = pytest.mark.task_autograd


def sig(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


# ---- the design: value / parents / args / grad, func and grads ---------------------------------


def test_declared_variable_is_identity_node() -> None:
    x = V(3)
    assert x.value == 3.0 and isinstance(x.value, float)
    assert x.grad == 0
    assert x.parents == (3,) and x.args == [3]
    assert x.func(2.5) == 2.5 and x.grads(2.5) == (1.0,)
    a = V([[1, 2], [3, 4]])
    assert a.value.dtype == np.float64 and a.shape == (2, 2)


def test_node_records_parents_and_argument_values() -> None:
    x, w = V(1.5), V(-0.8)
    b = x * w
    assert b.parents == (x, w) and b.args == [1.5, -0.8] and b.value == pytest.approx(-1.2)
    c = 2.0 * b  # a plain number is a parent but not a node
    assert c.parents[0] == 2.0 and c.parents[1] is b and c.grad == 0


def test_grads_with_one_entry_too_few_is_a_clear_error() -> None:
    class BadProduct(V):
        def func(self, a, b):
            return a * b

        def grads(self, a, b):
            return (b,)  # forgot d/db

    x, w = V(2.0), V(3.0)
    L = BadProduct(x, w)
    with pytest.raises(ValueError, match="BadProduct.grads returned 1 local derivatives for 2"):
        L.backward()


def test_subclass_overriding_func_and_grads_is_differentiated() -> None:
    class Cube(V):
        def func(self, a):
            return a**3

        def grads(self, a):
            return (3 * a**2,)

    x = V(np.array([1.0, -2.0, 0.5]))
    L = ad.sum(Cube(x) * 2.0)
    L.backward()
    gc.assert_close(6 * x.value**2, x.grad)
    # the same subclass in forward mode, through the default jvp built from grads
    _, t = ad.jvp(lambda v: Cube(v), x.value, np.ones(3))
    gc.assert_close(3 * x.value**2, t)


def test_syllabus_example_minus_log_sigmoid() -> None:
    x, w = V(1.5), V(-0.8)
    L = -ad.log(ad.sigmoid(w * x**2))
    L.backward()
    z = -0.8 * 1.5**2
    assert L.value == pytest.approx(-math.log(sig(z)), rel=1e-14)
    # dL/dz = σ(z) − 1, z = w x²
    assert x.grad == pytest.approx((sig(z) - 1) * 2 * (-0.8) * 1.5, rel=1e-12)
    assert w.grad == pytest.approx((sig(z) - 1) * 1.5**2, rel=1e-12)


def test_reused_value_contributions_add_total_derivative() -> None:
    x = V(0.7)
    a = x**2
    b = 5 * a
    c = a * b  # c = 5 a², dc/da = 10 a (total), not the partial ∂c/∂a = b = 5a
    c.backward()
    assert a.grad == pytest.approx(10 * 0.49, rel=1e-14)
    assert x.grad == pytest.approx(10 * 0.49 * 2 * 0.7, rel=1e-14)  # 20 x³
    y = V(2.0)
    z = y * y * y + y  # y used four times
    z.backward()
    assert y.grad == pytest.approx(3 * 4.0 + 1)


def test_backward_pass_is_the_per_node_step() -> None:
    x, y = V(2.0), V(3.0)
    m = x * y
    s = m + x
    s.grad = 1.0
    s.backward_pass()  # hands 1 to m and 1 to x
    assert m.grad == 1.0 and x.grad == 1.0 and y.grad == 0
    m.backward_pass()  # hands m.grad·y to x and m.grad·x to y
    assert x.grad == 1.0 + 3.0 and y.grad == 2.0


def test_topological_order_lists_parents_before_children() -> None:
    x = V(1.0)
    a = ad.exp(x)
    b = a * x
    c = b + a
    order = ad.topological_order(c)
    assert order[-1] is c and len(order) == 4
    pos = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for p in node.parents:
            if isinstance(p, V):
                assert pos[id(p)] < pos[id(node)]


def test_topological_order_of_a_random_graph_with_shared_nodes() -> None:
    rng = np.random.default_rng(3)
    nodes = [V(0.5), V(-1.0)]
    for k in range(300):  # each new node uses two of the last ten (so nodes are shared a lot)
        i, j = len(nodes) - 1 - rng.integers(min(len(nodes), 10), size=2)
        nodes.append(nodes[i] * nodes[j] if k % 2 else nodes[i] + nodes[j])
    root = nodes[-1]
    reachable, todo = {id(root)}, [root]
    while todo:  # every node root depends on, found independently of the order's algorithm
        for p in todo.pop().parents:
            if isinstance(p, V) and id(p) not in reachable:
                reachable.add(id(p))
                todo.append(p)
    order = ad.topological_order(root)
    pos = {id(n): k for k, n in enumerate(order)}
    assert len(order) == len(pos) == len(reachable) and set(pos) == reachable
    assert order[-1] is root
    for node in order:
        for p in node.parents:
            if isinstance(p, V):
                assert pos[id(p)] < pos[id(node)]


def test_backward_twice_gives_the_same_result_and_zero_grad_clears() -> None:
    x = V(np.array([0.5, -1.0]))
    L = ad.sum(ad.tanh(x) * x)
    L.backward()
    first = x.grad.copy()
    L.backward()
    np.testing.assert_array_equal(first, x.grad)
    L.zero_grad()
    for node in ad.topological_order(L):  # zeros of each node's shape (a float for a float)
        assert type(node.grad) is type(node.value) and np.shape(node.grad) == node.shape
        assert not np.any(node.grad)


def test_two_losses_sharing_parameters_reset_not_accumulate() -> None:
    # L1 and L2 share W and b; u is used by L1 only. As documented, L2.backward() first zeroes
    # every node reachable from L2, so W.grad and b.grad become dL2/dW and dL2/db (not their sum
    # with dL1/d·), while u, not reachable from L2, keeps the gradient L1 left on it.
    rng = np.random.default_rng(11)
    W0, b0, u0 = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal(2)
    X = rng.standard_normal((4, 3))
    W, b, u = V(W0), V(b0), V(u0)

    def losses(m, X, W, b, u):
        H = m.tanh(X @ W + b)
        return m.sum(H * u), m.mean(m.sigmoid(H) * H)

    Wt, bt, ut = (torch.tensor(v, requires_grad=True) for v in (W0, b0, u0))
    L1t, L2t = losses(torch, torch.tensor(X), Wt, bt, ut)
    dL1 = torch.autograd.grad(L1t, (Wt, bt, ut), retain_graph=True)
    dL2 = torch.autograd.grad(L2t, (Wt, bt), retain_graph=True)

    L1, L2 = losses(ad, X, W, b, u)
    L1.backward()
    for node, expected in zip((W, b, u), dL1, strict=True):
        gc.assert_close(expected.numpy(), node.grad, rtol=1e-12, atol=1e-14)
    L2.backward()
    gc.assert_close(dL2[0].numpy(), W.grad, rtol=1e-12, atol=1e-14, name="dL2/dW, not the sum")
    gc.assert_close(dL2[1].numpy(), b.grad, rtol=1e-12, atol=1e-14, name="dL2/db, not the sum")
    gc.assert_close(dL1[2].numpy(), u.grad, rtol=1e-12, atol=1e-14, name="u keeps dL1/du")
    # the gradient of both together is one backward pass through their sum
    (L1 + L2).backward()
    gc.assert_close((dL1[0] + dL2[0]).numpy(), W.grad, rtol=1e-12, atol=1e-14)
    gc.assert_close((dL1[1] + dL2[1]).numpy(), b.grad, rtol=1e-12, atol=1e-14)
    gc.assert_close(dL1[2].numpy(), u.grad, rtol=1e-12, atol=1e-14)


def test_backward_with_upstream_gradient() -> None:
    x = V(np.array([1.0, 2.0, 3.0]))
    y = x * x
    p = np.array([1.0, -1.0, 0.5])
    y.backward(p)
    gc.assert_close(2 * x.value * p, x.grad)
    assert p.tolist() == [1.0, -1.0, 0.5]  # the caller's array is not modified


# ---- operators with plain numbers and arrays on either side ------------------------------------


@pytest.mark.parametrize(
    ("make", "value", "dx"),
    [
        (lambda x: 2 * x, 6.0, 2.0),
        (lambda x: x * 2, 6.0, 2.0),
        (lambda x: 1 - x, -2.0, -1.0),
        (lambda x: x - 1, 2.0, 1.0),
        (lambda x: 1 + x, 4.0, 1.0),
        (lambda x: 10.0 / x, 10.0 / 3, -10.0 / 9),
        (lambda x: x / 4, 0.75, 0.25),
        (lambda x: x**2, 9.0, 6.0),
        (lambda x: 2**x, 8.0, 8 * math.log(2)),
        (lambda x: x**x, 27.0, 27 * (math.log(3) + 1)),
        (lambda x: -x, -3.0, -1.0),
        (lambda x: np.float64(2.0) * x, 6.0, 2.0),
    ],
)
def test_operators_with_plain_numbers(make, value: float, dx: float) -> None:
    x = V(3.0)
    y = make(x)
    assert isinstance(y, V)
    y.backward()
    assert y.value == pytest.approx(value, rel=1e-14)
    assert x.grad == pytest.approx(dx, rel=1e-14)


def test_ndarray_on_the_left_builds_a_node() -> None:
    x = V(np.array([1.0, 2.0]))
    for y in (np.array([3.0, 4.0]) + x, np.array([3.0, 4.0]) * x, np.ones((2, 2)) @ x):
        assert isinstance(y, V)
    y = np.array([3.0, 4.0]) * x
    ad.sum(y).backward()
    gc.assert_close(np.array([3.0, 4.0]), x.grad)


def test_in_place_add_makes_a_new_node() -> None:
    x = V(1.0)
    y = x
    y += 2.0
    assert y is not x and x.value == 1.0 and y.value == 3.0 and y.parents[0] is x
    y *= x
    y.backward()
    assert x.grad == pytest.approx(2 * 1.0 + 2.0)  # d/dx (x + 2) x = 2x + 2


def test_functions_and_methods_agree() -> None:
    x = np.array([[0.3, -1.2, 0.5], [2.0, 0.1, -0.4]])
    for name in ("exp", "sigmoid", "relu", "tanh", "sum", "mean"):
        a, b = getattr(ad, name)(V(x)), getattr(V(x), name)()
        assert type(a) is type(b)
        np.testing.assert_array_equal(a.value, b.value)
    pos = V(np.abs(x) + 0.1)
    np.testing.assert_array_equal(ad.log(pos).value, pos.log().value)
    w = np.ones((3, 2))
    np.testing.assert_array_equal(ad.matmul(V(x), w).value, V(x).matmul(w).value)
    np.testing.assert_array_equal(ad.sum(V(x), axis=0).value, V(x).sum(axis=0).value)


def test_sum_and_mean_over_an_axis() -> None:
    x = np.arange(6.0).reshape(2, 3)
    for keepdims in (False, True):
        for axis in (0, 1, None):
            s, m = ad.sum(V(x), axis, keepdims), ad.mean(V(x), axis, keepdims)
            gc.assert_close(np.sum(x, axis=axis, keepdims=keepdims), s.value)
            gc.assert_close(np.mean(x, axis=axis, keepdims=keepdims), m.value)
    assert isinstance(ad.sum(V(x)).value, float)


def test_plain_numbers_have_no_grad() -> None:
    x = V(2.0)
    c = 3.0
    L = c * x
    L.backward()
    assert x.grad == 3.0
    with pytest.raises(AttributeError, match="has no attribute 'grad'"):
        _ = L.parents[0].grad
    with pytest.raises(AttributeError, match="has no attribute 'grad'"):
        _ = (V(np.ones(2)) * np.ones(2)).parents[1].grad


# ---- errors -------------------------------------------------------------------------------------


def test_backward_on_non_scalar_needs_upstream() -> None:
    y = V(np.ones(3)) * 2.0
    with pytest.raises(ValueError, match=r"shape \(3,\) needs an upstream gradient"):
        y.backward()
    with pytest.raises(ValueError, match="upstream gradient has shape"):
        y.backward(np.ones(4))


def test_shape_mismatch_names_the_operation() -> None:
    with pytest.raises(ValueError, match=r"add: bad input shapes \(\(3,\), \(4,\)\)"):
        V(np.ones(3)) + V(np.ones(4))
    with pytest.raises(ValueError, match="matmul"):
        V(np.ones((2, 3))) @ np.ones((2, 3))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        ad.matmul(V(2.0), np.ones(2))
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range .* shape \(2, 3\)"):
        ad.sum(V(np.ones((2, 3))), axis=2)
    with pytest.raises(ValueError, match=r"mean: axis 0 is out of range"):
        ad.mean(V(2.0), axis=0)


@pytest.mark.parametrize("other", ["a", [1.0, 2.0], None, torch.ones(2)])
def test_unsupported_operand_types(other) -> None:
    x = V(np.ones(2))
    with pytest.raises(TypeError):
        x + other
    with pytest.raises(TypeError):
        other * x
    with pytest.raises(TypeError):
        x ** other


def test_declared_variable_rejects_non_numbers() -> None:
    for bad in ("3", None, True, {"a": 1}):
        with pytest.raises(TypeError, match="real number or a numpy array"):
            V(bad)
    with pytest.raises(TypeError, match="real number or a numpy array"):
        ad.exp("x")


def test_log_of_non_positive_value_is_reported() -> None:
    with pytest.warns(RuntimeWarning, match="log of a non-positive value"):
        y = ad.log(V(np.array([1.0, 0.0, -1.0])))
    assert y.value[0] == 0.0 and y.value[1] == -np.inf and np.isnan(y.value[2])
    with pytest.warns(RuntimeWarning, match="log of a non-positive value"):
        z = ad.log(V(-2.0))
    assert math.isnan(z.value)


def test_overflow_is_reported_not_hidden() -> None:
    with pytest.warns(RuntimeWarning, match="overflow"):
        y = ad.exp(V(1000.0))
    assert y.value == math.inf


def test_negative_base_with_fractional_power_gives_nan_with_warning() -> None:
    with pytest.warns(RuntimeWarning, match="invalid value"):
        y = V(-2.0) ** 0.5
    assert math.isnan(y.value)


# ---- deep and wide graphs ---------------------------------------------------------------------


def test_deep_chain_of_a_million_nodes() -> None:
    x = V(0.5)
    y = x
    for _ in range(10**6 - 1):
        y = y + 1e-6
    length, node = 0, y
    while isinstance(node, V):  # walk the chain back to x
        length, node = length + 1, node.parents[0]
    assert length == 10**6
    y.backward()
    assert x.grad == 1.0
    assert y.value == pytest.approx(0.5 + (10**6 - 1) * 1e-6, rel=1e-9)


def test_deep_chain_of_multiplications_has_the_product_gradient() -> None:
    x = V(0.3)
    y = x
    for _ in range(30_000):  # 120,000 nodes deep
        y = ad.tanh(y) * 1.0 + 0.0 * y
    y.backward()
    xt = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    yt = xt
    for _ in range(30_000):
        yt = torch.tanh(yt)
    yt.backward()
    assert y.value == pytest.approx(yt.item(), rel=1e-12)
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-9)


def test_fan_in_of_a_hundred_thousand_uses() -> None:
    x = V(1.5)
    terms = [x * float(k % 7) for k in range(10**5)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    total.backward()
    assert x.grad == pytest.approx(sum(k % 7 for k in range(10**5)), rel=1e-12)
    y = V(np.array([1.0, 2.0]))
    s = ad.sum(y * y)
    many = s
    for _ in range(10**5 - 1):
        many = many + s  # the same node used 10^5 times
    many.backward()
    gc.assert_close(10**5 * 2 * y.value, y.grad)


# ---- broadcasting ------------------------------------------------------------------------------


def test_unbroadcast_sums_back_to_the_parent_shape() -> None:
    g = np.arange(24.0).reshape(2, 3, 4)
    gc.assert_close(g.sum(axis=0), ad.unbroadcast(g, np.zeros((3, 4))))
    gc.assert_close(g.sum(axis=(0, 2), keepdims=True)[0], ad.unbroadcast(g, np.zeros((3, 1))))
    assert ad.unbroadcast(g, 0.0) == pytest.approx(g.sum())
    b = V(np.array([1.0, 2.0, 3.0]))
    c = V(np.array([[1.0], [2.0]]))
    ad.sum((b * c) * 1.0).backward()
    gc.assert_close(np.array([3.0, 3.0, 3.0]), b.grad)
    gc.assert_close(np.array([[6.0], [6.0]]), c.grad)


def test_unbroadcast_spreads_a_lower_rank_gradient_over_the_parent() -> None:
    # a scalar or lower-rank contribution stands for its broadcast to the parent's shape
    for g in (2.0, np.float64(2.0), np.array(2.0), np.array([2.0]), np.full((1, 1), 2.0)):
        out = ad.unbroadcast(g, np.zeros((1, 3)))
        assert isinstance(out, np.ndarray) and out.shape == (1, 3)
        np.testing.assert_array_equal(np.full((1, 3), 2.0), out)
    row = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.tile(row, (2, 1)), ad.unbroadcast(row, np.zeros((2, 3))))
    # (3,) against (4, 1): broadcast to (4, 3), then summed over the size-1 axis
    np.testing.assert_array_equal(np.full((4, 1), 6.0), ad.unbroadcast(row, np.zeros((4, 1))))
    out = ad.unbroadcast(np.ones((2, 1)), np.zeros((2, 3)))
    np.testing.assert_array_equal(np.ones((2, 3)), out)


@pytest.mark.parametrize(("g_shape", "like_shape"),
                         [((2, 3), (2, 4)), ((3,), (2, 4)), ((5, 2, 3), (4, 3)), ((2, 3), (3, 2))])
def test_unbroadcast_of_shapes_that_do_not_fit_is_a_clear_error(g_shape, like_shape) -> None:
    msg = (rf"unbroadcast: a gradient of shape \({g_shape[0]},.*does not broadcast against a "
           rf"parent of shape \({like_shape[0]}, {like_shape[1]}\)")
    with pytest.raises(ValueError, match=msg):
        ad.unbroadcast(np.ones(g_shape), np.zeros(like_shape))
