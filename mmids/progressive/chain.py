"""§1: a chain of linear maps, its gradient by forward and by reverse mode, and operation counts.

``f(x) = ½‖y − W_L…W_1 x‖²`` with weight matrices ``W_i`` of shape ``n_{i+1} × n_i`` (passed as
the list ``Ws = [W_1, …, W_L]``), ``n_1 = d`` and ``n_{L+1} = K``. Forward mode carries the
partial products ``F_i = W_i … W_1``, reverse mode the rows ``G_i = (z_{L+1} − y)^T W_L … W_i``
(``G_i^T`` is the gradient with respect to ``z_i``, the ``p_i`` of §4). Multiplying an ``n×m``
matrix by an ``m×l`` matrix costs ``2nml − nl`` elementary operations (``nml`` multiplications
and ``n(m−1)l`` additions); ``OpCounter`` adds these up for each mode, and
``forward_mode_cost``/``reverse_mode_cost`` give the closed forms. Their ratio is about
``M d / (M + d)`` with ``M = (L − 2)m + K``: of the order of the smaller of ``d`` and the total
width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import positive_int

__all__ = [
    "OpCounter",
    "chain_forward_mode",
    "chain_reverse_mode",
    "forward_mode_cost",
    "matmul_cost",
    "random_linear_chain",
    "reverse_mode_cost",
]

Array = NDArray[np.float64]


def matmul_cost(n: int, m: int, l: int) -> int:
    """Elementary operations to multiply an ``n×m`` by an ``m×l`` matrix: ``2nml − nl``.

    Each of the ``nl`` entries of the product is a sum of ``m`` products: ``m`` multiplications
    and ``m − 1`` additions.
    """
    n, m, l = (positive_int(v, s) for v, s in ((n, "n"), (m, "m"), (l, "l")))
    return 2 * n * m * l - n * l


@dataclass
class OpCounter:
    """Counts the elementary operations of the matrix products it performs.

    ``counter.matmul(A, B)`` returns ``A @ B`` for 2-D ``A`` (``n×m``) and ``B`` (``m×l``) and adds
    ``matmul_cost(n, m, l)`` to ``counter.total``; ``counter.products`` records each product's
    shape ``(n, m, l)`` in order.
    """

    total: int = 0
    products: list[tuple[int, int, int]] = field(default_factory=list)

    def matmul(self, A: Array, B: Array) -> Array:
        if A.ndim != 2 or B.ndim != 2:
            raise ValueError(
                f"OpCounter.matmul needs 2-D arrays (write row vectors as 1×n), got "
                f"{A.shape} and {B.shape}"
            )
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"cannot multiply {A.shape} by {B.shape}: inner sizes differ")
        n, m = A.shape
        l = B.shape[1]
        self.total += matmul_cost(n, m, l)
        self.products.append((n, m, l))
        return A @ B


def random_linear_chain(
    L: int, m: int, d: int, K: int, rng: np.random.Generator | None = None
) -> list[Array]:
    """Random weights ``[W_1, …, W_L]`` of a chain ``R^d → R^m → … → R^m → R^K``.

    Shapes: ``W_1`` is ``m×d`` (``K×d`` when ``L = 1``), ``W_i`` is ``m×m`` for
    ``1 < i < L``, ``W_L`` is ``K×m``; entries are standard normal scaled by ``1/√(fan-in)`` so
    the values stay of order one.
    """
    L, m, d, K = _positive_sizes(L, m, d, K)
    rng = np.random.default_rng() if rng is None else rng
    sizes = [d] + [m] * (L - 1) + [K]
    return [rng.standard_normal((sizes[i + 1], sizes[i])) / np.sqrt(sizes[i]) for i in range(L)]


def _check_chain(
    Ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike
) -> tuple[list[Array], Array, Array]:
    if len(Ws) == 0:
        raise ValueError("the chain needs at least one map W_1")
    mats = [np.asarray(W, dtype=np.float64) for W in Ws]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector (d,), got shape {x.shape}")
    n = x.shape[0]
    for i, W in enumerate(mats, start=1):
        if W.ndim != 2 or W.shape[1] != n:
            raise ValueError(f"W_{i} must have shape (n_{i + 1}, {n}), got {W.shape}")
        n = W.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (the output size), got {y.shape}")
    return mats, x, y


def _chain_values(Ws: list[Array], x: Array) -> list[Array]:
    """``z_1 = x``, ``z_{i+1} = W_i z_i`` (not counted: both modes need the same values)."""
    zs = [x]
    for W in Ws:
        zs.append(W @ zs[-1])
    return zs


def chain_forward_mode(
    Ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike, counter: OpCounter | None = None
) -> Array:
    """``∇f(x)`` for ``f(x) = ½‖y − W_L…W_1 x‖²`` by forward mode (right to left).

    ``F_1 = J_{g_1} = W_1`` (no arithmetic), ``F_i = W_i F_{i−1}`` (``n_{i+1}×n_i`` times
    ``n_i×d``), then ``∇f(x)^T = J_ℓ(z_{L+1}) F_L`` with ``J_ℓ(z) = (z − y)^T`` (``1×K`` times
    ``K×d``). Returns ``∇f(x)`` of shape ``(d,)``. The Jacobian products are counted in
    ``counter``; the value pass ``z_{i+1} = W_i z_i`` and forming ``z − y`` are not (both modes
    do them identically). With ``n_2 = … = n_L = m`` and ``L ≥ 2`` the count equals
    ``forward_mode_cost(L, m, d, K)`` exactly.
    """
    mats, x, y = _check_chain(Ws, x, y)
    counter = OpCounter() if counter is None else counter
    zs = _chain_values(mats, x)
    F = mats[0]
    for W in mats[1:]:
        F = counter.matmul(W, F)
    J_loss = (zs[-1] - y)[None, :]
    return counter.matmul(J_loss, F)[0]


def chain_reverse_mode(
    Ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike, counter: OpCounter | None = None
) -> Array:
    """``∇f(x)`` for ``f(x) = ½‖y − W_L…W_1 x‖²`` by reverse mode (left to right).

    After the value pass, ``G_{L+1} = J_ℓ(z_{L+1}) = (z_{L+1} − y)^T`` and
    ``G_i = G_{i+1} W_i`` for ``i = L..1``: every product is a row vector times a matrix.
    Returns ``∇f(x) = G_1^T`` of shape ``(d,)``. Counting as in ``chain_forward_mode``; with
    ``n_2 = … = n_L = m`` and ``L ≥ 2`` the count equals ``reverse_mode_cost(L, m, d, K)``.
    """
    mats, x, y = _check_chain(Ws, x, y)
    counter = OpCounter() if counter is None else counter
    zs = _chain_values(mats, x)
    G = (zs[-1] - y)[None, :]
    for W in reversed(mats):
        G = counter.matmul(G, W)
    return G[0]


def _positive_sizes(L: int, m: int, d: int, K: int) -> tuple[int, int, int, int]:
    """The chain sizes, each checked to be a positive integer."""
    return positive_int(L, "L"), positive_int(m, "m"), positive_int(d, "d"), positive_int(K, "K")


def _chain_sizes(L: int, m: int, d: int, K: int) -> tuple[int, int, int, int]:
    L, m, d, K = _positive_sizes(L, m, d, K)
    if L < 2:
        raise ValueError(
            f"the closed forms assume L ≥ 2 maps (a hidden width m exists), got L = {L}; "
            "for L = 1 both modes cost (2K−1)d"
        )
    return L, m, d, K


def forward_mode_cost(L: int, m: int, d: int, K: int) -> int:
    """Forward-mode cost ``(L−2)m(2m−1)d + K(2m−1)d + (2K−1)d ≈ 2Lm²d`` (``L ≥ 2``).

    Sizes ``n_1 = d``, ``n_2 = … = n_L = m``, ``n_{L+1} = K``: ``L − 2`` products ``m×m`` times
    ``m×d``, one ``K×m`` times ``m×d`` and one ``1×K`` times ``K×d``.
    """
    L, m, d, K = _chain_sizes(L, m, d, K)
    return (L - 2) * m * (2 * m - 1) * d + K * (2 * m - 1) * d + (2 * K - 1) * d


def reverse_mode_cost(L: int, m: int, d: int, K: int) -> int:
    """Reverse-mode cost ``(2K−1)m + (L−2)(2m−1)m + (2m−1)d ≈ 2Lm² + 2md`` (``L ≥ 2``).

    One ``1×K`` times ``K×m``, ``L − 2`` products ``1×m`` times ``m×m`` and one ``1×m`` times
    ``m×d``.
    """
    L, m, d, K = _chain_sizes(L, m, d, K)
    return (2 * K - 1) * m + (L - 2) * (2 * m - 1) * m + (2 * m - 1) * d
