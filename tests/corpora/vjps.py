"""Corpus for the ``vjps`` assignment: typical wrong answers and correct variants."""

from tests.corpora.tools import Entry

_NP = "import numpy as np\n\n"

WRONG = [
    Entry("dz-not-transposed", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    dz = p @ W.T if np.ndim(z) == 2 else W @ p if W.shape[0] == W.shape[1] else p @ W
    dW = np.outer(p, z) if np.ndim(z) == 1 else p.T @ z
    return dz, dW
""", "test_linear_vjp_input", "W p instead of W^T p"),
    Entry("dz-sign", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    return -(p @ W), (np.outer(p, z) if np.ndim(z) == 1 else p.T @ z)
""", "test_linear_vjp_input", "sign is flipped"),
    Entry("dW-transposed", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    return p @ W, (np.outer(z, p) if np.ndim(z) == 1 else z.T @ p)
""", "test_linear_vjp_weights", "transpose"),
    Entry("dW-batch-not-summed", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    dW = np.outer(p, z) if np.ndim(z) == 1 else p[:, :, None] * z[:, None, :]
    return p @ W, dW
""", "test_linear_vjp_weights", "batch not summed"),
    Entry("dW-batch-averaged", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    dW = np.outer(p, z) if np.ndim(z) == 1 else p.T @ z / len(z)
    return p @ W, dW
""", "test_linear_vjp_weights", "divided by the batch size"),
    Entry("linear-outputs-swapped", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    return (np.outer(p, z) if np.ndim(z) == 1 else p.T @ z), p @ W
""", "test_linear_vjp_input", "swapped"),
    Entry("sigmoid-value-not-derivative", "sigmoid_vjp", _NP + """
def sigmoid_vjp(t, p):
    return p / (1 + np.exp(-t))
""", "test_sigmoid_vjp", "σ(t) instead of σ'(t)"),
    Entry("sigmoid-no-upstream", "sigmoid_vjp", _NP + """
def sigmoid_vjp(t, p):
    s = 1 / (1 + np.exp(-t))
    return s * (1 - s)
""", "test_sigmoid_vjp", "without the upstream p"),
    Entry("sigmoid-derivative-of-t", "sigmoid_vjp", _NP + """
def sigmoid_vjp(t, p):
    return t * (1 - t) * p
""", "test_sigmoid_vjp", "t(1 − t)"),
    Entry("sigmoid-float32-output", "sigmoid_vjp", _NP + """
def sigmoid_vjp(t, p):
    s = 1 / (1 + np.exp(-t))
    return (s * (1 - s) * p).astype(np.float32)
""", "test_sigmoid_vjp", "precision was lost"),
    Entry("relu-times-value", "relu_vjp", _NP + """
def relu_vjp(t, p):
    return np.maximum(t, 0) * p
""", "test_relu_vjp", "relu(t) instead"),
    Entry("relu-wrong-side", "relu_vjp", _NP + """
def relu_vjp(t, p):
    return np.where(t < 0, p, 0.0)
""", "test_relu_vjp", "where t < 0"),
    Entry("tanh-one-minus-t-squared", "tanh_vjp", _NP + """
def tanh_vjp(t, p):
    return (1 - t ** 2) * p
""", "test_tanh_vjp", "1 − t²"),
    Entry("tanh-square-missing", "tanh_vjp", _NP + """
def tanh_vjp(t, p):
    return (1 - np.tanh(t)) * p
""", "test_tanh_vjp", "square is missing"),
    Entry("softmax-diagonal-only", "softmax_vjp", _NP + """
def softmax_vjp(z, p):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    g = e / e.sum(axis=-1, keepdims=True)
    return g * (1 - g) * p
""", "test_softmax_vjp", "only the diagonal"),
    Entry("softmax-missing-off-diagonal", "softmax_vjp", _NP + """
def softmax_vjp(z, p):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) * p
""", "test_softmax_vjp", "off-diagonal"),
    Entry("softmax-wrong-axis", "softmax_vjp", _NP + """
def softmax_vjp(z, p):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    g = e / e.sum(axis=0, keepdims=True)
    return g * (p - np.sum(g * p, axis=0, keepdims=True))
""", "test_softmax_vjp", "down the columns"),
    Entry("softmax-overflow", "softmax_vjp", _NP + """
def softmax_vjp(z, p):
    e = np.exp(z)
    g = e / e.sum(axis=-1, keepdims=True)
    return g * (p - np.sum(g * p, axis=-1, keepdims=True))
""", "test_softmax_vjp", "subtract each row's maximum"),
    Entry("softmax-inner-product-over-batch", "softmax_vjp", _NP + """
def softmax_vjp(z, p):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    g = e / e.sum(axis=-1, keepdims=True)
    return g * (p - np.sum(g * p))
""", "test_softmax_vjp", "summed over the whole batch"),
    Entry("ce-labels-missing", "cross_entropy_grad", _NP + """
def cross_entropy_grad(y, y_hat):
    return -1.0 / y_hat
""", "test_cross_entropy_grad", "labels y are missing"),
    Entry("ce-sign", "cross_entropy_grad", _NP + """
def cross_entropy_grad(y, y_hat):
    return y / y_hat
""", "test_cross_entropy_grad", "sign is flipped"),
    Entry("ce-batch-averaged", "cross_entropy_grad", _NP + """
def cross_entropy_grad(y, y_hat):
    g = -y / y_hat
    return g / g.shape[0] if g.ndim == 2 else g
""", "test_cross_entropy_grad", "divided by the batch size"),
    Entry("sce-missing-y", "softmax_cross_entropy_grad", _NP + """
def softmax_cross_entropy_grad(z, y):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
""", "test_softmax_cross_entropy_grad", "without the − y"),
    Entry("sce-sign", "softmax_cross_entropy_grad", _NP + """
def softmax_cross_entropy_grad(z, y):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return y - e / e.sum(axis=-1, keepdims=True)
""", "test_softmax_cross_entropy_grad", "sign is flipped"),
    Entry("sce-overflow", "softmax_cross_entropy_grad", _NP + """
def softmax_cross_entropy_grad(z, y):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True) - y
""", "test_softmax_cross_entropy_grad", "log-sum-exp"),
    Entry("sce-not-chained", "softmax_cross_entropy_grad", _NP + """
def softmax_cross_entropy_grad(z, y):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return -y / (e / e.sum(axis=-1, keepdims=True))
""", "test_softmax_cross_entropy_grad", "chain it through the softmax"),
    Entry("kron-order", "kron_vjp", _NP + """
def kron_vjp(z, p):
    return np.kron(z, p)
""", "test_kron_vjp", "wrong order"),
    Entry("kron-forms-B", "kron_vjp", _NP + """
def kron_vjp(z, p):
    B = np.kron(np.eye(len(p)), z[None, :])
    return B.T @ p
""", "test_kron_vjp", "would take 51 GB"),
    Entry("kron-not-flattened", "kron_vjp", _NP + """
def kron_vjp(z, p):
    return np.outer(p, z)
""", "test_kron_vjp", "reshape"),
    Entry("kron-ignores-upstream", "kron_vjp", _NP + """
def kron_vjp(z, p):
    return np.tile(z, len(p))
""", "test_kron_vjp", "ignores the upstream p"),
    Entry("relu-returns-list", "relu_vjp", _NP + """
def relu_vjp(t, p):
    return [v if s > 0 else 0.0 for s, v in zip(np.ravel(t), np.ravel(p))]
""", "test_relu_vjp", "python list"),
    Entry("uses-torch", "tanh_vjp", """
import torch

def tanh_vjp(t, p):
    x = torch.tensor(t, requires_grad=True)
    torch.tanh(x).backward(torch.tensor(p))
    return x.grad.numpy()
""", "test_tanh_vjp", "refused", visible_gap="the values are right: the rules (numpy only) are "
          "checked when grading, and the intro says so"),
]

