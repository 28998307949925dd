"""Numerical checking of derivatives: finite differences, torch.autograd, and readable reports.

This is the one place in the project where derivatives are checked numerically. The book's
verification cells, the package tests, the exercise tests and the autograders all use it.

* ``numerical_gradient``, ``numerical_jacobian``, ``numerical_vjp``: central differences in
  float64 with the step ``δ`` (the argument ``eps``),
  ``∂f/∂x_j ≈ (f(x + δ e_j) − f(x − δ e_j)) / (2δ)``, error ``O(δ²)`` plus rounding
  ``O(u |f| / δ)`` (``u ≈ 1.1e-16``), so about ``1e-10 |f|`` for the default ``δ = 1e-6``.
* ``torch_vjp``, ``torch_jacobian``, ``torch_gradient``: the same objects from
  ``torch.autograd`` in float64 (torch is imported only when these are called).
* ``relative_error``, ``compare``, ``assert_close``: comparisons that are safe near zero and
  report the worst entries by index.
* ``check_vjp``, ``check_gradient``, ``check_jacobian``: one call that compares a hand-written
  derivative with finite differences and, optionally, with torch.autograd.

Modules: ``numerical`` (finite differences), ``torch_ref`` (torch.autograd), ``report``
(comparisons and ``CheckReport``), ``checks`` (the one-call checks); every public name is
importable from ``mmids.gradcheck`` itself. ``tally`` counts the checks a notebook runs (the
book's per-page count) without bookkeeping lines in its cells.

Jacobians have rows = outputs and columns = inputs, both flattened in numpy's row-major order.
A VJP of ``f`` at ``x`` with upstream ``p`` (shape of ``f(x)``) is ``J_f(x)^T p``, returned with
the shape of ``x``: it is the gradient of ``x ↦ ⟨p, f(x)⟩``.
"""

from __future__ import annotations

from mmids.gradcheck.checks import check_gradient, check_jacobian, check_vjp
from mmids.gradcheck.numerical import numerical_gradient, numerical_jacobian, numerical_vjp
from mmids.gradcheck.report import CheckReport, assert_close, compare, relative_error
from mmids.gradcheck.torch_ref import torch_gradient, torch_jacobian, torch_vjp

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
