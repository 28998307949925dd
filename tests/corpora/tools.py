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

_SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", re.MULTILINE)


@dataclass(frozen=True)
class Entry:
    """One corpus answer: ``source`` replaces the answer cell ``function``.

    For WRONG entries, ``cell`` is the test cell that must lose points and ``expect`` a phrase
    its message must contain (case-insensitive).
    """

    id: str
    function: str
    source: str
    cell: str = ""
    expect: str = ""


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
