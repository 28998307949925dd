"""mmids.nn: layer VJPs, optimisers, clipping, initialisation and training, against torch."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from mmids import functions, gradcheck, kron, nn

# ---------------------------------------------------------------------------------------------
# layer VJPs on batches: finite differences and torch.autograd (float64)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("N", "n_in", "n_out"), [(1, 3, 2), (7, 5, 4), (16, 1, 6)])
def test_linear_vjps_match_finite_differences_and_torch(N: int, n_in: int, n_out: int, rng):
    layer = nn.Linear(n_in, n_out, rng=rng)
    layer.bias.value[...] = rng.standard_normal(n_out)
    X = rng.standard_normal((N, n_in))
    W0, b0 = layer.weight.value.copy(), layer.bias.value.copy()
    Pm = rng.standard_normal((N, n_out))
    Wt, bt, Xt = torch.tensor(W0), torch.tensor(b0), torch.tensor(X)

    def run(Xv, Wv, bv):
        layer.weight.value[...] = Wv
        layer.bias.value[...] = bv
        return layer.forward(Xv)

    def grads(Xv, P):
        run(Xv, W0, b0)
        dX = layer.backward(P)
        return dX, layer.weight.grad.copy(), layer.bias.grad.copy()

    reports = [
        gradcheck.check_vjp(lambda v: run(v, W0, b0), lambda v, p: grads(v, p)[0], X, p=Pm,
                            f_torch=lambda v: v @ Wt.T + bt, name="dL/dX"),
        gradcheck.check_vjp(lambda v: run(X, v, b0), lambda v, p: grads(X, p)[1], W0, p=Pm,
                            f_torch=lambda v: Xt @ v.T + bt, name="dL/dW"),
        gradcheck.check_vjp(lambda v: run(X, W0, v), lambda v, p: grads(X, p)[2], b0, p=Pm,
                            f_torch=lambda v: Xt @ Wt.T + v, name="dL/db"),
    ]
    for rep in reports:
        assert rep.ok, str(rep)
    # the same numbers as the book's VJPs in mmids.kron: W^T p_n per row, Σ_n p_n ⊗ x_n
    dX, dW, _ = grads(X, Pm)
    gradcheck.assert_close(kron.linear_vjp_input(W0, Pm), dX, rtol=1e-12, atol=1e-14)
    gradcheck.assert_close(kron.linear_vjp_params(X, Pm), dW.reshape(-1), rtol=1e-12, atol=1e-14)


def test_linear_without_bias(rng):
    layer = nn.Linear(3, 2, bias=False, rng=rng)
    assert layer.bias is None and layer.parameters() == [layer.weight]
    X = rng.standard_normal((4, 3))
    gradcheck.assert_close(X @ layer.weight.value.T, layer.forward(X))
    assert layer.backward(np.ones((4, 2)), need_input_grad=False) is None
    gradcheck.assert_close(np.ones((2, 4)) @ X, layer.weight.grad)


ACTIVATIONS = [
    (nn.Sigmoid, torch.sigmoid, functions.sigmoid_vjp),
    (nn.ReLU, torch.relu, functions.relu_vjp),
    (nn.Tanh, torch.tanh, functions.tanh_vjp),
]


@pytest.mark.parametrize(("cls", "torch_f", "vjp_ref"), ACTIVATIONS, ids=lambda v: str(v)[:30])
def test_activation_vjps_match_finite_differences_and_torch(cls, torch_f, vjp_ref, rng):
    act = cls()
    X = rng.standard_normal((9, 5))
    X[np.abs(X) < 1e-3] = 0.5  # keep ReLU's kink away from the finite-difference stencil
    Pm = rng.standard_normal(X.shape)

    def vjp(v, p):
        act.forward(v)
        return act.backward(p)

    rep = gradcheck.check_vjp(act.forward, vjp, X, p=Pm, f_torch=torch_f, name=repr(act))
    assert rep.ok, str(rep)
    gradcheck.assert_close(vjp_ref(X, Pm), vjp(X, Pm), rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_value_and_gradient_match_torch(rng):
    N, K = 8, 5
    Z = 3 * rng.standard_normal((N, K))
    labels = rng.integers(0, K, N)
    Y = np.eye(K)[labels]
    loss = nn.SoftmaxCrossEntropy()
    expected = torch.nn.functional.cross_entropy(torch.tensor(Z), torch.tensor(labels)).item()
    assert loss.forward(Z, labels) == pytest.approx(expected, rel=1e-12)
    assert loss.forward(Z, Y) == pytest.approx(expected, rel=1e-12)

    def grad(v):
        loss.forward(v, labels)
        return loss.backward()

    rep = gradcheck.check_gradient(
        lambda v: loss.forward(v, labels), grad, Z,
        f_torch=lambda v: torch.nn.functional.cross_entropy(v, torch.tensor(labels)),
        name="softmax cross-entropy",
    )
    assert rep.ok, str(rep)
    gradcheck.assert_close(functions.softmax_cross_entropy_grad(Z, Y) / N, grad(Z), rtol=1e-12)
    # soft labels (rows on the simplex)
    Ysoft = rng.dirichlet(np.ones(K), size=N)
    assert loss.forward(Z, Ysoft) == pytest.approx(
        float(np.mean(functions.softmax_cross_entropy(Z, Ysoft))), rel=1e-12
    )
    # large logits stay finite
    assert np.isfinite(loss.forward(1e3 * Z, labels))


@pytest.mark.parametrize("kind", ["soft", "unnormalised", "mixed"])
def test_softmax_cross_entropy_gradient_for_labels_off_the_simplex(kind: str, rng):
    # L = -(1/N) Σ_n Σ_k y_nk log γ_k(z_n) for any label rows; its gradient (γ ΣY − Y)/N is
    # checked against finite differences and torch (-(Y * log_softmax(Z)).sum() / N).
    N, K = 6, 4
    Z = 2 * rng.standard_normal((N, K))
    Y = rng.dirichlet(np.ones(K), size=N)
    if kind == "unnormalised":
        Y = Y * rng.uniform(0.2, 3.0, size=(N, 1))
    elif kind == "mixed":  # one-hot rows, a zero row and a row of non-negative weights
        Y[:3] = np.eye(K)[rng.integers(0, K, 3)]
        Y[3] = 0.0
        Y[4] = rng.uniform(0.0, 2.0, K)
    loss = nn.SoftmaxCrossEntropy()
    Yt = torch.tensor(Y)

    def f_torch(v):
        return -(Yt * torch.log_softmax(v, dim=1)).sum() / N

    def grad(v):
        loss.forward(v, Y)
        return loss.backward()

    rep = gradcheck.check_gradient(lambda v: loss.forward(v, Y), grad, Z, f_torch=f_torch,
                                   name=f"softmax cross-entropy, {kind} labels")
    assert rep.ok, str(rep)
    gradcheck.assert_close(functions.softmax_cross_entropy_grad(Z, Y) / N, grad(Z), rtol=1e-12)
    if kind == "unnormalised":  # the simplex-only formula (γ − Y)/N is not the gradient here
        assert not np.allclose(grad(Z), (functions.softmax(Z) - Y) / N, atol=1e-3)


def torch_mlp(model: nn.Sequential) -> torch.nn.Sequential:
    """The same architecture in torch (float64) with the same weights."""
    mods = []
    for layer in model.layers:
        if isinstance(layer, nn.Linear):
            lin = torch.nn.Linear(layer.n_in, layer.n_out, bias=layer.bias is not None).double()
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(layer.weight.value))
                if layer.bias is not None:
                    lin.bias.copy_(torch.tensor(layer.bias.value))
            mods.append(lin)
        else:
            mods.append({nn.Sigmoid: torch.nn.Sigmoid, nn.ReLU: torch.nn.ReLU,
                         nn.Tanh: torch.nn.Tanh}[type(layer)]())
    return torch.nn.Sequential(*mods)


def test_sequential_gradient_matches_torch_and_finite_differences(rng):
    model = nn.Sequential(nn.Linear(6, 5, rng=rng), nn.Sigmoid(), nn.Linear(5, 4, rng=rng),
                          nn.Tanh(), nn.Linear(4, 3, rng=rng))
    for p in model.parameters():
        p.value[...] = rng.standard_normal(p.shape)
    X, labels = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    loss = nn.SoftmaxCrossEntropy()
    w0 = model.packed.value.copy()

    def f(w):
        model.packed.value[...] = w
        return loss.forward(model.forward(X), labels)

    def grad(w):
        f(w)
        model.backward(loss.backward(), need_input_grad=False)
        return model.packed.grad.copy()

    ref = torch_mlp(model)
    out = torch.nn.functional.cross_entropy(ref(torch.tensor(X)), torch.tensor(labels))
    out.backward()
    torch_grad = np.concatenate(
        [t.grad.numpy().reshape(-1) for t in ref.parameters()]
    )  # torch order: W1, b1, W2, b2, W3, b3 = our packing order
    gradcheck.assert_close(torch_grad, grad(w0), rtol=1e-10, atol=1e-14, name="vs torch")
    rep = gradcheck.check_gradient(f, grad, w0, name="Sequential")
    assert rep.ok, str(rep)
    # input gradient of the whole model
    Xt = torch.tensor(X, requires_grad=True)
    torch.nn.functional.cross_entropy(ref(Xt), torch.tensor(labels)).backward()
    f(w0)
    dX = model.backward(loss.backward())
    gradcheck.assert_close(Xt.grad.numpy(), dX, rtol=1e-10, atol=1e-14, name="dL/dX")


def test_sequential_packs_parameters_as_views(rng):
    l1, l2 = nn.Linear(3, 4, rng=rng), nn.Linear(4, 2, rng=rng)
    W1 = l1.weight.value.copy()
    model = nn.Sequential(l1, nn.ReLU(), l2)
    assert model.packed.value.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    gradcheck.assert_close(W1, l1.weight.value)  # values survive packing
    model.packed.value[:] = 1.0
    assert np.all(l1.weight.value == 1.0) and np.all(l2.bias.value == 1.0)
    assert np.shares_memory(l2.weight.grad, model.packed.grad)


def test_sequential_records_activations_and_their_gradients(rng):
    model = nn.Sequential(nn.Linear(4, 6, rng=1), nn.ReLU(), nn.Linear(6, 3, rng=2))
    X, labels = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    loss = nn.SoftmaxCrossEntropy()
    loss.forward(model.forward(X), labels)
    assert not hasattr(model, "activations")
    model.record = True
    Z = model.forward(X)
    loss.forward(Z, labels)
    dX = model.backward(loss.backward())
    ref = torch_mlp(model)
    acts = [torch.tensor(X, requires_grad=True)]
    for mod in ref:
        acts.append(mod(acts[-1]))
        acts[-1].retain_grad()
    torch.nn.functional.cross_entropy(acts[-1], torch.tensor(labels)).backward()
    assert [a.shape for a in model.activations] == [(5, 4), (5, 6), (5, 6), (5, 3)]
    assert len(model.gradients) == 4
    for ours_a, ours_g, t in zip(model.activations, model.gradients, acts, strict=True):
        gradcheck.assert_close(t.detach().numpy(), ours_a, rtol=1e-12, atol=1e-14)
        gradcheck.assert_close(t.grad.numpy(), ours_g, rtol=1e-10, atol=1e-14)
    assert model.gradients[0] is dX


def test_nested_sequential_shares_one_pack_and_trains(rng):
    encoder = nn.Sequential(nn.Linear(2, 8, rng=0), nn.ReLU(), nn.Linear(8, 2, rng=1))
    model = nn.Sequential(encoder, nn.ReLU(), nn.Linear(2, 2, rng=2))
    assert model.packed.value.size == 2 * 8 + 8 + 8 * 2 + 2 + 2 * 2 + 2
    assert np.shares_memory(encoder.packed.value, model.packed.value)
    gradcheck.assert_close(
        np.concatenate([p.value.reshape(-1) for p in encoder.parameters()]), encoder.packed.value
    )
    X, y = _two_blobs(rng, 100)
    before = encoder.packed.value.copy()
    hist = nn.train(model, X, y, nn.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=20,
                    batch_size=100, progress=False)
    assert not np.array_equal(before, encoder.packed.value)  # the view follows the training
    assert hist.accuracy[-1] > 0.9
    assert encoder.forward(X).shape == (100, 2)  # the latent representation


def test_float32_model_keeps_float32_and_agrees_with_float64(rng):
    seed = 5
    m64 = nn.Sequential(nn.Linear(8, 6, rng=seed), nn.Sigmoid(), nn.Linear(6, 3, rng=seed + 1))
    m32 = nn.Sequential(nn.Linear(8, 6, rng=seed, dtype=np.float32), nn.Sigmoid(),
                        nn.Linear(6, 3, rng=seed + 1, dtype=np.float32))
    X, labels = rng.standard_normal((12, 8)), rng.integers(0, 3, 12)
    grads = []
    for model in (m64, m32):
        loss = nn.SoftmaxCrossEntropy()
        Z = model.forward(X)
        loss.forward(Z, labels)
        model.backward(loss.backward(), need_input_grad=False)
        grads.append(model.packed.grad.copy())
    assert Z.dtype == np.float32 and m32.packed.value.dtype == np.float32
    assert grads[1].dtype == np.float32
    gradcheck.assert_close(grads[0], grads[1].astype(np.float64), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------------------------


def test_glorot_and_normal_initialisation_variances():
    n_in, n_out = 400, 200
    W = nn.Linear(n_in, n_out, rng=0).weight.value
    target = 2.0 / (n_in + n_out)
    # 80,000 samples: the sample variance is within 2% of the true one with overwhelming odds
    assert abs(W.var() / target - 1) < 0.02, f"variance {W.var():.5f} vs 2/(n_in+n_out)={target}"
    assert abs(W.mean()) < 5 * np.sqrt(target / W.size)
    Wn = nn.Linear(n_in, n_out, init="normal", rng=0).weight.value
    assert abs(Wn.var() - 1) < 0.02
    assert np.all(nn.Linear(n_in, n_out, rng=0).bias.value == 0)


# ---------------------------------------------------------------------------------------------
# optimisers and clipping against torch.optim on the same gradients
# ---------------------------------------------------------------------------------------------


def _trajectories(make_ours, make_torch, packed: bool, rng, steps: int = 6):
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    if packed:
        l1, l2 = nn.Linear(3, 4), nn.Linear(4, 2)
        model = nn.Sequential(l1, nn.Sigmoid(), l2)
        params = model.parameters()
    else:
        params = [nn.Parameter(np.zeros(s)) for s in shapes]
    for p, v in zip(params, init, strict=True):
        p.value[...] = v
    tparams = [torch.tensor(v, requires_grad=True) for v in init]
    ours, theirs = make_ours(params), make_torch(tparams)
    for gs in grads:
        for p, tp, g in zip(params, tparams, gs, strict=True):
            p.grad[...] = g
            tp.grad = torch.tensor(g)
        ours.step()
        theirs.step()
        for p, tp in zip(params, tparams, strict=True):
            gradcheck.assert_close(tp.detach().numpy(), p.value, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "separate"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(packed: bool, momentum: float, rng):
    _trajectories(lambda ps: nn.SGD(ps, lr=0.1, momentum=momentum),
                  lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=momentum), packed, rng)


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "separate"])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.0)])
def test_adam_matches_torch(packed: bool, betas, rng):
    _trajectories(lambda ps: nn.Adam(ps, lr=0.01, betas=betas, eps=1e-8),
                  lambda ts: torch.optim.Adam(ts, lr=0.01, betas=betas, eps=1e-8), packed, rng)


def test_adam_update_on_a_flat_vector_matches_torch(rng):
    """The kernel of Adam (also bench_nn's flat baseline) on one array, against torch."""
    w = rng.standard_normal(7)
    M, V, tmp = np.zeros(7), np.zeros(7), np.empty(7)
    tw = torch.tensor(w.copy(), requires_grad=True)
    theirs = torch.optim.Adam([tw], lr=0.02, betas=(0.8, 0.99), eps=1e-6)
    for t in range(1, 6):
        g = rng.standard_normal(7)
        nn.adam_update(w, g, M, V, tmp, t=t, lr=0.02, betas=(0.8, 0.99), eps=1e-6)
        tw.grad = torch.tensor(g)
        theirs.step()
        gradcheck.assert_close(tw.detach().numpy(), w, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "separate"])
