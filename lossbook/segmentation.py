r"""Segmentation losses: overlap between a predicted and a target mask."""

from __future__ import annotations

import torch

from . import _core

__all__ = ["dice_loss"]


@_core.float32_under_autocast
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

    The gradient, with :math:`N = 2\sum_i p_i t_i + s` and
    :math:`D = \sum_i p_i + \sum_i t_i + s`, is
    :math:`\partial\ell/\partial p_i = N/D^2 - 2 t_i/D`.

    No PyTorch counterpart; it equals
    ``1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)`` on
    ``p, t = probs.flatten(1), target.flatten(1)``.

    Value checks (on by default) read ``probs`` and ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    Example:
        >>> import torch
        >>> import lossbook
        >>> probs, target = torch.tensor([[1.0, 0.0, 1.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        >>> lossbook.dice_loss(probs, target)  # 1 - (2 * 1 + 1) / (2 + 1 + 1)
        tensor(0.2500)
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
    return _core.reduce(_Dice.apply(probs.flatten(1), target.flatten(1), smooth), reduction)


def _dice_formula(p: torch.Tensor, t: torch.Tensor, smooth: float) -> torch.Tensor:
    return 1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)


# The gradient is two numbers per sample (N / D^2 and 2 / D) and one pass over the pixels,
# written out here instead of letting autograd run back through the three sums, which
# also keeps the peak memory of the backward pass down.
class _Dice(torch.autograd.Function):
    r"""Per-sample Dice loss of ``(N, K)`` inputs, with the gradient written out.

    :math:`\partial\ell/\partial p_i = N/D^2 - (2/D)\,t_i` (and the same with
    :math:`p` and :math:`t` swapped), one product and one in-place sum per
    input; double backward goes through autograd of the formula.
    """

    @staticmethod
    def forward(ctx, p: torch.Tensor, t: torch.Tensor, smooth: float) -> torch.Tensor:
        num = (p * t).sum(1).mul_(2).add_(smooth)  # N = 2 sum p t + s
        den = (p.sum(1) + t.sum(1)).add_(smooth)  # D = sum p + sum t + s
        ctx.save_for_backward(p, t, num, den)
        ctx.smooth = smooth
        return 1 - num / den

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        p, t, num, den = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled():  # double backward: autograd of the formula
            return (*_core.reference_grads(lambda: _dice_formula(p, t, ctx.smooth), (p, t), needs, grad), None)
        a = (grad * num / (den * den)).unsqueeze(1)  # N / D^2, per sample
        minus_b = (grad * -2 / den).unsqueeze(1)  # -2 / D
        # (a broadcast addcmul is not vectorised on a CPU; a product and an in-place sum are)
        return (
            torch.mul(t, minus_b).add_(a) if needs[0] else None,
            torch.mul(p, minus_b).add_(a) if needs[1] else None,
            None,
        )
