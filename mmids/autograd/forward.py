"""Forward mode (Jacobian-vector products) and full Jacobians by forward or reverse mode.

Forward mode carries, next to every value ``v``, its tangent ``v̇ = J_v(x) ẋ``: the derivative
of ``v`` along one input direction ``ẋ`` (``dx`` in the code). It sweeps the graph in topological
order (parents first) and applies each operation's ``jvp`` from the same table of operations as
reverse mode.

For ``f: R^n -> R^m`` the full Jacobian ``J_f(x)`` (m×n, rows = outputs) takes ``n`` forward
sweeps (one per column, ``ẋ = e_j``) or ``m`` backward sweeps (one per row, upstream
``p = e_i``): forward mode wins when ``n << m``, reverse mode when ``m << n``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from mmids.autograd.core import AutogradValue, Value, as_value, broadcast_like, topological_order


def tangents(
    output: AutogradValue, seeds: dict[AutogradValue, Value]
) -> dict[AutogradValue, Value]:
    """Forward sweep: the tangent of every node of the graph of ``output``.

    ``seeds`` maps input nodes to their tangents ``ẋ`` (same shape as their values). Nodes that
    do not depend on a seeded input are left out (their tangent is zero).
    """
    tangent: dict[AutogradValue, Value] = {}
    for node in topological_order(output):  # parents first
        if node in seeds:
            tangent[node] = seeds[node]
            continue
        parent_tangents = [tangent.get(p) if isinstance(p, AutogradValue) else None
                           for p in node.parents]
        if any(t is not None for t in parent_tangents):
            tangent[node] = node.jvp(*parent_tangents)
    return tangent


def _evaluate(f: Callable[[AutogradValue], Any], x: Any) -> tuple[AutogradValue, Any]:
    x_node = AutogradValue(x)
    out = f(x_node)
    if not isinstance(out, AutogradValue):  # f ignored its input: a constant output
        out = AutogradValue(out)
    return x_node, out


def jvp(f: Callable[[AutogradValue], Any], x: Any, dx: Any) -> tuple[Value, Value]:
    """``(f(x), J_f(x) ẋ)`` by one forward sweep; the tangent ``dx = ẋ`` has the shape of ``x``."""
    x_node, out = _evaluate(f, x)
    dx = as_value(dx)
    if np.shape(dx) != x_node.shape:
        raise ValueError(f"tangent dx has shape {np.shape(dx)}, x has shape {x_node.shape}")
    t = tangents(out, {x_node: dx}).get(out)
    return out.value, broadcast_like(0.0 if t is None else t, out.value)


def vjp(f: Callable[[AutogradValue], Any], x: Any, p: Any) -> tuple[Value, Value]:
    """``(f(x), J_f(x)^T p)`` by one backward sweep; ``p`` has the shape of ``f(x)``."""
    x_node, out = _evaluate(f, x)
    out.backward(as_value(p))
    return out.value, broadcast_like(x_node.grad, x_node.value)


def jacobian(
    f: Callable[[AutogradValue], Any], x: Any, mode: Literal["forward", "reverse"] = "reverse"
) -> np.ndarray:
    """``J_f(x)`` as an (f(x).size, x.size) array: rows = outputs, columns = inputs (row-major).

    ``mode="forward"``: one forward sweep per input entry; ``mode="reverse"``: one backward sweep
    per output entry. The graph is built once and reused by every sweep.
    """
    if mode not in ("forward", "reverse"):
        raise ValueError(f'mode must be "forward" or "reverse", not {mode!r}')
    x_node, out = _evaluate(f, x)
    n, m = int(np.size(x_node.value)), int(np.size(out.value))
    J = np.zeros((m, n))
    if mode == "forward":
        for j in range(n):
            e = np.zeros(n)
            e[j] = 1.0
            seed = float(e[0]) if x_node.shape == () else e.reshape(x_node.shape)
            t = tangents(out, {x_node: seed}).get(out)
            if t is not None:
                J[:, j] = np.ravel(t)
    else:
        for i in range(m):
            e = np.zeros(m)
            e[i] = 1.0
            out.backward(float(e[0]) if out.shape == () else e.reshape(out.shape))
            J[i, :] = np.ravel(x_node.grad)  # stays 0 if out does not depend on x
    return J