def test_clip_grad_norm_matches_formula_and_torch(packed: bool, rng):
    if packed:
        params = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).parameters()
    else:
        params = [nn.Parameter(np.zeros(s)) for s in [(4, 3), (4,), (2, 4)]]
    grads = [3 * rng.standard_normal(p.shape) for p in params]
    norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
    for c in (0.5 * norm, 2 * norm):
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g
        tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for t, g in zip(tensors, grads, strict=True):
            t.grad = torch.tensor(g)
        torch_norm = torch.nn.utils.clip_grad_norm_(tensors, c).item()
        returned = nn.clip_grad_norm(params, c)
        assert returned == pytest.approx(norm, rel=1e-12) == torch_norm
        factor = min(1.0, c / norm)  # g' = min(1, c/‖g‖) g
        for p, g, t in zip(params, grads, tensors, strict=True):
            gradcheck.assert_close(factor * g, p.grad, rtol=1e-12)
            gradcheck.assert_close(t.grad.numpy(), p.grad, rtol=1e-6)
        clipped = np.sqrt(sum(float(np.sum(p.grad**2)) for p in params))
        assert clipped == pytest.approx(min(c, norm), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------


def _two_blobs(rng, n=200):
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, 2)) + 3.0 * np.stack([y, -y], axis=1)
    return X, y


