"""Assignment 2 (backprop): backpropagation over a list of progressive layers, then training."""

from build_sources import answer, code, md, selfcheck, test

A = "backprop"

CELLS = [
    md(r"""
# Assignment 2 — Backpropagation for progressive functions

A progressive function is a chain of layers $z_{i+1} = g_i(z_i, w_i)$, $i = 1..L$, with
$z_1 = x$, followed by a loss $\ell_y(z_{L+1})$. Each layer's Jacobian splits into a block
$A_i$ for the input and a block $B_i$ for the parameters, $J_{g_i} = (A_i \;\; B_i)$.
Backpropagation starts from the upstream gradient $p_{L+1} = \nabla \ell_y(z_{L+1})$ (a column,
the shape of $z_{L+1}$) and then, for $i = L, \dots, 1$,
$$q_i = B_i^T p_{i+1}, \qquad p_i = A_i^T p_{i+1},$$
and returns $\nabla f_{x,y}(w) = (q_1, \dots, q_L)$, the parameter gradients. Only
vector–Jacobian products are needed.

The layers are given (from `mmids.progressive`): every layer has `forward(z, w)`,
`vjp_input(z, w, p)` $= A^T p$ and `vjp_params(z, w, p)` $= B^T p$, and accepts a batch of
inputs as rows: $Z$ of shape `(N, n)` with the upstream gradients $P$ (row $k$ is $p_k^T$),
and then `vjp_params` sums over the batch. Parameters are flat vectors `w_i` (a `Softmax`
layer has an empty one). Losses have `value(z, y)` and `grad(z, y)` (per row).

Write the loops yourself with `numpy` and the layer methods; do not use `torch`, `jax`,
`autograd` or `mmids.progressive.ProgressiveNetwork`. Graded cells give partial credit per case.
""", "intro"),
    code("""
import numpy as np
from mmids import check
from mmids.progressive import CrossEntropyLoss, Linear, SigmoidLinear, Softmax, SquaredLoss

rng = np.random.default_rng(0)
layers = [SigmoidLinear(4, 3), Linear(3, 2), Softmax(2)]
ws = [rng.standard_normal(layer.n_params) for layer in layers]
x = rng.standard_normal(4)                 # one sample and its label
y = np.array([0.0, 1.0])
X = rng.standard_normal((5, 4))            # a batch of 5 samples (rows) and their labels
Y = np.eye(2)[[0, 1, 1, 0, 1]]
""", "setup"),
    md(r"""
## 1. Forward pass

Return the list `[z_1, ..., z_{L+1}]` of every layer's input plus the final output
(`z_1 = x`). Backpropagation needs all of them.
""", "md-forward"),
    answer("forward_pass", '''
def forward_pass(layers, ws, x):
    """[z_1, ..., z_{L+1}] with z_1 = x and z_{i+1} = layers[i].forward(z_i, ws[i])."""
    ### BEGIN SOLUTION
    zs = [x]
    for layer, w in zip(layers, ws):
        zs.append(layer.forward(zs[-1], w))
    return zs
    ### END SOLUTION
'''),
    selfcheck("selfcheck-forward", """
def composed(x):   # g_3(g_2(g_1(x, w_1), w_2), w_3), written out
    return layers[2].forward(layers[1].forward(layers[0].forward(x, ws[0]), ws[1]), ws[2])

for name, inputs in [("one sample", x), ("a batch of 5", X)]:
    zs = forward_pass(layers, ws, inputs)
    check.that(len(zs) == len(layers) + 1 and np.array_equal(zs[0], inputs),
               f"forward_pass returns [z_1, ..., z_4] with z_1 = x ({name})")
    check.values(zs[-1], composed(inputs), name=f"z_4, {name}")
"""),
    test(A, "test_forward_pass", 1, """
assert len(forward_pass(layers, ws, x)) == len(layers) + 1
"""),
    md(r"""
## 2. Backward pass

Given the stored `zs` and the upstream gradient `p` $= p_{L+1}$ (for a batch, $P$ with one row
per sample), return `[q_1, ..., q_L]` (same order as the layers). $p_1$ is never needed.
""", "md-backward"),
    answer("backward_pass", '''
def backward_pass(layers, ws, zs, p):
    """[q_1, ..., q_L]: q_i = B_i^T p_{i+1}, p_i = A_i^T p_{i+1}, for i = L..1."""
    ### BEGIN SOLUTION
    qs = [None] * len(layers)
    for i in reversed(range(len(layers))):
        qs[i] = layers[i].vjp_params(zs[i], ws[i], p)
        if i > 0:
            p = layers[i].vjp_input(zs[i], ws[i], p)
    return qs
    ### END SOLUTION
'''),
    selfcheck("selfcheck-backward", """
# The parameters as one flat vector w = (w_1, w_2, w_3); this uses your forward_pass.
sizes = np.cumsum([layer.n_params for layer in layers])[:-1]

def output_of(w_flat, inputs):
    return forward_pass(layers, np.split(w_flat, sizes), inputs)[-1]

def vjp_by_backward_pass(w_flat, p, inputs):   # (q_1, q_2, q_3) as one vector
    w_list = np.split(w_flat, sizes)
    qs = backward_pass(layers, w_list, forward_pass(layers, w_list, inputs), p)
    return np.concatenate([np.ravel(q) for q in qs])

for name, inputs in [("one sample", x), ("a batch of 5", X)]:
    check(lambda w: output_of(w, inputs), lambda w, p: vjp_by_backward_pass(w, p, inputs),
          np.concatenate(ws), name=f"backward_pass, {name}")
"""),
    test(A, "test_backward_pass", 3, """
zs = forward_pass(layers, ws, x)
assert len(backward_pass(layers, ws, zs, np.ones(2))) == len(layers)
"""),
    md(r"""
## 3. Loss and gradient

Combine both passes with the loss: return `(value, [q_1, ..., q_L])`. For a batch (`x` of
shape `(N, d)`, `y` of shape `(N, K)`) the objective is the **mean** loss
$\frac1N \sum_n \ell_{y_n}(h_{x_n}(w))$, and by linearity its gradient is the mean of the
per-sample gradients.
""", "md-grad"),
    answer("loss_and_gradient", '''
import numpy as np


def loss_and_gradient(layers, ws, loss, x, y):
    """(mean loss, [q_1, ..., q_L]) for one sample or a batch of rows."""
    ### BEGIN SOLUTION
    zs = forward_pass(layers, ws, x)
    value = np.mean(loss.value(zs[-1], y))
    p = loss.grad(zs[-1], y)
    n = 1 if np.ndim(x) == 1 else np.shape(x)[0]
    qs = backward_pass(layers, ws, zs, p / n)
    return float(value), qs
    ### END SOLUTION
'''),
    selfcheck("selfcheck-gradient", """
def mean_loss(w_flat, loss, inputs, labels):
    return np.mean(loss.value(output_of(w_flat, inputs), labels))

def gradient_by_loss_and_gradient(w_flat, loss, inputs, labels):
    value, qs = loss_and_gradient(layers, np.split(w_flat, sizes), loss, inputs, labels)
    return np.concatenate([np.ravel(q) for q in qs])

w_flat = np.concatenate(ws)
for name, loss, inputs, labels in [("cross-entropy, one sample", CrossEntropyLoss(), x, y),
                                   ("cross-entropy, batch of 5", CrossEntropyLoss(), X, Y),
                                   ("squared loss, batch of 5", SquaredLoss(), X, Y)]:
    value, _ = loss_and_gradient(layers, ws, loss, inputs, labels)
    check.values(value, mean_loss(w_flat, loss, inputs, labels), name=f"the loss, {name}")
    check(lambda w: mean_loss(w, loss, inputs, labels),
          lambda w: gradient_by_loss_and_gradient(w, loss, inputs, labels), w_flat,
          name=f"the gradient, {name}")
"""),
    test(A, "test_loss_and_gradient", 2, """
value, qs = loss_and_gradient(layers, ws, CrossEntropyLoss(), x, y)
assert np.ndim(value) == 0 and len(qs) == len(layers)
"""),
    md(r"""
## 4. Training on MNIST digits

Write mini-batch stochastic gradient descent: for each epoch, shuffle the sample indices with
`np.random.default_rng(seed)`, split them into consecutive mini-batches of `batch_size`, and
for each mini-batch update every parameter vector $w_i \leftarrow w_i - \mathrm{lr}\, q_i$ using
`loss_and_gradient`. Return a **new** list of trained parameter vectors, and leave the list
you were given and its arrays unchanged (the caller may still need the initial parameters).
The hidden tests train logistic regression and a small sigmoid network on 1,500 MNIST digits
and check the test accuracy.
""", "md-train"),
    answer("train", '''
import numpy as np


def train(layers, ws, loss, X, Y, lr, epochs, batch_size, seed):
    """Mini-batch SGD; returns the trained list of parameter vectors."""
    ### BEGIN SOLUTION
    gen = np.random.default_rng(seed)
    ws = [np.array(w, dtype=float) for w in ws]
    for _ in range(epochs):
        order = gen.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            _, qs = loss_and_gradient(layers, ws, loss, X[idx], Y[idx])
            ws = [w - lr * np.reshape(q, w.shape) for w, q in zip(ws, qs)]
    return ws
    ### END SOLUTION
'''),
    selfcheck("selfcheck-train", """
from mmids.datasets import load_mnist

data = load_mnist()
X_train, Y_train = data.X_train[-1500:], np.eye(10)[data.y_train[-1500:]]

def test_accuracy(net, w):
    return np.mean(np.argmax(forward_pass(net, w, data.X_test)[-1], axis=1) == data.y_test)

for name, net, lr in [("logistic regression", [Linear(784, 10), Softmax(10)], 0.5),
                      ("a sigmoid net 784 → 32 → 10",
                       [SigmoidLinear(784, 32), Linear(32, 10), Softmax(10)], 1.0)]:
    w_start = [np.sqrt(2 / (layer.n_in + layer.n_out)) * rng.standard_normal(layer.n_params)
               for layer in net]
    given = [w.copy() for w in w_start]
    w_trained = train(net, given, CrossEntropyLoss(), X_train, Y_train, lr, 3, 32, 0)
    check.that(w_trained is not given and len(given) == len(w_start) and all(
        np.array_equal(a, b) for a, b in zip(given, w_start)),
        f"train returns a new list and leaves the one it was given unchanged ({name})")
    accuracy = test_accuracy(net, w_trained)
    check.that(accuracy > 0.8, f"{name}, 3 epochs on 1,500 digits, has a test accuracy "
               f"above 0.8 (it is {accuracy:.3f})")
"""),
    test(A, "test_train", 2, """
out = train(layers, ws, CrossEntropyLoss(), np.ones((4, 4)), np.eye(2)[[0, 1, 0, 1]], 0.1, 1, 2, 0)
assert len(out) == len(layers)
"""),
]
