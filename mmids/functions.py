"""Softmax, activations and losses: value, derivative and vector-Jacobian product side by side.

Conventions (as in the book):

* vectors are columns; a *batch* of ``N`` vectors of length ``K`` is an ``(N, K)`` array with one
  vector per row, and every function that acts on vectors acts row by row on a batch;
* ``γ(z)`` is the softmax, ``γ_i(z) = exp(z_i) / Σ_j exp(z_j)``;
* ``ℂ_K[z] = diag(γ(z)) − γ(z) γ(z)^T`` is its ``K×K`` Jacobian;
* the entry-wise activations (``σ``, ReLU, tanh) take the pre-activation ``t`` (``t = W z`` in
  a layer); their derivative ``s = σ'(t)`` is evaluated entry by entry;
* a VJP ("vector-Jacobian product") of a map ``g`` at ``z`` with upstream gradient ``p`` (a
  column shaped like ``g(z)``; a batch ``P`` has one ``p^T`` per row) is ``J_g(z)^T p``; for
  entry-wise maps it is ``g'(t) ⊙ p``, e.g. ``s ⊙ p`` for the sigmoid;
* losses compare a label ``y`` (one-hot, in the simplex ``Δ_K``) with the model's output ``z``.

Everything is computed in float64 and is numerically stable: the softmax subtracts the maximum,
the log-softmax uses log-sum-exp, and the sigmoid never evaluates ``exp`` of a large positive
number, so none of these functions overflows or warns for inputs of magnitude ``1e4``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import as_float_array, positive_int, same_shape

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "log_softmax",
    "mse",
    "mse_grad",
    "one_hot",
    "relu",
    "relu_derivative",
    "relu_vjp",
    "sigmoid",
    "sigmoid_derivative",
    "sigmoid_vjp",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "softmax_jacobian",
    "softmax_vjp",
    "tanh",
    "tanh_derivative",
    "tanh_vjp",
]

Array = NDArray[np.float64]


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _as_vectors(z: ArrayLike, name: str) -> Array:
    """A vector (K,) or a batch of vectors (N, K), as float64."""
    arr = as_float_array(z, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a vector (K,) or a batch (N, K), got a scalar")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one entry per vector, got shape {arr.shape}")
    return arr


def _pair(
    a: ArrayLike, b: ArrayLike, name_a: str, name_b: str, read: Callable[[ArrayLike, str], Array]
) -> tuple[Array, Array]:
    """Both arguments read by ``read`` (e.g. ``as_float_array``), checked to share one shape."""
    a_arr, b_arr = read(a, name_a), read(b, name_b)
    same_shape(a_arr, b_arr, name_a, name_b)
    return a_arr, b_arr


def _scalar_if_0d(x: Array) -> Array:
    """Return a numpy scalar for 0-d results (so ``sigmoid(0.0)`` is a number)."""
    return x[()] if x.ndim == 0 else x


# ---------------------------------------------------------------------------------------------
# softmax
# ---------------------------------------------------------------------------------------------


def softmax(z: ArrayLike, axis: int = -1) -> Array:
    """Softmax ``γ(z)_i = exp(z_i) / Σ_j exp(z_j)`` along ``axis`` (default: each row).

    Stable evaluation: ``γ(z) = γ(z − max_j z_j)``, so the largest exponent is ``exp(0) = 1``
    and nothing overflows. Shape in = shape out; ``(K,)`` or ``(N, K)`` (rows) or any array.
    """
    z = _as_vectors(z, "z")
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z: ArrayLike, axis: int = -1) -> Array:
    """``log γ(z)_i = z_i − log Σ_j exp(z_j)``, by the log-sum-exp trick (subtract the max).

    Finite for finite ``z`` of any magnitude. Shape in = shape out.
    """
    z = _as_vectors(z, "z")
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_jacobian(z: ArrayLike) -> Array:
    """The softmax Jacobian ``ℂ_K[z] = diag(γ(z)) − γ(z) γ(z)^T``.

    ``z`` of shape ``(K,)`` gives ``(K, K)``; a batch ``(N, K)`` gives ``(N, K, K)`` (one matrix
    per row). Entry ``(i, j)`` is ``∂γ_i/∂z_j = γ_i (δ_ij − γ_j)``. The matrix is symmetric, its
    rows sum to zero (``γ`` stays on the simplex) and it is positive semi-definite.
    """
    g = softmax(z)
    K = g.shape[-1]
    return g[..., :, None] * np.eye(K) - g[..., :, None] * g[..., None, :]


def softmax_vjp(z: ArrayLike, p: ArrayLike) -> Array:
    """``ℂ_K[z]^T p = γ ⊙ (p − ⟨γ, p⟩ 1)`` with ``γ = γ(z)``, in O(K) per row.

    ``z`` and ``p`` both ``(K,)`` or both ``(N, K)``; the result has the same shape. The Jacobian
    matrix is never formed.
    """
    g = softmax(z)
    p = as_float_array(p, "p")
    same_shape(g, p, "z", "p")
    return g * (p - np.sum(g * p, axis=-1, keepdims=True))


# ---------------------------------------------------------------------------------------------
# entry-wise activations: σ, ReLU, tanh
# ---------------------------------------------------------------------------------------------


def sigmoid(t: ArrayLike) -> Array:
    """Logistic sigmoid ``σ(t) = 1 / (1 + e^{−t})``, entry-wise, any shape.

    Stable: with ``e = exp(−|t|) ∈ (0, 1]``, ``σ(t) = 1/(1 + e)`` for ``t ≥ 0`` and
    ``e/(1 + e)`` for ``t < 0``, so ``exp`` never sees a large positive argument.
    """
    t = as_float_array(t, "t")
    e = np.exp(-np.abs(t))
    return _scalar_if_0d(np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def sigmoid_derivative(t: ArrayLike) -> Array:
    """``σ'(t) = σ(t)(1 − σ(t))``, entry-wise, any shape.

    Evaluated as ``e / (1 + e)²`` with ``e = exp(−|t|)`` (σ' is even), which keeps full relative
    accuracy for large ``|t|`` where ``1 − σ(t)`` would cancel to zero.
    """
    t = as_float_array(t, "t")
    e = np.exp(-np.abs(t))
    return _scalar_if_0d(e / (1.0 + e) ** 2)


def sigmoid_vjp(t: ArrayLike, p: ArrayLike) -> Array:
    """VJP of the entry-wise sigmoid: ``diag(s) p = s ⊙ p`` with ``s = σ'(t)`` (shape of ``t``)."""
    t, p = _pair(t, p, "t", "p", as_float_array)
    return _scalar_if_0d(sigmoid_derivative(t) * p)


def relu(t: ArrayLike) -> Array:
    """``ReLU(t) = max(t, 0)``, entry-wise, any shape."""
    t = as_float_array(t, "t")
    return _scalar_if_0d(np.maximum(t, 0.0))


def relu_derivative(t: ArrayLike) -> Array:
    """``1(t > 0)`` entry-wise; the value at ``t = 0`` is taken to be 0 (a convention)."""
    t = as_float_array(t, "t")
    return _scalar_if_0d((t > 0).astype(np.float64))


def relu_vjp(t: ArrayLike, p: ArrayLike) -> Array:
    """VJP of the entry-wise ReLU: ``1(t > 0) ⊙ p`` (same shape as ``t``)."""
    t, p = _pair(t, p, "t", "p", as_float_array)
    return _scalar_if_0d(np.where(t > 0, p, 0.0))


def tanh(t: ArrayLike) -> Array:
    """Hyperbolic tangent, entry-wise, any shape."""
    t = as_float_array(t, "t")
    return _scalar_if_0d(np.tanh(t))


def tanh_derivative(t: ArrayLike) -> Array:
    """``tanh'(t) = 1 − tanh(t)²``, entry-wise.

    Evaluated as ``4e / (1 + e)²`` with ``e = exp(−2|t|)`` (the same number, without the
    cancellation of ``1 − tanh²`` for large ``|t|``).
    """
    t = as_float_array(t, "t")
    e = np.exp(-2.0 * np.abs(t))
    return _scalar_if_0d(4.0 * e / (1.0 + e) ** 2)


def tanh_vjp(t: ArrayLike, p: ArrayLike) -> Array:
    """VJP of the entry-wise tanh: ``(1 − tanh(t)²) ⊙ p`` (same shape as ``t``)."""
    t, p = _pair(t, p, "t", "p", as_float_array)
    return _scalar_if_0d(tanh_derivative(t) * p)


# ---------------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------------


def cross_entropy(y: ArrayLike, z: ArrayLike) -> Array:
    """Cross-entropy ``H(y, z) = −Σ_k y_k log z_k`` over the last axis.

    ``y`` (labels, usually one-hot) and ``z`` (probabilities, e.g. a softmax output) have the
    same shape; ``(K,)`` gives a scalar, ``(N, K)`` gives ``(N,)``. Terms with ``y_k = 0`` count
    as 0 even where ``z_k = 0``; ``z_k = 0`` with ``y_k > 0`` gives ``+inf`` (the true value).
    Negative ``z`` is a ValueError.
    """
    y, z = _pair(y, z, "y", "z", _as_vectors)
    if np.any(z < 0):
        raise ValueError("z must hold probabilities (no negative entries)")
    logs = np.zeros_like(z)
    nz = y != 0
    with np.errstate(divide="ignore"):
        np.log(z, out=logs, where=nz)
    return _scalar_if_0d(-np.sum(np.where(nz, y * logs, 0.0), axis=-1))


def cross_entropy_grad(y: ArrayLike, z: ArrayLike) -> Array:
    """``∇_z H(y, z) = −y / z`` entry-wise (0 where ``y_k = 0``); same shape as ``z``.

    At the output of a softmax layer this is the upstream gradient ``p_{L+1}`` of
    backpropagation.
    """
    y, z = _pair(y, z, "y", "z", _as_vectors)
    out = np.zeros_like(z)
    nz = y != 0
    with np.errstate(divide="ignore"):
        np.divide(-y, z, out=out, where=nz)
    return out


def softmax_cross_entropy(z: ArrayLike, y: ArrayLike) -> Array:
    """``H(y, γ(z)) = −Σ_k y_k log γ_k(z)`` per row, through ``log_softmax`` (finite for large z).

    ``z`` (logits) and ``y`` (labels) share the shape ``(K,)`` (scalar result) or ``(N, K)``
    (result ``(N,)``).
    """
    z, y = _pair(z, y, "z", "y", _as_vectors)
    ls = log_softmax(z)
    return _scalar_if_0d(-np.sum(np.where(y != 0, y * ls, 0.0), axis=-1))


def softmax_cross_entropy_grad(z: ArrayLike, y: ArrayLike) -> Array:
    """Gradient in ``z`` of ``H(y, γ(z))``: ``ℂ_K[z]^T(−y/γ) = γ(z) Σ_k y_k − y``, per row.

    For a label ``y`` on the simplex (e.g. one-hot) this is the familiar ``γ(z) − y``.
    Same shape as ``z``.
    """
    z, y = _pair(z, y, "z", "y", _as_vectors)
    return softmax(z) * np.sum(y, axis=-1, keepdims=True) - y


def _mse_args(y: ArrayLike, yhat: ArrayLike) -> tuple[Array, Array]:
    y_arr, yhat_arr = _pair(y, yhat, "y", "yhat", as_float_array)
    if y_arr.size == 0:
        raise ValueError("mse of empty arrays is undefined")
    return y_arr, yhat_arr


def mse(y: ArrayLike, yhat: ArrayLike) -> float:
    """Mean squared error: the mean of ``(y − ŷ)²`` over all entries (a float)."""
    y, yhat = _mse_args(y, yhat)
    return float(np.mean((y - yhat) ** 2))


def mse_grad(y: ArrayLike, yhat: ArrayLike) -> Array:
    """``∂ mse / ∂ŷ = 2 (ŷ − y) / ŷ.size`` (over all entries); same shape as ``yhat``."""
    y, yhat = _mse_args(y, yhat)
    return _scalar_if_0d(2.0 * (yhat - y) / y.size)


def one_hot(labels: ArrayLike, K: int) -> Array:
    """One-hot rows: ``labels`` (N,) of integers in ``0..K−1`` -> ``(N, K)`` with ``e_{label}``.

    A scalar label gives a single ``(K,)`` vector.
    """
    K = positive_int(K, "K")
    arr = np.asarray(labels)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or np.any(arr != np.round(arr)):
            raise TypeError(f"labels must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.ndim > 1:
        raise ValueError(f"labels must be a 1-D array (N,), got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= K):
        raise ValueError(
            f"labels must lie in 0..{K - 1}, got values from {arr.min()} to {arr.max()}"
        )
    return np.eye(K, dtype=np.float64)[arr]
