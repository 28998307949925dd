"""mmids.progressive: layers, explicit blocks, backprop = forward mode = torch, operation counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mmids import gradcheck
from mmids import progressive as P

# ---------------------------------------------------------------------------------------------
# torch mirrors of the layers and losses (written from the formulas, not from the module)
# ---------------------------------------------------------------------------------------------


def torch_layer(layer: P.Layer, z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, P.Softmax):
        return torch.softmax(z, dim=-1)
    W = w.reshape(layer.n_out, layer.n_in)
    out = z @ W.T
    return torch.sigmoid(out) if isinstance(layer, P.SigmoidLinear) else out


def torch_loss(loss: P.Loss, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if isinstance(loss, P.CrossEntropyLoss):
        return -(y * torch.log(z)).sum(dim=-1)
    scale = 0.5 if loss.scale == 0.5 else 1.0
    return scale * ((z - y) ** 2).sum(dim=-1)


def torch_objective(net: P.ProgressiveNetwork, x: np.ndarray, y: np.ndarray):
    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    bounds = np.cumsum([0] + net.sizes)

    def f(w: torch.Tensor) -> torch.Tensor:
        z = xt
        for i, layer in enumerate(net.layers):
            z = torch_layer(layer, z, w[bounds[i]:bounds[i + 1]])
        return torch_loss(net.loss, z, yt).mean()

    return f


def random_network(rng: np.random.Generator) -> P.ProgressiveNetwork:
    """Random depth 1–4, widths 1–6, hidden layers linear or σ(Wz); softmax+CE or squared head."""
    depth = int(rng.integers(1, 5))
    widths = [int(v) for v in rng.integers(1, 7, size=depth + 1)]
    layers: list[P.Layer] = []
    for i in range(depth):
        cls = P.SigmoidLinear if rng.random() < 0.6 else P.Linear
        layers.append(cls(widths[i], widths[i + 1]))
    if rng.random() < 0.5:
        layers.append(P.Softmax(widths[-1]))
        return P.ProgressiveNetwork(layers, P.CrossEntropyLoss())
    return P.ProgressiveNetwork(layers, P.SquaredLoss(half=bool(rng.random() < 0.5)))


def random_targets(
    net: P.ProgressiveNetwork, rng: np.random.Generator, n: int | None
) -> np.ndarray:
    K = net.layers[-1].n_out
    shape = (K,) if n is None else (n, K)
    if isinstance(net.loss, P.CrossEntropyLoss):
        return rng.dirichlet(np.ones(K), size=None if n is None else n).reshape(shape)
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------------------------
# full gradient: reverse mode = forward mode = finite differences = torch.autograd
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("batch", [None, 5])
def test_reverse_equals_forward_equals_torch_on_random_networks(seed: int, batch: int | None):
    rng = np.random.default_rng(seed)
    net = random_network(rng)
    ws = net.init_params(rng)
    d = net.layers[0].n_in
    x = rng.standard_normal(d if batch is None else (batch, d))
    y = random_targets(net, rng, batch)
    w = net.concat(ws)

    reverse = net.concat(net.gradient(ws, x, y, mode="reverse"))
    forward = net.concat(net.gradient(ws, x, y, mode="forward"))
    gradcheck.assert_close(reverse, forward, rtol=1e-10, atol=1e-13, name=f"{net.layers}")
    report = gradcheck.check_gradient(
        lambda v: net.objective(net.split(v), x, y),
        lambda v: net.concat(net.backprop(net.split(v), x, y)),
        w,
        f_torch=torch_objective(net, x, y),
        name=f"backprop {net.layers}",
    )
    assert report.ok, str(report)


def test_gradient_pieces_have_the_layer_shapes(rng):
    net = P.ProgressiveNetwork([P.SigmoidLinear(4, 3), P.Linear(3, 2), P.Softmax(2)],
                               P.CrossEntropyLoss())
    qs = net.backprop(net.init_params(rng), rng.standard_normal(4), np.array([0.0, 1.0]))
    assert [q.shape for q in qs] == [(12,), (6,), (0,)]


def test_linear_regression_example_q1_is_2_residual_times_x(rng):
    """§5: h_x(w) = x^T w, ℓ_y(z) = (z − y)², so q_1 = 2(x^T w − y) x."""
    net = P.ProgressiveNetwork([P.Linear(4, 1)], P.SquaredLoss(half=False))
    x, w, y = rng.standard_normal(4), rng.standard_normal(4), np.array([0.7])
    (q1,) = net.backprop([w], x, y)
    gradcheck.assert_close(2.0 * (x @ w - y[0]) * x, q1, rtol=1e-12)
    # averaged over samples by linearity
    X, Y = rng.standard_normal((6, 4)), rng.standard_normal((6, 1))
    (qbar,) = net.backprop([w], X, Y)
    gradcheck.assert_close(2.0 * (X @ w - Y[:, 0]) @ X / 6, qbar, rtol=1e-12)


def test_multinomial_logistic_example_q1_is_residual_kron_x(rng):
    """§6: h_x(w) = γ(W x) with cross-entropy: q_1 = (γ(W x) − y) ⊗ x."""
    d, K = 5, 4
    net = P.ProgressiveNetwork([P.Linear(d, K), P.Softmax(K)], P.CrossEntropyLoss())
    W = rng.standard_normal((K, d))
    x, y = rng.standard_normal(d), np.eye(K)[2]
    (q1, q2) = net.backprop([W.reshape(-1), np.zeros(0)], x, y)
    t = W @ x
    gamma = np.exp(t - t.max()) / np.exp(t - t.max()).sum()
    gradcheck.assert_close(np.kron(gamma - y, x), q1, rtol=1e-10, atol=1e-14)
    assert q2.shape == (0,)


# ---------------------------------------------------------------------------------------------
# explicit blocks A_i, B_i and the VJPs, per layer
# ---------------------------------------------------------------------------------------------


LAYERS = [P.Linear(4, 3), P.SigmoidLinear(5, 2), P.SigmoidLinear(1, 4), P.Softmax(5)]


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_blocks_match_finite_difference_and_torch_jacobians(layer: P.Layer, rng):
    z = rng.standard_normal(layer.n_in)
    w = rng.standard_normal(layer.n_params)
    wt = torch.tensor(w)
    zt = torch.tensor(z)
    rep_a = gradcheck.check_jacobian(
        lambda v: layer.forward(v, w), lambda v: layer.block_A(v, w), z,
        f_torch=lambda v: torch_layer(layer, v, wt), name=f"A of {layer}",
    )
    assert rep_a.ok, str(rep_a)
    if layer.n_params:
        rep_b = gradcheck.check_jacobian(
            lambda v: layer.forward(z, v), lambda v: layer.block_B(z, v), w,
            f_torch=lambda v: torch_layer(layer, zt, v), name=f"B of {layer}",
        )
        assert rep_b.ok, str(rep_b)
    assert layer.block_B(z, w).shape == (layer.n_out, layer.n_params)
    assert layer.jacobian(z, w).shape == (layer.n_out, layer.n_in + layer.n_params)


def test_sigmoid_linear_blocks_are_diag_times_linear_blocks(rng):
    """Ã = diag(σ'(Wz)) W and B̃ = diag(σ'(Wz)) ⊗ z^T = diag(σ'(Wz)) (I_K ⊗ z^T)."""
    layer = P.SigmoidLinear(3, 4)
    z, w = rng.standard_normal(3), rng.standard_normal(12)
    W = w.reshape(4, 3)
    s = 1.0 / (1.0 + np.exp(-(W @ z)))
    D = np.diag(s * (1 - s))
    gradcheck.assert_close(D @ W, layer.block_A(z, w), rtol=1e-12)
    gradcheck.assert_close(np.kron(D, z[None, :]), layer.block_B(z, w), rtol=1e-12)
    gradcheck.assert_close(D @ np.kron(np.eye(4), z[None, :]), layer.block_B(z, w), rtol=1e-12)


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_vjps_equal_transposed_blocks_and_sum_over_a_batch(layer: P.Layer, rng):
    N = 6
    Z = rng.standard_normal((N, layer.n_in))
    w = rng.standard_normal(layer.n_params)
    Pm = rng.standard_normal((N, layer.n_out))
    per_input = np.stack([layer.block_A(Z[n], w).T @ Pm[n] for n in range(N)])
    per_params = sum(layer.block_B(Z[n], w).T @ Pm[n] for n in range(N))
    gradcheck.assert_close(per_input, layer.vjp_input(Z, w, Pm), rtol=1e-11, atol=1e-14)
    gradcheck.assert_close(per_params, layer.vjp_params(Z, w, Pm), rtol=1e-11, atol=1e-14)
    gradcheck.assert_close(per_input[0], layer.vjp_input(Z[0], w, Pm[0]), rtol=1e-11, atol=1e-14)
    # batched VJP w.r.t. the inputs against finite differences and torch
    wt = torch.tensor(w)
    rep = gradcheck.check_vjp(
        lambda v: layer.forward(v, w), lambda v, p: layer.vjp_input(v, w, p), Z, p=Pm,
        f_torch=lambda v: torch_layer(layer, v, wt), name=f"A^T p of {layer}",
    )
    assert rep.ok, str(rep)


@pytest.mark.parametrize("N", [1, 6])
@pytest.mark.parametrize("layer", [la for la in LAYERS if la.n_params], ids=repr)
def test_batched_vjp_params_matches_finite_differences_and_torch(layer: P.Layer, N: int, rng):
    # Σ_n B(z_n)^T p_n = the VJP of w ↦ (g(z_1, w), …, g(z_N, w)) with upstream rows p_n,
    # checked directly (not through the blocks) against central differences and torch
    Z = rng.standard_normal((N, layer.n_in))
    w = rng.standard_normal(layer.n_params)
    Pm = rng.standard_normal((N, layer.n_out))
    Zt = torch.tensor(Z)
    rep = gradcheck.check_vjp(
        lambda v: layer.forward(Z, v), lambda v, p: layer.vjp_params(Z, v, p), w, p=Pm,
        f_torch=lambda v: torch_layer(layer, Zt, v), name=f"B^T p of {layer}, batch of {N}",
    )
    assert rep.ok, str(rep)
    assert layer.vjp_params(Z, w, Pm).shape == (layer.n_params,)


def test_jacobian_of_outputs_matches_finite_differences_and_torch(rng):
    """J_{O_L} from the fundamental recursion, against the Jacobian of w ↦ h_x(w)."""
    net = P.ProgressiveNetwork(
        [P.SigmoidLinear(3, 4), P.SigmoidLinear(4, 3), P.Linear(3, 2), P.Softmax(2)],
        P.CrossEntropyLoss(),
    )
    ws, x = net.init_params(rng), rng.standard_normal(3)
    xt = torch.tensor(x)
    bounds = np.cumsum([0] + net.sizes)

    def h_torch(w: torch.Tensor) -> torch.Tensor:
        z = xt
        for i, layer in enumerate(net.layers):
            z = torch_layer(layer, z, w[bounds[i]:bounds[i + 1]])
        return z

    rep = gradcheck.check_jacobian(
        lambda v: net.predict(net.split(v), x), lambda v: net.jacobian_outputs(net.split(v), x),
        net.concat(ws), f_torch=h_torch, name="J_{O_L}",
    )
    assert rep.ok, str(rep)


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [P.SquaredLoss(), P.SquaredLoss(half=False), P.CrossEntropyLoss()],
                         ids=["half squared", "squared", "cross-entropy"])
