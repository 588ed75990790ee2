"""Every catalog loss's docstring follows the house template.

In order: a one-line summary (one sentence, ending in a period, then a blank
line); the formula and what the loss is; a counterpart line, "Matches ..." naming
the record's PyTorch/torchvision function, or "No PyTorch counterpart; ..." when
the record has none; then the sections ``Args:``, ``Returns:`` (functions),
``Shape:``, ``References:`` and ``Example:``. How a loss is computed inside
belongs in code comments, and measurements in the benchmarks appendix: no
ratios, timings or speed comparisons in a docstring.
"""

from __future__ import annotations

import inspect
import re

import pytest

import lossbook.catalog

RECORDS = {r.key: r for r in lossbook.catalog.RECORDS}

#: Words and patterns of measured speed or cost.
MEASURED = (
    r"\b\d+(\.\d+)?\s*(times|x)\b",
    r"µs|\bms\b",
    r"\bfaster\b",
    r"\bslower\b",
    r"\bbenchmarks?\s+appendix\b",
    r"\bmeasured\b",
    r"\bcosts? (about|a little|less|more)\b",
)

NO_COUNTERPART = "No PyTorch counterpart"


def _doc(rec) -> str:
    # A module's template is its class docstring (forward is documented in its Shape: section).
    doc = inspect.getdoc(rec.function)
    assert doc, f"{rec.key} has no docstring"
    return doc


def _sections(doc: str) -> dict[str, int]:
    """Line number of each unindented ``Name:`` section header."""
    return {line[:-1]: i for i, line in enumerate(doc.splitlines()) if re.fullmatch(r"[A-Z][a-z]+:", line)}


def template_problems(key: str, doc: str, counterpart: str | None, is_module: bool) -> list[str]:
    """What in ``doc`` breaks the template (empty when nothing does)."""
    problems = []
    lines = doc.splitlines()
    first = lines[0]
    if not first.endswith("."):
        problems.append(f"first line does not end in a period: {first!r}")
    if re.search(r"[.;]\s+[A-Z(]", first):
        problems.append(f"first line is more than one sentence: {first!r}")
    if len(lines) < 2 or lines[1].strip():
        problems.append("the one-line summary is not followed by a blank line")

    sections = _sections(doc)
    wanted = ["Args", "Shape", "References", "Example"] if is_module else ["Args", "Returns", "Shape", "References", "Example"]
    missing = [s for s in wanted if s not in sections]
    if missing:
        problems.append(f"missing sections {missing}")
    else:
        order = [sections[s] for s in wanted]
        if order != sorted(order):
            problems.append(f"sections out of order: want {wanted}")

    body = "\n".join(lines[: sections.get("Args", len(lines))])
    if counterpart is None:
        if NO_COUNTERPART not in body:
            problems.append(f"no counterpart in the catalog, but the description lacks {NO_COUNTERPART!r}")
        if re.search(r"\bMatches\b", body):
            problems.append("no counterpart in the catalog, but the docstring says 'Matches'")
    else:
        name = counterpart.rsplit(".", 1)[-1]
        if not re.search(rf"\bMatches\b[^\n]*(\n[^\n]+)*?{re.escape(name)}", body):
            problems.append(f"the catalog's counterpart is {counterpart}, but no 'Matches ... {name}' line names it")
        if NO_COUNTERPART in body:
            problems.append(f"the catalog names the counterpart {counterpart}, but the docstring says {NO_COUNTERPART!r}")

    for pattern in MEASURED:
        m = re.search(pattern, doc)
        if m:
            problems.append(f"a measured ratio or cost ({m.group(0)!r}): measurements belong in the benchmarks page")
    return problems


@pytest.mark.parametrize("key", list(RECORDS))
def test_docstring_follows_the_template(key):
    rec = RECORDS[key]
    problems = template_problems(key, _doc(rec), rec.counterpart, isinstance(rec.function, type))
    assert not problems, f"lossbook.{key}'s docstring: " + "; ".join(problems)


GOOD = '''Mean squared error (L2 loss).

Per element, the square of the residual.

Matches :func:`torch.nn.functional.mse_loss`.

Args:
    pred: predictions.

Returns:
    A scalar.

Shape:
    pred: any shape.

References:
    Gauss (1809).

Example:
    >>> 1
    1'''


@pytest.mark.parametrize(
    "change, counterpart, complaint",
    [
        (("", ""), "torch.nn.functional.mse_loss", None),
        (("Mean squared error (L2 loss).", "Mean squared error (L2 loss)"), "torch.nn.functional.mse_loss", "period"),
        (("(L2 loss).\n\n", "(L2 loss). The square.\n\n"), "torch.nn.functional.mse_loss", "one sentence"),
        (("(L2 loss).\n\n", "(L2 loss) of\nthe residual.\n\n"), "torch.nn.functional.mse_loss", "blank line"),
        (("", ""), "torch.nn.functional.l1_loss", "l1_loss"),
        (("", ""), None, "No PyTorch counterpart"),
        (("Matches :func:`torch.nn.functional.mse_loss`.", "No PyTorch counterpart; equals ``(p - t) ** 2``."),
         "torch.nn.functional.mse_loss", "mse_loss"),
        (("References:\n    Gauss (1809).\n\n", ""), "torch.nn.functional.mse_loss", "References"),
        (("the square of the residual.", "the square, about 0.85 times the cost of F.mse_loss."),
         "torch.nn.functional.mse_loss", "measured"),
        (("the square of the residual.", "the square, 2x faster."), "torch.nn.functional.mse_loss", "measured"),
    ],
)
def test_the_template_check_catches_a_wrong_docstring(change, counterpart, complaint):
    old, new = change
    doc = GOOD.replace(old, new) if old else GOOD
    problems = template_problems("mse", doc, counterpart, is_module=False)
    if complaint is None:
        assert problems == []
    else:
        assert any(complaint in p for p in problems), problems
