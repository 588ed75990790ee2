"""Helpers on logits: ``z_loss``, ``softcap`` and ``perplexity``."""

from __future__ import annotations

import torch

from .. import _core
from ..classification import cross_entropy


@_core.float32_under_autocast
def z_loss(logits: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Z-loss: the squared log-normaliser of the softmax, which pulls it towards 0.

    Per sample, with logits :math:`z` over :math:`C` classes,

    .. math:: \ell(z) = \Big(\log \sum_c e^{z_c}\Big)^2 .

    Softmax is unchanged when a constant is added to every logit, so
    cross-entropy leaves the log-normaliser free to drift; in half precision
    a large one loses the logits' resolution. PaLM adds
    :math:`10^{-4}\,\ell` to the loss to keep it near 0. Its gradient is
    :math:`2 \log Z \cdot \operatorname{softmax}(z)`. ``"mean"`` averages
    over samples (and further dimensions), ``"sum"`` adds them.

    No PyTorch counterpart; it equals ``torch.logsumexp(logits, dim=1) ** 2``.

    Args:
        logits: unnormalised class scores :math:`z`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N, d1, ...)``.

    Shape:
        logits: ``(N, C)`` or ``(N, C, d1, ...)``.

    References:
        A. Chowdhery et al., "PaLM: Scaling Language Modeling with
        Pathways", JMLR 24(240), 2023 (arXiv:2204.02311, 2022), §5.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> logits = torch.zeros(2, 4)
        >>> lossbook.z_loss(logits, reduction="none")  # (log 4) ** 2 each
        tensor([1.9218, 1.9218])
        >>> math.isclose(lossbook.z_loss(logits).item(), math.log(4) ** 2, rel_tol=1e-6)
        True
    """
    _core.check_reduction(reduction)
    _core.num_classes(logits, "logits")
    return _core.reduce(torch.logsumexp(logits, dim=1).square(), reduction)


def softcap(logits: torch.Tensor, cap: float) -> torch.Tensor:
    r"""Soft-capping: squash logits smoothly into :math:`(-c, c)` with :math:`c \tanh(z / c)`.

    Near 0 it is the identity (slope 1), and no logit can pass :math:`\pm c`,
    so neither can the log-normaliser run away; Gemma 2 caps its final
    logits at :math:`c = 30`. Element-wise, any shape.

    Args:
        logits: any tensor of logits.
        cap: :math:`c > 0`.

    Returns:
        A tensor of ``logits``' shape, dtype and device.

    References:
        Gemma Team, "Gemma 2: Improving Open Language Models at a Practical
        Size", arXiv:2408.00118, 2024.

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.softcap(torch.tensor([0.0, 1.0, 100.0]), 30.0)
        tensor([ 0.0000,  0.9996, 29.9237])
    """
    _core.check_tensor(logits, "logits")
    c = _core.check_positive(cap, "cap")
    return c * torch.tanh(logits / c)


def perplexity(logits: torch.Tensor, target: torch.Tensor, *, ignore_index: int = -100) -> torch.Tensor:
    r"""Perplexity: the exponential of the mean cross-entropy, the model's effective number of choices.

    .. math:: \mathrm{PPL} = \exp\Big(\frac{1}{|\mathcal{I}|}\sum_{i \in \mathcal{I}} -\log p_{i, y_i}\Big),

    over the tokens :math:`\mathcal{I}` whose target is not ``ignore_index``
    (1 when none count). A uniform guess over :math:`V` classes has
    perplexity :math:`V`; a perfect model has 1. It is a metric, not a loss
    to train on: minimising it minimises the cross-entropy.

    Args:
        logits: class scores, ``(N, C)`` or ``(N, C, d1, ...)``.
        target: class indices, ``(N, d1, ...)``.
        ignore_index: target value that is not counted.

    Returns:
        A scalar, in ``logits``' dtype.

    References:
        F. Jelinek et al., "Perplexity — a measure of the difficulty of
        speech recognition tasks", JASA 62(S1), 1977.

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.perplexity(torch.zeros(3, 5), torch.tensor([0, 4, -100]))  # uniform over 5
        tensor(5.)
    """
    return torch.exp(cross_entropy(logits, target, ignore_index=ignore_index))
