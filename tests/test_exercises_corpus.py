"""The exercise checks on corpora of wrong and correct-but-different answers (fast path).

Each corpus answer replaces one answer of the reference solution; the notebook namespace is
graded through ``autograders.core.grade`` with the in-kernel caller (``hidden.NamespaceCaller``),
exactly as the hidden test cells do, without starting a kernel.  The same answers go through
what the student sees before submitting (``tests.corpora.visible``: the self-check cells and
the visible part of the graded cells): a wrong answer that loses hidden points must fail a
visible check of its own cell, a correct one must pass them all, and the visible checks draw
other inputs than the hidden tests.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from autograders import core
from tests.corpora.tools import ASSIGNMENTS, Entry, corpus, grade_entry
from tests.corpora.visible import Recorder, run_visible


@functools.cache
def _graded(assignment: str, entry: Entry | None) -> tuple:
    """The hidden tests' results for ``entry`` (computed once per test session)."""
    return tuple(grade_entry(assignment, entry))


def _answer_of(assignment: str, grade_id: str) -> str:
    return core.ASSIGNMENTS[assignment].check(grade_id).answer_id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(assignment: str) -> None:
    results = _graded(assignment, None)
    expected_ids = [c.grade_id for c in core.ASSIGNMENTS[assignment].checks]
    assert [r.grade_id for r in results] == expected_ids
    for r in results:
        assert r.points == r.max_points, r.message


def _id(value: object) -> str:
    return getattr(value, "id", str(value))


@pytest.mark.parametrize(("assignment", "entry"), corpus("WRONG"), ids=_id)
def test_wrong_answer_loses_points_with_named_mistake(assignment: str, entry: Entry) -> None:
    results = {r.grade_id: r for r in _graded(assignment, entry)}
    target = results[entry.cell]
    assert target.points < target.max_points, target.message
    assert entry.expect.lower() in target.message.lower(), target.message
    for phrase in entry.absent:  # a diagnosis that does not fit this mistake
        assert phrase.lower() not in target.message.lower(), (phrase, target.message)
    for gid, r in results.items():
        if _answer_of(assignment, gid) != entry.function:  # other answers keep full marks
            assert r.points == r.max_points, (gid, r.message)


@pytest.mark.parametrize(("assignment", "entry"), corpus("CORRECT"), ids=_id)
def test_correct_variant_gets_full_marks(assignment: str, entry: Entry) -> None:
    for r in _graded(assignment, entry):
        assert r.points == r.max_points, (r.grade_id, r.message)


def test_corpus_sizes() -> None:
    assert len(corpus("WRONG")) >= 20
    assert len(corpus("CORRECT")) >= 8


# ------------------------------------------------------------------ what the student sees


@pytest.mark.parametrize(("assignment", "entry"), corpus("WRONG"), ids=_id)
def test_wrong_answer_fails_the_visible_checks_of_its_cell(assignment: str,
                                                           entry: Entry) -> None:
    """No wrong answer prints PASSED everywhere and then loses points in the hidden tests."""
    lost = [r.grade_id for r in _graded(assignment, entry) if r.points < r.max_points]
    runs = run_visible(assignment, {entry.function: entry.source}, only_answer=entry.function)
    assert runs, f"no visible check follows the answer cell {entry.function}"
    failed = [r for r in runs if r.failed]
    if entry.visible_gap:  # documented: the visible checks cannot see this mistake
        assert lost and not failed, [(r.grade_id, r.output, r.error) for r in failed]
        return
    assert lost, "the hidden tests take no points"
    assert failed, (f"{entry.id} passes every visible check of `{entry.function}` but loses "
                    f"points on {lost}:\n" + "\n".join(r.output for r in runs))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_passes_every_visible_check(assignment: str) -> None:
    runs = run_visible(assignment)
    assert {r.kind for r in runs} == {"selfcheck", "test"}
    assert [(r.grade_id, r.output, r.error) for r in runs if r.failed] == []
    checked = {r.answer for r in runs if r.kind == "selfcheck" and "PASSED" in r.output}
    # every answer has a self-check that really checks something
    assert checked == set(core.ASSIGNMENTS[assignment].answer_ids)


@pytest.mark.parametrize(("assignment", "entry"), corpus("CORRECT"), ids=_id)
def test_correct_variant_passes_the_visible_checks(assignment: str, entry: Entry) -> None:
    runs = run_visible(assignment, {entry.function: entry.source}, only_answer=entry.function)
    assert [(r.grade_id, r.output, r.error) for r in runs if r.failed] == []


class _RecordingCaller:
    """The hidden tests' caller, keeping every input it passes to the student's code."""

    def __init__(self, call: object, recorder: Recorder) -> None:
        self.call, self.recorder = call, recorder

    def __call__(self, name: str, *args: object) -> object:
        self.recorder.add(args)
        return self.call(name, *args)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_checks_use_other_inputs_than_the_hidden_tests(assignment: str) -> None:
    from autograders import hidden
    from tests.corpora.tools import namespace_for, reference_answers

    seen = Recorder()
    run_visible(assignment, recorder=seen)
    graded = Recorder()
    ns = namespace_for(assignment)
    core.grade(assignment, _RecordingCaller(hidden.NamespaceCaller(ns, 5.0), graded),
               reference_answers(assignment))
    assert len(seen.arrays) >= 5 and len(graded.arrays) >= 5
    same = [v.shape for v in seen.arrays for h in graded.arrays
            if v.shape == h.shape and np.allclose(v, h)]
    assert same == [], f"the visible checks reuse hidden inputs of shapes {same}"
    assert not set(seen.scalar_calls) & set(graded.scalar_calls)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_self_check_cells_show_only_their_printed_lines(assignment: str) -> None:
    """A cell's last bare expression is displayed as ``Out[]``: each self-check cell ends with a
    statement or with ``;``, so a student sees the PASSED/FAILED lines and nothing else."""
    import ast

    from tests.corpora.tools import source_notebook

    cells = [c for c in source_notebook(assignment).cells
             if c.metadata["nbgrader"]["grade_id"].startswith("selfcheck")]
    assert cells
    for cell in cells:
        last = ast.parse(cell.source).body[-1]
        shown = isinstance(last, ast.Expr) and not cell.source.rstrip().endswith(";")
        assert not shown, (cell.metadata["nbgrader"]["grade_id"], cell.source[-200:])
