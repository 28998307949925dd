"""Assignment 4 (gradient_problems): clipping, Glorot initialisation, measured variances."""

from build_sources import answer, code, md, selfcheck, test

A = "gradient_problems"

CELLS = [
    md(r"""
# Assignment 4 — Gradients that vanish or explode

The backward pass multiplies many weight matrices and activation derivatives, so gradients
can grow or shrink like $(1 \pm \varepsilon)^D$ with the depth $D$. Two remedies from the book:
**gradient clipping** $g' = \min(1, c/\lVert g\rVert)\, g$ and **Glorot initialisation** with
variance $2/(n_\text{in} + n_\text{out})$. You implement both and then *measure* the variances
of activations and gradients through a deep tanh network.

Use `numpy` only (no `torch`, `jax`, `autograd`, no `mmids` reference code). The graded cells
run hidden tests with partial credit per case.
""", "intro"),
    code("""
import numpy as np

rng = np.random.default_rng(0)
""", "imports"),
    md(r"""
## 1. Gradient clipping

`grads` is a **list** of arrays (one per parameter). Let $g$ be all of them concatenated.
Return a new list where every array is multiplied by the same factor $\min(1, c/\lVert g\rVert)$:
the direction of the whole gradient is kept, only its length is capped at $c$.
""", "md-clip"),
    answer("clip_grad_norm", '''
import numpy as np


def clip_grad_norm(grads, c):
    """Scale every array of `grads` by min(1, c / ||g||), g = all of them concatenated."""
    ### BEGIN SOLUTION
    norm = np.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    factor = 1.0 if norm <= c else c / norm
    return [factor * np.asarray(g, dtype=float) for g in grads]
    ### END SOLUTION
'''),
    selfcheck("selfcheck-clip", """
clipped = clip_grad_norm([np.array([3.0, 4.0]), np.array([0.0])], 1.0)
print(clipped)  # expected: [array([0.6, 0.8]), array([0.])]
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
W = glorot_init(300, 200, 0)
print(W.shape, W.var(), 2 / 500)  # the two variances should be close
"""),
    test(A, "test_glorot_init", 2, """
assert np.shape(glorot_init(3, 2, 0)) == (2, 3)
"""),
    md(r"""
## 3. Measuring variances

For the network $h_0 = X$ (a batch, one sample per row), $h_i = \tanh(h_{i-1} W_i^T)$ for
$i = 1..L$ and the loss $\mathcal{L} = \sum h_L$ (the sum of all entries), return two arrays of
length $L$: the variances `np.var` of the activations $h_1, \dots, h_L$ and of the weight
gradients $\partial\mathcal{L}/\partial W_1, \dots, \partial\mathcal{L}/\partial W_L$.
Compute the gradients with your own backward pass: the upstream of $h_L$ is all ones, the
derivative of tanh is $1 - \tanh^2$, and the gradient for a weight matrix is an outer product
of the upstream rows and the layer input, summed over the batch.

Then compare standard-normal and Glorot weights for a deep network of 512-unit layers
(optional, not graded): with standard-normal weights the activations saturate.
""", "md-stats"),
    answer("layer_statistics", '''
import numpy as np


def layer_statistics(X, Ws):
    """(variances of h_1..h_L, variances of dL/dW_1..dL/dW_L) for h_i = tanh(h_{i-1} W_i^T)."""
    ### BEGIN SOLUTION
    hs = [np.asarray(X, dtype=float)]
    for W in Ws:
        hs.append(np.tanh(hs[-1] @ W.T))
    act_vars = np.array([h.var() for h in hs[1:]])
    upstream = np.ones_like(hs[-1])
    grad_vars = np.zeros(len(Ws))
    for i in range(len(Ws), 0, -1):
        local = upstream * (1.0 - hs[i] ** 2)
        grad_vars[i - 1] = (local.T @ hs[i - 1]).var()
        upstream = local @ Ws[i - 1]
    return act_vars, grad_vars
    ### END SOLUTION
'''),
    selfcheck("selfcheck-stats", """
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
