"""Corpus for the ``backprop`` assignment."""

from tests.corpora.tools import Entry

WRONG = [
    Entry("backward-reversed-order", "backward_pass", """
def backward_pass(layers, ws, zs, p):
    qs = []
    for i in reversed(range(len(layers))):
        qs.append(layers[i].vjp_params(zs[i], ws[i], p))
        p = layers[i].vjp_input(zs[i], ws[i], p)
    return qs
""", "test_backward_pass", "reverse order"),
    Entry("backward-p-not-updated", "backward_pass", """
def backward_pass(layers, ws, zs, p):
    return [layer.vjp_params(z, w, p) for layer, z, w in zip(layers, zs, ws)]
""", "test_backward_pass", "p is never updated"),
    Entry("gradient-summed-over-batch", "loss_and_gradient", """
import numpy as np


def loss_and_gradient(layers, ws, loss, x, y):
    zs = forward_pass(layers, ws, x)
    return float(np.mean(loss.value(zs[-1], y))), backward_pass(layers, ws, zs,
                                                                loss.grad(zs[-1], y))
""", "test_loss_and_gradient", "summed over the batch"),
    Entry("train-gradient-ascent", "train", """
import numpy as np


def train(layers, ws, loss, X, Y, lr, epochs, batch_size, seed):
    gen = np.random.default_rng(seed)
    ws = [np.array(w, dtype=float) for w in ws]
    for _ in range(epochs):
        order = gen.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            _, qs = loss_and_gradient(layers, ws, loss, X[idx], Y[idx])
            ws = [w + lr * q for w, q in zip(ws, qs)]
    return ws
""", "test_train", "add the gradient instead of subtracting"),
    # issue 11 item c: per-sample losses need a mean, not a sum of gradients
    Entry("loss-per-sample", "loss_and_gradient", """
import numpy as np


def loss_and_gradient(layers, ws, loss, x, y):
    zs = forward_pass(layers, ws, x)
    n = 1 if np.ndim(x) == 1 else np.shape(x)[0]
    return loss.value(zs[-1], y), backward_pass(layers, ws, zs, loss.grad(zs[-1], y) / n)
""", "test_loss_and_gradient", "the MEAN over the batch", absent=("sum the per-sample",)),
    # issue 11 item a: the caller's parameters must survive training
    Entry("train-modifies-arrays", "train", """
import numpy as np


def train(layers, ws, loss, X, Y, lr, epochs, batch_size, seed):
    gen = np.random.default_rng(seed)
    for _ in range(epochs):
        order = gen.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            _, qs = loss_and_gradient(layers, ws, loss, X[idx], Y[idx])
            for w, q in zip(ws, qs):
                w -= lr * np.reshape(q, w.shape)
    return [w.copy() for w in ws]
""", "test_train", "changed the parameter arrays it was given"),
    Entry("train-returns-the-given-list", "train", """
import numpy as np


def train(layers, ws, loss, X, Y, lr, epochs, batch_size, seed):
    gen = np.random.default_rng(seed)
    for _ in range(epochs):
        order = gen.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            _, qs = loss_and_gradient(layers, ws, loss, X[idx], Y[idx])
            for i, q in enumerate(qs):
                ws[i] = ws[i] - lr * np.reshape(q, ws[i].shape)
    return ws
""", "test_train", "returned the list it was given"),
]

CORRECT = [
    Entry("train-in-place-on-copies", "train", """
import numpy as np


def train(layers, ws, loss, X, Y, lr, epochs, batch_size, seed):
    gen = np.random.default_rng(seed)
    ws = [w.astype(float) for w in ws]  # copies: the updates below are in place
    for _ in range(epochs):
        order = gen.permutation(len(X))
        for batch in np.array_split(order, np.arange(batch_size, len(X), batch_size)):
            _, qs = loss_and_gradient(layers, ws, loss, X[batch], Y[batch])
            for w, q in zip(ws, qs):
                w -= lr * np.reshape(q, w.shape)
    return ws
"""),
    Entry("backward-recursive", "backward_pass", """
def backward_pass(layers, ws, zs, p):
    if not layers:
        return []
    q_last = layers[-1].vjp_params(zs[-2], ws[-1], p)
    p_prev = layers[-1].vjp_input(zs[-2], ws[-1], p)
    return backward_pass(layers[:-1], ws[:-1], zs[:-1], p_prev) + [q_last]
"""),
    Entry("gradient-per-sample-loop", "loss_and_gradient", """
import numpy as np


def loss_and_gradient(layers, ws, loss, x, y):
    xs = np.atleast_2d(x)
    ys = np.atleast_2d(y)
    total = 0.0
    grads = [np.zeros(np.size(w)) for w in ws]
    for xn, yn in zip(xs, ys):
        zs = forward_pass(layers, ws, xn)
        total += float(loss.value(zs[-1], yn))
        qs = backward_pass(layers, ws, zs, loss.grad(zs[-1], yn))
        grads = [g + np.ravel(q) for g, q in zip(grads, qs)]
    n = len(xs)
    return total / n, [g / n for g in grads]
"""),
]
