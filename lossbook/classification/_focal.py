"""Focal losses, sigmoid (``focal``) and softmax (``softmax_focal``), with the
autograd Functions that compute their gradients in the forward pass. Public
through :mod:`lossbook.classification`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import _core


def _logaddexp(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # torch.logaddexp's value, but with finite second derivatives when one argument is
    # -inf (a hard target t = 0 or 1): torch.logaddexp's double backward is NaN there.
    return torch.maximum(u, v) + torch.log1p(torch.exp(-(u - v).abs()))


def _alpha_gamma(alpha: float | None, gamma: float) -> tuple[float | None, float]:
    gamma = _core.check_nonnegative(gamma, "gamma")
    if alpha is not None:
        alpha = _core.check_nonnegative(alpha, "alpha")
        if alpha > 1:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha}")
    return alpha, gamma


def focal(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Sigmoid focal loss: binary cross-entropy that down-weights easy examples.

    Per element, with :math:`p = \sigma(x)`,
    :math:`p_t = p\,t + (1 - p)(1 - t)` the probability given to the true
    answer and :math:`\alpha_t = \alpha t + (1 - \alpha)(1 - t)`,

    .. math:: \ell(x, t) = -\alpha_t\,(1 - p_t)^{\gamma} \log p_t .

    The factor :math:`(1 - p_t)^\gamma` shrinks the loss of examples the
    model already gets right (:math:`p_t \to 1`), so the many easy
    negatives of a dense detector stop drowning the few hard ones. It says
    nothing about object size. With ``gamma=0`` and ``alpha=None`` it is
    :func:`binary_cross_entropy_with_logits`.

    Computed in log space — :math:`\log p_t` and :math:`\log(1 - p_t)` from
    ``logsigmoid`` — so that saturated logits give finite values and
    gradients even for ``gamma < 1``, where :math:`(1-p_t)^{\gamma-1}`
    evaluated naively is :math:`0^{-0.5} = \infty`.

    Matches torchvision's ``torchvision.ops.sigmoid_focal_loss`` (same
    ``alpha=0.25``, ``gamma=2``; torchvision's default reduction is
    ``"none"``, lossbook's is ``"mean"``, the mean over all elements).

    Value checks (on by default) read ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        logits: logits :math:`x`.
        target: targets :math:`t` in [0, 1], the same shape.
        alpha: weight of the positive class in [0, 1]; ``None`` turns
            class weighting off (:math:`\alpha_t = 1`).
        gamma: focusing parameter :math:`\gamma \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per element).

    Returns:
        A scalar, or for ``"none"`` a tensor of ``logits``' shape.

    Shape:
        logits: ``(*)``.
        target: ``(*)``, the same shape.

    References:
        T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss
        for Dense Object Detection", ICCV 2017.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> logits, target = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
        >>> round(lossbook.focal(logits, target).item(), 4)
        0.6404
        >>> plain = lossbook.focal(logits, target, alpha=None, gamma=0.0)  # no weighting: BCE
        >>> torch.allclose(plain, F.binary_cross_entropy_with_logits(logits, target))
        True
    """
    _core.check_reduction(reduction)
    _core.check_pair(logits, target, ("logits", "target"))
    alpha, gamma = _alpha_gamma(alpha, gamma)
    _core.check_unit_interval(target, "target")
    return _core.reduce(_Focal.apply(logits, target, alpha, gamma), reduction)


def _focal_autograd(logits: torch.Tensor, target: torch.Tensor, alpha: float | None, gamma: float) -> torch.Tensor:
    """The focal loss per element, differentiable to any order (log space throughout)."""
    log_p, log_1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    ce = -(target * log_p + (1 - target) * log_1mp)
    loss = ce
    if gamma != 0:
        # log(1 - p_t) = log(p (1 - t) + (1 - p) t), as a log-sum-exp of logs. At a hard target
        # one log is -inf, and its derivative in t is 0 * inf = NaN where the true one,
        # (1 - 2p) / (1 - p_t), is finite; there the equal forms log p + log1p(t expm1(-x))
        # (t = 0) and log(1 - p) + log1p((1 - t) expm1(x)) (t = 1) give it exactly.
        hard0, hard1 = target == 0, target == 1
        soft = torch.where(hard0 | hard1, 0.5, target)  # keeps the unused branch's logs finite
        log_1m_pt = _logaddexp(log_p + torch.log1p(-soft), log_1mp + torch.log(soft))
        cap = math.log(torch.finfo(logits.dtype).max) - 1  # expm1 would overflow beyond; times 0 there
        x = logits.clamp(-cap, cap)
        at0 = log_p + torch.log1p(torch.where(hard0, target, 0.0) * torch.expm1(-x))
        at1 = log_1mp + torch.log1p((1 - torch.where(hard1, target, 1.0)) * torch.expm1(x))
        log_1m_pt = torch.where(hard0, at0, torch.where(hard1, at1, log_1m_pt))
        loss = torch.exp(gamma * log_1m_pt) * ce
    if alpha is not None:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss


