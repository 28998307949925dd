"""Sphinx extension: serve MathJax 3 from the built site, taken from a Python package.

The pages load MathJax from ``_static/mathjax/tex-mml-chtml.js`` (``mathjax_path`` in
``_config.yml``), so the book renders offline and in the browser tests, without a CDN. The files
come from the PyPI package ``django-static-mathjax`` (pinned in ``pyproject.toml``, extra
``book``): MathJax's own release (its ``es5/`` folder) in a wheel with no dependencies, despite
the name. It installs the importable package ``mathjax``. So building the book needs neither
Node nor npm.

At the end of an HTML build the ``es5/`` folder is copied to ``<outdir>/_static/mathjax``;
files already there with the same size and modification time are not copied again.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from sphinx.errors import ExtensionError

PACKAGE = "mathjax"  # import name of the PyPI distribution django-static-mathjax
REQUIRED_MAJOR = "3"
INSTALL_HINT = (
    "install the book's dependencies (pip install -e '.[book]', or `make book`), which include "
    "django-static-mathjax"
)


def mathjax_root() -> Path:
    """The folder of the installed MathJax release (holding ``package.json`` and ``es5/``)."""
    try:
        root = Path(str(resources.files(PACKAGE))) / "static" / "mathjax"
    except ModuleNotFoundError as err:
        raise ExtensionError(f"local_mathjax: MathJax is not installed: {INSTALL_HINT}") from err
    if not (root / "es5" / "tex-mml-chtml.js").is_file():
        raise ExtensionError(
            f"local_mathjax: no es5/tex-mml-chtml.js under {root}: the package {PACKAGE!r} is not "
            f"django-static-mathjax; {INSTALL_HINT}"
        )
    return root


def mathjax_version(root: Path) -> str:
    """MathJax's version, from the release's ``package.json``."""
    return str(json.loads((root / "package.json").read_text(encoding="utf-8"))["version"])


def copy_release(source: Path, target: Path) -> int:
    """Copies the files of ``source`` into ``target`` that are missing or differ in size or
    modification time; returns how many were copied."""
    copied = 0
    for path in source.rglob("*"):
        if not path.is_file():
            continue
        dest = target / path.relative_to(source)
        stat = path.stat()
        if dest.is_file():
            old = dest.stat()
            if old.st_size == stat.st_size and int(old.st_mtime) == int(stat.st_mtime):
                continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        copied += 1
    return copied


def _check(app: Any) -> None:
    if app.builder.format != "html":
        return
    root = mathjax_root()
    version = mathjax_version(root)
    if version.split(".")[0] != REQUIRED_MAJOR:
        raise ExtensionError(
            f"local_mathjax: MathJax {version} found at {root}, the book needs MathJax "
            f"{REQUIRED_MAJOR}.x; {INSTALL_HINT}"
        )


def _copy(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / Path(app.config.mathjax_path).parent
    copy_release(mathjax_root() / "es5", target)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
