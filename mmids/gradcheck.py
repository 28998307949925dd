"""Numerical checking of derivatives: finite differences, torch.autograd, and readable reports.

This is the one place in the project where derivatives are checked numerically. The book's
verification cells, the package tests, the exercise tests and the autograders all use it.

* ``numerical_gradient``, ``numerical_jacobian``, ``numerical_vjp``: central differences in
  float64, ``∂f/∂x_j ≈ (f(x + ε e_j) − f(x − ε e_j)) / (2ε)``, error ``O(ε²)`` plus rounding
  ``O(u |f| / ε)`` (``u ≈ 1.1e-16``), so about ``1e-10 |f|`` for the default ``ε = 1e-6``.
* ``torch_vjp``, ``torch_jacobian``, ``torch_gradient``: the same objects from
  ``torch.autograd`` in float64 (torch is imported only when these are called).
* ``relative_error``, ``compare``, ``assert_close``: comparisons that are safe near zero and
  report the worst entries by index.
* ``check_vjp``, ``check_gradient``, ``check_jacobian``: one call that compares a hand-written
  derivative with finite differences and, optionally, with torch.autograd.

Jacobians have rows = outputs and columns = inputs, both flattened in numpy's row-major order.
A VJP of ``f`` at ``x`` with upstream ``p`` (shape of ``f(x)``) is ``J_f(x)^T p``, returned with
the shape of ``x``: it is the gradient of ``x ↦ ⟨p, f(x)⟩``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CheckReport",
    "assert_close",
    "check_gradient",
    "check_jacobian",
    "check_vjp",
    "compare",
    "numerical_gradient",
    "numerical_jacobian",
    "numerical_vjp",
    "relative_error",
    "torch_gradient",
    "torch_jacobian",
    "torch_vjp",
]

Array = NDArray[np.float64]
Index = tuple[int, ...]
RngLike = np.random.Generator | int | None


# ---------------------------------------------------------------------------------------------
# finite differences
# ---------------------------------------------------------------------------------------------


def _as_float_array(x: ArrayLike, name: str) -> Array:
    try:
        return np.array(x, dtype=np.float64)  # always a fresh copy
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from exc


def _check_eps(eps: float) -> None:
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")


def _eval(f: Callable[[Array], Any], x: Array) -> Array:
    return np.asarray(f(x.copy()), dtype=np.float64)


def numerical_jacobian(f: Callable[[Array], ArrayLike], x: ArrayLike, eps: float = 1e-6) -> Array:
    """Central-difference Jacobian of ``f`` at ``x``: shape ``(f(x).size, x.size)``.

    Column ``j`` is ``(f(x + ε e_j) − f(x − ε e_j)) / (2ε)`` with ``e_j`` the ``j``-th entry of
    ``x`` in row-major order; rows follow ``f(x)`` flattened row-major. Costs ``2 x.size``
    evaluations of ``f`` (each on a fresh copy, so ``f`` may modify its argument).
    """
    _check_eps(eps)
    x = _as_float_array(x, "x")
    m = _eval(f, x).size
    J = np.empty((m, x.size))
    flat = x.reshape(-1)
    for j in range(x.size):
        old = flat[j]
        flat[j] = old + eps
        plus = _eval(f, x).reshape(-1)
        flat[j] = old - eps
        minus = _eval(f, x).reshape(-1)
        flat[j] = old
        if plus.size != m or minus.size != m:
            raise ValueError("f must return outputs of the same size for every input")
        J[:, j] = (plus - minus) / (2.0 * eps)
    return J


def numerical_gradient(f: Callable[[Array], ArrayLike], x: ArrayLike, eps: float = 1e-6) -> Array:
    """Central-difference gradient ``∇f(x)`` of a scalar-valued ``f``; same shape as ``x``."""
    _check_eps(eps)
    x = _as_float_array(x, "x")
    value = _eval(f, x)
    if value.size != 1:
        raise ValueError(
            f"numerical_gradient needs a scalar-valued f, but f(x) has shape {value.shape}; "
            "use numerical_jacobian or numerical_vjp for vector-valued functions"
        )
    return numerical_jacobian(f, x, eps).reshape(x.shape)


def numerical_vjp(
    f: Callable[[Array], ArrayLike], x: ArrayLike, p: ArrayLike, eps: float = 1e-6
) -> Array:
    """Central-difference VJP ``J_f(x)^T p``: the gradient of ``x ↦ ⟨p, f(x)⟩``; shape of ``x``.

    ``p`` must have the shape of ``f(x)``. Costs ``2 x.size`` evaluations of ``f``.
    """
    x = _as_float_array(x, "x")
    p = _as_float_array(p, "p")
    out = _eval(f, x)
    if p.shape != out.shape:
        raise ValueError(f"p must have the shape of f(x), {out.shape}, got {p.shape}")
    return numerical_gradient(lambda u: float(np.sum(p * np.asarray(f(u), np.float64))), x, eps)


# ---------------------------------------------------------------------------------------------
# torch.autograd in float64 (torch imported lazily)
# ---------------------------------------------------------------------------------------------


def _torch() -> Any:
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
    torch = _torch()
    xt = torch.tensor(_as_float_array(x, "x"), dtype=torch.float64, requires_grad=True)
    out = f_torch(xt)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f_torch must return a torch.Tensor, got {type(out).__name__}")
    pt = torch.as_tensor(_as_float_array(p, "p"), dtype=torch.float64)
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
    torch = _torch()
    xt = torch.tensor(_as_float_array(x, "x"), dtype=torch.float64)
    out = f_torch(xt)
    if out.numel() != 1:
        raise ValueError(f"torch_gradient needs a scalar-valued f, got output {tuple(out.shape)}")
    return torch_vjp(f_torch, x, np.ones(tuple(out.shape)))


def torch_jacobian(f_torch: Callable[[Any], Any], x: ArrayLike) -> Array:
    """The Jacobian by ``torch.autograd`` in float64: shape ``(out.size, x.size)``, row-major."""
    torch = _torch()
    x = _as_float_array(x, "x")
    xt = torch.tensor(x, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(f_torch, xt)
    J = J.detach().numpy().astype(np.float64, copy=True)
    return J.reshape(-1, x.size) if x.size else J.reshape(J.size, 0)


# ---------------------------------------------------------------------------------------------
# comparison and reports
# ---------------------------------------------------------------------------------------------


def _abs_diff(e: Array, a: Array) -> Array:
    """``|e − a|`` with equal entries (including equal infinities) at 0 and NaN as ``inf``."""
    with np.errstate(invalid="ignore"):
        d = np.abs(e - a)
    d = np.where(e == a, 0.0, d)
    return np.where(np.isnan(d), np.inf, d)


def relative_error(expected: ArrayLike, actual: ArrayLike, floor: float = 1e-8) -> float:
    """``max_i |e_i − a_i| / max(max_i |e_i|, max_i |a_i|, floor)``.

    The error is measured against the scale of the whole array, so entries that are (nearly)
    zero do not blow it up, and ``floor`` keeps it finite when both arrays are zero. Any NaN
    (or an infinity in one array only) gives ``inf``. Shapes must agree.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"shape mismatch: expected {e.shape}, actual {a.shape}")
    if e.size == 0:
        return 0.0
    d = _abs_diff(e, a)
    num = float(np.max(d))
    if not np.isfinite(num):
        return float("inf")
    scale = max(float(np.max(np.abs(e))), float(np.max(np.abs(a))), floor)
    return num / scale


