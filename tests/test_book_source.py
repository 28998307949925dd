"""The chapters' sources keep verification bookkeeping out of the code a reader sees (issue 10).

A code cell of a chapter (``book/*.md``, MyST Markdown notebooks) is shown to the reader unless
its tags hide the input (``remove-input``, ``remove-cell``, ``hide-input``, ``hide-cell``) or
its ``mystnb`` metadata removes the source. Shown cells must not hold ``n_asserts`` or
``glue(``: the per-page count of checks comes from ``mmids.gradcheck.tally`` and glue calls go
into hidden cells. This test reads the sources, so it runs without building the book;
``tests/test_book_site.py`` checks the same rule on the built HTML.
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    import site_check
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest imports tests/
    from tests import site_check

# Tags whose cell input the reader does not see without a click (or at all).
HIDDEN_INPUT_TAGS = frozenset({"remove-input", "remove-cell", "hide-input", "hide-cell"})
SOURCES = site_check.book_sources()


def input_is_shown(metadata: dict) -> bool:
    """True when a code cell with this metadata shows its input on the page."""
    if HIDDEN_INPUT_TAGS & set(metadata.get("tags", [])):
        return False
    return not metadata.get("mystnb", {}).get("remove_code_source", False)


def visible_bookkeeping(path: Path) -> list[str]:
    """``<file>:<line>: <text>`` for each bookkeeping line in a shown code cell of ``path``."""
    import jupytext

    text = path.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst")
    found = []
    search_from = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        start = text.find(cell.source, search_from) if cell.source else -1
        if start >= 0:
            search_from = start + len(cell.source)
        first_line = text.count("\n", 0, start) + 1 if start >= 0 else 0
        if not input_is_shown(cell.metadata):
            continue
        for n, line in site_check.bookkeeping_in(cell.source):
            where = f"{path.name}:{first_line + n - 1}" if first_line else path.name
            found.append(f"{where}: {line}")
    return found


def test_every_toc_entry_has_a_source() -> None:
    missing = [str(p) for p in SOURCES if not p.is_file()]
    assert SOURCES and not missing, f"_toc.yml names pages with no .md file: {missing}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_shown_code_cells_have_no_bookkeeping(path: Path) -> None:
    found = visible_bookkeeping(path)
    assert not found, (
        f"{len(found)} bookkeeping line(s) in code cells the reader sees (tag the cell "
        "remove-input / hide-input, or count checks with mmids.gradcheck.tally):\n"
        + "\n".join(found)
    )


def test_rule_reads_tags_and_lines(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n---\n\n# Title\n\n"
        "```{code-cell} ipython3\nx = 1\nn_asserts += 1\n```\n\n"
        "```{code-cell} ipython3\n:tags: [remove-input]\nglue('a', 1)\n```\n\n"
        "```{code-cell} ipython3\n---\ntags: [hide-input]\n---\nglue('b', 2)\n```\n\n"
        "```{code-cell} ipython3\n---\nmystnb:\n  remove_code_source: true\n---\nglue('c', 3)\n"
        "```\n\n```{code-cell} ipython3\nfrom myst_nb import glue\nglue('d', 4)\n```\n",
        encoding="utf-8",
    )
    assert visible_bookkeeping(page) == ["page.md:11: n_asserts += 1", "page.md:36: glue('d', 4)"]
