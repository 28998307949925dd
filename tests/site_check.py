"""Real-browser checks of the built book: serve the HTML locally and inspect every page in Chromium.

Used by ``tests/test_book_site.py``. The pieces, each with one job:

* :func:`site_dir` / :func:`find_pages` / :func:`toc_files` locate the built site and its pages;
* :func:`serve` serves a folder on ``127.0.0.1`` at a free port, silently, in a thread;
* :func:`chromium` starts headless Debian Chromium through ``/usr/bin/chromedriver``;
* :func:`check_page` opens one page and returns every problem found on it (JavaScript errors,
  math MathJax did not render, images that did not load, internal links that do not resolve).

Nothing here downloads anything: the browser only ever talks to the local server (an external
resource the pages try to load shows up as a console error, which the checks report).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SITE = REPO / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)
# Folders of the built site that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}


def site_dir() -> Path:
    """The built site to check: ``$MMIDS_SITE_DIR`` if set, else ``_build/html`` of the repo."""
    return Path(os.environ.get("MMIDS_SITE_DIR", DEFAULT_SITE)).resolve()


def screenshots_from_env() -> bool:
    """True when ``MMIDS_SCREENSHOTS`` is ``1``, ``true`` or ``yes``."""
    return os.environ.get("MMIDS_SCREENSHOTS", "").lower() in ("1", "true", "yes")


def screenshot_dir(site: Path, enabled: bool | None = None) -> Path | None:
    """``<build>/screenshots`` next to the html folder when screenshots are wanted, else None.

    ``enabled`` is the pytest flag ``--screenshots``; the environment variable
    ``MMIDS_SCREENSHOTS=1`` turns them on as well.
    """
    if not (enabled or screenshots_from_env()):
        return None
    return site.parent / "screenshots"


def find_pages(site: Path) -> list[str]:
    """Every HTML page of the site (assets excluded), as sorted POSIX paths relative to it."""
    pages = []
    for path in site.rglob("*.html"):
        rel = path.relative_to(site)
        if rel.parts[0] in ASSET_DIRS:
            continue
        pages.append(rel.as_posix())
    return sorted(pages)


def toc_files(site: Path) -> list[str] | None:
    """Files listed in the book's ``_toc.yml`` (root, then chapters), or None if it is not found.

    The book root is taken to be two levels above the html folder (``<root>/_build/html``).
    """
    import yaml

    toc = site.parent.parent / "_toc.yml"
    if not toc.is_file():
        return None
    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    for part in data.get("parts", []):
        walk(part.get("chapters", []))
    walk(data.get("chapters", []))
    return files


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that does not log every request to stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 at a free port; yields the base URL (ends in /)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def chromium() -> Iterator[object]:
    """Headless Chromium driven by chromedriver, with a fresh profile removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for exe in (CHROMIUM, CHROMEDRIVER):
        if not exe.exists():
            raise FileNotFoundError(
                f"{exe} not found: install Debian's chromium and chromium-driver (make sysdeps)"
            )
    profile = tempfile.mkdtemp(prefix="mmids-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=os.devnull)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class _Anchors(HTMLParser):
    """Collects every ``id`` and ``name`` attribute of an HTML file (the valid #fragments)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.anchors.add(value)


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    """The fragment targets defined in the HTML file at ``path``."""
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.anchors)


@dataclass
class PageReport:
    """Problems found on one page; ``ok`` when there are none."""

    page: str
    problems: list[str] = field(default_factory=list)
    math_nodes: int = 0
    images: int = 0
    links_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = (
            f"{self.page}: {len(self.problems)} problem(s) "
            f"({self.math_nodes} math nodes, {self.images} images, "
            f"{self.links_checked} internal links checked)"
        )
        return "\n  ".join([head, *self.problems])


# Waits for the page to finish loading and MathJax (if the page loads it) to finish typesetting.
_WAIT_JS = """
const done = arguments[arguments.length - 1];
const settle = () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done('mathjax'), (e) => done('mathjax failed: ' + e));
  } else {
    done(window.MathJax ? 'mathjax not started' : 'no mathjax');
  }
};
if (document.readyState === 'complete') { settle(); }
else { window.addEventListener('load', settle); }
"""

# Math Sphinx emitted (span.math / div.math) that MathJax did not replace, MathJax error nodes,
# and raw TeX delimiters left in text outside code blocks.
_MATH_JS = r"""
const mathNodes = Array.from(document.querySelectorAll('span.math, div.math'));
const unrendered = mathNodes.filter(n => !n.querySelector('mjx-container'))
  .map(n => n.textContent.trim().slice(0, 80));
const merrors = Array.from(document.querySelectorAll('mjx-merror'))
  .map(n => (n.getAttribute('data-mjx-error') || n.textContent).slice(0, 80));
