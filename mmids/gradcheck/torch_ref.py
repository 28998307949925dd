"""The derivatives of a torch function by ``torch.autograd`` in float64, as numpy arrays.

torch is imported only when one of these functions is called, so ``import mmids.gradcheck``
stays cheap. Jacobians have rows = outputs and columns = inputs, flattened row-major.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmids._validate import as_float_array

__all__ = ["torch_gradient", "torch_jacobian", "torch_vjp"]

Array = NDArray[np.float64]


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a declared extra
        raise ImportError(
            "the torch comparison helpers need PyTorch: pip install 'mmids[torch]'"
        ) from exc
    return torch


def torch_vjp(f_torch: Callable[[Any], Any], x: ArrayLike, p: ArrayLike) -> Array:
    """``J_f(x)^T p`` by ``torch.autograd`` in float64, as a numpy array of the shape of ``x``.

    ``f_torch`` maps a float64 tensor to a tensor; ``p`` has the shape of its output. Inputs that
    the output does not depend on get a zero gradient.
    """
    torch = import_torch()
    xt = torch.tensor(as_float_array(x, "x", copy=True), dtype=torch.float64, requires_grad=True)
    out = f_torch(xt)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f_torch must return a torch.Tensor, got {type(out).__name__}")
    pt = torch.as_tensor(as_float_array(p, "p", copy=True), dtype=torch.float64)
    if tuple(pt.shape) != tuple(out.shape):
        raise ValueError(
            f"p must have the shape of f_torch(x), {tuple(out.shape)}, got {tuple(pt.shape)}"
        )
    if not out.requires_grad:
        return np.zeros(xt.shape, dtype=np.float64)
    (grad,) = torch.autograd.grad(out, xt, grad_outputs=pt, allow_unused=True)
    if grad is None:
        return np.zeros(xt.shape, dtype=np.float64)
    return grad.detach().numpy().astype(np.float64, copy=True)


def torch_gradient(f_torch: Callable[[Any], Any], x: ArrayLike) -> Array:
    """``∇f(x)`` of a scalar-valued ``f_torch`` by ``torch.autograd`` (float64); shape of ``x``."""
    torch = import_torch()
    xt = torch.tensor(as_float_array(x, "x", copy=True), dtype=torch.float64)
    out = f_torch(xt)
    if out.numel() != 1:
        raise ValueError(f"torch_gradient needs a scalar-valued f, got output {tuple(out.shape)}")
    return torch_vjp(f_torch, x, np.ones(tuple(out.shape)))


def torch_jacobian(f_torch: Callable[[Any], Any], x: ArrayLike) -> Array:
    """The Jacobian by ``torch.autograd`` in float64: shape ``(out.size, x.size)``, row-major."""
    torch = import_torch()
    x = as_float_array(x, "x", copy=True)
    xt = torch.tensor(x, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(f_torch, xt)
    J = J.detach().numpy().astype(np.float64, copy=True)
    return J.reshape(-1, x.size) if x.size else J.reshape(J.size, 0)
