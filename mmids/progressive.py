"""Progressive functions, backpropagation and forward mode (SYLLABUS §1–§4).

Notation (as in the book). A network is a chain of layers

    z_1 = x,   z_{i+1} = g_i(z_i, w_i)  (i = 1..L),   f_{x,y}(w) = ℓ_y(z_{L+1}),

with ``g_i : R^{n_i + r_i} → R^{n_{i+1}}`` and parameters ``w_i ∈ R^{r_i}``. The Jacobian of a layer
splits into two blocks, ``J_{g_i}(z_i, w_i) = (A_i  B_i)``: ``A_i`` (``n_{i+1} × n_i``) holds the
columns for the input ``z_i`` and ``B_i`` (``n_{i+1} × r_i``) those for the parameters ``w_i``.

* **Reverse mode (backpropagation)**: forward pass storing every ``z_i``, then
  ``p_{L+1} = ∇ℓ_y(z_{L+1})`` and, for ``i = L..1``, ``q_i = B_i^T p_{i+1}``,
  ``p_i = A_i^T p_{i+1}``. The gradient is ``∇f_{x,y}(w) = (q_1, …, q_L)``; ``p_1`` is never needed.
  Only vector–Jacobian products appear, so a layer exposes ``vjp_input`` (``A_i^T p``) and
  ``vjp_params`` (``B_i^T p``); the explicit blocks ``block_A``/``block_B`` exist for teaching
  and testing.
* **Forward mode (the fundamental recursion)**: ``J_{O_1} = B_1`` and
  ``J_{O_i} = (A_i J_{O_{i-1}}   B_i)``; then ``∇f_{x,y}(w) = J_{O_L}^T ∇ℓ_y(z_{L+1})``.

Batches: the layers accept a batch of inputs as rows (``(N, n_i)``); ``objective`` and
``gradient`` then average the loss over the batch, ``f(w) = (1/N) Σ_n ℓ_{y_n}(h_{x_n}(w))`` (the
gradient is the average of the per-sample gradients, by linearity). The explicit blocks and the
forward mode work sample by sample.

The first part of the module is the chain of maps of §1 with an operation counter: multiplying an
``n×m`` matrix by an ``m×l`` matrix costs ``2nml − nl`` elementary operations (``nml``
multiplications and ``n(m−1)l`` additions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions, kron

__all__ = [
    "CrossEntropyLoss",
    "Layer",
    "Linear",
    "Loss",
    "OpCounter",
    "ProgressiveNetwork",
    "SigmoidLinear",
    "Softmax",
    "SquaredLoss",
    "chain_forward_mode",
    "chain_reverse_mode",
    "forward_mode_cost",
    "matmul_cost",
    "random_linear_chain",
    "reverse_mode_cost",
]

Array = NDArray[np.float64]


# =============================================================================================
# §1  A chain of linear maps, both modes, with an operation counter
# =============================================================================================


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def matmul_cost(n: int, m: int, l: int) -> int:
    """Elementary operations to multiply an ``n×m`` by an ``m×l`` matrix: ``2nml − nl``.

    Each of the ``nl`` entries of the product is a sum of ``m`` products: ``m`` multiplications
    and ``m − 1`` additions.
    """
    n, m, l = (_positive_int(v, s) for v, s in ((n, "n"), (m, "m"), (l, "l")))
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
    """Random weights ``W^(1), …, W^(L)`` of a chain ``R^d → R^m → … → R^m → R^K``.

    Shapes: ``W^(1)`` is ``m×d`` (``K×d`` when ``L = 1``), ``W^(i)`` is ``m×m`` for
    ``1 < i < L``, ``W^(L)`` is ``K×m``; entries are standard normal scaled by ``1/√(fan-in)`` so
    the values stay of order one.
    """
    L, m, d, K = (_positive_int(v, s) for v, s in ((L, "L"), (m, "m"), (d, "d"), (K, "K")))
    rng = np.random.default_rng() if rng is None else rng
    sizes = [d] + [m] * (L - 1) + [K]
    return [rng.standard_normal((sizes[i + 1], sizes[i])) / np.sqrt(sizes[i]) for i in range(L)]


def _check_chain(Ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike) -> tuple[list[Array], Array,
                                                                                Array]:
    if len(Ws) == 0:
        raise ValueError("the chain needs at least one map W^(1)")
    mats = [np.asarray(W, dtype=np.float64) for W in Ws]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be a vector (d,), got shape {x.shape}")
    n = x.shape[0]
    for i, W in enumerate(mats, start=1):
        if W.ndim != 2 or W.shape[1] != n:
            raise ValueError(f"W^({i}) must have shape (n_{i + 1}, {n}), got {W.shape}")
        n = W.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (the output size), got {y.shape}")
    return mats, x, y


def _chain_values(Ws: list[Array], x: Array) -> list[Array]:
    """``z_1 = x``, ``z_{i+1} = W^(i) z_i`` (not counted: both modes need the same values)."""
    zs = [x]
    for W in Ws:
        zs.append(W @ zs[-1])
    return zs


def chain_forward_mode(
    Ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike, counter: OpCounter | None = None
) -> Array:
    """``∇f(x)`` for ``f(x) = ½‖y − W^(L)…W^(1) x‖²`` by forward mode (right to left).

    ``F_1 = J_{g_1} = W^(1)`` (no arithmetic), ``F_i = W^(i) F_{i−1}`` (``n_{i+1}×n_i`` times
    ``n_i×d``), then ``∇f(x)^T = J_ℓ(z_{L+1}) F_L`` with ``J_ℓ(z) = (z − y)^T`` (``1×K`` times
    ``K×d``). Returns ``∇f(x)`` of shape ``(d,)``. The Jacobian products are counted in
    ``counter``; the value pass ``z_{i+1} = W^(i) z_i`` and forming ``z − y`` are not (both modes
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
    """``∇f(x)`` for ``f(x) = ½‖y − W^(L)…W^(1) x‖²`` by reverse mode (left to right).

    After the value pass, ``G_{L+1} = J_ℓ(z_{L+1}) = (z_{L+1} − y)^T`` and
    ``G_i = G_{i+1} W^(i)`` for ``i = L..1``: every product is a row vector times a matrix.
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


def _chain_sizes(L: int, m: int, d: int, K: int) -> tuple[int, int, int, int]:
    L, m, d, K = (_positive_int(v, s) for v, s in ((L, "L"), (m, "m"), (d, "d"), (K, "K")))
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


# =============================================================================================
# §2–§4  Layers g_i(z_i, w_i), losses ℓ_y, and the two ways to get ∇f_{x,y}(w)
# =============================================================================================


def _as_inputs(z: ArrayLike, n: int, name: str) -> Array:
    try:
        arr = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(z).__name__}") from exc
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        raise ValueError(f"{name} must have shape ({n},) or (N, {n}), got {arr.shape}")
    return arr


class Layer:
    """A layer ``g(z, w) : R^{n_in + n_params} → R^{n_out}``.

    Subclasses implement ``forward`` (``g(z, w)``), ``vjp_input`` (``A^T p``), ``vjp_params``
    (``B^T p``), ``block_A`` (``A``, ``n_out × n_in``) and ``block_B`` (``B``,
    ``n_out × n_params``). ``z`` is ``(n_in,)`` or a batch ``(N, n_in)``; ``w`` is always the flat
    ``(n_params,)`` vector. For a batch, ``vjp_input`` returns one row per sample and
    ``vjp_params`` the sum over the batch (``Σ_n B(z_n)^T p_n``).
    """

    n_in: int
    n_out: int
    n_params: int

    # -- input checks shared by every layer -----------------------------------------------
    def _z(self, z: ArrayLike) -> Array:
        return _as_inputs(z, self.n_in, "z")

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
        self.n_in = _positive_int(d, "d")
        self.n_out = _positive_int(K, "K")
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

    With ``s = σ'(W z)``: ``Ã = diag(s) W`` and ``B̃ = diag(s) (I_K ⊗ z^T) = diag(s) ⊗ z^T``
    (property f). The VJPs apply ``diag(s)`` first: ``Ã^T p = W^T (s ⊙ p)``,
    ``B̃^T p = (s ⊙ p) ⊗ z``.
    """

    def forward(self, z: ArrayLike, w: ArrayLike) -> Array:
        return functions.sigmoid(super().forward(z, w))

    def _upstream_of_linear(self, z: Array, w: ArrayLike, p: ArrayLike) -> Array:
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
        self.n_in = self.n_out = _positive_int(K, "K")
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


class Loss:
    """A loss ``ℓ_y : R^K → R``: ``value(z, y)`` and ``grad(z, y) = ∇ℓ_y(z)``.

    ``z`` and ``y`` are ``(K,)`` (scalar value) or batches ``(N, K)`` (values ``(N,)``, gradients
    one row per sample).
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


class ProgressiveNetwork:
    """``f_{x,y}(w) = ℓ_y(g_L(…g_2(g_1(x, w_1), w_2)…, w_L))`` with ``w = (w_1, …, w_L)``.

    Parameters are passed as a list ``ws = [w_1, …, w_L]`` of flat vectors (``split``/``concat``
    convert from/to one vector ``w ∈ R^{r_1 + … + r_L}``). Gradients come back in the same form.
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("a progressive network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i + 1} is a {type(layer).__name__}, not a Layer")
        for i in range(len(layers) - 1):
            if layers[i].n_out != layers[i + 1].n_in:
                raise ValueError(
                    f"layer {i + 1} outputs {layers[i].n_out} values but layer {i + 2} expects "
                    f"{layers[i + 1].n_in}"
                )
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a Loss, got {type(loss).__name__}")
        self.layers = layers
        self.loss = loss
        self.sizes = [layer.n_params for layer in layers]

    # -- parameters -----------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return sum(self.sizes)

    def init_params(self, rng: np.random.Generator | None = None) -> list[Array]:
        rng = np.random.default_rng() if rng is None else rng
        return [layer.init_params(rng) for layer in self.layers]

    def concat(self, ws: Sequence[ArrayLike]) -> Array:
        """``(w_1, …, w_L)`` as one vector of length ``r_1 + … + r_L``."""
        return np.concatenate([np.ravel(np.asarray(w, dtype=np.float64)) for w in self._ws(ws)])

    def split(self, w: ArrayLike) -> list[Array]:
        """The inverse of ``concat``: one vector -> ``[w_1, …, w_L]``."""
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.n_params,):
            raise ValueError(f"w must have shape ({self.n_params},), got {w.shape}")
        return np.split(w, np.cumsum(self.sizes)[:-1])

    def _ws(self, ws: Sequence[ArrayLike]) -> list[Array]:
        if isinstance(ws, np.ndarray):
            raise TypeError("pass the parameters as a list [w_1, …, w_L] (use split(w))")
        ws = [np.asarray(w, dtype=np.float64) for w in ws]
        if len(ws) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} parameter vectors, got {len(ws)}")
        for i, (w, r) in enumerate(zip(ws, self.sizes, strict=True)):
            if w.shape != (r,):
                raise ValueError(f"w_{i + 1} must have shape ({r},), got {w.shape}")
        return ws

    # -- values ---------------------------------------------------------------------------
    def forward(self, ws: Sequence[ArrayLike], x: ArrayLike) -> list[Array]:
        """Forward pass ``[z_1 = x, z_2, …, z_{L+1}]`` (``x`` is ``(d,)`` or a batch)."""
        ws = self._ws(ws)
        zs = [_as_inputs(x, self.layers[0].n_in, "x")]
        for layer, w in zip(self.layers, ws, strict=True):
            zs.append(layer.forward(zs[-1], w))
        return zs

    def predict(self, ws: Sequence[ArrayLike], x: ArrayLike) -> Array:
        """``h_x(w) = z_{L+1}``."""
        return self.forward(ws, x)[-1]

    def _y(self, y: ArrayLike, z_out: Array) -> Array:
        y = np.asarray(y, dtype=np.float64)
        if y.shape != z_out.shape:
            raise ValueError(f"y must have shape {z_out.shape} (the network output), got {y.shape}")
        return y

    def objective(self, ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike) -> float:
        """``f_{x,y}(w) = ℓ_y(h_x(w))``; for a batch, the mean over the rows."""
        z_out = self.predict(ws, x)
        return float(np.mean(self.loss.value(z_out, self._y(y, z_out))))

    # -- gradients ------------------------------------------------------------------------
    def gradient(
        self, ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike, mode: str = "reverse"
    ) -> list[Array]:
        """``∇f_{x,y}(w) = [q_1, …, q_L]`` by ``mode="reverse"`` (backprop) or ``"forward"``."""
        if mode == "reverse":
            return self.backprop(ws, x, y)
        if mode == "forward":
            return self.forward_mode(ws, x, y)
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")

    def backprop(self, ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike) -> list[Array]:
        """Reverse mode. Forward pass storing ``z_i``; ``p_{L+1} = ∇ℓ_y(z_{L+1})``; for
        ``i = L..1``: ``q_i = B_i^T p_{i+1}``, ``p_i = A_i^T p_{i+1}`` (``p_1`` is skipped).
        For a batch ``p_{L+1}`` carries the factor ``1/N`` of the mean."""
        ws = self._ws(ws)
        zs = self.forward(ws, x)
        p = self.loss.grad(zs[-1], self._y(y, zs[-1]))
        if p.ndim == 2:
            p = p / p.shape[0]
        qs: list[Array] = [np.empty(0)] * len(self.layers)
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            qs[i] = layer.vjp_params(zs[i], ws[i], p)
            if i > 0:
                p = layer.vjp_input(zs[i], ws[i], p)
        return qs

    def jacobian_outputs(self, ws: Sequence[ArrayLike], x: ArrayLike) -> Array:
        """``J_{O_L}`` (``n_{L+1} × (r_1 + … + r_L)``) by the fundamental recursion
        ``J_{O_1} = B_1``, ``J_{O_i} = (A_i J_{O_{i−1}}   B_i)``; ``x`` is one sample ``(d,)``."""
        ws = self._ws(ws)
        z = _as_inputs(x, self.layers[0].n_in, "x")
        if z.ndim != 1:
            raise ValueError("jacobian_outputs works on one sample x of shape (d,)")
        J = self.layers[0].block_B(z, ws[0])
        z = self.layers[0].forward(z, ws[0])
        for layer, w in zip(self.layers[1:], ws[1:], strict=True):
            J = np.hstack([layer.block_A(z, w) @ J, layer.block_B(z, w)])
            z = layer.forward(z, w)
        return J

    def forward_mode(self, ws: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike) -> list[Array]:
        """Forward mode: ``∇f_{x,y}(w) = J_{O_L}^T ∇ℓ_y(O_L)`` with ``J_{O_L}`` from the
        fundamental recursion; a batch is handled sample by sample and averaged."""
        ws = self._ws(ws)
        x = _as_inputs(x, self.layers[0].n_in, "x")
        xs = x[None, :] if x.ndim == 1 else x
        ys = self._y(y, self.predict(ws, x))
        ys = ys[None, :] if ys.ndim == 1 else ys
        total = np.zeros(self.n_params)
        for xn, yn in zip(xs, ys, strict=True):
            J = self.jacobian_outputs(ws, xn)
            z_out = self.predict(ws, xn)
            total += J.T @ self.loss.grad(z_out, yn)
        return self.split(total / xs.shape[0])
