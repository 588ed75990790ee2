"""Which device the book's demos run on."""

from __future__ import annotations

import os

import torch


def device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    The environment variable ``LOSSBOOK_DEVICE`` (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``) overrides the choice, for example to reproduce the
    book's stored CPU outputs on a machine with a GPU.
    """
    forced = os.environ.get("LOSSBOOK_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
