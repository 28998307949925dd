"""Batched neural-network layers, optimisers and a training loop, all numpy.

A batch is an ``(N, n)`` array with one sample per row. Every module has

* ``forward(X)`` — the output batch; the module keeps what its backward pass needs;
* ``backward(P)`` — ``P`` is the upstream gradient ``∂L/∂(output)`` (same shape as the output);
  the module *writes* (does not accumulate) the gradients of its parameters into their
  ``Parameter.grad`` arrays and returns ``∂L/∂(input)``, row ``n`` being the VJP ``J^T p_n`` of
  sample ``n``.

The backward rules are the vector–Jacobian products of the book (``mmids.kron``,
``mmids.functions``). In batch notation a linear layer computes ``Y = X W^T + 1 b^T`` with
``W ∈ R^{n_out×n_in}``; then ``∂L/∂X = P W`` (row ``n`` is ``𝔸^T p_n = W^T p_n``),
``∂L/∂W = P^T X`` (``Σ_n p_n ⊗ x_n = Σ_n 𝔹^T p_n``, shaped like ``W``) and ``∂L/∂b = P^T 1``.

Speed: a training step makes a handful of numpy calls per layer, the calls a hand-written loop
makes. ``Sequential`` packs all parameters (and all gradients) into one contiguous vector, each
layer's ``W`` and ``b`` being views into it, so an optimiser step or a gradient clip is a few
vector operations in total rather than a few per parameter array. The first layer's backward
skips ``∂L/∂X`` (backpropagation never needs ``p_1``). Parameter gradients are written straight
into their buffers (``out=``).

Precision: float64 by default; ``Linear(..., dtype=np.float32)`` gives a float32 model (weights,
matrix products and optimiser state in float32). Activations and the loss are evaluated by
``mmids.functions`` (float64, on the small ``N × n_out`` arrays) and cast to the model's dtype,
so each formula has one implementation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions

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
    "clip_grad_norm",
    "evaluate",
    "glorot_normal",
    "predict",
    "train",
]

Array = NDArray[np.floating[Any]]
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in (_F32, _F64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


# ---------------------------------------------------------------------------------------------
# parameters and modules
# ---------------------------------------------------------------------------------------------


class Parameter:
    """A trainable array ``value`` and its gradient ``grad`` (same shape and dtype).

    ``Sequential`` re-seats ``value``/``grad`` as views into one packed vector; keep a reference
    to the ``Parameter`` object rather than to its arrays.
    """

    __slots__ = ("value", "grad", "name", "_pack")

    def __init__(self, value: ArrayLike, name: str = "") -> None:
        arr = np.asarray(value)
        dtype = arr.dtype if arr.dtype in (_F32, _F64) else _F64
        self.value: Array = np.array(arr, dtype=dtype)
        self.grad: Array = np.zeros_like(self.value)
        self.name = name
        self._pack: Parameter | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    def __repr__(self) -> str:
        return f"Parameter({self.name or '?'}, shape={self.value.shape}, dtype={self.value.dtype})"


def _as_batch(X: ArrayLike, n: int, who: str, dtype: np.dtype[Any]) -> Array:
    if not isinstance(X, np.ndarray) or X.dtype != dtype:
        try:
            X = np.asarray(X, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{who}: input must be an array of numbers") from exc
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"{who}: expected a batch of shape (N, {n}), got {X.shape}")
    return X


def _check_upstream(P: Any, shape: tuple[int, ...], who: str) -> None:
    if not isinstance(P, np.ndarray) or P.shape != shape:
        got = getattr(P, "shape", type(P).__name__)
        raise ValueError(f"{who}.backward: upstream gradient must have shape {shape}, got {got}")


class Module:
    """Base class: ``forward``, ``backward``, ``parameters``; calling a module runs ``forward``."""

    def forward(self, X: ArrayLike) -> Array:
        """The output batch for the input batch ``X``; keeps what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        """Given ``P = ∂L/∂(output)`` of the last ``forward``: write the parameter gradients into
        ``Parameter.grad`` and return ``∂L/∂X`` (None if ``need_input_grad`` is False)."""
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        return []

    def __call__(self, X: ArrayLike) -> Array:
        return self.forward(X)

    def _stored(self, attr: str) -> Any:
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value


