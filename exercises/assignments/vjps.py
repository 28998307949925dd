"""Assignment 1 (vjps): vector-Jacobian products of the building blocks of a network."""

from build_sources import answer, code, md, selfcheck, test

A = "vjps"

CELLS = [
    md(r"""
# Assignment 1 — Vector–Jacobian products of building blocks

Backpropagation never forms a Jacobian: each layer only needs the **vector–Jacobian product**
(VJP) $J_g(x)^T p$ of its Jacobian with an upstream vector $p$ (the gradient of the loss with
respect to the layer's output). In this assignment you write the VJPs of the blocks used in
the book: a linear map, three element-wise activations, the softmax, the cross-entropy, the
softmax fused with the cross-entropy, and the Kronecker product $\mathbb{B}^T p = p \otimes z$.

**Conventions.** Vectors are columns; $J_f$ has one row per output. A *batch* of $N$ vectors
is an array of shape `(N, n)`, one vector per row; a batched VJP works row by row (and sums
over the batch for parameters shared by all samples). Return `numpy` arrays of floats with
the shapes asked for.

**Rules.** Use `numpy` only. Answers that call `torch`, `jax`, `autograd` or another
differentiation library, or the `mmids` reference code, are refused and get no credit.

**Check yourself before submitting.** After each answer there is a self-check cell that calls
`mmids.check`, which compares your function with central finite differences and prints a
report. The graded cells run more thorough hidden tests: several shapes, batches, edge values,
and two oracles (finite differences and PyTorch), with partial credit per case.
""", "intro"),
    code("""
import numpy as np
from mmids import check

rng = np.random.default_rng(0)
""", "imports"),
    # ---------------------------------------------------------------- linear map
    md(r"""
## 1. The linear map $g(z, W) = W z$

For $W \in \mathbb{R}^{m \times n}$ and $z \in \mathbb{R}^n$, the Jacobian blocks are
$\mathbb{A} = W$ (with respect to $z$) and $\mathbb{B} = I_m \otimes z^T$ (with respect to the
entries of $W$, row by row). Write `linear_vjp(W, z, p)` returning the pair `(dz, dW)`:

* `dz` $= W^T p$, shape `(n,)`;
* `dW` $= p\, z^T$ (the matrix form of $\mathbb{B}^T p$), shape `(m, n)` like `W`.

For a batch, `z` has shape `(N, n)` and `p` shape `(N, m)`: then `dz` has shape `(N, n)`
(row $i$ is $W^T p_i$) and `dW` is **summed** over the batch: $\sum_i p_i z_i^T$.
""", "md-linear"),
    answer("linear_vjp", '''
import numpy as np


def linear_vjp(W, z, p):
    """VJPs of g(z, W) = W z: returns (dz, dW) = (W^T p, p z^T), dW summed over a batch."""
    ### BEGIN SOLUTION
    W = np.asarray(W)
    z = np.asarray(z)
    p = np.asarray(p)
    dz = p @ W
    if z.ndim == 1:
        dW = np.outer(p, z)
    else:
        dW = p.T @ z
    return dz, dW
    ### END SOLUTION
'''),
    selfcheck("selfcheck-linear", """
W = rng.standard_normal((4, 3))
check(lambda z: W @ z, lambda z, p: linear_vjp(W, z, p)[0], rng.standard_normal(3))
z = rng.standard_normal(3)
check(lambda V: V @ z, lambda V, p: linear_vjp(V, z, p)[1], W)
"""),
    test(A, "test_linear_vjp_input", 2, """
dz, dW = linear_vjp(np.ones((2, 3)), np.ones(3), np.ones(2))
assert np.shape(dz) == (3,), "dz must have the shape of z"
"""),
    test(A, "test_linear_vjp_weights", 2, """
dz, dW = linear_vjp(np.ones((2, 3)), np.ones(3), np.ones(2))
assert np.shape(dW) == (2, 3), "dW must have the shape of W"
"""),
    # ---------------------------------------------------------------- activations
    md(r"""
## 2. Element-wise activations

An element-wise map $\phi$ has a diagonal Jacobian $\operatorname{diag}(\phi'(t))$, so its VJP
is the Hadamard product $\phi'(t) \odot p$. Here `t` is the **pre-activation** (the input of
$\phi$) and may have any shape; `p` has the same shape.

* sigmoid: $\sigma(t) = 1/(1 + e^{-t})$, $\sigma'(t) = \sigma(t)(1 - \sigma(t))$ — evaluate it
  without overflow for large $|t|$;
* ReLU: $\mathrm{relu}'(t) = \mathbf{1}(t > 0)$ (the value at exactly 0 is a convention);
* tanh: $\tanh'(t) = 1 - \tanh^2(t)$.
""", "md-activations"),
    answer("sigmoid_vjp", '''
import numpy as np


def sigmoid_vjp(t, p):
    """sigma'(t) * p entry-wise, for arrays t and p of the same (any) shape."""
    ### BEGIN SOLUTION
    t = np.asarray(t)
    s = np.exp(-np.logaddexp(0.0, -t))
    return s * (1.0 - s) * p
    ### END SOLUTION
'''),
    selfcheck("selfcheck-sigmoid", """
check(lambda t: 1 / (1 + np.exp(-t)), sigmoid_vjp, rng.standard_normal((3, 4)))
"""),
    test(A, "test_sigmoid_vjp", 1, """
assert np.shape(sigmoid_vjp(np.zeros((2, 3)), np.ones((2, 3)))) == (2, 3)
"""),
    answer("relu_vjp", '''
import numpy as np


def relu_vjp(t, p):
    """1(t > 0) * p entry-wise."""
    ### BEGIN SOLUTION
    return np.where(np.asarray(t) > 0, p, 0.0)
    ### END SOLUTION
'''),
    selfcheck("selfcheck-relu", """
check(lambda t: np.maximum(t, 0), relu_vjp, rng.standard_normal((3, 4)))
"""),
    test(A, "test_relu_vjp", 1, """
assert np.shape(relu_vjp(np.ones((2, 3)), np.ones((2, 3)))) == (2, 3)
"""),
    answer("tanh_vjp", '''
import numpy as np


def tanh_vjp(t, p):
    """(1 - tanh(t)^2) * p entry-wise."""
    ### BEGIN SOLUTION
    h = np.tanh(t)
    return (1.0 - h * h) * p
    ### END SOLUTION
'''),
    selfcheck("selfcheck-tanh", """
check(np.tanh, tanh_vjp, rng.standard_normal((2, 3, 4)))
"""),
    test(A, "test_tanh_vjp", 1, """
assert np.shape(tanh_vjp(np.zeros((2, 3)), np.ones((2, 3)))) == (2, 3)
"""),
    # ---------------------------------------------------------------- softmax
    md(r"""
## 3. Softmax

$\gamma_i(z) = e^{z_i} / \sum_j e^{z_j}$ has the Jacobian
$\mathbb{C}_K[z] = \operatorname{diag}(\gamma) - \gamma\gamma^T$. Write `softmax_vjp(z, p)`
$= \mathbb{C}_K[z]^T p$ in $O(K)$ operations per row, **without** forming the $K \times K$
matrix. `z` and `p` have shape `(K,)` or `(N, K)` (softmax of each row). Keep it finite for
large logits (subtract the maximum of each row before exponentiating).
""", "md-softmax"),
    answer("softmax_vjp", '''
import numpy as np


def softmax_vjp(z, p):
    """C_K[z]^T p = gamma * (p - <gamma, p>) for each row."""
    ### BEGIN SOLUTION
    z = np.asarray(z)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    g = e / np.sum(e, axis=-1, keepdims=True)
    return g * (p - np.sum(g * p, axis=-1, keepdims=True))
    ### END SOLUTION
'''),
    selfcheck("selfcheck-softmax", """
def softmax_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

check(softmax_rows, softmax_vjp, rng.standard_normal((3, 5)))
"""),
    test(A, "test_softmax_vjp", 3, """
assert np.shape(softmax_vjp(np.zeros(4), np.ones(4))) == (4,)
"""),
    # ---------------------------------------------------------------- cross-entropy
    md(r"""
## 4. Cross-entropy

For a label $y \in \Delta_K$ and probabilities $q$ with positive entries,
$H(y, q) = -\sum_i y_i \log q_i$. Write `cross_entropy_grad(y, q)`, the gradient with
respect to $q$ (same shape as `q`; for a batch `(N, K)`, one gradient per row).
""", "md-ce"),
    answer("cross_entropy_grad", '''
import numpy as np


def cross_entropy_grad(y, q):
    """Gradient of H(y, q) = -sum y_i log q_i with respect to q (row by row)."""
    ### BEGIN SOLUTION
    return -np.asarray(y) / np.asarray(q)
    ### END SOLUTION
'''),
    selfcheck("selfcheck-ce", """
y = np.array([0.0, 1.0, 0.0, 0.0])
check(lambda q: -np.sum(y * np.log(q)), lambda q, p: p * cross_entropy_grad(y, q),
      np.array([0.1, 0.5, 0.3, 0.1]))
"""),
    test(A, "test_cross_entropy_grad", 1, """
assert np.shape(cross_entropy_grad(np.eye(3)[0], np.full(3, 1 / 3))) == (3,)
"""),
    md(r"""
## 5. Softmax fused with cross-entropy

The loss of a classifier with logits $z$ is $H(y, \gamma(z))$. Chaining the two VJPs,
$\mathbb{C}_K[z]^T(-y/\gamma)$, simplifies to $\gamma(z) - y$ for a label on the simplex.
Write `softmax_cross_entropy_grad(z, y)` (per row for a batch). It must stay finite for logits
of magnitude $10^3$.
""", "md-sce"),
    answer("softmax_cross_entropy_grad", '''
import numpy as np


def softmax_cross_entropy_grad(z, y):
    """Gradient with respect to the logits z of H(y, softmax(z)), row by row."""
    ### BEGIN SOLUTION
    z = np.asarray(z)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True) - y
    ### END SOLUTION
'''),
    selfcheck("selfcheck-sce", """
y = np.array([0.0, 0.0, 1.0])
def loss(z):
    m = z.max()
    return -(z @ y - m - np.log(np.sum(np.exp(z - m))))

check(loss, lambda z, p: p * softmax_cross_entropy_grad(z, y), rng.standard_normal(3))
"""),
    test(A, "test_softmax_cross_entropy_grad", 2, """
assert np.shape(softmax_cross_entropy_grad(np.zeros((2, 3)), np.eye(3)[:2])) == (2, 3)
"""),
    # ---------------------------------------------------------------- Kronecker
    md(r"""
## 6. The Kronecker-structured VJP

For $z \in \mathbb{R}^d$ the parameter block of a linear layer with $K$ outputs is
$\mathbb{B}_{d,K}[z] = I_K \otimes z^T \in \mathbb{R}^{K \times Kd}$. Using the properties of
the Kronecker product, $\mathbb{B}^T p = (I_K \otimes z)\, p = p \otimes z$. Write
`kron_vjp(z, p)` returning this vector of length $Kd$ **without forming** $\mathbb{B}$ (the
hidden tests use sizes where $\mathbb{B}$ would not fit in memory).
""", "md-kron"),
    answer("kron_vjp", '''
import numpy as np


def kron_vjp(z, p):
    """B^T p = p ⊗ z for B = I_K ⊗ z^T, without forming B: shape (K*d,)."""
    ### BEGIN SOLUTION
    return np.outer(p, z).reshape(-1)
    ### END SOLUTION
'''),
    selfcheck("selfcheck-kron", """
z = rng.standard_normal(3)
check(lambda w: w.reshape(2, 3) @ z, lambda w, p: kron_vjp(z, p), rng.standard_normal(6))
"""),
    test(A, "test_kron_vjp", 2, """
assert np.shape(kron_vjp(np.ones(3), np.ones(2))) == (6,)
"""),
]
