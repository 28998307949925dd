"""Helpers shared by the exercise tests: reference answers, namespaces and submissions."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "exercises" / "source"
ASSIGNMENTS = ("vjps", "backprop", "autograd", "gradient_problems")

_SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", re.MULTILINE)


@dataclass(frozen=True)
class Entry:
    """One corpus answer: ``source`` replaces the answer cell ``function``.

    For WRONG entries, ``cell`` is the test cell that must lose points, ``expect`` a phrase
    its message must contain and ``absent`` phrases it must not contain (misleading diagnoses;
    case-insensitive).  A WRONG answer also fails the visible self-checks of its cell, unless
    ``visible_gap`` says why they cannot see the mistake (then they must pass: the gap is real).
    """

    id: str
    function: str
    source: str
    cell: str = ""
    expect: str = ""
    absent: tuple[str, ...] = ()
    visible_gap: str = ""


def source_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def reference_answers(assignment: str) -> dict[str, str]:
    """``{answer grade_id: source}`` of the source notebook with the solution markers removed."""
    out = {}
    for cell in source_notebook(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            out[meta["grade_id"]] = _SOLUTION.sub("", cell.source)
    return out


def namespace_for(assignment: str, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the answer cells (reference, with ``overrides``) plus the driver in a fresh namespace."""
    from autograders.core import ASSIGNMENTS

    answers = {**reference_answers(assignment), **(overrides or {})}
    ns: dict[str, Any] = {"__name__": "__student__"}
    for src in answers.values():
        exec(compile(src, "<answer>", "exec"), ns)
    driver = ASSIGNMENTS[assignment].driver_source
    if driver:
        exec(compile(driver, "<driver>", "exec"), ns)
    return ns


def fill_release(release: nbformat.NotebookNode, answers: dict[str, str],
                 extra_cells: list[str] = ()) -> nbformat.NotebookNode:
    """A submission: the release notebook with answer cells replaced and extra code cells."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
    for i, src in enumerate(extra_cells):
        nb.cells.insert(2 + i, nbformat.v4.new_code_cell(src))
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


def corpus(kind: str, assignments: tuple[str, ...] = ASSIGNMENTS) -> list[tuple[str, Entry]]:
    """``(assignment, entry)`` for every ``WRONG`` or ``CORRECT`` entry of the corpora."""
    import importlib

    out = []
    for name in assignments:
        module = importlib.import_module(f"tests.corpora.{name}")
        out += [(name, e) for e in getattr(module, kind)]
    return out


def grade_entry(assignment: str, entry: Entry | None) -> list:
    """The reference solution with ``entry``'s answer swapped in, graded in-kernel as the hidden
    tests do (``hidden.NamespaceCaller``, 3 s per call); ``None``: the reference itself."""
    from autograders import core, hidden

    overrides = {entry.function: entry.source} if entry else {}
    ns = namespace_for(assignment, overrides)
    sources = {**reference_answers(assignment), **overrides}
    return core.grade(assignment, hidden.NamespaceCaller(ns, time_limit=3.0), sources)


def caught(assignment: str, entry: Entry, results: list) -> bool:
    """A WRONG entry is caught when its cell loses points with a message naming the mistake
    (and none of the misleading phrases of ``entry.absent``)."""
    target = {r.grade_id: r for r in results}[entry.cell]
    text = target.message.lower()
    return (target.points < target.max_points and entry.expect.lower() in text
            and not any(a.lower() in text for a in entry.absent))
