"""The built book in a real browser (issue #8): headless Chromium opens every page.

A page fails if it has

- a console error or an uncaught JavaScript error;
- a local request (script, stylesheet, image, font, ...) that fails or answers
  with an HTTP error;
- a broken local link: a target that is missing, or a ``#fragment`` with no
  element of that id (on the same page or another);
- an image that did not load, or a figure that was stored as text
  (``<Figure size ... with 1 Axes>``) instead of an image;
- math that MathJax did not typeset, typeset as a TeX error, or with an
  undefined macro; raw TeX (``$x$``, ``\\frac``) or an unrendered MyST role
  (``{ref}``, ``{glue:text}``) in the text;
- a script, stylesheet, font, image or media file loaded from another host:
  the book must work offline (MathJax comes from ``_static/mathjax``, put
  there by the sphinx-mathjax-offline extension in ``_config.yml``).

Requests to other hosts are aborted, so the test never waits on the network
and behaves the same with or without it; those requests (and the console
messages about them) are not errors, apart from the resource kinds above.
A screenshot of every page in ``_toc.yml`` goes to
``_build/screenshots/<page>.png`` for a person to look at.

The browser is Debian's ``chromium`` (``tools/setup.sh`` installs it),
driven by Playwright from PyPI; Playwright's own browser download is never
used. ``LOSSBOOK_CHROMIUM`` may name another Chromium/Chrome binary. With no
browser the tests fail (they never skip). The self-tests at the end break
copies of a built chapter one way each and prove that each failure is caught.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.server
import os
import pathlib
import re
import shutil
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from test_book import _LinkParser, toc_documents

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "_build" / "screenshots"
# What a page may not load from another host: without it, it renders wrong offline.
MUST_BE_LOCAL = {"script", "stylesheet", "font", "image", "media"}
VIEWPORT = {"width": 1280, "height": 900}
# Screenshots show a page from its top, at most this tall (CSS px): a whole long
# chapter (30,000 px) takes seconds to render and encode and megabytes to store.
SCREENSHOT_MAX_HEIGHT = 6000


def chromium_executable() -> str:
    """The Chromium binary: $LOSSBOOK_CHROMIUM, else Debian's chromium package."""
    wanted = os.environ.get("LOSSBOOK_CHROMIUM")
    candidates = [wanted] if wanted else [
        "/usr/lib/chromium/chromium",  # Debian's binary (/usr/bin/chromium is a shell wrapper)
        shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome"),
    ]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    pytest.fail(
        f"no Chromium found ({'LOSSBOOK_CHROMIUM=' + wanted if wanted else 'looked for Debian chromium'}): "
        "the browser test needs Debian's `chromium` package. `bash tools/setup.sh` installs it when run "
        "as root (apt-get install chromium); otherwise run `sudo apt-get install chromium`, or point "
        "LOSSBOOK_CHROMIUM at a Chromium or Chrome binary.",
        pytrace=False,
    )


