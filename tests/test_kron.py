"""mmids.kron: the Kronecker product, the lemma (a)-(f), and the linear-layer blocks and VJPs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mmids import kron as Kr
from mmids.gradcheck import (
    assert_close,
    check_vjp,
    numerical_jacobian,
    torch_jacobian,
)

dims = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _r(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_worked_example_and_non_commutativity() -> None:
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    B = np.array([[0.0, 5.0], [6.0, 7.0]])
    # block (i, j) is a_ij B
    expected = np.array(
        [
            [0.0, 5.0, 0.0, 10.0],
            [6.0, 7.0, 12.0, 14.0],
            [0.0, 15.0, 0.0, 20.0],
            [18.0, 21.0, 24.0, 28.0],
        ]
    )
    np.testing.assert_array_equal(Kr.kron(A, B), expected)
    reverse = np.array(
        [
            [0.0, 0.0, 5.0, 10.0],
            [0.0, 0.0, 15.0, 20.0],
            [6.0, 12.0, 7.0, 14.0],
            [18.0, 24.0, 21.0, 28.0],
        ]
    )
    np.testing.assert_array_equal(Kr.kron(B, A), reverse)
    assert not np.array_equal(Kr.kron(A, B), Kr.kron(B, A))


@given(m=dims, n=dims, p=dims, q=dims, seed=seeds)
def test_kron_matches_numpy_and_blocks(m: int, n: int, p: int, q: int, seed: int) -> None:
    r = _r(seed)
    A, B = r.standard_normal((m, n)), r.standard_normal((p, q))
    C = Kr.kron(A, B)
    assert C.shape == (m * p, n * q)
    np.testing.assert_array_equal(C, np.kron(A, B))
    i, j = r.integers(m), r.integers(n)
    np.testing.assert_array_equal(C[i * p:(i + 1) * p, j * q:(j + 1) * q], A[i, j] * B)


@given(n=dims, k=dims, seed=seeds)
def test_outer_product_as_kronecker(n: int, k: int, seed: int) -> None:
    r = _r(seed)
    u, v = r.standard_normal(n), r.standard_normal(k)
    outer = np.outer(u, v)
    np.testing.assert_array_equal(Kr.kron(v[None, :], u), outer)  # v^T ⊗ u
    np.testing.assert_array_equal(Kr.kron(u, v[None, :]), outer)  # u ⊗ v^T
    # 1-D arguments are columns: u ⊗ v is a column of length n k
    np.testing.assert_array_equal(Kr.kron(u, v), outer.reshape(-1, 1))


@given(m=dims, n=dims, p=dims, q=dims, seed=seeds)
def test_lemma_a_distributivity(m: int, n: int, p: int, q: int, seed: int) -> None:
    r = _r(seed)
    A, B = r.standard_normal((m, n)), r.standard_normal((m, n))
    C = r.standard_normal((p, q))
    assert_close(Kr.kron(A, C) + Kr.kron(B, C), Kr.kron(A + B, C), **TOL)
    assert_close(Kr.kron(C, A) + Kr.kron(C, B), Kr.kron(C, A + B), **TOL)


@given(m=dims, n=dims, k=dims, p=dims, q=dims, s=dims, seed=seeds)
def test_lemma_b_mixed_product(m, n, k, p, q, s, seed) -> None:
    r = _r(seed)
    A, C = r.standard_normal((m, n)), r.standard_normal((n, k))
    B, D = r.standard_normal((p, q)), r.standard_normal((q, s))
    assert_close(Kr.kron(A @ C, B @ D), Kr.kron(A, B) @ Kr.kron(C, D), **TOL)


@given(m=dims, n=dims, p=dims, q=dims, seed=seeds)
def test_lemma_c_hadamard(m: int, n: int, p: int, q: int, seed: int) -> None:
    r = _r(seed)
    A, C = r.standard_normal((m, n)), r.standard_normal((m, n))
    B, D = r.standard_normal((p, q)), r.standard_normal((p, q))
    assert_close(
        Kr.kron(Kr.hadamard(A, C), Kr.hadamard(B, D)),
        Kr.hadamard(Kr.kron(A, B), Kr.kron(C, D)),
        **TOL,
    )


@given(n=dims, k=dims, seed=seeds)
def test_lemma_d_inverse(n: int, k: int, seed: int) -> None:
    r = _r(seed)
    # well-conditioned: a random matrix plus a multiple of the identity
    A = r.standard_normal((n, n)) + 3 * n * np.eye(n)
    B = r.standard_normal((k, k)) + 3 * k * np.eye(k)
    inv = np.linalg.inv
    assert_close(inv(Kr.kron(A, B)), Kr.kron(inv(A), inv(B)), rtol=1e-10, atol=1e-12)


@given(m=dims, n=dims, p=dims, q=dims, seed=seeds)
def test_lemma_e_transpose(m: int, n: int, p: int, q: int, seed: int) -> None:
    r = _r(seed)
    A, B = r.standard_normal((m, n)), r.standard_normal((p, q))
    np.testing.assert_array_equal(Kr.kron(A, B).T, Kr.kron(A.T, B.T))


@given(n=dims, m=dims, k=dims, s=dims, seed=seeds)
def test_lemma_f_column_vector(n: int, m: int, k: int, s: int, seed: int) -> None:
    r = _r(seed)
    u = r.standard_normal((s, 1))
    A, B = r.standard_normal((n, m)), r.standard_normal((m, k))
    assert_close(Kr.kron(u, A) @ B, Kr.kron(u, A @ B), **TOL)  # (u⊗A)B = u⊗(AB)
    assert_close(Kr.kron(A, u) @ B, Kr.kron(A @ B, u), **TOL)  # (A⊗u)B = (AB)⊗u
    # A(u^T ⊗ B) = u^T ⊗ (AB) and A(B ⊗ u^T) = (AB) ⊗ u^T
    assert_close(A @ Kr.kron(u.T, B), Kr.kron(u.T, A @ B), **TOL)
    assert_close(A @ Kr.kron(B, u.T), Kr.kron(A @ B, u.T), **TOL)


def test_kron_and_hadamard_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"Hadamard product needs equal shapes, got \(2, 2\)"):
        Kr.hadamard(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="must be a matrix"):
        Kr.kron(np.zeros((2, 2, 2)), np.eye(2))
    with pytest.raises(TypeError, match="array of numbers"):
        Kr.kron([["x"]], np.eye(2))


# --------------------------------------------------------------- linear layer g(z, w) = W z


def _layer(rng: np.random.Generator, K: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((K, d)), rng.standard_normal(d)


@pytest.mark.parametrize("K,d", [(1, 1), (3, 2), (2, 5), (10, 4)])
def test_blocks_are_the_jacobian_columns(K: int, d: int, rng) -> None:
    W, z = _layer(rng, K, d)
    A = Kr.linear_block_A(W)
    B = Kr.linear_block_B(z, K)
    assert A.shape == (K, d) and B.shape == (K, K * d)
    # A: Jacobian in z; B: Jacobian in w = W.reshape(-1) (rows of W stacked)
    Wt, zt = torch.tensor(W), torch.tensor(z)
    for expected in (numerical_jacobian(lambda u: W @ u, z), torch_jacobian(lambda u: Wt @ u, z)):
        assert_close(expected, A, rtol=1e-8, atol=1e-9)
    f_w = lambda w: w.reshape(K, d) @ z
    for expected in (
        numerical_jacobian(f_w, W.reshape(-1)),
        torch_jacobian(lambda w: w.reshape(K, d) @ zt, W.reshape(-1)),
    ):
        assert_close(expected, B, rtol=1e-8, atol=1e-9)
    assert_close(Kr.kron(np.eye(K), z[None, :]), B, rtol=0, atol=0)
    # the whole Jacobian (A B) of (z, w) -> W z
    x = np.concatenate([z, W.reshape(-1)])
    J = numerical_jacobian(lambda v: v[d:].reshape(K, d) @ v[:d], x)
    assert_close(J, np.hstack([A, B]), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("K,d,N", [(3, 2, None), (4, 6, None), (3, 2, 1), (5, 4, 7)])
def test_linear_vjp_input(K: int, d: int, N: int | None, rng) -> None:
    W, _ = _layer(rng, K, d)
    Wt = torch.tensor(W)
    shape = (d,) if N is None else (N, d)
    Z = rng.standard_normal(shape)
    f = lambda Z: Z @ W.T  # one W z per row
    check_vjp(
        f, lambda Z, P: Kr.linear_vjp_input(W, P), Z, rng=rng, f_torch=lambda Zt: Zt @ Wt.T,
    ).assert_ok()
    p = rng.standard_normal(K)
    assert_close(Kr.linear_block_A(W).T @ p, Kr.linear_vjp_input(W, p), **TOL)


@pytest.mark.parametrize("K,d,N", [(3, 2, None), (4, 6, None), (3, 2, 1), (5, 4, 7)])
def test_linear_vjp_params(K: int, d: int, N: int | None, rng) -> None:
    W, _ = _layer(rng, K, d)
    shape = (d,) if N is None else (N, d)
    Z = rng.standard_normal(shape)
    Zt = torch.tensor(Z)
    # as a function of w: every sample uses the same W, so batch VJPs add up
    f = lambda w: Z @ w.reshape(K, d).T
    check_vjp(
        f, lambda w, P: Kr.linear_vjp_params(Z, P), W.reshape(-1), rng=rng,
        f_torch=lambda w: Zt @ w.reshape(K, d).T,
    ).assert_ok()


@given(K=dims, d=dims, seed=seeds)
def test_linear_vjp_params_is_p_kron_z(K: int, d: int, seed: int) -> None:
    r = _r(seed)
    z, p = r.standard_normal(d), r.standard_normal(K)
    q = Kr.linear_vjp_params(z, p)
    assert q.shape == (K * d,)
    assert_close(Kr.linear_block_B(z, K).T @ p, q, **TOL)  # B^T p
    assert_close(Kr.kron(p, z).reshape(-1), q, **TOL)  # p ⊗ z
    assert_close(np.outer(p, z), q.reshape(K, d), **TOL)  # row k of the gradient is p_k z^T


def test_linear_block_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"p must have shape \(K,\) or \(N, K\) with K = 3"):
        Kr.linear_vjp_input(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="same N"):
        Kr.linear_vjp_params(np.zeros((4, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="K must be a positive integer"):
        Kr.linear_block_B(np.zeros(2), 0)
    with pytest.raises(ValueError, match=r"z must be a vector \(d,\)"):
        Kr.linear_block_B(np.zeros((2, 2)), 2)
    with pytest.raises(ValueError, match="W must be a K×d matrix"):
        Kr.linear_block_A(np.zeros(3))
