"""mmids: reference implementations for the course on automatic differentiation.

Submodules are imported on first use (``mmids.functions``, ``mmids.kron``, ``mmids.gradcheck``,
``mmids.linalg``, ``mmids.datasets``, ``mmids.progressive``, ``mmids.nn``, ``mmids.autograd``),
so ``import mmids`` is cheap and never imports torch. ``mmids.check`` is the student-facing
gradient checker: ``from mmids import check; check(f, my_vjp, x)``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "autograd",
    "check",
    "datasets",
    "functions",
    "gradcheck",
    "kron",
    "linalg",
    "nn",
    "progressive",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
