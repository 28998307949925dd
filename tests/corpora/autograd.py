"""Corpus for the ``autograd`` assignment: edits of the reference answer cells."""

from tests.corpora.tools import Entry, reference_answers

_REF = reference_answers("autograd")


def _edit(cell: str, old: str, new: str) -> str:
    src = _REF[cell]
    if old not in src:
        raise ValueError(f"corpus edit does not apply to {cell}: {old!r}")
    return src.replace(old, new)


_RECURSIVE = '''        order, seen = [], set()

        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for parent in node.parents:
                if isinstance(parent, AutogradValue):
                    visit(parent)
            order.append(node)

        visit(self)
        for node in order:'''

_KAHN = '''        nodes, stack, seen = [], [self], {id(self)}
        while stack:
            node = stack.pop()
            nodes.append(node)
            for parent in node.parents:
                if isinstance(parent, AutogradValue) and id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
        uses = {id(n): 0 for n in nodes}
        for node in nodes:
            for parent in node.parents:
                if isinstance(parent, AutogradValue):
                    uses[id(parent)] += 1
        for node in nodes:
            node.grad = 0.0
        self.grad = 1.0
        ready = [self]
        while ready:
            node = ready.pop()
            node.backward_pass()
            for parent in node.parents:
                if isinstance(parent, AutogradValue):
                    uses[id(parent)] -= 1
                    if uses[id(parent)] == 0:
                        ready.append(parent)
        return
        for node in order:'''

_BFS = '''        order, queue, seen = [], [self], {id(self)}
        while queue:
            node = queue.pop(0)
            order.append(node)
            for parent in node.parents:
                if isinstance(parent, AutogradValue) and id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
        order.reverse()
        for node in order:'''

#: Diagnoses that were given to wrong jvps although they did not fit (issue 11 item c).
_JVP_MISLEADING = ("did you forget the `return`", "contributes through both uses")

_OLD_TOPO = _REF["backward_pass"][
    _REF["backward_pass"].index("        order, seen = [], set()\n        stack"):
    _REF["backward_pass"].index("        for node in order:\n            node.grad = 0.0")
] + "        for node in order:"

WRONG = [
    Entry("no-accumulation", "backward_pass", _edit(
        "backward_pass", "parent.grad = parent.grad + contribution", "parent.grad = contribution"),
        "test_backward_pass", "accumulate"),
    Entry("forward-order", "backward_pass", _edit(
        "backward_pass", "for node in reversed(order):", "for node in order:"),
        "test_backward_pass", "reverse topological order"),
    Entry("recursive-traversal", "backward_pass", _edit("backward_pass", _OLD_TOPO, _RECURSIVE),
          "test_backward_pass", "recursion"),
    Entry("pow-derivative", "grads", _edit("grads", "n * a ** (n - 1), 0.0", "n * a ** n, 0.0"),
          "test_grads_elementwise", "n·a**n"),
    Entry("div-missing-square", "grads", _edit("grads", "-a / b ** 2", "-a / b"),
          "test_grads_elementwise", "−a/b², not −a/b"),
    Entry("matmul-no-transpose", "grads", _edit("grads", "else p @ b.T", "else p @ b"),
          "test_grads_matmul", "transpose"),
    Entry("jvp-input-tangent-is-x", "jvp", _edit("jvp", "tangent = {id(x_node): dx}",
                                                 "tangent = {id(x_node): x}"),
          "test_jvp", "the input's tangent is x; it must be dx", absent=_JVP_MISLEADING),
    # issue 11 item b: backward() called twice on the same graph
    Entry("backward-no-reset", "backward_pass", _edit(
        "backward_pass", "        for node in order:\n            node.grad = 0.0\n", ""),
        "test_backward_pass", "does not reset the gradients", absent=("recursion",)),
    # issue 11 item c: the right diagnosis for each traversal mistake
    Entry("backward-breadth-first", "backward_pass", _edit("backward_pass", _OLD_TOPO, _BFS),
          "test_backward_pass", "breadth-first order", absent=("recursion",)),
    Entry("jvp-reverse-order", "jvp", _edit("jvp", "    for node in order:\n        if node",
                                            "    for node in reversed(order):\n        if node"),
          "test_jvp", "visit the nodes in topological order", absent=_JVP_MISLEADING),
    Entry("jvp-overwrites-input-tangent", "jvp", _edit(
        "jvp", "        if node is x_node:\n            continue\n", ""),
        "test_jvp", "the input node's tangent was overwritten", absent=_JVP_MISLEADING),
    # issue 11 item d: common mistakes named
    Entry("sigmoid-derivative-of-input", "grads", _edit(
        "grads", "        s = 1.0 / (1.0 + np.exp(-a))\n        return (s * (1.0 - s),)",
        "        return (a * (1.0 - a),)"),
        "test_grads_elementwise", "a(1 − a) from the input a"),
    Entry("div-grads-swapped", "grads", _edit("grads", "return (1.0 / b, -a / b ** 2)",
                                              "return (-a / b ** 2, 1.0 / b)"),
          "test_grads_elementwise", "derivatives are swapped"),
]

_JVP_RECURSIVE = '''    order, seen = [], set()

    def visit(node):
        if id(node) in seen or not isinstance(node, AutogradValue):
            return
        seen.add(id(node))
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(out)
    tangent = {id(x_node): dx}'''

_OLD_JVP_TOPO = _REF["jvp"][_REF["jvp"].index("    order, seen = [], set()"):
                            _REF["jvp"].index("    tangent = {id(x_node): dx}")] + \
    "    tangent = {id(x_node): dx}"

CORRECT = [
    Entry("kahn-order", "backward_pass", _edit("backward_pass", _OLD_TOPO, _KAHN)),
    Entry("jvp-recursive-order", "jvp", _edit("jvp", _OLD_JVP_TOPO, _JVP_RECURSIVE)),
    Entry("div-one-expression", "grads", _edit("grads", "return (1.0 / b, -a / b ** 2)",
                                               "return (1.0 / b, -(a / b) / b)")),
    Entry("matmul-einsum", "grads", _edit(
        "grads",
        "        da = np.outer(p, b) if np.ndim(b) == 1 else p @ b.T\n        db = a.T @ p",
        "        if np.ndim(b) == 1:\n            da = np.einsum('i,j->ij', p, b)\n"
        "        else:\n            da = np.einsum('ik,jk->ij', p, b)\n"
        "        db = np.einsum('ij,i...->j...', a, p)")),
]