CORRECT = [
    Entry("linear-einsum", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    dz = np.einsum("...i,ij->...j", p, W)
    dW = np.einsum("ni,nj->ij", np.atleast_2d(p), np.atleast_2d(z))
    return dz, dW
"""),
    Entry("linear-loops", "linear_vjp", _NP + """
def linear_vjp(W, z, p):
    W = np.asarray(W, dtype=float)
    zs = np.atleast_2d(z)
    ps = np.atleast_2d(p)
    dz = np.zeros(zs.shape)
    dW = np.zeros(W.shape)
    for n in range(zs.shape[0]):
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                dz[n, j] += W[i, j] * ps[n, i]
                dW[i, j] += ps[n, i] * zs[n, j]
    return (dz[0] if np.ndim(z) == 1 else dz), dW
"""),
    Entry("sigmoid-via-tanh", "sigmoid_vjp", _NP + """
def sigmoid_vjp(t, p):
    s = 0.5 * (1 + np.tanh(0.5 * np.asarray(t)))
    return p * s * (1 - s)
"""),
    Entry("relu-heaviside", "relu_vjp", _NP + """
def relu_vjp(t, p):
    return np.heaviside(t, 1.0) * p
"""),
    Entry("tanh-cosh", "tanh_vjp", _NP + """
def tanh_vjp(t, p):
    return p / np.cosh(t) ** 2
"""),
    Entry("softmax-explicit-jacobian", "softmax_vjp", _NP + """
def softmax_vjp(z, p):
    z = np.asarray(z, dtype=np.float64)
    rows = np.atleast_2d(z)
    ps = np.atleast_2d(p)
    out = np.empty(rows.shape)
    for n, (zn, pn) in enumerate(zip(rows, ps)):
        e = np.exp(zn - zn.max())
        g = e / e.sum()
        C = np.diag(g) - np.outer(g, g)
        out[n] = C.T @ pn
    return out.reshape(z.shape)
"""),
    Entry("ce-loop", "cross_entropy_grad", _NP + """
def cross_entropy_grad(y, y_hat):
    y = np.asarray(y, dtype=np.float64)
    y_hat = np.asarray(y_hat, dtype=np.float64)
    out = np.zeros_like(y_hat)
    for idx in np.ndindex(y_hat.shape):
        if y[idx] != 0:
            out[idx] = -y[idx] / y_hat[idx]
    return out
"""),
    Entry("sce-logsumexp", "softmax_cross_entropy_grad", _NP + """
def softmax_cross_entropy_grad(z, y):
    m = np.max(z, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return np.exp(z - lse) * np.sum(y, axis=-1, keepdims=True) - y
"""),
    Entry("kron-numpy-kron", "kron_vjp", _NP + """
def kron_vjp(z, p):
    return np.kron(p, z)
"""),
    Entry("kron-broadcast", "kron_vjp", _NP + """
def kron_vjp(z, p):
    return (np.asarray(p)[:, None] * np.asarray(z)[None, :]).ravel()
"""),
]
