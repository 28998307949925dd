"""Real-browser checks of the built book: serve the HTML locally and inspect every page in Chromium.

Used by ``tests/test_book_site.py``. The pieces, each with one job:

* :func:`site_dir` / :func:`find_pages` / :func:`toc_files` locate the built site and its pages;
* :func:`serve` serves a folder on ``127.0.0.1`` at a free port, silently, in a thread;
* :func:`chromium` starts headless Debian Chromium through ``/usr/bin/chromedriver``;
* :func:`check_page` opens one page and returns every problem found on it (JavaScript errors,
  math MathJax did not render, images that did not load, internal links that do not resolve);
* :func:`check_layout` measures horizontal overflow: at 1280 px no display equation and no code
  block wider than its column, at 390 px (a phone) no sideways scrolling of the page itself, and
  at both widths no inline formula sticking out of its paragraph;
* :func:`check_accessibility` runs the axe-core audit (serious and critical violations) and
  checks that every image has alt text that says something (not a file name);
* :func:`visible_code_cells` / :func:`bookkeeping_in` find verification bookkeeping
  (``n_asserts``, ``glue(``) in the code cells a reader sees.

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
    toc = site.parent.parent / "_toc.yml"
    return read_toc(toc) if toc.is_file() else None


def book_sources(root: Path = REPO) -> list[Path]:
    """The MyST Markdown file of every page in ``root/_toc.yml``, in book order."""
    return [root / f"{name}.md" for name in read_toc(root / "_toc.yml")]


def read_toc(toc: Path) -> list[str]:
    """Files listed in the Jupyter Book table of contents ``toc`` (root, then chapters)."""
    import yaml

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


# --- layout: horizontal overflow at a desktop and at a phone width -----------------------------

DESKTOP_WIDTH = 1280
PHONE_WIDTH = 390
WINDOW_HEIGHT = 1600
# Rounding of sub-pixel layout: a box may be this many px wider than its column.
OVERFLOW_TOLERANCE_PX = 1

# Opens every <details> (hide-input cells, dropdowns), so collapsed content is measured and
# audited as a reader who expands it sees it, and ends the fade-in animation of the opened
# content at once (axe would otherwise measure the contrast of half-transparent text).
_OPEN_DETAILS_JS = """
for (const d of document.querySelectorAll('details')) d.open = true;
for (const a of document.getAnimations()) { try { a.finish(); } catch (e) { a.cancel(); } }
"""

# Display equations and code blocks wider than their box. A display equation is Sphinx's
# div.math (MathJax puts its mjx-container inside, which the theme lets scroll) or a display
# mjx-container outside one; its TeX comes from MathJax's own list of typeset math.
_BOX_OVERFLOW_JS = r"""
const tol = arguments[0];
const texOf = new Map();
if (window.MathJax && MathJax.startup && MathJax.startup.document) {
  for (const item of MathJax.startup.document.math) texOf.set(item.typesetRoot, item.math);
}
const excess = el => el.scrollWidth - el.clientWidth;
const squash = s => (s || '').replace(/\s+/g, ' ').trim();
const out = [];
const boxes = Array.from(document.querySelectorAll('div.math'));
for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
  if (!c.closest('div.math')) boxes.push(c);
}
for (const box of boxes) {
  const inner = box.matches('mjx-container') ? box : box.querySelector('mjx-container');
  const px = Math.max(excess(box), inner ? excess(inner) : 0);
  if (px <= tol) continue;
  const eqno = box.querySelector('.eqno');
  const eqnoText = eqno ? eqno.textContent : '';
  const tex = squash((inner && texOf.get(inner)) || box.textContent.replace(eqnoText, ''));
  out.push({kind: 'display equation', id: box.id || '', text: tex.slice(0, 70),
            label: eqno ? squash(eqno.textContent).replace(/#$/, '') : '',
            px: px, width: (inner || box).clientWidth, collapsed: !!box.closest('details')});
}
const cells = Array.from(document.querySelectorAll('div.cell'));
for (const pre of document.querySelectorAll('pre')) {
  const px = excess(pre);
  if (px <= tol) continue;
  const cell = pre.closest('div.cell');
  const kind = pre.closest('.cell_output') ? 'output of code cell'
    : pre.closest('.cell_input') ? 'code cell' : 'code block';
  const lines = pre.textContent.split('\n');
  const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
  out.push({kind: kind, label: cell ? String(cells.indexOf(cell) + 1) : '', id: '',
            text: (lines.find(l => l.trim()) || '').trim().slice(0, 70), px: px,
            width: pre.clientWidth, collapsed: !!pre.closest('details'),
            longest: longest.length, longestText: longest.trim().slice(0, 70)});
}
return out;
"""

# Page-level sideways scrolling, and the outermost elements that stick out of the viewport
# (not clipped or scrolled by an ancestor, not fixed-position panels such as closed sidebars).
_PAGE_OVERFLOW_JS = r"""
const root = document.scrollingElement || document.documentElement;
const width = document.documentElement.clientWidth;
const res = {scrollWidth: root.scrollWidth, width: width, culprits: []};
if (root.scrollWidth <= width) return res;
const contained = el => {
  const top = [document.body, document.documentElement];
  for (let a = el; a && !top.includes(a); a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.position === 'fixed') return true;
    if (a !== el && s.overflowX !== 'visible') return true;
  }
  return false;
};
const sticking = new Set();
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.right + window.scrollX <= width + 0.5 || contained(el)) continue;
  sticking.add(el);
}
for (const el of sticking) {
  if (sticking.has(el.parentElement)) continue;
  const cls = Array.from(el.classList).slice(0, 3).join('.');
  const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls ? '.' + cls : '');
  res.culprits.push({element: name,
                     text: (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60),
                     px: Math.round(el.getBoundingClientRect().right + window.scrollX - width)});
}
return res;
"""


# Inline formulas wider than the text around them. MathJax 3 does not break an inline formula
# across lines, so one wider than its paragraph sticks out of the column (or is clipped) even
# when the page itself does not scroll. Each inline mjx-container of the article is compared
# with the content box of its nearest block ancestor (a paragraph, list item, table cell, ...).
_INLINE_MATH_JS = r"""
const tol = arguments[0];
const texOf = new Map();
if (window.MathJax && MathJax.startup && MathJax.startup.document) {
  for (const item of MathJax.startup.document.math) texOf.set(item.typesetRoot, item.math);
}
const scope = document.querySelector('article.bd-article') || document.querySelector('main')
  || document.body;
