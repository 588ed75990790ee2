r"""Classification losses: cross-entropy and its family, margins, focal losses.

Class scores come first, with the class dimension at dim 1 as in PyTorch:
``(N, C)`` or ``(N, C, d1, ...)``. Class targets are integer indices of shape
``(N, d1, ...)``; binary and multi-label targets are floats of the scores'
shape. ``reduction="none"`` gives one value per sample (per element for the
sigmoid and binary losses, where every element is its own yes/no problem).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _core

__all__ = [
    "cross_entropy", "nll", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "kl_divergence", "hinge", "multiclass_hinge", "focal", "softmax_focal",
]


# --------------------------------------------------------------------------
# Softmax family


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Softmax cross-entropy between logits and class indices or class probabilities.

    Per sample, with :math:`p = \operatorname{softmax}(z)` over the classes and
    class weights :math:`w` (default 1),

    .. math:: \ell(z, y) = -w_y \log p_y
        = -w_y\Big(z_y - \log\sum_{c} e^{z_c}\Big),

    or, for a target distribution :math:`q`,
    :math:`\ell = -\sum_c w_c q_c \log p_c`. Label smoothing
    :math:`\varepsilon` replaces the one-hot target by
    :math:`(1-\varepsilon)\,\mathrm{onehot}(y) + \varepsilon / C`. The
    gradient with respect to the logits is :math:`p - \mathrm{onehot}(y)`
    (unweighted): bounded, and never vanishing while the prediction is wrong.

    ``"mean"`` with index targets is the weighted mean
    :math:`\sum_i \ell_i / \sum_i w_{y_i}` over samples whose target is not
    ``ignore_index``; if none count, lossbook returns 0 where PyTorch returns
    NaN. Computed by the log-sum-exp form (PyTorch's fused kernel), so large
    logits neither overflow nor give ``log(0)``.

    Matches :func:`torch.nn.functional.cross_entropy` (same defaults).

    Value checks (on by default) read the class indices (or target
    probabilities) once more, and on a GPU wait for the device; the benchmarks
    appendix gives the measured time against the peer with checks on and off.

    Args:
        logits: unnormalised class scores :math:`z`.
        target: class indices (integer) or class probabilities (float, the
            logits' shape, values in [0, 1]).
        weight: per-class weights, shape ``(C,)``.
        ignore_index: index target value that contributes nothing.
        label_smoothing: :math:`\varepsilon` in [0, 1].
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N, d1, ...)``.

    Shape:
        logits: ``(N, C)`` or ``(N, C, d1, ...)``.
        target: ``(N, d1, ...)`` indices, or the logits' shape for probabilities.

    References:
        Cross-entropy as the negative log-likelihood of a categorical model:
        Bishop, *Pattern Recognition and Machine Learning*, 2006, §4.3.4;
        label smoothing: Szegedy et al., "Rethinking the Inception
        Architecture for Computer Vision", CVPR 2016.
    """
    _core.check_reduction(reduction)
    _core.num_classes(logits, "logits")
    w = _core.check_class_weight(weight, logits)
    eps = _core.check_nonnegative(label_smoothing, "label_smoothing")
    if eps > 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(target, torch.Tensor) and target.is_floating_point():
        _core.check_pair(logits, target, ("logits", "target"))
        _core.check_unit_interval(target, "target")
        return F.cross_entropy(
            logits, target, weight=w, label_smoothing=eps,
            reduction=_core.empty_safe(reduction, target.numel()),
        )
    _core.check_index_target(logits, target, "logits", ignore_index)
    kw = dict(weight=w, ignore_index=ignore_index, label_smoothing=eps)
    if reduction != "mean":
        return F.cross_entropy(logits, target, reduction=reduction, **kw)
    total = F.cross_entropy(logits, target, reduction="sum", **kw)
    return _core.mean_over_targets(total, target, w, ignore_index)


