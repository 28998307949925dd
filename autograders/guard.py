"""Pristine references for the in-notebook hidden tests, captured before student code runs.

nbgrader runs hidden tests in the student's kernel, where the student's code may have replaced
``numpy.allclose``, a function of ``mmids.gradcheck`` or of this checking library.  Importing
this module at kernel start (``Execute.extra_arguments`` adds
``--IPKernelApp.exec_lines=import autograders.guard``, see ``exercises/nbgrader_config.py``):

* imports everything the judging needs (numpy, torch, mmids, the checks);
* snapshots the namespace of every trusted module (module attributes, the code, defaults and
  closures of their functions, the attributes of their classes) and of ``builtins``;
* :func:`restore` puts every snapshotted value back; the hidden tests call it before judging
  and after every call into student code.

If the guard was NOT loaded at kernel start, the snapshot is taken late, when student code may
already have run; :func:`tampered` then looks for replaced functions (Python functions of a
trusted module whose code was not loaded from that library's files) and the hidden tests refuse
to award points when it finds any.  In-kernel protection is best effort by nature; the
out-of-kernel grader (``python -m autograders grade``) is the one that student code cannot reach.
"""

from __future__ import annotations

import builtins
import os
import sys
import sysconfig
import types
from typing import Any

import numpy  # noqa: F401  (imported so that it is snapshotted)

import autograders.checks  # noqa: F401
import autograders.core
import autograders.diagnose  # noqa: F401
import mmids.gradcheck  # noqa: F401

#: Module name prefixes whose namespaces are snapshotted and restored.
TRUSTED_PREFIXES: tuple[str, ...] = ("numpy", "mmids", "autograders", "torch")
#: Module namespaces restored attribute by attribute (every autograders / mmids module too).
#: Other numpy modules only get their functions' code, defaults and closures restored, which
#: keeps :func:`restore` fast (it runs after every call into student code).
_NAMESPACE_MODULES = ("numpy", "numpy.linalg", "numpy.random", "numpy.fft", "torch",
                      "torch.autograd", "torch.nn.functional", "torch.functional")
#: torch modules whose functions are remembered (the full torch tree has thousands of modules).
_TORCH_MODULES = ("torch", "torch.autograd", "torch.nn.functional", "torch._tensor",
                  "torch.functional")

_Snapshot = dict[str, tuple[types.ModuleType, dict[str, Any]]]
_SNAPSHOT: _Snapshot = {}
_FUNCS: dict[int, tuple[types.FunctionType, Any, Any, Any]] = {}
_CLASSES: dict[int, tuple[type, dict[str, Any]]] = {}
_SYS_MODULES: dict[str, types.ModuleType] = {}
_IO: dict[str, Any] = {}
#: True when this module was imported before any cell of the notebook ran.
LOADED_AT_STARTUP: bool = False


def _trusted_module_names() -> list[str]:
    names = []
    for name in list(sys.modules):
        top = name.split(".")[0]
        if top == "torch":
            if name in _TORCH_MODULES:
                names.append(name)
        elif top in TRUSTED_PREFIXES:
            names.append(name)
    return names


def _snapshot() -> None:
    for name in _trusted_module_names():
        module = sys.modules.get(name)
        if not isinstance(module, types.ModuleType):
            continue
        ns = dict(vars(module))
        _SYS_MODULES[name] = module
        if name in _NAMESPACE_MODULES or name.split(".")[0] in {"mmids", "autograders"}:
            _SNAPSHOT[name] = (module, ns)
        for value in ns.values():
            _remember(value, name)
    _SNAPSHOT["builtins"] = (builtins, dict(vars(builtins)))
    _IO.update(displayhook=sys.displayhook, excepthook=sys.excepthook)
    shell = _ipython()
    if shell is not None:
        _IO.update(shell=shell, showtraceback=shell.__dict__.get("showtraceback"),
                   shell_displayhook=shell.displayhook, display_pub=shell.display_pub)


