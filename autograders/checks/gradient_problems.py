"""Checks for the ``gradient_problems`` assignment: clipping, Glorot initialisation, variances.

Student functions (answer cell grade_id = function name):

* ``clip_grad_norm(grads, c)``: ``q' = min(1, c/‖q‖) q`` where ``q`` is the concatenation of
  every array in the list ``grads``; returns a NEW list of clipped arrays (same shapes) and
  leaves the caller's list and arrays unchanged (the driver checks both);
* ``glorot_init(n_in, n_out, seed)``: an ``(n_out, n_in)`` matrix of independent zero-mean
  entries with variance ``2/(n_in + n_out)`` drawn from ``np.random.default_rng(seed)``;
* ``layer_statistics(X, Ws)``: for the tanh network ``Z_1 = X``, ``Z_{i+1} = tanh(T_i)`` with
  the pre-activations ``T_i = Z_i W_i^T`` and the loss ``𝓛 = Σ Z_{L+1}`` (all entries), the
  variances ``(var(Z_2), …, var(Z_{L+1}))`` and ``(var(∇_{W_1}𝓛), …, var(∇_{W_L}𝓛))`` as two
  arrays of length L.

The driver turns the list-valued functions into array-in / array-out calls.
"""

from __future__ import annotations

import functools

import numpy as np

from autograders.checks._common import Case, Output, failure, judge, rng_for
from autograders.core import Assignment, Caller, CellResult, Check, StudentCodeError

DRIVER = '''
import numpy as _drv_np


def _drv_clip_grad_norm(c, *grads):
    """(flags, *clipped): the flags say whether clip_grad_norm changed the caller's arrays,
    changed the caller's list, or returned the caller's list (see CLIP_FLAGS)."""
    given = [g.copy() for g in grads]
    entries = list(given)
    out = clip_grad_norm(given, c)
    if not isinstance(out, (list, tuple)):
        raise TypeError(f"clip_grad_norm must return a list of arrays, got {type(out).__name__}")
    if len(out) != len(grads):
        raise ValueError(f"clip_grad_norm returned {len(out)} arrays for {len(grads)} gradients")
    flags = [any(not _drv_np.array_equal(a, g) for a, g in zip(entries, grads)),
             len(given) != len(entries) or any(a is not b for a, b in zip(given, entries)),
             out is given]
    return (_drv_np.array(flags, dtype=float), *out)


def _drv_layer_statistics(X, *Ws):
    out = layer_statistics(X, list(Ws))
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        raise TypeError("layer_statistics must return a pair (activation variances, "
                        "gradient variances)")
    return tuple(out)
'''


# --------------------------------------------------------------------------------------------
# clip_grad_norm
# --------------------------------------------------------------------------------------------


def _clip_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    cases = []
    for label, shapes, c, scale in [
        ("one vector, norm above c", [(6,)], 1.0, 3.0),
        ("three arrays, total norm above c", [(3, 4), (4,), (2, 2)], 2.0, 2.0),
        ("three arrays, total norm below c (unchanged)", [(3, 4), (4,), (2, 2)], 50.0, 1.0),
        ("two arrays, one of them all zeros", [(5,), (3, 3)], 0.5, 1.0),
    ]:
        grads = [scale * rng.standard_normal(s) for s in shapes]
        if "zeros" in label:
            grads[0] = np.zeros(shapes[0])
        norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
        factor = min(1.0, c / norm)
        outputs = [Output("side effects", np.zeros(len(CLIP_FLAGS)), None, flags=CLIP_FLAGS)]
        for i, g in enumerate(grads):
            separately = g * min(1.0, c / max(float(np.linalg.norm(g)), 1e-300))
            cands = [
                ("each array was clipped by its own norm; clip by the norm of ALL gradients "
                 "together", separately),
                ("it always rescales to norm c (min(1, ·) is missing: small gradients must stay "
                 "unchanged)", g * (c / norm)),
                ("each entry was clipped to [−c, c] (np.clip): that changes the direction; "
                 "scale every array by the same factor min(1, c/‖q‖), ‖q‖ the norm of all "
                 "gradients together", np.clip(g, -c, c)),
            ]
            outputs.append(Output(f"clipped gradient {i}", g * factor, None, cands))
        cases.append(Case(label, (float(c), *grads), tuple(outputs), returns_tuple=True))
    return cases


#: What the driver's side-effect flags of ``clip_grad_norm`` mean, in order.
CLIP_FLAGS = (
    "`clip_grad_norm` changed the arrays it was given (in place, e.g. g *= factor): leave them "
    "unchanged and return new arrays",
    "`clip_grad_norm` replaced entries of the list it was given: leave that list unchanged",
    "`clip_grad_norm` returned the list it was given: return a new list",
)


