"""One module per assignment; each defines ``ASSIGNMENT`` (an ``autograders.core.Assignment``)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograders.core import Assignment

#: Assignment names, in course order; ``autograders.checks.<name>`` defines each one.
ASSIGNMENT_NAMES: tuple[str, ...] = ("vjps", "backprop", "autograd", "gradient_problems")


def load_assignments() -> dict[str, Assignment]:
    """Import every assignment module and return ``{name: Assignment}``."""
    out: dict[str, Assignment] = {}
    for name in ASSIGNMENT_NAMES:
        module = importlib.import_module(f"autograders.checks.{name}")
        out[name] = module.ASSIGNMENT
    return out
