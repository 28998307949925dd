"""Optimisers (SGD with momentum, Adam) and gradient clipping on ``Parameter`` objects.

A complete pack of a ``Sequential`` is updated as one vector (a few vector operations per step).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mmids._validate import positive_number
from mmids.nn.module import Array, Parameter

__all__ = ["SGD", "Adam", "Optimizer", "adam_update", "clip_grad_norm"]


def _groups(params: Iterable[Parameter]) -> list[Parameter]:
    """The arrays to update: the pack itself if ``params`` is exactly one complete pack."""
    params = list(params)
    if not params:
        raise ValueError("no parameters given")
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"expected Parameter objects, got {type(p).__name__}")
    pack = params[0]._pack
    if (
        pack is not None
        and all(p._pack is pack for p in params)
        and len({id(p) for p in params}) == len(params)
        and sum(p.value.size for p in params) == pack.value.size
    ):
        return [pack]
    return params


class Optimizer:
    """Base class: ``step()`` updates every parameter from its ``grad``."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.lr = positive_number(lr, "learning rate")
        self.params = list(params)
        self._groups = _groups(self.params)
        self._tmp = [np.empty_like(g.value) for g in self._groups]

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as ``torch.optim.SGD``:
    ``v ← μ v + g`` (``v = g`` at the first step), ``w ← w − η v``; ``μ = 0`` is plain SGD."""

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not (
            0.0 <= momentum < 1.0
        ):
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self._velocity: list[Array] | None = None

    def step(self) -> None:
        mu, lr = self.momentum, self.lr
        if mu == 0.0:
            directions = [g.grad for g in self._groups]
        elif self._velocity is None:
            self._velocity = directions = [g.grad.copy() for g in self._groups]
        else:
            directions = self._velocity
            for g, v in zip(self._groups, directions, strict=True):
                v *= mu
                v += g.grad
        for g, d, tmp in zip(self._groups, directions, self._tmp, strict=True):
            np.multiply(d, lr, out=tmp)
            g.value -= tmp


class Adam(Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam``: at step ``t``
    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``, ``w ← w − η m̂/(√v̂ + eps)`` with
    ``m̂ = m/(1−β₁^t)``, ``v̂ = v/(1−β₂^t)``.

    Implementation: it keeps ``M = m/(1−β₁)`` and ``V = v/(1−β₂)`` (so ``M ← β₁M + g``,
    ``V ← β₂V + g²``) and folds the constants into two scalars, which saves passes over the
    parameter vector; the iterates are those of the formulas above.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        self.betas = (float(b1), float(b2))
        self.eps = positive_number(eps, "eps")
        self.t = 0
        self._M = [np.zeros_like(g.value) for g in self._groups]
        self._V = [np.zeros_like(g.value) for g in self._groups]

    def step(self) -> None:
        self.t += 1
        for g, M, V, tmp in zip(self._groups, self._M, self._V, self._tmp, strict=True):
            adam_update(g.value, g.grad, M, V, tmp, t=self.t, lr=self.lr, betas=self.betas,
                        eps=self.eps)


def adam_update(
    w: Array,
    grad: Array,
    M: Array,
    V: Array,
    tmp: Array,
    *,
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> None:
    """Adam step ``t`` in place on one array ``w`` with gradient ``grad`` (the kernel of ``Adam``).

    ``M = m/(1−β₁)`` and ``V = v/(1−β₂)`` are the running moments (updated in place:
    ``M ← β₁M + g``, ``V ← β₂V + g²``); ``tmp`` is scratch space of the shape of ``w``. Then
    ``w ← w − η m̂/(√v̂ + eps)`` with ``m̂ = m/(1−β₁^t)``, ``v̂ = v/(1−β₂^t)``.
    """
    b1, b2 = betas
    # √v̂ = c √V with c = √((1−β₂)/(1−β₂^t)); m̂ = (1−β₁) M/(1−β₁^t), so
    # η m̂/(√v̂ + eps) = scale · M/(√V + eps/c) with scale = η (1−β₁)/((1−β₁^t) c).
    c = math.sqrt((1.0 - b2) / (1.0 - b2**t))
    scale = lr * (1.0 - b1) / ((1.0 - b1**t) * c)
    M *= b1
    M += grad
    np.multiply(grad, grad, out=tmp)
    V *= b2
    V += tmp
    np.sqrt(V, out=tmp)
    tmp += eps / c
    np.divide(M, tmp, out=tmp)
    tmp *= scale
    w -= tmp


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Gradient clipping ``g' = min(1, c/‖g‖) g`` with ``‖g‖`` the Euclidean norm of all the
    gradients together; scales the ``grad`` arrays in place and returns ``‖g‖`` (before)."""
    c = positive_number(max_norm, "max_norm")
    groups = _groups(params)
    norm = math.sqrt(sum(float(np.vdot(g.grad, g.grad)) for g in groups))
    if norm > c:
        scale = c / norm
        for g in groups:
            g.grad *= scale
    return norm
