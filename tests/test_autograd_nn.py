"""mmids.autograd.nn (Linear, MLP, losses, SGD) and mmids.autograd.draw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mmids.autograd as ad
from mmids import datasets
from mmids import gradcheck as gc
from mmids.autograd import AutogradValue as V
from mmids.autograd import nn

pytestmark = pytest.mark.task_autograd


def _torch_mlp(net: nn.MLP) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for k, layer in enumerate(net.layers):
        n_in, n_out = layer.weight_t.shape
        lin = torch.nn.Linear(n_in, n_out).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.weight_t.value.T.copy()))
            lin.bias.copy_(torch.from_numpy(layer.bias.value + 0.1 * np.arange(n_out)))
        layer.bias.value = layer.bias.value + 0.1 * np.arange(n_out)  # non-zero biases
        layers.append(lin)
        if k < len(net.layers) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def test_mlp_loss_and_gradients_match_torch() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((7, 5)), rng.integers(0, 3, size=7)
    net = nn.MLP([5, 4, 6, 3], activation="relu", seed=1)
    tnet = _torch_mlp(net)
    for loss_fn in (nn.softmax_cross_entropy, nn.softmax_cross_entropy_composed):
        L = loss_fn(net(X), y)
        L.backward()
        tnet.zero_grad()
        Lt = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(X)), torch.from_numpy(y))
        Lt.backward()
        gc.assert_close(Lt.item(), L.value, rtol=1e-12, name=loss_fn.__name__)
        torch_params = list(tnet.parameters())
        for k, layer in enumerate(net.layers):
            gc.assert_close(torch_params[2 * k].grad.numpy().T, layer.weight_t.grad, rtol=1e-10,
                            name=f"layer {k} weight")
            gc.assert_close(torch_params[2 * k + 1].grad.numpy(), layer.bias.grad, rtol=1e-10,
                            name=f"layer {k} bias")


def test_fused_loss_vjp_and_jvp_against_finite_differences() -> None:
    rng = np.random.default_rng(1)
    z, labels = 3 * rng.standard_normal((6, 4)), rng.integers(0, 4, size=6)
    loss = lambda v: nn.softmax_cross_entropy(v, labels)  # noqa: E731
    f = lambda zz: np.asarray(loss(V(zz)).value)  # noqa: E731
    report = gc.check_vjp(f, lambda zz, p: ad.vjp(loss, zz, p)[1], z, rng=2)
    assert report.ok, str(report)
    dz = rng.standard_normal(z.shape)
    _, t = ad.jvp(loss, z, dz)
    assert t == pytest.approx(float(gc.numerical_gradient(f, z).ravel() @ dz.ravel()), rel=1e-6)


def test_fused_loss_is_finite_for_huge_logits() -> None:
    z = V(np.array([[1000.0, -1000.0, 0.0], [0.0, 800.0, -5.0]]))
    L = nn.softmax_cross_entropy(z, np.array([0, 0]))
    L.backward()
    assert np.isfinite(L.value) and L.value == pytest.approx(800.0 / 2)
    gc.assert_close(np.array([[0.0, 0.0, 0.0], [-0.5, 0.5, 0.0]]), z.grad, atol=1e-12)


def test_sgd_with_momentum_follows_its_formula() -> None:
    w = V(np.array([1.0, -2.0]))
    opt = nn.SGD([w], lr=0.1, momentum=0.5)
    grads = [np.array([1.0, 1.0]), np.array([2.0, -1.0])]
    v, expected = np.zeros(2), np.array([1.0, -2.0])
    for g in grads:
        w.grad = g
        opt.step()
        v = 0.5 * v - 0.1 * g
        expected = expected + v
    gc.assert_close(expected, w.value)
    opt.zero_grad()
    assert w.grad.shape == (2,) and not np.any(w.grad)


def test_sgd_without_momentum_is_plain_gradient_descent() -> None:
    w = V(np.array([1.0, -2.0]))
    opt = nn.SGD([w], lr=0.1)
    for g in (np.array([1.0, 1.0]), np.array([2.0, -1.0])):
        w.grad = g
        opt.step()
    gc.assert_close(np.array([1.0 - 0.1 - 0.2, -2.0 - 0.1 + 0.1]), w.value)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_step_leaves_the_callers_array_alone(momentum: float) -> None:
    # a declared variable owns a copy of its data: SGD updates that copy, not the caller's
    W = np.array([[1.0, -2.0], [0.5, 3.0]])
    W_before = W.copy()
    w = V(W)
    assert w.value is not W and not np.shares_memory(w.value, W)
    opt = nn.SGD([w], lr=0.1, momentum=momentum)
    ad.sum(w * w).backward()
    opt.step()
    np.testing.assert_array_equal(W_before, W)
    gc.assert_close(W_before - 0.1 * 2 * W_before, w.value)
    W[0, 0] = 100.0  # and changing the caller's array later does not change the node
    assert w.value[0, 0] == pytest.approx(1.0 - 0.2)


def test_two_moons_network_of_the_syllabus_learns() -> None:
    X_train, X_test, y_train, y_test = datasets.two_moons(n_samples=1000, noise=0.2, seed=0)
    net = nn.MLP([2, 264, 2, 2], activation="relu", seed=0)
    opt = nn.SGD(net.parameters(), lr=0.01, momentum=0.99)
    first = None
    for _ in range(300):
        L = nn.softmax_cross_entropy(net(X_train), y_train)
        first = L.value if first is None else first
        L.backward()
        opt.step()
    assert L.value < 0.5 * first
    assert nn.accuracy(net(X_test), y_test) > 0.93
    latent = net.activations(X_test)[-2]
    assert latent.shape == (len(y_test), 2)


def test_mlp_on_the_mnist_subset() -> None:
    mnist = datasets.load_mnist(source="subset")
    net = nn.MLP([784, 32, 10], seed=0)
    opt = nn.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    chance = nn.accuracy(net(mnist.X_test), mnist.y_test)
    for _ in range(2):
        order = rng.permutation(len(mnist.y_train))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            L = nn.softmax_cross_entropy(net(mnist.X_train[batch]), mnist.y_train[batch])
            L.backward()
            opt.step()
    assert chance < 0.3
    assert nn.accuracy(net(mnist.X_test), mnist.y_test) > 0.85


def test_nn_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="5 features"):
        nn.Linear(5, 2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.MLP([2, 3], activation="swish")
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        nn.softmax_cross_entropy(V(np.ones((2, 3))), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"need logits \(N, K\) and labels \(N,\)"):
        nn.softmax_cross_entropy(V(np.ones((2, 3))), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="lr > 0"):
        nn.SGD([], lr=-1.0)


# ---- draw ------------------------------------------------------------------------------------


def test_draw_shows_operation_value_and_grad_of_every_node() -> None:
    x, w = V(1.5), V(-0.8)
    L = -ad.log(ad.sigmoid(w * x**2))
    L.backward()
    dot = ad.draw(L, names={x: "x", w: "w", L: "L"})
    src = dot.source
    assert "x: var |" in src and "w: var |" in src and "L: neg |" in src
    for op in ("var", "pow", "mul", "sigmoid", "log", "neg"):
        assert f"{op} |" in src
    assert f"grad {x.grad:.4g}" in src and f"value {L.value:.4g}" in src
    assert src.count("->") == 6 + 1  # six edges between nodes, one from the constant 2
    svg = dot.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "sigmoid" in svg


def test_draw_summarises_arrays_and_rejects_non_nodes() -> None:
    a = V(np.ones((3, 4)))
    src = ad.draw(ad.sum(a * 2.0)).source
    assert "array(3, 4)" in src
    with pytest.raises(TypeError, match="AutogradValue"):
        ad.draw(3.0)


def test_draw_without_dot_program_warns_clearly(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.warns(UserWarning, match="apt-get install graphviz"):
        dot = ad.draw(V(2.0) * 3.0)
    assert "mul" in dot.source


RECORD_NAMES = ["x<0", "a > b", "{w}", "p|q", 'say "hi"', "back\\slash", "ends\\", "<html>",
                "\\n is not a newline", 'mix {<|>} "\\"']


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_draw_escapes_graphviz_record_characters_in_names(name: str) -> None:
    import html
    import re

    x, w = V(1.5), V(np.array([1.0, 2.0]))
    L = ad.sum(x * w)
    L.backward()
    dot = ad.draw(L, names={x: name, w: "w", L: "L"})
    svg = dot.pipe(format="svg").decode()  # dot fails with "bad label format" if unescaped
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert f"{name}: var" in texts, texts  # the name is drawn as written, in one field
    assert "value 1.5" in texts and "w: var" in texts and "L: sum" in texts


def _svg_texts(dot) -> list[str]:
    import html
    import re

    svg = dot.pipe(format="svg").decode()
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_draw_labels_boxes_with_the_names_of_the_text() -> None:
    x, w = V(1.5, name="x"), V(-0.8, name="w")
    a = (x**2).named("a")
    b = (w * a).named("b")
    c = ad.sigmoid(b).named("c")
    d = ad.log(c).named("d")
    L = (-d).named("L")
    L.backward()
    texts = _svg_texts(ad.draw(L))
    for label in ("x: var", "w: var", "a = x²", "b = w · a", "c = σ(b)", "d = log(c)", "L = −d"):
        assert label in texts, (label, texts)
    # names= takes precedence over a node's own name; an unnamed operand: "name: operation"
    texts = _svg_texts(ad.draw(L, names={b: "β"}))
    assert "β = w · a" in texts and "c = σ(β)" in texts
    e = (ad.exp(x) * 2.0).named("e")
    assert "e: mul" in _svg_texts(ad.draw(e))
    # the array operations write themselves the way numpy code does
    X = V(np.ones((2, 3)), name="X")
    parts = [X[0, 1:].named("r"), X.T.named("t"), np.sum(X, axis=1).named("s"),
             np.concatenate([X, np.ones((2, 1))], axis=1).named("Z"),
             np.maximum(X, 0.0).named("m"), abs(X).named("u")]
    texts = _svg_texts(ad.draw(ad.sum(parts[0]) + ad.sum(parts[1]) + ad.sum(parts[2])
                               + ad.sum(parts[3]) + ad.sum(parts[4]) + ad.sum(parts[5])))
    for label in ("r = X[0, 1:]", "t = Xᵀ", "s = sum(X, axis=1)",
                  "Z = concatenate(X, array(2, 1))", "m = max(X, 0)", "u = |X|"):
        assert label in texts, (label, texts)


def test_names_are_optional_strings_and_nodes_stay_small() -> None:
    x = V(2.0, name="x")
    y = (x * 3.0).named("y")
    assert x.name == "x" and y.name == "y" and (y * x).name is None
    assert y.named("z") is y and y.name == "z" and "name='z'" in repr(y)
    with pytest.raises(TypeError, match="a node's name is a str, not int"):
        V(1.0, name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a node's name is a str"):
        x.named(None)  # type: ignore[arg-type]
    for node in (x, y, ad.exp(x), V(np.ones(2))[0], ad.sum(V(np.ones(2)))):
        assert not hasattr(node, "__dict__")  # __slots__ only: no per-node dictionary
