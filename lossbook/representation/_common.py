"""Checks shared by the contrastive losses (private)."""

from __future__ import annotations

import torch

from .. import _core
from ..metric import _embeddings

__all__ = ["embeddings", "extra_embeddings", "flag", "scalar", "labels_of", "similarity"]

embeddings = _embeddings  # (N, D) floating embeddings of one shape, dtype and device


def extra_embeddings(x: object, name: str, like: torch.Tensor, like_name: str) -> torch.Tensor:
    """``(M, D)`` embeddings with ``like``'s width, dtype and device (``M`` free)."""
    _core.check_tensor(x, name)
    if x.dim() != 2 or x.shape[1] != like.shape[1]:
        raise ValueError(f"{name} must have shape (M, {like.shape[1]}) like {like_name}'s rows, got {tuple(x.shape)}")
    _core.check_same_dtype(x, like, (like_name, name))
    _core.check_same_device(x, like, (like_name, name))
    return x


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def scalar(value: object, name: str, like: torch.Tensor, like_name: str, *, positive: bool) -> float | torch.Tensor:
    """A finite real number (> 0 with ``positive``), or a 0-dim floating tensor (a learnable one).

    A tensor's value is checked (> 0, finite) as a value check: skipped with
    value checks off, an assert inside a compiled graph.
    """
    if not isinstance(value, torch.Tensor):
        return _core.check_positive(value, name) if positive else _core._real(value, name)
    _core.check_tensor(value, name)
    if value.dim() != 0:
        raise ValueError(f"{name} must be a number or a 0-dim tensor, got shape {tuple(value.shape)}")
    _core.check_same_device(value, like, (like_name, name))
    if _core.value_checks_enabled():
        ok = torch.isfinite(value) & (value > 0) if positive else torch.isfinite(value)
        _core.require_values(ok.reshape(1), value.reshape(1), name, "be finite and > 0" if positive else "be finite")
    return value


def labels_of(labels: object, like: torch.Tensor, like_name: str, num_classes: int | None = None) -> torch.Tensor:
    """Integer (int64) labels, one per row of ``like``; with ``num_classes``, value-checked to be in range."""
    _core.check_tensor(labels, "labels", floating=False)
    if labels.dtype != torch.int64:
        raise TypeError(f"labels must hold integer class labels (int64), got {labels.dtype}")
    if labels.shape != like.shape[:1]:
        raise ValueError(
            f"labels must have shape ({like.shape[0]},), one per row of {like_name}, got {tuple(labels.shape)}"
        )
    _core.check_same_device(labels, like, (like_name, "labels"))
    if num_classes is not None and _core.value_checks_enabled():
        _core.require_values(
            (labels >= 0) & (labels < num_classes), labels, "labels", f"hold class indices in [0, {num_classes - 1}]"
        )
    return labels


class _Similarity(torch.autograd.Function):
    """``a @ b.T`` whose backward runs with autocast off, as its forward did.

    A loss under :func:`lossbook._core.float32_under_autocast` runs its forward
    with autocast off; a caller that backpropagates inside ``torch.autocast``
    would otherwise have the backward matrix products cast to half precision
    (``mm`` is on autocast's lower-precision list).
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        ctx.device_type = a.device.type
        return a @ b.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors
        with torch.autocast(ctx.device_type, enabled=False):
            return grad @ b, grad.T @ a


class _Gram(torch.autograd.Function):
    """``a @ a.T`` (one input: dynamo traces no Function given the same tensor twice), backward with autocast off."""

    @staticmethod
    def forward(ctx, a: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a)
        ctx.device_type = a.device.type
        return a @ a.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (a,) = ctx.saved_tensors
        with torch.autocast(ctx.device_type, enabled=False):
            return (grad + grad.T) @ a


def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The ``(N, M)`` dot products of the rows of ``a`` ``(N, D)`` and ``b`` ``(M, D)``."""
    return _Gram.apply(a) if a is b else _Similarity.apply(a, b)
