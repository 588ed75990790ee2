"""lossbook.linear_cross_entropy at scale: the (N, V) logits are never held (saved tensors, peak memory),
micro-batches and two processes with a global normalizer equal the whole batch, and a chunk loop compiles.

The reference tests, gradient checks and bad input are in test_language_model.py.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import lossbook
from common import F32, F64
from language_model_cases import _data, reference
from lossbook import language_model as lm

# ==========================================================================
# Memory: the (N, V) logits are never held


def _saved_numels(fn):
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sizes


def test_saves_only_inputs_and_per_token_values():
    n, d, v = 512, 16, 1000
    hidden, weight, bias, cw, target = _data(F32, n=n, d=d, v=v)
    leaves = [x.requires_grad_(True) for x in (hidden, weight, bias)]
    kw = dict(bias=bias, class_weight=cw, label_smoothing=0.1, z_loss=1e-4, softcap=30.0)
    _, ours = _saved_numels(lambda: lossbook.linear_cross_entropy(hidden, weight, target, chunk_size=64, **kw))
    _, theirs = _saved_numels(lambda: reference(hidden, weight, target, **kw))
    assert max(theirs) >= n * v  # autograd of the materialised logits saves (N, V) tensors
    assert max(ours) <= max(n * d, v * d) and sum(ours) <= n * d + v * d + 2 * v + 4 * n
    del leaves


def _cpu_peak(step) -> int:
    """Peak of the running sum of the profiler's CPU allocation events (as benchmarks/run.py measures)."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = []

    def walk(node):
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        for child in node.children:
            walk(child)

    for root in prof.profiler.kineto_results.experimental_event_tree():
        walk(root)
    current = peak = 0
    for _, size in sorted(events, key=lambda e: e[0]):
        current += size
        peak = max(peak, current)
    return peak


def test_peak_memory_is_far_below_the_logits():
    n, d, v = 4096, 32, 2000
    hidden, weight, bias, cw, target = _data(F32, n=n, d=d, v=v)
    leaves = [x.requires_grad_(True) for x in (hidden, weight, bias)]
    logits_bytes = n * v * 4

    def ours():
        torch.autograd.grad(lossbook.linear_cross_entropy(hidden, weight, target, bias=bias, chunk_size=64), leaves)

    def theirs():
        torch.autograd.grad(F.cross_entropy(F.linear(hidden, weight, bias), target), leaves)

    peak_ours, peak_theirs = _cpu_peak(ours), _cpu_peak(theirs)
    assert peak_theirs >= 2 * logits_bytes  # logits and their log-softmax (or gradient) at once
    # a few (64, 2000) chunks, the gradients of hidden and weight, per-token vectors
    chunk_bytes = 64 * v * 4
    assert peak_ours < 8 * chunk_bytes + 2 * (n + v) * d * 4, (peak_ours, chunk_bytes)
    assert peak_ours < logits_bytes / 8, (peak_ours, logits_bytes)


# ==========================================================================
# Normalisation across micro-batches and processes