def test_loss_gradients(loss: P.Loss, rng):
    z = rng.dirichlet(np.ones(4))  # in the simplex, valid for cross-entropy too
    y = rng.dirichlet(np.ones(4))
    yt = torch.tensor(y)
    rep = gradcheck.check_gradient(
        lambda v: loss.value(v, y), lambda v: loss.grad(v, y), z,
        f_torch=lambda v: torch_loss(loss, v, yt), name=repr(loss),
    )
    assert rep.ok, str(rep)
    Z, Y = rng.dirichlet(np.ones(4), size=3), rng.dirichlet(np.ones(4), size=3)
    assert loss.value(Z, Y).shape == (3,)
    gradcheck.assert_close(np.stack([loss.grad(Z[i], Y[i]) for i in range(3)]), loss.grad(Z, Y))


def test_squared_loss_values():
    z, y = np.array([1.0, 2.0]), np.array([0.0, 4.0])
    assert P.SquaredLoss().value(z, y) == pytest.approx(2.5)
    assert P.SquaredLoss(half=False).value(z, y) == pytest.approx(5.0)


# ---------------------------------------------------------------------------------------------
# §1: chain of linear maps, operation counts
# ---------------------------------------------------------------------------------------------


@given(L=st.integers(2, 7), m=st.integers(1, 9), d=st.integers(1, 9), K=st.integers(1, 6))
def test_operation_counter_equals_closed_forms(L: int, m: int, d: int, K: int):
    rng = np.random.default_rng(L * 1000 + m * 100 + d * 10 + K)
    Ws = P.random_linear_chain(L, m, d, K, rng)
    x, y = rng.standard_normal(d), rng.standard_normal(K)
    fwd, rev = P.OpCounter(), P.OpCounter()
    P.chain_forward_mode(Ws, x, y, fwd)
    P.chain_reverse_mode(Ws, x, y, rev)
    # the closed forms, written out here independently of the module
    assert fwd.total == (L - 2) * m * (2 * m - 1) * d + K * (2 * m - 1) * d + (2 * K - 1) * d
    assert rev.total == (2 * K - 1) * m + (L - 2) * (2 * m - 1) * m + (2 * m - 1) * d
    assert fwd.total == P.forward_mode_cost(L, m, d, K)
    assert rev.total == P.reverse_mode_cost(L, m, d, K)
    # reverse mode only ever multiplies a row vector by a matrix
    assert all(n == 1 for n, _, _ in rev.products)


