"""Batched neural-network layers, optimisers and a training loop, all numpy.

A batch is an ``(N, n)`` array with one sample per row (the book's data matrix ``X``). ``L`` is
the loss of the batch (the book's ``𝓛``); a gradient ``∇_V L`` has the shape of ``V``. Every
module has

* ``forward(X)`` — the output batch ``Y``; the module keeps what its backward pass needs;
* ``backward(P)`` — ``P = ∇_Y L`` is the batch of upstream gradients (same shape as ``Y``; row
  ``n`` is ``p_n^T``, the upstream gradient of sample ``n``); the module *writes* (does not
  accumulate) the gradients of its parameters into their ``Parameter.grad`` arrays and returns
  ``∇_X L``, whose row ``n`` is ``(J^T p_n)^T``, the VJP of sample ``n``.

The backward rules are the vector–Jacobian products of the book (``mmids.kron``,
``mmids.functions``). In batch notation a linear layer computes ``T = X W^T + 1 b^T`` with
``W ∈ R^{n_out×n_in}``; then ``∇_X L = P W`` (row ``n`` is ``(𝔸^T p_n)^T = (W^T p_n)^T``),
``∇_W L = P^T X`` (``Σ_n p_n ⊗ x_n = Σ_n 𝔹^T p_n``, shaped like ``W``) and ``∇_b L = P^T 1``.
An entry-wise activation ``Z = φ(T)`` has a diagonal Jacobian: ``∇_T L = S ⊙ P`` with
``S = φ'(T)`` the local derivatives (row ``n`` is ``s_n^T``).

Speed: a training step makes a handful of numpy calls per layer, the calls a hand-written loop
makes. ``Sequential`` packs all parameters (and all gradients) into one contiguous vector, each
layer's ``W`` and ``b`` being views into it, so an optimiser step or a gradient clip is a few
vector operations in total rather than a few per parameter array. The first layer's backward
skips ``∇_X L`` (backpropagation never needs ``p_1``). Parameter gradients are written straight
into their buffers (``out=``).

Precision: float64 by default; ``Linear(..., dtype=np.float32)`` gives a float32 model (weights,
matrix products and optimiser state in float32). Activations and the loss are evaluated by
``mmids.functions`` (float64, on the small ``N × n_out`` arrays) and cast to the model's dtype,
so each formula has one implementation.

Modules: ``module`` (``Parameter``, ``Module``), ``layers`` (``Linear``, ``Sigmoid``, ``ReLU``,
``Tanh``, ``glorot_normal``), ``loss`` (``SoftmaxCrossEntropy``), ``sequential``
(``Sequential``), ``optim`` (``SGD``, ``Adam``, ``adam_update``, ``clip_grad_norm``) and
``training`` (``train``, ``evaluate``, ``accuracy``, ``predict``, ``History``); every public
name is importable from ``mmids.nn`` itself.
"""

from __future__ import annotations

from mmids.nn.layers import Linear, ReLU, Sigmoid, Tanh, glorot_normal
from mmids.nn.loss import SoftmaxCrossEntropy
from mmids.nn.module import Module, Parameter
from mmids.nn.optim import SGD, Adam, Optimizer, adam_update, clip_grad_norm
from mmids.nn.sequential import Sequential
from mmids.nn.training import History, accuracy, evaluate, predict, train

__all__ = [
    "SGD",
    "Adam",
    "History",
    "Linear",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "accuracy",
    "adam_update",
    "clip_grad_norm",
    "evaluate",
    "glorot_normal",
    "predict",
    "train",
]