def glorot_normal(n_in: int, n_out: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Glorot (Xavier) initialisation: ``W ∈ R^{n_out×n_in}`` with i.i.d. entries
    ``N(0, 2/(n_in + n_out))``, the variance that keeps forward activations and backward
    gradients of about the same size from layer to layer."""
    return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


class Linear(Module):
    """``Y = X W^T + 1 b^T``: ``X`` ``(N, n_in)`` -> ``Y`` ``(N, n_out)``, ``W`` ``(n_out, n_in)``.

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
        for v, s in ((n_in, "n_in"), (n_out, "n_out")):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Linear: {s} must be a positive integer, got {v!r}")
        self.dtype = _float_dtype(dtype)
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
        X = _as_batch(X, self.n_in, "Linear", self.dtype)
        self._X = X
        Y = X @ self.weight.value.T
        if self.bias is not None:
            Y += self.bias.value
        return Y

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        X = self._stored("_X")
        _check_upstream(P, (X.shape[0], self.n_out), "Linear")
        if P.dtype != self.dtype:
            P = P.astype(self.dtype)
        # ∂L/∂W = Σ_n p_n ⊗ x_n = P^T X (kron.linear_vjp_params, shaped like W), into its buffer
        np.matmul(P.T, X, out=self.weight.grad)
        if self.bias is not None:
            P.sum(axis=0, out=self.bias.grad)
        # ∂L/∂X: row n is W^T p_n (kron.linear_vjp_input), i.e. P W
        return P @ self.weight.value if need_input_grad else None

    def __repr__(self) -> str:
        bias = self.bias is not None
        return f"Linear({self.n_in}, {self.n_out}, bias={bias}, dtype={self.dtype})"


class _Elementwise(Module):
    """An entry-wise activation ``Y = φ(X)``; backward ``φ'(X) ⊙ P`` (a diagonal Jacobian)."""

    _X: Array | None = None
    _Y: Array | None = None

    def forward(self, X: ArrayLike) -> Array:
        X = np.asarray(X)
        if X.dtype not in (_F32, _F64):
            X = X.astype(np.float64)
        self._X = X
        self._Y = self._f(X).astype(X.dtype, copy=False)
        return self._Y

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        Y = self._stored("_Y")
        _check_upstream(P, Y.shape, type(self).__name__)
        return self._vjp(P).astype(Y.dtype, copy=False) if need_input_grad else None

    def _f(self, X: Array) -> Array:
        raise NotImplementedError

    def _vjp(self, P: Array) -> Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(_Elementwise):
    """``σ(X)`` entry-wise (``mmids.functions.sigmoid``); backward ``σ(X)(1 − σ(X)) ⊙ P``
    from the stored output (the logistic differential equation ``σ' = σ(1 − σ)``)."""

    def _f(self, X: Array) -> Array:
        return functions.sigmoid(X)

    def _vjp(self, P: Array) -> Array:
        Y = self._Y
        G = P * Y
        G *= 1.0 - Y
        return G


class ReLU(_Elementwise):
    """``max(X, 0)``; backward ``1(X > 0) ⊙ P`` (``mmids.functions.relu_vjp``)."""

    def _f(self, X: Array) -> Array:
        return functions.relu(X)

    def _vjp(self, P: Array) -> Array:
        return functions.relu_vjp(self._X, P)


class Tanh(_Elementwise):
    """``tanh(X)``; backward ``(1 − tanh²(X)) ⊙ P`` (``mmids.functions.tanh_vjp``)."""

    def _f(self, X: Array) -> Array:
        return functions.tanh(X)

    def _vjp(self, P: Array) -> Array:
        return functions.tanh_vjp(self._X, P)


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


class Sequential(Module):
    """Layers applied in order; ``backward`` runs them in reverse.

    On construction the parameters of all layers are packed into one contiguous vector (and their
    gradients into another); each ``Parameter.value``/``grad`` becomes a view into it
    (``self.packed`` is the pack itself). Optimisers and ``clip_grad_norm`` recognise a complete
    pack and update it in one go. All parameters must share one dtype.

    With ``record = True`` the model also keeps, after each call, ``activations`` (the input and
    the output of every layer: ``[X, layer_1(X), …]``) and, after ``backward``, ``gradients``
    (``∂L/∂`` of each of those, same shapes; the entry for ``X`` is None when not computed), e.g.
    for histograms of hidden activations and of the gradients flowing back through them.
    """

    record: bool = False
    activations: list[Array]
    gradients: list[Array | None]

    def __init__(self, *layers: Module) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)
        self._params = [p for layer in self.layers for p in layer.parameters()]
        if len({id(p) for p in self._params}) != len(self._params):
            raise ValueError("Sequential: a Parameter appears twice (a layer is shared)")
        dtypes = {p.value.dtype for p in self._params}
        if len(dtypes) > 1:
            raise ValueError(f"Sequential: all parameters must share one dtype, got {dtypes}")
        self.dtype: np.dtype[Any] = dtypes.pop() if dtypes else _F64
        self.packed = self._pack_parameters()

    def _pack_parameters(self) -> Parameter:
        total = sum(p.value.size for p in self._params)
        pack = Parameter(np.zeros(total, self.dtype), "packed")
        start = 0
        offsets = {}
        for p in self._params:
            stop = start + p.value.size
            offsets[id(p)] = start
            pack.value[start:stop] = p.value.reshape(-1)
            pack.grad[start:stop] = p.grad.reshape(-1)
            p.value = pack.value[start:stop].reshape(p.value.shape)
            p.grad = pack.grad[start:stop].reshape(p.grad.shape)
            p._pack = pack
            start = stop
        # a nested Sequential keeps a valid ``packed``: its (contiguous) slice of the new pack
        for layer in self.layers:
            if isinstance(layer, Sequential) and layer._params:
                lo = offsets[id(layer._params[0])]
                hi = lo + layer.packed.value.size
                layer.packed.value = pack.value[lo:hi]
                layer.packed.grad = pack.grad[lo:hi]
        return pack

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def forward(self, X: ArrayLike) -> Array:
        if self.record:
            self.activations = [np.asarray(X)]
            for layer in self.layers:
                self.activations.append(layer.forward(self.activations[-1]))
            return self.activations[-1]
        for layer in self.layers:
            X = layer.forward(X)
        return X  # type: ignore[return-value]

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        layers = self.layers
        if self.record:
            self.gradients = [P]
        for i in range(len(layers) - 1, 0, -1):
            P = layers[i].backward(P)  # type: ignore[assignment]
            if self.record:
                self.gradients.append(P)
        out = layers[0].backward(P, need_input_grad)
        if self.record:
            self.gradients.append(out)
            self.gradients.reverse()
        return out

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


