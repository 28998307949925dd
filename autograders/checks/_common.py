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
from autograders.diagnose import Candidate, diagnose
from mmids import gradcheck

Array = NDArray[np.float64]

__all__ = ["Case", "Output", "judge", "oracles_agree", "reference_agrees", "rng_for", "to_array"]


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
    """

    name: str
    expected: Array
    fd: Array | None
    candidates: Sequence[Candidate] = ()
    rtol: float = 1e-7
    accept: Callable[[Array], Array] | None = None
    judged: bool = True


@dataclass(frozen=True)
class Case:
    """One call of the student's function and the outputs it must return."""

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


def to_array(value: Any, name: str, float32_ok: bool) -> tuple[Array | None, str | None]:
    """Read one returned value; return ``(array, None)`` or ``(None, plain-words problem)``."""
    if value is None:
        return None, f"{name} is None: did you forget the `return` statement?"
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


def _judge_output(case: Case, out: Output, received: Any) -> str | None:
    """Return None if ``received`` is right, else a plain-words explanation."""
    arr, problem = to_array(received, out.name, case.float32)
    if problem is not None:
        return problem
    assert arr is not None
    e = out.expected
    if arr.shape != e.shape:
        return diagnose(e, arr, candidates=out.candidates, batch_size=case.batch_size,
                        name=out.name)
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        msg = f"{out.name} contains NaN or infinity (first at index {bad})"
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
    why = diagnose(e, arr, candidates=out.candidates, batch_size=case.batch_size, name=out.name)
    lead = failing[0]
    worst = ""
    if lead.worst:
        idx, ev, av = lead.worst[0]
        worst = (f" Worst entry {out.name}[{', '.join(map(str, idx))}]: expected {ev:.8g}, "
                 f"received {av:.8g} ({lead.n_bad} of {arr.size} entries wrong).")
    if case.extra.get("hint_wrong"):
        hint = f"(hint: {case.extra['hint_wrong']})"
        why = f"{why} {hint}" if why else hint
    head = f"{out.name} is wrong" + (f": {why}." if why else ".")
    return head + worst


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
        # the hint is about an exception the code raised, not a refusal, time-out or exit
        hint = case.hint_on_error if " raised " in str(exc) else ""
        return [f"`{fn_name}` failed: {exc}", hint]
    outs = case.outputs
    if len(outs) == 1 and not case.returns_tuple:
        received: tuple[Any, ...] = (result,)
    else:
        names = ", ".join(o.name for o in outs)
        if not isinstance(result, tuple | list) or len(result) != len(outs):
            kind = type(result).__name__
            return [f"`{fn_name}` must return a tuple of {len(outs)} arrays ({names}); "
                    f"it returned a {kind}" + (f" of length {len(result)}"
                                               if isinstance(result, tuple | list) else "")]
        received = tuple(result)
        swapped = _swapped_outputs(outs, received)
        if swapped:
            return [f"the outputs look swapped: return them in the order ({names})"]
    problems = []
    for out, value in zip(outs, received, strict=True):
        if not out.judged:
            continue
        msg = _judge_output(case, out, value)
        if msg:
            problems.append(msg)
    return problems


def _swapped_outputs(outs: Sequence[Output], received: Sequence[Any]) -> bool:
    if len(outs) != 2:
        return False
    shapes = [np.shape(v) if isinstance(v, np.ndarray) else None for v in received]
    e0, e1 = outs[0].expected.shape, outs[1].expected.shape
    return e0 != e1 and shapes[0] == e1 and shapes[1] == e0
