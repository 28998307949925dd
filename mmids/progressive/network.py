"""``ProgressiveNetwork``: the objective ``f_{x,y}(w)`` and its gradient by both modes.

Reverse mode (backpropagation): ``p_{L+1} = ∇ℓ_y(z_{L+1})``, then for ``i = L..1``
``q_i = B_i^T p_{i+1}``, ``p_i = A_i^T p_{i+1}``; ``∇f_{x,y}(w) = (q_1, …, q_L)``. The upstream
gradients ``p_i`` are columns shaped like ``z_i``, the parameter gradients ``q_i`` are shaped
like ``w_i``.
Forward mode (the fundamental recursion): ``J_{O_1} = B_1``, ``J_{O_i} = (A_i J_{O_{i−1}}  B_i)``,
``∇f_{x,y}(w) = J_{O_L}^T ∇ℓ_y(z_{L+1})``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids.progressive.layers import Layer, as_inputs
from mmids.progressive.losses import Loss

__all__ = ["ProgressiveNetwork"]

Array = NDArray[np.float64]


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
        zs = [as_inputs(x, self.layers[0].n_in, "x")]
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
        Returns ``[q_1, …, q_L]``. For a batch the upstream gradients are ``(N, n_i)`` arrays
        ``P`` (row ``k`` for sample ``k``) and ``P_{L+1}`` carries the factor ``1/N`` of the
        mean."""
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
        z = as_inputs(x, self.layers[0].n_in, "x")
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
        x = as_inputs(x, self.layers[0].n_in, "x")
        xs = x[None, :] if x.ndim == 1 else x
        ys = self._y(y, self.predict(ws, x))
        ys = ys[None, :] if ys.ndim == 1 else ys
        total = np.zeros(self.n_params)
        for xn, yn in zip(xs, ys, strict=True):
            J = self.jacobian_outputs(ws, xn)
            z_out = self.predict(ws, xn)
            total += J.T @ self.loss.grad(z_out, yn)
        return self.split(total / xs.shape[0])
