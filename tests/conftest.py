"""Shared test configuration: reproducible hypothesis runs, headless plots, one book build."""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import subprocess
import sys

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")

# CI must be reproducible: the same examples on every run and every machine,
# and no deadline (the first call of a torch kernel can be slow).
settings.register_profile("lossbook", derandomize=True, deadline=None, max_examples=40)
settings.load_profile("lossbook")

ROOT = pathlib.Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class BookBuild:
    """The HTML book built once per test session (tests/test_book.py, tests/test_browser.py)."""

    html: pathlib.Path  # _build/html of the build: index.html, book/*.html, _static/
    returncode: int
    log: str


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> BookBuild:
    """Build the book from the stored notebook outputs into a temporary folder, once.

    Built with warnings as errors and --keep-going, so that a warning fails
    test_book_builds_with_warnings_as_errors while the pages are still there
    for the link and browser checks.
    """
    out = tmp_path_factory.mktemp("book")
    jb = shutil.which("jupyter-book", path=str(pathlib.Path(sys.executable).parent))
    assert jb, "jupyter-book is not installed next to this Python"
    run = subprocess.run(
        [jb, "build", str(ROOT), "-W", "--keep-going", "--path-output", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    return BookBuild(html=out / "_build" / "html", returncode=run.returncode, log=run.stdout + run.stderr)
