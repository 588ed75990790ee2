"""Margin losses on scores: ``hinge`` (binary) and ``multiclass_hinge``. Public
through :mod:`lossbook.classification`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _core


# --------------------------------------------------------------------------
# Margin losses (scores, not probabilities)


@_core.float32_under_autocast
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

    No PyTorch counterpart (``hinge_embedding_loss`` is a different loss, on
    distances); it equals ``torch.clamp(margin - target * scores, min=0)``,
    reduced as asked.

    Value checks (on by default) read the labels;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    Example:
        >>> import torch
        >>> import lossbook
        >>> scores, target = torch.tensor([2.0, 0.5, -0.5]), torch.tensor([1.0, -1.0, -1.0])
        >>> lossbook.hinge(scores, target, reduction="none")
        tensor([0.0000, 1.5000, 0.5000])
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

    Value checks (on by default) read the class indices;
    ``lossbook.set_value_checks(False)`` switches them off.

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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> scores, target = torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.0, 2.0]]), torch.tensor([0, 2])
        >>> lossbook.multiclass_hinge(scores, target)
        tensor(0.0833)
        >>> torch.equal(lossbook.multiclass_hinge(scores, target), F.multi_margin_loss(scores, target))
        True
    """
    _core.check_reduction(reduction)
    _core.num_classes(scores, "scores")
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (N, C), got {tuple(scores.shape)}")
    margin = _core.check_nonnegative(margin, "margin")
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    w = _core.check_class_weight(weight, scores, "scores")
    _core.check_index_target(scores, target, "scores")
    if scores.shape[0] == 0 and reduction != "none":
        return scores.sum()  # PyTorch's kernel returns uninitialised memory here
    return F.multi_margin_loss(scores, target, p=p, margin=margin, weight=w, reduction=reduction)
