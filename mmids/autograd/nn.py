"""A small neural-network layer on top of the engine: ``Linear``, ``MLP``, a loss and ``SGD``.

A batch of ``N`` inputs is an (N, n) array (one sample per row). A linear layer computes
``Z W^T + b`` with ``W`` of shape (n_out, n_in) (so a single sample is ``W z + b``, the book's
``𝔸[w] z``) and ``b`` of shape (n_out,). Parameters are declared variables (``AutogradValue``
leaves); the graph is rebuilt on every forward call, and ``SGD.step`` updates ``.value`` in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mmids import functions as F
from mmids.autograd.api import exp, log, relu, sigmoid, tanh
from mmids.autograd.core import AutogradValue
from mmids.autograd.ops import MatMul, Mean, Sum
from mmids.autograd.values import zeros_like

ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}


class Linear:
    """``z -> z W^T + b``: (N, n_in) -> (N, n_out). Glorot-normal weights, zero bias."""

    def __init__(
        self, n_in: int, n_out: int, bias: bool = True, rng: np.random.Generator | None = None
    ) -> None:
        if n_in < 1 or n_out < 1:
            raise ValueError(f"Linear needs positive sizes, got n_in={n_in}, n_out={n_out}")
        rng = np.random.default_rng(0) if rng is None else rng
        std = np.sqrt(2.0 / (n_in + n_out))
        # stored transposed, (n_in, n_out), so the forward pass is the single product Z @ W^T
        self.weight_t = AutogradValue(rng.normal(0.0, std, size=(n_in, n_out)))
        self.bias = AutogradValue(np.zeros(n_out)) if bias else None

    def __call__(self, z: Any) -> AutogradValue:
        n_in = self.weight_t.shape[0]
        if np.shape(z.value if isinstance(z, AutogradValue) else z)[-1:] != (n_in,):
            raise ValueError(f"Linear expects inputs with {n_in} features (last axis)")
        out = MatMul(z, self.weight_t)
        return out if self.bias is None else out + self.bias

    def parameters(self) -> list[AutogradValue]:
        return [self.weight_t] + ([] if self.bias is None else [self.bias])


class MLP:
    """Linear layers with an activation between them: ``sizes = [n_in, h_1, ..., n_out]``."""

    def __init__(self, sizes: Sequence[int], activation: str = "relu", seed: int = 0) -> None:
        if len(sizes) < 2:
            raise ValueError("MLP needs at least an input and an output size")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        rng = np.random.default_rng(seed)
        self.layers = [Linear(a, b, rng=rng) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
        self.activation = ACTIVATIONS[activation]

    def __call__(self, x: Any) -> AutogradValue:
        return self.activations(x)[-1]

    def activations(self, x: Any) -> list[AutogradValue]:
        """The output of every layer (after its activation; the last one is the logits)."""
        outputs, h = [], x
        for k, layer in enumerate(self.layers):
            h = layer(h)
            if k < len(self.layers) - 1:
                h = self.activation(h)
            outputs.append(h)
        return outputs

    def parameters(self) -> list[AutogradValue]:
        return [p for layer in self.layers for p in layer.parameters()]


def _one_hot(logits: AutogradValue, labels: np.ndarray) -> np.ndarray:
    if not isinstance(logits, AutogradValue):
        raise TypeError(f"logits must be an AutogradValue, not {type(logits).__name__}")
    z, labels = logits.value, np.asarray(labels)
    if np.ndim(z) != 2 or labels.shape != (z.shape[0],):
        raise ValueError(
            f"need logits (N, K) and labels (N,), got {np.shape(z)} and {labels.shape}"
        )
    return F.one_hot(labels, z.shape[1])


class SoftmaxCrossEntropy(AutogradValue):
    """``(1/N) Σ_n H(y_n, γ(z_n))`` for logits ``z`` (N, K) and constant one-hot ``y`` (N, K).

    One node instead of eight: its VJP in ``z`` is ``p (γ(z) − y) / N`` (``p`` the scalar upstream
    gradient; softmax fused with cross-entropy), so no (N, K, K) softmax Jacobian and no ``log``
    of a tiny probability.
    """

    __slots__ = ()

    def func(self, z: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(F.softmax_cross_entropy(z, y)))

    def vjp(self, p: float) -> list[np.ndarray | None]:
        z, y = self.args
        return [p * F.softmax_cross_entropy_grad(z, y) / len(z), None]

    def jvp(self, tz: np.ndarray | None, ty: np.ndarray | None) -> float:
        z, y = self.args
        return 0.0 if tz is None else float(np.sum(self.vjp(1.0)[0] * tz))


def softmax_cross_entropy(logits: AutogradValue, labels: np.ndarray) -> AutogradValue:
    """Mean cross-entropy of ``softmax(logits)`` against integer ``labels`` (N,) in 0..K-1."""
    return SoftmaxCrossEntropy(logits, _one_hot(logits, labels))


def softmax_cross_entropy_composed(logits: AutogradValue, labels: np.ndarray) -> AutogradValue:
    """The same loss built from the engine's elementary operations (to compare, and to read).

    Subtracting the row maximum (a constant) keeps ``exp`` from overflowing and changes neither
    the value nor the gradient: ``log Σ_k exp(z_k) = m + log Σ_k exp(z_k − m)``.
    """
    one_hot = _one_hot(logits, labels)
    shifted = logits - logits.value.max(axis=1, keepdims=True)
    log_normaliser = log(Sum(exp(shifted), axis=1))  # (N,)
    picked = Sum(shifted * one_hot, axis=1)  # z_y - max, (N,)
    return Mean(log_normaliser - picked)


def accuracy(logits: AutogradValue | np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is at the label."""
    z = logits.value if isinstance(logits, AutogradValue) else np.asarray(logits)
    return float(np.mean(np.argmax(z, axis=1) == np.asarray(labels)))


class SGD:
    """Gradient descent with momentum: ``v <- μ v - η g``, ``w <- w + v``."""

    def __init__(self, params: Iterable[AutogradValue], lr: float, momentum: float = 0.0) -> None:
        self.params = list(params)
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"need lr > 0 and 0 <= momentum < 1, got {lr}, {momentum}")
        self.lr, self.momentum = lr, momentum
        self.velocity = [np.zeros_like(p.value) for p in self.params]

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity, strict=True):
            if self.momentum == 0:  # plain gradient descent, w <- w - η g: no velocity needed
                p.value -= self.lr * p.grad
                continue
            v *= self.momentum
            v -= self.lr * p.grad
            p.value += v

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = zeros_like(p.value)