def _microbatches(hidden, target, sizes):
    bounds = list(itertools.accumulate(sizes, initial=0))
    return [(hidden[a:b], target[a:b]) for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("tensor_normalizer", [False, True], ids=["number", "tensor"])
def test_micro_batches_with_a_global_normalizer_equal_the_whole_batch(tensor_normalizer):
    hidden, weight, bias, cw, target = _data(n=24, ignored=(0, 1, 2, 3, 4, 9, 20))  # ignores: 5, 1, 1
    parts = _microbatches(hidden, target, (8, 8, 8))
    w = weight.clone().requires_grad_(True)
    whole = lossbook.linear_cross_entropy(hidden, w, target, z_loss=1e-3, chunk_size=5)
    (g_whole,) = torch.autograd.grad(whole, w)
    count = sum((t != -100).sum() for _, t in parts)
    normalizer = count.double() if tensor_normalizer else int(count)
    total, g_acc = 0.0, torch.zeros_like(weight)
    local, g_local = 0.0, torch.zeros_like(weight)
    for h, t in parts:  # gradient accumulation: one backward per micro-batch, gradients add up
        w = weight.clone().requires_grad_(True)
        loss = lossbook.linear_cross_entropy(h, w, t, z_loss=1e-3, normalizer=normalizer, chunk_size=5)
        total, g_acc = total + loss.detach(), g_acc + torch.autograd.grad(loss, w)[0]
        w = weight.clone().requires_grad_(True)
        loss = lossbook.linear_cross_entropy(h, w, t, z_loss=1e-3, chunk_size=5) / len(parts)  # the usual bug
        local, g_local = local + loss.detach(), g_local + torch.autograd.grad(loss, w)[0]
    torch.testing.assert_close(total, whole.detach(), rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(g_acc, g_whole, rtol=1e-12, atol=1e-13)
    assert abs(local - whole).item() > 1e-3  # per-micro-batch means weigh tokens unequally
    assert (g_local - g_whole).abs().max().item() > 1e-3
    # the same with lossbook.cross_entropy on materialised logits
    ce = sum(lossbook.cross_entropy(h @ weight.T, t, normalizer=normalizer) for h, t in parts)
    torch.testing.assert_close(ce, F.cross_entropy(hidden @ weight.T, target))


def test_two_processes_with_an_all_reduced_normalizer_equal_one_process():
    g = torch.Generator().manual_seed(3)
    d, v, n = 4, 13, 20
    proj = torch.randn(d, d, generator=g, dtype=F64)
    weight = torch.randn(v, d, generator=g, dtype=F64)
    hidden = torch.randn(n, d, generator=g, dtype=F64)
    target = torch.randint(0, v, (n,), generator=g)
    target[[0, 1, 2, 3, 4, 5, 13]] = -100  # rank 0 counts 4 tokens, rank 1 counts 9
    out = lm._data_parallel(proj, weight, [hidden[:10], hidden[10:]], [target[:10], target[10:]], timeout=45)
    assert out["counts"] == [4, 9]
    p, w = proj.clone().requires_grad_(True), weight.clone().requires_grad_(True)
    whole = lm._tiny_model_loss(p, w, hidden, target, None)
    want = torch.autograd.grad(whole, (p, w))
    loss, grads = out["global"]
    torch.testing.assert_close(torch.tensor(loss, dtype=F64), whole.detach(), rtol=1e-12, atol=1e-13)
    for got, w_ in zip(grads, want):
        torch.testing.assert_close(torch.tensor(got, dtype=F64), w_, rtol=1e-12, atol=1e-13)
    loss_local, grads_local = out["local"]  # each rank's own mean, averaged: not the batch's loss
    assert abs(loss_local - whole.item()) > 1e-2
    assert (torch.tensor(grads_local[1], dtype=F64) - want[1]).abs().max() > 1e-2


# ==========================================================================
# torch.compile: one graph; chunks unrolled with static shapes


def _lce(h, w, y, b):
    return lossbook.linear_cross_entropy(h, w, y, bias=b, label_smoothing=0.1, z_loss=1e-3, softcap=5.0,
                                         chunk_size=4)


def test_compiles_with_static_shapes_and_a_chunk_loop():
    # test_compile.py covers dynamic=True with the default chunk_size (one chunk under compile);
    # with static shapes, a given chunk_size is unrolled into chunks in one graph
    torch._dynamo.reset()
    compiled = torch.compile(_lce, fullgraph=True, dynamic=False, backend="inductor")
    hidden, weight, bias, cw, target = _data(F32)
    leaves = [x.requires_grad_(True) for x in (hidden, weight, bias)]
    got, want = compiled(hidden, weight, target, bias), _lce(hidden, weight, target, bias)
    torch.testing.assert_close(got, want, rtol=2e-5, atol=1e-6)
    for g, w in zip(torch.autograd.grad(got, leaves), torch.autograd.grad(want, leaves)):
        torch.testing.assert_close(g, w, rtol=2e-5, atol=1e-6)
    torch._dynamo.reset()
