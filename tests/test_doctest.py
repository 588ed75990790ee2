"""The Example: sections of lossbook's docstrings run, and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lossbook
import lossbook.catalog

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(lossbook.__path__, prefix="lossbook."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    previous = lossbook.set_value_checks(True)
    try:
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    finally:
        lossbook.set_value_checks(previous)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"


def test_set_value_checks_example_is_collected():
    finder = doctest.DocTestFinder()
    tests = finder.find(lossbook._core.set_value_checks)
    assert tests and tests[0].examples, "set_value_checks has no Example:"


@pytest.mark.parametrize("key", lossbook.catalog.keys())
def test_every_catalog_loss_has_an_example(key):
    tests = doctest.DocTestFinder().find(getattr(lossbook, key))
    assert tests and tests[0].examples, f"lossbook.{key} has no Example: in its docstring"


@pytest.mark.parametrize("name", MODULES)
def test_docstrings_hold_no_control_characters(name):
    # A backslash in a docstring that is not a raw string becomes a control character
    # ("\alpha" is BEL + "lpha"), which the API page's MathJax cannot typeset.
    module = importlib.import_module(name)
    for test in doctest.DocTestFinder(exclude_empty=False).find(module):
        doc = test.docstring or ""
        bad = sorted({c for c in doc if ord(c) < 32 and c not in "\n\t"})
        assert not bad, f"{test.name}: docstring holds control characters {bad} (make it a raw string)"
