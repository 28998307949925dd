"""Checks for the ``backprop`` assignment: backpropagation over a list of progressive layers.

The layers come from ``mmids.progressive`` (``Linear``, ``SigmoidLinear``, ``Softmax``; each
with ``forward(z, w)``, ``vjp_input(z, w, p) = A^T p`` and ``vjp_params(z, w, p) = B^T p``) and
the losses ``SquaredLoss`` / ``CrossEntropyLoss`` (``value(z, y)``, ``grad(z, y)``).
Student functions (answer cell grade_id = function name):

* ``forward_pass(layers, ws, x) -> [z_1, …, z_{L+1}]`` with ``z_1 = x``;
* ``backward_pass(layers, ws, zs, p) -> [q_1, …, q_L]``: for ``i = L..1``,
  ``q_i = B_i^T p_{i+1}`` and ``p_i = A_i^T p_{i+1}``, starting from ``p_{L+1} = p``;
* ``loss_and_gradient(layers, ws, loss, x, y) -> (value, [q_1, …, q_L])``: for a batch the mean
  loss and the mean gradient;
* ``train(layers, ws, loss, X, Y, lr, epochs, batch_size, seed) -> ws``: mini-batch SGD that
  returns a new list and leaves the caller's list and arrays unchanged (the driver checks both).

For a batch the upstream gradient is ``P`` (one row ``p_n^T`` per sample) and ``vjp_params``
sums over the batch.

The driver rebuilds the layers from an integer architecture array so that every call is
array-in / array-out, and grades each answer on its own: while ``loss_and_gradient`` or
``train`` runs, the functions they build on are trusted versions, so one mistake costs points
in one cell only.  Gradients are compared with torch.autograd and finite differences.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from autograders.checks._common import Case, Output, failure, judge, oracles_agree, rng_for
from autograders.core import Assignment, Caller, CellResult, Check, StudentCodeError
from mmids import gradcheck as G
from mmids import progressive as P

DRIVER = '''
import numpy as _drv_np
from mmids.progressive import (CrossEntropyLoss as _DrvCE, Linear as _DrvLinear,
                               SigmoidLinear as _DrvSigmoidLinear, Softmax as _DrvSoftmax,
                               SquaredLoss as _DrvSquared)


def _drv_layers(arch):
    kinds = {0: _DrvLinear, 1: _DrvSigmoidLinear}
    return [kinds[int(k)](int(a), int(b)) if int(k) in kinds else _DrvSoftmax(int(b))
            for k, a, b in _drv_np.asarray(arch)]


def _drv_split(layers, w):
    ws, i = [], 0
    for layer in layers:
        ws.append(_drv_np.array(w[i:i + layer.n_params]))
        i += layer.n_params
    return ws


def _drv_loss(code):
    return _DrvSquared() if int(code) == 0 else _DrvCE()


def _drv_flat(qs, layers, what):
    if not isinstance(qs, (list, tuple)):
        raise TypeError(f"{what} must return a list with one array per layer, "
                        f"got {type(qs).__name__}")
    if len(qs) != len(layers):
        raise ValueError(f"{what} returned {len(qs)} arrays for {len(layers)} layers")
    sizes = [_drv_np.size(q) for q in qs]
    wanted = [layer.n_params for layer in layers]
    if sizes != wanted and sizes == wanted[::-1]:
        raise ValueError(f"{what} returned the arrays in reverse order (q_L first); "
                         "return [q_1, ..., q_L] in the order of the layers")
    parts = []
    for i, (q, layer) in enumerate(zip(qs, layers)):
        q = _drv_np.asarray(q)
        if q.size != layer.n_params:
            raise ValueError(f"{what}: entry {i + 1} has {q.size} numbers but layer {i + 1} "
                             f"has {layer.n_params} parameters")
        parts.append(q.reshape(-1))
    return _drv_np.concatenate(parts) if parts else _drv_np.zeros(0)


def _drv_ref_forward_pass(layers, ws, x):
    zs = [x]
    for layer, w in zip(layers, ws):
        zs.append(layer.forward(zs[-1], w))
    return zs


def _drv_ref_backward_pass(layers, ws, zs, p):
    qs = [None] * len(layers)
    for i in reversed(range(len(layers))):
        qs[i] = layers[i].vjp_params(zs[i], ws[i], p)
        p = layers[i].vjp_input(zs[i], ws[i], p)
    return qs


def _drv_ref_loss_and_gradient(layers, ws, loss, x, y):
    zs = _drv_ref_forward_pass(layers, ws, x)
    n = 1 if _drv_np.ndim(x) == 1 else _drv_np.shape(x)[0]
    return (float(_drv_np.mean(loss.value(zs[-1], y))),
            _drv_ref_backward_pass(layers, ws, zs, loss.grad(zs[-1], y) / n))


class _drv_isolated:
    """Each answer is graded on its own: the functions it builds on are trusted versions."""

    def __init__(self, *names):
        self.names = names

    def __enter__(self):
        g = globals()
        self.saved = {n: g.get(n) for n in self.names}
        for n in self.names:
            g[n] = g["_drv_ref_" + n]

    def __exit__(self, *exc):
        globals().update(self.saved)


def _drv_forward_pass(arch, w, x):
    layers = _drv_layers(arch)
    zs = forward_pass(layers, _drv_split(layers, w), x)
    if not isinstance(zs, (list, tuple)):
        raise TypeError(f"forward_pass must return a list, got {type(zs).__name__}")
    return tuple(zs)


def _drv_backward_pass(arch, w, p, *zs):
    layers = _drv_layers(arch)
    qs = backward_pass(layers, _drv_split(layers, w), list(zs), p)
    return _drv_flat(qs, layers, "backward_pass")


def _drv_loss_and_gradient(arch, loss_code, w, x, y):
    layers = _drv_layers(arch)
    with _drv_isolated("forward_pass", "backward_pass"):
        out = loss_and_gradient(layers, _drv_split(layers, w), _drv_loss(loss_code), x, y)
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        raise TypeError("loss_and_gradient must return a pair (value, gradients)")
    value, qs = out
    return _drv_np.float64(value), _drv_flat(qs, layers, "loss_and_gradient")


def _drv_train(arch, loss_code, w, X, Y, lr, epochs, batch_size, seed):
    """(trained parameters, flags): the flags say whether `train` changed the caller's arrays,
    changed the caller's list, or returned the caller's list (see TRAIN_FLAGS)."""
    layers = _drv_layers(arch)
    given = _drv_split(layers, w)
    entries = list(given)
    saved = [a.copy() for a in given]
    with _drv_isolated("forward_pass", "backward_pass", "loss_and_gradient"):
        ws = train(layers, given, _drv_loss(loss_code), X, Y, float(lr),
                   int(epochs), int(batch_size), int(seed))
    flags = [any(not _drv_np.array_equal(a, b) for a, b in zip(entries, saved)),
             len(given) != len(entries) or any(a is not b for a, b in zip(given, entries)),
             ws is given]
    return _drv_flat(ws, layers, "train"), _drv_np.array(flags, dtype=float)
'''

LINEAR, SIGMOID_LINEAR, SOFTMAX = 0, 1, 2
SQUARED, CROSS_ENTROPY = 0, 1


def _layers(arch: np.ndarray) -> list[P.Layer]:
    kinds = {LINEAR: P.Linear, SIGMOID_LINEAR: P.SigmoidLinear}
    return [kinds[int(k)](int(a), int(b)) if int(k) in kinds else P.Softmax(int(b))
            for k, a, b in arch]


def _split(layers: list[P.Layer], w: np.ndarray) -> list[np.ndarray]:
    out, i = [], 0
    for layer in layers:
        out.append(w[i:i + layer.n_params])
        i += layer.n_params
    return out


def _forward_np(arch: np.ndarray, w: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
    layers = _layers(arch)
    zs = [x]
    for layer, wi in zip(layers, _split(layers, w), strict=True):
        zs.append(layer.forward(zs[-1], wi))
    return zs


def _forward_torch(arch: np.ndarray, w: Any, x: np.ndarray) -> Any:
    import torch

    z = torch.tensor(x)
    i = 0
    for k, a, b in arch:
        if int(k) == SOFTMAX:
            z = torch.softmax(z, dim=-1)
            continue
        W = w[i:i + int(a) * int(b)].reshape(int(b), int(a))
        i += int(a) * int(b)
        z = z @ W.T
        if int(k) == SIGMOID_LINEAR:
            z = torch.sigmoid(z)
    return z


def _loss_np(code: int, z: np.ndarray, y: np.ndarray) -> float:
    loss = P.SquaredLoss() if code == SQUARED else P.CrossEntropyLoss()
    return float(np.mean(loss.value(z, y)))


def _loss_torch(code: int, z: Any, y: np.ndarray) -> Any:
    import torch

    yt = torch.tensor(y)
    per = 0.5 * ((z - yt) ** 2).sum(-1) if code == SQUARED else -(yt * torch.log(z)).sum(-1)
    return per.mean()


NETWORKS: dict[str, np.ndarray] = {
    "a chain of 3 linear layers": np.array([[LINEAR, 4, 5], [LINEAR, 5, 3], [LINEAR, 3, 2]]),
    "a sigmoid net (σ(W1 z) → W2 z → softmax)": np.array(
        [[SIGMOID_LINEAR, 5, 4], [LINEAR, 4, 3], [SOFTMAX, 3, 3]]),
    "logistic regression (W z → softmax)": np.array([[LINEAR, 6, 4], [SOFTMAX, 4, 4]]),
}


def _params(arch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = sum(int(a) * int(b) for k, a, b in arch if int(k) != SOFTMAX)
    return rng.standard_normal(n) * 0.7


def _sizes(arch: np.ndarray) -> list[int]:
    return [0 if int(k) == SOFTMAX else int(a) * int(b) for k, a, b in arch]


# --------------------------------------------------------------------------------------------


def _forward_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    cases = []
    for (name, arch), N in zip(NETWORKS.items(), (None, 3, None), strict=True):
        w = _params(arch, rng)
        x = rng.standard_normal((arch[0][1],) if N is None else (N, arch[0][1]))
        zs = _forward_np(arch, w, x)
        outs = tuple(Output(f"z_{i + 1}", z, None) for i, z in enumerate(zs))
        label = name + ("" if N is None else f", batch of N={N}")
        cases.append(Case(label, (arch, w, x), outs, returns_tuple=True, batch_size=N,
                          hint_on_error="return [z_1, …, z_{L+1}] with z_1 = x"))
    return cases


def _backward_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    cases = []
    for (name, arch), N in [*zip(NETWORKS.items(), (None, None, None), strict=True),
                            (("a sigmoid net, batch", NETWORKS[
                                "a sigmoid net (σ(W1 z) → W2 z → softmax)"]), 4),
                            (("logistic regression, batch", NETWORKS[
                                "logistic regression (W z → softmax)"]), 5)]:
        w = _params(arch, rng)
        d, K = int(arch[0][1]), int(arch[-1][2])
        x = rng.standard_normal((d,) if N is None else (N, d))
        p = rng.standard_normal((K,) if N is None else (N, K))
        zs = _forward_np(arch, w, x)
        expected = G.torch_vjp(lambda v, a=arch, x=x: _forward_torch(a, v, x), w, p)
        fd = G.numerical_vjp(lambda v, a=arch, x=x: _forward_np(a, v, x)[-1], w, p)
        oracles_agree(expected, fd, f"backward_pass ({name})")
        cases.append(Case(name + ("" if N is None else f" (N={N})"), (arch, w, p, *zs),
                          (Output("the gradient (q_1, …, q_L)", expected, fd,
                                  _backward_candidates(arch, w, zs, p, expected)),),
                          batch_size=N))
    return cases


def _backward_candidates(arch: np.ndarray, w: np.ndarray, zs: list[np.ndarray], p: np.ndarray,
                         expected: np.ndarray) -> list[tuple[str, np.ndarray]]:
    sizes = _sizes(arch)
    parts = np.split(expected, np.cumsum(sizes)[:-1])
    cands = [("the gradients are in reverse order (q_L first); return [q_1, …, q_L]",
              np.concatenate(parts[::-1]))]
    layers = _layers(arch)
    ws = _split(layers, w)
    try:  # every layer fed with p_{L+1}: p never propagated through A_i^T
        stale = [layer.vjp_params(z, wi, p) for layer, z, wi in zip(layers, zs, ws,
                                                                    strict=False)]
        cands.append(("p is never updated: every layer used p_{L+1}; after q_i = B_i^T p_{i+1} "
                      "set p_i = A_i^T p_{i+1}", np.concatenate(stale)))
    except ValueError:
        pass
    return cands


def _gradient_cases(grade_id: str) -> list[Case]:
    rng = rng_for(grade_id)
    cases = []
    specs = [("logistic regression, cross-entropy", "logistic regression (W z → softmax)",
              CROSS_ENTROPY, None),
             ("sigmoid net, cross-entropy, batch", "a sigmoid net (σ(W1 z) → W2 z → softmax)",
              CROSS_ENTROPY, 6),
             ("linear chain, squared loss ½‖y − z‖², batch", "a chain of 3 linear layers",
              SQUARED, 4)]
    for label, net, code, N in specs:
        arch = NETWORKS[net]
        w = _params(arch, rng)
        d, K = int(arch[0][1]), int(arch[-1][2])
        x = rng.standard_normal((d,) if N is None else (N, d))
        if code == CROSS_ENTROPY:
            idx = rng.integers(0, K, size=() if N is None else (N,))
            y = np.eye(K)[idx]
        else:
            y = rng.standard_normal((K,) if N is None else (N, K))
        value = _loss_np(code, _forward_np(arch, w, x)[-1], y)
        grad = G.torch_gradient(
            lambda v, a=arch, x=x, y=y, c=code: _loss_torch(c, _forward_torch(a, v, x), y), w)
        fd = G.numerical_gradient(
            lambda v, a=arch, x=x, y=y, c=code: _loss_np(c, _forward_np(a, v, x)[-1], y), w)
        oracles_agree(grad, fd, f"loss_and_gradient ({label})")
        cands = []
        if N:
            cands.append(("the gradient is summed over the batch; the objective is the MEAN "
                          "loss, so divide by N", N * grad))
        cases.append(Case(label, (arch, code, w, x, y),
                          (Output("the loss value", np.float64(value), None, reduction="mean"),
                           Output("the gradient", grad, fd, cands, reduction="mean")),
                          batch_size=N))
    return cases


# --------------------------------------------------------------------------------------------
# training on MNIST
# --------------------------------------------------------------------------------------------

_TRAIN_SPECS = [
    # label, arch, lr, epochs, batch size, minimum test accuracy
    ("logistic regression 784 → 10", np.array([[LINEAR, 784, 10], [SOFTMAX, 10, 10]]),
     0.5, 3, 32, 0.80),
    ("sigmoid net 784 → 32 → 10", np.array([[SIGMOID_LINEAR, 784, 32], [LINEAR, 32, 10],
                                             [SOFTMAX, 10, 10]]), 1.0, 3, 32, 0.75),
]


@functools.cache
def _mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mmids.datasets import load_mnist

    data = load_mnist(source="subset")
    X, y = data.X_train[:1500], data.y_train[:1500]
    return X, np.eye(10)[y], data.X_test, data.y_test


def _evaluate(arch: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    X, Y, Xt, yt = _mnist()
    train_loss = _loss_np(CROSS_ENTROPY, _forward_np(arch, w, X)[-1], Y)
    acc = float(np.mean(np.argmax(_forward_np(arch, w, Xt)[-1], axis=1) == yt))
    return train_loss, acc


#: What the driver's side-effect flags of ``train`` mean, in order.
TRAIN_FLAGS = (
    "`train` changed the parameter arrays it was given (in place, e.g. w -= lr * q): update "
    "copies and leave the caller's arrays unchanged",
    "`train` replaced entries of the list it was given: leave that list unchanged",
    "`train` returned the list it was given: return a new list of trained parameters",
)


def _train_check(call: Caller) -> CellResult:
    gid, pts = "test_train", 2.0
    X, Y, _, _ = _mnist()
    earned, lines = 0.0, []
    for label, arch, lr, epochs, bs, min_acc in _TRAIN_SPECS:
        rng = rng_for(gid, int(arch[0][2]))
        w0 = np.concatenate([rng.standard_normal(int(a) * int(b)) * np.sqrt(2.0 / (a + b))
                             for k, a, b in arch if int(k) != SOFTMAX])
        loss0, _ = _evaluate(arch, w0)
        try:
            w, flags = call("_drv_train", arch, CROSS_ENTROPY, w0, X, Y, lr, epochs, bs, 0)
        except StudentCodeError as exc:
            lines.append(f"✗ {label}: " + failure("_drv_train", exc).replace("`_drv_train`",
                                                                               "`train`"))
            continue
        side_effects = [msg for msg, flag in zip(TRAIN_FLAGS, np.ravel(flags), strict=True)
                        if flag]
        if side_effects:
            lines.append(f"✗ {label}: " + "; ".join(side_effects) + ".")
            continue
        if not isinstance(w, np.ndarray) or w.shape != w0.shape:
            lines.append(f"✗ {label}: `train` must return the list of trained parameters "
                         "(one array per layer)")
            continue
        if not np.all(np.isfinite(w)):
            lines.append(f"✗ {label}: the training diverged (the parameters became NaN or "
                         "infinite): did you add the gradient instead of subtracting it "
                         "(w ← w − lr·∇f)?")
            continue
        loss, acc = _evaluate(arch, w)
        if loss > loss0:
            lines.append(f"✗ {label}: the training loss went UP ({loss0:.3f} → {loss:.3f}): "
                         "did you add the gradient instead of subtracting it (w ← w − lr·∇f)?")
        elif np.array_equal(w, w0):
            lines.append(f"✗ {label}: the parameters did not change")
        elif acc < min_acc:
            lines.append(f"✗ {label}: test accuracy {acc:.3f} after {epochs} epochs is below "
                         f"{min_acc} (training loss {loss0:.3f} → {loss:.3f}); check the "
                         "mini-batch loop (every sample once per epoch, averaged gradients)")
        else:
            earned += 1
            lines.append(f"✓ {label}: training loss {loss0:.3f} → {loss:.3f}, test accuracy "
                         f"{acc:.3f}")
    points = pts * earned / len(_TRAIN_SPECS)
    head = (f"train on 1,500 MNIST digits (mini-batch SGD): {earned:g} of {len(_TRAIN_SPECS)} "
            f"models trained ({points:.3g} of {pts:g} points).")
    return CellResult(gid, points, pts, "\n".join([head, *lines]))


# --------------------------------------------------------------------------------------------


def _check(grade_id: str, answer_id: str, points: float, what: str, build: Any) -> Check:
    @functools.cache
    def cases() -> tuple[Case, ...]:
        with np.errstate(all="ignore"):
            return tuple(build(grade_id))

    def run(call: Caller) -> CellResult:
        return judge(call, f"_drv_{answer_id}", cases(), grade_id, points, what,
                     shown=answer_id)

    return Check(grade_id, answer_id, points, run)


CHECKS = (
    _check("test_forward_pass", "forward_pass", 1.0, "forward_pass, z_{i+1} = g_i(z_i, w_i)",
           _forward_cases),
    _check("test_backward_pass", "backward_pass", 3.0,
           "backward_pass, q_i = B_i^T p_{i+1} and p_i = A_i^T p_{i+1}", _backward_cases),
    _check("test_loss_and_gradient", "loss_and_gradient", 2.0,
           "loss_and_gradient (mean over a batch)", _gradient_cases),
    Check("test_train", "train", 2.0, _train_check),
)

ASSIGNMENT = Assignment(
    name="backprop",
    notebook="backprop.ipynb",
    checks=CHECKS,
    driver_source=DRIVER,
    answer_ids=("forward_pass", "backward_pass", "loss_and_gradient", "train"),
)