# --------------------------------------------------------------------------------------------
# glorot_init: a statistical check
# --------------------------------------------------------------------------------------------


def _glorot_check(call: Caller) -> CellResult:
    gid, pts = "test_glorot_init", 2.0
    lines = []
    earned = 0.0
    shapes = [(400, 300), (784, 128), (64, 1000)]
    for n_in, n_out in shapes:
        label = f"n_in={n_in}, n_out={n_out}"
        try:
            W = call("glorot_init", n_in, n_out, 7)
            W_again = call("glorot_init", n_in, n_out, 7)
            W_other = call("glorot_init", n_in, n_out, 8)
        except StudentCodeError as exc:
            lines.append(f"✗ {label}: {failure('glorot_init', exc)}")
            continue
        problem = _judge_glorot(W, W_again, W_other, n_in, n_out)
        if problem:
            lines.append(f"✗ {label}: {problem}")
        else:
            earned += 1
            lines.append(f"✓ {label}")
    points = pts * earned / len(shapes)
    head = (f"glorot_init, variance 2/(n_in + n_out): {earned:g} of {len(shapes)} cases right "
            f"({points:.3g} of {pts:g} points).")
    return CellResult(gid, points, pts, "\n".join([head, *lines]))


def _judge_glorot(W: object, W_again: object, W_other: object, n_in: int, n_out: int) -> str:
    if not isinstance(W, np.ndarray):
        return f"the result is a {type(W).__name__}, not a numpy array"
    if W.shape != (n_out, n_in):
        if W.shape == (n_in, n_out):
            return (f"shape {W.shape} should be (n_out, n_in) = {(n_out, n_in)}: it is "
                    "transposed (rows are output units)")
        return f"shape {W.shape} should be (n_out, n_in) = {(n_out, n_in)}"
    if W.dtype.kind != "f" or not np.all(np.isfinite(W)):
        return "the entries must be finite floating-point numbers"
    if not (isinstance(W_again, np.ndarray) and np.array_equal(W, W_again)):
        return "the same seed gave different matrices: draw from np.random.default_rng(seed)"
    if isinstance(W_other, np.ndarray) and np.array_equal(W, W_other):
        return "different seeds gave the same matrix: draw from np.random.default_rng(seed)"
    n = W.size
    target = 2.0 / (n_in + n_out)
    var = float(np.var(W))
    mean = float(np.mean(W))
    if abs(mean) > 5.0 * np.sqrt(var / n) + 1e-12:
        return f"the entries must have mean 0; their mean is {mean:.3g}"
    if abs(var / target - 1.0) > 0.05:
        named = {
            "1/n_in (LeCun's variance)": 1.0 / n_in,
            "2/n_in (He's variance)": 2.0 / n_in,
            "1/n_out": 1.0 / n_out,
            "1/(n_in + n_out)": 1.0 / (n_in + n_out),
            "1 (standard normal)": 1.0,
            "4/(n_in + n_out)²: 2/(n_in + n_out) was used as the standard deviation": target**2,
            "2/(3(n_in + n_out)), the variance a²/3 of a uniform on [−a, a] with "
            "a = √(2/(n_in + n_out)); for Glorot's variance take a = √(6/(n_in + n_out))":
                target / 3.0,
        }
        for name, v in named.items():
            if abs(var / v - 1.0) < 0.05:
                return (f"the variance is {var:.4g}, which is {name}; Glorot's is "
                        f"2/(n_in + n_out) = {target:.4g}")
        return f"the variance is {var:.4g}; Glorot's is 2/(n_in + n_out) = {target:.4g}"
    return ""


# --------------------------------------------------------------------------------------------
# layer_statistics
# --------------------------------------------------------------------------------------------


