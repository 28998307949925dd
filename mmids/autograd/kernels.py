"""Value kernels shared by the operations: a ``math`` fast path for floats, numpy for arrays.

Numerical trouble is reported, not hidden: ``log`` of a non-positive entry warns (RuntimeWarning
naming the operation) and returns nan/-inf as numpy does; overflow in ``exp`` or ``**`` and the
square root of a negative number show numpy's own RuntimeWarning. Warnings raised here point at
the user's line, not at the engine (:func:`warn_user`).
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from mmids import functions as F
from mmids.autograd.values import Value


def elementwise(scalar: Callable[[float], float], array: Callable[[Any], Any]) -> Callable:
    """Use ``scalar`` (math, fast) on floats and ``array`` (numpy) otherwise.

    If the math version fails (overflow, domain error) the numpy version gives inf/nan together
    with numpy's RuntimeWarning, so the problem is visible.
    """

    def apply(a: Value) -> Value:
        if isinstance(a, float):
            try:
                return scalar(a)
            except (OverflowError, ValueError):
                return float(array(np.float64(a)))
        return array(a)

    return apply


def _scalar_sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_user(message: str) -> None:
    """Issue a ``RuntimeWarning`` attributed to the user's line, not to the engine.

    The warning points at the first caller outside ``mmids/autograd/`` (e.g. the line calling
    ``log(x)``, or ``L.backward()`` when the trouble shows up in a local derivative).
    """
    frame, level = sys._getframe(1), 2  # stacklevel=2 is the caller of warn_user
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _array_log(a: Value) -> Value:
    if np.any(a <= 0):
        warn_user("log of a non-positive value: the result has -inf (at 0) or nan (below 0)")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a)


def scalar_power(a: float, b: float) -> float:
    result = a**b  # Python gives a complex number for a < 0 with fractional b: use numpy then
    if isinstance(result, complex):
        raise ValueError("negative base")
    return result


exp_ = elementwise(math.exp, np.exp)
log_ = elementwise(math.log, _array_log)
sigmoid_ = elementwise(_scalar_sigmoid, F.sigmoid)
tanh_ = elementwise(math.tanh, np.tanh)
relu_ = elementwise(lambda a: a if a > 0 else 0.0, lambda a: np.maximum(a, 0.0))
step_ = elementwise(lambda a: 1.0 if a > 0 else 0.0, lambda a: (a > 0).astype(np.float64))
sqrt_ = elementwise(math.sqrt, np.sqrt)
abs_ = elementwise(abs, np.abs)
sign_ = elementwise(lambda a: float((a > 0) - (a < 0)) if a == a else a, np.sign)  # 0 at 0


def divide_(a: Value, b: Value) -> Value:
    """``a / b``; a float division by zero gives ±inf or nan with numpy's warning (as torch)."""
    try:
        return a / b
    except ZeroDivisionError:
        return float(np.divide(np.float64(a), np.float64(b)))


def power_(a: Value, b: Value) -> Value:
    if isinstance(a, float) and isinstance(b, (int, float)):
        try:
            return scalar_power(a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            return float(np.power(np.float64(a), b))
    return np.power(a, b)


def maximum_(a: Value, b: Value) -> Value:
    """Element-wise maximum; nan wins, as in numpy."""
    if isinstance(a, float) and isinstance(b, float):
        return a if a > b or a != a else b
    return np.maximum(a, b)


def minimum_(a: Value, b: Value) -> Value:
    """Element-wise minimum; nan wins, as in numpy."""
    if isinstance(a, float) and isinstance(b, float):
        return a if a < b or a != a else b
    return np.minimum(a, b)
