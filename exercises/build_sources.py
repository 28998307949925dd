"""Write the nbgrader source notebooks ``exercises/source/<name>/<name>.ipynb``.

Run ``python exercises/build_sources.py`` after editing an assignment in
``exercises/assignments/``.  Each assignment module defines ``CELLS``, a list of
:class:`Cell` entries: markdown text, read-only code, answer cells (nbgrader ``grade_id`` = the
function or method name, solution between ``### BEGIN SOLUTION`` / ``### END SOLUTION``),
ungraded self-check cells students run, and graded test cells whose hidden part calls the
checking library (``autograders.hidden.run``).  ``--check`` verifies that the notebooks on disk
are up to date instead of writing them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ASSIGNMENTS = ("vjps", "backprop", "autograd", "gradient_problems")


@dataclass(frozen=True)
class Cell:
    """One notebook cell: kind is markdown | code | answer | selfcheck | test."""

    kind: str
    source: str
    grade_id: str = ""
    points: float = 0.0


def md(text: str, grade_id: str = "") -> Cell:
    return Cell("markdown", text.strip("\n"), grade_id)


def code(text: str, grade_id: str = "") -> Cell:
    return Cell("code", text.strip("\n"), grade_id)


def answer(grade_id: str, text: str) -> Cell:
    return Cell("answer", text.strip("\n"), grade_id)


def selfcheck(grade_id: str, text: str) -> Cell:
    return Cell("selfcheck", text.strip("\n"), grade_id)


def test(assignment: str, grade_id: str, points: float, visible: str = "") -> Cell:
    hidden = (
        "### BEGIN HIDDEN TESTS\n"
        "import autograders.hidden\n"
        f'autograders.hidden.run("{assignment}", "{grade_id}", globals())\n'
        "### END HIDDEN TESTS"
    )
    head = ("# Graded cell. When the notebook is graded, hidden tests compare your answer\n"
            "# with finite differences and PyTorch on many inputs (partial credit per case).\n")
    if visible:
        # stderr in a graded cell costs its points in nbgrader: warnings go to stdout instead
        lines = visible.strip("\n").splitlines()
        head += ("import mmids.check\n"
                 "with mmids.check.quiet():  # warnings are shown, on stdout\n"
                 + "".join(f"    {line}\n" if line else "\n" for line in lines))
    body = head + hidden
    return Cell("test", body, grade_id, points)


def _metadata(cell: Cell, index: int) -> dict:
    base = {"schema_version": 3, "task": False}
    gid = cell.grade_id or f"cell-{index:03d}"
    if cell.kind == "answer":
        return {**base, "grade": False, "grade_id": gid, "locked": False, "solution": True}
    if cell.kind == "test":
        return {**base, "grade": True, "grade_id": gid, "locked": True, "points": cell.points,
                "solution": False}
    return {**base, "grade": False, "grade_id": gid, "locked": True, "solution": False}


def build(name: str) -> nbformat.NotebookNode:
    """The source notebook of assignment ``name``."""
    module = importlib.import_module(f"assignments.{name}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(module.CELLS):
        if cell.kind == "markdown":
            nbcell = nbformat.v4.new_markdown_cell(cell.source)
        else:
            nbcell = nbformat.v4.new_code_cell(cell.source)
        nbcell.metadata["nbgrader"] = _metadata(cell, i)
        nbcell.pop("id", None)
        nb.cells.append(nbcell)
    nb.nbformat_minor = 4
    nbformat.validate(nb)
    return nb


def path_of(name: str) -> Path:
    return HERE / "source" / name / f"{name}.ipynb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(ASSIGNMENTS))
    parser.add_argument("--check", action="store_true", help="fail if a notebook is stale")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    stale = []
    for name in args.names:
        text = nbformat.writes(build(name)) + "\n"
        target = path_of(name)
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print("stale notebooks (run python exercises/build_sources.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
