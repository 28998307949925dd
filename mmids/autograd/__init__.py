"""``mmids.autograd``: automatic differentiation on computational graphs, from scratch.

* :mod:`.core`      -- ``AutogradValue`` (a graph node), topological order, ``backward``;
* :mod:`.ops`       -- the table of operations (value and derivative side by side): element-wise
  here, reductions and ``@`` in :mod:`.ops_array`, indexing and reshaping in :mod:`.ops_shape`;
* :mod:`.api`       -- the functions ``mmids.autograd.exp(x)``, ``.concatenate(...)``, ...;
* :mod:`.dispatch`  -- numpy's names for them on nodes (``np.exp(x)``, ``np.sum(x, axis=0)``);
* :mod:`.forward`   -- forward mode (JVPs) and full Jacobians by either mode;
* :mod:`.draw`      -- a graphviz picture of a graph;
* :mod:`.nn`        -- linear layers, an MLP and SGD built on the engine.
"""

# core first: once AutogradValue exists it loads the tables of operations (ops, dispatch)
from mmids.autograd import core  # noqa: F401  # isort: skip
from mmids.autograd.api import (
    abs,
    concatenate,
    exp,
    log,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    sqrt,
    stack,
    sum,
    tanh,
    transpose,
    where,
)
from mmids.autograd.core import AutogradValue, topological_order, unbroadcast
from mmids.autograd.draw import draw
from mmids.autograd.forward import jacobian, jvp, vjp

__all__ = [
    "AutogradValue",
    "abs",
    "concatenate",
    "draw",
    "exp",
    "jacobian",
    "jvp",
    "log",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "relu",
    "reshape",
    "sigmoid",
    "sqrt",
    "stack",
    "sum",
    "tanh",
    "topological_order",
    "transpose",
    "unbroadcast",
    "vjp",
    "where",
]
