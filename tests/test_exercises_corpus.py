"""The exercise checks on corpora of wrong and correct-but-different answers (fast path).

Each corpus answer replaces one answer of the reference solution; the notebook namespace is
graded through ``autograders.core.grade`` with the in-kernel caller (``hidden.NamespaceCaller``),
exactly as the hidden test cells do, without starting a kernel.
"""

from __future__ import annotations

import importlib

import pytest

from autograders import core, hidden
from tests.corpora.tools import Entry, namespace_for, reference_answers

ASSIGNMENTS = ["vjps", "backprop", "autograd", "gradient_problems"]


def _corpus(kind: str) -> list[tuple[str, Entry]]:
    out = []
    for name in ASSIGNMENTS:
        module = importlib.import_module(f"tests.corpora.{name}")
        out += [(name, e) for e in getattr(module, kind)]
    return out


def _grade(assignment: str, entry: Entry | None) -> list[core.CellResult]:
    overrides = {entry.function: entry.source} if entry else {}
    ns = namespace_for(assignment, overrides)
    sources = {**reference_answers(assignment), **overrides}
    return core.grade(assignment, hidden.NamespaceCaller(ns, time_limit=3.0), sources)


def _answer_of(assignment: str, grade_id: str) -> str:
    return core.ASSIGNMENTS[assignment].check(grade_id).answer_id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(assignment: str) -> None:
    results = _grade(assignment, None)
    expected_ids = [c.grade_id for c in core.ASSIGNMENTS[assignment].checks]
    assert [r.grade_id for r in results] == expected_ids
    for r in results:
        assert r.points == r.max_points, r.message


def _id(value: object) -> str:
    return getattr(value, "id", str(value))


@pytest.mark.parametrize(("assignment", "entry"), _corpus("WRONG"), ids=_id)
def test_wrong_answer_loses_points_with_named_mistake(assignment: str, entry: Entry) -> None:
    results = {r.grade_id: r for r in _grade(assignment, entry)}
    target = results[entry.cell]
    assert target.points < target.max_points, target.message
    assert entry.expect.lower() in target.message.lower(), target.message
    for gid, r in results.items():
        if _answer_of(assignment, gid) != entry.function:  # other answers keep full marks
            assert r.points == r.max_points, (gid, r.message)


@pytest.mark.parametrize(("assignment", "entry"), _corpus("CORRECT"), ids=_id)
def test_correct_variant_gets_full_marks(assignment: str, entry: Entry) -> None:
    for r in _grade(assignment, entry):
        assert r.points == r.max_points, (r.grade_id, r.message)


def test_corpus_sizes() -> None:
    assert len(_corpus("WRONG")) >= 20
    assert len(_corpus("CORRECT")) >= 8
