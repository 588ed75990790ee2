"""Book integrity: the table of contents, the stored notebooks, glue, the build.

nbval (run by tools/test.sh over book/) re-executes every notebook and
compares outputs; these tests check what nbval cannot: that every chapter is
in the book, was stored executed top to bottom with no errors, that every
catalog loss is used somewhere, that glued numbers exist, and that the book
builds with warnings as errors.
"""

from __future__ import annotations

import html.parser
import json
import pathlib
import re
import subprocess
import sys
import urllib.parse

import pytest
import yaml

from lossbook import catalog

ROOT = pathlib.Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def toc_documents() -> list[str]:
    """Document names in _toc.yml (root first), e.g. 'book/regression'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    docs = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                docs.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return docs


def source_of(doc: str) -> pathlib.Path:
    for suffix in (".ipynb", ".md"):
        path = ROOT / f"{doc}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"{doc} in _toc.yml has no .ipynb or .md file")


NOTEBOOKS = [source_of(d) for d in toc_documents() if source_of(d).suffix == ".ipynb"]


def load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def test_every_toc_entry_exists_and_every_page_is_in_the_toc():
    docs = toc_documents()
    assert len(docs) == len(set(docs)), "a document is listed twice in _toc.yml"
    for doc in docs:
        source_of(doc)
    on_disk = {str(p.relative_to(ROOT).with_suffix("")) for p in BOOK.glob("*") if p.suffix in (".ipynb", ".md")}
    assert on_disk - set(docs) == set(), "pages in book/ that _toc.yml does not list"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_was_executed_top_to_bottom_without_errors(path):
    nb = load(path)
    cells = code_cells(nb)
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, f"{path.name}: code cells never executed (nbval would not compare them)"
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not executed top to bottom in one kernel"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: stored error output in\n{text(cell)}"
            if out["output_type"] == "stream":
                assert out["name"] == "stdout", f"{path.name}: stored stderr output {''.join(out['text'])!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_hold_nothing_machine_specific(path):
    raw = path.read_text(encoding="utf-8")
    for pattern, what in [
        (r"0x[0-9a-f]{8,}", "a memory address"),
        (r"\d+(\.\d+)?it/s", "a progress bar"),
        (r"/tmp/ipykernel_", "a temporary path from a warning"),
        (r"cuda:\d|device='cuda'", "a GPU device name"),
    ]:
        assert not re.search(pattern, raw), f"{path.name}: stored outputs contain {what}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_title(path):
    headings = [
        line for c in load(path)["cells"] if c["cell_type"] == "markdown"
        for line in text(c).splitlines() if re.match(r"# \S", line)
    ]
    assert len(headings) == 1, f"{path.name}: expected one '# ' title, found {headings}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_solutions_hide_their_output_too(path):
    # "hide-input" would hide the code but print the answer under the exercise
    for c in code_cells(load(path)):
        if text(c).lstrip().startswith("# Solution"):
            tags = c["metadata"].get("tags", [])
            assert "hide-cell" in tags and "hide-input" not in tags, (
                f"{path.name}: a solution cell must be tagged hide-cell (input and output behind a toggle), "
                f"has {tags}: {text(c)[:60]!r}"
            )


GLUE_ROLE = re.compile(r"\{glue(?::[a-z]+)?\}`([^`]+)`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glue_keys_resolve(path):
    nb = load(path)
    glued = {
        out["metadata"]["scrapbook"]["name"]
        for c in code_cells(nb) for out in c.get("outputs", [])
        if "scrapbook" in out.get("metadata", {})
    }
    used = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for ref in GLUE_ROLE.findall(text(cell)):
                used.add(ref.split("::")[-1].split(":")[0])
    assert used - glued == set(), f"{path.name}: glue keys used in prose but never glued"


def test_every_chapter_starts_with_the_colab_install_cell():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "colab_cell.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    for path in NOTEBOOKS:
        first = load(path)["cells"][0]
        # executed like every cell (a no-op outside Colab), never run by nbval, not shown in the HTML
        assert first["cell_type"] == "code" and first["execution_count"] == 1 and not first["outputs"]
        assert {"nbval-skip", "remove-cell"} <= set(first["metadata"]["tags"])
        assert 'if "google.colab" in sys.modules:' in text(first)


def test_launch_buttons_are_configured():
    launch = yaml.safe_load((ROOT / "_config.yml").read_text())["launch_buttons"]
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert launch["binderhub_url"] == "https://mybinder.org"


def test_every_catalog_loss_is_called_in_some_chapter():
    code = "\n".join(text(c) for p in NOTEBOOKS for c in code_cells(load(p)))
    missing = [k for k in catalog.keys() if not re.search(rf"(?<![\w]){k}\(", code)]
    assert missing == [], f"catalog losses never called in an executed chapter: {missing}"


def test_book_builds_with_warnings_as_errors(built_book):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    # Stored outputs are shown as they are and verified by nbval; with no
    # execution cache there is no stale cache to hide a change in lossbook.
    assert config["execute"]["execute_notebooks"] == "off"
    assert built_book.returncode == 0, f"book build failed:\n{built_book.log[-5000:]}"
    assert "WARNING" not in built_book.log
    for doc in toc_documents():
        page = built_book.html / f"{doc}.html"
        assert page.exists(), f"{doc} was not built"
        # a glue role that Sphinx did not replace (e.g. swallowed by a broken $...$) shows raw
        assert "{glue" not in page.read_text(encoding="utf-8"), f"{doc}: a glue role was not rendered"


# --------------------------------------------------------------------------
# Internal links of the built HTML (issue #7), checked without a browser;
# tests/test_browser.py checks what only a browser sees.

class _LinkParser(html.parser.HTMLParser):
    """Collects the ids (and <a name>) of a page and its href/src references."""

    REFS = {"a": "href", "area": "href", "link": "href", "img": "src", "script": "src",
            "iframe": "src", "source": "src", "video": "src", "audio": "src", "embed": "src"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        attr = self.REFS.get(tag)
        if attr and attrs.get(attr) is not None:
            self.refs.append((tag, attrs[attr]))


def _parse_html(path: pathlib.Path) -> _LinkParser:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def broken_local_links(root: pathlib.Path) -> list[str]:
    """Every local href/src of every HTML page under root (but _static/) that does not resolve.

    A reference resolves when its file exists inside root (a folder means its
    index.html) and, for a #fragment into an HTML page (the same page or
    another), when that page has an element with that id. External URLs
    (http:, https:, //host, mailto:, data:, javascript:, ...) are not checked.
    """
    root = root.resolve()
    parsed: dict[pathlib.Path, _LinkParser] = {}

    def parse(path):
        if path not in parsed:
            parsed[path] = _parse_html(path)
        return parsed[path]

    problems = []
    for page in sorted(root.rglob("*.html")):
        page = page.resolve()
        if page.relative_to(root).parts[0] == "_static":
            continue  # theme template fragments ({{ pathto(...) }}), not pages
        for tag, ref in parse(page).refs:
            parts = urllib.parse.urlsplit(ref.strip())
            if parts.scheme or parts.netloc:
                continue  # external, or mailto:/data:/javascript:
            where = f"{page.relative_to(root)}: <{tag}> {ref!r}"
            target = page
            if parts.path:
                target = (page.parent / urllib.parse.unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_relative_to(root) or not target.is_file():
                    problems.append(f"{where}: no such file")
                    continue
            fragment = urllib.parse.unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                problems.append(f"{where}: no id {fragment!r} in {target.relative_to(root)}")
    return problems



def test_api_page_documents_every_catalog_loss(built_book):
    # autodoc gives each documented object an anchor "lossbook.<family>.<name>"; a loss that moved to a
    # private submodule and was not re-exported with __all__ (or a family missing from api.md) has none
    page = (built_book.html / "book" / "api.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(lossbook\.[\w.]+)"', page))
    missing = [f"lossbook.{r.family}.{r.key}" for r in catalog.RECORDS if f"lossbook.{r.family}.{r.key}" not in anchors]
    assert missing == [], f"catalog losses without an entry in the API reference: {missing}"
    assert "lossbook.set_value_checks" in anchors and "lossbook.train.fit" in anchors

def test_no_broken_internal_links(built_book):
    assert (built_book.html / "index.html").exists(), f"the book was not built:\n{built_book.log[-3000:]}"
    problems = broken_local_links(built_book.html)
    assert problems == [], "broken internal links in the built book:\n" + "\n".join(problems)


def test_link_checker_catches_broken_links(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "fig.png").write_bytes(b"png")
    (tmp_path / "index.html").write_text('<a href="book/a.html">a</a><p id="top"></p>')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "template.html").write_text('<link href="{{ pathto(x) }}">')  # not a page
    (tmp_path / "book" / "a.html").write_text(
        '<h1 id="a-title">A</h1><a href="#a-title">ok</a><a href="../index.html#top">ok</a>'
        '<a href="../">ok</a><img src="../_images/fig.png"><a href="https://example.com/x.html#y">ext</a>'
        '<a href="mailto:a@b.c">mail</a><a href="#">top</a><a href="a.html?x=1#a%2Dtitle">ok</a>'
    )
    assert broken_local_links(tmp_path) == []
    (tmp_path / "book" / "b.html").write_text(
        '<a href="missing.html">1</a><a href="a.html#nope">2</a><a href="#also-nope">3</a>'
        '<img src="../_images/gone.png"><script src="../_static/gone.js"></script>'
        '<link rel="stylesheet" href="../../outside.css">'
    )
    problems = broken_local_links(tmp_path)
    assert len(problems) == 6, problems
    for expected in ["missing.html", "'nope'", "'also-nope'", "gone.png", "gone.js", "outside.css"]:
        assert any(expected in p for p in problems), (expected, problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_pages_have_launch_buttons(built_book, path):
    doc = str(path.relative_to(ROOT).with_suffix(""))
    page = (built_book.html / f"{doc}.html").read_text(encoding="utf-8")
    assert f"https://colab.research.google.com/github/lossbook/lossbook/blob/main/{doc}.ipynb" in page
    assert f"https://mybinder.org/v2/gh/lossbook/lossbook/main?urlpath=tree/{doc}.ipynb" in page


# --------------------------------------------------------------------------
# Each page loads each script once: Sphinx 7 emitted sphinx-thebe's inline
# config script twice (a console error on every page); tools/lossbook_sphinx.py
# removes such duplicates.

class _ScriptParser(html.parser.HTMLParser):
    """Collects every <script> of a page as its attributes and its body."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = (" ".join(f"{k}={v!r}" for k, v in sorted(attrs, key=lambda a: a[0])), [])

    def handle_data(self, data):
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            attrs, body = self._open
            self.scripts.append(f"<script{' ' * bool(attrs)}{attrs}>{''.join(body).strip()[:150]}</script>")
            self._open = None


def repeated_scripts(root: pathlib.Path) -> list[str]:
    """Every <script> (same attributes, same body) that a page under root (but _static/) has more than once."""
    problems = []
    for page in sorted(root.rglob("*.html")):
        if page.relative_to(root).parts[0] == "_static":
            continue
        parser = _ScriptParser()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for script in dict.fromkeys(parser.scripts):
            if (n := parser.scripts.count(script)) > 1:
                problems.append(f"{page.relative_to(root)}: {n} times {script}")
    return problems


def test_no_page_has_the_same_script_twice(built_book):
    assert (built_book.html / "index.html").exists(), f"the book was not built:\n{built_book.log[-3000:]}"
    # the check had something to check: sphinx-thebe's inline config is on every page of the book
    pages = [built_book.html / f"{doc}.html" for doc in toc_documents()]
    without = [p.name for p in pages if '<script>const THEBE_JS_URL = "' not in p.read_text(encoding="utf-8")]
    assert without == [], f"pages without sphinx-thebe's inline config script: {without}"
    problems = repeated_scripts(built_book.html)
    assert problems == [], "scripts that a built page has twice:\n" + "\n".join(problems)


def test_repeated_script_check_catches_a_repeat(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "template.html").write_text("<script>x()</script><script>x()</script>")  # not a page
    (tmp_path / "a.html").write_text(
        '<script>const A = 1</script><script src="s.js"></script><script async src="s.js"></script>'
        "<script>const B = 1</script><script type=\"text/x-config\">const A = 1</script>"
    )
    assert repeated_scripts(tmp_path) == []
    (tmp_path / "b.html").write_text(
        '<script>const A = 1</script><script src="s.js"></script><script>const A = 1</script><script src="s.js"></script>'
    )
    assert repeated_scripts(tmp_path) == [
        "b.html: 2 times <script>const A = 1</script>", "b.html: 2 times <script src='s.js'></script>"]


def test_extension_keeps_one_of_each_script():
    """tools/lossbook_sphinx.py on what Sphinx 7 put into a page's script_files."""
    import importlib.util

    from sphinx.builders.html._assets import _JavaScript

    spec = importlib.util.spec_from_file_location("lossbook_sphinx", ROOT / "tools" / "lossbook_sphinx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "lossbook_sphinx: tools" in (ROOT / "_config.yml").read_text()  # Jupyter Book loads it from there

    thebe = "const THEBE_JS_URL = 1"
    scripts = [
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, priority=500, body=thebe),  # app.add_js_file(None, body=...) after the builder started
        _JavaScript("_static/sphinx-thebe.js", priority=500, **{"async": "async"}),
        _JavaScript("_static/late.js", priority=800),
        _JavaScript("", priority=500, body=thebe),  # the builder re-adding the registry's copy: None != ''
        _JavaScript("", priority=500, body="const OTHER = 1"),  # another body: a script of its own
        _JavaScript("_static/sphinx-thebe.js", priority=500),  # without async: a different tag
        _JavaScript("_static/late.js", priority=300),  # the same tag: the one loading first (300) stays
    ]
    context = {"script_files": scripts}
    module._deduplicate_page_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts  # changed in place: the builder's list, which others may extend
    assert scripts == [
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, priority=500, body=thebe),
        _JavaScript("_static/sphinx-thebe.js", priority=500, **{"async": "async"}),
        _JavaScript("", priority=500, body="const OTHER = 1"),
        _JavaScript("_static/sphinx-thebe.js", priority=500),
        _JavaScript("_static/late.js", priority=300),
    ]