def test_closed_forms_on_a_grid():
    for L, m, d, K in itertools.product([2, 3, 10], [1, 4, 50], [1, 7, 300], [1, 10]):
        assert P.forward_mode_cost(L, m, d, K) == (
            (L - 2) * m * (2 * m - 1) * d + K * (2 * m - 1) * d + (2 * K - 1) * d
        )
        assert P.reverse_mode_cost(L, m, d, K) == (
            (2 * K - 1) * m + (L - 2) * (2 * m - 1) * m + (2 * m - 1) * d
        )


def test_matmul_cost_and_the_abv_example():
    assert P.matmul_cost(2, 3, 4) == 2 * 2 * 3 * 4 - 2 * 4
    n = 5
    # (AB)v costs n²(2n−1) + n(2n−1); A(Bv) costs 2n(2n−1)
    assert P.matmul_cost(n, n, n) + P.matmul_cost(n, n, 1) == n * n * (2 * n - 1) + n * (2 * n - 1)
    assert 2 * P.matmul_cost(n, n, 1) == 2 * n * (2 * n - 1)
    counter = P.OpCounter()
    A, B = np.ones((n, n)), np.ones((n, n))
    counter.matmul(A, counter.matmul(B, np.ones((n, 1))))
    assert counter.total == 2 * n * (2 * n - 1)