# ---------------------------------------------------------------------------------------------
# optimisers and clipping
# ---------------------------------------------------------------------------------------------


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


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: ``step()`` updates every parameter from its ``grad``."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.lr = _positive(lr, "learning rate")
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
    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``, ``w ← w − η m̂/(√v̂ + ε)`` with
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
        self.eps = _positive(eps, "eps")
        self.t = 0
        self._M = [np.zeros_like(g.value) for g in self._groups]
        self._V = [np.zeros_like(g.value) for g in self._groups]

    def step(self) -> None:
        b1, b2 = self.betas
        self.t += 1
        # √v̂ = c √V with c = √((1−β₂)/(1−β₂^t)); m̂ = (1−β₁) M/(1−β₁^t), so
        # η m̂/(√v̂ + ε) = s · M/(√V + ε/c) with s = η (1−β₁)/((1−β₁^t) c).
        c = math.sqrt((1.0 - b2) / (1.0 - b2**self.t))
        s = self.lr * (1.0 - b1) / ((1.0 - b1**self.t) * c)
        eps_c = self.eps / c
        for g, M, V, tmp in zip(self._groups, self._M, self._V, self._tmp, strict=True):
            grad = g.grad
            M *= b1
            M += grad
            np.multiply(grad, grad, out=tmp)
            V *= b2
            V += tmp
            np.sqrt(V, out=tmp)
            tmp += eps_c
            np.divide(M, tmp, out=tmp)
            tmp *= s
            g.value -= tmp


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Gradient clipping ``g' = min(1, c/‖g‖) g`` with ``‖g‖`` the Euclidean norm of all the
    gradients together; scales the ``grad`` arrays in place and returns ``‖g‖`` (before)."""
    c = _positive(max_norm, "max_norm")
    groups = _groups(params)
    norm = math.sqrt(sum(float(np.vdot(g.grad, g.grad)) for g in groups))
    if norm > c:
        scale = c / norm
        for g in groups:
            g.grad *= scale
    return norm


# ---------------------------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------------------------


@dataclass
class History:
    """Per-epoch record. ``loss``/``accuracy``: averages over the epoch's mini-batches (each
    measured before that batch's update); ``val_loss``/``val_accuracy``: on the validation data
    after each epoch (empty without validation data)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def _model_dtype(model: Module) -> np.dtype[Any]:
    params = model.parameters()
    return params[0].value.dtype if params else _F64


def _check_data(
    X: ArrayLike, y: ArrayLike, who: str, dtype: np.dtype[Any]
) -> tuple[Array, NDArray[np.int64]]:
    try:
        X = np.ascontiguousarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{who}: X must be an array of numbers") from exc
    y_arr = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"{who}: X must be (N, d), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{who}: X has no rows")
    if y_arr.shape != (X.shape[0],):
        raise ValueError(f"{who}: y must hold one integer label per row of X, shape "
                         f"({X.shape[0]},), got {y_arr.shape}")
    if not np.issubdtype(y_arr.dtype, np.integer):
        raise TypeError(f"{who}: y must hold integer class labels, got dtype {y_arr.dtype}")
    return X, y_arr.astype(np.int64, copy=False)


