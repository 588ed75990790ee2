"""Local Sphinx extension of the book: every page loads each of its scripts once.

Loaded by ``_config.yml`` (``sphinx: local_extensions: {lossbook_sphinx: tools}``;
Jupyter Book puts ``tools/``, relative to ``_config.yml``, on ``sys.path``).

Why: with Sphinx 7, every page of a Jupyter Book 1 build carried sphinx-thebe's
inline configuration script ``<script>const THEBE_JS_URL = "..."; ...</script>``
twice, and the browser logged "Identifier 'THEBE_JS_URL' has already been
declared" on every page. The cause is in Sphinx (fixed upstream in March 2025
by sphinx-doc/sphinx#13402, after the 7.x series): sphinx-thebe 0.3.1 calls
``app.add_js_file(None, body=...)`` from ``env-before-read-docs``, after the
HTML builder was set up, so Sphinx both registers the script
(``app.registry.js_files``) and adds it to the builder as
``_JavaScript(None, body=...)``. Before writing, the builder re-adds every
registered script as ``_JavaScript('', body=...)``; its duplicate check
compares file names, and ``None != ''``, so the same inline script is emitted
twice.

What: in ``html-page-context`` (run late, after other extensions have added
their page-specific scripts), drop every script entry that renders the same
``<script>`` tag as one before it: the same file (``None`` and ``''`` both
mean "inline") and the same attributes (``body``, ``async``, ``type``, ...).
Of identical entries the one that loads first (lowest priority) is kept. This
is generic, not tied to thebe: any extension that adds a script twice this way
is covered, and on a Sphinx that has the upstream fix it changes nothing.
``tests/test_book.py`` checks that no built page repeats a script.
"""

from __future__ import annotations

import os
from typing import Any

# html-page-context handlers run in ascending priority (Sphinx's default is 500):
# run after the theme's and other extensions' handlers that add scripts to a page.
_LATE = 900


def _rendered_as(script: Any) -> tuple | None:
    """What decides the ``<script>`` tag of an entry: its file and its attributes (None: not a script entry)."""
    filename = getattr(script, "filename", None)
    attributes = getattr(script, "attributes", None)
    if not isinstance(attributes, dict):
        return None  # e.g. a plain string that a theme put into script_files
    return os.fspath(filename or ""), tuple(sorted((str(k), str(v)) for k, v in attributes.items()))


def unique_scripts(scripts: list) -> list:
    """The entries of ``scripts`` without those that render a tag already rendered.

    Of entries that render the same tag, the one with the lowest ``priority``
    (the first one among equals) stays, where it was; everything else keeps its order.
    """
    keep: dict[tuple, Any] = {}
    for script in scripts:
        key = _rendered_as(script)
        if key is not None and (key not in keep or script.priority < keep[key].priority):
            keep[key] = script
    out, emitted = [], set()
    for script in scripts:
        key = _rendered_as(script)
        if key is None:
            out.append(script)
        elif keep[key] is script and key not in emitted:
            emitted.add(key)
            out.append(script)
    return out


def _deduplicate_page_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    unique = unique_scripts(list(scripts))
    if isinstance(scripts, list):
        # in place: the list is the builder's own, which later handlers may still extend
        # (Sphinx restores it from its copy before the next page)
        scripts[:] = unique
    else:
        context["script_files"] = unique


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _deduplicate_page_scripts, priority=_LATE)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
