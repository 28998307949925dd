"""Assignment 1 (vjps): vector-Jacobian products of the building blocks of a network."""

from build_sources import answer, code, md, selfcheck, test

A = "vjps"

CELLS = [
    md(r"""
# Assignment 1 — Vector–Jacobian products of building blocks

Backpropagation never forms a Jacobian: each layer only needs the **vector–Jacobian product**
(VJP) $J_g(z)^T p$ of its Jacobian with the **upstream gradient** $p$ (the gradient of the loss
with respect to the layer's output, a column with the shape of that output). In this
assignment you write the VJPs of the blocks used in the book: a linear map, three element-wise
activations, the softmax, the cross-entropy, the softmax fused with the cross-entropy, and the
Kronecker product $\mathbb{B}^T p = p \otimes z$.

**Conventions.** Vectors are columns; $J_f$ has one row per output. A *batch* of $N$ vectors
is an array of shape `(N, n)`, one vector per row: the inputs $Z$ (row $k$ is $z_k^T$) and the
upstream gradients $P$ (row $k$ is $p_k^T$, the upstream gradient of sample $k$). A batched VJP
works row by row, and sums over the batch for parameters shared by all samples. The code keeps
the argument name `p` for one sample and for a batch. Return `numpy` arrays of float64 numbers
with the shapes asked for.

**Rules.** Use `numpy` only. Answers that call `torch`, `jax`, `autograd` or another
differentiation library, or the `mmids` reference code, are refused and get no credit.

**Check yourself before submitting.** After each answer a self-check cell calls `mmids.check`,
which compares your function with central finite differences and prints one line per check,
`PASSED` or `FAILED` (with the entries that differ most and a hint). The self-checks try the
same kinds of inputs as the hidden tests of the graded cells (one sample and batches,
non-square matrices, large logits, a size where $\mathbb{B}$ cannot be formed), on other random
values. The hidden tests add float32 inputs, more shapes and a second oracle (PyTorch), with
partial credit per case.
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

For a batch, `z` is $Z$ of shape `(N, n)` and `p` is $P$ of shape `(N, m)`: then `dz` $= P W$
has shape `(N, n)` (row $k$ is $(W^T p_k)^T$) and `dW` is **summed** over the batch:
$\sum_k p_k z_k^T = P^T Z$.
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
W = rng.standard_normal((4, 3))   # not square
S = rng.standard_normal((3, 3))   # square: there W p has the shape of W^T p
z = rng.standard_normal(3)
Z = rng.standard_normal((5, 3))   # a batch of 5 samples, one per row
check(lambda u: W @ u, lambda u, p: linear_vjp(W, u, p)[0], z, name="dz, one sample")
check(lambda u: S @ u, lambda u, p: linear_vjp(S, u, p)[0], z, name="dz, square W")
check(lambda V: V @ z, lambda V, p: linear_vjp(V, z, p)[1], W, name="dW, one sample")
check(lambda U: U @ W.T, lambda U, P: linear_vjp(W, U, P)[0], Z, name="dz, batch of 5")
check(lambda V: Z @ V.T, lambda V, P: linear_vjp(V, Z, P)[1], W,
      name="dW summed over a batch of 5");
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
def sigmoid(t):
    return 1 / (1 + np.exp(-t))

t = 3 * rng.standard_normal((2, 3, 4))
t[0, 0, :2] = 40.0, -40.0   # saturated entries
check(sigmoid, sigmoid_vjp, rng.standard_normal(7), name="sigmoid_vjp, a vector")
check(sigmoid, sigmoid_vjp, t, name="sigmoid_vjp, a 2×3×4 array");
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
    # Keep these inputs at 20 entries or fewer: tests/test_exercises_nbgrader.py submits a relu_vjp
    # that hangs on larger inputs and expects only the hidden cases to time out.
    selfcheck("selfcheck-relu", """
def relu(t):
    return np.maximum(t, 0)

check(relu, relu_vjp, rng.standard_normal(5), name="relu_vjp, a vector")
check(relu, relu_vjp, rng.standard_normal((3, 4)), name="relu_vjp, a 3×4 matrix")
check(relu, relu_vjp, rng.standard_normal((2, 2, 3)), name="relu_vjp, a 2×2×3 array");
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
t = 2 * rng.standard_normal((4, 5))
t[0, :2] = 40.0, -40.0   # saturated entries
check(np.tanh, tanh_vjp, rng.standard_normal(6), name="tanh_vjp, a vector")
check(np.tanh, tanh_vjp, t, name="tanh_vjp, a 4×5 matrix")
check(np.tanh, tanh_vjp, rng.standard_normal((2, 3, 4)), name="tanh_vjp, a 2×3×4 array");
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
    # No batch of 4 rows here: tests/test_exercises_nbgrader.py submits a softmax_vjp that calls
    # os._exit on one, to test that only the hidden cases it crashes on are lost.
    selfcheck("selfcheck-softmax", """
def softmax_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

Z = rng.standard_normal((3, 6))
Z[0] = 0.7   # a row of ties
Z_large = np.array([[1e3], [-1e3]]) + rng.standard_normal((2, 5))   # logits of size 1e3
check(softmax_rows, softmax_vjp, rng.standard_normal(5), name="softmax_vjp, one vector")
check(softmax_rows, softmax_vjp, Z, name="softmax_vjp, batch of 3 rows")
check(softmax_rows, softmax_vjp, Z_large, name="softmax_vjp, logits of size 1e3");
"""),
    test(A, "test_softmax_vjp", 3, """
assert np.shape(softmax_vjp(np.zeros(4), np.ones(4))) == (4,)
"""),
    # ---------------------------------------------------------------- cross-entropy
    md(r"""
## 4. Cross-entropy

For a label $y \in \Delta_K$ and predicted probabilities $\hat y$ with positive entries,
$H(y, \hat y) = -\sum_i y_i \log \hat y_i$. Write `cross_entropy_grad(y, y_hat)`, the gradient
with respect to $\hat y$ (same shape as `y_hat`; for a batch `(N, K)`, one gradient per row:
the gradient of the **sum** of the rows' losses, not of their mean).
""", "md-ce"),
    answer("cross_entropy_grad", '''
import numpy as np


def cross_entropy_grad(y, y_hat):
    """Gradient of H(y, y_hat) = -sum y_i log y_hat_i with respect to y_hat (row by row)."""
    ### BEGIN SOLUTION
    return -np.asarray(y) / np.asarray(y_hat)
    ### END SOLUTION
'''),
    selfcheck("selfcheck-ce", """
def probabilities(shape):   # positive rows that sum to 1
    a = rng.random(shape) + 0.1
    return a / a.sum(axis=-1, keepdims=True)

y = np.array([0.0, 1.0, 0.0, 0.0])   # a one-hot label
Y = probabilities((3, 4))            # a batch of 3 soft labels
check(lambda u: -np.sum(y * np.log(u)), lambda u: cross_entropy_grad(y, u),
      probabilities(4), name="cross_entropy_grad, one sample")
check(lambda U: -np.sum(Y * np.log(U)), lambda U: cross_entropy_grad(Y, U),
      probabilities((3, 4)), name="cross_entropy_grad, batch of 3");
"""),
    test(A, "test_cross_entropy_grad", 1, """
assert np.shape(cross_entropy_grad(np.eye(3)[0], np.full(3, 1 / 3))) == (3,)
"""),
    md(r"""
## 5. Softmax fused with cross-entropy

The loss of a classifier with logits $z$ is $H(y, \gamma(z))$. Chaining the two VJPs,
$\mathbb{C}_K[z]^T(-y/\gamma)$, simplifies to $\gamma(z) - y$ for a label on the simplex.
Write `softmax_cross_entropy_grad(z, y)` (per row for a batch: the gradient of the sum of the
rows' losses). It must stay finite for logits of magnitude $10^3$.
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
def loss(z, y):   # H(y, softmax(z)) summed over the rows, without overflow
    m = z.max(axis=-1, keepdims=True)
    log_softmax = z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return -np.sum(y * log_softmax)

y = np.array([0.0, 0.0, 1.0])
Y = np.eye(3)[[0, 2, 1, 1, 0]]               # a batch of 5 one-hot labels
Y_soft = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
for name, labels, logits in [("one sample", y, rng.standard_normal(3)),
                             ("batch of 5", Y, rng.standard_normal((5, 3))),
                             ("soft labels, logits of size 1e3", Y_soft,
                              1e3 * rng.standard_normal((2, 3)))]:
    check(lambda z: loss(z, labels), lambda z: softmax_cross_entropy_grad(z, labels), logits,
          name=f"softmax_cross_entropy_grad, {name}")
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
# B w = (I_K ⊗ z^T) w = W z, where W is w cut into K rows of length d
for d, K in [(3, 2), (5, 4)]:
    z = rng.standard_normal(d)
    check(lambda w: w.reshape(K, d) @ z, lambda w, p: kron_vjp(z, p),
          rng.standard_normal(K * d), name=f"kron_vjp, d={d}, K={K}")

# d=400, K=4000: B would take 51 GB. For any w, <B^T p, w> = <p, B w> = <p, W z>.
z, p, w = rng.standard_normal(400), rng.standard_normal(4000), rng.standard_normal(1_600_000)
check.values(kron_vjp(z, p) @ w, p @ (w.reshape(4000, 400) @ z), rtol=1e-9,
             name="<kron_vjp(z, p), w> for d=400, K=4000");
"""),
    test(A, "test_kron_vjp", 2, """
assert np.shape(kron_vjp(np.ones(3), np.ones(2))) == (6,)
"""),
]
