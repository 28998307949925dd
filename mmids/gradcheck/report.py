"""Comparing two arrays entry by entry: ``relative_error``, ``compare`` and ``CheckReport``.

The comparisons are safe near zero (errors are measured against the scale of the whole array
or against ``atol + rtol · max(|e|, |a|)``) and a report names the worst entries by index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["CheckReport", "assert_close", "compare", "relative_error"]

Array = NDArray[np.float64]
Index = tuple[int, ...]


def _abs_diff(e: Array, a: Array) -> Array:
    """``|e − a|`` with equal entries (including equal infinities) at 0 and NaN as ``inf``."""
    with np.errstate(invalid="ignore"):
        d = np.abs(e - a)
    d = np.where(e == a, 0.0, d)
    return np.where(np.isnan(d), np.inf, d)


def relative_error(expected: ArrayLike, actual: ArrayLike, floor: float = 1e-8) -> float:
    """``max_i |e_i − a_i| / max(max_i |e_i|, max_i |a_i|, floor)``.

    The error is measured against the scale of the whole array, so entries that are (nearly)
    zero do not blow it up, and ``floor`` keeps it finite when both arrays are zero. Any NaN
    (or an infinity in one array only) gives ``inf``. Shapes must agree.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"shape mismatch: expected {e.shape}, actual {a.shape}")
    if e.size == 0:
        return 0.0
    d = _abs_diff(e, a)
    num = float(np.max(d))
    if not np.isfinite(num):
        return float("inf")
    scale = max(float(np.max(np.abs(e))), float(np.max(np.abs(a))), floor)
    return num / scale


