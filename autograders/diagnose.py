"""Name the likely mistake behind a wrong answer.

:func:`diagnose` compares a received array with the expected one and returns a sentence in plain
words when it recognises the mistake: a flipped sign, a transpose, a missing or extra constant
factor (``2``, ``1/N``, ...), a batch that was not summed, the right numbers in the wrong shape,
or one of the named wrong formulas (``candidates``) that the check computed for this input,
e.g. "only the diagonal of the softmax Jacobian".  It returns ``None`` when nothing matches.

All arithmetic runs in the trusted grader process with the numpy captured at import time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
#: A named wrong answer: (sentence naming the mistake, the array that mistake produces).
Candidate = tuple[str, Array]

__all__ = ["Candidate", "close", "diagnose", "describe_factor", "verb"]


def verb(name: str, singular: str = "is", plural: str = "are") -> str:
    """The verb that agrees with an output's name (``the activation variances are``)."""
    words = name.split()
    last = words[-1] if words else ""
    return plural if last.endswith("s") and not last.endswith("ss") else singular


def close(a: Array, b: Array, rtol: float = 1e-5) -> bool:
    """True when ``a`` and ``b`` have the same shape and agree up to ``rtol`` of their scale."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) <= rtol * scale + 1e-12


def describe_factor(c: float, batch_size: int | None = None) -> str:
    """Plain words for "the answer is ``c`` times the right one"."""
    if batch_size is not None and batch_size > 1:
        if abs(c * batch_size - 1.0) < 1e-6:
            return (f"it is the right answer divided by the batch size N = {batch_size} "
                    "(averaged where the sum over the batch was asked for)")
        if abs(c - batch_size) < 1e-6 * batch_size:
            return f"it is the right answer multiplied by the batch size N = {batch_size}"
    for k in (2.0, 3.0, 4.0):
        if abs(c - k) < 1e-6 * k:
            return f"it is exactly {k:g} times the right answer (an extra factor {k:g})"
        if abs(c * k - 1.0) < 1e-6:
            return f"it is exactly 1/{k:g} of the right answer (a missing factor {k:g})"
    return f"it is the right answer times a constant factor ≈ {c:.4g} (a missing or extra factor)"


def _scalar_multiple(expected: Array, received: Array) -> float | None:
    """The ``c`` with ``received ≈ c · expected``, if there is one (and ``c`` is not 1)."""
    denom = float(np.sum(expected * expected))
    if denom == 0.0:
        return None
    c = float(np.sum(expected * received)) / denom
    if abs(c - 1.0) < 1e-9 or c == 0.0:
        return None
    return c if close(c * expected, received) else None


def diagnose(
    expected: Array,
    received: Array,
    *,
    candidates: Sequence[Candidate] = (),
    batch_size: int | None = None,
    name: str = "the result",
    reduction: str | None = None,
) -> str | None:
    """Return a sentence naming the likely mistake, or ``None`` if none is recognised.

    ``expected`` and ``received`` are float arrays (``received`` may have another shape).
    ``candidates`` are checked first: they are the wrong formulas the check knows for this input
    (when several give the received numbers, all of them are named).
    ``batch_size`` enables the batch diagnoses (not summed over the batch, averaged instead);
    ``reduction`` (``"sum"`` or ``"mean"``) says how the right answer combines the samples.
    """
    e = np.asarray(expected, dtype=np.float64)
    r = np.asarray(received, dtype=np.float64)
    matches = list(dict.fromkeys(
        sentence for sentence, wrong in candidates
        if np.shape(wrong) == r.shape and close(np.asarray(wrong, dtype=np.float64), r)
        and not close(np.asarray(wrong, dtype=np.float64), e)))
    if len(matches) == 1:
        return matches[0]
    if matches:  # several mistakes give these numbers on this input: name them all
        return "it is what either of these mistakes gives: " + "; or ".join(matches)
    if r.shape != e.shape:
        return _diagnose_shape(e, r, batch_size, name, reduction)
    if not np.all(np.isfinite(r)):
        return None
    if not np.any(r) and np.any(e):
        return f"{name} {verb(name)} all zeros"
    if close(-e, r):
        return f"the sign is flipped: {name} {verb(name)} exactly minus the right answer"
    if e.ndim == 2 and e.shape[0] == e.shape[1] and close(e.T, r):
        return f"{name} {verb(name)} transposed (rows and columns swapped)"
    c = _scalar_multiple(e, r)
    if c is not None:
        return describe_factor(c, batch_size)
    if batch_size is not None and e.ndim >= 2 and e.shape[0] == batch_size and batch_size > 1:
        row_ok = [close(e[i], r[i]) for i in range(batch_size)]
        if row_ok[0] and not all(row_ok):
            return ("the first sample is right but later samples are wrong: check the axis you "
                    "reduce over and that every row of the batch is handled separately")
    return None


def _diagnose_shape(e: Array, r: Array, batch_size: int | None, name: str,
                    reduction: str | None = None) -> str:
    base = f"{name} {verb(name, 'has', 'have')} shape {r.shape} but should have shape {e.shape}"
    if e.ndim == 2 and r.shape == e.T.shape and close(e.T, r):
        return f"{base}: it is the transpose of the right answer"
    if batch_size is not None and r.shape == (batch_size, *e.shape):
        per_sample = f"{base}: it holds one value per sample of the batch"
        if close(r.sum(axis=0), e):
            return (f"{per_sample}; {name} {verb(name)} the SUM over the batch of these (batch "
                    "not summed)")
        if close(r.mean(axis=0), e):
            return (f"{per_sample}; {name} {verb(name)} the MEAN over the batch of these (take "
                    "the mean over the samples)")
        if reduction in ("sum", "mean"):
            word = "SUM" if reduction == "sum" else "MEAN"
            return f"{per_sample}; {name} {verb(name)} the {word} over the batch"
        return f"{per_sample} (an extra batch axis of length {batch_size})"
    if r.size == e.size and r.size > 0:
        if close(r.reshape(e.shape), e):
            return f"{base}: the numbers are right, reshape them"
        if close(r.reshape(e.shape, order="F"), e) or close(r.T.reshape(e.shape), e):
            return (f"{base}: the numbers are right but in column-major order; flatten row by "
                    "row (row-major, as W.reshape(-1) does)")
    return base
