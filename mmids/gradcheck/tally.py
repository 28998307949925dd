"""Count the checks a notebook runs, with no bookkeeping in its cells.

A book page ends by saying how many verification checks it ran. Instead of ``n_asserts += 3``
after every check, a hidden cell at the top of the page calls :func:`start`, which registers an
IPython AST transformer: from then on every ``assert`` statement that is executed, and every
call of a function whose name starts with ``assert_`` (``assert_close``, ``np.testing.
assert_allclose``, ...), adds one to the count. A hidden cell at the end reads :func:`count`.

An ``assert`` inside a loop counts once per iteration: the number is checks *run*, not lines.
A failing check raises, so the page (and the book build) stops before it could be counted.

Outside IPython (a plain ``python`` script) :func:`start` raises ``RuntimeError``.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["count", "start"]

#: Name under which the counting hook is placed in the notebook's namespace.
HOOK = "__mmids_check__"

_count = 0


def _hit(value: Any) -> Any:
    """Count one check and pass ``value`` through unchanged."""
    global _count
    _count += 1
    return value


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _wrap(node: ast.expr) -> ast.expr:
    call = ast.Call(func=ast.Name(id=HOOK, ctx=ast.Load()), args=[node], keywords=[])
    return ast.copy_location(call, node)


class CountChecks(ast.NodeTransformer):
    """Wrap each ``assert`` test and each ``assert_*(...)`` call in the counting hook."""

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        self.generic_visit(node)
        node.test = _wrap(node.test)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if _called_name(node.func).startswith("assert_"):
            return _wrap(node)
        return node


def start() -> None:
    """Reset the count to 0 and count the checks of every cell run from now on."""
    global _count
    try:
        from IPython import get_ipython
    except ImportError as err:  # pragma: no cover - IPython is installed with the book extras
        raise RuntimeError("mmids.gradcheck.tally counts checks in IPython only") from err
    shell = get_ipython()
    if shell is None:
        raise RuntimeError(
            "mmids.gradcheck.tally counts checks in IPython (a notebook or the ipython shell), "
            "not in a plain Python script"
        )
    _count = 0
    shell.user_ns[HOOK] = _hit
    if not any(isinstance(t, CountChecks) for t in shell.ast_transformers):
        shell.ast_transformers.append(CountChecks())


def count() -> int:
    """How many checks ran since :func:`start`."""
    return _count