class _Focal(torch.autograd.Function):
    r"""The focal loss per element, with its derivative in the logits computed in the same pass.

    With :math:`p = \sigma(x)`, :math:`\bar p = \sigma(-x)` (not :math:`1 - p`,
    which loses the digits of a saturated logit), :math:`q = 1 - p_t =
    p(1 - t) + \bar p t` (a lerp, exact at hard targets) and the
    cross-entropy :math:`c` from PyTorch's fused kernel,

    .. math:: \ell = \alpha_t q^\gamma c, \qquad
        \frac{\partial\ell}{\partial x} = \alpha_t q^\gamma
        \Big(p(1 - t) - \bar p t + \gamma\,\frac{p\bar p}{q}\,(1 - 2t)\,c\Big),

    where :math:`p\bar p / q \le 1` (:math:`q` lies between :math:`p` and
    :math:`\bar p`), so no power of :math:`q` below 0 is ever formed and
    :math:`\gamma < 1` stays finite at saturated logits. Second derivatives,
    and derivatives in the target, come from :func:`_focal_autograd`.
    """

    @staticmethod
    def forward(ctx, logits, target, alpha, gamma):
        x, t = logits.detach(), target.detach()
        ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        p, p_bar = torch.sigmoid(x), torch.sigmoid(-x)
        slope = torch.lerp(p, p_bar.neg(), t)  # p - t, as p (1 - t) - (1 - p) t: exact at hard targets
        if gamma != 0:
            q = torch.lerp(p, p_bar, t)  # p (1 - t) + (1 - p) t
            mod = q.pow(gamma)
            # gamma p (1 - p) / q (1 - 2 t) ce; p (1 - p) <= q, and both are 0 together
            ratio = p.mul_(p_bar).div_(q.clamp_(min=torch.finfo(q.dtype).tiny))
            slope.addcmul_(ratio.mul_(ce), torch.mul(t, -2.0).add_(1.0), value=gamma).mul_(mod)
            ce.mul_(mod)
        if alpha is not None:
            alpha_t = torch.mul(t, 2 * alpha - 1).add_(1 - alpha)
            ce.mul_(alpha_t)
            slope.mul_(alpha_t)
        ctx.save_for_backward(logits, target, slope)
        ctx.alpha, ctx.gamma = alpha, gamma
        return ce

    @staticmethod
    def backward(ctx, grad):
        logits, target, slope = ctx.saved_tensors
        if not torch.is_grad_enabled() and not ctx.needs_input_grad[1]:
            return grad * slope, None, None, None
        # double backward, or a target that needs a gradient: differentiate the log-space form
        reference = lambda: _focal_autograd(logits, target, ctx.alpha, ctx.gamma)  # noqa: E731
        return _core.reference_grads(reference, (logits, target), ctx.needs_input_grad[:2], grad) + (None, None)