def test_train_learns_history_and_progress_bar(rng, capfd):
    X, y = _two_blobs(rng)
    model = nn.Sequential(nn.Linear(2, 8, rng=1), nn.Tanh(), nn.Linear(8, 2, rng=2))
    hist = nn.train(model, X, y, nn.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=5,
                    batch_size=16, validation=(X, y), progress=False)
    assert len(hist.loss) == len(hist.accuracy) == len(hist.val_accuracy) == 5
    assert hist.loss[-1] < hist.loss[0]
    assert hist.val_accuracy[-1] > 0.95 and nn.accuracy(model, X, y) == hist.val_accuracy[-1]
    loss, acc = nn.evaluate(model, X, y)
    assert loss == pytest.approx(hist.val_loss[-1]) and acc == hist.val_accuracy[-1]
    out = capfd.readouterr()
    assert out.err == "" and out.out == "", "progress=False must print nothing"
    buf = io.StringIO()
    nn.train(model, X, y, nn.Adam(model.parameters()), epochs=2, batch_size=50, file=buf,
             clip=1.0)
    text = buf.getvalue()
    assert "loss=" in text and "acc=" in text and "8/8" in text
    assert capfd.readouterr().err == ""


def test_train_is_reproducible_and_follows_the_seed(rng):
    X, y = _two_blobs(rng, 64)

    def run(seed):
        model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Sigmoid(), nn.Linear(4, 2, rng=1))
        nn.train(model, X, y, nn.SGD(model.parameters(), lr=0.5), epochs=2, batch_size=8,
                 rng=seed, progress=False)
        return model.packed.value.copy()

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.fixture
def one_torch_thread():
    """torch on one thread: on a shared 2-core machine extra threads only contend."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def mnist():
    from mmids.datasets import load_mnist

    return load_mnist(source="subset")


def test_mnist_sigmoid_mlp_test_accuracy_mmids_nn_comparable_to_torch(mnist, one_torch_thread):
    """784-32-10 sigmoid MLP, Adam(1e-3), batch 32, 3 epochs, float64: same init, same data order
    and hyperparameters in mmids.nn and torch; both test accuracies appear in the message."""
    epochs, bs, seed = 3, 32, 0
    Xtr, ytr, Xte, yte = mnist.X_train, mnist.y_train, mnist.X_test, mnist.y_test
    model = nn.Sequential(nn.Linear(784, 32, rng=10), nn.Sigmoid(), nn.Linear(32, 10, rng=11))
    ref = torch_mlp(model)
    hist = nn.train(model, Xtr, ytr, nn.Adam(model.parameters(), lr=1e-3), epochs=epochs,
                    batch_size=bs, rng=seed, progress=False)
    acc_mmids = nn.accuracy(model, Xte, yte)

    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    gen = np.random.default_rng(seed)  # the same permutations as nn.train(rng=seed)
    Xt, yt = torch.tensor(Xtr), torch.tensor(ytr)
    torch_losses = []
    for _ in range(epochs):
        order = torch.tensor(gen.permutation(len(ytr)))
        total = 0.0
        for i in range(0, len(ytr), bs):
            idx = order[i:i + bs]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(ref(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        torch_losses.append(total / len(ytr))
    with torch.no_grad():
        acc_torch = (ref(torch.tensor(Xte)).argmax(1).numpy() == yte).mean()

    msg = (f"MNIST subset ({mnist.source}), test accuracy after {epochs} epochs: "
           f"mmids.nn {acc_mmids:.4f} vs torch {acc_torch:.4f}; training losses "
           f"mmids {np.round(hist.loss, 6)} vs torch {np.round(torch_losses, 6)}")
    assert acc_mmids >= 0.85, msg
    assert abs(acc_mmids - acc_torch) <= 0.01, msg
    np.testing.assert_allclose(hist.loss, torch_losses, rtol=1e-6, err_msg=msg)


# ---------------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors(rng):
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, 3\)"):
        lin.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, 3\)"):
        lin.forward(np.zeros(3))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nn.Linear(3, 2).backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nn.Sigmoid().backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nn.SoftmaxCrossEntropy().backward()
    lin.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"upstream gradient must have shape \(4, 2\)"):
        lin.backward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_out must be a positive integer"):
        nn.Linear(3, 0)
    with pytest.raises(ValueError, match="init must be 'glorot' or 'normal'"):
        nn.Linear(3, 2, init="uniform")
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        nn.Linear(3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="share one dtype"):
        nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2, dtype=np.float32))
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Linear(3, 2), np.tanh)
    with pytest.raises(ValueError, match="appears twice"):
        nn.Sequential(lin, nn.ReLU(), nn.Linear(2, 3), lin)
    with pytest.raises(ValueError, match="learning rate must be a positive number"):
        nn.SGD(lin.parameters(), lr=-1)
    with pytest.raises(ValueError, match="momentum must lie in"):
        nn.SGD(lin.parameters(), lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="betas must lie in"):
        nn.Adam(lin.parameters(), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="no parameters"):
        nn.Adam([])
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        nn.clip_grad_norm(lin.parameters(), 0.0)
    with pytest.raises(ValueError, match="labels must be"):
        nn.SoftmaxCrossEntropy().forward(np.zeros((4, 3)), np.zeros((4, 2)))
    model = nn.Sequential(nn.Linear(3, 2))
    opt = nn.SGD(model.parameters(), lr=0.1)
    X = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match="one integer label per row"):
        nn.train(model, X, np.zeros(4, dtype=int), opt, progress=False)
    with pytest.raises(TypeError, match="integer class labels"):
        nn.train(model, X, np.zeros(5), opt, progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1"):
        nn.train(model, X, np.array([0, 1, 2, 0, 1]), opt, progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        nn.train(model, X, np.zeros(5, dtype=int), opt, epochs=0, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        nn.train(model, X, np.zeros(5, dtype=int), opt, batch_size=2.5, progress=False)
    with pytest.raises(TypeError, match="optimizer must be an mmids.nn Optimizer"):
        nn.train(model, X, np.zeros(5, dtype=int), torch.optim.SGD, progress=False)
