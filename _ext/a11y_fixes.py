"""Sphinx extension: accessibility fixes for markup the book's theme and myst-nb write.

The axe-core audit of the built pages (``tests/test_book_site.py``) found these, on every page:

* a ``hide-input`` code cell is a ``<details>`` whose ``<summary>`` myst-nb 1.4 labels
  ``aria-label="Toggle hidden content"`` while it shows "Show code cell source": the name a
  screen reader announces differs from the visible text (axe ``label-content-name-mismatch``,
  WCAG 2.5.3). The summary is written here without the aria-label, so its name is the text it
  shows ("Show code cell source" / "Hide code cell source", whichever is visible).
* the theme's search button and colour-mode button: fixed by the template overrides in
  ``_ext/templates/`` (``templates_path`` in ``_config.yml``);
* link colour on tinted boxes and overflow on phones: ``_ext/static/mmids.css``.
"""

from __future__ import annotations

from html import escape
from typing import Any


def visit_hide_cell_input(self: Any, node: Any) -> None:
    """myst-nb's ``visit_HideCellInput``, with a summary named by its visible text."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n')
    self.body.append("<summary>\n")
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _override_hide_cell(app: Any) -> None:
    # after every extension's setup(), so this replaces myst-nb's handler rather than racing it
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

    handlers = (visit_hide_cell_input, depart_HideCellInput)
    app.add_node(HideCodeCellNode, override=True, html=handlers)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _override_hide_cell)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
