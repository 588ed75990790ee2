r"""Segmentation losses: overlap between a predicted and a target mask.

Dice and its asymmetric generalisation Tversky (and focal Tversky) score soft
probabilities; the Lovász hinge optimises the Jaccard index (IoU) of the
thresholded logits through its convex Lovász extension.
"""

from __future__ import annotations

import torch

from . import _core

__all__ = ["dice_loss", "focal_tversky_loss", "lovasz_hinge", "tversky_loss"]


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


def _mask_pair(probs: torch.Tensor, target: torch.Tensor, names: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Shape and dtype checks of a mask pair; ``(N, K)`` views (a ``(N,)`` input is one pixel a sample)."""
    _core.check_pair(probs, target, names)
    if probs.dim() < 1:
        raise ValueError(f"{names[0]} must have a batch dimension, shape (N, *), got a scalar")
    if probs.dim() == 1:
        probs, target = probs.unsqueeze(1), target.unsqueeze(1)
    return probs, target


def _check_tversky_weights(alpha: object, beta: object, smooth: object) -> tuple[float, float, float]:
    alpha = _core.check_nonnegative(alpha, "alpha")
    beta = _core.check_nonnegative(beta, "beta")
    if alpha == 0 and beta == 0:
        raise ValueError("alpha and beta must not both be 0 (the loss would be 0 for every prediction)")
    return alpha, beta, _core.check_nonnegative(smooth, "smooth")


def _tversky(p: torch.Tensor, t: torch.Tensor, alpha: float, beta: float, smooth: float) -> torch.Tensor:
    """Per-sample Tversky loss of checked ``(N, K)`` inputs."""
    tp = (p * t).sum(1)
    fp = (p * (1 - t)).sum(1)  # written out, not sum(p) - TP: no cancellation in float32
    fn = ((1 - p) * t).sum(1)
    num = tp + smooth
    den = tp + alpha * fp + beta * fn + smooth
    if smooth == 0:  # (a Python float) both sides 0 only when TP = 0 and the weighted errors are 0: the limit is 0
        ok = den > 0
        return torch.where(ok, 1 - num / torch.where(ok, den, 1), 0)
    return 1 - num / den


@_core.float32_under_autocast
def tversky_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Tversky loss: one minus the Tversky index, which weighs false positives and false negatives apart.

    Per sample, summing over all its pixels (every dimension but the first),
    with :math:`TP = \sum_i p_i t_i`, :math:`FP = \sum_i p_i (1 - t_i)` and
    :math:`FN = \sum_i (1 - p_i) t_i`,

    .. math:: \ell = 1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}.

    :math:`\alpha` is the price of a false positive, :math:`\beta` of a false
    negative: raising :math:`\beta` above :math:`\alpha` trades precision for
    recall, which is what a small lesion against a large background needs.
    With :math:`\alpha = \beta = 1/2` the denominator is
    :math:`(\sum p + \sum t)/2 + s` and the loss is :func:`dice_loss` with
    ``smooth`` doubled; :math:`\alpha = \beta = 1` gives one minus the soft
    Jaccard index (IoU). With ``smooth=0`` a sample whose denominator is 0
    (nothing predicted, nothing there) has loss 0, the limit of
    :math:`s \to 0`. ``reduction`` averages or sums the per-sample values.

    No PyTorch counterpart; it equals ``1 - (tp + smooth) / (tp + alpha * fp +
    beta * fn + smooth)`` with ``tp = (p * t).sum(1)``, ``fp = (p * (1 - t)).sum(1)``,
    ``fn = ((1 - p) * t).sum(1)`` on ``p, t = probs.flatten(1), target.flatten(1)``.

    Value checks (on by default) read ``probs`` and ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        probs: predicted foreground probabilities (after a sigmoid), in [0, 1].
        target: target mask in [0, 1], the same shape.
        alpha: weight of false positives, >= 0.
        beta: weight of false negatives, >= 0 (not both 0).
        smooth: :math:`s \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        probs: ``(N, *)``, e.g. ``(N, H, W)`` or ``(N, 1, H, W)``.
        target: the same shape.

    References:
        S. S. M. Salehi, D. Erdogmus and A. Gholipour, "Tversky loss function
        for image segmentation using 3D fully convolutional deep networks",
        MLMI 2017; A. Tversky, "Features of Similarity", Psychological Review
        84(4), 1977.

    Example:
        >>> import torch
        >>> import lossbook
        >>> probs, target = torch.tensor([[1.0, 1.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 1.0, 1.0]])
        >>> lossbook.tversky_loss(probs, target, alpha=0.3, beta=0.7)  # TP 1, FP 1, FN 2: 1 - 2 / 3.7
        tensor(0.4595)
    """
    _core.check_reduction(reduction)
    alpha, beta, smooth = _check_tversky_weights(alpha, beta, smooth)
    p, t = _mask_pair(probs, target, ("probs", "target"))
    _core.check_unit_interval(probs, "probs")
    _core.check_unit_interval(target, "target")
    return _core.reduce(_tversky(p.flatten(1), t.flatten(1), alpha, beta, smooth), reduction)


@_core.float32_under_autocast
def focal_tversky_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 0.75,
    smooth: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Focal Tversky loss: the per-sample Tversky loss raised to the power gamma.

    Per sample, with :math:`\ell_T` the :func:`tversky_loss` of that sample,

    .. math:: \ell = \ell_T^{\,\gamma}.

    With :math:`\gamma < 1` a sample that is already well segmented
    (:math:`\ell_T` small) keeps a larger share of the gradient than under
    :math:`\ell_T` itself, since :math:`d\ell/d\ell_T = \gamma\,\ell_T^{\gamma-1}`
    grows as :math:`\ell_T` falls; :math:`\gamma = 1` is :func:`tversky_loss`.
    The defaults are Abraham and Khan's: :math:`\alpha = 0.3`,
    :math:`\beta = 0.7`, and their exponent :math:`1/\gamma = 4/3`, which is
    :math:`\gamma = 0.75` here. Where :math:`\ell_T = 0` the gradient is taken
    as 0 for :math:`\gamma \ne 1` (the one-sided derivative is infinite for
    :math:`\gamma < 1`), so that a perfect prediction has a finite gradient.
    ``reduction`` averages or sums the per-sample values.

    No PyTorch counterpart; it equals ``tversky_loss(probs, target, alpha=alpha,
    beta=beta, smooth=smooth, reduction="none") ** gamma`` reduced as asked.

    Value checks (on by default) read ``probs`` and ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        probs: predicted foreground probabilities (after a sigmoid), in [0, 1].
        target: target mask in [0, 1], the same shape.
        alpha: weight of false positives, >= 0.
        beta: weight of false negatives, >= 0 (not both 0).
        gamma: the exponent, > 0.
        smooth: :math:`s \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        probs: ``(N, *)``, e.g. ``(N, H, W)`` or ``(N, 1, H, W)``.
        target: the same shape.

    References:
        N. Abraham and N. M. Khan, "A novel focal Tversky loss function with
        improved attention U-Net for lesion segmentation", ISBI 2019.

    Example:
        >>> import torch
        >>> import lossbook
        >>> probs, target = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[1.0, 1.0, 1.0]])
        >>> lossbook.focal_tversky_loss(probs, target, smooth=0.0, gamma=0.5)  # Tversky loss 1, and 1 ** 0.5
        tensor(1.)
    """
    _core.check_reduction(reduction)
    alpha, beta, smooth = _check_tversky_weights(alpha, beta, smooth)
    gamma = _core.check_positive(gamma, "gamma")
    p, t = _mask_pair(probs, target, ("probs", "target"))
    _core.check_unit_interval(probs, "probs")
    _core.check_unit_interval(target, "target")
    lt = _tversky(p.flatten(1), t.flatten(1), alpha, beta, smooth).clamp(min=0)  # >= 0 exactly; clamp rounding
    if gamma == 1:  # (a Python float)
        return _core.reduce(lt, reduction)
    positive = lt > 0
    # the power of a safe base: at lt = 0 neither the value (0) nor the gradient (0) sees 0 ** (gamma - 1)
    return _core.reduce(torch.where(positive, torch.where(positive, lt, 1) ** gamma, 0), reduction)


def _lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Berman et al.'s Algorithm 1: the gradient of the Lovász extension of the Jaccard loss
    at errors sorted in decreasing order, from the ground truth in that order; ``(N, K)``.

    Entry i is ``J(prefix i) - J(prefix i-1)`` with ``J`` the Jaccard loss of predicting wrong
    exactly the first i+1 pixels in the order; the union is >= 1, never 0.
    """
    gts = gt_sorted.sum(1, keepdim=True)
    intersection = gts - gt_sorted.cumsum(1)
    union = gts + (1 - gt_sorted).cumsum(1)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], dim=1)


@_core.float32_under_autocast
def lovasz_hinge(logits: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Lovász hinge loss: the Lovász extension of the Jaccard loss applied to the per-pixel hinge errors.

    Per sample, with signs :math:`y_i = 2 t_i - 1` and hinge errors
    :math:`e_i = 1 - f_i y_i` of the logits :math:`f_i`, sorted so that
    :math:`e_{\pi_1} \ge e_{\pi_2} \ge \dots`,

    .. math:: \ell = \sum_{k} \max(0, e_{\pi_k})\,\bigl(\Delta_J(\{\pi_1..\pi_k\}) - \Delta_J(\{\pi_1..\pi_{k-1}\})\bigr),

    where :math:`\Delta_J(S) = 1 - |F \setminus S| / |F \cup S|` is the Jaccard
    loss (one minus the IoU of the foreground :math:`F`) when the pixels of
    :math:`S` are the ones predicted wrong. This is the Lovász extension of
    :math:`\Delta_J` at :math:`\max(0, e)`: piecewise linear and convex in
    the errors, and equal to :math:`\Delta_J` of the thresholded prediction
    when every error is 0 or 1. Its gradient flows only through the sorted
    errors (the ordering is piecewise constant); where two errors tie it has a
    kink. A sample with an empty target mask costs :math:`\max(0, \max_i e_i)`.
    ``reduction`` averages or sums the per-sample values, as Berman et al.'s
    ``per_image=True``.

    No PyTorch counterpart; it equals, per sample, ``torch.dot(F.relu(e_sorted),
    grad)`` with ``e_sorted, order = (1 - logits * (2 * target - 1)).sort(descending=True)``
    and ``grad`` Berman et al.'s ``lovasz_grad(target[order])``.

    Value checks (on by default) read ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        logits: per-pixel foreground logits (before a sigmoid).
        target: target mask of 0s and 1s, the same shape and dtype.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        logits: ``(N, *)``, e.g. ``(N, H, W)`` or ``(N, 1, H, W)``.
        target: the same shape.

    References:
        M. Berman, A. R. Triki and M. B. Blaschko, "The Lovász-Softmax loss:
        A tractable surrogate for the optimization of the intersection-over-union
        measure in neural networks", CVPR 2018.

    Example:
        >>> import torch
        >>> import lossbook
        >>> logits, target = torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[1.0, 1.0, 0.0]])
        >>> lossbook.lovasz_hinge(logits, target)  # errors -1, 2, 1.5: 2 * 1/2 + 1.5 * 1/6
        tensor(1.2500)
    """
    _core.check_reduction(reduction)
    f, t = _mask_pair(logits, target, ("logits", "target"))
    _core.check_binary(target, "target")
    f, t = f.flatten(1), t.flatten(1)
    errors = 1 - f * (2 * t - 1)
    errors_sorted, order = torch.sort(errors, dim=1, descending=True)
    grad = _lovasz_grad(t.gather(1, order))
    return _core.reduce((torch.relu(errors_sorted) * grad).sum(1), reduction)
