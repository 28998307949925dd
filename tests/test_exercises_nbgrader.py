"""The full nbgrader cycle on a temporary copy of the course (release, autograde, feedback, export).

One ``nbgrader autograde`` batch grades: a blank release notebook, the reference solutions, a
notebook of wrong answers (one per function; the whole corpora, correct variants included, go
through the same in-kernel caller in ``test_exercises_corpus.py``), and four hostile
submissions (an infinite loop, ``os._exit``, a syntax error, monkeypatching of numpy and
mmids.gradcheck).  Each must score what it deserves without stopping the batch; the
release and the feedback must not leak solutions or hidden tests.

The course commands are checked on the same run: ``autograde`` prints nbgrader's whole error
for a notebook whose kernel dies and a table of grades; ``export`` records the student folders
with no notebook or a misnamed one (0 and the reason); the feedback page renders its math with
the course's MathJax in Chromium and names each test in its table of contents; every release
folder holds the student bundle.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from autograders import course
from tests.corpora import vjps as corpus
from tests.corpora.tools import REPO, fill_release, reference_answers

pytestmark = pytest.mark.slow

A = "vjps"
MAX = 15.0
OTHERS = ("backprop", "autograd", "gradient_problems")
ALL = (A, *OTHERS)

WRONG_IDS = ["dW-transposed", "sigmoid-value-not-derivative", "relu-times-value",
             "tanh-square-missing", "softmax-diagonal-only", "ce-labels-missing",
             "sce-overflow", "kron-order"]

LOOP = """
import numpy as np


def relu_vjp(t, p):
    t = np.asarray(t)
    while t.size > 20:  # hangs on the larger hidden inputs only
        pass
    return np.where(t > 0, p, 0.0)
"""
CRASH = """
import os
import numpy as np


def softmax_vjp(z, p):
    if np.ndim(z) == 2 and len(z) == 4:
        os._exit(3)  # would kill the kernel on one of the hidden batches
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    g = e / e.sum(axis=-1, keepdims=True)
    return g * (p - np.sum(g * p, axis=-1, keepdims=True))
"""
# Correct answers that write to stderr: a warning and a print (nbgrader zeroes a graded cell
# whose output has stderr, so the visible and hidden tests must keep it off stderr).
NOISY = """
import sys
import warnings
import numpy as np


def sigmoid_vjp(t, p):
    warnings.warn("computing a sigmoid")
    print("debug: sigmoid_vjp called", file=sys.stderr)
    s = 1 / (1 + np.exp(-t))
    return s * (1 - s) * p
"""
SYNTAX = """
import numpy as np


def tanh_vjp(t, p)
    return (1 - np.tanh(t) ** 2) * p
"""
PATCH_CELL = """
import numpy, mmids.gradcheck
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
numpy.max = lambda *a, **k: 0.0

class _Ok:
    ok = True
    worst = []
    n_bad = 0

