"""Real-browser check of the built book (issue 4): every page opens cleanly in headless Chromium.

Run after ``make book`` (``make test`` builds the book first). The site checked is ``_build/html``,
or ``$MMIDS_SITE_DIR`` when set. With ``MMIDS_SCREENSHOTS=1`` one screenshot per chapter is
saved under ``_build/screenshots/``. The checks themselves live in ``tests/site_check.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

try:  # tests/ is a rootdir-relative folder, or a package if someone adds __init__.py
    import site_check
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest imports tests/
    from tests import site_check

pytestmark = pytest.mark.slow

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


@pytest.mark.parametrize("page", PAGES or [MISSING])
def test_page_renders_cleanly(browser: tuple[object, str], page: str) -> None:
    driver, base_url = browser
    report = site_check.check_page(driver, SITE, base_url, page)
    shots = site_check.screenshot_dir(SITE)
    toc = site_check.toc_files(SITE) or []
    if shots is not None and page.removesuffix(".html") in toc:
        name = page.removesuffix(".html").replace("/", "_") + ".png"
        site_check.save_full_page_screenshot(driver, shots / name)
    assert report.ok, str(report)


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