@pytest.mark.parametrize("L", [1, 2, 5])
def test_chain_modes_give_the_closed_form_gradient_and_match_torch(L: int, rng):
    m, d, K = 4, 6, 3
    Ws = P.random_linear_chain(L, m, d, K, rng)
    x, y = rng.standard_normal(d), rng.standard_normal(K)
    prod = np.eye(d)
    for W in Ws:
        prod = W @ prod
    expected = (prod @ x - y) @ prod  # ∇f(x)^T = (W_L…W_1 x − y)^T W_L…W_1
    fwd, rev = P.OpCounter(), P.OpCounter()
    gf, gr = P.chain_forward_mode(Ws, x, y, fwd), P.chain_reverse_mode(Ws, x, y, rev)
    gradcheck.assert_close(expected, gf, rtol=1e-10)
    gradcheck.assert_close(expected, gr, rtol=1e-10)
    Wt = [torch.tensor(W) for W in Ws]
    yt = torch.tensor(y)

    def f_torch(v: torch.Tensor) -> torch.Tensor:
        for W in Wt:
            v = W @ v
        return 0.5 * ((yt - v) ** 2).sum()

    gradcheck.assert_close(gradcheck.torch_gradient(f_torch, x), gr, rtol=1e-10)
    if L == 1:  # no hidden width: both modes do one 1×K by K×d product
        assert fwd.total == rev.total == (2 * K - 1) * d