mmids.gradcheck.compare = lambda *a, **k: _Ok()
"""


def _entry(entries: list, eid: str):
    return next(e for e in entries if e.id == eid)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "exercises" / "source", root / "source")
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "nbgrader_config.py").write_text(
        (root / "nbgrader_config.py").read_text() + "\nc.Execute.timeout = 20\n")

    t0 = time.perf_counter()
    for name in ALL:
        assert course.release(root, name) == 0, name
    release_nb = nbformat.read(root / "release" / A / f"{A}.ipynb", as_version=4)

    ref = reference_answers(A)
    wrong = {e.function: e.source for e in (_entry(corpus.WRONG, i) for i in WRONG_IDS)}
    submissions = {
        "blank": fill_release(release_nb, {}),
        "reference": fill_release(release_nb, ref),
        "wrong": fill_release(release_nb, {**ref, **wrong}),
        "loop": fill_release(release_nb, {**ref, "relu_vjp": LOOP}),
        "crash": fill_release(release_nb, {**ref, "softmax_vjp": CRASH}),
        "syntax": fill_release(release_nb, {**ref, "tanh_vjp": SYNTAX}),
        "noisy": fill_release(release_nb, {**ref, "sigmoid_vjp": NOISY}),
        "patch": fill_release(release_nb, {**ref, "softmax_vjp": _entry(
            corpus.WRONG, "softmax-diagonal-only").source}, extra_cells=[PATCH_CELL]),
    }
    for student, nb in submissions.items():
        target = root / "submitted" / student / A
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{A}.ipynb")
    # A kernel killed by an ordinary cell: nbgrader cannot grade the notebook at all.
    (root / "submitted" / "dies" / A).mkdir(parents=True)
    nbformat.write(fill_release(release_nb, ref, extra_cells=["import os\nos._exit(1)"]),
                   root / "submitted" / "dies" / A / f"{A}.ipynb")
    (root / "submitted" / "misnamed" / A).mkdir(parents=True)
    nbformat.write(submissions["reference"], root / "submitted" / "misnamed" / A / "answers.ipynb")
    (root / "submitted" / "empty" / A).mkdir(parents=True)
    for name in OTHERS:  # the reference solutions of the other assignments, graded in-kernel
        rel = nbformat.read(root / "release" / name / f"{name}.ipynb", as_version=4)
        target = root / "submitted" / "reference" / name
        target.mkdir(parents=True)
        nbformat.write(fill_release(rel, reference_answers(name)), target / f"{name}.ipynb")
    t1 = time.perf_counter()
    autograde = _run(course.autograde, root, A)
    t2 = time.perf_counter()
    for name in OTHERS:
        course.nbgrader(root, "autograde", name, "--force", timeout=300)
    feedback = _run(course.feedback, root, A)
    assert feedback["code"] == 0, feedback["err"]
    export = _run(course.export, root)
    assert export["code"] == 0, export["err"]
    with open(root / "grades.csv") as fh:
        rows = list(csv.DictReader(fh))
    scores = {r["student_id"]: float(r["score"]) for r in rows if r["assignment"] == A}
    others = {r["assignment"]: (float(r["score"]), float(r["max_score"])) for r in rows
              if r["assignment"] != A and r["student_id"] == "reference"}
    cells = {}
    for student in submissions:
        path = root / "autograded" / student / A / f"{A}.ipynb"
        if path.exists():
            cells[student] = _cell_outputs(nbformat.read(path, as_version=4))
    print(f"\nnbgrader autograde: {len(submissions)} submissions in {t2 - t1:.1f} s "
          f"({(t2 - t1) / len(submissions):.1f} s per submission); release took {t1 - t0:.1f} s")
    return {"root": root, "scores": scores, "cells": cells, "rows": rows,
            "n": len(submissions), "others": others, "submissions": submissions,
            "autograde": autograde, "feedback": feedback, "export": export}


def _run(command, *args) -> dict:
    """A course command called in-process: its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = command(*args)
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


def _cell_outputs(nb: nbformat.NotebookNode) -> dict[str, dict]:
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        points = None
        for o in cell.outputs:
            if o.output_type == "execute_result":
                points = float(o["data"]["text/plain"])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        stderr = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        out[meta["grade_id"]] = {"text": text, "points": points, "error": bool(errors),
                                 "stderr": bool(stderr), "max": meta["points"]}
    return out


@pytest.mark.parametrize("name", ALL)
def test_release_has_no_solutions_or_hidden_tests(graded: dict, name: str) -> None:
    text = (graded["root"] / "release" / name / f"{name}.ipynb").read_text()
    snippets = course.solution_snippets(graded["root"], name)
    assert snippets, "the leak check needs solution lines to look for"
    assert course.leaks(text, snippets) == []
    assert "raise NotImplementedError()" in text


@pytest.mark.parametrize("name", OTHERS)
def test_reference_solutions_of_other_assignments_get_full_marks(graded: dict, name: str) -> None:
    score, max_score = graded["others"][name]
    assert max_score > 0 and score == max_score


def test_blank_scores_zero_and_reference_full(graded: dict) -> None:
    assert graded["scores"]["blank"] == 0.0
    assert graded["scores"]["reference"] == MAX
    for gid, cell in graded["cells"]["reference"].items():
        assert cell["points"] == cell["max"] and not cell["stderr"], (gid, cell["text"])


def test_wrong_answers_lose_points_on_their_cell_with_named_mistake(graded: dict) -> None:
    cells = graded["cells"]["wrong"]
    for eid in WRONG_IDS:
        entry = _entry(corpus.WRONG, eid)
        cell = cells[entry.cell]
        lost = cell["error"] or (cell["points"] is not None and cell["points"] < cell["max"])
        assert lost, (eid, cell)
        if not cell["error"]:  # a visible-test failure shows the assertion instead
            assert entry.expect.lower() in cell["text"].lower(), (eid, cell["text"])
    assert graded["scores"]["wrong"] < MAX / 2


def test_infinite_loop_loses_only_the_hanging_cases(graded: dict) -> None:
    cells = graded["cells"]["loop"]
    relu = cells["test_relu_vjp"]
    assert 0 < relu["points"] < relu["max"]
    assert "did not return within" in relu["text"]
    assert graded["scores"]["loop"] == MAX - relu["max"] + relu["points"]


