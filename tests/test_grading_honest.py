"""Honest corpus: out-of-kernel scores equal in-notebook scores, cell by cell.

Every answer of the exercise corpora (the reference solution, the typical wrong answers and
the correct variants of ``tests/corpora``) is written into a copy of the source notebook and
graded twice: out of kernel (sandboxed workers, one batch, 2 grader processes) and in the
notebook's namespace with the hidden tests' caller (``autograders.hidden.NamespaceCaller``).
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import nbformat
import pytest

from autograders import core, hidden, sandbox
from autograders.batch import BatchConfig, run_batch
from autograders.sandbox import Limits
from tests.corpora.tools import Entry, namespace_for, reference_answers, source_notebook

ASSIGNMENTS = ["vjps", "backprop", "autograd", "gradient_problems"]

pytestmark = pytest.mark.skipif(sandbox.sandbox_problem() is not None,
                                reason=f"bubblewrap cannot run: {sandbox.sandbox_problem()}")


def _entries(assignment: str) -> list[Entry | None]:
    module = importlib.import_module(f"tests.corpora.{assignment}")
    return [None, *module.WRONG, *module.CORRECT]


def _n_wrong(assignment: str) -> int:
    return len(importlib.import_module(f"tests.corpora.{assignment}").WRONG)


def _write_submission(path: Path, assignment: str, answers: dict[str, str]) -> None:
    nb = copy.deepcopy(source_notebook(assignment))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _in_notebook(assignment: str, entry: Entry | None) -> dict[str, float]:
    overrides = {entry.function: entry.source} if entry else {}
    ns = namespace_for(assignment, overrides)
    sources = {**reference_answers(assignment), **overrides}
    results = core.grade(assignment, hidden.NamespaceCaller(ns, time_limit=5.0), sources)
    return {r.grade_id: r.points for r in results}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_out_of_kernel_scores_equal_in_notebook_scores(assignment: str, tmp_path: Path) -> None:
    entries = _entries(assignment)
    names = {}
    for k, entry in enumerate(entries):
        student = f"e{k:03d}_" + (entry.id if entry else "reference")
        names[student] = entry
        answers = {**reference_answers(assignment),
                   **({entry.function: entry.source} if entry else {})}
        _write_submission(tmp_path / "submitted" / student / assignment / f"{assignment}.ipynb",
                          assignment, answers)
    report = run_batch(assignment, tmp_path / "submitted",
                       BatchConfig(f"sqlite:///{tmp_path / 'g.db'}", Limits(call_seconds=5.0)),
                       workers=2, progress=False)
    assert len(report.graded) == len(entries)
    mismatches = []
    for row in report.graded:
        out_of_kernel = {c["grade_id"]: c["points"] for c in row["cells"]}
        in_notebook = _in_notebook(assignment, names[row["student"]])
        if out_of_kernel != in_notebook:
            mismatches.append((row["student"], out_of_kernel, in_notebook))
    assert mismatches == []
    reference = next(r for r in report.graded if r["student"].endswith("reference"))
    assert reference["score"] == reference["max_score"] == core.ASSIGNMENTS[assignment].max_points
    # the corpus is not trivial: every wrong answer loses points (on both paths)
    assert sum(r["score"] < r["max_score"] for r in report.graded) >= _n_wrong(assignment)