def predict(model: Module, X: ArrayLike, batch_size: int = 4096) -> NDArray[np.int64]:
    """Predicted classes ``argmax_k z_k`` for each row of ``X`` (``(N,)`` integers)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"predict: X must be (N, d), got shape {X.shape}")
    parts = [np.argmax(model.forward(X[i:i + batch_size]), axis=1)
             for i in range(0, X.shape[0], batch_size)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def accuracy(model: Module, X: ArrayLike, y: ArrayLike, batch_size: int = 4096) -> float:
    """Fraction of the rows of ``X`` whose predicted class equals the label in ``y``."""
    X, y_arr = _check_data(X, y, "accuracy", _model_dtype(model))
    return float(np.mean(predict(model, X, batch_size) == y_arr))


def evaluate(
    model: Module, X: ArrayLike, y: ArrayLike, batch_size: int = 4096
) -> tuple[float, float]:
    """``(mean softmax cross-entropy, accuracy)`` of ``model`` on ``(X, y)``."""
    X, y_arr = _check_data(X, y, "evaluate", _model_dtype(model))
    loss_fn = SoftmaxCrossEntropy()
    total, correct = 0.0, 0
    for i in range(0, X.shape[0], batch_size):
        Z = model.forward(X[i:i + batch_size])
        yb = y_arr[i:i + batch_size]
        total += loss_fn.forward(Z, yb) * Z.shape[0]
        correct += int(np.count_nonzero(np.argmax(Z, axis=1) == yb))
    return total / X.shape[0], correct / X.shape[0]


def train(
    model: Module,
    X: ArrayLike,
    y: ArrayLike,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 32,
    *,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = 0,
    clip: float | None = None,
    validation: tuple[ArrayLike, ArrayLike] | None = None,
    progress: bool = True,
    file: IO[str] | None = None,
) -> History:
    """Mini-batch training of a classifier (logits out) with the softmax cross-entropy loss.

    Each epoch visits the rows of ``X`` (``(N, d)``; labels ``y``: ``(N,)`` integers ``0..K−1``)
    in a fresh random order (``shuffle``; drawn from ``rng``, a Generator or a seed) in
    consecutive batches of ``batch_size`` (the last may be smaller): forward pass, loss, backward
    pass, optional clipping ``g' = min(1, clip/‖g‖) g``, ``optimizer.step()``. A tqdm progress bar
    (on ``file``, default stderr) shows the running loss and accuracy; ``progress=False`` prints
    nothing at all. Returns a ``History`` (per-epoch loss and accuracy).
    """
    X, y_arr = _check_data(X, y, "train", _model_dtype(model))
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"train: epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"train: batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"train: optimizer must be an mmids.nn Optimizer, got "
                        f"{type(optimizer).__name__}")
    if clip is not None:
        _positive(clip, "train: clip")
    N = X.shape[0]
    # the number of classes is read off the model's output on one row
    K = int(model.forward(X[:1]).shape[1])
    if y_arr.min() < 0 or y_arr.max() >= K:
        raise ValueError(f"train: labels must lie in 0..{K - 1} (the model has {K} outputs), "
                         f"got values from {y_arr.min()} to {y_arr.max()}")
    Y = functions.one_hot(y_arr, K)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    loss_fn = SoftmaxCrossEntropy()
    n_batches = -(-N // batch_size)
    params = model.parameters()
    history = History()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=epochs * n_batches, unit="batch", file=file or sys.stderr)
    report_every = max(1, n_batches // 10)
    try:
        for epoch in range(epochs):
            if shuffle:
                order = gen.permutation(N)
                Xe, Ye, ye = X[order], Y[order], y_arr[order]
            else:
                Xe, Ye, ye = X, Y, y_arr
            total, correct = 0.0, 0
            for b in range(n_batches):
                lo, hi = b * batch_size, (b + 1) * batch_size
                Xb, yb = Xe[lo:hi], ye[lo:hi]
                Z = model.forward(Xb)
                total += loss_fn.forward(Z, Ye[lo:hi]) * Xb.shape[0]
                correct += int(np.count_nonzero(Z.argmax(axis=1) == yb))
                model.backward(loss_fn.backward(), need_input_grad=False)
                if clip is not None:
                    clip_grad_norm(params, clip)
                optimizer.step()
                if bar is not None:
                    bar.update(1)
                    if (b + 1) % report_every == 0:
                        seen = min(hi, N)
                        bar.set_postfix(epoch=epoch + 1, loss=f"{total / seen:.4f}",
                                        acc=f"{correct / seen:.3f}", refresh=False)
            history.loss.append(total / N)
            history.accuracy.append(correct / N)
            if validation is not None:
                vl, va = evaluate(model, *validation)
                history.val_loss.append(vl)
                history.val_accuracy.append(va)
            if bar is not None:
                post = {"epoch": epoch + 1, "loss": f"{total / N:.4f}", "acc": f"{correct / N:.3f}"}
                if validation is not None:
                    post["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
                bar.set_postfix(post)
    finally:
        if bar is not None:
            bar.close()
    return history
