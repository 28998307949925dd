"""Sphinx extension: drop duplicate <script> tags from every page.

Sphinx 7.4 adds an inline script twice when an extension registers it after the HTML builder
started (``Sphinx.add_js_file(None, body=...)`` is stored once with filename ``None`` and once
with ``''``; fixed upstream in Sphinx 8.2, sphinx-doc/sphinx#13402). sphinx-thebe registers
``const THEBE_JS_URL = ...`` that way, so every page raised "Identifier 'THEBE_JS_URL' has
already been declared" in the browser. This keeps the first copy of each script.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple] = set()
    kept = []
    for js in scripts:
        key = (
            getattr(js, "filename", js) or "",
            getattr(js, "priority", None),
            tuple(sorted(getattr(js, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    # Runs after every other handler so scripts added per page are seen too.
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
