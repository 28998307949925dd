"""Input checks shared by the mmids modules (private): one wording for every error message."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def as_float_array(x: ArrayLike, name: str, *, copy: bool = False) -> Array:
    """``x`` as a float64 array (a fresh copy if ``copy``); TypeError for non-numeric input."""
    try:
        return np.array(x, dtype=np.float64) if copy else np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from exc


def positive_int(value: object, name: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (``bool`` excluded), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def same_shape(a: Array, b: Array, name_a: str, name_b: str) -> None:
    """ValueError unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def positive_number(value: object, name: str) -> float:
    """``value`` as a ``float`` if it is a finite positive Python number, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)
