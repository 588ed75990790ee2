"""Every catalog loss under torch.compile: one graph, dynamic shapes, the numbers of eager.

For each loss in ``lossbook.catalog`` (its inputs and call come from the
benchmark's recipe, ``benchmarks/cases.py``, which has one for every catalog
key), with value checks on and off: ``torch.compile(fullgraph=True,
dynamic=True)`` with the inductor backend on the CPU, forward and backward,
gives the value and the gradients that eager gives (float32), and a second
batch size runs without a recompile. A loss that breaks the graph, or any of
these, fails here; there is no list of exceptions.

Compiling is slow on a small machine (a few seconds a loss); inputs are tiny.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

import lossbook
from lossbook import catalog

from catalog_recipes import CASES, SMALL, recipes

F32 = torch.float32
CPU = torch.device("cpu")

# The second batch size: again every size distinct and none 0 or 1 (AdaptiveRobustLoss: 3 rows, then 5).
FIRST = SMALL
SECOND = dataclasses.replace(FIRST, n=40, rows=10, emb=10, boxes=10, mask=(10, 1, 4, 3), gp=(10, 7))


def _inputs(case: recipes.Case, sizes: Sizes, seed: int) -> tuple[dict, list[torch.Tensor]]:
    raw = case.make(sizes, torch.Generator().manual_seed(seed), "ordinary")
    t, leaves = recipes.convert(raw, case, CPU, F32)
    # A torch.Generator cannot enter a graph: gradient_penalty draws from the global generator,
    # seeded before each call (and inductor is told to draw as eager does).
    t = {k: v for k, v in t.items() if not k.startswith("_")}
    t["_gen_ours"] = None
    return t, leaves


def _value_and_grads(fn, t: dict, leaves: list[torch.Tensor]):
    torch.manual_seed(0)
    value = fn(t)
    grads = torch.autograd.grad(value, leaves, allow_unused=True) if leaves else ()
    return value.detach(), grads


def _assert_same(got, want, what: str) -> None:
    (value, grads), (value_eager, grads_eager) = got, want
    torch.testing.assert_close(value, value_eager, rtol=2e-5, atol=1e-6, msg=lambda m: f"{what} value: {m}")
    assert len(grads) == len(grads_eager)
    for i, (g, e) in enumerate(zip(grads, grads_eager)):
        assert (g is None) == (e is None), f"{what}: gradient {i} is {g} compiled, {e} eager"
        if g is not None:
            torch.testing.assert_close(g, e, rtol=2e-5, atol=1e-6, msg=lambda m: f"{what} gradient {i}: {m}")


@pytest.fixture
def fresh_dynamo():
    # Recipes share code objects (one lambda per family), so each test starts from an empty
    # cache: a recompile seen below is this loss's own.
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("checks", [True, False], ids=["checks-on", "checks-off"])
@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_compiles_to_one_graph_with_eager_numbers(case, checks, fresh_dynamo):
    compiled = torch.compile(case.ours, fullgraph=True, dynamic=True, backend="inductor")
    with lossbook.value_checks(checks), torch._inductor.config.patch(fallback_random=True):
        t, leaves = _inputs(case, FIRST, seed=0)
        eager = _value_and_grads(case.ours, t, leaves)
        _assert_same(_value_and_grads(compiled, t, leaves), eager, f"{case.key}, first batch")
        assert eager[0].dtype == F32
        t, leaves = _inputs(case, SECOND, seed=1)
        eager = _value_and_grads(case.ours, t, leaves)
        with torch._dynamo.config.patch(error_on_recompile=True):
            got = _value_and_grads(compiled, t, leaves)
        _assert_same(got, eager, f"{case.key}, second batch")


def test_the_recipes_cover_the_catalog():
    assert [c.key for c in CASES] == catalog.keys()


def test_second_batch_differs_in_the_batch_dimension_only():
    case = recipes.CASES["cross_entropy"]
    first, _ = _inputs(case, FIRST, 0)
    second, _ = _inputs(case, SECOND, 0)
    assert first["logits"].shape == (6, 5) and second["logits"].shape == (10, 5)


# --------------------------------------------------------------------------
# Value checks inside a compiled graph


def _hinge(scores, target):
    return lossbook.hinge(scores, target, reduction="none")


def test_compiled_value_check_fails_when_the_graph_runs(fresh_dynamo):
    compiled = torch.compile(_hinge, fullgraph=True, dynamic=True, backend="inductor")
    scores = torch.tensor([0.5, -2.0, 0.25, 3.0])
    good, bad = torch.tensor([1.0, -1.0, -1.0, 1.0]), torch.tensor([1.0, 0.5, -1.0, 1.0])
    torch.testing.assert_close(compiled(scores, good), torch.tensor([0.5, 0.0, 1.25, 0.0]))
    with pytest.raises(RuntimeError, match=r"target must hold labels -1 or \+1"):
        compiled(scores, bad)
    with pytest.raises(ValueError, match=r"^target must hold labels -1 or \+1, got values such as \[0\.5\]$"):
        _hinge(scores, bad)  # eager: the message shows the offending value


def test_compiled_without_value_checks_does_not_check(fresh_dynamo):
    compiled = torch.compile(_hinge, fullgraph=True, dynamic=True, backend="inductor")
    scores = torch.tensor([0.5, -2.0, 0.25, 3.0])
    with lossbook.value_checks(False):
        got = compiled(scores, torch.tensor([1.0, 0.5, -1.0, 1.0]))
    torch.testing.assert_close(got, torch.tensor([0.5, 2.0, 1.25, 0.0]))  # max(0, 1 - t s) as given