@dataclass
class CheckReport:
    """Outcome of a numerical comparison.

    ``ok`` is True when every entry satisfies ``|e − a| ≤ atol + rtol · max(|e|, |a|)``.
    ``worst`` lists ``(index, expected, actual)`` for the entries that violate this most (by
    the ratio of ``|e − a|`` to the allowance), ``index`` being a tuple into the array.
    A composite report (from ``check_vjp`` and friends) keeps its sub-checks in ``parts``.
    ``hints`` holds plain-words diagnoses (e.g. "sign flipped"), filled by ``mmids.check``.
    ``str(report)`` is a readable summary that names the worst entries.
    """

    name: str
    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst: list[tuple[Index, float, float]] = field(default_factory=list)
    shape: tuple[int, ...] | None = None
    rtol: float = 0.0
    atol: float = 0.0
    n_bad: int = 0
    message: str = ""
    expected_label: str = "expected"
    actual_label: str = "actual"
    parts: list[CheckReport] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"CheckReport(name={self.name!r}, ok={self.ok}, "
            f"max_abs_error={self.max_abs_error:.3g}, max_rel_error={self.max_rel_error:.3g})"
        )

    def __bool__(self) -> bool:
        return self.ok

    def assert_ok(self) -> CheckReport:
        """Raise ``AssertionError(str(self))`` unless the check passed; return ``self``."""
        if not self.ok:
            raise AssertionError(str(self))
        return self

    @classmethod
    def combine(cls, name: str, parts: Sequence[CheckReport]) -> CheckReport:
        """One report for several checks: ok iff all are; the worst entries of the worst part."""
        parts = list(parts)
        if not parts:
            raise ValueError("CheckReport.combine needs at least one report")
        failing = [r for r in parts if not r.ok]
        lead = max(failing or parts, key=lambda r: _nan_to_inf(r.max_rel_error))
        return cls(
            name=name,
            ok=not failing,
            max_abs_error=max(_nan_to_inf(r.max_abs_error) for r in parts),
            max_rel_error=max(_nan_to_inf(r.max_rel_error) for r in parts),
            worst=list(lead.worst),
            shape=lead.shape,
            n_bad=sum(r.n_bad for r in parts),
            message=lead.message,
            parts=parts,
        )

    def _headline(self) -> str:
        status = "ok" if self.ok else "FAIL"
        title = f"[{status}] {self.name}" if self.name else f"[{status}]"
        if self.message and not self.worst:
            return f"{title}: {self.message}"
        text = (
            f"{title}: {self.expected_label} vs {self.actual_label}, shape {self.shape}, "
            f"max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g} "
            f"(rtol={self.rtol:g}, atol={self.atol:g})"
        )
        if not self.ok:
            total = int(np.prod(self.shape)) if self.shape is not None else 0
            text += f"; {self.n_bad} of {total} entries out of tolerance"
        return text

    def _worst_lines(self) -> list[str]:
        if not self.worst:
            return []
        lines = ["  worst entries (index: expected vs actual):"]
        for idx, e, a in self.worst:
            lines.append(
                f"    {idx}: {self.expected_label} {e:.10g} vs {self.actual_label} {a:.10g}"
                f" (difference {abs(e - a) if np.isfinite(e - a) else float('nan'):.3g})"
            )
        return lines

    def __str__(self) -> str:
        if self.parts:
            status = "ok" if self.ok else "FAIL"
            title = f"[{status}] {self.name}" if self.name else f"[{status}]"
            n = len(self.parts)
            lines = [f"{title}: {n} check{'' if n == 1 else 's'}"]
            for part in self.parts:
                lines += ["  " + line for line in str(part).splitlines()]
        else:
            lines = [self._headline()]
            if not self.ok:
                lines += self._worst_lines()
        lines += [f"  hint: {h}" for h in self.hints]
        return "\n".join(lines)


