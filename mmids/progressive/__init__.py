"""Progressive functions, backpropagation and forward mode (SYLLABUS §1–§4).

Notation (as in the book's notation table). A network is a chain of layers

    z_1 = x,   z_{i+1} = g_i(z_i, w_i)  (i = 1..L),   f_{x,y}(w) = ℓ_y(z_{L+1}),

with ``g_i : R^{n_i + r_i} → R^{n_{i+1}}``, inputs ``z_i ∈ R^{n_i}`` and parameters
``w_i ∈ R^{r_i}`` (for a linear map, the rows of ``W_i ∈ R^{n_{i+1} × n_i}`` stacked). The
Jacobian of a layer splits into two blocks, ``J_{g_i}(z_i, w_i) = (A_i  B_i)``: ``A_i``
(``n_{i+1} × n_i``) holds the columns for the input ``z_i`` and ``B_i`` (``n_{i+1} × r_i``)
those for the parameters ``w_i``.

* **Reverse mode (backpropagation)**: forward pass storing every ``z_i``, then the upstream
  gradient ``p_{L+1} = ∇ℓ_y(z_{L+1})`` and, for ``i = L..1``, ``q_i = B_i^T p_{i+1}``,
  ``p_i = A_i^T p_{i+1}``. Each ``p_i`` is a column shaped like ``z_i`` (the gradient of the
  loss with respect to ``z_i``), each ``q_i`` is shaped like ``w_i``; the gradient is
  ``∇f_{x,y}(w) = (q_1, …, q_L)`` and ``p_1`` is never needed. Only vector–Jacobian products
  appear, so a layer exposes ``vjp_input`` (``A_i^T p``) and ``vjp_params`` (``B_i^T p``); the
  explicit blocks ``block_A``/``block_B`` exist for teaching and testing. The backward pass makes
  at most about twice the multiply–adds of the forward pass (two products of the size of
  ``W_i z_i`` per layer, one for the first).
* **Forward mode (the fundamental recursion)**: ``J_{O_1} = B_1`` and
  ``J_{O_i} = (A_i J_{O_{i-1}}   B_i)``; then ``∇f_{x,y}(w) = J_{O_L}^T ∇ℓ_y(z_{L+1})``.

Batches: the layers accept a batch of ``N`` inputs as rows (``(N, n_i)``), and a batch ``P`` of
upstream gradients as an ``(N, n_{i+1})`` array whose row ``k`` is ``p_k^T``; ``objective`` and
``gradient`` then average the loss over the batch, ``f(w) = (1/N) Σ_k ℓ_{y_k}(h_{x_k}(w))`` (the
gradient is the average of the per-sample gradients, by linearity). The explicit blocks and the
forward mode work sample by sample.

Modules: ``chain`` (§1: a chain of linear maps ``W_1, …, W_L`` with an operation counter;
multiplying an ``n×m`` by an ``m×l`` matrix costs ``2nml − nl`` elementary operations),
``layers`` (``Layer``, ``Linear``, ``SigmoidLinear``, ``Softmax``), ``losses`` and ``network``
(``ProgressiveNetwork``); every public name is importable from ``mmids.progressive`` itself.
"""

from __future__ import annotations

from mmids.progressive.chain import (
    OpCounter,
    chain_forward_mode,
    chain_reverse_mode,
    forward_mode_cost,
    matmul_cost,
    random_linear_chain,
    reverse_mode_cost,
)
from mmids.progressive.layers import Layer, Linear, SigmoidLinear, Softmax
from mmids.progressive.losses import CrossEntropyLoss, Loss, SquaredLoss
from mmids.progressive.network import ProgressiveNetwork

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
