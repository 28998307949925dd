"""What students receive: release notebooks, the mmids wheel; nothing of the solutions leaks.

* the source notebooks are the output of ``exercises/build_sources.py`` (no hand edits drift);
* the mmids wheel (``pip wheel .``) holds neither ``autograders/`` nor ``exercises/`` nor any
  solution line or hidden-test marker;
* the release notebooks, filled with the reference answers, run with only numpy and mmids:
  torch is blocked in the process that executes them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograders import course
from tests.corpora.tools import REPO, fill_release, reference_answers

ASSIGNMENTS = ("vjps", "backprop", "autograd", "gradient_problems")


def _release_of(name: str) -> nbformat.NotebookNode:
    """The release notebook as nbgrader makes it: solutions stubbed, hidden tests removed."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = nbformat.read(REPO / "exercises" / "source" / name / f"{name}.ipynb", as_version=4)
    nb, _ = ClearSolutions().preprocess(nb, {})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


def _normalise(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _solution_regions(name: str) -> list[str]:
    import re

    nb = nbformat.read(REPO / "exercises" / "source" / name / f"{name}.ipynb", as_version=4)
    out = []
    for cell in nb.cells:
        for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source,
                                 flags=re.DOTALL):
            norm = _normalise(region)
            if norm.count("\n") >= 1:  # at least two lines
                out.append(norm)
    return out


def test_source_notebooks_match_their_generator() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "exercises" / "build_sources.py"),
                           "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_notebook_has_no_solution_or_hidden_test(name: str) -> None:
    text = nbformat.writes(_release_of(name))
    snippets = course.solution_snippets(REPO / "exercises", name)
    assert len(snippets) >= 3
    assert course.leaks(text, snippets) == []


def test_mmids_wheel_contains_no_grader_or_solution(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("mmids-*.whl")
    regions = [r for name in ASSIGNMENTS for r in _solution_regions(name)]
    assert len(regions) >= 15
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert all(n.startswith(("mmids/", "mmids-")) for n in names), names
        for n in names:
            text = zf.read(n).decode("utf-8", errors="replace")
            assert course.leaks(text) == [], n  # solution / hidden-test markers, the grader
            flat = _normalise(text)
            for region in regions:
                # The package implements the same formulas (its API is the course's reference),
                # so single lines may coincide; a whole solution block must not appear.
                assert region not in flat, (n, region)


def test_release_notebooks_run_with_numpy_and_mmids_only(tmp_path: Path) -> None:
    scripts = []
    for name in ASSIGNMENTS:
        nb = fill_release(_release_of(name), reference_answers(name))
        cells = [c.source for c in nb.cells if c.cell_type == "code"]
        scripts.append("\n\n".join(cells))
    runner = textwrap.dedent("""
        import sys, json
        sys.modules["torch"] = None  # students may not have PyTorch
        for src in json.load(open(sys.argv[1])):
            exec(compile(src, "<release notebook>", "exec"), {"__name__": "__main__"})
        assert "autograders" not in sys.modules
        print("ran", flush=True)
    """)
    payload = tmp_path / "cells.json"
    payload.write_text(__import__("json").dumps(scripts))
    proc = subprocess.run([sys.executable, "-c", runner, str(payload)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ran" in proc.stdout