def _nan_to_inf(v: float) -> float:
    return float("inf") if np.isnan(v) else v


def compare(
    expected: ArrayLike,
    actual: ArrayLike,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    name: str = "",
    n_worst: int = 5,
    expected_label: str = "expected",
    actual_label: str = "actual",
) -> CheckReport:
    """Compare two arrays entry by entry and return a ``CheckReport``.

    Entry ``i`` passes when ``|e_i − a_i| ≤ atol + rtol · max(|e_i|, |a_i|)``; NaN never
    passes. A shape mismatch (or something that is not an array of numbers) gives a failing
    report whose message says so in plain words. The ``n_worst`` entries with the largest ratio
    ``|e_i − a_i| / (atol + rtol · max(|e_i|, |a_i|))`` are listed in ``worst``.
    """
    labels = {"expected_label": expected_label, "actual_label": actual_label}
    try:
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return CheckReport(
            name, False, float("inf"), float("inf"), rtol=rtol, atol=atol,
            message=f"could not read the values as arrays of numbers ({exc})", **labels,
        )
    if e.shape != a.shape:
        return CheckReport(
            name, False, float("inf"), float("inf"), shape=e.shape, rtol=rtol, atol=atol,
            message=(
                f"shape mismatch: {expected_label} has shape {e.shape} "
                f"but {actual_label} has shape {a.shape}"
            ),
            **labels,
        )
    if e.size == 0:
        return CheckReport(name, True, 0.0, 0.0, shape=e.shape, rtol=rtol, atol=atol, **labels)
    d = _abs_diff(e, a)
    allowance = atol + rtol * np.maximum(np.abs(e), np.abs(a))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(d == 0, 0.0, d / allowance)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    bad = ratio > 1.0
    n_bad = int(np.count_nonzero(bad))
    order = np.argsort(-ratio, axis=None, kind="stable")[: max(n_worst, 0)]
    # failing: only the entries out of tolerance; passing: the closest calls, for information
    threshold = 1.0 if n_bad else 0.0
    worst = [
        (tuple(int(i) for i in np.unravel_index(k, e.shape)), float(e.flat[k]), float(a.flat[k]))
        for k in order
        if ratio.flat[k] > threshold
    ]
    return CheckReport(
        name=name,
        ok=n_bad == 0,
        max_abs_error=float(np.max(d)),
        max_rel_error=relative_error(e, a),
        worst=worst,
        shape=e.shape,
        rtol=rtol,
        atol=atol,
        n_bad=n_bad,
        **labels,
    )


def assert_close(expected: ArrayLike, actual: ArrayLike, **kw: Any) -> CheckReport:
    """``compare(expected, actual, **kw)``; raise ``AssertionError(str(report))`` if it fails."""
    return compare(expected, actual, **kw).assert_ok()


# ---------------------------------------------------------------------------------------------
# one-call derivative checks
# ---------------------------------------------------------------------------------------------


