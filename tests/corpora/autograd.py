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
    Entry("matmul-no-transpose", "grads", _edit("grads", "else g @ b.T", "else g @ b"),
          "test_grads_matmul", "transpose"),
    Entry("jvp-input-tangent-is-x", "jvp", _edit("jvp", "tangent = {id(x_node): dx}",
                                                 "tangent = {id(x_node): x}"),
          "test_jvp", "tangent J_f(x) dx is wrong"),
]

CORRECT = [
    Entry("kahn-order", "backward_pass", _edit("backward_pass", _OLD_TOPO, _KAHN)),
    Entry("matmul-einsum", "grads", _edit(
        "grads",
        "        da = np.outer(g, b) if np.ndim(b) == 1 else g @ b.T\n        db = a.T @ g",
        "        if np.ndim(b) == 1:\n            da = np.einsum('i,j->ij', g, b)\n"
        "        else:\n            da = np.einsum('ik,jk->ij', g, b)\n"
        "        db = np.einsum('ij,i...->j...', a, g)")),
]