def test_crash_loses_only_the_crashing_cases(graded: dict) -> None:
    # os._exit inside a graded call is refused (the kernel lives on): the crashing cases earn
    # nothing, the other cases and cells keep their points, and the batch goes on.
    from autograders import core, hidden
    from tests.corpora.tools import namespace_for

    spec = core.ASSIGNMENTS[A]
    softmax = graded["cells"]["crash"]["test_softmax_vjp"]
    deserved = core.run_check(spec, spec.check("test_softmax_vjp"), hidden.NamespaceCaller(
        namespace_for(A, {"softmax_vjp": CRASH}))).points
    assert 0 < deserved < softmax["max"]
    assert softmax["points"] == pytest.approx(deserved), softmax["text"]
    assert "os._exit" in softmax["text"]
    assert graded["scores"]["crash"] == pytest.approx(MAX - softmax["max"] + deserved)
    assert set(graded["scores"]) >= {"blank", "reference", "wrong", "loop", "syntax", "patch"}


def test_stderr_from_correct_answers_costs_nothing(graded: dict) -> None:
    assert graded["scores"]["noisy"] == MAX
    sigmoid = graded["cells"]["noisy"]["test_sigmoid_vjp"]
    assert not sigmoid["stderr"] and "computing a sigmoid" in sigmoid["text"]


@pytest.mark.parametrize("student", ["reference", "wrong", "loop", "syntax", "noisy", "patch"])
def test_out_of_kernel_grades_as_nbgrader_does(graded: dict, student: str, tmp_path) -> None:
    # The same submitted notebook, graded out of kernel in the sandbox: every graded cell that
    # nbgrader could score (no visible-test failure) gets the same points.
    from autograders.batch import grade_submission

    path = graded["root"] / "submitted" / student / A / f"{A}.ipynb"
    result = grade_submission(A, path)
    out_of_kernel = {r.grade_id: r.points for r in result.results}
    compared = 0
    for gid, cell in graded["cells"][student].items():
        if cell["error"]:
            continue
        assert out_of_kernel[gid] == pytest.approx(cell["points"]), (student, gid, cell["text"])
        compared += 1
    assert compared >= 5


def test_syntax_error_costs_only_its_function(graded: dict) -> None:
    cells = graded["cells"]["syntax"]
    assert cells["test_tanh_vjp"]["error"] or cells["test_tanh_vjp"]["points"] == 0
    assert graded["scores"]["syntax"] == MAX - cells["test_tanh_vjp"]["max"]


def test_monkeypatching_gains_nothing(graded: dict) -> None:
    from autograders import core, hidden
    from tests.corpora.tools import namespace_for

    entry = _entry(corpus.WRONG, "softmax-diagonal-only")
    spec = core.ASSIGNMENTS[A]
    honest = core.run_check(spec, spec.check("test_softmax_vjp"), hidden.NamespaceCaller(
        namespace_for(A, {entry.function: entry.source})))
    softmax = graded["cells"]["patch"]["test_softmax_vjp"]
    # Exactly what the same answer earns without the monkeypatching.
    assert softmax["points"] == pytest.approx(honest.points), softmax["text"]
    assert softmax["points"] < softmax["max"]
    assert "only the diagonal" in softmax["text"]
    assert graded["scores"]["patch"] == pytest.approx(MAX - softmax["max"] + honest.points)


def test_no_stderr_in_any_test_cell(graded: dict) -> None:
    for student, cells in graded["cells"].items():
        for gid, cell in cells.items():
            assert not cell["stderr"], (student, gid, cell["text"])


def test_feedback_has_messages_but_no_hidden_tests(graded: dict) -> None:
    html_path = graded["root"] / "feedback" / "wrong" / A / f"{A}.html"
    text = html_path.read_text()
    assert "only the diagonal" in text
    assert not re.search(r"BEGIN HIDDEN TESTS|autograders\.hidden", text)


# ------------------------------------------------------------------------- course commands
def test_autograde_shows_the_whole_error_of_a_dead_kernel(graded: dict) -> None:
    run = graded["autograde"]
    assert run["code"] == 1  # one submitted notebook could not be graded
    err = run["err"]
    section = err[err.index("nbgrader could not grade student dies:"):]
    assert "Traceback (most recent call last):" in section
    assert "DeadKernelError" in section  # the end of the traceback, not only its first line
    # Missing notebooks are not nbgrader failures: they are in the table, with the reason.
    assert "could not grade student misnamed" not in err
    # nbgrader's whole log is kept under the course, and the command says where.
    log = graded["root"] / "logs" / f"autograde-{A}.log"
    assert f"nbgrader's log: {log}" in run["out"]
    assert "DeadKernelError" in log.read_text()
    assert "grading reference (" in err  # progress, one line per student


def test_autograde_prints_every_student_and_score(graded: dict) -> None:
    lines = {line.split()[1]: line for line in graded["autograde"]["out"].splitlines()
             if line.startswith(f"{A} ")}
    assert set(lines) == set(graded["scores"]) | {"dies", "misnamed", "empty"}
    for student, score in graded["scores"].items():
        assert f" {score:g} / {MAX:g}" in lines[student], lines[student]
    assert "Kernel died" in lines["dies"]
    assert "no notebook named `vjps.ipynb` was submitted (the folder holds: answers.ipynb)" \
        in lines["misnamed"]
    assert "(the folder is empty)" in lines["empty"]