def _remember(value: Any, module_name: str) -> None:
    if isinstance(value, types.FunctionType):
        _FUNCS.setdefault(id(value), (value, value.__code__, value.__defaults__,
                                      value.__kwdefaults__))
    elif (isinstance(value, type) and getattr(value, "__module__", "") == module_name
          and (module_name.split(".")[0] in {"mmids", "autograders"}
               or module_name == "torch._tensor")):
        _CLASSES.setdefault(id(value), (value, dict(vars(value))))
        for attr in vars(value).values():
            if isinstance(attr, types.FunctionType):
                _FUNCS.setdefault(id(attr), (attr, attr.__code__, attr.__defaults__,
                                             attr.__kwdefaults__))


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def restore() -> None:
    """Put back every snapshotted module attribute, function body and class attribute."""
    for name, module in _SYS_MODULES.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
    for module, ns in _SNAPSHOT.values():
        current = vars(module)
        for key, value in ns.items():
            if current.get(key, _MISSING) is not value:
                try:
                    current[key] = value
                except TypeError:  # pragma: no cover - read-only namespace
                    pass
    for func, code, defaults, kwdefaults in _FUNCS.values():
        if func.__code__ is not code:
            func.__code__ = code
        if func.__defaults__ is not defaults:
            func.__defaults__ = defaults
        if func.__kwdefaults__ is not kwdefaults:
            func.__kwdefaults__ = kwdefaults
    for cls, attrs in _CLASSES.values():
        for key, value in attrs.items():
            if key in {"__dict__", "__weakref__"}:
                continue
            if vars(cls).get(key, _MISSING) is not value:
                try:
                    setattr(cls, key, value)
                except (AttributeError, TypeError):  # pragma: no cover
                    pass
    if _IO:
        sys.displayhook, sys.excepthook = _IO["displayhook"], _IO["excepthook"]
        shell = _IO.get("shell")
        if shell is not None:
            if _IO.get("showtraceback") is None:
                shell.__dict__.pop("showtraceback", None)
            else:
                shell.showtraceback = _IO["showtraceback"]
            shell.displayhook = _IO["shell_displayhook"]
            shell.display_pub = _IO["display_pub"]


_MISSING = object()


def tampered() -> list[str]:
    """Names of trusted-module functions whose code does not come from an installed library.

    Used when the guard could not be loaded at kernel start: every Python function found in a
    trusted module must have been compiled from a file of the Python installation, the virtual
    environment or the course's packages; a function from a notebook cell (or ``exec``) means
    student code replaced it.
    """
    roots = _library_roots()
    found = []
    for name, (module, _ns) in _SNAPSHOT.items():
        if name == "builtins":
            continue
        for key, value in list(vars(module).items()):
            if isinstance(value, types.FunctionType) and not _from_library(value, roots):
                found.append(f"{name}.{key}")
    for key in ("abs", "max", "min", "sum", "len", "isinstance", "float", "print", "range"):
        if isinstance(vars(builtins).get(key), types.FunctionType):
            found.append(f"builtins.{key}")
    return found


def _from_library(func: types.FunctionType, roots: tuple[str, ...]) -> bool:
    path = func.__code__.co_filename
    return os.path.isabs(path) and os.path.abspath(path).startswith(roots)


def _library_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]}
    for top in TRUSTED_PREFIXES:
        path = getattr(sys.modules.get(top), "__file__", None)
        if path:
            roots.add(os.path.dirname(os.path.abspath(path)))
    return tuple(os.path.abspath(r) for r in roots if r)


def _loaded_at_startup() -> bool:
    """True when no notebook cell has run yet (IPython's execution count is still 0 or 1)."""
    shell = _ipython()
    if shell is None:
        return True
    return int(getattr(shell, "execution_count", 0) or 0) <= 1 and "_i1" not in shell.user_ns


# Import the torch oracle now, before any student code can shadow it.
try:
    import torch  # noqa: F401
except ImportError:  # pragma: no cover - torch is part of the grading extra
    pass

LOADED_AT_STARTUP = _loaded_at_startup()
_snapshot()
autograders.core.ASSIGNMENTS  # noqa: B018  (built during import, now snapshotted)
