"""Draw a computational graph with graphviz: one box per node with its operation, value and grad.

A named node (``AutogradValue(1.5, name="x")``, ``(x**2).named("a")``, or ``names={node: "a"}``)
is labelled with its name: ``x: var`` for a declared variable, ``a = x²`` for an operation whose
operands are all named or constants (each operation's ``formula``), ``a: pow`` otherwise.

Rendering needs the ``dot`` program (Debian package ``graphviz``). Without it, :func:`draw` still
returns the diagram (its ``.source`` is plain DOT text) but warns, naming what to install.
"""

from __future__ import annotations

import shutil
import warnings

import graphviz
import numpy as np

from mmids.autograd.core import AutogradValue, Value, topological_order

_RECORD_SPECIAL = str.maketrans({c: "\\" + c for c in '\\{}|<>"'})


def _escape_record(text: str) -> str:
    """Escape the characters that mean something in a graphviz record label.

    ``{ } | < >`` structure a record and ``"`` ends the DOT string, so each gets a backslash, as
    does a backslash itself (``x<0`` is drawn as ``x<0``, not read as a port name).
    """
    return text.translate(_RECORD_SPECIAL)


def _show(v: Value, precision: int) -> str:
    if isinstance(v, (int, float)):
        return f"{v:.{precision}g}"
    v = np.asarray(v)
    if v.size <= 4:
        return np.array2string(v, precision=precision, separator=", ")
    return f"array{v.shape}"


def _label(node: AutogradValue, names: dict[AutogradValue, str], precision: int) -> str:
    """The first field of a node's box: its name and what it computes."""
    name = names.get(node, node.name)
    if name is None:
        return node.op
    if node.op == "var":
        return f"{name}: var"
    operands = []
    for parent in node.parents:
        if not isinstance(parent, AutogradValue):  # a constant: a number, or an array by shape
            small = np.ndim(parent) <= 1 and np.size(parent) <= 4
            operands.append(_show(parent, precision) if small else f"array{np.shape(parent)}")
        elif names.get(parent, parent.name) is None:
            return f"{name}: {node.op}"  # an unnamed operand: say which operation only
        else:
            operands.append(str(names.get(parent, parent.name)))
    return f"{name} = {node.describe(operands)}"


def draw(
    root: AutogradValue,
    *,
    names: dict[AutogradValue, str] | None = None,
    precision: int = 4,
    rankdir: str = "LR",
) -> graphviz.Digraph:
    """The graph of ``root`` as a ``graphviz.Digraph`` (displays itself in Jupyter).

    Each node shows its operation, value and grad (arrays with more than 4 entries by shape).
    A node with a name (its own ``.name``, or one given by ``names``, which takes precedence, e.g.
    ``names={x: "x", L: "L"}``) shows it: ``x: var``, ``a = x²`` (the operation written with its
    operands' names, when they all have one), or ``a: pow``. Any text may be a name: graphviz's
    record characters such as ``<`` or ``|`` are escaped. Constants (plain numbers and arrays)
    appear as small grey ellipses feeding their node.
    """
    names = names or {}
    if not isinstance(root, AutogradValue):
        raise TypeError(f"draw expects an AutogradValue, not {type(root).__name__}")
    if shutil.which("dot") is None:
        warnings.warn(
            "graphviz's 'dot' program was not found, so the diagram cannot be rendered; "
            "install it (Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz, "
            "conda: conda install graphviz). The DOT text is still in .source.",
            UserWarning,
            stacklevel=2,
        )
    dot = graphviz.Digraph(graph_attr={"rankdir": rankdir})
    ids: dict[AutogradValue, str] = {}
    for k, node in enumerate(topological_order(root)):
        name = ids[node] = f"n{k}"
        value, grad = _show(node.value, precision), _show(node.grad, precision)
        label = f"{_escape_record(_label(node, names, precision))} | value {value} | grad {grad}"
        dot.node(name, "{" + label + "}", shape="record")
        for j, parent in enumerate(node.parents):
            if isinstance(parent, AutogradValue):
                dot.edge(ids[parent], name)
            elif node.op != "var":
                const = f"{name}c{j}"
                dot.node(const, _show(parent, precision), shape="ellipse", color="grey",
                         fontcolor="grey")
                dot.edge(const, name, color="grey")
    return dot
