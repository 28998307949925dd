"""Run-time refusal of differentiation libraries: what the static screen cannot see.

:func:`autograders.core.screen_source` reads an answer's source, but a name can be reached in
ways no reading finds (``getattr(builtins, '__imp' + 'ort__')('torch')``, or a helper such as
``mmids.check.torch_vjp`` that calls torch for the student).  So the student's calls are also
watched while they run:

* in the notebook kernel (nbgrader's hidden tests), :class:`LibraryMonitor` installs a profile
  hook for the duration of one call and records the first Python frame that runs code from a
  differentiation library's installed files, or C function that belongs to one;
* in the sandboxed worker, the libraries' folders are hidden from the file system
  (:func:`autograders.sandbox.bwrap_argv`) and an import blocker names the refused module.

Either way the answer earns nothing on that check and the feedback says which library it used.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

#: Top-level packages that compute derivatives (or symbolic ones) for the student.
DIFFERENTIATION_LIBRARIES: frozenset[str] = frozenset(
    {"torch", "torchvision", "functorch", "jax", "jaxlib", "autograd", "tensorflow", "keras",
     "mxnet", "theano", "micrograd", "tinygrad", "sympy", "numdifftools", "findiff"}
)


def refusal(name: str) -> str:
    """The feedback for an answer that used ``name`` while it ran."""
    return (f"Refused: while it ran, this answer used `{name}`, a differentiation library. "
            "Answers must compute the derivative themselves with numpy. No credit is given.")


@functools.cache
def installed_locations() -> dict[str, str]:
    """``{package: folder or file}`` of each differentiation library installed here.

    Found once per process (nothing is imported); every sandbox start and every watched call
    reuses it.
    """
    found: dict[str, str] = {}
    for name in sorted(DIFFERENTIATION_LIBRARIES):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                found[name] = os.path.realpath(folder)
                break
        elif spec.origin and os.path.isfile(spec.origin):
            found[name] = os.path.realpath(spec.origin)
    return found


@functools.cache
def _library_prefixes() -> tuple[str, ...]:
    """What a library's code file names start with: its folder plus ``/``, or its file."""
    return tuple(p + os.sep if os.path.isdir(p) else p for p in installed_locations().values())


class LibraryMonitor:
    """``with LibraryMonitor() as m: f(...)``, then ``m.used`` is the library used, or ``None``.

    A profile hook (``sys.setprofile``, this thread and new threads) sees every Python call and
    every call of a C function.  It flags a Python frame whose code file lies inside an
    installed differentiation library, and a C function whose ``__module__`` (or whose bound
    object's type's module) is one of :data:`DIFFERENTIATION_LIBRARIES`.  If the student's code
    replaced the hook and still returned, ``m.used`` says so instead: a call that switches off
    the monitor is refused like one that uses torch.
    """

    def __init__(self) -> None:
        self.used: str | None = None
        self._prefixes = _library_prefixes()
        self._previous: Any = None

    @staticmethod
    def _library_of(module: object) -> str | None:
        if isinstance(module, str):
            top = module.split(".", 1)[0].lstrip("_")
            if top in DIFFERENTIATION_LIBRARIES:
                return module
        return None

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.used is not None:
            return
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(self._prefixes):
                self.used = frame.f_globals.get("__name__") or filename
        elif event == "c_call":
            found = self._library_of(getattr(arg, "__module__", None))
            if found is None:
                bound = getattr(arg, "__self__", None)
                if bound is not None:
                    found = self._library_of(type(bound).__module__)
            if found is not None:
                self.used = f"{found}.{getattr(arg, '__name__', '?')}"

    def __enter__(self) -> LibraryMonitor:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        current = sys.getprofile()
        sys.setprofile(self._previous)
        threading.setprofile(None)
        # CPython drops a profile hook that raised (e.g. at the recursion limit): a call that
        # failed anyway is judged by its error; one that returned without the hook is refused
        if (self.used is None and exc_type is None
                and getattr(current, "__self__", None) is not self):
            self.used = "sys.setprofile (the answer switched off the grader's monitor)"
