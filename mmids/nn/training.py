"""Mini-batch training of a classifier with the softmax cross-entropy, and its evaluation."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids import functions
from mmids._validate import positive_number
from mmids.nn.loss import SoftmaxCrossEntropy
from mmids.nn.module import F64, Array, Module
from mmids.nn.optim import Optimizer, clip_grad_norm

__all__ = ["History", "accuracy", "evaluate", "predict", "train"]


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
    return params[0].value.dtype if params else F64


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
        positive_number(clip, "train: clip")
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
                total += loss_fn._forward(Z, Ye[lo:hi], None) * Xb.shape[0]  # one-hot rows
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
