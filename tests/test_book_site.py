"""Real-browser check of the built book (issue 4): every page opens cleanly in headless Chromium.

Run after ``make book`` (``make test`` builds the book first). The site checked is ``_build/html``,
or ``$MMIDS_SITE_DIR`` when set. With ``pytest tests/test_book_site.py --screenshots`` (or the
environment variable ``MMIDS_SCREENSHOTS=1``) one screenshot per chapter is saved under
``_build/screenshots/``. The checks themselves live in ``tests/site_check.py``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

try:  # tests/ is a rootdir-relative folder, or a package if someone adds __init__.py
    import site_check
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest imports tests/
    from tests import site_check

pytestmark = pytest.mark.slow


def _load_launch_links():  # the book's Sphinx extension in _ext/ (not a package)
    spec = importlib.util.spec_from_file_location(
        "launch_links", site_check.REPO / "_ext" / "launch_links.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


launch_links = _load_launch_links()

SITE = site_check.site_dir()
MISSING = "<site not built>"
PAGES = site_check.find_pages(SITE) if SITE.is_dir() else []


def _require_site() -> None:
    if not (SITE / "index.html").is_file():
        pytest.fail(
            f"no built book at {SITE} (index.html missing): run `make book` first "
            "(or point MMIDS_SITE_DIR at a built _build/html)"
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[tuple[object, str]]:
    """(driver, base_url) for the built site, shared by every page of this module."""
    _require_site()
    with site_check.serve(SITE) as base_url, site_check.chromium() as driver:
        yield driver, base_url


def test_every_toc_entry_was_built() -> None:
    _require_site()
    files = site_check.toc_files(SITE)
    assert files is not None, f"no _toc.yml found two levels above {SITE}"
    missing = [f for f in files if f"{f}.html" not in PAGES]
    assert not missing, f"pages in _toc.yml with no HTML in {SITE}: {missing}"
    assert "index.html" in PAGES


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest) -> bool:
    """The ``--screenshots`` flag (tests/conftest.py) or ``MMIDS_SCREENSHOTS=1``."""
    return bool(request.config.getoption("--screenshots")) or site_check.screenshots_from_env()


@pytest.mark.parametrize("page", PAGES or [MISSING])
def test_page_renders_cleanly(browser: tuple[object, str], page: str, screenshots: bool) -> None:
    driver, base_url = browser
    report = site_check.check_page(driver, SITE, base_url, page)
    shots = site_check.screenshot_dir(SITE, enabled=screenshots)
    toc = site_check.toc_files(SITE) or []
    if shots is not None and page.removesuffix(".html") in toc:
        name = page.removesuffix(".html").replace("/", "_") + ".png"
        site_check.save_full_page_screenshot(driver, shots / name)
    assert report.ok, str(report)


def test_screenshot_dir_follows_flag_and_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "html"
    monkeypatch.delenv("MMIDS_SCREENSHOTS", raising=False)
    assert site_check.screenshot_dir(site) is None
    assert site_check.screenshot_dir(site, enabled=False) is None
    assert site_check.screenshot_dir(site, enabled=True) == tmp_path / "screenshots"
    monkeypatch.setenv("MMIDS_SCREENSHOTS", "1")
    assert site_check.screenshot_dir(site) == tmp_path / "screenshots"


# --- text the pages paste in from their notebooks (glue) ---------------------------------------


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("book/")] or [MISSING])
def test_glued_text_has_no_python_quotes(page: str) -> None:
    """Strings glued into the prose show as words, not as Python reprs such as 'ahead'."""
    _require_site()
    html = (SITE / page).read_text(encoding="utf-8")
    pasted = re.findall(r'<span class="pasted-text">(.*?)</span>', html, flags=re.S)
    quoted = [t for t in pasted if re.match(r"""\s*(&#39;|&quot;|'|")""", t)]
    assert not quoted, f"{page}: glued text shown with quotes: {quoted}"
    text = re.sub(r"<[^>]+>", "", re.sub(r"<pre.*?</pre>", "", html, flags=re.S))
    assert "'MNIST" not in text and "&#39;MNIST" not in text, f"{page}: quoted MNIST source"


# --- launch buttons: every link is built from the one repository URL and opens a notebook -------

LAUNCH_PAGES = [p for p in PAGES if p.startswith("book/")]


def _config() -> dict:
    import yaml

    return yaml.safe_load((site_check.REPO / "_config.yml").read_text())


def _launch_links(page: str) -> dict[str, str]:
    """{"Binder": url, "Colab": url, ...}: the theme's launch buttons ("Launch on <name>")."""
    html = (SITE / page).read_text(encoding="utf-8")
    found = re.findall(r'<a href="([^"]+)"[^>]*?title="Launch on ([^"]+)"', html, flags=re.S)
    return {name: href.replace("&amp;", "&") for href, name in found}


@pytest.mark.parametrize("page", LAUNCH_PAGES or [MISSING])
def test_launch_links_open_notebooks(page: str) -> None:
    _require_site()
    config = _config()
    repo_url = config["repository"]["url"].rstrip("/")
    branch = config["repository"]["branch"]
    org_repo = repo_url.split("github.com/", 1)[1]
    stem = page.removesuffix(".html")
    links = _launch_links(page)

    # Binder: the repository at the configured branch, the chapter's .md in JupyterLab
    binder = links.get("Binder")
    assert binder == f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{stem}.md"
    assert (site_check.REPO / f"{stem}.md").is_file()

    # Colab: an .ipynb (never the .md), the executed notebook of this page as the site publishes it
    colab = links.get("Colab")
    sphinx = config["sphinx"]["config"]
    colab_branch = sphinx["mmids_colab_branch"]
    path = sphinx["mmids_colab_path"].format(pagename=stem)
    assert colab == (
        f"https://colab.research.google.com/github/{org_repo}/blob/{colab_branch}/{path}"
    )
    assert path.endswith(".ipynb") and (SITE / path).is_file(), f"{path} not in the built site"
    first = json.loads((SITE / path).read_text(encoding="utf-8"))["cells"][0]
    setup = "".join(first["source"])
    assert "google.colab" in setup and f"git+{repo_url}@{branch}" in setup

    # JupyterHub: only linked once a real hub address replaces the placeholder
    hub_url = config["launch_buttons"]["jupyterhub_url"]
    hub = links.get("JupyterHub")
    if launch_links.is_placeholder_url(hub_url):
        assert hub is None, f"placeholder JupyterHub linked: {hub}"
    else:
        assert hub is not None and hub.startswith(hub_url.rstrip("/") + "/hub/user-redirect/")


def test_binder_environment_installs_the_book() -> None:
    binder = site_check.REPO / "binder"
    requirements = (binder / "requirements.txt").read_text().splitlines()
    assert ".[book]" in [line.strip() for line in requirements]
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = binder / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "jupytext" in post_build.read_text()
    viewers = json.loads((binder / "overrides.json").read_text())
    assert viewers["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["myst"] == (
        "Jupytext Notebook"
    )


def test_placeholder_hosts() -> None:
    assert launch_links.is_placeholder_url("")
    assert launch_links.is_placeholder_url("https://jupyterhub.example.org")
    assert launch_links.is_placeholder_url("https://hub.course.invalid/")
    assert not launch_links.is_placeholder_url("https://jupyterhub.uni-example.edu")
    assert not launch_links.is_placeholder_url("https://datahub.berkeley.edu")


# --- the checker itself must catch each kind of problem (a tiny hand-written site) -------------

_PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)