def nll(
    log_probs: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood of class indices, given log-probabilities.

    Per sample, :math:`\ell = -w_y\, s_y`: it picks the entry of the target
    class and negates it. It is a cross-entropy only when :math:`s` holds
    log-probabilities, i.e. after ``torch.log_softmax(logits, dim=1)``;
    ``nll(log_softmax(z), y) == cross_entropy(z, y)``. Fed raw logits or
    probabilities it still returns a number, just not a likelihood.
    ``"mean"`` is the weighted mean as in :func:`cross_entropy` (0 when
    every target is ignored).

    Matches :func:`torch.nn.functional.nll_loss`.

    Value checks (on by default) read the class indices once more, and on a
    GPU wait for the device; the benchmarks appendix gives the measured time
    against the peer with checks on and off.

    Args:
        log_probs: log-probabilities :math:`s`, usually from ``log_softmax``.
        target: class indices.
        weight: per-class weights, shape ``(C,)``.
        ignore_index: target value that contributes nothing.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N, d1, ...)``.

    Shape:
        log_probs: ``(N, C)`` or ``(N, C, d1, ...)``.
        target: ``(N, d1, ...)``.
    """
    _core.check_reduction(reduction)
    _core.num_classes(log_probs, "log_probs")
    w = _core.check_class_weight(weight, log_probs)
    _core.check_index_target(log_probs, target, "log_probs", ignore_index)
    if reduction != "mean":
        return F.nll_loss(log_probs, target, weight=w, ignore_index=ignore_index, reduction=reduction)
    total = F.nll_loss(log_probs, target, weight=w, ignore_index=ignore_index, reduction="sum")
    return _core.mean_over_targets(total, target, w, ignore_index)


def kl_divergence(logits: torch.Tensor, target_probs: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Kullback–Leibler divergence of the model's softmax from a target distribution.

    Per sample, with :math:`p = \operatorname{softmax}(z)` and target :math:`q`,

    .. math:: \mathrm{KL}(q \,\|\, p) = \sum_c q_c \left(\log q_c - \log p_c\right)
        = \underbrace{-\sum_c q_c \log p_c}_{\text{cross-entropy}}
          - \underbrace{\Big(-\sum_c q_c \log q_c\Big)}_{H(q)},

    with :math:`0 \log 0 = 0`. It is 0 exactly when :math:`p = q`, and it
    differs from cross-entropy only by the target's entropy, which does not
    depend on the model: both have the same gradient. Summed over the class
    dimension (and any further dimensions) per sample; ``"mean"`` averages
    over samples.

    Matches ``torch.nn.functional.kl_div(log_softmax(logits, 1), target_probs,
    reduction="batchmean")`` for ``"mean"``.

    Value checks (on by default) read ``target_probs`` once more, and on a GPU
    wait for the device; the benchmarks appendix gives the measured time
    against the peer with checks on and off.

    Args:
        logits: unnormalised scores :math:`z`.
        target_probs: target distribution :math:`q`, values in [0, 1].
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        logits: ``(N, C)`` or ``(N, C, d1, ...)``.
        target_probs: the same shape.

    References:
        S. Kullback and R. A. Leibler, "On Information and Sufficiency",
        Annals of Mathematical Statistics 22(1), 1951.
    """
    _core.check_reduction(reduction)
    _core.num_classes(logits, "logits")
    _core.check_pair(logits, target_probs, ("logits", "target_probs"))
    _core.check_unit_interval(target_probs, "target_probs")
    log_p = F.log_softmax(logits, dim=1)
    if reduction == "none":
        return F.kl_div(log_p, target_probs, reduction="none").flatten(1).sum(1)
    total = F.kl_div(log_p, target_probs, reduction="sum")
    return total if reduction == "sum" else total / max(logits.shape[0], 1)


# --------------------------------------------------------------------------
# Sigmoid family (each element is its own yes/no problem)


