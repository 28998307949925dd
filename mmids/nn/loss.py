"""The softmax cross-entropy loss on a batch of logits, with its gradient ``(γ(Z) ΣY − Y)/N``."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions
from mmids.nn.module import Array

__all__ = ["SoftmaxCrossEntropy"]


class SoftmaxCrossEntropy:
    """Mean cross-entropy of the softmax of the logits, ``L = (1/N) Σ_n H(y_n, γ(z_n))``.

    ``forward(Z, y)``: logits ``Z`` ``(N, K)``; labels ``y`` as integers ``(N,)`` or as rows
    ``(N, K)`` (one-hot, soft labels on the simplex, or any non-negative weights). Returns ``L``
    as a float, with ``H(y, γ) = −Σ_k y_k log γ_k``.

    ``backward()`` returns ``P = ∇_Z L``, row ``n`` being ``(γ(z_n) Σ_k y_nk − y_n)^T/N``
    (``mmids.functions.softmax_cross_entropy_grad``); for rows on the simplex (``Σ_k y_nk = 1``,
    e.g. integer labels) this is the familiar ``(γ(z_n) − y_n)/N``, and the row sums are then
    not multiplied in at all. ``γ = exp(log γ)`` comes from the log-softmax kept by the forward
    pass.
    """

    _log_gamma: NDArray[np.float64] | None = None

    def forward(self, Z: ArrayLike, y: ArrayLike) -> float:
        Z = np.asarray(Z)
        if Z.ndim != 2:
            raise ValueError(f"SoftmaxCrossEntropy: logits must be (N, K), got shape {Z.shape}")
        Y, row_sums = self._targets(y, Z.shape)
        return self._forward(Z, Y, row_sums)

    __call__ = forward

    def _forward(self, Z: Array, Y: Array, row_sums: Array | None) -> float:
        """``forward`` for checked ``Y`` (N, K) with row sums ``(N, 1)`` (None: all equal 1).

        ``mmids.nn.train`` calls this with its one-hot rows, so the training loop does not pay
        for summing rows it knows sum to 1.
        """
        log_gamma = functions.log_softmax(Z)
        self._log_gamma, self._Y, self._row_sums, self._dtype = log_gamma, Y, row_sums, Z.dtype
        return -float(np.vdot(Y, log_gamma)) / Z.shape[0]

    def backward(self) -> Array:
        log_gamma = self._log_gamma
        if log_gamma is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        G = np.exp(log_gamma)
        if self._row_sums is not None:  # labels off the simplex: γ Σ_k y_k − y per row
            G *= self._row_sums
        G -= self._Y
        G *= 1.0 / G.shape[0]
        return G.astype(self._dtype, copy=False)

    @staticmethod
    def _targets(
        y: ArrayLike, shape: tuple[int, ...]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """Label rows ``Y`` ``(N, K)`` and their sums ``(N, 1)`` (None when every sum is 1)."""
        y = np.asarray(y)
        if y.shape == shape:
            Y = y.astype(np.float64, copy=False)
            row_sums = Y.sum(axis=1, keepdims=True)
            return Y, None if np.all(row_sums == 1.0) else row_sums
        if y.shape == shape[:1]:
            return functions.one_hot(y, shape[1]), None
        raise ValueError(f"SoftmaxCrossEntropy: labels must be (N,) integers or (N, K) rows "
                         f"for logits of shape {shape}, got {y.shape}")
