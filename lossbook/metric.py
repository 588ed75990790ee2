r"""Metric-learning losses: shape an embedding space with distances.

Embeddings are rows: ``(N, D)``, one ``D``-dimensional vector per sample.
``reduction="none"`` gives one value per sample (per triplet or pair).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _core

__all__ = ["triplet", "contrastive"]


def _embeddings(*named: tuple[str, object]) -> None:
    """Check ``(N, D)`` floating embeddings of one shape, dtype and device."""
    first_name, first = named[0]
    _core.check_tensor(first, first_name)
    if first.dim() != 2:
        raise ValueError(f"{first_name} must have shape (N, D), got {tuple(first.shape)}")
    for name, other in named[1:]:
        _core.check_pair(first, other, (first_name, name))


def triplet(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Triplet margin loss: the negative must be farther than the positive, by a margin.

    Per triplet, with :math:`d(u, v) = \lVert u - v + \epsilon \rVert_p`,

    .. math:: \ell(a, p, n) = \max\big(0,\ d(a, p) - d(a, n) + m\big).

    The anchor :math:`a` and the positive :math:`p` share an identity (the
    same person, the same class); the negative :math:`n` has a *different*
    one. The loss is zero once the negative is at least :math:`m` farther
    from the anchor than the positive, so easy triplets contribute nothing
    and mining informative (semi-hard, hard) triplets matters. With
    ``swap=True`` the distance from the positive to the negative replaces
    :math:`d(a, n)` when it is smaller (Balntas et al. 2016).

    Matches :func:`torch.nn.functional.triplet_margin_loss` (same defaults;
    lossbook calls it). An empty batch gives 0, not NaN.

    Args:
        anchor: anchor embeddings.
        positive: embeddings of the same identity as the anchor.
        negative: embeddings of a different identity.
        margin: :math:`m > 0` (PyTorch refuses a margin of 0).
        p: the norm's order, > 0.
        eps: added to the difference before the norm (as in PyTorch), >= 0.
        swap: use the distance swap.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per triplet).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        anchor: ``(N, D)``.
        positive: ``(N, D)``.
        negative: ``(N, D)``.

    References:
        F. Schroff, D. Kalenichenko and J. Philbin, "FaceNet: A Unified
        Embedding for Face Recognition and Clustering", CVPR 2015;
        K. Q. Weinberger and L. K. Saul, "Distance Metric Learning for Large
        Margin Nearest Neighbor Classification", JMLR 10, 2009.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> a, p, n = torch.zeros(1, 2), torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 1.5]])
        >>> round(lossbook.triplet(a, p, n).item(), 4)  # 1 + d(a, p) - d(a, n)
        0.5
        >>> torch.equal(lossbook.triplet(a, p, n), F.triplet_margin_loss(a, p, n))
        True
    """
    _core.check_reduction(reduction)
    margin = _core.check_positive(margin, "margin")  # F.triplet_margin_loss raises for margin <= 0
    p = _core.check_positive(p, "p")
    eps = _core.check_nonnegative(eps, "eps")
    if not isinstance(swap, bool):
        raise TypeError(f"swap must be a bool, got {type(swap).__name__}")
    _embeddings(("anchor", anchor), ("positive", positive), ("negative", negative))
    return F.triplet_margin_loss(
        anchor, positive, negative, margin=margin, p=p, eps=eps, swap=swap,
        reduction=_core.kernel_reduction(reduction, anchor.shape[0]),
    )


@_core.float32_under_autocast
def contrastive(
    x1: torch.Tensor,
    x2: torch.Tensor,
    similar: torch.Tensor,
    *,
    margin: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Contrastive loss on pairs: pull similar pairs together, push others past a margin.

    Per pair, with :math:`d = \lVert x_1 - x_2 \rVert_2` and
    :math:`s \in \{0, 1\}` (1 for a similar pair),

    .. math:: \ell = s\, d^2 + (1 - s)\max(0,\ m - d)^2 .

    Similar pairs are pulled together however close they already are;
    dissimilar pairs are pushed apart only until they are :math:`m` apart.
    This is Hadsell, Chopra and LeCun's loss without its factor
    :math:`\tfrac12`. Identical embeddings give finite gradients (0 for
    both kinds of pair).

    No PyTorch counterpart; it equals ``s * d**2 + (1 - s) * torch.clamp(margin - d, min=0)**2``
    with ``d = torch.linalg.vector_norm(x1 - x2, dim=1)``, reduced as asked.

    Value checks (on by default) read ``similar``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        x1: first embeddings of the pairs.
        x2: second embeddings, the same shape.
        similar: 1 for a similar pair, 0 for a dissimilar one (float of the
            embeddings' dtype, or bool).
        margin: :math:`m \ge 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pair).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        x1: ``(N, D)``.
        x2: ``(N, D)``.
        similar: ``(N,)``.

    References:
        R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by
        Learning an Invariant Mapping", CVPR 2006.

    Example:
        >>> import torch
        >>> import lossbook
        >>> x1, x2 = torch.zeros(2, 2), torch.tensor([[3.0, 4.0], [0.0, 0.5]])
        >>> lossbook.contrastive(x1, x2, torch.tensor([1.0, 0.0]), reduction="none")
        tensor([25.0000,  0.2500])
    """
    _core.check_reduction(reduction)
    margin = _core.check_nonnegative(margin, "margin")
    _embeddings(("x1", x1), ("x2", x2))
    _core.check_tensor(similar, "similar", floating=False)
    if similar.dtype == torch.bool:
        similar = similar.to(x1.dtype)
    elif similar.dtype != x1.dtype:
        raise TypeError(f"similar must be bool or {x1.dtype} like x1, got {similar.dtype}")
    _core.check_same_device(similar, x1, ("x1", "similar"))
    if similar.shape != x1.shape[:1]:
        raise ValueError(f"similar must have shape ({x1.shape[0]},), one per pair, got {tuple(similar.shape)}")
    _core.check_binary(similar, "similar")
    distance = torch.linalg.vector_norm(x1 - x2, dim=1)  # its gradient at 0 is 0, not NaN
    loss = similar * distance.square() + (1 - similar) * F.relu(margin - distance).square()
    return _core.reduce(loss, reduction)