def _reference_statistics(X: np.ndarray, Ws: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Activation variances by numpy, weight-gradient variances by torch.autograd (float64)."""
    import torch

    Z = X
    acts = []
    for W in Ws:
        Z = np.tanh(Z @ W.T)
        acts.append(float(np.var(Z)))
    Wt = [torch.tensor(W, requires_grad=True) for W in Ws]
    Zt = torch.tensor(X)
    for W in Wt:
        Zt = torch.tanh(Zt @ W.T)
    Zt.sum().backward()
    grads = [float(np.var(W.grad.numpy())) for W in Wt]
    return np.array(acts), np.array(grads)


def _stats_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    cases = []
    for label, widths, init in [
        ("3 tanh layers of 64 units, Glorot weights", [20, 64, 64, 64], "glorot"),
        ("4 tanh layers of 128 units, standard-normal weights", [30, 128, 128, 128, 128],
         "normal"),
        ("2 tanh layers, batch of 1", [5, 7, 3], "glorot"),
    ]:
        N = 1 if "batch of 1" in label else 50
        X = rng.standard_normal((N, widths[0]))
        Ws = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            sd = np.sqrt(2.0 / (a + b)) if init == "glorot" else 1.0
            Ws.append(sd * rng.standard_normal((b, a)))
        acts, grads = _reference_statistics(X, Ws)
        act_cands = [("these are the variances of the pre-activations T_i = Z_i W_i^T, not of "
                      "the activations Z_{i+1} = tanh(T_i)", _pre_activation_vars(X, Ws))]
        grad_cands = [
            ("these are the variances of the activations' gradients ∇_{Z_i}𝓛, not of the "
             "weight gradients ∇_{W_i}𝓛", _activation_grad_vars(X, Ws)),
            (f"these are 1/N² = 1/{N * N} of the right variances: the gradients were averaged "
             "over the batch, but 𝓛 = Σ Z_{L+1} is the SUM of all entries (sum over the batch)",
             grads / N**2),
            ("the derivative of tanh was computed from the pre-activation as 1 − T_i²; it is "
             "1 − tanh²(T_i) = 1 − Z_{i+1}²", _weight_grad_vars(X, Ws, from_pre=True)),
        ]
        cases.append(Case(label, (X, *Ws), (
            Output("the activation variances", acts, None, act_cands),
            Output("the weight-gradient variances", grads, None, grad_cands),
        )))
    return cases


def _forward(X: np.ndarray, Ws: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(activations Z_1 = X, …, Z_{L+1}; pre-activations T_1, …, T_L)."""
    Zs, Ts = [X], []
    for W in Ws:
        Ts.append(Zs[-1] @ W.T)
        Zs.append(np.tanh(Ts[-1]))
    return Zs, Ts


def _pre_activation_vars(X: np.ndarray, Ws: list[np.ndarray]) -> np.ndarray:
    return np.array([float(np.var(T)) for T in _forward(X, Ws)[1]])


def _activation_grad_vars(X: np.ndarray, Ws: list[np.ndarray]) -> np.ndarray:
    """var(∇_{Z_i}𝓛) for i = L..1 (the upstream gradients P_{i+1}), in layer order."""
    Zs, _ = _forward(X, Ws)
    P = np.ones_like(Zs[-1])
    out = []
    for i in range(len(Ws), 0, -1):
        out.append(float(np.var(P)))
        P = (P * (1 - Zs[i] ** 2)) @ Ws[i - 1]
    return np.array(out[::-1])


def _weight_grad_vars(X: np.ndarray, Ws: list[np.ndarray], from_pre: bool) -> np.ndarray:
    """var(∇_{W_i}𝓛) by a backward pass; ``from_pre``: with the wrong tanh' = 1 − T_i²."""
    Zs, Ts = _forward(X, Ws)
    P = np.ones_like(Zs[-1])
    out = []
    for i in range(len(Ws), 0, -1):
        S = 1 - Ts[i - 1] ** 2 if from_pre else 1 - Zs[i] ** 2
        out.append(float(np.var((S * P).T @ Zs[i - 1])))
        P = (S * P) @ Ws[i - 1]
    return np.array(out[::-1])


# --------------------------------------------------------------------------------------------


def _check(grade_id: str, answer_id: str, fn: str, points: float, what: str, build) -> Check:
    @functools.cache
    def cases() -> tuple[Case, ...]:
        with np.errstate(all="ignore"):
            return tuple(build(grade_id))

    def run(call: Caller) -> CellResult:
        return judge(call, fn, cases(), grade_id, points, what, shown=answer_id)

    return Check(grade_id, answer_id, points, run)


CHECKS = (
    _check("test_clip_grad_norm", "clip_grad_norm", "_drv_clip_grad_norm", 2.0,
           "clip_grad_norm, q' = min(1, c/‖q‖) q over all gradients", _clip_cases),
    Check("test_glorot_init", "glorot_init", 2.0, _glorot_check),
    _check("test_layer_statistics", "layer_statistics", "_drv_layer_statistics", 2.0,
           "layer_statistics, variances of activations and weight gradients", _stats_cases),
)

ASSIGNMENT = Assignment(
    name="gradient_problems",
    notebook="gradient_problems.ipynb",
    checks=CHECKS,
    driver_source=DRIVER,
    answer_ids=("clip_grad_norm", "glorot_init", "layer_statistics"),
)