def test_counter_with_unequal_widths_sums_the_product_costs(rng):
    sizes = [7, 3, 5, 2]
    Ws = [rng.standard_normal((sizes[i + 1], sizes[i])) for i in range(3)]
    x, y = rng.standard_normal(7), rng.standard_normal(2)
    fwd, rev = P.OpCounter(), P.OpCounter()
    P.chain_forward_mode(Ws, x, y, fwd)
    P.chain_reverse_mode(Ws, x, y, rev)
    cost = lambda n, m, l: 2 * n * m * l - n * l
    assert fwd.total == cost(5, 3, 7) + cost(2, 5, 7) + cost(1, 2, 7)
    assert rev.total == cost(1, 2, 5) + cost(1, 5, 3) + cost(1, 3, 7)


# ---------------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors(rng):
    with pytest.raises(ValueError, match="layer 1 outputs 3 values but layer 2 expects 4"):
        P.ProgressiveNetwork([P.Linear(2, 3), P.Linear(4, 1)], P.SquaredLoss())
    with pytest.raises(ValueError, match="at least one layer"):
        P.ProgressiveNetwork([], P.SquaredLoss())
    with pytest.raises(TypeError, match="not a Layer"):
        P.ProgressiveNetwork([np.eye(2)], P.SquaredLoss())
    with pytest.raises(TypeError, match="loss must be a Loss"):
        P.ProgressiveNetwork([P.Linear(2, 2)], "mse")
    net = P.ProgressiveNetwork([P.Linear(2, 3)], P.SquaredLoss())
    ws = net.init_params(rng)
    with pytest.raises(ValueError, match=r"w_1 must have shape \(6,\)"):
        net.gradient([np.zeros(5)], np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="expected 1 parameter vectors"):
        net.gradient(ws + ws, np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="as a list"):
        net.gradient(np.zeros(6), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"x must have shape \(2,\) or \(N, 2\)"):
        net.gradient(ws, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="y must have shape"):
        net.gradient(ws, np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="mode must be 'reverse' or 'forward'"):
        net.gradient(ws, np.zeros(2), np.zeros(3), mode="sideways")
    with pytest.raises(ValueError, match="upstream p must have shape"):
        P.Linear(2, 3).vjp_input(np.zeros(2), np.zeros(6), np.zeros(2))
    with pytest.raises(ValueError, match="explicit blocks are per sample"):
        P.Linear(2, 3).block_B(np.zeros((4, 2)), np.zeros(6))
    with pytest.raises(ValueError, match="d must be a positive integer"):
        P.Linear(0, 3)
    with pytest.raises(ValueError, match="L ≥ 2"):
        P.forward_mode_cost(1, 3, 4, 2)
    with pytest.raises(ValueError, match="inner sizes differ"):
        P.OpCounter().matmul(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="W_2 must have shape"):
        P.chain_reverse_mode([np.ones((3, 2)), np.ones((2, 2))], np.ones(2), np.ones(2))