def test_export_records_missing_notebooks_with_the_reason(graded: dict) -> None:
    rows = {r["student_id"]: r for r in graded["rows"] if r["assignment"] == A}
    for student in ("dies", "misnamed", "empty"):
        assert float(rows[student]["score"]) == 0.0 and rows[student]["max_score"] == "15.0"
    assert rows["misnamed"]["note"] == ("no notebook named `vjps.ipynb` was submitted "
                                        "(the folder holds: answers.ipynb)")
    assert rows["empty"]["note"] == "no notebook named `vjps.ipynb` was submitted (the folder " \
        "is empty)"
    assert rows["dies"]["note"].startswith("nbgrader could not grade it: Kernel died")
    assert rows["reference"]["note"] == "" and rows["blank"]["note"] == ""
    # Students of vjps only show up for the other assignments as "nothing was submitted".
    others = [r for r in graded["rows"] if r["assignment"] == "backprop"]
    assert {r["student_id"] for r in others if r["note"] == ""} == {"reference"}
    assert all(r["note"] == "nothing was submitted for `backprop`" and float(r["score"]) == 0
               for r in others if r["student_id"] != "reference")
    assert str(graded["root"] / "grades.csv") in graded["export"]["out"]


def test_export_writes_nothing_in_the_current_directory(graded: dict, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = _run(course.main, ["--course", str(graded["root"]), "export"])
    assert run["code"] == 0, run["err"]
    assert list(tmp_path.iterdir()) == []
    assert f"to {graded['root'] / 'grades.csv'}" in run["out"]


def test_every_release_folder_holds_the_student_bundle(graded: dict) -> None:
    for name in ALL:
        folder = graded["root"] / "release" / name
        (wheel,) = folder.glob("mmids-*-py3-none-any.whl")
        requirements = (folder / "requirements.txt").read_text().splitlines()
        assert f"./{wheel.name}" in requirements
        assert any(line.startswith("jupyterlab==") for line in requirements)


def test_feedback_says_where_the_pages_are(graded: dict) -> None:
    out = graded["feedback"]["out"]
    assert f"feedback/reference/{A}/{A}.html" in out
    assert "none: no notebook named `vjps.ipynb`" in out  # misnamed: no page, and why
    assert str(graded["root"] / "feedback" / "_mathjax") in out


def test_feedback_table_of_contents_names_each_test(graded: dict) -> None:
    html = (graded["root"] / "feedback" / "wrong" / A / f"{A}.html").read_text()
    toc = html[html.index('<div id="toc">'):]
    toc = toc[:toc.index("</div>")]
    links = re.findall(r'<a href="#([^"]+)">(.*?)</a>', toc)
    tests = [gid for gid in graded["cells"]["wrong"]]
    assert [gid for gid, _ in links] == tests
    assert [text for _, text in links] == [f"<code>{gid}</code>" for gid in tests]
    assert "Test cell" not in toc


_VISIBLE_MATH_JS = r"""
const raw = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .output_text';
for (let t = walker.nextNode(); t; t = walker.nextNode()) {
  if (!t.nodeValue.includes('$')) continue;
  if (t.parentElement && t.parentElement.closest(skip)) continue;
  raw.push(t.nodeValue.trim().slice(0, 80));
}
return {rendered: document.querySelectorAll('mjx-container').length,
        errors: document.querySelectorAll('mjx-merror').length,
        script: document.getElementById('MathJax-script').getAttribute('src'),
        raw: raw};
"""


def test_feedback_math_renders_in_chromium(graded: dict, request: pytest.FixtureRequest) -> None:
    from tests.site_check import _WAIT_JS, chromium, screenshot_dir, serve

    folder = graded["root"] / "feedback"
    with serve(folder) as base, chromium() as driver:
        driver.get(f"{base}wrong/{A}/{A}.html")
        assert driver.execute_async_script(_WAIT_JS) == "mathjax"
        math = driver.execute_script(_VISIBLE_MATH_JS)
        console = [e["message"] for e in driver.get_log("browser")
                   if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
        shots = screenshot_dir(REPO / "_build" / "html", request.config.getoption("screenshots"))
        if shots is not None:
            from tests.site_check import save_full_page_screenshot

            save_full_page_screenshot(driver, shots / f"feedback-{A}.png")
    assert math["script"] == "../../_mathjax/tex-mml-chtml.js"
    assert math["rendered"] >= 20 and math["errors"] == 0, math
    assert math["raw"] == [], math["raw"]  # no $...$ left as text outside code
    assert console == []