def _rng(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _forward_part(
    f: Callable[[Array], ArrayLike], f_torch: Callable[[Any], Any], x: Array,
    rtol: float, atol: float, name: str,
) -> CheckReport:
    torch = _torch()
    with torch.no_grad():
        out_t = f_torch(torch.tensor(x, dtype=torch.float64))
    return compare(
        np.asarray(out_t.detach().numpy(), dtype=np.float64), _eval(f, x),
        rtol=rtol, atol=atol, name=f"{name}: f(x) agrees with f_torch(x)",
        expected_label="torch", actual_label="f",
    )


def check_vjp(
    f: Callable[[Array], ArrayLike],
    vjp: Callable[[Array, Array], ArrayLike],
    x: ArrayLike,
    *,
    p: ArrayLike | None = None,
    rng: RngLike = None,
    f_torch: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    torch_rtol: float = 1e-9,
    torch_atol: float = 1e-12,
    name: str = "vjp",
) -> CheckReport:
    """Check a hand-written VJP ``vjp(x, p) ≈ J_f(x)^T p``.

    ``p`` defaults to a standard normal upstream vector of the shape of ``f(x)`` drawn from
    ``rng`` (a Generator or a seed; seed 0 if None, so the check is reproducible). The VJP is
    compared with ``numerical_vjp`` (tolerances ``rtol``, ``atol``) and, if ``f_torch`` is
    given, with ``torch_vjp`` (``torch_rtol``, ``torch_atol``); ``f(x)`` itself is then also
    compared with ``f_torch(x)`` so that a wrong torch reference is noticed.
    """
    x = _as_float_array(x, "x")
    out = _eval(f, x)
    p_arr = _rng(rng).standard_normal(out.shape) if p is None else _as_float_array(p, "p")
    if p_arr.shape != out.shape:
        raise ValueError(f"p must have the shape of f(x), {out.shape}, got {p_arr.shape}")
    got = vjp(x.copy(), p_arr.copy())
    parts = [
        compare(
            numerical_vjp(f, x, p_arr, eps), got, rtol=rtol, atol=atol,
            name=f"{name} vs finite differences",
            expected_label="finite differences", actual_label=name,
        )
    ]
    if f_torch is not None:
        parts.append(_forward_part(f, f_torch, x, torch_rtol, torch_atol, name))
        parts.append(
            compare(
                torch_vjp(f_torch, x, p_arr), got, rtol=torch_rtol, atol=torch_atol,
                name=f"{name} vs torch.autograd", expected_label="torch", actual_label=name,
            )
        )
    return CheckReport.combine(name, parts)


def check_gradient(
    f: Callable[[Array], ArrayLike],
    grad: Callable[[Array], ArrayLike],
    x: ArrayLike,
    *,
    f_torch: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    torch_rtol: float = 1e-9,
    torch_atol: float = 1e-12,
    name: str = "gradient",
) -> CheckReport:
    """Check ``grad(x) ≈ ∇f(x)`` for scalar ``f`` against finite differences (and torch)."""
    x = _as_float_array(x, "x")
    got = grad(x.copy())
    parts = [
        compare(
            numerical_gradient(f, x, eps), got, rtol=rtol, atol=atol,
            name=f"{name} vs finite differences",
            expected_label="finite differences", actual_label=name,
        )
    ]
    if f_torch is not None:
        parts.append(_forward_part(f, f_torch, x, torch_rtol, torch_atol, name))
        parts.append(
            compare(
                torch_gradient(f_torch, x), got, rtol=torch_rtol, atol=torch_atol,
                name=f"{name} vs torch.autograd", expected_label="torch", actual_label=name,
            )
        )
    return CheckReport.combine(name, parts)


def check_jacobian(
    f: Callable[[Array], ArrayLike],
    jac: Callable[[Array], ArrayLike],
    x: ArrayLike,
    *,
    f_torch: Callable[[Any], Any] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    torch_rtol: float = 1e-9,
    torch_atol: float = 1e-12,
    name: str = "jacobian",
) -> CheckReport:
    """Check an explicit Jacobian ``jac(x)`` of shape ``(f(x).size, x.size)`` (rows = outputs)."""
    x = _as_float_array(x, "x")
    got = jac(x.copy())
    parts = [
        compare(
            numerical_jacobian(f, x, eps), got, rtol=rtol, atol=atol,
            name=f"{name} vs finite differences",
            expected_label="finite differences", actual_label=name,
        )
    ]
    if f_torch is not None:
        parts.append(_forward_part(f, f_torch, x, torch_rtol, torch_atol, name))
        parts.append(
            compare(
                torch_jacobian(f_torch, x), got, rtol=torch_rtol, atol=torch_atol,
                name=f"{name} vs torch.autograd", expected_label="torch", actual_label=name,
            )
        )
    return CheckReport.combine(name, parts)