@_core.float32_under_autocast
def softmax_focal(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-class focal loss on softmax probabilities.

    Per sample, with :math:`p = \operatorname{softmax}(z)` and class weights
    :math:`w` (default 1),

    .. math:: \ell(z, y) = -w_y\,(1 - p_y)^{\gamma}\log p_y .

    With ``gamma=0`` it is :func:`cross_entropy`, value and gradient, and
    ``"mean"`` is the same weighted mean :math:`\sum_i \ell_i / \sum_i w_{y_i}`.
    Confident and hopeless predictions alike give finite values and
    gradients (first and second) for any :math:`\gamma \ge 0`.

    No PyTorch counterpart; it equals
    ``-w[y] * (1 - p_y) ** gamma * log_softmax(logits, 1).gather(1, y[:, None])[:, 0]``
    with ``p_y`` that entry's ``exp``.

    Value checks (on by default) read the class indices;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        logits: unnormalised class scores :math:`z` (at least two classes).
        target: class indices.
        gamma: focusing parameter :math:`\gamma \ge 0`.
        weight: per-class weights, shape ``(C,)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N, d1, ...)``.

    Shape:
        logits: ``(N, C)`` or ``(N, C, d1, ...)``.
        target: ``(N, d1, ...)``.

    References:
        T.-Y. Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017
        (the multi-class form is their eq. 5 applied to a softmax).

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> logits, target = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), torch.tensor([0, 1])
        >>> round(lossbook.softmax_focal(logits, target).item(), 4)
        0.0516
        >>> plain = lossbook.softmax_focal(logits, target, gamma=0.0)  # gamma = 0: cross-entropy
        >>> torch.allclose(plain, F.cross_entropy(logits, target))
        True
    """
    _core.check_reduction(reduction)
    c = _core.num_classes(logits, "logits")
    if c < 2:
        raise ValueError(f"logits must have at least 2 classes for softmax_focal, got {c}")
    _, gamma = _alpha_gamma(None, gamma)
    w = _core.check_class_weight(weight, logits, "logits")
    _core.check_index_target(logits, target, "logits")
    # For gamma > 0 the value and its gradient come from one pass over p = softmax(z):
    # 1 - p_y as the sum of the other classes' probabilities (no cancellation), and log p_y
    # as (z_y - max z) + log max p (exact where p_y underflows) or, for a confident
    # prediction, log1p(-(1 - p_y)). Second derivatives differentiate the log-space form,
    # log(1 - p_y) = logsumexp_{c != y} z_c - logsumexp_c z_c (_softmax_focal_autograd).
    if gamma == 0:
        loss = _softmax_focal_autograd(logits, target, gamma, w)
    else:
        loss = _SoftmaxFocal.apply(logits, target, gamma, w)
    if reduction == "mean":
        return _core.mean_over_targets(loss.sum(), target, w, None)
    return _core.reduce(loss, reduction)


def _softmax_focal_autograd(
    logits: torch.Tensor, target: torch.Tensor, gamma: float, w: torch.Tensor | None
) -> torch.Tensor:
    """The softmax focal loss per sample, differentiable to any order (log space throughout)."""
    idx = target.unsqueeze(1)
    log_p_y = F.log_softmax(logits, dim=1).gather(1, idx).squeeze(1)
    loss = -log_p_y
    if gamma != 0:
        others = logits.scatter(1, idx, float("-inf"))
        log_1m_p_y = torch.logsumexp(others, dim=1) - torch.logsumexp(logits, dim=1)
        loss = torch.exp(gamma * log_1m_p_y) * loss
    if w is not None:
        loss = w[target] * loss
    return loss


class _SoftmaxFocal(torch.autograd.Function):
    r"""The softmax focal loss per sample, with its gradient computed in the same pass.

    With :math:`p = \operatorname{softmax}(z)`, :math:`q = 1 - p_y`
    summed over the other classes (no cancellation), :math:`\log p_y` as
    :math:`(z_y - \max z) + \log p_{\max}` (exact also where :math:`p_y`
    underflows: :math:`p_{\max} \ge 1/C`) or, where :math:`q < 1/2`, as
    :math:`\operatorname{log1p}(-q)` (exact for a confident prediction),

    .. math:: \ell = -w_y q^\gamma \log p_y, \qquad
        \frac{\partial \ell}{\partial z_c} = s\,(\delta_{cy} - p_c), \quad
        s = w_y q^\gamma \Big(\gamma\, p_y \frac{\log p_y}{q} - 1\Big),

    where :math:`\log p_y / q \to -1` as :math:`q \to 0`, so no negative
    power of :math:`q` is formed. Second derivatives come from
    :func:`_softmax_focal_autograd`.
    """

    @staticmethod
    def forward(ctx, logits, target, gamma, w):
        idx = target.unsqueeze(1)
        p = F.softmax(logits, dim=1)  # one exponential pass (log_softmax, then exp, would be two)
        p_y = p.gather(1, idx).squeeze(1)
        # log p_y = (z_y - max z) + log p_max: exact where p_y itself underflows, since p_max >= 1/C
        # (amax: a reduction without indices is several times faster than max/argmax on a CPU)
        log_p_y = (logits.gather(1, idx).squeeze(1) - logits.amax(dim=1)).add_(torch.log(p.amax(dim=1)))
        q = p.scatter_(1, idx, 0.0).sum(1)  # 1 - p_y, summed over the other classes
        p.scatter_(1, idx, p_y.unsqueeze(1))
        log_p_y = torch.where(q < 0.5, torch.log1p(-q), log_p_y)
        ratio = torch.where(q > 0, log_p_y / q, -1.0)  # log p_y / (1 - p_y)
        mod = q.pow_(gamma)
        loss = log_p_y.mul_(mod).neg_()
        s = ratio.mul_(p_y).mul_(gamma).sub_(1.0).mul_(mod)
        if w is not None:
            w_y = w[target]
            loss.mul_(w_y)
            s.mul_(w_y)
        ctx.save_for_backward(logits, target, p, s, w)
        ctx.gamma = gamma
        return loss

    @staticmethod
    def backward(ctx, grad):
        logits, target, p, s, w = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate the log-space form
            reference = lambda: _softmax_focal_autograd(logits, target, ctx.gamma, w)  # noqa: E731
            (g,) = _core.reference_grads(reference, (logits,), (True,), grad)
            return g, None, None, None
        gs = (grad * s).unsqueeze(1)
        g = torch.mul(p, gs.neg()).scatter_add_(1, target.unsqueeze(1), gs)
        return g, None, None, None
