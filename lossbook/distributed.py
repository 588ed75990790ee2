r"""Negatives from every process: gather embeddings across ``torch.distributed`` with their gradients.

A contrastive loss compares each sample with the whole batch, so when a batch
is split across processes, each process wants every process's embeddings as
its negatives. ``torch.distributed.all_gather`` gives them, but without a
gradient. :func:`all_gather_with_grad` concatenates every process's tensor
along dim 0 (per-process batch sizes may differ) and routes the gradient back:
each process's loss uses every process's embeddings, so the gradient of
process ``r``'s slice is the *sum* over processes ``k`` of
:math:`\partial L_k / \partial t_r`; the backward pass all-reduces (sums) the
incoming gradient and keeps this process's slice. The losses
:func:`~lossbook.info_nce`, :func:`~lossbook.clip_loss` and
:func:`~lossbook.siglip_loss` take ``gather=True`` to do this for their keys.

Without an initialised process group (one process) nothing is gathered: the
tensor comes back as it is.

:func:`spawn_gloo` starts a few CPU processes on this machine with the gloo
backend and returns what a function computed in each: for tests and for the
book's demonstration (:func:`clip_gather_example`).
"""

from __future__ import annotations

import os
import queue as queue_module
import socket
import sys
import time
import traceback
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist

from . import _core

__all__ = ["all_gather_with_grad", "gather_with_offset", "spawn_gloo", "clip_gather_example"]


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _sizes(t: torch.Tensor) -> list[int]:
    """Every process's size of ``t`` along dim 0, in rank order."""
    size = torch.tensor([t.shape[0]], dtype=torch.int64, device=t.device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


class _AllGather(torch.autograd.Function):
    """Forward: the concatenation of every process's tensor. Backward: the summed gradient's own slice."""

    @staticmethod
    def forward(ctx, t: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
        # unequal sizes: pad every tensor to the longest, gather, cut each back
        padded = t.new_zeros((max(counts), *t.shape[1:]))
        padded[: t.shape[0]] = t
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded)
        rank = dist.get_rank()
        ctx.start, ctx.stop = sum(counts[:rank]), sum(counts[: rank + 1])
        return torch.cat([p[:c] for p, c in zip(parts, counts)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        # Process k's loss L_k depends on every slice, so d(sum_k L_k)/d t_r = sum_k dL_k/d(slice r):
        # sum the incoming gradients of the whole concatenation, keep this process's rows.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.stop], None


def gather_with_offset(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """:func:`all_gather_with_grad` of ``t``, and where this process's rows start in it.

    Without an initialised process group of more than one process: ``(t, 0)``.
    """
    _core.check_tensor(t, "t")
    if not _active():
        return t, 0
    counts = tuple(_sizes(t))
    return _AllGather.apply(t, counts), sum(counts[: dist.get_rank()])


def all_gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Every process's ``t`` concatenated along dim 0, in rank order, with the gradient routed back.

    The processes may hold different numbers of rows (the other dimensions
    must agree): the sizes are gathered first, each tensor is padded to the
    longest, gathered, and cut back. In the backward pass the gradient of the
    concatenation is summed over the processes (every process's loss uses
    every slice) and each process keeps the rows of its own ``t``. Without an
    initialised process group (or with one process) ``t`` is returned as it is.

    Args:
        t: this process's tensor, ``(n_r, ...)``; any floating dtype.

    Returns:
        ``(sum_r n_r, ...)``: the tensors of processes 0, 1, ... in order.

    Example:
        >>> import torch
        >>> from lossbook.distributed import all_gather_with_grad
        >>> x = torch.ones(3, 2)
        >>> all_gather_with_grad(x) is x  # no process group: nothing to gather
        True
    """
    return gather_with_offset(t)[0]


# --------------------------------------------------------------------------
# Running a function on a few local processes (gloo, CPU)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _to_torch(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_torch(v) for v in value)
    return value


def _entry(rank: int, world: int, port: int, fn: Callable, args: tuple, results) -> None:
    if sys.platform.startswith("linux"):  # gloo on the loopback interface, not the host name's address
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    try:
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
        )
        try:
            results.put((rank, True, _to_numpy(fn(rank, world, *args))))
        finally:
            dist.destroy_process_group()
    except BaseException:  # reported to the parent, which raises
        results.put((rank, False, traceback.format_exc()))


def spawn_gloo(fn: Callable, world_size: int = 2, *, args: tuple = (), timeout: float = 60.0) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes joined by gloo; their results.

    Each process starts with ``spawn`` (so ``fn`` must be importable: a
    module-level function, not one defined in a notebook cell), joins a
    process group on ``127.0.0.1`` at a free port, runs ``fn`` and returns
    its result (tensors, also inside dicts, lists and tuples, come back as
    CPU tensors). A process that fails raises ``RuntimeError`` with its
    traceback here; one that does not finish within ``timeout`` seconds is
    terminated and ``TimeoutError`` is raised, so a hang fails instead of
    blocking.

    Returns:
        The results, in rank order.
    """
    ctx = torch.multiprocessing.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_entry, args=(r, world_size, port, fn, args, results)) for r in range(world_size)]
    for p in procs:
        p.start()
    got: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(got) < world_size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"spawn_gloo: {world_size - len(got)} process(es) did not finish in {timeout:g} s")
            try:
                rank, ok, value = results.get(timeout=min(left, 0.5))
            except queue_module.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"spawn_gloo: a process exited with code {dead[0]}") from None
                continue
            if not ok:
                raise RuntimeError(f"spawn_gloo: process {rank} failed:\n{value}")
            got[rank] = _to_torch(value)
        for p in procs:
            p.join(timeout=max(deadline - time.monotonic(), 1.0))
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    return [got[r] for r in range(world_size)]


def _clip_batch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Linear]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    y = torch.randn(n, 4, generator=g, dtype=torch.float64)
    enc = torch.nn.Linear(4, 3).to(torch.float64)
    with torch.no_grad():
        enc.weight.copy_(torch.randn(3, 4, generator=g, dtype=torch.float64))
        enc.bias.copy_(torch.randn(3, generator=g, dtype=torch.float64))
    return x, y, enc


def clip_gather_example(rank: int, world_size: int, sizes: tuple[int, ...], seed: int = 0) -> dict:
    """One process's share of a CLIP step with gathered negatives (for :func:`spawn_gloo`, and the book).

    A seeded float64 batch of ``sum(sizes)`` image and text inputs; a shared
    linear encoder embeds both. Process ``rank`` holds rows
    ``sizes[:rank]`` .. and computes ``clip_loss(..., gather=True,
    reduction="sum") / sum(sizes)``; the encoder's gradients are all-reduced
    (summed). With ``world_size == 1`` (no process group) it is the whole
    batch in one process. Returns the local loss, the gradients of the local
    image and text embeddings, and the encoder's summed gradients.
    """
    from .representation import clip_loss

    total = sum(sizes)
    x, y, enc = _clip_batch(total, seed)
    start = sum(sizes[:rank]) if world_size > 1 else 0
    stop = start + sizes[rank] if world_size > 1 else total
    img, txt = enc(x[start:stop]), enc(y[start:stop])
    img.retain_grad()
    txt.retain_grad()
    loss = clip_loss(img, txt, logit_scale=2.0, gather=world_size > 1, reduction="sum") / total
    loss.backward()
    grads = [p.grad.clone() for p in enc.parameters()]
    if world_size > 1:
        for gr in grads:
            dist.all_reduce(gr, op=dist.ReduceOp.SUM)
    return {"loss": loss.detach(), "image_grad": img.grad, "text_grad": txt.grad, "encoder_grads": grads}