const inline = ['inline', 'inline-block', 'inline-flex', 'contents'];
const out = [];
for (const c of scope.querySelectorAll('mjx-container:not([display="true"])')) {
  const r = c.getBoundingClientRect();
  if (r.width === 0) continue;
  let block = c.parentElement;
  while (block !== scope && inline.includes(getComputedStyle(block).display)) {
    block = block.parentElement;
  }
  const b = block.getBoundingClientRect();
  const s = getComputedStyle(block);
  const left = b.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft);
  const right = b.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight);
  const px = Math.max(r.right - right, left - r.left);
  if (px <= tol) continue;
  const tex = (texOf.get(c) || c.textContent || '').replace(/\s+/g, ' ').trim();
  out.push({text: tex.slice(0, 70), px: Math.round(px), width: Math.round(r.width),
            column: Math.round(right - left), collapsed: !!c.closest('details')});
}
return out;
"""


def describe_inline_math(page: str, width: int, formula: dict) -> str:
    """One line naming the page, the inline formula's TeX, and how far it sticks out."""
    where = " (inside a collapsed cell, once opened)" if formula["collapsed"] else ""
    return (
        f"{page}: inline formula {formula['text']!r}{where} is {formula['width']} px wide and "
        f"sticks out of its {formula['column']} px column by {formula['px']} px at {width} px "
        "(split it at a relation sign into two inline formulas, or make it a display equation)"
    )


def open_page(driver: object, base_url: str, page: str, width: int) -> None:
    """Loads ``page`` in a ``width`` px wide window, waits for MathJax, opens every <details>."""
    driver.set_window_size(width, WINDOW_HEIGHT)
    driver.get(base_url + page)
    driver.execute_async_script(_WAIT_JS)
    driver.execute_script(_OPEN_DETAILS_JS)


