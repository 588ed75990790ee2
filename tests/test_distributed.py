"""lossbook.distributed: negatives gathered across two gloo processes give the loss and the gradients of
one process holding the whole batch, also with unequal per-process batch sizes.

Each process holds a slice of a seeded float64 batch, embeds it with a tiny shared linear encoder,
computes the loss of its own anchors against the gathered keys (``gather=True``, ``reduction="sum"``,
divided by the global batch size, so that the losses of the processes add up to the global mean),
backpropagates, and all-reduces (sums) the encoder's gradients. The test compares the summed losses,
the gradients of each process's embeddings (slice by slice) and the encoder's gradients with one
process over the whole batch. Processes are started by lossbook.distributed.spawn_gloo, which fails
(instead of hanging) after a timeout.
"""

from __future__ import annotations

import time

import pytest
import torch
import torch.distributed as dist

import lossbook
from lossbook import distributed

F64 = torch.float64
TIMEOUT = 60.0


def _batch(total, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(total, 4, generator=g, dtype=F64)
    y = x + 0.5 * torch.randn(total, 4, generator=g, dtype=F64)
    enc = torch.nn.Linear(4, 3).to(F64)
    with torch.no_grad():
        enc.weight.copy_(torch.randn(3, 4, generator=g, dtype=F64))
        enc.bias.copy_(torch.randn(3, generator=g, dtype=F64))
    return x, y, enc


def _loss(key, a, b, total, gather):
    kw = dict(gather=gather, reduction="sum")
    if key == "info_nce":
        return lossbook.info_nce(a, b, temperature=0.3, **kw) / total
    if key == "clip_loss":
        return lossbook.clip_loss(a, b, logit_scale=3.0, **kw) / total
    return lossbook.siglip_loss(a, b, logit_scale=2.0, logit_bias=-1.0, **kw) / total


KEYS = ("info_nce", "clip_loss", "siglip_loss")


def _share(rank, key, sizes):
    total = sum(sizes)
    x, y, enc = _batch(total)
    start = sum(sizes[:rank])
    a, b = enc(x[start:start + sizes[rank]]), enc(y[start:start + sizes[rank]])
    a.retain_grad()
    b.retain_grad()
    loss = _loss(key, a, b, total, gather=True)
    loss.backward()
    grads = [p.grad.clone() for p in enc.parameters()]
    for g in grads:
        dist.all_reduce(g)
    return {"loss": loss.detach(), "a": a.grad, "b": b.grad, "encoder": grads}


def worker(rank, world, sizes):
    """One process's share of every loss (module level: spawned processes import it by name)."""
    out = {key: _share(rank, key, sizes) for key in KEYS}
    out["gathered"] = distributed.all_gather_with_grad(torch.full((sizes[rank], 2), float(rank), dtype=F64))
    out["book"] = distributed.clip_gather_example(rank, world, sizes)
    return out


def single(key, total):
    x, y, enc = _batch(total)
    a, b = enc(x), enc(y)
    a.retain_grad()
    b.retain_grad()
    loss = _loss(key, a, b, total, gather=False)
    loss.backward()
    return {"loss": loss.detach(), "a": a.grad, "b": b.grad, "encoder": [p.grad for p in enc.parameters()]}


@pytest.mark.parametrize("sizes", [(4, 4), (3, 5)], ids=["equal", "3-and-5"])
def test_gathered_negatives_give_the_single_process_loss_and_gradients(sizes):
    per_rank = distributed.spawn_gloo(worker, 2, args=(sizes,), timeout=TIMEOUT)
    for key in KEYS:
        want = single(key, sum(sizes))
        torch.testing.assert_close(per_rank[0][key]["loss"] + per_rank[1][key]["loss"], want["loss"], msg=key)
        start = 0
        for rank, got in enumerate(r[key] for r in per_rank):
            stop = start + sizes[rank]
            torch.testing.assert_close(got["a"], want["a"][start:stop], msg=f"{key} rank {rank} query grads")
            torch.testing.assert_close(got["b"], want["b"][start:stop], msg=f"{key} rank {rank} key grads")
            for g, w in zip(got["encoder"], want["encoder"]):
                torch.testing.assert_close(g, w, msg=f"{key} rank {rank} encoder grads")
            start = stop
    # all_gather_with_grad: rank order, each process's own number of rows
    labels = torch.cat([torch.full((n, 2), float(r), dtype=F64) for r, n in enumerate(sizes)])
    assert all(torch.equal(r["gathered"], labels) for r in per_rank)
    # the book's example: the same agreement for CLIP
    whole = distributed.clip_gather_example(0, 1, sizes)
    book = [r["book"] for r in per_rank]
    torch.testing.assert_close(book[0]["loss"] + book[1]["loss"], whole["loss"])
    torch.testing.assert_close(torch.cat([r["image_grad"] for r in book]), whole["image_grad"])
    torch.testing.assert_close(torch.cat([r["text_grad"] for r in book]), whole["text_grad"])
    for r in book:
        for g, w in zip(r["encoder_grads"], whole["encoder_grads"]):
            torch.testing.assert_close(g, w)


def failing_worker(rank, world):
    if rank == 1:
        raise ArithmeticError("rank 1 fails on purpose")
    return rank


def hanging_worker(rank, world):
    if rank == 1:
        time.sleep(120)  # stands in for a collective that never completes
    return rank


def test_a_failing_process_raises_with_its_traceback():
    with pytest.raises(RuntimeError, match="(?s)process 1 failed.*rank 1 fails on purpose"):
        distributed.spawn_gloo(failing_worker, 2, timeout=TIMEOUT)


def test_a_hanging_process_times_out_instead_of_blocking():
    with pytest.raises(TimeoutError, match="did not finish"):
        distributed.spawn_gloo(hanging_worker, 2, timeout=3.0)


def test_without_a_process_group_nothing_is_gathered():
    x = torch.ones(3, 2, requires_grad=True)
    assert distributed.all_gather_with_grad(x) is x
    assert distributed.gather_with_offset(x) == (x, 0)
    with pytest.raises(TypeError, match=r"^t must be a torch\.Tensor, got list$"):
        distributed.all_gather_with_grad([1.0])
