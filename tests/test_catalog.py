"""lossbook.catalog: the records agree with the package, and every loss is tested."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

import lossbook
from lossbook import catalog, symbolic

RECORDS = catalog.RECORDS
KEYS = [r.key for r in RECORDS]
FAMILIES = sorted({r.family for r in RECORDS})
TESTS = Path(__file__).resolve().parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def by_key(fn):
    return pytest.mark.parametrize("rec", RECORDS, ids=KEYS)(fn)


def test_keys_are_unique_and_get_finds_each():
    assert len(set(KEYS)) == len(KEYS)
    assert catalog.keys() == KEYS
    for rec in RECORDS:
        assert catalog.get(rec.key) is rec


def test_get_unknown_key_lists_known_keys():
    with pytest.raises(KeyError) as info:
        catalog.get("nope")
    message = str(info.value)
    assert "'nope'" in message
    assert all(repr(k) in message for k in KEYS)


def test_by_family_partitions_the_catalog():
    assert sorted(r.key for f in FAMILIES for r in catalog.by_family(f)) == sorted(KEYS)
    assert catalog.by_family("no-such-family") == []


@by_key
def test_function_is_the_public_name(rec):
    assert rec.function is getattr(lossbook, rec.key)
    assert rec.function.__name__ == rec.key


def test_all_is_sorted_and_complete():
    assert lossbook.__all__ == sorted(lossbook.__all__)
    assert len(set(lossbook.__all__)) == len(lossbook.__all__)
    missing = {*KEYS, "set_value_checks", "value_checks", "device"} - set(lossbook.__all__)
    assert not missing, f"missing from lossbook.__all__: {sorted(missing)}"
    for name in lossbook.__all__:
        assert hasattr(lossbook, name), name


@by_key
def test_record_fields(rec):
    for field in ("name", "chinese", "formula", "task", "paper", "chapter"):
        value = getattr(rec, field)
        assert isinstance(value, str) and value.strip(), f"{rec.key}.{field} is empty"
    assert CJK.search(rec.chinese), f"{rec.key}.chinese has no Chinese character: {rec.chinese!r}"
    # family names the public module that exports the loss (lossbook.classification is a
    # package whose losses live in private submodules)
    module = importlib.import_module(f"lossbook.{rec.family}")
    assert rec.key in module.__all__ and getattr(module, rec.key) is rec.function
    assert rec.function.__module__.split(".")[:2] == ["lossbook", rec.family]
    assert set(rec.sources) <= set(catalog.SOURCES)


def _resolve(dotted):
    """The object that a dotted name such as ``torch.nn.functional.mse_loss`` names."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("rec", [r for r in RECORDS if r.counterpart], ids=lambda r: r.key)
def test_counterpart_resolves(rec):
    if rec.counterpart.startswith("torchvision."):  # torchvision is not installed here
        assert re.fullmatch(r"torchvision(\.[a-z_][a-z0-9_]*)+", rec.counterpart)
    else:
        assert callable(_resolve(rec.counterpart))


def test_resolve_is_not_fooled():
    assert _resolve("torch.nn.functional.mse_loss") is torch.nn.functional.mse_loss
    with pytest.raises(AttributeError):
        _resolve("torch.nn.functional.no_such_loss")


@pytest.mark.parametrize("key", [r.key for r in catalog.by_family("regression") if r.key != "rmse"])
def test_regression_losses_have_symbolic_forms(key):
    assert key in symbolic.keys()
    assert symbolic.form(key).key == key


def test_every_symbolic_form_is_a_catalog_loss():
    assert set(symbolic.keys()) <= set(KEYS)


def _cells(row):
    """Cells of a Markdown table row; an escaped ``\\|`` does not split."""
    assert row.startswith("| ") and row.endswith(" |"), row
    return re.split(r"(?<!\\)\|", row[1:-1])


def test_to_markdown_rows_have_equal_cells():
    columns = ["key", "name", "chinese", "formula", "counterpart", "sources", "task"]
    table = catalog.to_markdown(RECORDS, columns).splitlines()
    assert len(table) == len(RECORDS) + 2
    assert table[1] == "|" + "---|" * len(columns)
    for row in [table[0], *table[2:]]:
        assert len(_cells(row)) == len(columns), row
    huber = table[2 + KEYS.index("huber")]
    assert r"$\begin{cases}\tfrac12 r^2 & \vert r\vert \le\delta" in huber  # | became \vert
    assert "`torch.nn.functional.huber_loss`" in huber
    assert "`rmse` | Root mean squared error | 均方根误差 |" in table[2 + KEYS.index("rmse")]


def test_to_markdown_escapes_pipes_everywhere():
    rec = dataclasses.replace(
        catalog.get("mse"), name="a | b", formula=r"\max(0, \|a - p\|_2 - |r|)", counterpart=None, sources=()
    )
    row = catalog.to_markdown([rec], ["name", "formula", "counterpart", "sources"]).splitlines()[2]
    assert len(_cells(row)) == 4
    assert r"a \| b" in row
    # a LaTeX norm \| must stay a norm (\Vert), a bare | becomes \vert
    assert r"$\max(0, \Vert a - p\Vert _2 - \vert r\vert )$" in row
    assert row.endswith("| — | — |")


# --------------------------------------------------------------------------
# Coverage: every loss in the catalog has a reference test, a gradient check
# and a bad-input test in tests/test_<family>.py.


def _test_module(family):
    path = TESTS / f"test_{family}.py"
    assert path.is_file(), f"catalog family {family!r} has no test module {path.name}"
    name = f"test_{family}"
    module = sys.modules.get(name)
    if module is not None and Path(module.__file__).resolve() == path:
        return module  # already imported by pytest
    spec = importlib.util.spec_from_file_location(f"_coverage_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("family", FAMILIES)
def test_every_catalog_loss_is_covered(family):
    module = _test_module(family)
    keys = [r.key for r in catalog.by_family(family)]
    for table in ("REFERENCE", "GRADCHECK", "BAD_INPUT"):
        entries = getattr(module, table, None)
        assert isinstance(entries, dict), f"{module.__name__} has no {table} dict"
        missing = [k for k in keys if not entries.get(k)]
        assert not missing, f"{table} in test_{family}.py has no cases for {missing}"