def describe_box_overflow(page: str, box: dict) -> str:
    """One line naming the page, the element, its label or first text, and the overflow in px."""
    kind = box["kind"]
    if kind == "display equation":
        label = f"({box['label'].strip('()')})" if box["label"] else "(unnumbered)"
        what = f"display equation {label}{' #' + box['id'] if box['id'] else ''} {box['text']!r}"
    else:
        what = f"{kind} {box['label']} (first line {box['text']!r})".replace("  ", " ")
    where = " (inside a collapsed cell, once opened)" if box["collapsed"] else ""
    line = (
        f"{page}: {what}{where} is {box['px']} px wider than its "
        f"{box['width']} px column at {DESKTOP_WIDTH} px"
    )
    if "longest" in box:
        line += f"; longest line {box['longest']} characters: {box['longestText']!r}"
    return line


def describe_page_overflow(page: str, width: int, result: dict) -> str:
    """One line saying how far the page scrolls sideways at ``width`` and what sticks out."""
    culprits = "; ".join(
        f"{c['element']} {c['text']!r} sticks out {c['px']} px" for c in result["culprits"][:5]
    )
    more = len(result["culprits"]) - 5
    culprits += f"; and {more} more" if more > 0 else ""
    return (
        f"{page}: at {width} px the page scrolls sideways "
        f"({result['scrollWidth']} px of content in a {result['width']} px viewport): {culprits}"
    )


def check_layout(driver: object, site: Path, base_url: str, page: str) -> list[str]:
    """Every horizontal-overflow problem of ``page``.

    At :data:`DESKTOP_WIDTH` no display equation and no code block (``pre``: code cells, their
    outputs, code blocks in the text) may be wider than its column, and the page may not scroll
    sideways; at :data:`PHONE_WIDTH` the page may not scroll sideways (an equation or code block
    may scroll inside its own box there). At both widths no inline formula may stick out of the
    paragraph (list item, table cell, ...) that holds it. Collapsed cells are opened first. The
    window is left at the desktop width.
    """
    if redirect_target(site / page) is not None:
        return []
    problems = []
    try:
        open_page(driver, base_url, page, DESKTOP_WIDTH)
        boxes = driver.execute_script(_BOX_OVERFLOW_JS, OVERFLOW_TOLERANCE_PX)
        problems += [describe_box_overflow(page, box) for box in boxes]
        for width in (DESKTOP_WIDTH, PHONE_WIDTH):
            if width != DESKTOP_WIDTH:
                open_page(driver, base_url, page, width)
            result = driver.execute_script(_PAGE_OVERFLOW_JS)
            if result["scrollWidth"] > result["width"]:
                problems.append(describe_page_overflow(page, width, result))
            formulas = driver.execute_script(_INLINE_MATH_JS, OVERFLOW_TOLERANCE_PX)
            problems += [describe_inline_math(page, width, f) for f in formulas]
    finally:
        driver.set_window_size(DESKTOP_WIDTH, WINDOW_HEIGHT)
    return problems


# --- accessibility: axe-core audit, image alt text ----------------------------------------------

AXE_ENV = "MMIDS_AXE_JS"
# Where `make test` installs the pinned axe-core npm package (see the Makefile).
AXE_DEFAULT = REPO / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
_IMAGE_FILE = re.compile(r"\.(png|svg|jpe?g|gif|webp)$", re.IGNORECASE)


def axe_path() -> Path:
    """``axe.min.js`` of the axe-core package: ``$MMIDS_AXE_JS`` if set, else ``.venv/axe``."""
    return Path(os.environ.get(AXE_ENV) or AXE_DEFAULT)


def load_axe(path: Path | None = None) -> str:
    """Source of ``axe.min.js``; a clear error naming the install command when it is missing."""
    path = path or axe_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the accessibility audit needs the axe-core npm package "
            "(`make test` installs it; by hand: npm install --prefix .venv/axe axe-core@<version "
            f"in the Makefile>, or point {AXE_ENV} at an axe.min.js)"
        )
    return path.read_text(encoding="utf-8")


_AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.map(String), impact: n.impact,
                              data: (n.any[0] || {}).data || null}))}))),
  e => done({error: String(e)}));
"""

_ALT_JS = """
return Array.from(document.images).map(i => ({src: i.getAttribute('src') || '',
                                              alt: i.getAttribute('alt')}));
