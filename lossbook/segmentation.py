r"""Segmentation losses: overlap between a predicted and a target mask."""

from __future__ import annotations

import torch

from . import _core

__all__ = ["dice_loss"]


def dice_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Soft Dice loss: one minus the (smoothed) Dice coefficient of each sample.

    Per sample, summing over all its pixels (every dimension but the first),

    .. math:: \ell = 1 - \frac{2\sum_i p_i t_i + s}{\sum_i p_i + \sum_i t_i + s}.

    Dice compares the overlap with the *sizes* of the two masks, not with the
    number of pixels, so a small object against a large background counts
    as much as a large one: the reason it is used under class imbalance.
    The smoothing :math:`s` keeps the ratio defined when both masks are
    empty (the loss is then 0: nothing predicted, nothing there) and damps
    the gradient of tiny masks.

    PyTorch has no built-in; the tests compare with a float64 evaluation of
    the formula.

    Value checks (on by default) read ``probs`` and ``target`` once more, and
    on a GPU wait for the device; the benchmarks appendix gives the measured
    time against the peer with checks on and off.

    Args:
        probs: predicted foreground probabilities (after a sigmoid), in [0, 1].
        target: target mask in [0, 1], the same shape.
        smooth: :math:`s > 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        probs: ``(N, *)``, e.g. ``(N, H, W)`` or ``(N, 1, H, W)``.
        target: the same shape.

    References:
        L. R. Dice, "Measures of the Amount of Ecologic Association Between
        Species", Ecology 26(3), 1945; F. Milletari, N. Navab and
        S.-A. Ahmadi, "V-Net", 3DV 2016.
    """
    _core.check_reduction(reduction)
    smooth = _core.check_positive(smooth, "smooth")
    _core.check_pair(probs, target, ("probs", "target"))
    if probs.dim() < 1:
        raise ValueError("probs must have a batch dimension, shape (N, *), got a scalar")
    _core.check_unit_interval(probs, "probs")
    _core.check_unit_interval(target, "target")
    if probs.dim() == 1:  # one value per sample
        probs, target = probs.unsqueeze(1), target.unsqueeze(1)
    p, t = probs.flatten(1), target.flatten(1)
    overlap = (p * t).sum(1)
    loss = 1 - (2 * overlap + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return _core.reduce(loss, reduction)
