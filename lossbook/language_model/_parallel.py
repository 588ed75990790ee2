"""Data parallelism, for the tests and the chapter: processes started with torch.multiprocessing (spawn),
which needs a module-level worker."""

from __future__ import annotations

import torch

from ._linear import linear_cross_entropy


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_model_loss(proj, weight, hidden, target, normalizer):
    """The shared model of the demo: a linear layer, then the linear cross-entropy."""
    return linear_cross_entropy(hidden @ proj.T, weight, target, normalizer=normalizer, chunk_size=5)


def _data_parallel_worker(rank, world, port, proj, weight, hiddens, targets, queue):
    import datetime

    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        hidden, target = hiddens[rank], targets[rank]
        out = {}
        for how in ("global", "local"):
            p, w = proj.clone().requires_grad_(True), weight.clone().requires_grad_(True)
            if how == "global":  # every token counts once over all processes
                count = (target != -100).sum().to(hidden.dtype)
                dist.all_reduce(count)
                loss = _tiny_model_loss(p, w, hidden, target, count)
                reported = loss.detach().clone()
                dist.all_reduce(reported)  # the sum of the processes' parts is the batch's loss
                scale = 1.0  # the gradients add up
            else:  # each process's own mean, averaged (what DDP does by default)
                loss = _tiny_model_loss(p, w, hidden, target, None)
                reported = loss.detach().clone()
                dist.all_reduce(reported)
                reported /= world
                scale = 1.0 / world
            loss.backward()
            grads = [p.grad * scale, w.grad * scale]
            for g in grads:
                dist.all_reduce(g)
            out[how] = (reported.tolist(), [g.tolist() for g in grads])
        out["counts"] = int((target != -100).sum())
        queue.put((rank, out))
    finally:
        dist.destroy_process_group()


def _data_parallel(proj, weight, hiddens, targets, *, timeout: float = 60.0) -> dict:
    """Run the tiny model's loss and gradients on ``len(hiddens)`` processes (gloo, CPU).

    Returns, from rank 0, ``{"global": (loss, [grad_proj, grad_weight]), "local": ...,
    "counts": [...]}`` as Python lists: ``"global"`` with the normalizer all-reduced over
    the processes, ``"local"`` with each process's own mean averaged. A process that
    does not finish within ``timeout`` seconds is terminated and ``RuntimeError`` raised.
    """
    import torch.multiprocessing as mp

    world = len(hiddens)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_data_parallel_worker, args=(r, world, port, proj, weight, hiddens, targets, queue))
        for r in range(world)
    ]
    for p in procs:
        p.start()
    results = {}
    try:
        import queue as _queue

        for _ in range(world):
            try:
                rank, out = queue.get(timeout=timeout)
            except _queue.Empty:
                raise RuntimeError(f"data-parallel workers gave no result within {timeout} s") from None
            results[rank] = out
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(5)
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise RuntimeError(f"data-parallel workers exited with {bad}")
    out = dict(results[0])
    out["counts"] = [results[r]["counts"] for r in range(world)]
    return out
