"""The exercise checks on corpora of wrong and correct-but-different answers (fast path).

Each corpus answer replaces one answer of the reference solution; the notebook namespace is
graded through ``autograders.core.grade`` with the in-kernel caller (``hidden.NamespaceCaller``),
exactly as the hidden test cells do, without starting a kernel.
"""

from __future__ import annotations

import pytest

from autograders import core
from tests.corpora.tools import ASSIGNMENTS, Entry, corpus, grade_entry


def _answer_of(assignment: str, grade_id: str) -> str:
    return core.ASSIGNMENTS[assignment].check(grade_id).answer_id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(assignment: str) -> None:
    results = grade_entry(assignment, None)
    expected_ids = [c.grade_id for c in core.ASSIGNMENTS[assignment].checks]
    assert [r.grade_id for r in results] == expected_ids
    for r in results:
        assert r.points == r.max_points, r.message


def _id(value: object) -> str:
    return getattr(value, "id", str(value))


@pytest.mark.parametrize(("assignment", "entry"), corpus("WRONG"), ids=_id)
def test_wrong_answer_loses_points_with_named_mistake(assignment: str, entry: Entry) -> None:
    results = {r.grade_id: r for r in grade_entry(assignment, entry)}
    target = results[entry.cell]
    assert target.points < target.max_points, target.message
    assert entry.expect.lower() in target.message.lower(), target.message
    for gid, r in results.items():
        if _answer_of(assignment, gid) != entry.function:  # other answers keep full marks
            assert r.points == r.max_points, (gid, r.message)


@pytest.mark.parametrize(("assignment", "entry"), corpus("CORRECT"), ids=_id)
def test_correct_variant_gets_full_marks(assignment: str, entry: Entry) -> None:
    for r in grade_entry(assignment, entry):
        assert r.points == r.max_points, (r.grade_id, r.message)


def test_corpus_sizes() -> None:
    assert len(corpus("WRONG")) >= 20
    assert len(corpus("CORRECT")) >= 8
