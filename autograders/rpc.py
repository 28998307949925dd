"""By-value message codec between the trusted grader and the sandboxed worker.

A frame is ``len(header)`` (4 bytes, big-endian) + ``len(payload)`` (8 bytes) + a UTF-8 JSON
header + a payload of raw array bytes.  Values are trees of ``None``/bool/int/float/str,
lists, tuples, numpy arrays and numpy scalars; arrays travel as raw bytes described in the
header (dtype, shape, offset), never as pickles, so a hostile worker can send nothing but
plain data.  Anything else the student's code returns (a torch tensor, a dict, a generator)
arrives as an :class:`Opaque` placeholder that carries only its type name, and is judged wrong.

This module imports only the standard library and numpy: the sandbox ships its source into
the worker, where ``autograders`` itself is not visible.
"""

from __future__ import annotations

import functools
import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

#: Largest header (JSON) accepted, in bytes.
MAX_HEADER = 16 * 2**20
#: Largest array payload accepted, in bytes.
MAX_PAYLOAD = 64 * 2**20
#: Array dtype kinds that may travel (bool, signed/unsigned int, float, complex).
_KINDS = frozenset("biufc")
_PREFIX = struct.Struct(">IQ")


class RpcError(Exception):
    """The other side sent something that is not a well-formed message."""


class RpcClosed(RpcError):
    """The other side closed the channel (it exited or was killed)."""


class RpcTimeout(RpcError):
    """No complete message arrived before the deadline."""


class Opaque:
    """Stand-in for a value that cannot travel by value; ``type_name`` is e.g. ``torch.Tensor``.

    :func:`opaque` builds it as an instance of a class with the original class's name and
    module, so ``type(x).__module__ == "torch"`` still tells a checker it got a torch object.
    """

    type_name: str = "object"

    def __repr__(self) -> str:
        return f"<{self.type_name} object (not a numpy array or number)>"


@functools.lru_cache(maxsize=256)
def _opaque_class(type_name: str) -> type[Opaque]:
    module, _, name = type_name.rpartition(".")
    name = name if name.isidentifier() else "object"
    module = module if all(p.isidentifier() for p in module.split(".")) else "builtins"
    return type(name, (Opaque,), {"__module__": module or "builtins", "type_name": type_name,
                                  "__slots__": ()})


def opaque(type_name: str) -> Opaque:
    """A placeholder for a returned object of class ``type_name`` (``module.QualName``)."""
    return _opaque_class(str(type_name)[:200])()


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = cls.__name__
    return name if module == "builtins" else f"{module}.{name}"


def encode(obj: Any) -> bytes:
    """Serialise the value tree ``obj`` into one frame."""
    chunks: list[bytes] = []
    offset = 0

    def add_array(arr: np.ndarray) -> dict[str, Any]:
        nonlocal offset
        raw = arr.tobytes(order="C")
        spec = {"dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset,
                "nbytes": len(raw)}
        chunks.append(raw)
        offset += len(raw)
        return spec

    def walk(x: Any, depth: int) -> Any:
        if depth > 32:
            return {"$o": "deeply nested value"}
        if x is None or type(x) in (bool, int, str):
            return x
        if type(x) is float:
            return {"$f": repr(x)} if x != x or x in (float("inf"), float("-inf")) else x
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in _KINDS:
                return {"$o": f"numpy.ndarray of dtype {x.dtype}"}
            return {"$a": add_array(np.asarray(x))}
        if isinstance(x, np.generic):
            if np.dtype(type(x)).kind not in _KINDS:
                return {"$o": _type_name(x)}
            return {"$s": add_array(np.asarray(x))}
        if type(x) is tuple:
            return {"$t": [walk(v, depth + 1) for v in x]}
        if type(x) is list:
            return [walk(v, depth + 1) for v in x]
        if type(x) is dict and all(type(k) is str for k in x):
            return {"$d": {k: walk(v, depth + 1) for k, v in x.items()}}
        return {"$o": _type_name(x)}

    header = json.dumps(walk(obj, 0), allow_nan=False).encode()
    payload = b"".join(chunks)
    return _PREFIX.pack(len(header), len(payload)) + header + payload


def decode(header: bytes, payload: bytes) -> Any:
    """Rebuild the value tree from a frame's header and payload; :class:`RpcError` if malformed."""
    try:
        tree = json.loads(header.decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RpcError(f"malformed message header ({type(exc).__name__})") from None

    def array(spec: Any) -> np.ndarray:
        try:
            dtype = np.dtype(str(spec["dtype"]))
            shape = tuple(int(n) for n in spec["shape"])
            start, nbytes = int(spec["offset"]), int(spec["nbytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RpcError(f"malformed array description ({exc})") from None
        if dtype.kind not in _KINDS or dtype.hasobject or dtype.fields is not None:
            raise RpcError(f"array dtype {dtype} is not allowed")
        if any(n < 0 for n in shape) or len(shape) > 32:
            raise RpcError("malformed array shape")
        if nbytes != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise RpcError("array size does not match its shape")
        if start < 0 or start + nbytes > len(payload):
            raise RpcError("array bytes lie outside the payload")
        return np.frombuffer(payload, dtype=dtype, count=nbytes // max(dtype.itemsize, 1),
                             offset=start).reshape(shape).copy()

    def walk(x: Any, depth: int) -> Any:
        if depth > 40:
            raise RpcError("message nested too deeply")
        if isinstance(x, list):
            return [walk(v, depth + 1) for v in x]
        if not isinstance(x, dict):
            return x
        if len(x) != 1:
            raise RpcError("malformed tagged value")
        (tag, val), = x.items()
        if tag == "$a":
            return array(val)
        if tag == "$s":
            return array(val)[()]
        if tag == "$t" and isinstance(val, list):
            return tuple(walk(v, depth + 1) for v in val)
        if tag == "$d" and isinstance(val, dict):
            return {str(k): walk(v, depth + 1) for k, v in val.items()}
        if tag == "$f" and val in ("nan", "inf", "-inf"):
            return float(val)
        if tag == "$o":
            return opaque(str(val))
        raise RpcError(f"unknown value tag {tag!r}")

    return walk(tree, 0)


def send(fd: int, obj: Any) -> None:
    """Write one frame carrying ``obj`` to the file descriptor ``fd`` (blocking)."""
    view = memoryview(encode(obj))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    parts: list[bytes] = []
    remaining = n
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RpcTimeout("no answer before the time limit")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise RpcTimeout("no answer before the time limit")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise RpcClosed("the channel was closed")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def recv(fd: int, timeout: float | None = None, max_payload: int = MAX_PAYLOAD) -> Any:
    """Read one frame from ``fd`` within ``timeout`` seconds and decode it.

    Raises :class:`RpcTimeout`, :class:`RpcClosed`, or :class:`RpcError` for an oversized or
    malformed frame.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    head_len, pay_len = _PREFIX.unpack(_read_exact(fd, _PREFIX.size, deadline))
    if head_len > MAX_HEADER or pay_len > max_payload:
        raise RpcError(f"message too large ({head_len + pay_len} bytes)")
    header = _read_exact(fd, head_len, deadline)
    payload = _read_exact(fd, pay_len, deadline)
    return decode(header, payload)