"""


def alt_problem(src: str, alt: str | None) -> str | None:
    """Why ``alt`` does not describe the image at ``src`` (missing, empty, a file name), or None.

    myst-nb writes the image's path as its alt text when a cell gives none, so an alt that is
    the source, or ends in an image extension, counts as missing.
    """
    text = (alt or "").strip()
    if alt is None:
        return "no alt attribute"
    if not text:
        return "empty alt text"
    if text == src or Path(text).name == Path(src).name or _IMAGE_FILE.search(text):
        return f"alt text is a file name ({text[:60]!r}), not a description"
    return None


def describe_violation(page: str, violation: dict, max_targets: int = 5) -> str:
    """One line per axe violation: page, rule id, impact, help text, target selectors."""
    targets = [" ".join(node["target"]) for node in violation["nodes"]]
    shown = ", ".join(targets[:max_targets])
    more = f" and {len(targets) - max_targets} more" if len(targets) > max_targets else ""
    line = (
        f"{page}: axe {violation['id']} ({violation['impact']}): {violation['help']}; "
        f"{len(targets)} element(s): {shown}{more}"
    )
    data = violation["nodes"][0].get("data") if violation["nodes"] else None
    if isinstance(data, dict) and data.get("contrastRatio"):
        line += (
            f" (first: contrast {data['contrastRatio']}, {data.get('fgColor')} on "
            f"{data.get('bgColor')} at {data.get('fontSize')}, "
            f"needs {data.get('expectedContrastRatio')})"
        )
    return line


def check_accessibility(
    driver: object, site: Path, base_url: str, page: str, axe_source: str
) -> list[str]:
    """Serious and critical axe-core violations of ``page``, and images without a real alt.

    The page is opened at :data:`DESKTOP_WIDTH` with every <details> open, so collapsed cells
    are audited too; ``axe_source`` is the text of ``axe.min.js`` (:func:`load_axe`).
    """
    if redirect_target(site / page) is not None:
        return []
    open_page(driver, base_url, page, DESKTOP_WIDTH)
    problems = []
    for image in driver.execute_script(_ALT_JS):
        why = alt_problem(image["src"], image["alt"])
        if why:
            problems.append(f"{page}: image {image['src']}: {why}")
    driver.execute_script(axe_source)
    violations = driver.execute_async_script(_AXE_RUN_JS)
    if isinstance(violations, dict):
        return [*problems, f"{page}: axe-core failed to run: {violations.get('error')}"]
    problems += [
        describe_violation(page, v) for v in violations if v.get("impact") in BLOCKING_IMPACTS
    ]
    return problems


# --- verification bookkeeping in the code a reader sees -----------------------------------------

# Verification bookkeeping that belongs in hidden cells (the check count comes from
# mmids.gradcheck.tally; glue() calls go into remove-input / hide-input cells).
BOOKKEEPING = ("n_asserts", "glue(")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


@dataclass
class CodeCell:
    """The input of one code cell of a built page: its number on the page (from 1), its text,
    and whether it is collapsed (a hide-input cell, inside <details>)."""

    number: int
    source: str
    collapsed: bool


class _CellInputs(HTMLParser):
    """Collects the text of every ``div.cell_input`` and whether a <details> encloses it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, is a cell input)
        self.cells: list[tuple[bool, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        is_input = tag == "div" and "cell_input" in classes
        if is_input:
            self.cells.append((any(t == "details" for t, _ in self.stack), []))
        self.stack.append((tag, is_input))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if any(is_input for _, is_input in self.stack):
            self.cells[-1][1].append(data)


def code_cells(html: str) -> list[CodeCell]:
    """Every code cell input shown on a built page (remove-input cells are not in the HTML)."""
    parser = _CellInputs()
    parser.feed(html)
    parser.close()
    return [
        CodeCell(n, "".join(parts).strip("\n"), collapsed)
        for n, (collapsed, parts) in enumerate(parser.cells, start=1)
    ]


def visible_code_cells(html: str) -> list[CodeCell]:
    """The code cells whose input a reader sees without expanding anything."""
    return [cell for cell in code_cells(html) if not cell.collapsed]


def bookkeeping_in(source: str) -> list[tuple[int, str]]:
    """(line number from 1, line) of every line of ``source`` holding :data:`BOOKKEEPING`."""
    return [
        (n, line.strip())
        for n, line in enumerate(source.splitlines(), start=1)
        if any(marker in line for marker in BOOKKEEPING)
    ]