_GOOD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>good</title>
<link rel="icon" href="data:,"></head><body>
<h1 id="top">Good</h1><p><a href="bad.html#here">bad page</a> <a href="#top">top</a>
<a href="sub/">folder</a> <a href="https://example.invalid/x">external, not checked</a></p>
<img src="dot.png" alt="dot"><pre>code may show \\[ x \\] and $$ verbatim</pre>
</body></html>"""

_BAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title>
<link rel="icon" href="data:,"></head><body>
<h1 id="here">Bad</h1>
<p>Raw display math: \\[ x^2 \\] and <span class="math notranslate">\\(y\\)</span></p>
<img src="missing.png" alt="missing">
<a href="nowhere.html">broken file</a> <a href="good.html#no-such-id">broken anchor</a>
<script>throw new Error("boom from the page");</script>
</body></html>"""


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("toy_site")
    (site / "good.html").write_text(_GOOD)
    (site / "bad.html").write_text(_BAD)
    (site / "dot.png").write_bytes(_PNG_1PX)
    (site / "sub").mkdir()
    (site / "sub" / "index.html").write_text(_GOOD.replace("dot.png", "../dot.png"))
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=sub/gone.html" />')
    return site


def test_checker_finds_each_kind_of_problem(toy_site: Path) -> None:
    pages = ["bad.html", "good.html", "index.html", "sub/index.html"]
    assert site_check.find_pages(toy_site) == pages
    with site_check.serve(toy_site) as base_url, site_check.chromium() as driver:
        good = site_check.check_page(driver, toy_site, base_url, "good.html")
        bad = site_check.check_page(driver, toy_site, base_url, "bad.html")
        redirect = site_check.check_page(driver, toy_site, base_url, "index.html")
    assert redirect.problems and "no file sub/gone.html" in redirect.problems[0], str(redirect)
    assert good.ok, str(good)
    assert good.images == 1 and good.links_checked == 3
    text = "\n".join(bad.problems)
    expected = [
        "math nodes but MathJax is not loaded",
        "math not rendered by MathJax: '\\\\(y\\\\)'",
        "raw TeX left in visible text",
        "image did not load",
        "broken link on bad.html",
        "broken anchor on bad.html",
        "boom from the page",
    ]
    missed = [e for e in expected if e not in text]
    assert not missed, f"checker missed {missed}; it reported:\n{bad}"
