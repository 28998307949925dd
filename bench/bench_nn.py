"""One training epoch of the 784-32-10 sigmoid MLP: mmids.nn vs PyTorch vs hand-fused numpy loops.

Model ``Linear(784, 32) → Sigmoid → Linear(32, 10)``, softmax cross-entropy, Adam (lr 1e-3), on the
4,000 training rows of the MNIST subset (``mmids.datasets.load_mnist(source="subset")``), batch
sizes 32 and 1000, in float32 and in float64. Four implementations:

* ``mmids.nn``: ``Sequential`` + ``Adam`` + ``train(progress=False)``;
* ``torch``: the same model in PyTorch on the CPU with ``torch.optim.Adam``;
* ``fused``: every layer and the Adam update written out in one numpy function, Adam applied to
  each of the four parameter arrays (the natural hand-written loop);
* ``flat``: the fused loop with all parameters in one flat vector and one Adam update on it by
  ``mmids.nn.adam_update``, the kernel of ``mmids.nn.Adam`` (the baseline that isolates the cost
  of the layer abstraction).

All use one thread (numpy's BLAS limited by threadpoolctl, ``torch.set_num_threads(1)``), start
from the same weights, visit the rows in the same shuffled order and per mini-batch do forward,
loss, count of correct predictions, backward and the Adam step, so they compute the same numbers
(the table prints each one's training loss after the first epoch). Each epoch is timed ``REPEATS``
times, interleaving the implementations; the time is the CPU time of this process
(``time.process_time``, equal to the wall time of these single-threaded runs on an idle machine,
but not inflated by other processes on a shared one) and the best of the repeats is kept. The
ratios come from this one run.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import numpy as np

REPEATS = 9
BATCH_SIZES = (32, 1000)
DTYPES = (np.float32, np.float64)
SIZES = (784, 32, 10)
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8


def _data() -> tuple[np.ndarray, np.ndarray, str]:
    from mmids.datasets import load_mnist

    mnist = load_mnist(source="subset")
    X = np.ascontiguousarray(mnist.X_train, dtype=np.float64)
    return X, np.asarray(mnist.y_train, dtype=np.int64), mnist.source


def _init(seed: int) -> dict[str, np.ndarray]:
    from mmids.nn import glorot_normal

    rng = np.random.default_rng(seed)
    d, h, K = SIZES
    return {"W1": glorot_normal(d, h, rng), "b1": np.zeros(h),
            "W2": glorot_normal(h, K, rng), "b2": np.zeros(K)}


# ---------------------------------------------------------------------------------------------
# 1. mmids.nn
# ---------------------------------------------------------------------------------------------


Epoch = Callable[[np.ndarray, np.ndarray, int, np.ndarray], float]


def make_mmids(init: dict[str, np.ndarray], dtype: type) -> Epoch:
    from mmids import nn

    d, h, K = SIZES
    l1, l2 = nn.Linear(d, h, dtype=dtype), nn.Linear(h, K, dtype=dtype)
    model = nn.Sequential(l1, nn.Sigmoid(), l2)
    l1.weight.value[...] = init["W1"]
    l2.weight.value[...] = init["W2"]
    opt = nn.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)

    def epoch(X: np.ndarray, y: np.ndarray, bs: int, order: np.ndarray) -> float:
        hist = nn.train(model, X[order], y[order], opt, epochs=1, batch_size=bs,
                        shuffle=False, progress=False)
        return hist.loss[-1]

    return epoch


# ---------------------------------------------------------------------------------------------
# 2. PyTorch
# ---------------------------------------------------------------------------------------------


def make_torch(init: dict[str, np.ndarray], dtype: type) -> Epoch:
    import torch

    d, h, K = SIZES
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Sigmoid(),
                                torch.nn.Linear(h, K)).to(tdtype)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(init["W1"].astype(dtype)))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.from_numpy(init["W2"].astype(dtype)))
        model[2].bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(X: np.ndarray, y: np.ndarray, bs: int, order: np.ndarray) -> float:
        Xt = torch.from_numpy(X[order])
        yt = torch.from_numpy(y[order])
        total, correct, N = 0.0, 0, Xt.shape[0]
        for i in range(0, N, bs):
            xb, yb = Xt[i:i + bs], yt[i:i + bs]
            opt.zero_grad()
            z = model(xb)
            loss = loss_fn(z, yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
            correct += int((z.argmax(dim=1) == yb).sum())
        return total / N

    return epoch


# ---------------------------------------------------------------------------------------------
# 3. hand-fused numpy: every layer and the Adam update written out in one function
# ---------------------------------------------------------------------------------------------


def _fused_epoch(
    X: np.ndarray,
    y: np.ndarray,
    bs: int,
    order: np.ndarray,
    eye: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    update: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
) -> float:
    """One epoch of a hand-written loop: per batch ``_forward_loss`` then ``update(x, h, ∂L/∂z)``
    (backward pass and Adam step, updating ``weights`` in place); returns the mean loss."""
    W1, c1, W2, c2 = weights
    Xe, ye = X[order], y[order]
    Ye = eye[ye]
    total, correct, N = 0.0, 0, Xe.shape[0]
    for i in range(0, N, bs):
        xb, yb, Yb = Xe[i:i + bs], ye[i:i + bs], Ye[i:i + bs]
        h, g, loss_sum, n_correct = _forward_loss(xb, yb, Yb, W1, c1, W2, c2)
        total += loss_sum
        correct += n_correct
        update(xb, h, g)
    return total / N


def make_fused(init: dict[str, np.ndarray], dtype: type) -> Epoch:
    P = {k: v.astype(dtype) for k, v in init.items()}
    M = {k: np.zeros_like(v) for k, v in P.items()}
    V = {k: np.zeros_like(v) for k, v in P.items()}
    state = {"t": 0}
    eye = np.eye(SIZES[2], dtype=dtype)
    b1, b2 = BETAS

    def update(xb: np.ndarray, h: np.ndarray, g: np.ndarray) -> None:
        # backward
        grads = {"W2": g.T @ h, "b2": g.sum(axis=0)}
        dh = g @ P["W2"]
        dh *= h * (1.0 - h)
        grads["W1"] = dh.T @ xb
        grads["b1"] = dh.sum(axis=0)
        # Adam
        state["t"] += 1
        t = state["t"]
        step = dtype(LR / (1.0 - b1**t))
        inv = dtype(1.0 / math.sqrt(1.0 - b2**t))
        for k, gk in grads.items():
            m, v = M[k], V[k]
            m *= b1
            m += (1.0 - b1) * gk
            v *= b2
            v += (1.0 - b2) * (gk * gk)
            P[k] -= step * m / (np.sqrt(v) * inv + EPS)

    def epoch(X: np.ndarray, y: np.ndarray, bs: int, order: np.ndarray) -> float:
        return _fused_epoch(X, y, bs, order, eye, (P["W1"], P["b1"], P["W2"], P["b2"]), update)

    return epoch


def _forward_loss(
    xb: np.ndarray, yb: np.ndarray, Yb: np.ndarray,
    W1: np.ndarray, c1: np.ndarray, W2: np.ndarray, c2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Forward pass and loss of one batch, written out: ``(h, ∂L/∂z, N·L, correct count)``.

    ``a = x W1^T + b1``, ``h = σ(a)`` (stable form), ``z = h W2^T + b2``; the loss through the
    log-softmax; the gradient ``(γ(z) − Y)/N``.
    """
    a = xb @ W1.T
    a += c1
    e = np.exp(-np.abs(a))
    h = np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    z = h @ W2.T
    z += c2
    s = z - z.max(axis=1, keepdims=True)
    ls = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    loss_sum = -float(np.vdot(Yb, ls))
    correct = int(np.count_nonzero(z.argmax(axis=1) == yb))
    g = np.exp(ls)
    g -= Yb
    g *= 1.0 / xb.shape[0]
    return h, g, loss_sum, correct


