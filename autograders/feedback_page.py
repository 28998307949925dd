"""MathJax for the feedback pages, served from the course's own files (no CDN).

The feedback template (``autograders/templates/mmids_feedback/``, configured in
``exercises/nbgrader_config.py``) loads ``../../_mathjax/tex-mml-chtml.js`` from
``<course>/feedback/<student>/<assignment>/<notebook>.html``; :func:`install_mathjax` puts
MathJax 3's ``es5/`` folder at ``<course>/feedback/_mathjax/``. The files come from the PyPI
package ``django-static-mathjax`` (pinned in the ``grading`` extra; it installs the importable
package ``mathjax`` and has no dependencies), the same release the book serves.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

#: Folder of ``<course>/feedback/`` that holds MathJax (the template's relative URL names it).
MATHJAX_DIR = "_mathjax"
#: MathJax component the template loads (TeX and MathML input, CommonHTML output).
MATHJAX_SCRIPT = "tex-mml-chtml.js"
TEMPLATES = Path(__file__).resolve().parent / "templates"

__all__ = ["MATHJAX_DIR", "MATHJAX_SCRIPT", "TEMPLATES", "install_mathjax", "mathjax_release"]


def mathjax_release() -> tuple[Path, str]:
    """``(es5 folder, version)`` of the installed MathJax 3 (django-static-mathjax)."""
    hint = "pip install 'mmids[grading]' (it has django-static-mathjax)"
    try:
        root = Path(str(resources.files("mathjax"))) / "static" / "mathjax"
    except ModuleNotFoundError:
        raise FileNotFoundError(f"MathJax is not installed: {hint}") from None
    if not (root / "es5" / MATHJAX_SCRIPT).is_file():
        raise FileNotFoundError(f"no es5/{MATHJAX_SCRIPT} under {root}: {hint}")
    version = str(json.loads((root / "package.json").read_text())["version"])
    if not version.startswith("3."):
        raise FileNotFoundError(f"MathJax {version} at {root}; the feedback pages need 3.x: {hint}")
    return root / "es5", version


def install_mathjax(feedback_dir: Path) -> Path:
    """Copy MathJax's ``es5/`` to ``<feedback_dir>/_mathjax`` (unless that version is there).

    Returns the folder. A ``VERSION`` file records the copied release, so a rerun copies
    nothing and another release replaces the folder whole.
    """
    es5, version = mathjax_release()
    target = feedback_dir / MATHJAX_DIR
    stamp = target / "VERSION"
    if stamp.is_file() and stamp.read_text().strip() == version:
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(es5, target)
    stamp.write_text(version + "\n")
    return target
