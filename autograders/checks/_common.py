"""Judging machinery shared by the assignment checks.

A check builds a list of :class:`Case` objects (seeded inputs, the oracle values and the named
wrong answers for those inputs) and hands them to :func:`judge`, which calls the student, reads
the outputs, reports type / dtype / shape / non-finite problems in plain words, compares values
with BOTH oracles (``torch.autograd`` and central finite differences, via ``mmids.gradcheck``),
names the likely mistake (:mod:`autograders.diagnose`) and awards partial credit by case weight.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from autograders.core import Caller, CellResult, StudentCodeError
from autograders.diagnose import Candidate, diagnose, verb
from mmids import gradcheck

Array = NDArray[np.float64]

__all__ = ["Case", "Output", "failure", "judge", "oracles_agree", "reference_agrees", "rng_for",
           "to_array"]


def rng_for(grade_id: str, salt: int = 0) -> np.random.Generator:
    """A generator seeded from the test cell's id, so every grading run draws the same inputs."""
    return np.random.default_rng([zlib.crc32(grade_id.encode()), salt])


@dataclass(frozen=True)
class Output:
    """One returned array and how to judge it.

    ``expected`` is the torch.autograd oracle, ``fd`` the finite-difference oracle (``None``
    where finite differences are impractical, e.g. a very large input); ``candidates`` are the
    named wrong answers for this input.  ``accept`` optionally maps the received array before
    comparison (e.g. to accept either convention for the ReLU derivative at exactly 0).
    ``judged=False`` marks an output that a sibling test cell grades instead.

    ``hint`` is added when this output is wrong and no mistake was recognised (it replaces the
    case's ``hint_wrong``); ``none_message`` replaces the generic "did you forget the
    `return`" when the value is ``None``; ``reduction`` (``"sum"`` or ``"mean"``) says how a
    batch is combined into this output, for the diagnosis of a missing reduction.  A
    ``followup`` output is judged only when every earlier output of the case was right (e.g.
    the gradients after a second call of ``backward()``).  ``flags`` turns the output into a
    list of side-effect checks made by the driver: the received value is an array of 0/1, one
    per message, and each 1 is reported with its message.
    """

    name: str
    expected: Array
    fd: Array | None
    candidates: Sequence[Candidate] = ()
    rtol: float = 1e-7
    accept: Callable[[Array], Array] | None = None
    judged: bool = True
    hint: str = ""
    none_message: str = ""
    reduction: str | None = None
    followup: bool = False
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One call of the student's function and the outputs it must return.

    ``hint_on_error`` is added when the student's code raised an exception; ``error_hints``
    pairs a phrase of the error (e.g. ``"RecursionError"``, ``"ran out of memory"``) with a
    hint shown only for that error.  ``extra["hint_wrong"]`` is added to a wrong output whose
    mistake was not recognised.
    """

    label: str
    args: tuple[Any, ...]
    outputs: tuple[Output, ...]
    weight: float = 1.0
    float32: bool = False
    batch_size: int | None = None
    hint_on_error: str = ""
    hint_nonfinite: str = ""
    returns_tuple: bool = False  # the function returns a tuple even for a single output
    extra: dict[str, Any] = field(default_factory=dict)
    error_hints: tuple[tuple[str, str], ...] = ()


def oracles_agree(torch_value: Array, fd_value: Array, what: str) -> None:
    """Guard against a wrong oracle: torch and finite differences must agree before judging."""
    scale = max(1.0, float(np.max(np.abs(torch_value), initial=0.0)))
    report = gradcheck.compare(torch_value, fd_value, rtol=1e-5, atol=1e-6 * scale, name=what)
    if not report.ok:
        raise RuntimeError(f"oracles disagree for {what}:\n{report}")


def reference_agrees(expected: Array, reference: Any, what: str) -> None:
    """Guard against drift: the mmids reference implementation must match the torch oracle."""
    report = gradcheck.compare(expected, np.asarray(reference, dtype=np.float64), rtol=1e-9,
                               atol=1e-12 * max(1.0, float(np.max(np.abs(expected),
                                                                  initial=0.0))), name=what)
    if not report.ok:
        raise RuntimeError(f"the mmids reference disagrees with torch for {what}:\n{report}")


def to_array(value: Any, name: str, float32_ok: bool,
             none_message: str = "") -> tuple[Array | None, str | None]:
    """Read one returned value; return ``(array, None)`` or ``(None, plain-words problem)``."""
    if value is None:
        return None, none_message or (f"{name} {verb(name)} None: did you forget the `return` "
                                      "statement?")
    module = type(value).__module__.split(".")[0]
    if module in {"torch", "jax", "jaxlib", "tensorflow"}:
        return None, (f"{name} is a {module} object ({type(value).__name__}); return a numpy "
                      "array computed with numpy")
    if isinstance(value, list | tuple):
        return None, (f"{name} is a Python {type(value).__name__}; return a numpy array "
                      "(np.array(...))")
    if isinstance(value, bool | np.bool_):
        return None, f"{name} is a boolean; return a numpy array of floats"
    if isinstance(value, int | float):
        value = np.float64(value)
    if not isinstance(value, np.ndarray | np.generic):
        return None, (f"{name} is a {type(value).__name__}, not a numpy array")
    arr = np.array(value, copy=True, subok=False)
    if arr.dtype.kind not in "f":
        kind = {"i": "integers", "u": "integers", "b": "booleans", "c": "complex numbers"}.get(
            arr.dtype.kind, f"dtype {arr.dtype}")
        return None, (f"{name} holds {kind} (dtype {arr.dtype}); it must hold floating-point "
                      "numbers (float64)")
    if arr.dtype.itemsize < 8 and not (float32_ok and arr.dtype == np.float32):
        return None, (f"{name} has dtype {arr.dtype} for float64 inputs: precision was lost; "
                      "keep float64 (do not convert to a lower precision)")
    return arr.astype(np.float64), None


def _num(v: float) -> str:
    """A number in feedback: 6 significant digits, ``-0`` shown as ``0``."""
    text = f"{v:.6g}"
    return "0" if text == "-0" else text


def _worst_entry(report: gradcheck.CheckReport, size: int) -> str:
    """`` Worst entry [1, 2]: received 0.31, expected -0.02 (3 of 12 entries wrong).``"""
    if not report.worst:
        return ""
    idx, ev, av = report.worst[0]
    if size == 1:
        return f" Received {_num(av)}, expected {_num(ev)}."
    where = ", ".join(map(str, idx))
    return (f" Worst entry [{where}]: received {_num(av)}, expected {_num(ev)} "
            f"({report.n_bad} of {size} entries wrong).")


def _judge_flags(out: Output, received: Any) -> list[str]:
    """The messages of the side-effect flags the driver raised (see ``Output.flags``)."""
    flags = np.asarray(received, dtype=np.float64).reshape(-1)
    if flags.shape != (len(out.flags),):
        raise RuntimeError(f"the driver returned {flags.shape[0]} flags for {len(out.flags)}")
    return [msg.rstrip(".") + "." for msg, flag in zip(out.flags, flags, strict=True) if flag]


def _judge_output(case: Case, out: Output, received: Any) -> str | None:
    """Return None if ``received`` is right, else a plain-words explanation."""
    arr, problem = to_array(received, out.name, case.float32, out.none_message)
    if problem is not None:
        return problem
    assert arr is not None
    e = out.expected
    if arr.shape != e.shape:
        return diagnose(e, arr, candidates=out.candidates, batch_size=case.batch_size,
                        name=out.name, reduction=out.reduction)
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        msg = f"{out.name} contains NaN or infinity (first at index {list(bad)})"
        return f"{msg}. {case.hint_nonfinite}".strip()
    if out.accept is not None:
        arr = out.accept(arr)
    scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-300)
    rtol = max(out.rtol, 1e-4) if case.float32 else out.rtol
    atol = (1e-5 if case.float32 else 1e-10) * max(scale, 1.0)
    reports = [gradcheck.compare(e, arr, rtol=rtol, atol=atol, name=out.name,
                                 expected_label="expected (torch.autograd)",
                                 actual_label="received")]
    if out.fd is not None:
        reports.append(gradcheck.compare(out.fd, arr, rtol=max(rtol, 1e-5),
                                         atol=max(atol, 1e-6 * max(scale, 1.0)), name=out.name,
                                         expected_label="expected (finite differences)",
                                         actual_label="received"))
    failing = [r for r in reports if not r.ok]
    if not failing:
        return None
    why = diagnose(e, arr, candidates=out.candidates, batch_size=case.batch_size, name=out.name,
                   reduction=out.reduction)
    hint = out.hint or case.extra.get("hint_wrong", "")
    head = f"{out.name} {verb(out.name)} wrong"
    if why:
        head += f": {why}"
    elif hint:
        head += f" (hint: {hint})"
    return head + "." + _worst_entry(failing[0], arr.size)


def judge(
    call: Caller,
    fn_name: str,
    cases: Sequence[Case],
    grade_id: str,
    max_points: float,
    what: str,
    shown: str | None = None,
) -> CellResult:
    """Call ``fn_name`` on every case, judge its outputs, award points by case weight.

    ``shown`` is the name used in messages when ``fn_name`` is a driver around the student's
    function (e.g. ``_drv_backward_pass`` around ``backward_pass``).
    """
    total_weight = float(sum(c.weight for c in cases))
    earned = 0.0
    lines: list[str] = []
    for case in cases:
        problems = _run_case(call, fn_name, case)
        if problems:
            text = " ".join(p for p in problems if p)
            if shown:
                text = text.replace(f"`{fn_name}`", f"`{shown}`")
            lines.append(f"✗ {case.label}: {text}")
        else:
            earned += case.weight
            lines.append(f"✓ {case.label}")
    points = max_points * earned / total_weight
    head = (f"{what}: {earned:g} of {total_weight:g} cases right "
            f"({points:.3g} of {max_points:g} points).")
    return CellResult(grade_id, points, max_points, "\n".join([head, *lines]))


def _run_case(call: Caller, fn_name: str, case: Case) -> list[str]:
    args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case.args)
    try:
        result = call(fn_name, *args)
    except StudentCodeError as exc:
        return [failure(fn_name, exc), *(f"(hint: {h})" for h in _error_hints(case, str(exc)))]
    outs = case.outputs
    if len(outs) == 1 and not case.returns_tuple:
        received: tuple[Any, ...] = (result,)
    else:
        names = ", ".join(o.name for o in outs if not o.flags)
        if not isinstance(result, tuple | list) or len(result) != len(outs):
            kind = type(result).__name__
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            n = len([o for o in outs if not o.flags])
            return [f"`{fn_name}` must return a tuple of {n} arrays ({names}); "
                    f"it returned {article} {kind}" + (f" of length {len(result)}"
                                                       if isinstance(result, tuple | list)
                                                       else "")]
        received = tuple(result)
        swapped = _swapped_outputs(outs, received)
        if swapped:
            return [f"the outputs look swapped: return them in the order ({names})"]
    problems: list[str] = []
    for out, value in zip(outs, received, strict=True):
        if not out.judged or (out.followup and problems):
            continue
        if out.flags:
            problems += _judge_flags(out, value)
            continue
        msg = _judge_output(case, out, value)
        if msg:
            problems.append(msg)
    return problems


def failure(fn_name: str, exc: StudentCodeError) -> str:
    """The error ``exc`` of the student's ``fn_name`` as feedback, naming the function once
    (not "`f` failed: `f` raised ...")."""
    text = str(exc)
    return text if text.startswith(f"`{fn_name}`") else f"`{fn_name}` failed: {text}"


def _error_hints(case: Case, error: str) -> list[str]:
    """The hints for an error of the student's code: the case's general hint applies to an
    exception it raised (not to a refusal, a time-out or an exit); a specific hint whose phrase
    the error contains replaces it."""
    specific = [hint for phrase, hint in case.error_hints if phrase in error]
    if specific:
        return specific
    return [case.hint_on_error] if case.hint_on_error and " raised " in error else []


def _swapped_outputs(outs: Sequence[Output], received: Sequence[Any]) -> bool:
    if len(outs) != 2:
        return False
    shapes = [np.shape(v) if isinstance(v, np.ndarray) else None for v in received]
    if outs[0].flags or outs[1].flags:
        return False
    e0, e1 = outs[0].expected.shape, outs[1].expected.shape
    return e0 != e1 and shapes[0] == e1 and shapes[1] == e0