const raw = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const skip = 'pre, code, script, style, textarea, mjx-container, .highlight';
for (let t = walker.nextNode(); t; t = walker.nextNode()) {
  const s = t.nodeValue;
  if (!/\\\[|\\\(|\$\$/.test(s)) continue;
  if (t.parentElement && t.parentElement.closest(skip)) continue;
  raw.push(s.trim().slice(0, 80));
}
return {count: mathNodes.length, unrendered: unrendered, merrors: merrors, raw: raw};
"""

_IMAGES_JS = """
return Array.from(document.images).map(img => ({
  src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0}));
"""

_LINKS_JS = """
return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
"""


def _load_images(driver: object, timeout: float = 10.0) -> list[dict]:
    """Scrolls every image into view (lazy ones load) and waits until all have settled."""
    driver.execute_script(
        "for (const img of document.images) { img.loading = 'eager'; img.scrollIntoView(); }"
        "window.scrollTo(0, 0);"
    )
    deadline = time.monotonic() + timeout
    while True:
        pending = driver.execute_script(
            "return Array.from(document.images).filter(i => !i.complete).length;"
        )
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return driver.execute_script(_IMAGES_JS)


def save_full_page_screenshot(driver: object, path: Path, max_height: int = 12000) -> None:
    """Screenshot of the whole page (up to ``max_height`` pixels tall) saved as PNG at ``path``."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    full = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(width, max(height, min(int(full) + 200, max_height)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(width, height)


def check_link(site: Path, base_url: str, page: str, href: str) -> str | None:
    """Problem with an internal link ``href`` found on ``page``, or None if it resolves.

    ``href`` is absolute (the browser resolved it). Links leaving the local server are not
    internal and are ignored. A link must name an existing file (a folder means its index.html)
    and, when it has a #fragment pointing into an HTML file, an element with that id or name.
    """
    if not href.startswith(base_url):
        return None
    parts = urlsplit(href)
    rel = unquote(parts.path)[len(urlsplit(base_url).path) :]
    target = site / rel
    if rel == "" or rel.endswith("/") or target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"broken link on {page}: {href} (no file {target.relative_to(site)})"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in anchors_of(target):
        return f"broken anchor on {page}: {href} (no id {fragment!r} in {target.relative_to(site)})"
    return None


_REFRESH = re.compile(
    r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\s*\d+\s*;\s*url=([^"']+)["']""",
    re.IGNORECASE,
)


def redirect_target(path: Path) -> str | None:
    """The URL a redirect-only page (``<meta http-equiv="refresh" ...>``) sends to, else None."""
    match = _REFRESH.search(path.read_text(encoding="utf-8", errors="replace")[:2000])
    return match.group(1).strip() if match else None


def check_page(driver: object, site: Path, base_url: str, page: str) -> PageReport:
    """Opens ``page`` (relative to ``site``) in the browser and collects every problem.

    Checks: no browser console message at level SEVERE (JavaScript errors, resources that
    failed to load); every math node rendered by MathJax, no MathJax error nodes, no raw
    ``\\[``, ``\\(`` or ``$$`` in text outside code; every ``<img>`` loaded with a positive
    natural width; every internal link names an existing file and anchor.
    """
    report = PageReport(page)
    target = redirect_target(site / page)
    if target is not None:  # e.g. index.html -> the root page: the browser would navigate away
        report.links_checked = 1
        problem = check_link(site, base_url, page, urljoin(base_url + page, target))
        report.problems += [problem] if problem else []
        return report
    driver.get_log("browser")  # drop anything left from the previous page
    driver.get(base_url + page)
    state = driver.execute_async_script(_WAIT_JS)
    if state.startswith("mathjax failed") or state == "mathjax not started":
        report.problems.append(f"MathJax did not finish: {state}")

    math = driver.execute_script(_MATH_JS)
    report.math_nodes = math["count"]
    if math["count"] and state == "no mathjax":
        report.problems.append(f"{math['count']} math nodes but MathJax is not loaded")
    report.problems += [f"math not rendered by MathJax: {t!r}" for t in math["unrendered"]]
    report.problems += [f"MathJax error node: {t!r}" for t in math["merrors"]]
    report.problems += [f"raw TeX left in visible text: {t!r}" for t in math["raw"]]

    images = _load_images(driver)
    report.images = len(images)
    report.problems += [f"image did not load: {img['src']}" for img in images if not img["ok"]]

    seen: set[str] = set()
    for href in driver.execute_script(_LINKS_JS):
        if href in seen:
            continue
        seen.add(href)
        if href.startswith(base_url):
            report.links_checked += 1
        problem = check_link(site, base_url, page, href)
        if problem:
            report.problems.append(problem)

    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            report.problems.append(f"console error: {entry.get('message', '')[:300]}")
    return report
