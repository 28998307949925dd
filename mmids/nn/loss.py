"""The softmax cross-entropy loss on a batch of logits, with its gradient ``(γ(Z) − Y)/N``."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions
from mmids.nn.module import Array

__all__ = ["SoftmaxCrossEntropy"]


class SoftmaxCrossEntropy:
    """Mean cross-entropy of the softmax of the logits, ``L = (1/N) Σ_n H(y_n, γ(z_n))``.

    ``forward(Z, y)``: logits ``Z`` ``(N, K)``; labels ``y`` as integers ``(N,)`` or as rows
    ``(N, K)`` on the simplex (e.g. one-hot). Returns ``L`` as a float. ``backward()`` returns
    ``∂L/∂Z = (γ(Z) − Y)/N`` (``mmids.functions.softmax_cross_entropy_grad`` for labels on the
    simplex), computing ``γ = exp(log γ)`` from the log-softmax kept by the forward pass.
    """

    _log_gamma: NDArray[np.float64] | None = None

    def forward(self, Z: ArrayLike, y: ArrayLike) -> float:
        Z = np.asarray(Z)
        if Z.ndim != 2:
            raise ValueError(f"SoftmaxCrossEntropy: logits must be (N, K), got shape {Z.shape}")
        Y = self._targets(y, Z.shape)
        log_gamma = functions.log_softmax(Z)
        self._log_gamma, self._Y, self._dtype = log_gamma, Y, Z.dtype
        return -float(np.vdot(Y, log_gamma)) / Z.shape[0]

    __call__ = forward

    def backward(self) -> Array:
        log_gamma = self._log_gamma
        if log_gamma is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        G = np.exp(log_gamma)
        G -= self._Y
        G *= 1.0 / G.shape[0]
        return G.astype(self._dtype, copy=False)

    @staticmethod
    def _targets(y: ArrayLike, shape: tuple[int, ...]) -> NDArray[np.float64]:
        y = np.asarray(y)
        if y.shape == shape:
            return y.astype(np.float64, copy=False)
        if y.shape == shape[:1]:
            return functions.one_hot(y, shape[1])
        raise ValueError(f"SoftmaxCrossEntropy: labels must be (N,) integers or (N, K) rows "
                         f"for logits of shape {shape}, got {y.shape}")
