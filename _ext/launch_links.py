"""Sphinx extension: launch buttons that open a notebook, on every service.

sphinx-book-theme 1.3.0 builds each launch link from the page's *source* file in the repository
(``header_buttons/launch.py``), and the chapters are MyST Markdown notebooks (``book/*.md``):

* Binder and JupyterHub get ``.../lab/tree/book/<page>.md``. That works: the Binder image
  (``binder/``) and a course hub set up the same way have jupytext, which opens the file as a
  notebook.
* Colab gets ``colab.research.google.com/github/<org>/<repo>/blob/<branch>/book/<page>.md``,
  but Colab only opens ``.ipynb`` files, so that button would lead to an error page.

After the theme's handler has built the buttons of a page, this extension

1. points the Colab button at the page's *executed* notebook, the ``.ipynb`` the build writes to
   ``_build/html/_sources/`` for the download button, as published on the branch
   ``mmids_colab_branch`` (``gh-pages``: where ``ghp-import -n -p -f _build/html`` puts the
   site). With ``mmids_colab_branch = ""`` the Colab button is removed instead;
2. puts a first cell into that notebook that, on Colab only, installs the course package and the
   book's dependencies from the repository (URL and branch from the ``repository:`` section of
   ``_config.yml``, the one place they are set), so the notebook runs there;
3. leaves out the JupyterHub button while ``jupyterhub_url`` still names a reserved example host
   (``example.org`` and the like, RFC 2606), so a placeholder is never linked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

SETUP_TAG = "mmids-colab-setup"
# RFC 2606 / RFC 6761 names that never point at a real service.
RESERVED_HOSTS = ("example.org", "example.com", "example.net")
RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".localhost")


def is_placeholder_url(url: str) -> bool:
    """True for an empty URL or one whose host is a reserved example name."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return True
    if host in RESERVED_HOSTS or any(host.endswith("." + h) for h in RESERVED_HOSTS):
        return True
    return host.endswith(RESERVED_SUFFIXES) or host in {s[1:] for s in RESERVED_SUFFIXES}


def _theme_options(app: Any) -> dict:
    return app.config.html_theme_options or {}


def _repository(app: Any) -> tuple[str, str]:
    """(repository URL without trailing slash, branch) as Jupyter Book passes them to the theme."""
    opts = _theme_options(app)
    url = str(opts.get("repository_url", "")).rstrip("/")
    return url, str(opts.get("repository_branch") or "main")


def colab_url(app: Any, pagename: str) -> str | None:
    """The Colab link for ``pagename``, or None when the Colab button is switched off."""
    branch = app.config.mmids_colab_branch
    launch = _theme_options(app).get("launch_buttons", {})
    base = str(launch.get("colab_url", "")).rstrip("/")
    repo_url, _ = _repository(app)
    if not branch or not base or "github.com/" not in repo_url:
        return None
    org_repo = repo_url.split("github.com/", 1)[1].strip("/")
    path = app.config.mmids_colab_path.format(pagename=pagename).lstrip("/")
    return f"{base}/github/{org_repo}/blob/{branch}/{path}"


def setup_cell_source(app: Any) -> str:
    """Code of the Colab-only install cell, built from the repository URL and branch."""
    repo_url, branch = _repository(app)
    requirement = f"mmids[book] @ git+{repo_url}@{branch}"
    return "\n".join(
        [
            "# On Google Colab, first install the course package and the book's dependencies",
            "# from the book's repository; anywhere else this cell does nothing.",
            "import subprocess",
            "import sys",
            "",
            'if "google.colab" in sys.modules:',
            "    subprocess.run(",
            f'        [sys.executable, "-m", "pip", "install", "--quiet", "{requirement}"],',
            "        check=True,",
            "    )",
        ]
    )


def add_setup_cell(notebook: Path, source: str) -> None:
    """Insert the install cell as the first cell of ``notebook`` (once)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = nb.setdefault("cells", [])
    if cells and SETUP_TAG in cells[0].get("metadata", {}).get("tags", []):
        return
    cells.insert(
        0,
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"tags": [SETUP_TAG]},
            "outputs": [],
            "source": source,
        },
    )
    # nbformat 4.5 wants an id on every cell when any has one
    if any("id" in c for c in cells[1:]):
        cells[0]["id"] = SETUP_TAG
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _fix_launch_buttons(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    groups = [
        b for b in context.get("header_buttons", []) if b.get("label") == "launch-buttons"
    ]
    if not groups:
        return
    launch = _theme_options(app).get("launch_buttons", {})
    hub_placeholder = is_placeholder_url(str(launch.get("jupyterhub_url", "")))
    colab = colab_url(app, pagename)
    for group in groups:
        kept = []
        for button in group.get("buttons", []):
            if button.get("text") == "JupyterHub" and hub_placeholder:
                continue
            if button.get("text") == "Colab":
                if colab is None:
                    continue
                button["url"] = colab
            kept.append(button)
        group["buttons"] = kept
    context["header_buttons"] = [
        b for b in context["header_buttons"] if b.get("label") != "launch-buttons" or b["buttons"]
    ]
    # the theme has just copied the executed notebook here for the download button
    ipynb = context.get("ipynb_source")
    if ipynb:
        notebook = Path(app.outdir) / "_sources" / ipynb
        if notebook.is_file():
            add_setup_cell(notebook, setup_cell_source(app))


def _report(app: Any) -> None:
    launch = _theme_options(app).get("launch_buttons", {})
    hub = str(launch.get("jupyterhub_url", ""))
    if hub and is_placeholder_url(hub):  # expected until a course sets its hub: `-v` shows it
        LOGGER.verbose(f"launch_links: JupyterHub button left out, {hub!r} is a placeholder")


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("mmids_colab_branch", "gh-pages", "html", types=[str])
    app.add_config_value("mmids_colab_path", "_sources/{pagename}.ipynb", "html", types=[str])
    app.connect("builder-inited", _report)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _fix_launch_buttons, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
