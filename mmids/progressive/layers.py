"""Layers ``g(z, w)`` of a progressive network: values, VJPs and the Jacobian blocks ``A``, ``B``.

``J_g(z, w) = (A  B)``: ``A`` (``n_out × n_in``) holds the columns for the input ``z`` and ``B``
(``n_out × n_params``) those for the parameters ``w``. Backpropagation needs only
``vjp_input`` (``A^T p``) and ``vjp_params`` (``B^T p``), with ``p`` the upstream gradient (a
column shaped like the layer's output); ``block_A``/``block_B`` build the matrices for teaching
and testing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions, kron
from mmids._validate import as_float_array, positive_int

__all__ = ["Layer", "Linear", "SigmoidLinear", "Softmax"]

Array = NDArray[np.float64]


def as_inputs(z: ArrayLike, n: int, name: str) -> Array:
    """One input ``(n,)`` or a batch ``(N, n)`` as float64; clear errors otherwise."""
    arr = as_float_array(z, name)
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        raise ValueError(f"{name} must have shape ({n},) or (N, {n}), got {arr.shape}")
    return arr


class Layer:
    """A layer ``g(z, w) : R^{n_in + n_params} → R^{n_out}``.

    Subclasses implement ``forward`` (``g(z, w)``), ``vjp_input`` (``A^T p``), ``vjp_params``
    (``B^T p``), ``block_A`` (``A``, ``n_out × n_in``) and ``block_B`` (``B``,
    ``n_out × n_params``). ``z`` is ``(n_in,)`` or a batch ``(N, n_in)``; ``w`` is always the flat
    ``(n_params,)`` vector; the upstream gradient ``p`` is ``(n_out,)``, or for a batch the
    ``(N, n_out)`` array ``P`` whose row ``k`` is ``p_k^T``. For a batch, ``vjp_input`` returns
    one row per sample and ``vjp_params`` the sum over the batch (``Σ_k B(z_k)^T p_k``).
    """

    n_in: int
    n_out: int
    n_params: int

    # -- input checks shared by every layer -----------------------------------------------
    def _z(self, z: ArrayLike) -> Array:
        return as_inputs(z, self.n_in, "z")

    def _w(self, w: ArrayLike) -> Array:
        arr = np.asarray(w, dtype=np.float64)
        if arr.shape != (self.n_params,):
            raise ValueError(
                f"{type(self).__name__} needs a parameter vector w of shape ({self.n_params},), "
                f"got {arr.shape}"
            )
        return arr

    def _p(self, p: ArrayLike, z: Array) -> Array:
        arr = np.asarray(p, dtype=np.float64)
        expected = z.shape[:-1] + (self.n_out,)
        if arr.shape != expected:
            raise ValueError(f"upstream p must have shape {expected}, got {arr.shape}")
        return arr

    def _single(self, z: ArrayLike) -> Array:
        arr = self._z(z)
        if arr.ndim != 1:
            raise ValueError(f"explicit blocks are per sample: z must be ({self.n_in},)")
        return arr

    # -- the interface --------------------------------------------------------------------
    def forward(self, z: ArrayLike, w: ArrayLike) -> Array:
        raise NotImplementedError

    def vjp_input(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        raise NotImplementedError

    def vjp_params(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        raise NotImplementedError

    def block_A(self, z: ArrayLike, w: ArrayLike) -> Array:
        raise NotImplementedError

    def block_B(self, z: ArrayLike, w: ArrayLike) -> Array:
        raise NotImplementedError

    def jacobian(self, z: ArrayLike, w: ArrayLike) -> Array:
        """``J_g(z, w) = (A  B)``, shape ``(n_out, n_in + n_params)``."""
        return np.hstack([self.block_A(z, w), self.block_B(z, w)])

    def init_params(self, rng: np.random.Generator) -> Array:
        """A random parameter vector ``(n_params,)`` (standard normal / √n_in)."""
        return rng.standard_normal(self.n_params) / np.sqrt(self.n_in)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_in={self.n_in}, n_out={self.n_out})"


class Linear(Layer):
    """``g(z, w) = W z`` with ``W ∈ R^{K×d}`` and ``w = vec of the rows of W`` (``r = Kd``).

    ``A = 𝔸_{d,K}[w] = W`` and ``B = 𝔹_{d,K}[z] = I_K ⊗ z^T`` (see ``mmids.kron``);
    ``A^T p = W^T p`` and ``B^T p = p ⊗ z``. Biases: append a constant 1 to the input.
    """

    def __init__(self, d: int, K: int) -> None:
        self.n_in = positive_int(d, "d")
        self.n_out = positive_int(K, "K")
        self.n_params = self.n_in * self.n_out

    def weight(self, w: ArrayLike) -> Array:
        """The ``K×d`` matrix ``W`` whose rows are stacked in ``w`` (a view, no copy)."""
        return self._w(w).reshape(self.n_out, self.n_in)

    def forward(self, z: ArrayLike, w: ArrayLike) -> Array:
        return self._z(z) @ self.weight(w).T

    def vjp_input(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        return kron.linear_vjp_input(self.weight(w), self._p(p, self._z(z)))

    def vjp_params(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        z = self._z(z)
        return kron.linear_vjp_params(z, self._p(p, z))

    def block_A(self, z: ArrayLike, w: ArrayLike) -> Array:
        self._single(z)
        return kron.linear_block_A(self.weight(w))

    def block_B(self, z: ArrayLike, w: ArrayLike) -> Array:
        self._w(w)
        return kron.linear_block_B(self._single(z), self.n_out)


class SigmoidLinear(Linear):
    """``g(z, w) = σ(W z)`` (entry-wise sigmoid of a linear map), ``w`` as in ``Linear``.

    With the pre-activation ``t = W z`` and ``s = σ'(t)``: ``Ã = diag(s) W`` and
    ``B̃ = diag(s) (I_K ⊗ z^T) = diag(s) ⊗ z^T`` (property f). The VJPs apply ``diag(s)``
    first: ``Ã^T p = W^T (s ⊙ p)``, ``B̃^T p = (s ⊙ p) ⊗ z``. A layer is a pure function of
    its arguments, so each VJP recomputes ``t`` from ``(z, w)``; ``mmids.nn`` keeps the forward
    pass's output instead, which is what the cost count of the book assumes.
    """

    def forward(self, z: ArrayLike, w: ArrayLike) -> Array:
        return functions.sigmoid(super().forward(z, w))

    def _upstream_of_linear(self, z: Array, w: ArrayLike, p: ArrayLike) -> Array:
        """``s ⊙ p`` with ``s = σ'(t)``, ``t = W z``: the upstream gradient of the linear map."""
        t = z @ self.weight(w).T
        return functions.sigmoid_vjp(t, self._p(p, z))

    def vjp_input(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        z = self._z(z)
        return kron.linear_vjp_input(self.weight(w), self._upstream_of_linear(z, w, p))

    def vjp_params(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        z = self._z(z)
        return kron.linear_vjp_params(z, self._upstream_of_linear(z, w, p))

    def block_A(self, z: ArrayLike, w: ArrayLike) -> Array:
        z = self._single(z)
        W = self.weight(w)
        return np.diag(functions.sigmoid_derivative(W @ z)) @ kron.linear_block_A(W)

    def block_B(self, z: ArrayLike, w: ArrayLike) -> Array:
        z = self._single(z)
        s = functions.sigmoid_derivative(self.weight(w) @ z)
        return kron.kron(np.diag(s), z[None, :])


class Softmax(Layer):
    """``g(z) = γ(z)``, no parameters (``r = 0``): ``A = ℂ_K[z] = diag(γ) − γγ^T``, ``B`` is
    ``K×0``. ``A^T p = γ ⊙ (p − ⟨γ, p⟩)`` (``mmids.functions.softmax_vjp``)."""

    def __init__(self, K: int) -> None:
        self.n_in = self.n_out = positive_int(K, "K")
        self.n_params = 0

    def forward(self, z: ArrayLike, w: ArrayLike = ()) -> Array:
        self._w(w)
        return functions.softmax(self._z(z))

    def vjp_input(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        self._w(w)
        z = self._z(z)
        return functions.softmax_vjp(z, self._p(p, z))

    def vjp_params(self, z: ArrayLike, w: ArrayLike, p: ArrayLike) -> Array:
        self._w(w)
        self._p(p, self._z(z))
        return np.zeros(0)

    def block_A(self, z: ArrayLike, w: ArrayLike = ()) -> Array:
        self._w(w)
        return functions.softmax_jacobian(self._single(z))

    def block_B(self, z: ArrayLike, w: ArrayLike = ()) -> Array:
        self._w(w)
        self._single(z)
        return np.zeros((self.n_out, 0))

    def init_params(self, rng: np.random.Generator) -> Array:
        return np.zeros(0)
