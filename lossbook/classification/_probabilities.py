"""Cross-entropy and its family: the softmax losses (``cross_entropy``, ``nll``,
``kl_divergence``) and the sigmoid ones (``binary_cross_entropy``,
``binary_cross_entropy_with_logits``). Public through :mod:`lossbook.classification`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _core


# --------------------------------------------------------------------------
# Softmax family


@_core.float32_under_autocast
def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    normalizer: float | torch.Tensor | None = None,
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
    ``ignore_index``, as in PyTorch also for weights of any sign; if none
    count (or the weights cancel to 0), lossbook returns the undivided sum, 0
    when none count, where PyTorch returns NaN. Computed by the log-sum-exp form (PyTorch's fused kernel), so large
    logits neither overflow nor give ``log(0)``.

    ``normalizer`` (with ``"mean"`` only) divides the (weighted) sum by the
    given number instead of the local denominator: under gradient
    accumulation or data parallelism, pass the count (or total weight) of
    the counted targets over all micro-batches and processes, so that each
    token weighs the same and the parts' losses add up to the whole batch's
    mean.

    Matches :func:`torch.nn.functional.cross_entropy` (same defaults).

    Value checks (on by default) read the class indices (or target
    probabilities); ``lossbook.set_value_checks(False)`` switches them
    off.

    Args:
        logits: unnormalised class scores :math:`z`.
        target: class indices (integer) or class probabilities (float, the
            logits' shape, values in [0, 1]).
        weight: per-class weights, shape ``(C,)``.
        ignore_index: index target value that contributes nothing.
        label_smoothing: :math:`\varepsilon` in [0, 1].
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        normalizer: with ``"mean"``, the divisor of the (weighted) sum in
            place of the local denominator: a number or a 0-d tensor, > 0.

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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> logits, target = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), torch.tensor([0, 1])
        >>> round(lossbook.cross_entropy(logits, target).item(), 4)
        0.3606
        >>> torch.equal(lossbook.cross_entropy(logits, target), F.cross_entropy(logits, target))
        True
    """
    _core.check_reduction(reduction)
    _core.num_classes(logits, "logits")
    w = _core.check_class_weight(weight, logits, "logits")
    eps = _core.check_nonnegative(label_smoothing, "label_smoothing")
    if eps > 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    norm = _core.check_normalizer(normalizer, reduction)
    if isinstance(target, torch.Tensor) and target.is_floating_point():
        _core.check_pair(logits, target, ("logits", "target"))
        _core.check_unit_interval(target, "target")
        if norm is not None:
            total = F.cross_entropy(logits, target, weight=w, label_smoothing=eps, reduction="sum")
            return _core.divide_by_normalizer(total, norm)
        return F.cross_entropy(
            logits, target, weight=w, label_smoothing=eps,
            reduction=_core.kernel_reduction(reduction, target.numel()),
        )
    _core.check_index_target(logits, target, "logits", ignore_index)
    kw = dict(weight=w, ignore_index=ignore_index, label_smoothing=eps)
    if norm is not None:
        return _core.divide_by_normalizer(F.cross_entropy(logits, target, reduction="sum", **kw), norm)
    if reduction != "mean":
        return F.cross_entropy(logits, target, reduction=reduction, **kw)
    if eps == 0:
        return _core.nll_mean(F.log_softmax(logits, dim=1), target, w, ignore_index)
    total = F.cross_entropy(logits, target, reduction="sum", **kw)
    return _core.mean_over_targets(total, target, w, ignore_index)


@_core.float32_under_autocast
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

    Value checks (on by default) read the class indices;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    References:
        R. A. Fisher, "On the Mathematical Foundations of Theoretical
        Statistics", Philosophical Transactions of the Royal Society A 222,
        1922 (maximum likelihood).

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> log_probs, target = torch.tensor([[-0.5, -1.0], [-2.0, -0.25]]), torch.tensor([0, 1])
        >>> lossbook.nll(log_probs, target)
        tensor(0.3750)
        >>> torch.equal(lossbook.nll(log_probs, target), F.nll_loss(log_probs, target))
        True
    """
    _core.check_reduction(reduction)
    _core.num_classes(log_probs, "log_probs")
    w = _core.check_class_weight(weight, log_probs, "log_probs")
    _core.check_index_target(log_probs, target, "log_probs", ignore_index)
    if reduction != "mean":
        return F.nll_loss(log_probs, target, weight=w, ignore_index=ignore_index, reduction=reduction)
    return _core.nll_mean(log_probs, target, w, ignore_index)


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

    Value checks (on by default) read ``target_probs``;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        >>> probs = torch.tensor([[0.5, 0.5], [0.25, 0.75]])
        >>> round(lossbook.kl_divergence(logits, probs).item(), 4)
        0.5323
        >>> expected = F.kl_div(F.log_softmax(logits, dim=1), probs, reduction="batchmean")
        >>> torch.allclose(lossbook.kl_divergence(logits, probs), expected)
        True
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

    Value checks (on by default) read ``probs`` and ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    References:
        D. R. Cox, "The Regression Analysis of Binary Sequences", Journal of
        the Royal Statistical Society B 20(2), 1958.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> probs, target = torch.tensor([0.5, 0.75]), torch.tensor([1.0, 0.0])
        >>> loss = lossbook.binary_cross_entropy(probs, target)
        >>> round(loss.item(), 4)
        1.0397
        >>> torch.equal(loss, F.binary_cross_entropy(probs, target))
        True
    """
    _core.check_reduction(reduction)
    _core.check_pair(probs, target, ("probs", "target"))
    w = _core.check_broadcast_weight(weight, probs.shape, "weight", probs, "probs")
    _core.check_unit_interval(probs, "probs")
    _core.check_unit_interval(target, "target")
    return F.binary_cross_entropy(probs, target, weight=w, reduction=_core.kernel_reduction(reduction, probs.numel()))


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

    Value checks (on by default) read ``target``;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    References:
        D. R. Cox, "The Regression Analysis of Binary Sequences", Journal of
        the Royal Statistical Society B 20(2), 1958.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> logits, target = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
        >>> loss = lossbook.binary_cross_entropy_with_logits(logits, target)
        >>> round(loss.item(), 4)
        1.41
        >>> torch.equal(loss, F.binary_cross_entropy_with_logits(logits, target))
        True
    """
    _core.check_reduction(reduction)
    _core.check_pair(logits, target, ("logits", "target"))
    w = _core.check_broadcast_weight(weight, logits.shape, "weight", logits, "logits")
    pw = _core.check_broadcast_weight(pos_weight, logits.shape, "pos_weight", logits, "logits")
    _core.check_unit_interval(target, "target")
    return F.binary_cross_entropy_with_logits(
        logits, target, weight=w, pos_weight=pw, reduction=_core.kernel_reduction(reduction, logits.numel())
    )
