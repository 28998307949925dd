"""mmids.autograd speed, as ratios against the alternatives measured in the same run.

1. A scalar graph of about 10^5 nodes, forward + backward, against the same expression in the
   ``micrograd`` package. The terms are summed pairwise (a balanced tree), because micrograd's
   recursive topological sort fails on deep graphs; mmids.autograd would handle a chain.
2. One SGD training step (forward, backward, update) of the 784-32-10 ReLU MLP with softmax
   cross-entropy, array-valued ``AutogradValue`` against PyTorch on CPU, both float64, on MNIST
   subset batches of 32 and 1000.

3. NumPy dispatch: the same node built through numpy's name (``np.exp(x)``, ``np.sum(X, axis=0)``,
   an ndarray or numpy scalar on the left of an operator) against the engine's own spelling
   (``x.exp()``, ``X.sum(axis=0)``, the node on the left): what ``__array_ufunc__`` and
   ``__array_function__`` cost per call.

Each number is the best of several interleaved rounds (the machine may be shared). A ratio > 1
means mmids.autograd is faster.

The scalar timing covers building the graph and the backward pass. Releasing the graph afterwards
is timed separately: micrograd's nodes hold closures that refer back to them (reference cycles),
so with the gc disabled they are never freed at all, while mmids.autograd's nodes are freed by
reference counting; charging the release to one side only would not compare the same work. Every
round starts after ``gc.collect()``, so neither library's garbage is collected in the other's
timed region.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

N_TERMS = 11_250  # 8 nodes per term plus the sums (mmids.autograd count): about 10^5 nodes


def scalar_expression(x: Any, w: Any, n_terms: int = N_TERMS) -> Any:
    """``Σ_i (relu(c_i x + w) w + x x - c_i w)``, summed as a balanced tree; any node class.

    (micrograd 0.1.0 has +, -, *, /, ** and relu, so the expression uses only those.)
    """
    cs = [0.5 + i / n_terms for i in range(n_terms)]
    terms = [(x * c + w).relu() * w + x * x - c * w for c in cs]
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + terms[-1:] if len(terms) % 2 else paired
    return terms[0]


def _time_steps(step: Callable[[], Any], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def _time_graph(build: Callable[[], Any]) -> tuple[float, float]:
    """(seconds to build the graph and run backward, seconds to release it and collect garbage)."""
    gc.collect()
    start = time.perf_counter()
    graph = build()
    built = time.perf_counter()
    del graph
    gc.collect()
    return built - start, time.perf_counter() - built


def bench_scalar(rounds: int = 7) -> None:
    from micrograd.engine import Value

    from mmids.autograd import AutogradValue, topological_order

    def ours() -> tuple[Any, Any, Any]:
        x, w = AutogradValue(0.3), AutogradValue(-0.2)
        root = scalar_expression(x, w)
        root.backward()
        return root, x, w

    def micrograd() -> tuple[Any, Any, Any]:
        x, w = Value(0.3), Value(-0.2)
        root = scalar_expression(x, w)
        root.backward()
        return root, x, w

    (_, x, w), (_, vx, vw) = ours(), micrograd()
    assert np.allclose((x.grad, w.grad), (vx.grad, vw.grad), rtol=1e-9)
    n_nodes = len(topological_order(scalar_expression(AutogradValue(0.3), AutogradValue(-0.2))))
    print(f"scalar graph: {n_nodes} nodes (mmids.autograd count), forward + backward")
    for label, gc_on in (("default (gc on)", True), ("gc disabled", False)):
        if not gc_on:
            gc.disable()
        try:
            best = {"ours": (float("inf"), 0.0), "micrograd": (float("inf"), 0.0)}
            for _ in range(rounds):  # interleaved, best of each
                for name, fn in (("ours", ours), ("micrograd", micrograd)):
                    best[name] = min(best[name], _time_graph(fn))
        finally:
            gc.enable()
        (t_ours, r_ours), (t_micro, r_micro) = best["ours"], best["micrograd"]
        print(
            f"  {label:16s} mmids.autograd {t_ours * 1e3:7.1f} ms"
            f"   micrograd {t_micro * 1e3:7.1f} ms"
            f"   ratio micrograd/mmids = {t_micro / t_ours:4.2f}"
            f"   (release, untimed: {r_ours * 1e3:.0f} ms / {r_micro * 1e3:.0f} ms)"
        )


def bench_mlp(batch_sizes: tuple[int, ...] = (32, 1000), rounds: int = 7) -> None:
    import torch

    from mmids import datasets
    from mmids.autograd import nn

    mnist = datasets.load_mnist(source="subset")
    print(
        f"784-32-10 ReLU MLP, one SGD step (float64), MNIST subset; torch threads "
        f"{torch.get_num_threads()}"
    )
    for batch in batch_sizes:
        X, y = mnist.X_train[:batch], mnist.y_train[:batch]
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        net = nn.MLP([784, 32, 10], seed=0)
        opt = nn.SGD(net.parameters(), lr=0.01)

        def ours(net=net, opt=opt, X=X, y=y) -> None:
            loss = nn.softmax_cross_entropy(net(X), y)
            loss.backward()
            opt.step()

        tnet = torch.nn.Sequential(
            torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        ).double()
        topt = torch.optim.SGD(tnet.parameters(), lr=0.01)

        def theirs(tnet=tnet, topt=topt, Xt=Xt, yt=yt) -> None:
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tnet(Xt), yt)
            loss.backward()
            topt.step()

        steps = 200 if batch <= 64 else 20
        for fn in (ours, theirs):  # warm up
            for _ in range(5):
                fn()
        t_ours, t_torch = float("inf"), float("inf")
        for _ in range(rounds):
            t_ours = min(t_ours, _time_steps(ours, steps))
            t_torch = min(t_torch, _time_steps(theirs, steps))
        print(
            f"  batch {batch:5d}: mmids.autograd {t_ours * 1e6:8.1f} us"
            f"   torch {t_torch * 1e6:8.1f} us   ratio torch/mmids = {t_torch / t_ours:4.2f}"
        )


def _time_calls(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def bench_dispatch(rounds: int = 7, calls: int = 20_000) -> None:
    from mmids.autograd import AutogradValue

    x = AutogradValue(0.3)
    X = AutogradValue(np.random.default_rng(0).standard_normal((32, 32)))
    A, two = np.ones((32, 32)), np.float64(2.0)
    pairs = [  # (what, numpy's spelling, the engine's own spelling of the same node)
        ("np.exp(x), x a float node", lambda: np.exp(x), lambda: x.exp()),
        ("np.exp(X), X 32x32", lambda: np.exp(X), lambda: X.exp()),
        ("np.sum(X, axis=0)", lambda: np.sum(X, axis=0), lambda: X.sum(axis=0)),
        ("np.float64(2) * x", lambda: two * x, lambda: x * 2.0),
        ("A + X, A an ndarray", lambda: A + X, lambda: X.__radd__(A)),
        ("np.concatenate([X, A], 1)", lambda: np.concatenate([X, A], axis=1),
         lambda: ad_concatenate([X, A], axis=1)),
    ]
    from mmids.autograd import concatenate as ad_concatenate

    print("numpy dispatch: one node built by numpy's name vs the engine's own spelling")
    for what, numpy_way, own_way in pairs:
        t_np, t_own = float("inf"), float("inf")
        for _ in range(rounds):
            t_np = min(t_np, _time_calls(numpy_way, calls))
            t_own = min(t_own, _time_calls(own_way, calls))
        print(f"  {what:28s} numpy {t_np * 1e6:6.2f} us   own {t_own * 1e6:6.2f} us"
              f"   ratio own/numpy = {t_own / t_np:4.2f}")


def main() -> None:
    bench_scalar()
    bench_mlp()
    bench_dispatch()


if __name__ == "__main__":
    main()
