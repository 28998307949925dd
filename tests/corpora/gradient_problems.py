"""Corpus for the ``gradient_problems`` assignment."""

from tests.corpora.tools import Entry

_NP = "import numpy as np\n\n"

WRONG = [
    Entry("clip-each-separately", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    return [g * min(1.0, c / max(np.linalg.norm(g), 1e-12)) for g in grads]
""", "test_clip_grad_norm", "clipped by its own norm"),
    Entry("clip-always-rescales", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * c / norm for g in grads]
""", "test_clip_grad_norm", "min(1, ·) is missing"),
    Entry("glorot-std-as-variance", "glorot_init", _NP + """
def glorot_init(n_in, n_out, seed):
    return np.random.default_rng(seed).normal(0, 2 / (n_in + n_out), size=(n_out, n_in))
""", "test_glorot_init", "used as the standard deviation"),
    Entry("glorot-lecun", "glorot_init", _NP + """
def glorot_init(n_in, n_out, seed):
    return np.random.default_rng(seed).normal(0, np.sqrt(1 / n_in), size=(n_out, n_in))
""", "test_glorot_init", "LeCun"),
    Entry("glorot-ignores-seed", "glorot_init", _NP + """
def glorot_init(n_in, n_out, seed):
    return np.random.default_rng().normal(0, np.sqrt(2 / (n_in + n_out)), size=(n_out, n_in))
""", "test_glorot_init", "same seed gave different"),
    Entry("stats-activation-gradients", "layer_statistics", _NP + """
def layer_statistics(X, Ws):
    hs = [X]
    for W in Ws:
        hs.append(np.tanh(hs[-1] @ W.T))
    g = np.ones_like(hs[-1])
    grads = []
    for i in range(len(Ws), 0, -1):
        grads.append(g.var())
        g = (g * (1 - hs[i] ** 2)) @ Ws[i - 1]
    return np.array([h.var() for h in hs[1:]]), np.array(grads[::-1])
""", "test_layer_statistics", "not of the weight gradients"),
    # issue 11 item d: common mistakes named
    Entry("clip-per-entry", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    return [np.clip(g, -c, c) for g in grads]
""", "test_clip_grad_norm", "np.clip"),
    Entry("stats-averaged-over-batch", "layer_statistics", _NP + """
def layer_statistics(X, Ws):
    zs = [X]
    for W in Ws:
        zs.append(np.tanh(zs[-1] @ W.T))
    P = np.ones_like(zs[-1]) / len(X)  # the mean over the batch instead of the sum
    grads = []
    for i in range(len(Ws), 0, -1):
        SP = (1 - zs[i] ** 2) * P
        grads.append(np.var(SP.T @ zs[i - 1]))
        P = SP @ Ws[i - 1]
    return np.array([z.var() for z in zs[1:]]), np.array(grads[::-1])
""", "test_layer_statistics", "1/N²"),
    Entry("stats-tanh-derivative-of-pre-activation", "layer_statistics", _NP + """
def layer_statistics(X, Ws):
    zs, ts = [X], []
    for W in Ws:
        ts.append(zs[-1] @ W.T)
        zs.append(np.tanh(ts[-1]))
    P = np.ones_like(zs[-1])
    grads = []
    for i in range(len(Ws), 0, -1):
        SP = (1 - ts[i - 1] ** 2) * P
        grads.append(np.var(SP.T @ zs[i - 1]))
        P = SP @ Ws[i - 1]
    return np.array([z.var() for z in zs[1:]]), np.array(grads[::-1])
""", "test_layer_statistics", "1 − T_i²"),
    # issue 11 item a: the caller's gradients must survive clipping
    Entry("clip-in-place", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    for g in grads:
        g *= min(1.0, c / norm)
    return list(grads)
""", "test_clip_grad_norm", "changed the arrays it was given"),
    Entry("clip-returns-the-given-list", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    for i, g in enumerate(grads):
        grads[i] = g * min(1.0, c / norm)
    return grads
""", "test_clip_grad_norm", "returned the list it was given"),
]

CORRECT = [
    Entry("clip-keeps-unclipped-arrays", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    if norm <= c:
        return list(grads)  # a new list; the arrays are left as they are
    return [g * (c / norm) for g in grads]
"""),
    Entry("clip-concatenate", "clip_grad_norm", _NP + """
def clip_grad_norm(grads, c):
    flat = np.concatenate([np.ravel(g) for g in grads])
    norm = np.linalg.norm(flat)
    scale = min(1.0, c / norm) if norm > 0 else 1.0
    return [g * scale for g in grads]
"""),
    Entry("glorot-uniform", "glorot_init", _NP + """
def glorot_init(n_in, n_out, seed):
    a = np.sqrt(6.0 / (n_in + n_out))
    return np.random.default_rng(seed).uniform(-a, a, size=(n_out, n_in))
"""),
    Entry("stats-einsum", "layer_statistics", _NP + """
def layer_statistics(X, Ws):
    hs = [X]
    for W in Ws:
        hs.append(np.tanh(np.einsum("ni,oi->no", hs[-1], W)))
    up = np.ones_like(hs[-1])
    gv = []
    for i in reversed(range(len(Ws))):
        delta = up * (1 - hs[i + 1] ** 2)
        gW = np.einsum("no,ni->oi", delta, hs[i])
        gv.append(np.mean((gW - gW.mean()) ** 2))
        up = delta @ Ws[i]
    return np.array([np.mean((h - h.mean()) ** 2) for h in hs[1:]]), np.array(gv[::-1])
"""),
]
