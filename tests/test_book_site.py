"""Real-browser check of the built book: every page opens cleanly in headless Chromium (issue 4),
fits its column at 1280 px and does not scroll sideways at 390 px (nor does an inline formula
stick out of its paragraph at either width), passes the axe-core audit with no serious or
critical violation and has real alt text on every image, and shows no verification bookkeeping
in its visible code cells (issue 10).

Run after ``make book`` (``make test`` builds the book first and installs axe-core). The site
checked is ``_build/html``, or ``$MMIDS_SITE_DIR`` when set. With
``pytest tests/test_book_site.py --screenshots`` (or the environment variable
``MMIDS_SCREENSHOTS=1``) one screenshot per chapter is saved under ``_build/screenshots/``.
The checks themselves live in ``tests/site_check.py``.
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


# --- layout and accessibility on every page (issue 10, items 15 and 16) -------------------------


@pytest.fixture(scope="module")
def axe_source() -> str:
    """Text of axe.min.js from the pinned axe-core npm package (``make test`` installs it)."""
    try:
        return site_check.load_axe()
    except FileNotFoundError as err:
        pytest.fail(str(err))


@pytest.mark.parametrize("page", PAGES or [MISSING])
def test_page_fits_its_column(browser: tuple[object, str], page: str) -> None:
    """At 1280 px no display equation or code block is wider than its column; at 1280 and
    390 px the page itself does not scroll sideways and no inline formula sticks out of its
    paragraph."""
    driver, base_url = browser
    problems = site_check.check_layout(driver, SITE, base_url, page)
    assert not problems, f"{len(problems)} overflow problem(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES or [MISSING])
def test_page_passes_accessibility_audit(
    browser: tuple[object, str], axe_source: str, page: str
) -> None:
    """No serious or critical axe-core violation; every image has alt text describing it."""
    driver, base_url = browser
    problems = site_check.check_accessibility(driver, SITE, base_url, page, axe_source)
    assert not problems, f"{len(problems)} accessibility problem(s):\n" + "\n".join(problems)


_FILL_JS = """
const [selector, n] = arguments;
const pre = Array.from(document.querySelectorAll(selector)).find(p => p.offsetParent !== null);
if (!pre) return null;
pre.textContent = 'x'.repeat(n);
return pre.scrollWidth - pre.clientWidth;
"""


def test_code_column_holds_80_characters(browser: tuple[object, str]) -> None:
    """The book's rule "code lines of at most 80 characters" fits the theme at 1280 px: an
    80-character line in a code cell, an expanded hide-input cell, a cell's printed output
    and a code block in the text stays inside its column (and 90 characters do not)."""
    driver, base_url = browser
    kinds = {
        "code cell": "div.cell:not(.tag_hide-input) div.cell_input pre",
        "collapsed code cell, opened": "details div.cell_input pre",
        "cell output": "div.cell_output pre",
        "code block in the text": ", ".join(
            f"div.highlight-{lang} pre" for lang in ("python", "bash", "default", "text")
        ),
    }
    found: dict[str, tuple[str, int, int]] = {}
    for page in [p for p in PAGES if p.startswith("book/")]:
        site_check.open_page(driver, base_url, page, site_check.DESKTOP_WIDTH)
        for kind, selector in kinds.items():
            at_80 = None if kind in found else driver.execute_script(_FILL_JS, selector, 80)
            if at_80 is not None:  # the same box, now with 90 characters
                found[kind] = (page, at_80, driver.execute_script(_FILL_JS, selector, 90))
    assert found.keys() >= {"code cell", "cell output"}, f"no code cells in {SITE}: {found}"
    too_wide = {k: v for k, v in found.items() if v[1] > site_check.OVERFLOW_TOLERANCE_PX}
    assert not too_wide, f"80 characters overflow (page, px at 80, px at 90): {too_wide}"
    assert all(v[2] > site_check.OVERFLOW_TOLERANCE_PX for v in found.values()), found


# --- no verification bookkeeping in the code a reader sees (issue 10, item 14) -----------------


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith("book/")] or [MISSING])
def test_visible_code_cells_have_no_bookkeeping(page: str) -> None:
    """``n_asserts`` and ``glue(`` only in hidden cells (remove-input, hide-input, remove-cell)."""
    _require_site()
    html = (SITE / page).read_text(encoding="utf-8")
    found = [
        f"{page}: visible code cell {cell.number}, line {n}: {line}"
        for cell in site_check.visible_code_cells(html)
        for n, line in site_check.bookkeeping_in(cell.source)
    ]
    assert not found, f"{len(found)} bookkeeping line(s) in visible cells:\n" + "\n".join(found)


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

_GOOD = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>good</title>
<link rel="icon" href="data:,"></head><body>
<main><h1 id="top">Good</h1><p><a href="bad.html#here">bad page</a> <a href="#top">top</a>
<a href="sub/">folder</a> <a href="https://example.invalid/x">external, not checked</a></p>
<img src="dot.png" alt="dot"><pre>code may show \\[ x \\] and $$ verbatim</pre>
</main>
</body></html>"""

_BAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title>
<link rel="icon" href="data:,"></head><body>
<h1 id="here">Bad</h1>
<p>Raw display math: \\[ x^2 \\] and <span class="math notranslate">\\(y\\)</span></p>
<img src="missing.png" alt="missing">
<a href="nowhere.html">broken file</a> <a href="good.html#no-such-id">broken anchor</a>
<script>throw new Error("boom from the page");</script>
</body></html>"""


# Too wide at 1280 px: a display equation and a code block; at both widths an inline formula
# wider than its paragraph. At 390 px a 600 px box makes the page scroll (a wide table inside a
# scrolling box does not). Images without a real alt text, and a button with no accessible name
# (axe rule button-name, critical).
_WIDE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>wide</title>
<link rel="icon" href="data:,"></head><body><main style="width:700px">
<h1>Wide</h1>
<div class="math" id="equation-eq-wide" style="display:flex;overflow:hidden">
<span class="eqno">(1.1)</span>
<span style="white-space:nowrap">""" + "x + " * 300 + """</span></div>
<div class="cell"><div class="cell_input"><pre style="overflow:auto">first = 1
""" + "y = " * 60 + """</pre></div></div>
<div class="math" style="display:flex;overflow:hidden"><span class="eqno">(1.2)</span>
<span>a short equation</span></div><pre>short code</pre>
<p style="width:300px">a formula
<mjx-container jax="CHTML" style="display:inline-block;width:400px">wide inline</mjx-container>
in a narrow paragraph, and a short one <mjx-container jax="CHTML">x</mjx-container> that fits</p>
<div id="too-wide" style="width:600px">a 600 px box</div>
<div style="overflow-x:auto;max-width:100%"><table><tr><td style="white-space:nowrap">"""
_WIDE += "scrolls in its own box " * 20 + """</td></tr></table></div>
<img src="dot.png"> <img src="dot.png" alt="../_images/dot.png"> <button></button>
</main></body></html>"""


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("toy_site")
    (site / "good.html").write_text(_GOOD)
    (site / "bad.html").write_text(_BAD)
    (site / "wide.html").write_text(_WIDE)
    (site / "dot.png").write_bytes(_PNG_1PX)
    (site / "sub").mkdir()
    (site / "sub" / "index.html").write_text(_GOOD.replace("dot.png", "../dot.png"))
    (site / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=sub/gone.html" />')
    return site


def test_checker_finds_each_kind_of_problem(toy_site: Path) -> None:
    pages = ["bad.html", "good.html", "index.html", "sub/index.html", "wide.html"]
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


def test_layout_and_accessibility_checks_find_each_problem(toy_site: Path) -> None:
    axe = site_check.load_axe()
    with site_check.serve(toy_site) as base_url, site_check.chromium() as driver:
        good = site_check.check_layout(driver, toy_site, base_url, "good.html")
        good += site_check.check_accessibility(driver, toy_site, base_url, "good.html", axe)
        layout = site_check.check_layout(driver, toy_site, base_url, "wide.html")
        access = site_check.check_accessibility(driver, toy_site, base_url, "wide.html", axe)
        width = driver.get_window_size()["width"]
    assert not good, "\n".join(good)
    assert width == site_check.DESKTOP_WIDTH  # the check restores the desktop window
    equation, code, inline_desktop, phone, inline_phone = layout
    assert equation.startswith("wide.html: display equation (1.1) #equation-eq-wide 'x + x")
    assert re.search(r"is \d+ px wider than its \d+ px column at 1280 px$", equation), equation
    px = int(re.search(r"is (\d+) px wider", equation).group(1))
    assert px > 1000, equation  # 300 "x + " in a 700 px main column
    assert code.startswith("wide.html: code cell 1 (first line 'first = 1') is "), code
    assert code.endswith(f"longest line 240 characters: {('y = ' * 60).strip()[:70]!r}"), code
    assert phone.startswith("wide.html: at 390 px the page scrolls sideways"), phone
    # the 700 px main column sticks out; the table scrolls inside its own box, is not named
    assert "main 'Wide" in phone and "table" not in phone, phone
    # the 400 px inline formula sticks out of its 300 px paragraph at both widths (only it)
    for inline, width in [(inline_desktop, 1280), (inline_phone, 390)]:
        assert inline.startswith("wide.html: inline formula 'wide inline' is 400 px wide"), inline
        assert f"of its 300 px column by 100 px at {width} px" in inline, inline
    images = [p for p in access if ": image " in p]
    assert images == [
        "wide.html: image dot.png: no alt attribute",
        "wide.html: image dot.png: alt text is a file name ('../_images/dot.png'), "
        "not a description",
    ], access
    rules = dict(re.findall(r": axe ([a-z-]+) \((\w+)\): ", "\n".join(access)))
    # the button, the image without alt, the two boxes that scroll but take no keyboard focus
    assert rules == {
        "button-name": "critical",
        "image-alt": "critical",
        "scrollable-region-focusable": "serious",
    }, access
    button = next(p for p in access if "axe button-name" in p)
    assert button.endswith("1 element(s): button"), button


def test_alt_problem() -> None:
    assert site_check.alt_problem("a.png", None) == "no alt attribute"
    assert site_check.alt_problem("a.png", "  ") == "empty alt text"
    assert "file name" in site_check.alt_problem("../_images/3f.png", "../_images/3f.png")
    assert "file name" in site_check.alt_problem("x/3f.svg", "3f.svg")
    assert site_check.alt_problem("a.png", "Loss against epoch, falling from 2.3 to 0.3") is None


def test_bookkeeping_found_only_in_visible_cells() -> None:
    html = """<div class="cell docutils container"><div class="cell_input docutils container">
<pre>x = 1
n_asserts += 2</pre></div><div class="cell_output"><pre>glue( in output</pre></div></div>
<div class="cell tag_hide-input"><details class="hide above-input"><summary>Show</summary>
<div class="cell_input"><pre>glue("a", 1)</pre></div></details></div>
<div class="cell"><div class="cell_input"><pre>assert_close(a, b)<br/>
glue("b", 2, display=False)</pre></div></div>"""
    cells = site_check.code_cells(html)
    assert [(c.number, c.collapsed) for c in cells] == [(1, False), (2, True), (3, False)]
    visible = site_check.visible_code_cells(html)
    assert [c.number for c in visible] == [1, 3]
    assert site_check.bookkeeping_in(visible[0].source) == [(2, "n_asserts += 2")]
    assert site_check.bookkeeping_in(visible[1].source) == [(2, 'glue("b", 2, display=False)')]
    assert site_check.bookkeeping_in("from myst_nb import glue\nassert_close(a, b)") == []
