"""Layers on batches (one sample per row): ``Linear`` and the entry-wise activations.

``Linear``: ``T = X W^T + 1 b^T``; with ``P = ∇_T L`` the batch of upstream gradients (row ``n``
is ``p_n^T``), backward gives ``∇_X L = P W`` (row ``n`` is ``(𝔸^T p_n)^T = (W^T p_n)^T``),
``∇_W L = P^T X`` (``Σ_n 𝔹^T p_n``, shaped like ``W``) and ``∇_b L = P^T 1``. Activations
``Z = φ(T)``, applied to a batch ``T`` of pre-activations, have a diagonal Jacobian: backward
``∇_T L = S ⊙ P`` with ``S = φ'(T)`` the local derivatives (``P = ∇_Z L``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions
from mmids._validate import positive_int
from mmids.nn.module import (
    F32,
    F64,
    Array,
    Module,
    Parameter,
    as_batch,
    check_upstream,
    float_dtype,
)

__all__ = ["Linear", "ReLU", "Sigmoid", "Tanh", "glorot_normal"]


def glorot_normal(n_in: int, n_out: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Glorot (Xavier) initialisation: ``W ∈ R^{n_out×n_in}`` with i.i.d. entries
    ``N(0, 2/(n_in + n_out))``, the variance that keeps forward activations and backward
    gradients of about the same size from layer to layer."""
    return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


class Linear(Module):
    """``T = X W^T + 1 b^T``: ``X`` ``(N, n_in)`` -> ``T`` ``(N, n_out)``, ``W`` ``(n_out, n_in)``.

    ``init="glorot"`` (default): entries of ``W`` ``~ N(0, 2/(n_in + n_out))``;
    ``init="normal"``: standard normal (the classic cause of saturated sigmoids and exploding
    gradients). Biases start at 0. ``rng``: a Generator or a seed. ``dtype``: float64 (default)
    or float32; inputs of another dtype are converted.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        bias: bool = True,
        *,
        init: str = "glorot",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        n_in, n_out = positive_int(n_in, "Linear: n_in"), positive_int(n_out, "Linear: n_out")
        self.dtype = float_dtype(dtype)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        if init == "glorot":
            W = glorot_normal(n_in, n_out, gen)
        elif init == "normal":
            W = gen.standard_normal((n_out, n_in))
        else:
            raise ValueError(f"Linear: init must be 'glorot' or 'normal', got {init!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.weight = Parameter(W.astype(self.dtype), "weight")
        self.bias = Parameter(np.zeros(n_out, self.dtype), "bias") if bias else None
        self._X: Array | None = None

    def parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def forward(self, X: ArrayLike) -> Array:
        X = as_batch(X, self.n_in, "Linear", self.dtype)
        self._X = X
        Y = X @ self.weight.value.T
        if self.bias is not None:
            Y += self.bias.value
        return Y

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        X = self._stored("_X")
        check_upstream(P, (X.shape[0], self.n_out), "Linear")
        if P.dtype != self.dtype:
            P = P.astype(self.dtype)
        # ∇_W L = Σ_n p_n ⊗ x_n = P^T X (kron.linear_vjp_params, shaped like W), into its buffer
        np.matmul(P.T, X, out=self.weight.grad)
        if self.bias is not None:
            P.sum(axis=0, out=self.bias.grad)
        # ∇_X L: row n is (W^T p_n)^T (kron.linear_vjp_input), i.e. P W
        return P @ self.weight.value if need_input_grad else None

    def __repr__(self) -> str:
        bias = self.bias is not None
        return f"Linear({self.n_in}, {self.n_out}, bias={bias}, dtype={self.dtype})"


class _Elementwise(Module):
    """An entry-wise activation ``Z = φ(T)`` of pre-activations ``T``; backward ``S ⊙ P`` with
    ``S = φ'(T)`` (a diagonal Jacobian; ``P = ∇_Z L``)."""

    _X: Array | None = None
    _Y: Array | None = None

    def forward(self, X: ArrayLike) -> Array:
        X = np.asarray(X)
        if X.dtype not in (F32, F64):
            X = X.astype(np.float64)
        self._X = X
        self._Y = self._f(X).astype(X.dtype, copy=False)
        return self._Y

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        Y = self._stored("_Y")
        check_upstream(P, Y.shape, type(self).__name__)
        return self._vjp(P).astype(Y.dtype, copy=False) if need_input_grad else None

    def _f(self, X: Array) -> Array:
        raise NotImplementedError

    def _vjp(self, P: Array) -> Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(_Elementwise):
    """``σ(T)`` entry-wise (``mmids.functions.sigmoid``); backward ``S ⊙ P`` with
    ``S = σ'(T) = σ(T) ⊙ (1 − σ(T))`` computed from the stored output (the logistic differential
    equation ``σ' = σ(1 − σ)``)."""

    def _f(self, X: Array) -> Array:
        return functions.sigmoid(X)

    def _vjp(self, P: Array) -> Array:
        Y = self._Y
        G = P * Y
        G *= 1.0 - Y
        return G


class ReLU(_Elementwise):
    """``max(T, 0)``; backward ``S ⊙ P`` with ``S = 1(T > 0)`` (``mmids.functions.relu_vjp``)."""

    def _f(self, X: Array) -> Array:
        return functions.relu(X)

    def _vjp(self, P: Array) -> Array:
        return functions.relu_vjp(self._X, P)


class Tanh(_Elementwise):
    """``tanh(T)``; backward ``S ⊙ P`` with ``S = 1 − tanh²(T)`` (``mmids.functions.tanh_vjp``)."""

    def _f(self, X: Array) -> Array:
        return functions.tanh(X)

    def _vjp(self, P: Array) -> Array:
        return functions.tanh_vjp(self._X, P)
