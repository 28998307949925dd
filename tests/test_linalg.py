"""mmids.linalg: triangular solves, Gram-Schmidt and Householder QR, least squares by QR."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmids import linalg as LA
from mmids.datasets import load_advertising
from mmids.gradcheck import assert_close

pytestmark = pytest.mark.task_linalg

QR = [LA.gramschmidt, LA.householder]


def _upper(rng: np.random.Generator, m: int) -> np.ndarray:
    return np.triu(rng.standard_normal((m, m))) + 3 * np.eye(m)


@pytest.mark.parametrize("m", [1, 2, 5, 12])
def test_backsubs_and_forwardsubs(m: int, rng) -> None:
    R = _upper(rng, m)
    b = rng.standard_normal(m)
    x = LA.backsubs(R, b)
    assert_close(b, R @ x, rtol=1e-12, atol=1e-12)
    assert_close(np.linalg.solve(R, b), x, rtol=1e-10, atol=1e-12)
    L = R.T
    y = LA.forwardsubs(L, b)
    assert_close(b, L @ y, rtol=1e-12, atol=1e-12)
    B = rng.standard_normal((m, 3))  # several right-hand sides
    assert_close(B, R @ LA.backsubs(R, B), rtol=1e-12, atol=1e-12)
    assert_close(B, L @ LA.forwardsubs(L, B), rtol=1e-12, atol=1e-12)


def test_triangular_solve_errors() -> None:
    R = np.triu(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\) or \(3, k\)"):
        LA.backsubs(R, np.ones(2))
    with pytest.raises(ValueError, match="R must be square"):
        LA.backsubs(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="R must be upper triangular"):
        LA.backsubs(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="L must be lower triangular"):
        LA.forwardsubs(R + np.triu(np.ones((3, 3)), 1), np.ones(3))
    with pytest.raises(ValueError, match="singular: zero on the diagonal at index 1"):
        LA.backsubs(np.diag([1.0, 0.0, 2.0]), np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        LA.backsubs(R, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="non-finite"):
        LA.forwardsubs(np.diag([1.0, np.inf]), np.ones(2))


@pytest.mark.parametrize("qr", QR, ids=lambda f: f.__name__)
@given(n=st.integers(1, 8), extra=st.integers(0, 5), seed=st.integers(0, 2**32 - 1))
def test_qr_factors(qr, n: int, extra: int, seed: int) -> None:
    r = np.random.default_rng(seed)
    A = r.standard_normal((n + extra, n))
    Q, R = qr(A)
    assert Q.shape == (n + extra, n) and R.shape == (n, n)
    assert_close(A, Q @ R, rtol=1e-10, atol=1e-12)
    assert_close(np.eye(n), Q.T @ Q, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(R, np.triu(R))
    assert np.all(np.diag(R) > 0)


def test_gramschmidt_and_householder_agree(rng) -> None:
    A = rng.standard_normal((9, 4))
    Qg, Rg = LA.gramschmidt(A)
    Qh, Rh = LA.householder(A)
    assert_close(Qh, Qg, rtol=1e-10, atol=1e-12)
    assert_close(Rh, Rg, rtol=1e-10, atol=1e-12)
    # numpy's R differs only by the signs of the rows
    _, Rn = np.linalg.qr(A)
    assert_close(np.abs(Rn), np.abs(Rh), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (3, 6), (1, 4), (6, 1)])
def test_householder_complete_mode_any_shape(shape: tuple[int, int], rng) -> None:
    A = rng.standard_normal(shape)
    Q, R = LA.householder(A, mode="complete")
    n, m = shape
    assert Q.shape == (n, n) and R.shape == (n, m)
    assert_close(np.eye(n), Q.T @ Q, rtol=0, atol=1e-12)
    assert_close(A, Q @ R, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(R, np.triu(R))
    with pytest.raises(ValueError, match="mode must be"):
        LA.householder(A, mode="full")  # type: ignore[arg-type]


def test_householder_on_a_rank_deficient_matrix_still_factors(rng) -> None:
    A = rng.standard_normal((6, 3))
    A[:, 2] = A[:, 0] - 2 * A[:, 1]
    Q, R = LA.householder(A)
    assert_close(A, Q @ R, rtol=1e-10, atol=1e-12)
    assert abs(R[2, 2]) < 1e-12 * abs(R[0, 0])


def test_gramschmidt_errors(rng) -> None:
    A = rng.standard_normal((5, 3))
    A[:, 1] = 2.5 * A[:, 0]
    with pytest.raises(ValueError, match="rank-deficient: column 1 lies in the span"):
        LA.gramschmidt(A)
    with pytest.raises(ValueError, match="at least as many rows as columns"):
        LA.gramschmidt(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"non-empty 2-D matrix, got shape \(4,\)"):
        LA.gramschmidt(np.ones(4))


@pytest.mark.parametrize("method", ["householder", "gramschmidt"])
@given(n=st.integers(1, 6), extra=st.integers(0, 30), k=st.sampled_from([None, 1, 3]),
       seed=st.integers(0, 2**32 - 1))
def test_ls_by_qr_matches_lstsq(method: str, n: int, extra: int, k: int | None,
                                seed: int) -> None:
    r = np.random.default_rng(seed)
    A = r.standard_normal((n + extra, n)) * r.uniform(0.1, 100, size=n)  # mixed column scales
    b = r.standard_normal(n + extra) if k is None else r.standard_normal((n + extra, k))
    x = LA.ls_by_qr(A, b, method=method)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert x.shape == expected.shape
    assert_close(expected, x, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("method", ["householder", "gramschmidt"])
def test_ls_by_qr_on_advertising(method: str) -> None:
    df = load_advertising(download=False)  # $MMIDS_DATA_DIR, set by conftest if needed
    A = np.column_stack([np.ones(len(df)), df[["TV", "radio", "newspaper"]].to_numpy()])
    b = df["sales"].to_numpy(dtype=float)
    x = LA.ls_by_qr(A, b, method=method)
    assert_close(np.linalg.lstsq(A, b, rcond=None)[0], x, rtol=1e-10, atol=1e-12)
    # the well-known ISLR fit: intercept ~2.94, TV ~0.046, radio ~0.189, newspaper ~ -0.001
    np.testing.assert_allclose(x, [2.939, 0.0458, 0.1885, -0.0010], atol=5e-4)
    mse = np.mean((A @ x - b) ** 2)
    assert 2.7 < mse < 2.9


def test_ls_by_qr_bad_inputs(rng) -> None:
    A = rng.standard_normal((6, 3))
    b = rng.standard_normal(6)
    with pytest.raises(ValueError, match=r"b must have shape \(6,\) or \(6, k\)"):
        LA.ls_by_qr(A, b[:5])
    with pytest.raises(ValueError, match=r"non-empty 2-D matrix, got shape \(6,\)"):
        LA.ls_by_qr(b, b)
    with pytest.raises(ValueError, match="A contains non-finite entries"):
        LA.ls_by_qr(np.where(A > 1, np.nan, A), b)
    with pytest.raises(ValueError, match="b contains non-finite entries"):
        LA.ls_by_qr(A, np.full(6, np.inf))
    with pytest.raises(ValueError, match="underdetermined"):
        LA.ls_by_qr(A.T, b[:3])
    with pytest.raises(ValueError, match="method must be"):
        LA.ls_by_qr(A, b, method="svd")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="array of numbers"):
        LA.ls_by_qr([["a", "b"]], b[:1])


@pytest.mark.parametrize("noise", [0.0, 1e-14])
def test_ls_by_qr_rank_deficient(noise: float, rng) -> None:
    A = rng.standard_normal((8, 3))
    A[:, 2] = A[:, 0] + A[:, 1] + noise * rng.standard_normal(8)
    b = rng.standard_normal(8)
    msg = r"rank-deficient.*column 2 lies.*in the span of the previous columns"
    with pytest.raises(ValueError, match=msg):
        LA.ls_by_qr(A, b)
    with pytest.raises(ValueError, match="rank-deficient"):
        LA.ls_by_qr(A, b, method="gramschmidt")
    with pytest.raises(ValueError, match="rank-deficient"):
        LA.ls_by_qr(np.zeros((4, 2)), np.ones(4))


SCALES = np.array([1e-6, 1.0, 1e6])


@pytest.mark.parametrize("method", ["householder", "gramschmidt"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ls_by_qr_full_rank_but_badly_scaled(method: str, seed: int) -> None:
    # columns of sizes 1e-6, 1, 1e6: cond(A) ~ 1e12, yet numpy calls A full rank, and the
    # column-scaled problem A D^{-1} (D = diag(column norms)) is perfectly conditioned
    r = np.random.default_rng(seed)
    B = r.standard_normal((10, 3))
    A = B * SCALES
    b = r.standard_normal(10)
    assert np.linalg.matrix_rank(A) == 3 and np.linalg.cond(A) > 1e11
    x = LA.ls_by_qr(A, b, method=method)
    # A x = B (D x): the solution of the well-conditioned problem in B, unscaled
    expected = np.linalg.lstsq(B, b, rcond=None)[0] / SCALES
    assert_close(expected * SCALES, x * SCALES, rtol=1e-9, atol=1e-12)
    # normal equations, column by column relative to each column's size
    assert_close(np.zeros(3), (A.T @ (A @ x - b)) / SCALES, atol=1e-9)


@pytest.mark.parametrize("method", ["householder", "gramschmidt"])
def test_ls_by_qr_badly_scaled_and_exactly_dependent_is_rejected(method: str, rng) -> None:
    A = rng.standard_normal((10, 3)) * SCALES
    A[:, 2] = 1e12 * A[:, 0] - 3e6 * A[:, 1]  # size ~1e6 like before, but in the span
    b = rng.standard_normal(10)
    with pytest.raises(ValueError, match=r"rank-deficient.*column 2"):
        LA.ls_by_qr(A, b, method=method)
    A[:, 1] = 0.0  # a zero column among badly scaled ones
    with pytest.raises(ValueError, match=r"rank-deficient.*column 1"):
        LA.ls_by_qr(A, b, method=method)