def make_fused_flat(init: dict[str, np.ndarray], dtype: type) -> Epoch:
    """The hand-fused loop with the parameters in one flat vector (W1, b1, W2, b2 are views),
    gradients written into a flat vector, and one Adam update on the flat vectors by
    ``mmids.nn.adam_update`` (the kernel of ``mmids.nn.Adam``): the fairest baseline for the cost
    of the layer abstraction."""
    from mmids.nn import adam_update

    keys = ("W1", "b1", "W2", "b2")
    flat = np.concatenate([init[k].reshape(-1) for k in keys]).astype(dtype)
    grad = np.zeros_like(flat)
    views, gviews, start = {}, {}, 0
    for k in keys:
        stop = start + init[k].size
        views[k] = flat[start:stop].reshape(init[k].shape)
        gviews[k] = grad[start:stop].reshape(init[k].shape)
        start = stop
    M, V, tmp = np.zeros_like(flat), np.zeros_like(flat), np.empty_like(flat)
    state = {"t": 0}
    eye = np.eye(SIZES[2], dtype=dtype)

    gW1, gc1, gW2, gc2 = gviews["W1"], gviews["b1"], gviews["W2"], gviews["b2"]

    def update(xb: np.ndarray, h: np.ndarray, g: np.ndarray) -> None:
        np.matmul(g.T, h, out=gW2)
        np.sum(g, axis=0, out=gc2)
        dh = g @ views["W2"]
        dh *= h * (1.0 - h)
        np.matmul(dh.T, xb, out=gW1)
        np.sum(dh, axis=0, out=gc1)
        state["t"] += 1
        adam_update(flat, grad, M, V, tmp, t=state["t"], lr=LR, betas=BETAS, eps=EPS)

    def epoch(X: np.ndarray, y: np.ndarray, bs: int, order: np.ndarray) -> float:
        weights = (views["W1"], views["b1"], views["W2"], views["b2"])
        return _fused_epoch(X, y, bs, order, eye, weights, update)

    return epoch


