"""``mmids.autograd``: automatic differentiation on computational graphs, from scratch.

* :mod:`.core`    -- ``AutogradValue`` (a graph node), topological order, ``backward``;
* :mod:`.ops`     -- the table of operations (value and local derivative side by side);
* :mod:`.forward` -- forward mode (JVPs) and full Jacobians by either mode;
* :mod:`.draw`    -- a graphviz picture of a graph;
* :mod:`.nn`      -- linear layers, an MLP and SGD built on the engine.
"""

from mmids.autograd.core import AutogradValue, topological_order, unbroadcast
from mmids.autograd.draw import draw
from mmids.autograd.forward import jacobian, jvp, vjp
from mmids.autograd.ops import exp, log, matmul, mean, relu, sigmoid, sum, tanh

__all__ = [
    "AutogradValue",
    "draw",
    "exp",
    "jacobian",
    "jvp",
    "log",
    "matmul",
    "mean",
    "relu",
    "sigmoid",
    "sum",
    "tanh",
    "topological_order",
    "unbroadcast",
    "vjp",
]
