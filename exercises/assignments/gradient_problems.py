"""Assignment 4 (gradient_problems): clipping, Glorot initialisation, measured variances."""

from build_sources import answer, code, md, selfcheck, test

A = "gradient_problems"

CELLS = [
    md(r"""
# Assignment 4 — Gradients that vanish or explode

The backward pass multiplies many weight matrices and activation derivatives, so gradients
can grow or shrink like $(1 \pm \varepsilon)^D$ with the depth $D$. Two remedies from the book:
**gradient clipping** $q' = \min(1, c/\lVert q\rVert)\, q$ of the parameter gradient $q$ and
**Glorot initialisation** with variance $2/(n_\text{in} + n_\text{out})$. You implement both
and then *measure* the variances of activations and gradients through a deep tanh network.

Use `numpy` only (no `torch`, `jax`, `autograd`, no `mmids` reference code). The graded cells
run hidden tests with partial credit per case; the self-check cells print `PASSED` or `FAILED`
for the same kinds of inputs, with other values.
""", "intro"),
    code("""
import numpy as np
from mmids import check

rng = np.random.default_rng(0)
""", "imports"),
    md(r"""
## 1. Gradient clipping

`grads` is a **list** of arrays, the parameter gradients $q_1, \dots, q_L$. Let
$q = (q_1, \dots, q_L)$ be all of them concatenated. Return a **new** list where every array is
multiplied by the same factor $\min(1, c/\lVert q\rVert)$: the direction of the whole gradient
is kept, only its length is capped at $c$. Leave the list you were given and its arrays
unchanged.
""", "md-clip"),
    answer("clip_grad_norm", '''
import numpy as np


def clip_grad_norm(grads, c):
    """Scale every array of `grads` by min(1, c / ||q||), q = all of them concatenated."""
    ### BEGIN SOLUTION
    norm = np.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    factor = 1.0 if norm <= c else c / norm
    return [factor * np.asarray(g, dtype=float) for g in grads]
    ### END SOLUTION
'''),
    selfcheck("selfcheck-clip", """
grads = [rng.standard_normal((3, 4)), rng.standard_normal(4), np.zeros((2, 2))]
copies = [q.copy() for q in grads]
norm = np.sqrt(sum(np.sum(q ** 2) for q in grads))   # the norm of all of them together
for c in (norm / 2, 2 * norm):                        # clipped, then left as it is
    clipped = clip_grad_norm(grads, c)
    check.values(clipped, [min(1, c / norm) * q for q in copies],
                 name=f"clip_grad_norm at c = {c:.3g} (norm {norm:.3g})")
check.that(clipped is not grads and len(grads) == len(copies) and all(
    np.array_equal(q, r) for q, r in zip(grads, copies)),
    "clip_grad_norm returns a new list and leaves the one it was given unchanged");
"""),
    test(A, "test_clip_grad_norm", 2, """
out = clip_grad_norm([np.array([3.0, 4.0])], 10.0)
assert len(out) == 1 and np.shape(out[0]) == (2,)
"""),
    md(r"""
## 2. Glorot initialisation

Return an `(n_out, n_in)` weight matrix (rows are output units) whose entries are independent,
have mean 0 and variance $2/(n_\text{in} + n_\text{out})$ — normal or uniform, your choice.
Draw them from `np.random.default_rng(seed)` so that the same seed gives the same matrix.
""", "md-glorot"),
    answer("glorot_init", '''
import numpy as np


def glorot_init(n_in, n_out, seed):
    """(n_out, n_in) matrix with zero-mean entries of variance 2 / (n_in + n_out)."""
    ### BEGIN SOLUTION
    gen = np.random.default_rng(seed)
    return gen.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))
    ### END SOLUTION
'''),
    selfcheck("selfcheck-glorot", """
n_in, n_out = 300, 200
W = glorot_init(n_in, n_out, 0)
check.that(isinstance(W, np.ndarray) and W.shape == (n_out, n_in),
           f"glorot_init(300, 200, seed) is an array of shape (n_out, n_in) = {(n_out, n_in)}")
check.that(np.array_equal(W, glorot_init(n_in, n_out, 0))
           and not np.array_equal(W, glorot_init(n_in, n_out, 1)),
           "the same seed gives the same matrix, another seed another one")
check.values(np.var(W), 2 / (n_in + n_out), rtol=0.05,
             name="the variance of the entries (2/(n_in + n_out), 5% allowed)")
check.values(np.mean(W), 0.0, atol=5 * np.sqrt(2 / (n_in + n_out) / W.size),
             name="the mean of the entries (0, up to sampling noise)");
"""),
    test(A, "test_glorot_init", 2, """
assert np.shape(glorot_init(3, 2, 0)) == (2, 3)
"""),
    md(r"""
## 3. Measuring variances

For the network $Z_1 = X$ (a batch, one sample per row), $Z_{i+1} = \tanh(T_i)$ with the
pre-activations $T_i = Z_i W_i^T$ for $i = 1..L$, and the loss
$\mathcal{L} = \sum Z_{L+1}$ (the **sum** of all entries, over the whole batch), return two
arrays of length $L$: the variances `np.var` of the activations $Z_2, \dots, Z_{L+1}$ and of the
weight gradients $\nabla_{W_1}\mathcal{L}, \dots, \nabla_{W_L}\mathcal{L}$. Compute the
gradients with your own backward pass: the upstream gradient of $Z_{L+1}$ is $P_{L+1}$, all
ones; with $S_i = \tanh'(T_i) = 1 - Z_{i+1}^2$ (entry-wise), the weight gradient is
$\nabla_{W_i}\mathcal{L} = (S_i \odot P_{i+1})^T Z_i$ (summed over the batch) and the upstream
gradient passed on is $P_i = (S_i \odot P_{i+1})\, W_i$.

Then compare standard-normal and Glorot weights for a deep network of 512-unit layers
(optional, not graded): with standard-normal weights the activations saturate.
""", "md-stats"),
    answer("layer_statistics", '''
import numpy as np


def layer_statistics(X, Ws):
    """(var of Z_2..Z_{L+1}, var of the gradients for W_1..W_L), Z_{i+1} = tanh(Z_i W_i^T)."""
    ### BEGIN SOLUTION
    Zs = [np.asarray(X, dtype=float)]
    for W in Ws:
        Zs.append(np.tanh(Zs[-1] @ W.T))
    act_vars = np.array([Z.var() for Z in Zs[1:]])
    P = np.ones_like(Zs[-1])
    grad_vars = np.zeros(len(Ws))
    for i in range(len(Ws), 0, -1):
        SP = (1.0 - Zs[i] ** 2) * P     # S_i ⊙ P_{i+1}
        grad_vars[i - 1] = (SP.T @ Zs[i - 1]).var()
        P = SP @ Ws[i - 1]
    return act_vars, grad_vars
    ### END SOLUTION
'''),
    selfcheck("selfcheck-stats", """
from mmids.gradcheck import numerical_gradient


def expected_statistics(X, Ws):
    # activation variances by a forward pass, weight-gradient variances by finite differences
    def loss(Ws):
        Z = X
        for W in Ws:
            Z = np.tanh(Z @ W.T)
        return np.sum(Z)

    acts, Z = [], X
    for W in Ws:
        Z = np.tanh(Z @ W.T)
        acts.append(np.var(Z))
    grads = [numerical_gradient(lambda V: loss(Ws[:i] + [V] + Ws[i + 1:]), W)
             for i, W in enumerate(Ws)]
    return np.array(acts), np.array([np.var(G) for G in grads])


Ws = [rng.standard_normal((5, 4)), 0.5 * rng.standard_normal((3, 5))]
X = rng.standard_normal((6, 4))
for name, inputs in [("a batch of 6", X), ("one sample", X[:1])]:
    acts, grad_vars = layer_statistics(inputs, Ws)
    expected_acts, expected_grads = expected_statistics(inputs, Ws)
    check.values(acts, expected_acts, name=f"activation variances, {name}")
    check.values(grad_vars, expected_grads, rtol=1e-6, name=f"weight-gradient variances, {name}")
"""),
    selfcheck("selfcheck-depth", """
# Optional, not graded: standard-normal against Glorot weights in a deep tanh network
X = rng.standard_normal((100, 512))
for name, sd in [("standard normal", lambda a, b: 1.0),
                 ("Glorot", lambda a, b: np.sqrt(2 / (a + b)))]:
    Ws = [sd(512, 512) * rng.standard_normal((512, 512)) for _ in range(6)]
    acts, grads = layer_statistics(X, Ws)
    print(name, "activations:", np.round(acts, 3), "gradients:", np.round(grads, 3))
"""),
    test(A, "test_layer_statistics", 2, """
acts, grads = layer_statistics(np.ones((2, 3)), [np.eye(3), np.eye(3)])
assert np.shape(acts) == (2,) and np.shape(grads) == (2,)
"""),
]