# ---------------------------------------------------------------------------------------------


def _time_epochs(
    makers: dict[str, Callable[..., Epoch]],
    X: np.ndarray,
    y: np.ndarray,
    bs: int,
    dtype: type,
) -> tuple[dict[str, float], dict[str, float]]:
    init = _init(0)
    X = X.astype(dtype)
    epochs = {name: make(init, dtype) for name, make in makers.items()}
    rng = np.random.default_rng(1)
    times: dict[str, list[float]] = {name: [] for name in makers}
    first_loss: dict[str, float] = {}
    for r in range(REPEATS):
        order = rng.permutation(X.shape[0])
        for name, run in epochs.items():
            start = time.process_time()
            loss = run(X, y, bs, order)
            times[name].append(time.process_time() - start)
            if r == 0:
                first_loss[name] = loss
    return {k: min(v) for k, v in times.items()}, first_loss


def main() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    X, y, source = _data()
    makers = {"mmids.nn": make_mmids, "torch": make_torch, "fused numpy": make_fused,
              "fused flat": make_fused_flat}
    print(f"data: {source}, {X.shape[0]} training rows; model 784-32-10 sigmoid MLP, "
          f"softmax cross-entropy, Adam(lr={LR})")
    print(f"1 thread (numpy BLAS via threadpoolctl, torch.set_num_threads(1)); "
          f"CPU time, best of {REPEATS} epochs each (interleaved); "
          "all in the dtype of the row")
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            header = (f"{'dtype':>7} {'batch':>5} {'mmids ms':>9} {'torch ms':>9} "
                      f"{'fused ms':>9} {'flat ms':>8} {'torch/mmids':>11} {'mmids/fused':>11} "
                      f"{'mmids/flat':>10}  loss after 1 epoch (mmids, torch, fused, flat)")
            print(header)
            print("-" * len(header))
            for dtype, bs in itertools.product(DTYPES, BATCH_SIZES):
                t, loss = _time_epochs(makers, X, y, bs, dtype)
                mm, tt, ff, fl = t["mmids.nn"], t["torch"], t["fused numpy"], t["fused flat"]
                losses = ", ".join(f"{v:.6f}" for v in loss.values())
                print(f"{np.dtype(dtype).name:>7} {bs:>5} {1e3 * mm:>9.1f} {1e3 * tt:>9.1f} "
                      f"{1e3 * ff:>9.1f} {1e3 * fl:>8.1f} {tt / mm:>10.2f}x {mm / ff:>10.2f}x "
                      f"{mm / fl:>9.2f}x  {losses}")
    finally:
        torch.set_num_threads(old_threads)
    print("targets (issue 2): torch/mmids >= 2x at batch 32; mmids/fused <= 1.3x")


if __name__ == "__main__":
    main()
