"""Shared checks for the mmids.autograd tests: a function's value, VJP and JVP against torch
(``torch.autograd`` and ``torch.func.jvp``) in float64 and against central finite differences
(``mmids.gradcheck``), and the gradients of every input at once against torch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import mmids.autograd as ad
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V


def _tensor(x: Any, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64,
                        requires_grad=requires_grad)


def check_function(
    f: Callable[[Any], Any],
    f_torch: Callable[[torch.Tensor], torch.Tensor],
    x: np.ndarray,
    *,
    seed: int = 0,
    name: str = "f",
    fd_rtol: float = 1e-5,
    fd_atol: float = 1e-7,
) -> None:
    """``f`` (engine, one input) against ``f_torch``: value (and its type: a float for a 0-d
    result), VJP with a random upstream ``p``, JVP with a random tangent; each against torch and
    against finite differences."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)

    def f_np(v: np.ndarray) -> np.ndarray:
        return np.asarray(f(V(v)).value)

    expected = f_torch(_tensor(x)).detach().numpy()
    value = f(V(x)).value
    assert isinstance(value, float) if expected.ndim == 0 else value.dtype == np.float64, (
        f"{name}: value of type {type(value).__name__} for a result of shape {expected.shape}")
    gc.assert_close(expected, np.asarray(value), rtol=1e-12, atol=1e-12, name=f"{name}: value")

    p = rng.standard_normal(expected.shape)
    report = gc.check_vjp(f_np, lambda v, pp: np.asarray(ad.vjp(f, v, pp)[1]), x, p=p,
                          f_torch=f_torch, rtol=fd_rtol, atol=fd_atol, name=f"{name}: vjp")
    assert report.ok, str(report)

    dx = rng.standard_normal(x.shape)
    value, tangent = ad.jvp(f, x, dx)
    assert np.shape(tangent) == expected.shape, (name, np.shape(tangent), expected.shape)
    _, by_torch = torch.func.jvp(f_torch, (_tensor(x),), (_tensor(dx),))
    gc.assert_close(by_torch.numpy(), np.asarray(tangent), rtol=1e-10, atol=1e-12,
                    name=f"{name}: jvp vs torch.func.jvp")
    by_fd = (gc.numerical_jacobian(f_np, x) @ dx.ravel()).reshape(expected.shape)
    gc.assert_close(by_fd, np.asarray(tangent), rtol=fd_rtol, atol=fd_atol,
                    name=f"{name}: jvp vs finite differences")


def check_all_inputs(
    build: Callable[..., Any],
    build_torch: Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray | float],
    *,
    seed: int = 0,
    name: str = "f",
) -> None:
    """Every input a node at once (so one node receives several contributions): the value and
    each input's ``.grad`` after ``backward(p)`` against torch's, in float64."""
    nodes = [V(x) for x in inputs]
    tensors = [_tensor(x, requires_grad=True) for x in inputs]
    out, out_t = build(*nodes), build_torch(*tensors)
    gc.assert_close(out_t.detach().numpy(), np.asarray(out.value), rtol=1e-12, atol=1e-12,
                    name=f"{name}: value")
    p = np.random.default_rng(seed).standard_normal(out_t.shape)
    out.backward(float(p) if p.ndim == 0 else p)
    grads = torch.autograd.grad(out_t, tensors, grad_outputs=_tensor(p), allow_unused=True)
    for k, (node, g) in enumerate(zip(nodes, grads, strict=True)):
        expected = np.zeros(node.shape) if g is None else g.numpy()
        assert type(node.grad) is type(node.value), (name, k, type(node.grad))
        gc.assert_close(expected, np.asarray(node.grad), rtol=1e-10, atol=1e-12,
                        name=f"{name}: grad of input {k}")
