"""The untrusted side of out-of-kernel grading: runs inside the sandbox, one per submission.

The sandbox ships this module's source (and :mod:`autograders.rpc`'s) into a fresh Python
process, where ``autograders`` itself is not visible.  The worker

1. keeps private copies of its stdin/stdout pipes as the message channel and points fds 0/1
   at ``/dev/null`` / the captured-output file (so ``print`` cannot corrupt the channel);
2. on ``setup`` executes the answer cells (in notebook order) and then the trusted driver
   source in one namespace, recording each cell's error instead of stopping;
3. on ``call`` runs ``namespace[name](*args)`` and sends back the value, or the error.

Nothing here judges anything: the grader treats every reply as untrusted data.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback
from types import ModuleType
from typing import Any

_CELL_PREFIX = "<answer cell "


def _describe(exc: BaseException) -> str:
    """``ExcType: message (answer cell `id`, line n)``, robust to hostile ``__str__``."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a student's exception may break str()
        text = "<unprintable message>"
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        text = f"the code called sys.exit({text})"
    where = ""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if f.filename.startswith(_CELL_PREFIX)]
        if frames:
            cell = frames[-1].filename[len(_CELL_PREFIX):-1]
            where = f" (answer cell `{cell}`, line {frames[-1].lineno})"
    except BaseException:  # noqa: BLE001
        pass
    msg = f"{name}: {text}" if text else name
    return (msg[:600] + " ...") if len(msg) > 600 else msg + where


def _run_cells(cells: list[Any], namespace: dict[str, Any], label: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for grade_id, source in cells:
        try:
            code = compile(str(source), f"{label}{grade_id}>", "exec")
            exec(code, namespace)  # noqa: S102 - running the submission is the worker's job
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt included
            errors[str(grade_id)] = _describe(exc)
    return errors


class _ImportBlocker:
    """``sys.meta_path`` entry: refused libraries cannot be imported, and each try is recorded.

    The sandbox also hides their folders, so removing this blocker gains nothing; it is here
    to name the library in the feedback.
    """

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()  # set by the grader's ``setup`` request
        self.tried: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".", 1)[0] in self.names:
            self.tried.append(fullname)
            raise ImportError(f"`{fullname}` cannot be used while grading (differentiation "
                              "libraries are refused)")
        return None


class _NoIPython:
    """``get_ipython()`` stand-in: notebook magics and shell escapes do nothing here."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def main(rpc: ModuleType) -> None:
    """Serve ``setup`` / ``call`` / ``exit`` requests until the channel closes."""
    chan_in, chan_out = os.dup(0), os.dup(1)  # non-inheritable copies
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # student prints land in the captured-output file
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins,
                                 "get_ipython": _NoIPython}
    cell_errors: dict[str, str] = {}
    blocker = _ImportBlocker()
    while True:
        try:
            msg = rpc.recv(chan_in)
        except rpc.RpcClosed:
            os._exit(0)
        op = msg.get("op") if isinstance(msg, dict) else None
        if op == "setup":
            blocker.names = frozenset(str(n) for n in msg.get("blocked", ()))
            if blocker not in sys.meta_path:
                sys.meta_path.insert(0, blocker)
            cell_errors = _run_cells(msg["cells"], namespace, _CELL_PREFIX)
            driver_errors = _run_cells([("driver", msg.get("driver", ""))], namespace, "<grader ")
            reply: dict[str, Any] = {"ok": True, "cell_errors": cell_errors,
                                     "driver_error": driver_errors.get("driver")}
        elif op == "call":
            blocker.tried.clear()
            reply = _call(namespace, str(msg["name"]), list(msg["args"]), cell_errors)
            if blocker.tried:
                reply = {"ok": False, "refused": blocker.tried[0],
                         "error": f"`{msg['name']}` tried to import `{blocker.tried[0]}`"}
        elif op == "exit":
            os._exit(0)
        else:
            reply = {"ok": False, "error": f"unknown request {op!r}"}
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        try:
            frame = rpc.encode(reply)
        except BaseException as exc:  # noqa: BLE001
            frame = rpc.encode({"ok": False, "error": f"the result could not be sent back "
                                                      f"({type(exc).__name__})"})
        view = memoryview(frame)
        while view:
            view = view[os.write(chan_out, view):]


def _call(namespace: dict[str, Any], name: str, args: list[Any],
          cell_errors: dict[str, str]) -> dict[str, Any]:
    fn = namespace.get(name)
    if not callable(fn):
        why = f"`{name}` is not defined after running your answer cells"
        if cell_errors:
            why += "; " + "; ".join(f"cell `{k}` raised {v}" for k, v in cell_errors.items())
        return {"ok": False, "error": why}
    try:
        value = fn(*args)
    except BaseException as exc:  # noqa: BLE001 - report every failure, never die silently
        return {"ok": False, "error": f"`{name}` raised {_describe(exc)}"}
    return {"ok": True, "value": value}


if __name__ == "__main__":  # pragma: no cover - the sandbox runs main() through its bootstrap
    raise SystemExit("run through autograders.sandbox, not directly")
