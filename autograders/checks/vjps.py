"""Checks for the ``vjps`` assignment: vector-Jacobian products of the building blocks.

Student functions (answer cell grade_id = function name):

* ``linear_vjp(W, z, p) -> (dz, dW)`` for ``g(z, W) = W z`` and the upstream gradient ``p``:
  ``dz = W^T p`` and ``dW = p z^T`` (a batch ``Z`` ``(N, n)`` with upstream gradients ``P``
  ``(N, m)``, one row per sample: ``dz = P W``, ``dW = P^T Z = Σ_n p_n z_n^T``, summed);
* ``sigmoid_vjp(t, p)``, ``relu_vjp(t, p)``, ``tanh_vjp(t, p)``: ``φ'(t) ⊙ p``, any shape;
* ``softmax_vjp(z, p)``: ``ℂ_K[z]^T p = γ ⊙ (p − ⟨γ, p⟩)``, per row;
* ``cross_entropy_grad(y, y_hat)``: ``−y / ŷ`` (``ŷ`` the predicted probabilities), per row;
* ``softmax_cross_entropy_grad(z, y)``: ``γ(z) − y`` per row (labels on the simplex), finite for
  logits of size 1e3;
* ``kron_vjp(z, p)``: ``𝔹^T p = (I_K ⊗ z^T)^T p = p ⊗ z`` without forming ``𝔹``.

Every value is compared with ``torch.autograd`` and with central finite differences
(``mmids.gradcheck``); the function values come from ``mmids.functions``, and the reference
VJPs of ``mmids.functions`` / ``mmids.kron`` must agree with torch (a grader self-check).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from autograders.checks._common import (
    Case,
    Output,
    judge,
    oracles_agree,
    reference_agrees,
    rng_for,
)
from autograders.core import Assignment, Caller, CellResult, Check
from mmids import functions as F
from mmids import gradcheck as G
from mmids import kron as Kr

Array = np.ndarray


def _torch() -> Any:
    import torch

    return torch


def _vjp_oracles(f_np: Callable[[Array], Array], f_t: Callable[[Any], Any], x: Array,
                 p: Array, what: str) -> tuple[Array, Array]:
    """(torch.autograd VJP, finite-difference VJP) of ``f`` at ``x`` with upstream ``p``."""
    t = G.torch_vjp(f_t, x, p)
    fd = G.numerical_vjp(f_np, x, p)
    oracles_agree(t, fd, what)
    return t, fd


# --------------------------------------------------------------------------------------------
# linear_vjp
# --------------------------------------------------------------------------------------------


def _linear_cases(grade_id: str, which: str) -> list[Case]:
    rng = rng_for(grade_id)
    cases = []
    for label, m, n, N, f32 in [
        ("single sample, W 4×3", 4, 3, None, False),
        ("single sample, square W 3×3", 3, 3, None, False),
        ("batch of N=5, W 2×6", 2, 6, 5, False),
        ("batch of N=4, square W 3×3", 3, 3, 4, False),
        ("float32 batch of N=3, W 3×2", 3, 2, 3, True),
    ]:
        W = rng.standard_normal((m, n))
        z = rng.standard_normal((n,) if N is None else (N, n))
        p = rng.standard_normal((m,) if N is None else (N, m))
        if f32:
            W, z, p = (a.astype(np.float32) for a in (W, z, p))
        W64, z64, p64 = (a.astype(np.float64) for a in (W, z, p))
        cases.append(_linear_case(label, W64, z64, p64, which, N, f32, (W, z, p)))
    return cases


def _linear_case(label: str, W: Array, z: Array, p: Array, which: str, N: int | None,
                 f32: bool, args: tuple[Array, Array, Array]) -> Case:
    fz = (lambda u: u @ W.T) if N is not None else (lambda u: W @ u)
    fW = (lambda V: z @ V.T) if N is not None else (lambda V: V @ z)
    torch = _torch()
    Wt = torch.tensor(W)
    zt = torch.tensor(z)
    fz_t = (lambda u: u @ Wt.T) if N is not None else (lambda u: Wt @ u)
    fW_t = (lambda V: zt @ V.T) if N is not None else (lambda V: V @ zt)
    dz, dz_fd = _vjp_oracles(fz, fz_t, z, p, f"linear dz ({label})")
    dW, dW_fd = _vjp_oracles(fW, fW_t, W, p, f"linear dW ({label})")
    reference_agrees(dz, Kr.linear_vjp_input(W, p), f"linear dz ({label})")
    reference_agrees(dW.reshape(-1), Kr.linear_vjp_params(z, p), f"linear dW ({label})")
    cand_z = [("dz ignores the upstream p (it is W^T 1, the all-ones upstream)",
               np.ones_like(p) @ W)]
    if W.shape[0] == W.shape[1]:
        cand_z.append(("dz uses W p instead of W^T p (the Jacobian of W z with respect to z is "
                       "W, so the VJP multiplies by its transpose)", p @ W.T if N else W @ p))
    cand_W = [("dW ignores the upstream p", np.outer(np.ones(W.shape[0]), z)
               if N is None else np.ones_like(p).T @ z)]
    if N is not None:
        cand_W.append(("dW uses only the first sample of the batch; sum p_n z_n^T over all "
                       "samples", np.outer(p[0], z[0])))
    dz_out = Output("dz", dz, dz_fd, cand_z)
    dW_out = Output("dW", dW, dW_fd, cand_W)
    # Both outputs are returned; each of the two test cells judges one of them.
    outputs = (dz_out, _ignore(dW_out)) if which == "input" else (_ignore(dz_out), dW_out)
    return Case(label, args, outputs, float32=f32, batch_size=N)


def _ignore(out: Output) -> Output:
    """An output that this cell does not judge (it is graded by the sibling test cell)."""
    return Output(out.name, out.expected, out.fd, judged=False)


# --------------------------------------------------------------------------------------------
# entry-wise activations
# --------------------------------------------------------------------------------------------

_SHAPES: list[tuple[str, tuple[int, ...], bool]] = [
    ("vector of 7", (7,), False),
    ("matrix 4×5", (4, 5), False),
    ("3-D array 2×3×4", (2, 3, 4), False),
    ("float32 matrix 3×3", (3, 3), True),
]


def _activation_cases(grade_id: str, name: str) -> list[Case]:
    rng = rng_for(grade_id)
    torch = _torch()
    funcs: dict[str, tuple[Callable[[Array], Array], Callable[[Any], Any]]] = {
        "sigmoid": (F.sigmoid, torch.sigmoid),
        "relu": (F.relu, torch.relu),
        "tanh": (F.tanh, torch.tanh),
    }
    f_np, f_t = funcs[name]
    cases = []
    for label, shape, f32 in _SHAPES:
        t = 2.0 * rng.standard_normal(shape)
        if name == "relu":
            t.flat[:: 3] = 0.0  # exact zeros: either convention for the kink is accepted
        elif len(shape) == 2 and not f32:
            t.flat[0], t.flat[1] = 40.0, -40.0  # saturated entries
        p = rng.standard_normal(shape)
        if f32:
            t, p = t.astype(np.float32), p.astype(np.float32)
        t64, p64 = t.astype(np.float64), p.astype(np.float64)
        expected = G.torch_vjp(f_t, t64, p64)
        fd = G.numerical_vjp(f_np, t64, p64)
        accept = None
        if name == "relu":
            zero = t64 == 0
            fd = np.where(zero, 0.0, fd)  # central differences give p/2 at the kink
            accept = _relu_kink(zero, p64)
        oracles_agree(expected, fd, f"{name}_vjp ({label})")
        reference_agrees(expected, getattr(F, f"{name}_vjp")(t64, p64), f"{name}_vjp ({label})")
        out = Output("the result", expected, fd, _activation_candidates(name, t64, p64),
                     accept=accept)
        cases.append(Case(f"{label}", (t, p), (out,), float32=f32))
    return cases


def _relu_kink(zero: Array, p: Array) -> Callable[[Array], Array]:
    def accept(a: Array) -> Array:
        either = zero & ((a == 0.0) | np.isclose(a, p, rtol=1e-6, atol=0.0))
        return np.where(either, 0.0, a)

    return accept


def _activation_candidates(name: str, t: Array, p: Array) -> list[tuple[str, Array]]:
    if name == "sigmoid":
        s = F.sigmoid(t)
        return [
            ("it is σ'(t) without the upstream p: multiply entry-wise by p", s * (1 - s)),
            ("it uses σ(t) instead of σ'(t) = σ(t)(1 − σ(t))", s * p),
            ("it uses t(1 − t) instead of σ(t)(1 − σ(t)): the derivative must be evaluated "
             "through σ", t * (1 - t) * p),
            ("it applies σ' to σ(t): pass the pre-activation t, not the activation",
             F.sigmoid(s) * (1 - F.sigmoid(s)) * p),
        ]
    if name == "tanh":
        h = np.tanh(t)
        return [
            ("it is tanh'(t) without the upstream p: multiply entry-wise by p", 1 - h**2),
            ("it uses 1 − t² instead of 1 − tanh²(t)", (1 - t**2) * p),
            ("it uses tanh(t) instead of its derivative 1 − tanh²(t)", h * p),
            ("it uses 1 − tanh(t) instead of 1 − tanh²(t) (the square is missing)", (1 - h) * p),
        ]
    mask = (t > 0).astype(np.float64)
    return [
        ("it is the ReLU derivative 1(t > 0) without the upstream p: multiply by p", mask),
        ("it multiplies p by relu(t) instead of by the derivative 1(t > 0)", np.maximum(t, 0) * p),
        ("it keeps p where t < 0 instead of where t > 0", (t < 0) * p),
        ("it returns the upstream p unchanged: zero it where t ≤ 0", p),
    ]


# --------------------------------------------------------------------------------------------
# softmax, cross-entropy, fused
# --------------------------------------------------------------------------------------------


def _softmax_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    torch = _torch()
    cases = []
    specs: list[tuple[str, tuple[int, ...], float, bool]] = [
        ("single vector K=5", (5,), 1.0, False),
        ("batch 4×6", (4, 6), 1.0, False),
        ("batch 3×4 with ties (equal logits in a row)", (3, 4), 1.0, False),
        ("batch 2×5 with large logits (|z| ≈ 1e3)", (2, 5), 1e3, False),
        ("float32 batch 3×3", (3, 3), 1.0, True),
    ]
    for label, shape, scale, f32 in specs:
        z = scale * rng.standard_normal(shape)
        if scale > 1:  # large but not saturated: 1e3 plus O(1) differences within each row
            z = scale * np.sign(rng.standard_normal((shape[0], 1))) + rng.standard_normal(shape)
        if "ties" in label:
            z[0, :] = 0.7
            z[1, :2] = z[1, 2]
        p = rng.standard_normal(shape)
        if f32:
            z, p = z.astype(np.float32), p.astype(np.float32)
        z64, p64 = z.astype(np.float64), p.astype(np.float64)
        expected, fd = _vjp_oracles(F.softmax, lambda u: torch.softmax(u, dim=-1), z64, p64,
                                    f"softmax ({label})")
        reference_agrees(expected, F.softmax_vjp(z64, p64), f"softmax_vjp ({label})")
        g = F.softmax(z64)
        cands = [
            ("it uses only the diagonal of the softmax Jacobian, γ ⊙ (1 − γ) ⊙ p; the "
             "off-diagonal entries −γ_i γ_j are missing", g * (1 - g) * p),
            ("it is γ ⊙ p: the term −γ ⟨γ, p⟩ from the off-diagonal entries is missing", g * p),
            ("it returns softmax(z) itself, not the VJP", g),
            ("it returns zeros, which is ℂ_K[z]^T 1 (the rows of the softmax Jacobian sum to "
             "0): use the upstream p", np.zeros_like(g)),
        ]
        if z64.ndim == 2:
            g0 = F.softmax(z64, axis=0)
            cands.append(("softmax was taken down the columns (axis 0) instead of along each "
                          "row (axis -1)", g0 * (p64 - np.sum(g0 * p64, axis=0, keepdims=True))))
            gall = np.exp(z64 - z64.max()) / np.exp(z64 - z64.max()).sum()
            cands.append(("the inner product ⟨γ, p⟩ was summed over the whole batch instead of "
                          "per row", g * (p64 - np.sum(g * p64))))
            cands.append(("softmax was taken over the whole batch instead of per row",
                          gall * (p64 - np.sum(gall * p64))))
        hint = ("exp overflowed for large logits: subtract each row's maximum before "
                "exponentiating") if scale > 1 else ""
        cases.append(Case(label, (z, p), (Output("the result", expected, fd, cands),),
                          float32=f32, batch_size=shape[0] if len(shape) == 2 else None,
                          hint_nonfinite=hint, hint_on_error=hint))
    return cases


def _simplex(rng: np.random.Generator, shape: tuple[int, ...], onehot: bool) -> Array:
    if onehot:
        K = shape[-1]
        idx = rng.integers(0, K, size=shape[:-1])
        return np.eye(K)[idx]
    a = rng.random(shape) + 0.1
    return a / a.sum(axis=-1, keepdims=True)


def _cross_entropy_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    torch = _torch()
    cases = []
    for label, shape, onehot, f32 in [
        ("single one-hot label, K=4", (4,), True, False),
        ("single soft label, K=5", (5,), False, False),
        ("batch 5×3 of one-hot labels", (5, 3), True, False),
        ("batch 3×4 of soft labels", (3, 4), False, False),
        ("float32 batch 2×3", (2, 3), False, True),
    ]:
        y = _simplex(rng, shape, onehot)
        y_hat = _simplex(rng, shape, False)  # the predicted probabilities ŷ
        if f32:
            y, y_hat = y.astype(np.float32), y_hat.astype(np.float32)
        y64, yh64 = y.astype(np.float64), y_hat.astype(np.float64)
        yt = torch.tensor(y64)
        expected = G.torch_gradient(lambda u, yt=yt: -(yt * torch.log(u)).sum(), yh64)
        fd = G.numerical_gradient(lambda u, y=y64: float(np.sum(F.cross_entropy(y, u))), yh64)
        oracles_agree(expected, fd, f"cross_entropy_grad ({label})")
        reference_agrees(expected, F.cross_entropy_grad(y64, yh64),
                         f"cross_entropy_grad ({label})")
        N = shape[0] if len(shape) == 2 else None
        cands = [
            ("it is −1/ŷ: the labels y are missing from the numerator", -1.0 / yh64),
            ("it is −log ŷ, the loss terms, not their derivative", -np.log(yh64)),
            ("it is −y log ŷ, the loss terms, not their derivative", -y64 * np.log(yh64)),
            ("it is −y/ŷ summed over the batch; the gradient is one row per sample",
             np.broadcast_to((-y64 / yh64).sum(axis=0), yh64.shape) if N else -y64 / yh64),
        ]
        cases.append(Case(label, (y, y_hat), (Output("the result", expected, fd, cands),),
                          float32=f32, batch_size=N))
    return cases


def _softmax_ce_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    torch = _torch()
    cases = []
    for label, shape, scale, onehot, f32 in [
        ("single vector K=4, one-hot label", (4,), 1.0, True, False),
        ("batch 5×3, one-hot labels", (5, 3), 1.0, True, False),
        ("batch 3×4, soft labels", (3, 4), 1.0, False, False),
        ("batch 4×5, logits of size 1e3", (4, 5), 1e3, True, False),
        ("float32 batch 3×3", (3, 3), 1.0, True, True),
    ]:
        z = scale * rng.standard_normal(shape)
        y = _simplex(rng, shape, onehot)
        if f32:
            z, y = z.astype(np.float32), y.astype(np.float32)
        z64, y64 = z.astype(np.float64), y.astype(np.float64)
        yt = torch.tensor(y64)
        expected = G.torch_gradient(
            lambda u, yt=yt: -(yt * torch.log_softmax(u, dim=-1)).sum(), z64)
        fd = G.numerical_gradient(
            lambda u, y=y64: float(np.sum(F.softmax_cross_entropy(u, y))), z64)
        oracles_agree(expected, fd, f"softmax_cross_entropy_grad ({label})")
        reference_agrees(expected, F.softmax_cross_entropy_grad(z64, y64),
                         f"softmax_cross_entropy_grad ({label})")
        g = F.softmax(z64)
        N = shape[0] if len(shape) == 2 else None
        cands = [
            ("it is γ(z) without the − y term", g),
            ("it is −y/γ(z), the gradient with respect to the probabilities q: chain it "
             "through the softmax Jacobian", -y64 / g),
            ("it uses only the diagonal of the softmax Jacobian: −y ⊙ (1 − γ)",
             -y64 * (1 - g)),
        ]
        if N:
            cands.append(("it is averaged over the batch: the gradient is per row, not divided "
                          "by N", (g - y64) / N))
        hint = ("exp overflowed for logits of size 1e3: subtract each row's maximum (or use "
                "log-sum-exp) before exponentiating") if scale > 1 else ""
        cases.append(Case(label, (z, y), (Output("the result", expected, fd, cands),),
                          float32=f32, batch_size=N, hint_nonfinite=hint, hint_on_error=hint))
    return cases


# --------------------------------------------------------------------------------------------
# kron_vjp
# --------------------------------------------------------------------------------------------


def _kron_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    torch = _torch()
    cases = []
    for label, d, K, f32 in [
        ("d=3, K=4", 3, 4, False),
        ("d=5, K=2", 5, 2, False),
        ("d=4, K=4", 4, 4, False),
        ("float32 d=3, K=2", 3, 2, True),
    ]:
        z = rng.standard_normal(d)
        p = rng.standard_normal(K)
        if f32:
            z, p = z.astype(np.float32), p.astype(np.float32)
        z64, p64 = z.astype(np.float64), p.astype(np.float64)
        zt = torch.tensor(z64)
        w0 = rng.standard_normal(K * d)
        # B w = (I_K ⊗ z^T) w = W z with W = w reshaped row by row; B^T p is its VJP in w.
        expected, fd = _vjp_oracles(lambda w, s=(K, d), z=z64: w.reshape(s) @ z,
                                    lambda w, s=(K, d), z=zt: w.reshape(s) @ z, w0, p64,
                                    f"kron_vjp ({label})")
        reference_agrees(expected, Kr.linear_vjp_params(z64, p64), f"kron_vjp ({label})")
        cands = [
            ("the Kronecker factors are in the wrong order: it is z ⊗ p, the answer is p ⊗ z",
             np.kron(z64, p64)),
            ("it ignores the upstream p (it is 1 ⊗ z)", np.kron(np.ones(K), z64)),
        ]
        cases.append(Case(label, (z, p), (Output("the result", expected, fd, cands),),
                          float32=f32))
    # Large case: forming B = I_K ⊗ z^T would need K·K·d·8 bytes = 51 GB, while the answer
    # p ⊗ z takes 13 MB (and np.eye(K) 128 MB).
    K, d = 4000, 400
    z = rng.standard_normal(d)
    p = rng.standard_normal(K)
    big = Output("the result", Kr.linear_vjp_params(z, p), None)
    hint = (f"for d={d}, K={K} the matrix B = I_K ⊗ z^T would take {K * K * d * 8 / 1e9:.0f} GB: "
            "compute p ⊗ z directly, without forming B")
    cases.append(Case(f"large input d={d}, K={K} (B must not be formed)", (z, p), (big,),
                      weight=1.0, hint_on_error=hint, error_hints=(("memory", hint),)))
    return cases


# --------------------------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------------------------


def _check(grade_id: str, answer_id: str, points: float, what: str,
           build: Callable[[str], list[Case]]) -> Check:
    @functools.cache
    def cases() -> tuple[Case, ...]:
        # Seeded, so the same for every submission: built once per grading process.
        with np.errstate(all="ignore"):  # wrong-answer candidates may overflow; that is fine
            return tuple(build(grade_id))

    def run(call: Caller) -> CellResult:
        return judge(call, answer_id, cases(), grade_id, points, what)

    return Check(grade_id, answer_id, points, run)


CHECKS: tuple[Check, ...] = (
    _check("test_linear_vjp_input", "linear_vjp", 2.0,
           "linear_vjp, dz = W^T p (single samples and batches)",
           lambda g: _linear_cases(g, "input")),
    _check("test_linear_vjp_weights", "linear_vjp", 2.0,
           "linear_vjp, dW = p z^T (summed over a batch)",
           lambda g: _linear_cases(g, "weights")),
    _check("test_sigmoid_vjp", "sigmoid_vjp", 1.0, "sigmoid_vjp = σ'(t) ⊙ p",
           lambda g: _activation_cases(g, "sigmoid")),
    _check("test_relu_vjp", "relu_vjp", 1.0, "relu_vjp = 1(t > 0) ⊙ p",
           lambda g: _activation_cases(g, "relu")),
    _check("test_tanh_vjp", "tanh_vjp", 1.0, "tanh_vjp = (1 − tanh²t) ⊙ p",
           lambda g: _activation_cases(g, "tanh")),
    _check("test_softmax_vjp", "softmax_vjp", 3.0, "softmax_vjp = ℂ_K[z]^T p per row",
           _softmax_cases),
    _check("test_cross_entropy_grad", "cross_entropy_grad", 1.0,
           "cross_entropy_grad = −y / ŷ per row", _cross_entropy_cases),
    _check("test_softmax_cross_entropy_grad", "softmax_cross_entropy_grad", 2.0,
           "softmax_cross_entropy_grad = γ(z) − y per row", _softmax_ce_cases),
    _check("test_kron_vjp", "kron_vjp", 2.0, "kron_vjp = B^T p = p ⊗ z without forming B",
           _kron_cases),
)

ASSIGNMENT = Assignment(
    name="vjps",
    notebook="vjps.ipynb",
    checks=CHECKS,
    driver_source="",
    answer_ids=("linear_vjp", "sigmoid_vjp", "relu_vjp", "tanh_vjp", "softmax_vjp",
                "cross_entropy_grad", "softmax_cross_entropy_grad", "kron_vjp"),
)
