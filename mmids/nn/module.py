"""Parameters and the ``Module`` interface shared by every layer; float32/float64 handling."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Module", "Parameter"]

Array = NDArray[np.floating[Any]]
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def float_dtype(dtype: Any) -> np.dtype[Any]:
    """``dtype`` as a numpy dtype if it is float32 or float64, else ValueError."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in (F32, F64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Parameter:
    """A trainable array ``value`` and its gradient ``grad`` (same shape and dtype).

    ``Sequential`` re-seats ``value``/``grad`` as views into one packed vector; keep a reference
    to the ``Parameter`` object rather than to its arrays.
    """

    __slots__ = ("value", "grad", "name", "_pack")

    def __init__(self, value: ArrayLike, name: str = "") -> None:
        arr = np.asarray(value)
        dtype = arr.dtype if arr.dtype in (F32, F64) else F64
        self.value: Array = np.array(arr, dtype=dtype)
        self.grad: Array = np.zeros_like(self.value)
        self.name = name
        self._pack: Parameter | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    def __repr__(self) -> str:
        return f"Parameter({self.name or '?'}, shape={self.value.shape}, dtype={self.value.dtype})"


def as_batch(X: ArrayLike, n: int, who: str, dtype: np.dtype[Any]) -> Array:
    if not isinstance(X, np.ndarray) or X.dtype != dtype:
        try:
            X = np.asarray(X, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{who}: input must be an array of numbers") from exc
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"{who}: expected a batch of shape (N, {n}), got {X.shape}")
    return X


def check_upstream(P: Any, shape: tuple[int, ...], who: str) -> None:
    if not isinstance(P, np.ndarray) or P.shape != shape:
        got = getattr(P, "shape", type(P).__name__)
        raise ValueError(f"{who}.backward: upstream gradient must have shape {shape}, got {got}")


class Module:
    """Base class: ``forward``, ``backward``, ``parameters``; calling a module runs ``forward``."""

    def forward(self, X: ArrayLike) -> Array:
        """The output batch for the input batch ``X``; keeps what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, P: Array, need_input_grad: bool = True) -> Array | None:
        """Given ``P = ∇_Y L`` for the output ``Y`` of the last ``forward`` (row ``n`` is the
        upstream gradient ``p_n^T`` of sample ``n``): write the parameter gradients into
        ``Parameter.grad`` and return ``∇_X L`` (None if ``need_input_grad`` is False)."""
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
