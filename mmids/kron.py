"""Kronecker and Hadamard products, and the Jacobian blocks of a linear layer.

For ``A ∈ R^{m×n}`` and ``B ∈ R^{r×c}`` the Kronecker product ``A ⊗ B ∈ R^{mr×nc}`` is the block
matrix whose ``(i, j)`` block is ``a_ij B``. The Hadamard product ``A ⊙ B`` multiplies entries.

A linear layer ``g(z, w) = W z`` with ``W ∈ R^{K×d}`` and parameter vector ``w ∈ R^{Kd}`` that
stacks the *rows* of ``W`` (``w = W.reshape(-1)`` in numpy's row-major order) has Jacobian
``J_g(z, w) = (𝔸_{d,K}[w]  𝔹_{d,K}[z])`` with

* ``𝔸_{d,K}[w] = W`` (``K×d``, the columns for ``z``),
* ``𝔹_{d,K}[z] = I_K ⊗ z^T`` (``K×Kd``, the columns for ``w``).

Backpropagation only needs the products with the upstream gradient ``p ∈ R^K`` (a column
shaped like the output ``W z``): ``𝔸^T p = W^T p`` (the upstream gradient passed on to ``z``)
and ``𝔹^T p = (I_K ⊗ z) p = p ⊗ z`` (the parameter gradient ``q``, the gradient for row ``k``
of ``W`` being ``p_k z``); the functions ``linear_vjp_input`` and ``linear_vjp_params`` compute
them without ever building the ``K×Kd`` matrix. For a batch of ``N`` samples they take the
inputs as the rows of an ``(N, d)`` array ``Z`` and the upstream gradients as the rows of an
``(N, K)`` array ``P`` (row ``k`` is ``p_k^T``). The explicit matrices (``linear_block_A``,
``linear_block_B``, ``kron``) are there for teaching and tests.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import as_float_array, positive_int

__all__ = [
    "hadamard",
    "kron",
    "linear_block_A",
    "linear_block_B",
    "linear_vjp_input",
    "linear_vjp_params",
]

Array = NDArray[np.float64]


def _as_matrix(x: ArrayLike, name: str) -> Array:
    """A 2-D float64 array; a 1-D vector is read as a column (the book's convention)."""
    arr = as_float_array(x, name)
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a matrix (2-D), got shape {arr.shape}")
    return arr


def kron(A: ArrayLike, B: ArrayLike) -> Array:
    """Kronecker product ``A ⊗ B``: ``(m, n)`` and ``(r, c)`` give ``(m r, n c)``.

    Block ``(i, j)`` of the result (rows ``i r … i r + r − 1``, columns ``j c … j c + c − 1``) is
    ``a_ij B``. The four-index array ``C[i, k, j, l] = a_ij b_kl`` laid out row-major is exactly
    that block matrix. A 1-D argument is taken as a column vector (so ``kron(u, v)`` is the
    column ``u ⊗ v``; use ``u[None, :]`` for a row ``u^T``); this differs from ``np.kron``,
    which treats 1-D arrays as rows.
    """
    A = _as_matrix(A, "A")
    B = _as_matrix(B, "B")
    m, n = A.shape
    r, c = B.shape
    return (A[:, None, :, None] * B[None, :, None, :]).reshape(m * r, n * c)


def hadamard(A: ArrayLike, B: ArrayLike) -> Array:
    """Hadamard (entry-wise) product ``A ⊙ B``; both arguments must have the same shape."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.shape != B.shape:
        raise ValueError(
            f"Hadamard product needs equal shapes, got {A.shape} and {B.shape}"
        )
    return A * B


def linear_block_A(W: ArrayLike) -> Array:
    """``𝔸_{d,K}[w] = W``: the ``K×d`` block of ``J_g`` for the input ``z`` of ``g(z, w) = W z``."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a K×d matrix, got shape {W.shape}")
    return W.copy()


def linear_block_B(z: ArrayLike, K: int) -> Array:
    """``𝔹_{d,K}[z] = I_K ⊗ z^T``: the ``K × K d`` block of ``J_g`` for the parameters ``w``.

    ``z`` has shape ``(d,)``. Row ``k`` holds ``z^T`` in columns ``k d … k d + d − 1``, because
    output ``k`` is ``⟨w^(k), z⟩`` and ``w^(k)`` (row ``k`` of ``W``) sits there in ``w``.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1:
        raise ValueError(f"z must be a vector (d,), got shape {z.shape}")
    return kron(np.eye(positive_int(K, "K")), z[None, :])


def linear_vjp_input(W: ArrayLike, p: ArrayLike) -> Array:
    """``𝔸^T p = W^T p``: ``W`` is ``(K, d)``; ``p`` of shape ``(K,)`` gives ``(d,)``.

    A batch ``P`` of shape ``(N, K)`` (row ``k`` is the upstream gradient ``p_k^T`` of sample
    ``k``) gives ``(N, d)``, row ``k`` being ``(W^T p_k)^T`` (computed as ``P W``).
    """
    W = np.asarray(W, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a K×d matrix, got shape {W.shape}")
    if p.ndim not in (1, 2) or p.shape[-1] != W.shape[0]:
        raise ValueError(
            f"p must have shape (K,) or (N, K) with K = {W.shape[0]} (rows of W), got {p.shape}"
        )
    return p @ W


def linear_vjp_params(z: ArrayLike, p: ArrayLike) -> Array:
    """``𝔹^T p = (I_K ⊗ z) p = p ⊗ z``, without forming ``I_K ⊗ z^T``.

    ``z`` of shape ``(d,)`` and ``p`` of shape ``(K,)`` give the ``(K d,)`` vector whose block
    ``k`` is ``p_k z`` (the gradient for row ``k`` of ``W``). For a batch, inputs ``Z``
    ``(N, d)`` and upstream gradients ``P`` ``(N, K)`` (one sample per row), the per-sample
    products are summed over the batch: the result is
    ``Σ_k p_k ⊗ z_k = (P^T Z).reshape(-1)``, still ``(K d,)``.
    """
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if z.ndim == 1 and p.ndim == 1:
        return np.outer(p, z).reshape(-1)
    if z.ndim == 2 and p.ndim == 2 and z.shape[0] == p.shape[0]:
        return (p.T @ z).reshape(-1)
    raise ValueError(
        "z and p must be (d,) and (K,), or batches (N, d) and (N, K) with the same N; "
        f"got {z.shape} and {p.shape}"
    )
