"""mmids.functions: stability, values against torch, every derivative against FD and torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from mmids import functions as F
from mmids.gradcheck import assert_close, check_gradient, check_jacobian, check_vjp, compare

SHAPES = [(1,), (5,), (1, 4), (3, 6), (7, 2)]
ANY_SHAPES = [(), (4,), (3, 5), (2, 3, 4)]


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# ------------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_matches_definition_and_torch(shape: tuple[int, ...], rng) -> None:
    z = rng.standard_normal(shape) * 3
    g = F.softmax(z)
    naive = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)  # fine for small logits
    assert_close(naive, g, rtol=1e-13, atol=0)
    assert_close(torch.softmax(_t(z), -1).numpy(), g, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(g.sum(axis=-1), 1.0, rtol=1e-14)


def test_softmax_axis_argument(rng) -> None:
    z = rng.standard_normal((4, 3))
    assert_close(F.softmax(z.T).T, F.softmax(z, axis=0), rtol=1e-14, atol=0)


@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
def test_softmax_and_log_softmax_are_finite_for_huge_logits(scale: float, rng) -> None:
    z = rng.standard_normal((5, 4)) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = F.softmax(z)
        lg = F.log_softmax(z)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(lg))
    np.testing.assert_allclose(g.sum(axis=-1), 1.0, rtol=1e-14)
    assert_close(torch.log_softmax(_t(z), -1).numpy(), lg, rtol=1e-13, atol=1e-12)
    # shift invariance γ(z + c) = γ(z), exact up to rounding even at this scale
    assert_close(g, F.softmax(z + 7.0 * scale), rtol=1e-9, atol=1e-300)


def test_softmax_of_1e4_logits_concrete() -> None:
    g = F.softmax(np.array([1e4, 0.0, -1e4]))
    np.testing.assert_array_equal(g, [1.0, 0.0, 0.0])
    lg = F.log_softmax(np.array([1e4, 1e4, -1e4]))
    np.testing.assert_allclose(lg, [-np.log(2), -np.log(2), -2e4 - np.log(2)], rtol=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
def test_log_softmax_derivative(shape: tuple[int, ...], rng) -> None:
    z = rng.standard_normal(shape)
    # VJP of log γ: p − γ Σ p
    vjp = lambda z, p: p - F.softmax(z) * p.sum(axis=-1, keepdims=True)
    check_vjp(F.log_softmax, vjp, z, rng=rng, f_torch=lambda t: t.log_softmax(-1)).assert_ok()


@pytest.mark.parametrize("K", [1, 2, 5, 9])
def test_softmax_jacobian_single_vector(K: int, rng) -> None:
    z = rng.standard_normal(K)
    check_jacobian(F.softmax, F.softmax_jacobian, z, f_torch=lambda t: t.softmax(-1)).assert_ok()


def test_softmax_jacobian_batch_is_one_matrix_per_row(rng) -> None:
    Z = rng.standard_normal((4, 5))
    C = F.softmax_jacobian(Z)
    assert C.shape == (4, 5, 5)
    for n in range(4):
        check_jacobian(
            F.softmax, lambda z, n=n: C[n], Z[n], f_torch=lambda t: t.softmax(-1)
        ).assert_ok()


@given(
    K=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
)
def test_softmax_jacobian_facts(K: int, seed: int, scale: float) -> None:
    z = np.random.default_rng(seed).standard_normal(K) * scale
    C = F.softmax_jacobian(z)
    g = F.softmax(z)
    np.testing.assert_allclose(C, C.T, atol=1e-15)  # symmetric
    np.testing.assert_allclose(C.sum(axis=1), 0.0, atol=1e-15)  # rows sum to zero
    assert np.linalg.eigvalsh(C).min() >= -1e-14  # positive semi-definite
    np.testing.assert_allclose(np.diag(C), g * (1 - g), atol=1e-15)


@given(N=st.integers(1, 4), K=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_softmax_vjp_equals_jacobian_transpose_product(N: int, K: int, seed: int) -> None:
    r = np.random.default_rng(seed)
    Z, P = r.standard_normal((N, K)) * 4, r.standard_normal((N, K))
    expected = np.einsum("nij,ni->nj", F.softmax_jacobian(Z), P)
    assert_close(expected, F.softmax_vjp(Z, P), rtol=1e-12, atol=1e-15)
    assert_close(expected[0], F.softmax_vjp(Z[0], P[0]), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_vjp_against_fd_and_torch(shape: tuple[int, ...], rng) -> None:
    z = rng.standard_normal(shape) * 2
    check_vjp(F.softmax, F.softmax_vjp, z, rng=rng, f_torch=lambda t: t.softmax(-1)).assert_ok()


def test_softmax_bad_inputs() -> None:
    with pytest.raises(ValueError, match="got a scalar"):
        F.softmax(3.0)
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(4,\)"):
        F.softmax_vjp(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="array of numbers"):
        F.softmax(["a", "b"])


# ------------------------------------------------------------------------ activations

ACTIVATIONS = [
    ("sigmoid", F.sigmoid, F.sigmoid_derivative, F.sigmoid_vjp, torch.sigmoid),
    ("tanh", F.tanh, F.tanh_derivative, F.tanh_vjp, torch.tanh),
    ("relu", F.relu, F.relu_derivative, F.relu_vjp, torch.relu),
]


def _away_from_kink(t: np.ndarray) -> np.ndarray:
    """Move entries away from 0 so central differences of ReLU are exact."""
    return np.where(np.abs(t) < 1e-3, 0.5, t)


@pytest.mark.parametrize("name,f,df,vjp,ft", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
@pytest.mark.parametrize("shape", ANY_SHAPES)
def test_activation_values_and_vjp(name, f, df, vjp, ft, shape, rng) -> None:
    t = _away_from_kink(rng.standard_normal(shape) * 3)
    assert_close(ft(_t(t)).numpy(), np.asarray(f(t)), rtol=1e-14, atol=1e-300)
    check_vjp(f, vjp, t, rng=rng, f_torch=ft, name=f"{name}_vjp").assert_ok()
    # the derivative is the VJP with p = 1, and the diagonal of the Jacobian
    check_vjp(f, lambda t, p: df(t) * p, t, rng=rng, f_torch=ft).assert_ok()
    assert np.shape(df(t)) == np.shape(t) == np.shape(vjp(t, np.ones(shape)))


def test_scalar_inputs_give_scalars() -> None:
    for f in (F.sigmoid, F.sigmoid_derivative, F.tanh, F.tanh_derivative, F.relu):
        assert np.ndim(f(0.5)) == 0
    assert F.sigmoid(0.0) == 0.5
    assert F.sigmoid_derivative(0.0) == 0.25
    assert F.tanh_derivative(0.0) == 1.0


def test_relu_derivative_is_zero_at_zero() -> None:
    np.testing.assert_array_equal(F.relu_derivative(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(F.relu_vjp(np.array([-1.0, 0.0, 2.0]), np.full(3, 5.0)),
                                  [0.0, 0.0, 5.0])


def test_sigmoid_is_stable_for_huge_arguments() -> None:
    t = np.array([-1e4, -800.0, -50.0, 50.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = F.sigmoid(t)
        ds = F.sigmoid_derivative(t)
        dt = F.tanh_derivative(t)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ds))
    np.testing.assert_array_equal(s[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])
    assert 0 < s[2] < 1e-21 and s[3] == 1.0
    # σ'(±50) ≈ e^{−50} with full relative accuracy (1 − σ(50) would round to 0)
    np.testing.assert_allclose(ds[[2, 3]], np.exp(-50.0), rtol=1e-12)
    np.testing.assert_allclose(dt[[2, 3]], 4 * np.exp(-100.0), rtol=1e-12)
    np.testing.assert_array_equal(ds[[0, 1, 4, 5]], 0.0)


@given(t=st.floats(-700, 700))
def test_sigmoid_identities(t: float) -> None:
    s = F.sigmoid(t)
    assert 0 <= s <= 1
    assert F.sigmoid(-t) == pytest.approx(1 - s, abs=1e-15)
    # σ' = σ(t)(1 − σ(t)) = σ(t)σ(−t); the second form has no cancellation for large t
    assert F.sigmoid_derivative(t) == pytest.approx(s * F.sigmoid(-t), rel=1e-13, abs=1e-300)
    assert F.tanh(t) == pytest.approx(2 * F.sigmoid(2 * t) - 1, abs=1e-15)


def test_activation_vjp_shape_mismatch() -> None:
    for vjp in (F.sigmoid_vjp, F.tanh_vjp, F.relu_vjp):
        with pytest.raises(ValueError, match="same shape"):
            vjp(np.zeros((2, 3)), np.zeros(3))


# ------------------------------------------------------------------------------ losses


def _simplex(rng, shape) -> np.ndarray:
    q = rng.random(shape) + 0.05
    return q / q.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_value_and_gradient(shape, rng) -> None:
    y = _simplex(rng, shape)
    q = _simplex(rng, shape)
    h = F.cross_entropy(y, q)
    assert np.shape(h) == shape[:-1]
    assert_close((-(_t(y) * _t(q).log()).sum(-1)).numpy(), np.asarray(h), rtol=1e-14, atol=0)
    yt = _t(y)
    check_vjp(
        lambda q: F.cross_entropy(y, q), lambda q, p: F.cross_entropy_grad(y, q) * p[..., None],
        q, rng=rng, f_torch=lambda qt: -(yt * qt.log()).sum(-1),
    ).assert_ok()


def test_cross_entropy_zero_terms_and_gibbs(rng) -> None:
    y = np.array([0.0, 1.0, 0.0])
    q = np.array([0.0, 0.5, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F.cross_entropy(y, q) == pytest.approx(np.log(2))
        np.testing.assert_array_equal(F.cross_entropy_grad(y, q), [0.0, -2.0, 0.0])
        assert F.cross_entropy(y, np.array([0.5, 0.0, 0.5])) == np.inf
    # Gibbs: H(y, q) ≥ H(y, y) on the simplex
    for _ in range(20):
        y, q = _simplex(rng, 4), _simplex(rng, 4)
        assert F.cross_entropy(y, q) >= F.cross_entropy(y, y) - 1e-12
    with pytest.raises(ValueError, match="no negative entries"):
        F.cross_entropy(y, -q)


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_cross_entropy(shape, rng) -> None:
    z = rng.standard_normal(shape) * 2
    K = shape[-1]
    labels = rng.integers(0, K, size=shape[:-1])
    y = F.one_hot(labels, K) if len(shape) == 2 else F.one_hot(int(labels), K)
    h = F.softmax_cross_entropy(z, y)
    assert_close(F.cross_entropy(y, F.softmax(z)), h, rtol=1e-12, atol=1e-14)
    zt = _t(np.atleast_2d(z))
    ref = TF.cross_entropy(zt, torch.tensor(np.atleast_1d(labels)), reduction="none").numpy()
    assert_close(ref.reshape(np.shape(h)), np.asarray(h), rtol=1e-13, atol=1e-15)
    # one-hot labels: the gradient is γ(z) − y
    assert_close(F.softmax(z) - y, F.softmax_cross_entropy_grad(z, y), rtol=1e-14, atol=1e-16)
    # general (soft, unnormalised) labels against FD and torch
    w = rng.random(shape) * 2
    wt = _t(w)
    check_vjp(
        lambda z: F.softmax_cross_entropy(z, w),
        lambda z, p: F.softmax_cross_entropy_grad(z, w) * p[..., None],
        z, rng=rng, f_torch=lambda zt: -(wt * zt.log_softmax(-1)).sum(-1),
    ).assert_ok()


def test_softmax_cross_entropy_finite_for_large_logits(rng) -> None:
    z = rng.standard_normal((6, 5)) * 1e3
    y = F.one_hot(rng.integers(0, 5, size=6), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = F.softmax_cross_entropy(z, y)
        g = F.softmax_cross_entropy_grad(z, y)
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(g))
    ref = TF.cross_entropy(_t(z), torch.tensor(y.argmax(1)), reduction="none").numpy()
    assert_close(ref, h, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("shape", [(1,), (5,), (4, 3)])
def test_mse_and_gradient(shape, rng) -> None:
    y = rng.standard_normal(shape)
    yhat = rng.standard_normal(shape)
    assert F.mse(y, yhat) == pytest.approx(TF.mse_loss(_t(yhat), _t(y)).item(), rel=1e-14)
    yt = _t(y)
    check_gradient(
        lambda u: F.mse(y, u), lambda u: F.mse_grad(y, u), yhat,
        f_torch=lambda u: ((u - yt) ** 2).mean(),
    ).assert_ok()
    with pytest.raises(ValueError, match="same shape"):
        F.mse(y, yhat.reshape(-1, 1))


def test_one_hot() -> None:
    Y = F.one_hot(np.array([2, 0, 1, 2]), 3)
    assert Y.shape == (4, 3) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.argmax(axis=1), [2, 0, 1, 2])
    np.testing.assert_array_equal(Y.sum(axis=1), 1.0)
    np.testing.assert_array_equal(F.one_hot(1, 3), [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"labels must lie in 0..2, got values from 0 to 3"):
        F.one_hot([0, 3], 3)
    with pytest.raises(TypeError, match="labels must be integers"):
        F.one_hot([0.5], 3)
    with pytest.raises(ValueError, match="K must be a positive integer"):
        F.one_hot([0], 0)


def test_compare_helper_is_used_consistently(rng) -> None:
    # a deliberately wrong softmax VJP (transposed reasoning error: Jacobian of log-softmax)
    z = rng.standard_normal((3, 4))
    wrong = lambda z, p: p - F.softmax(z) * p.sum(axis=-1, keepdims=True)
    report = check_vjp(F.softmax, wrong, z, rng=rng)
    assert not report.ok
    assert compare(F.softmax_vjp(z, z), F.softmax_vjp(z, z)).ok