# --------------------------------------------------------------------------
# serving a built book and opening its pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser hung up: not news
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(directory: pathlib.Path):
    """Serve a folder over HTTP on localhost (so a missing file is a real 404); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        _http_status.cache_clear()  # a later server may get the same port
        _ids_of.cache_clear()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `bash tools/setup.sh` installs requirements.txt", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, reduced_motion="reduce")
    ctx.set_default_timeout(60_000)
    yield ctx
    ctx.close()


@dataclasses.dataclass
class PageReport:
    url: str
    problems: list[str]
    ids: set[str]  # of the rendered page, for #fragment links into it
    links: list[str]  # absolute hrefs of its <a>/<area> elements
    external: list[str]  # aborted requests to other hosts, "resource_type url"


# Waits for MathJax's first typeset and for every image (lazy ones too) and font.
_SETTLE_JS = """async () => {
  const M = window.MathJax;
  if (M && M.startup && M.startup.promise) { await M.startup.promise.catch(() => null); }
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all(Array.from(document.images, img => img.decode().catch(() => null)));
  await document.fonts.ready;
}"""

# Everything that can be seen in the rendered DOM.
_INSPECT_JS = r"""() => {
  const out = {images: [], figures: [], untypeset: [], texErrors: [], raw: [], ids: [], links: []};
  const short = s => s.replace(/\s+/g, " ").trim().slice(0, 120);
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
      out.images.push((img.getAttribute("src") || "").slice(0, 120) || short(img.outerHTML));
    }
  }
  // a matplotlib figure stored as its text repr instead of an image
  for (const el of document.querySelectorAll(".cell_output")) {
    const m = el.textContent.match(/<Figure size [^>]*>/);
    if (m) { out.figures.push(m[0]); }
  }
  // Sphinx puts every $...$ / $$...$$ in a .math element; MathJax replaces its TeX by an mjx-container
  for (const el of document.querySelectorAll(".math")) {
    if (!el.querySelector("mjx-container")) { out.untypeset.push(short(el.textContent)); }
  }
  const M = window.MathJax;
  if (M && M.startup && M.startup.document && M.startup.document.math) {
    for (const item of M.startup.document.math) {
      item.root.walkTree(node => {
        if (node.isKind("merror")) {
          out.texErrors.push(short(item.math) + ": " + (node.attributes.get("data-mjx-error") || "TeX error"));
        } else if (node.isKind("mtext") && node.attributes.getExplicit("mathcolor") === "red") {
          const text = node.childNodes.map(c => (c.getText ? c.getText() : "")).join("");
          if (text.startsWith("\\")) { out.texErrors.push(short(item.math) + ": undefined macro " + text); }
        }
      });
    }
  }
  // TeX or MyST roles left as text (outside code, which may show them on purpose)
  const RAW = [
    [/\$[^$\s]([^$]*[^$\s])?\$/, "raw TeX"],
    [/\\(\(|\[|begin\{|end\{|frac|sqrt|sum|mathbf|mathrm|operatorname|left[(\[|.]|right[)\]|.])/, "raw TeX"],
    [/\{(glue|cite|ref|numref|eq|doc|math|term)(:[a-z]+)?\}`/, "unrendered MyST role"],
  ];
  const seen = new Set();
  const blocks = "p, li, td, th, dt, dd, h1, h2, h3, h4, h5, h6, figcaption, caption, blockquote, .admonition-title";
  for (const el of document.body.querySelectorAll(blocks)) {
    const copy = el.cloneNode(true);
    copy.querySelectorAll("pre, code, kbd, samp, script, style, textarea, mjx-container, .math, .highlight, .sig, .pre")
      .forEach(e => e.remove());  // code, typeset math, and API signatures (code too)
    const text = copy.textContent;
    for (const [re, what] of RAW) {
      const m = text.match(re);
      if (m && !seen.has(m[0])) { seen.add(m[0]); out.raw.push(what + " in the text: " + short(m[0]) + "  (in: " + short(text) + ")"); }
    }
  }
  out.ids = Array.from(document.querySelectorAll("[id]"), e => e.id)
    .concat(Array.from(document.querySelectorAll("a[name]"), e => e.name));
  out.links = Array.from(document.querySelectorAll("a[href], area[href]"), a => a.href);
  return out;
}"""


def open_page(context, url: str, base: str, *, screenshot: pathlib.Path | None = None) -> PageReport:
    """Open one page, let it settle, and report everything wrong with it (but its links)."""
    problems: list[str] = []
    external: list[str] = []

    def local(u: str) -> bool:
        return u.startswith(base)

    def short(u: str) -> str:
        return u[len(base):] if local(u) else u

    def on_route(route):
        request = route.request
        if local(request.url) or request.url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            external.append(f"{request.resource_type} {request.url}")
            if request.resource_type in MUST_BE_LOCAL:
                problems.append(f"loads a {request.resource_type} from another host (not offline): {request.url}")
            route.abort()

    def on_console(message):
        if message.type == "error":
            source = (message.location or {}).get("url", "")
            if source and not local(source):
                return  # e.g. "Failed to load resource" for an aborted request to another host
            problems.append(f"console error: {message.text}")

    errors: list[str] = []
    page = context.new_page()
    page.route("**/*", on_route)
    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda r: local(r.url) and problems.append(
        f"failed to load {short(r.url)}: {r.failure}"))
    page.on("response", lambda r: local(r.url) and r.status >= 400 and problems.append(
        f"HTTP {r.status} for {short(r.url)}"))
    try:
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"the page itself answered {response and response.status}")
        page.evaluate(_SETTLE_JS)
        found = page.evaluate(_INSPECT_JS)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            # a window as tall as the shot: twice as fast as full_page with a clip
            height = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_MAX_HEIGHT)
            page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, VIEWPORT["height"])})
            page.screenshot(path=str(screenshot), animations="disabled")
    finally:
        page.close()
    problems += [f"uncaught JavaScript error: {error}" for error in errors]
    problems += [f"image did not render: {src}" for src in found["images"]]
    problems += [f"figure did not render (stored as text): {text}" for text in found["figures"]]
    problems += [f"math not typeset by MathJax: {tex}" for tex in found["untypeset"]]
    problems += [f"MathJax could not typeset {error}" for error in found["texErrors"]]
    problems += found["raw"]
    return PageReport(url=url, problems=problems, ids=set(found["ids"]), links=found["links"], external=external)


def broken_links(reports: list[PageReport], base: str) -> dict[str, list[str]]:
    """Local links of the reported pages whose target is missing or has no such #fragment."""
    ids = {r.url: r.ids for r in reports}  # the rendered pages: ids as the browser sees them
    status: dict[str, int] = {}
    problems: dict[str, list[str]] = {}
    for report in reports:
        for link in dict.fromkeys(report.links):
            if not link.startswith(base):
                continue
            parts = urllib.parse.urlsplit(link)
            target = urllib.parse.urlunsplit(parts._replace(query="", fragment=""))
            fragment = urllib.parse.unquote(parts.fragment)
            if target not in status:
                status[target] = _http_status(target)
            if status[target] != 200:
                problems.setdefault(report.url, []).append(f"broken link {link[len(base):]}: HTTP {status[target]}")
                continue
            if fragment and target not in ids:
                ids[target] = _ids_of(target)
            if fragment and ids[target] is not None and fragment not in ids[target]:
                problems.setdefault(report.url, []).append(f"broken link {link[len(base):]}: no id {fragment!r}")
    return problems


@functools.lru_cache(maxsize=None)  # cleared when its server stops
def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@functools.lru_cache(maxsize=None)
def _ids_of(url: str) -> frozenset[str] | None:
    """The ids of a page that was not opened in the browser (None: not HTML)."""
    with urllib.request.urlopen(url, timeout=30) as answer:
        if answer.headers.get_content_type() != "text/html":
            return None
        parser = _LinkParser()
        parser.feed(answer.read().decode("utf-8", errors="replace"))
        return frozenset(parser.ids)


# --------------------------------------------------------------------------
# the book


def test_every_page_renders_in_chromium(built_book, context):
    html = built_book.html
    assert (html / "index.html").exists(), f"the book was not built:\n{built_book.log[-3000:]}"
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    with serve(html) as base:
        reports = []
        for doc in toc_documents():
            assert (html / f"{doc}.html").exists(), f"{doc} was not built"
            shot = SCREENSHOTS / f"{pathlib.PurePosixPath(doc).name}.png"
            reports.append(open_page(context, base + f"{doc}.html", base, screenshot=shot))
        links = broken_links(reports, base)
    problems = [f"{r.url[len(base):]}: {p}" for r in reports for p in r.problems + links.get(r.url, [])]
    assert problems == [], f"{len(problems)} problems in the rendered book:\n" + "\n".join(problems)
    # the checks had something to check
    assert sum(len(r.links) for r in reports) > len(reports)
    assert len(list(SCREENSHOTS.glob("*.png"))) == len(reports)


# --------------------------------------------------------------------------
# self-tests: copies of a built chapter, broken, must fail with the right message
#
# Each kind of breakage below is one small insertion into book/broken.html, or
# (where it would hide the others) a page of its own; each test finds its own
# message in its page's report. book/clean.html, the unbroken copy (with links
# to and requests for other hosts), must have no problem at all.


def _insert(snippet: str):
    def change(page: str) -> str:
        assert "</h1>" in page
        return page.replace("</h1>", "</h1>\n" + snippet, 1)
    return change


def _mathjax_missing(page: str) -> str:
    changed, n = re.subn(r'src="([./]*_static/mathjax/)tex-chtml\.js"', r'src="\1no-such-mathjax.js"', page)
    assert n == 1, "the page does not load MathJax from _static/mathjax"
    return changed


MATH = '<p><span class="math notranslate nohighlight">\\({}\\)</span></p>'

# breakage: (what book/broken.html gets inserted, what the report must say)
INSERTED = {
    "broken_image": ('<img src="../_images/no-such-figure.png" alt="x">',
                     ["image did not render: ../_images/no-such-figure.png", "HTTP 404 for _images/no-such-figure.png"]),
    "figure_as_text": ('<div class="cell_output docutils container"><div class="output text_plain">'
                       "<pre>&lt;Figure size 640x480 with 1 Axes&gt;</pre></div></div>",
                       ["figure did not render (stored as text): <Figure size 640x480 with 1 Axes>"]),
    "missing_script": ('<script src="../_static/no-such-script.js"></script>', ["HTTP 404 for _static/no-such-script.js"]),
    "broken_link": ('<p><a href="no-such-page.html">x</a></p>', ["broken link book/no-such-page.html: HTTP 404"]),
    "broken_anchor": ('<p><a href="#no-such-id">x</a> <a href="clean.html#nor-this-id">y</a></p>',
                      ["broken link book/broken.html#no-such-id: no id 'no-such-id'",
                       "broken link book/clean.html#nor-this-id: no id 'nor-this-id'"]),
    "raw_tex": ("<p>A loss of $x^2$, not typeset.</p>", ["raw TeX in the text: $x^2$"]),
    "raw_tex_macro": ("<p>A loss of \\frac{1}{2} r^2.</p>", ["raw TeX in the text: \\frac"]),
    "unrendered_role": ("<p>See {ref}`regression-losses`.</p>", ["unrendered MyST role in the text: {ref}`"]),
    "tex_error": (MATH.format("\\frac{1}"), ["MathJax could not typeset \\frac{1}"]),
    "tex_undefined_macro": (MATH.format("x + \\nosuchmacro"), ["undefined macro \\nosuchmacro"]),
    "js_error": ('<script>throw new Error("self-test boom")</script>', ["uncaught JavaScript error: self-test boom"]),
    "console_error": ('<script>console.error("self-test complaint")</script>', ["console error: self-test complaint"]),
    "cdn_script": ('<script src="https://cdn.invalid/lib.js"></script>',
                   ["loads a script from another host (not offline): https://cdn.invalid/lib.js"]),
}
# breakage: (how its own page is made from the chapter, what the report must say)
OWN_PAGE = {
    "mathjax_missing": (_mathjax_missing, ["HTTP 404 for _static/mathjax/no-such-mathjax.js", "math not typeset by MathJax"]),
}
# links to, and data fetched from, other hosts fail offline without counting as broken
CLEAN_EXTRAS = ('<p><a href="https://example.invalid/page.html#x">out</a></p>'
                '<script>fetch("https://example.invalid/data.json").catch(() => null)</script>')


@pytest.fixture(scope="module")
def broken_site(built_book, tmp_path_factory):
    """The built book (linked, not copied) plus copies of one chapter: book/clean.html,
    book/broken.html and book/<breakage>.html for each OWN_PAGE breakage.

    The copies keep the chapter's whole page (theme, scripts, MathJax,
    navigation) but only a few pieces of its article, one inline and one
    display formula and one figure, so that each loads in a fraction of the
    time; the ids of the rest stay, as empty elements, for the page's links.
    Yields the base URL and {page name: its HTML}.
    """
    html = built_book.html
    docs = [d for d in toc_documents() if d.startswith("book/") and (html / f"{d}.html").exists()]
    page = next((text for d in docs
                 if 'class="math' in (text := (html / f"{d}.html").read_text(encoding="utf-8"))
                 and 'src="../_images/' in text), None)
    assert page is not None, "no built chapter with both math and a figure to break"
    opening = '<article class="bd-article">'
    start = page.index(opening) + len(opening)
    end = page.index("</article>", start)
    article = page[start:end]
    pieces = [
        re.search(r'<span class="math notranslate nohighlight">.*?</span>', article, re.S),
        re.search(r'<div class="math notranslate nohighlight">.*?</div>', article, re.S),
        re.search(r'<img [^>]*src="\.\./_images/[^"]+"[^>]*>', article),
    ]
    assert all(pieces), "the chapter lacks inline math, display math or a figure"
    inline, display, figure = (m.group(0) for m in pieces)
    ids = "".join(f'<span id="{i}"></span>' for i in re.findall(r'\bid="([^"]+)"', article))
    page = page[:start] + (
        f'<section id="self-test"><h1>Self-test</h1><p>A formula {inline} in the text.</p>'
        f"{display}<p>{figure}</p><div>{ids}</div></section>"
    ) + page[end:]

    site = tmp_path_factory.mktemp("site")
    for entry in html.iterdir():
        if entry.name != "book":
            (site / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (site / "book").mkdir()
    for entry in (html / "book").iterdir():
        (site / "book" / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    pages = {"clean": _insert(CLEAN_EXTRAS)(page), "broken": _insert("\n".join(i for i, _ in INSERTED.values()))(page)}
    pages.update({name: change(page) for name, (change, _) in OWN_PAGE.items()})
    for name, text in pages.items():
        (site / "book" / f"{name}.html").write_text(text, encoding="utf-8")
    with serve(site) as base:
        yield base, pages


@pytest.fixture(scope="module")
def broken_reports(broken_site, context):
    """What the checker says about each page of broken_site: {page: (report, problems)}."""
    base, pages = broken_site
    reports = {}
    for name in pages:
        report = open_page(context, base + f"book/{name}.html", base)
        reports[name] = (report, report.problems + broken_links([report], base).get(report.url, []))
    return reports


def test_checker_passes_the_unbroken_copy(broken_reports):
    report, problems = broken_reports["clean"]
    assert problems == [], f"an unbroken page reported {problems}"
    assert "fetch https://example.invalid/data.json" in report.external  # aborted, and no problem


@pytest.mark.parametrize("name", [*INSERTED, *OWN_PAGE])
def test_checker_catches_each_kind_of_breakage(name, broken_reports):
    page, expected = ("broken", INSERTED[name][1]) if name in INSERTED else (name, OWN_PAGE[name][1])
    _, problems = broken_reports[page]
    for what in expected:
        assert any(what in p for p in problems), f"{name}: expected {what!r} among {problems}"
