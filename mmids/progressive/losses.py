"""Losses ``ℓ_y : R^K → R`` at the end of a progressive network: value and gradient ``∇ℓ_y``."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions

__all__ = ["CrossEntropyLoss", "Loss", "SquaredLoss"]

Array = NDArray[np.float64]


class Loss:
    """A loss ``ℓ_y : R^K → R``: ``value(z, y)`` and ``grad(z, y) = ∇ℓ_y(z)``.

    ``z`` and ``y`` are ``(K,)`` (scalar value) or batches ``(N, K)`` (values ``(N,)``, gradients
    one row per sample). At the network's output ``z_{L+1}`` the gradient is the first upstream
    gradient of backpropagation, ``p_{L+1} = ∇ℓ_y(z_{L+1})``, a column shaped like ``z``.
    """

    def _zy(self, z: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
        z = np.asarray(z, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if z.ndim not in (1, 2):
            raise ValueError(f"z must be (K,) or (N, K), got shape {z.shape}")
        if y.shape != z.shape:
            raise ValueError(f"y must have the shape of z {z.shape}, got {y.shape}")
        return z, y

    def value(self, z: ArrayLike, y: ArrayLike) -> Array:
        raise NotImplementedError

    def grad(self, z: ArrayLike, y: ArrayLike) -> Array:
        raise NotImplementedError


class SquaredLoss(Loss):
    """``ℓ_y(z) = ½‖y − z‖²`` (``half=True``, gradient ``z − y``) or ``‖y − z‖²``
    (``half=False``, gradient ``2(z − y)``; for a scalar output this is ``(z − y)²`` of §5)."""

    def __init__(self, half: bool = True) -> None:
        self.scale = 0.5 if half else 1.0

    def value(self, z: ArrayLike, y: ArrayLike) -> Array:
        z, y = self._zy(z, y)
        return self.scale * np.sum((z - y) ** 2, axis=-1)

    def grad(self, z: ArrayLike, y: ArrayLike) -> Array:
        z, y = self._zy(z, y)
        return 2.0 * self.scale * (z - y)


class CrossEntropyLoss(Loss):
    """``ℓ_y(z) = H(y, z) = −Σ_k y_k log z_k`` for ``z`` in the simplex (after a ``Softmax``
    layer); ``∇ℓ_y(z) = −y / z`` (``mmids.functions.cross_entropy``/``cross_entropy_grad``)."""

    def value(self, z: ArrayLike, y: ArrayLike) -> Array:
        z, y = self._zy(z, y)
        return functions.cross_entropy(y, z)

    def grad(self, z: ArrayLike, y: ArrayLike) -> Array:
        z, y = self._zy(z, y)
        return functions.cross_entropy_grad(y, z)