@dataclass
class CheckReport:
    """Outcome of a numerical comparison.

    ``ok`` is True when every entry satisfies ``|e − a| ≤ atol + rtol · max(|e|, |a|)``.
    ``worst`` lists ``(index, expected, actual)`` for the entries that violate this most (by
    the ratio of ``|e − a|`` to the allowance), ``index`` being a tuple into the array.
    A composite report (from ``check_vjp`` and friends) keeps its sub-checks in ``parts``.
    ``hints`` holds plain-words diagnoses (e.g. "sign flipped"), filled by ``mmids.check``.
    ``str(report)`` is a readable summary that names the worst entries; ``report.summary()``
    is one line (``✓ name matches finite differences (max error 3e-11)``), which is also how a
    notebook displays a report that ends a cell.
    """

    name: str
    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst: list[tuple[Index, float, float]] = field(default_factory=list)
    shape: tuple[int, ...] | None = None
    rtol: float = 0.0
    atol: float = 0.0
    n_bad: int = 0
    message: str = ""
    expected_label: str = "expected"
    actual_label: str = "actual"
    parts: list[CheckReport] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"CheckReport(name={self.name!r}, ok={self.ok}, "
            f"max_abs_error={self.max_abs_error:.3g}, max_rel_error={self.max_rel_error:.3g})"
        )

    def summary(self) -> str:
        """One human line: ``✓``/``✗``, the name, what it was compared with, the largest error.

        E.g. ``✓ relu_vjp matches finite differences (max error 3e-11)``. This is what a
        notebook shows for a report that is the value of a cell (``_repr_pretty_``).
        """
        name = self.name or "the result"
        if not self.ok and self.message and not self.worst:
            return f"✗ {name}: {self.message}"
        against = self._against()
        if self.ok:
            return f"✓ {name} matches {against} (max error {_num(self.max_abs_error, 2)})"
        total = int(np.prod(self.shape)) if self.shape is not None else 0
        return (f"✗ {name} does not match {against}: {self.n_bad} of {total} "
                f"{'entry differs' if total == 1 else 'entries differ'} "
                f"(max error {_num(self.max_abs_error, 2)})")

    def _against(self) -> str:
        labels = [p.expected_label for p in self.parts] if self.parts else [self.expected_label]
        names = list(dict.fromkeys("the expected values" if lab == "expected" else lab
                                   for lab in labels))
        return " and ".join(names)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython / Jupyter display: the one-line :meth:`summary`, not the dataclass fields."""
        printer.text(self.summary())

    def __bool__(self) -> bool:
        return self.ok

    def assert_ok(self) -> CheckReport:
        """Raise ``AssertionError(str(self))`` unless the check passed; return ``self``."""
        if not self.ok:
            raise AssertionError(str(self))
        return self

    @classmethod
    def combine(cls, name: str, parts: Sequence[CheckReport]) -> CheckReport:
        """One report for several checks: ok iff all are; the worst entries of the worst part."""
        parts = list(parts)
        if not parts:
            raise ValueError("CheckReport.combine needs at least one report")
        failing = [r for r in parts if not r.ok]
        lead = max(failing or parts, key=lambda r: _nan_to_inf(r.max_rel_error))
        return cls(
            name=name,
            ok=not failing,
            max_abs_error=max(_nan_to_inf(r.max_abs_error) for r in parts),
            max_rel_error=max(_nan_to_inf(r.max_rel_error) for r in parts),
            worst=list(lead.worst),
            shape=lead.shape,
            n_bad=sum(r.n_bad for r in parts),
            message=lead.message,
            parts=parts,
        )

    def _headline(self) -> str:
        status = "ok" if self.ok else "FAIL"
        title = f"[{status}] {self.name}" if self.name else f"[{status}]"
        return f"{title}: {self._body()}"

    def _body(self) -> str:
        """The headline without its ``[ok] name`` title."""
        if self.message and not self.worst:
            return self.message
        errors = (f"max abs error {_num(self.max_abs_error)}, "
                  f"max rel error {_num(self.max_rel_error)}")
        if self.ok:
            return (f"{self.actual_label} matches {self.expected_label}, shape {self.shape} "
                    f"({errors})")
        total = int(np.prod(self.shape)) if self.shape is not None else 0
        return (f"{self.n_bad} of {total} entries differ ({self.actual_label} vs "
                f"{self.expected_label}, shape {self.shape}: {errors}; tolerance "
                f"rtol={self.rtol:g}, atol={self.atol:g})")

    def failure_lines(self) -> list[str]:
        """What went wrong, without titles: one line per failing comparison and its worst
        entries, then the hints (empty for a passing report)."""
        if self.ok:
            return []
        lines: list[str] = []
        for part in [p for p in self.parts if not p.ok] or [self]:
            lines += [part._body(), *(line[2:] for line in part._worst_lines())]
            lines += [f"hint: {h}" for h in part.hints if part is not self]
        return lines + [f"hint: {h}" for h in self.hints]

    def _worst_lines(self) -> list[str]:
        if not self.worst:
            return []
        lines = ["  worst entries:"]
        for idx, e, a in self.worst:
            diff = abs(e - a) if np.isfinite(e - a) else float("nan")
            lines.append(
                f"    {idx}: {self.expected_label} {_num(e, 10)}, {self.actual_label} "
                f"{_num(a, 10)} (difference {_num(diff)})"
            )
        return lines

    def __str__(self) -> str:
        if self.parts:
            status = "ok" if self.ok else "FAIL"
            title = f"[{status}] {self.name}" if self.name else f"[{status}]"
            n = len(self.parts)
            lines = [f"{title}: {n} check{'' if n == 1 else 's'}"]
            for part in self.parts:
                lines += ["  " + line for line in str(part).splitlines()]
        else:
            lines = [self._headline()]
            if not self.ok:
                lines += self._worst_lines()
        lines += [f"  hint: {h}" for h in self.hints]
        return "\n".join(lines)


def _num(v: float, digits: int = 3) -> str:
    """``v`` with ``digits`` significant digits; ``-0`` is shown as ``0``."""
    text = f"{v:.{digits}g}"
    return "0" if text == "-0" else text


def _nan_to_inf(v: float) -> float:
    return float("inf") if np.isnan(v) else v


def compare(
    expected: ArrayLike,
    actual: ArrayLike,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    name: str = "",
    n_worst: int = 5,
    expected_label: str = "expected",
    actual_label: str = "actual",
) -> CheckReport:
    """Compare two arrays entry by entry and return a ``CheckReport``.

    Entry ``i`` passes when ``|e_i − a_i| ≤ atol + rtol · max(|e_i|, |a_i|)``; NaN never
    passes. A shape mismatch (or something that is not an array of numbers) gives a failing
    report whose message says so in plain words. The ``n_worst`` entries with the largest ratio
    ``|e_i − a_i| / (atol + rtol · max(|e_i|, |a_i|))`` are listed in ``worst``.
    """
    labels = {"expected_label": expected_label, "actual_label": actual_label}
    try:
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return CheckReport(
            name, False, float("inf"), float("inf"), rtol=rtol, atol=atol,
            message=f"could not read the values as arrays of numbers ({exc})", **labels,
        )
    if e.shape != a.shape:
        return CheckReport(
            name, False, float("inf"), float("inf"), shape=e.shape, rtol=rtol, atol=atol,
            message=(
                f"shape mismatch: {expected_label} has shape {e.shape} "
                f"but {actual_label} has shape {a.shape}"
            ),
            **labels,
        )
    if e.size == 0:
        return CheckReport(name, True, 0.0, 0.0, shape=e.shape, rtol=rtol, atol=atol, **labels)
    d = _abs_diff(e, a)
    allowance = atol + rtol * np.maximum(np.abs(e), np.abs(a))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(d == 0, 0.0, d / allowance)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    bad = ratio > 1.0
    n_bad = int(np.count_nonzero(bad))
    order = np.argsort(-ratio, axis=None, kind="stable")[: max(n_worst, 0)]
    # failing: only the entries out of tolerance; passing: the closest calls, for information
    threshold = 1.0 if n_bad else 0.0
    worst = [
        (tuple(int(i) for i in np.unravel_index(k, e.shape)), float(e.flat[k]), float(a.flat[k]))
        for k in order
        if ratio.flat[k] > threshold
    ]
    return CheckReport(
        name=name,
        ok=n_bad == 0,
        max_abs_error=float(np.max(d)),
        max_rel_error=relative_error(e, a),
        worst=worst,
        shape=e.shape,
        rtol=rtol,
        atol=atol,
        n_bad=n_bad,
        **labels,
    )


def assert_close(expected: ArrayLike, actual: ArrayLike, **kw: Any) -> CheckReport:
    """``compare(expected, actual, **kw)``; raise ``AssertionError(str(report))`` if it fails."""
    return compare(expected, actual, **kw).assert_ok()