def binary_cross_entropy(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary cross-entropy (log loss) of probabilities.

    Per element, with predicted probability :math:`p` and target
    :math:`t \in [0, 1]`,

    .. math:: \ell(p, t) = -w\,\big(t \log p + (1 - t)\log(1 - p)\big).

    Takes probabilities, so it must come after a sigmoid; PyTorch clamps each
    log at -100, which keeps :math:`p \in \{0, 1\}` finite but loses the
    true loss beyond :math:`e^{-100}`. Prefer
    :func:`binary_cross_entropy_with_logits`, which is exact and stable.

    Matches :func:`torch.nn.functional.binary_cross_entropy`.

    Value checks (on by default) read ``probs`` and ``target`` once more, and
    on a GPU wait for the device; the benchmarks appendix gives the measured
    time against the peer with checks on and off.

    Args:
        probs: probabilities :math:`p` in [0, 1].
        target: targets :math:`t` in [0, 1], the same shape.
        weight: rescales each element; broadcasts to ``probs``' shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per element).

    Returns:
        A scalar, or for ``"none"`` a tensor of ``probs``' shape.

    Shape:
        probs: ``(*)``.
        target: ``(*)``, the same shape.
    """
    _core.check_reduction(reduction)
    _core.check_pair(probs, target, ("probs", "target"))
    w = _core.check_broadcast_weight(weight, probs.shape, "weight", probs)
    _core.check_unit_interval(probs, "probs")
    _core.check_unit_interval(target, "target")
    return F.binary_cross_entropy(probs, target, weight=w, reduction=_core.empty_safe(reduction, probs.numel()))


def binary_cross_entropy_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    pos_weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary cross-entropy computed from logits: sigmoid and log loss in one stable step.

    Per element, with logit :math:`x`, :math:`\sigma` the sigmoid and
    positive-class weight :math:`w_+` (default 1),

    .. math:: \ell(x, t) = -w\,\big(w_+\, t \log\sigma(x) + (1 - t)\log(1 - \sigma(x))\big),

    evaluated as :math:`w\,\big(w_+ t\,\operatorname{softplus}(-x) + (1-t)\operatorname{softplus}(x)\big)`,
    which never takes the log of 0. Without weights the gradient is
    :math:`\sigma(x) - t`. ``pos_weight`` > 1 raises recall of the positive
    class (one weight per class in a multi-label problem, along the last
    dimension).

    Matches :func:`torch.nn.functional.binary_cross_entropy_with_logits`.

    Value checks (on by default) read ``target`` once more, and on a GPU wait
    for the device; the benchmarks appendix gives the measured time against
    the peer with checks on and off.

    Args:
        logits: logits :math:`x`.
        target: targets :math:`t` in [0, 1], the same shape.
        weight: rescales each element; broadcasts to ``logits``' shape.
        pos_weight: weight of positive examples; broadcasts to ``logits``' shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per element).

    Returns:
        A scalar, or for ``"none"`` a tensor of ``logits``' shape.

    Shape:
        logits: ``(*)``, e.g. ``(N, C)`` for C independent labels.
        target: ``(*)``, the same shape.
    """
    _core.check_reduction(reduction)
    _core.check_pair(logits, target, ("logits", "target"))
    w = _core.check_broadcast_weight(weight, logits.shape, "weight", logits)
    pw = _core.check_broadcast_weight(pos_weight, logits.shape, "pos_weight", logits)
    _core.check_unit_interval(target, "target")
    return F.binary_cross_entropy_with_logits(
        logits, target, weight=w, pos_weight=pw, reduction=_core.empty_safe(reduction, logits.numel())
    )


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

    Value checks (on by default) read ``target`` once more, and on a GPU wait
    for the device; the benchmarks appendix gives the measured time against
    the peer with checks on and off.

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
        # log(1 - p_t) = log(p (1 - t) + (1 - p) t), as a log-sum-exp of logs
        log_1m_pt = _logaddexp(log_p + torch.log1p(-target), log_1mp + torch.log(target))
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
        wrt = [x for x, need in zip((logits, target), ctx.needs_input_grad[:2]) if need]
        with torch.enable_grad():
            loss = _focal_autograd(logits, target, ctx.alpha, ctx.gamma)
        grads = iter(torch.autograd.grad(loss, wrt, grad, create_graph=torch.is_grad_enabled()))
        return tuple(next(grads) if need else None for need in ctx.needs_input_grad[:2]) + (None, None)


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
    :math:`\log p_y` comes from ``log_softmax`` and
    :math:`\log(1 - p_y) = \operatorname{logsumexp}_{c \ne y} z_c - \operatorname{logsumexp}_c z_c`,
    so confident predictions give finite values and gradients for any
    :math:`\gamma \ge 0`.

    PyTorch has no built-in; the tests compare with a float64 evaluation of
    the formula.

    Value checks (on by default) read the class indices once more, and on a
    GPU wait for the device; the benchmarks appendix gives the measured time
    against the peer with checks on and off.

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
    """
    _core.check_reduction(reduction)
    c = _core.num_classes(logits, "logits")
    if c < 2:
        raise ValueError(f"logits must have at least 2 classes for softmax_focal, got {c}")
    _, gamma = _alpha_gamma(None, gamma)
    w = _core.check_class_weight(weight, logits)
    _core.check_index_target(logits, target, "logits")
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
    summed over the other classes (no cancellation), :math:`\log p_y` from
    ``log_softmax`` or, where :math:`q < 1/2`, as :math:`\operatorname{log1p}(-q)`
    (exact for a confident prediction),

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
        log_p = F.log_softmax(logits, dim=1)
        log_p_y = log_p.gather(1, idx).squeeze(1)
        p = log_p.exp_()
        p_y = p.gather(1, idx).squeeze(1)
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
            with torch.enable_grad():
                loss = _softmax_focal_autograd(logits, target, ctx.gamma, w)
            (g,) = torch.autograd.grad(loss, logits, grad, create_graph=True)
            return g, None, None, None
        gs = (grad * s).unsqueeze(1)
        g = torch.mul(p, gs.neg()).scatter_add_(1, target.unsqueeze(1), gs)
        return g, None, None, None


# --------------------------------------------------------------------------
# Margin losses (scores, not probabilities)


def hinge(
    scores: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary hinge loss on real-valued scores, labels in {-1, +1}.

    Per element, with score :math:`s` and label :math:`t \in \{-1, +1\}`,

    .. math:: \ell(s, t) = \max(0,\ m - t\,s), \qquad
        \frac{\partial \ell}{\partial s} = -t\ \text{ if } t s < m \text{ else } 0 .

    Zero once an example is on the right side with margin :math:`m`; linear
    in how far it is on the wrong side. It works on any model's scores,
    linear or not (the SVM is the linear case with an L2 penalty).

    PyTorch has no binary hinge on scores (``hinge_embedding_loss`` is a
    different loss, on distances); the tests compare with a float64
    evaluation of the formula.

    Value checks (on by default) read the labels once more, and on a GPU wait
    for the device; the benchmarks appendix gives the measured time against
    the peer with checks on and off.

    Args:
        scores: real-valued scores :math:`s` (not probabilities).
        target: labels :math:`t`, -1 or +1, the same shape and dtype.
        margin: :math:`m \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per element).

    Returns:
        A scalar, or for ``"none"`` a tensor of ``scores``' shape.

    Shape:
        scores: ``(*)``.
        target: ``(*)``, the same shape.

    References:
        C. Cortes and V. Vapnik, "Support-Vector Networks", Machine Learning
        20, 1995.
    """
    _core.check_reduction(reduction)
    margin = _core.check_nonnegative(margin, "margin")
    _core.check_pair(scores, target, ("scores", "target"))
    _core.check_signs(target)
    return _core.reduce(F.relu(margin - target * scores), reduction)


def multiclass_hinge(
    scores: torch.Tensor,
    target: torch.Tensor,
    *,
    margin: float = 1.0,
    p: int = 1,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Multi-class hinge loss (Weston–Watkins), averaged over classes.

    Per sample, with scores :math:`s \in \mathbb{R}^C`, true class :math:`y`
    and class weights :math:`w`,

    .. math:: \ell(s, y) = \frac{1}{C}\sum_{c \ne y} w_y \max(0,\ m - s_y + s_c)^{p} .

    Every wrong class whose score comes within :math:`m` of the true one
    adds to the loss. ``"mean"`` is the plain mean over samples (as in
    PyTorch: the weight scales each sample's loss but is not a weighted
    mean).

    Matches :func:`torch.nn.functional.multi_margin_loss` (same defaults).

    Value checks (on by default) read the class indices once more, and on a
    GPU wait for the device; the benchmarks appendix gives the measured time
    against the peer with checks on and off.

    Args:
        scores: class scores :math:`s`.
        target: class indices.
        margin: :math:`m \ge 0`.
        p: 1 or 2.
        weight: per-class weights, shape ``(C,)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        scores: ``(N, C)``.
        target: ``(N,)``.

    References:
        J. Weston and C. Watkins, "Support Vector Machines for Multi-Class
        Pattern Recognition", ESANN 1999.
    """
    _core.check_reduction(reduction)
    _core.num_classes(scores, "scores")
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (N, C), got {tuple(scores.shape)}")
    margin = _core.check_nonnegative(margin, "margin")
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    w = _core.check_class_weight(weight, scores)
    _core.check_index_target(scores, target, "scores")
    if scores.shape[0] == 0 and reduction != "none":
        return scores.sum()  # PyTorch's kernel returns uninitialised memory here
    return F.multi_margin_loss(scores, target, p=p, margin=margin, weight=w, reduction=reduction)
