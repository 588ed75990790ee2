"""A small, honest training loop for the book's demos.

:func:`fit` moves the model and data to :func:`lossbook.device` (CUDA, then
MPS, then CPU), runs full-batch or mini-batch training, records the training
and validation loss and the gradient norm every epoch, and can stop early on
the validation loss. It shows a progress bar only to a person at a terminal
(or when ``LOSSBOOK_PROGRESS=1``), never in stored notebook outputs or CI.
"""

from __future__ import annotations

import copy
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import torch

from ._device import device as default_device

__all__ = ["History", "fit", "show_progress"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch."""

    train: list[float] = field(default_factory=list)  #: training loss
    val: list[float] = field(default_factory=list)  #: validation loss (if given)
    grad_norm: list[float] = field(default_factory=list)  #: gradient 2-norm, last step
    best_epoch: int | None = None  #: epoch (0-based) of the lowest validation loss
    stopped_early: bool = False  #: whether patience ran out

    @property
    def epochs(self) -> int:
        """How many epochs ran."""
        return len(self.train)


def show_progress() -> bool:
    """Whether :func:`fit` shows a progress bar when not told.

    ``LOSSBOOK_PROGRESS=1``/``0`` decides if set; otherwise a bar is shown
    only on an interactive terminal outside CI.
    """
    env = os.environ.get("LOSSBOOK_PROGRESS")
    if env is not None:
        return env.strip().lower() not in ("", "0", "false", "no")
    return sys.stderr.isatty() and not os.environ.get("CI")


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"optimizer must be 'adam', 'sgd' or 'sgd-momentum', got {name!r}")


def fit(
    model: torch.nn.Module,
    loss_fn: Loss,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 100,
    lr: float = 1e-2,
    optimizer: str = "adam",
    batch_size: int | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    patience: int | None = None,
    clip_grad_norm: float | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` to minimise ``loss_fn(model(x), y)``.

    Each step is the loop every chapter teaches: ``zero_grad``, forward,
    loss, ``backward``, (optional clipping), ``step``.

    Args:
        model: the model; moved to ``device`` in place.
        loss_fn: ``loss_fn(pred, target)`` returning a scalar.
        x, y: training inputs and targets (rows are samples).
        epochs: passes over the training data.
        lr: learning rate.
        optimizer: ``"adam"``, ``"sgd"`` or ``"sgd-momentum"``.
        batch_size: rows per step; ``None`` for full-batch training.
        validation: ``(x_val, y_val)`` to compute a held-out loss each epoch.
        patience: stop when the validation loss has not improved for this
            many epochs, and restore the weights of the best epoch.
        clip_grad_norm: clip the gradient's 2-norm to this value.
        seed: seeds the shuffling of mini-batches.
        device: where to train; default :func:`lossbook.device`.
        progress: show a progress bar; default :func:`show_progress`.

    Returns:
        The :class:`History` of the run.
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if patience is not None and validation is None:
        raise ValueError("patience needs validation data to watch")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    dev = torch.device(device) if device is not None else default_device()
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    if validation is not None:
        validation = (validation[0].to(dev), validation[1].to(dev))
    opt = _optimizer(optimizer, model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    history = History()
    best, best_state, waited = math.inf, None, 0

    epoch_iter = range(epochs)
    if progress if progress is not None else show_progress():
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc="epochs", leave=False)
    for epoch in epoch_iter:
        model.train()
        order = torch.randperm(n, generator=gen).to(dev) if bs < n else None
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start : start + bs] if order is not None else slice(None)
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            if not grads:
                raise ValueError("the loss does not depend on any parameter of the model")
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            if clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            opt.step()
            total += loss.item() * (min(start + bs, n) - start)
        history.train.append(total / n)
        history.grad_norm.append(norm.item())
        if validation is not None:
            model.eval()
            with torch.no_grad():
                val = loss_fn(model(validation[0]), validation[1]).item()
            history.val.append(val)
            if val < best:
                best, waited, history.best_epoch = val, 0, epoch
                if patience is not None:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    history.stopped_early = True
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
