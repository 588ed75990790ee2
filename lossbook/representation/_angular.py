r"""Angular-margin classification losses for embeddings: ArcFace and CosFace (private)."""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .. import _core
from ._common import embeddings, labels_of, similarity

__all__ = ["arcface", "cosface", "ArcFace", "CosFace"]


def _cosines(embeddings_: torch.Tensor, weight: object, labels: object):
    """Checked inputs; the ``(N, C)`` cosines, the target's cosine ``(N, 1)`` and its one-hot mask."""
    embeddings(("embeddings", embeddings_))
    _core.check_tensor(weight, "weight")
    d = embeddings_.shape[1]
    if weight.dim() != 2 or weight.shape[1] != d:
        raise ValueError(f"weight must have shape (C, {d}), one row per class, got {tuple(weight.shape)}")
    _core.check_same_dtype(weight, embeddings_, ("embeddings", "weight"))
    _core.check_same_device(weight, embeddings_, ("embeddings", "weight"))
    c = weight.shape[0]
    labels_of(labels, embeddings_, "embeddings", num_classes=c)
    cos = similarity(F.normalize(embeddings_, dim=1), F.normalize(weight, dim=1))
    # a mask, not gather/one_hot: with the value checks off a bad label reaches cross_entropy, which refuses it
    hot = labels[:, None] == torch.arange(c, device=labels.device)[None, :]
    return cos, torch.where(hot, cos, 0).sum(1, keepdim=True), hot


def _margined(scale: float, cos: torch.Tensor, target: torch.Tensor, hot: torch.Tensor, labels, reduction):
    logits = scale * torch.where(hot, target, cos)
    return _core.reduce(F.cross_entropy(logits, labels, reduction="none"), reduction)


@_core.float32_under_autocast
def arcface(
    embeddings: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""ArcFace: cross-entropy of scaled cosines, with an additive angular margin on the target class.

    With :math:`\cos\theta_{ic}` the cosine of embedding :math:`i` and class
    centre :math:`W_c` (both L2-normalised), :math:`y_i` its class, scale
    :math:`s` and margin :math:`m`, per sample

    .. math::
        \ell_i = -\log \frac{e^{s\,\psi(\theta_{iy_i})}}
        {e^{s\,\psi(\theta_{iy_i})} + \sum_{c \ne y_i} e^{s\cos\theta_{ic}}} ,
        \qquad \psi(\theta) = \begin{cases} \cos(\theta + m) & \theta + m \le \pi \\
        \cos\theta - m \sin m & \theta + m > \pi \end{cases}

    The fallback keeps :math:`\psi` decreasing where :math:`\cos(\theta + m)`
    would turn back up (the paper's code does the same; Deng et al. 2019).
    :math:`\cos(\theta + m)` is computed as :math:`\cos\theta\cos m - \sin\theta\sin m`
    with :math:`\sin\theta = \sqrt{1 - \cos^2\theta}` kept above the dtype's
    machine epsilon, so an embedding on its class centre has a finite gradient.
    With ``margin=0`` it is the cross-entropy of ``scale * cos``.

    No PyTorch counterpart; it equals ``F.cross_entropy(scale * logits, labels)`` with ``logits`` the
    cosines ``F.normalize(embeddings) @ F.normalize(weight).T`` and the target's replaced by
    :math:`\psi`.

    Value checks (on by default) read ``labels``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        embeddings: the embeddings.
        weight: one centre per class (the last layer's weight; see :class:`ArcFace`).
        labels: the class of each embedding, int64 in ``[0, C)``.
        scale: :math:`s > 0`.
        margin: :math:`m \in [0, \pi/2]`, in radians.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        embeddings: ``(N, D)``.
        weight: ``(C, D)``.
        labels: ``(N,)``.

    References:
        J. Deng, J. Guo, N. Xue and S. Zafeiriou, "ArcFace: Additive Angular
        Margin Loss for Deep Face Recognition", CVPR 2019.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> e = torch.tensor([[1.0, 1.0]])  # 45 degrees from both centres
        >>> got = lossbook.arcface(e, w, torch.tensor([0]), scale=1.0, margin=math.pi / 4)
        >>> # target cos(pi/4 + pi/4) = 0, the other cos(pi/4): log(1 + e^{cos(pi/4)})
        >>> round(got.item(), 4), round(math.log(1 + math.exp(math.cos(math.pi / 4))), 4)
        (1.1079, 1.1079)
    """
    _core.check_reduction(reduction)
    scale = _core.check_positive(scale, "scale")
    margin = _core.check_nonnegative(margin, "margin")
    if not margin <= math.pi / 2:
        raise ValueError(f"margin must be in [0, pi/2] (radians), got {margin}")
    cos, c, hot = _cosines(embeddings, weight, labels)
    sin = torch.sqrt((1 - c * c).clamp_min(torch.finfo(c.dtype).eps))
    psi = c * math.cos(margin) - sin * math.sin(margin)
    psi = torch.where(c > math.cos(math.pi - margin), psi, c - margin * math.sin(margin))
    return _margined(scale, cos, psi, hot, labels, reduction)


@_core.float32_under_autocast
def cosface(
    embeddings: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    scale: float = 64.0,
    margin: float = 0.35,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""CosFace: cross-entropy of scaled cosines, with the margin subtracted from the target's cosine.

    With :math:`\cos\theta_{ic}` the cosine of embedding :math:`i` and class
    centre :math:`W_c` (both L2-normalised), :math:`y_i` its class, scale
    :math:`s` and margin :math:`m`, per sample (the large margin cosine loss)

    .. math::
        \ell_i = -\log \frac{e^{s(\cos\theta_{iy_i} - m)}}
        {e^{s(\cos\theta_{iy_i} - m)} + \sum_{c \ne y_i} e^{s\cos\theta_{ic}}} .

    The target must beat every other class by :math:`m` in cosine, not in
    angle as in :func:`arcface`. With ``margin=0`` it is the cross-entropy
    of ``scale * cos`` (a normalised softmax).

    No PyTorch counterpart; it equals
    ``F.cross_entropy(scale * (cos - margin * F.one_hot(labels, C)), labels)`` with
    ``cos = F.normalize(embeddings) @ F.normalize(weight).T``.

    Value checks (on by default) read ``labels``;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        embeddings: the embeddings.
        weight: one centre per class (see :class:`CosFace`).
        labels: the class of each embedding, int64 in ``[0, C)``.
        scale: :math:`s > 0`.
        margin: :math:`m \in [0, 2]`, in cosine.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        embeddings: ``(N, D)``.
        weight: ``(C, D)``.
        labels: ``(N,)``.

    References:
        H. Wang, Y. Wang, Z. Zhou, X. Ji, D. Gong, J. Zhou, Z. Li and W. Liu,
        "CosFace: Large Margin Cosine Loss for Deep Face Recognition", CVPR 2018.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> e = torch.tensor([[1.0, 0.0]])  # on its class centre: cos 1, the other cos 0
        >>> got = lossbook.cosface(e, w, torch.tensor([0]), scale=1.0, margin=0.5)
        >>> round(got.item(), 4), round(math.log(1 + math.exp(-0.5)), 4)  # -log(e^0.5 / (e^0.5 + 1))
        (0.4741, 0.4741)
    """
    _core.check_reduction(reduction)
    scale = _core.check_positive(scale, "scale")
    margin = _core.check_nonnegative(margin, "margin")
    if not margin <= 2:
        raise ValueError(f"margin must be in [0, 2], got {margin}")
    cos, c, hot = _cosines(embeddings, weight, labels)
    return _margined(scale, cos, c - margin, hot, labels, reduction)


class _Margin(nn.Module):
    _loss = staticmethod(arcface)

    def __init__(self, num_classes: int, dim: int, *, scale: float, margin: float, device=None, dtype=None) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        # check scale and margin now, with the loss's own messages
        self._loss(torch.zeros(0, 1), torch.zeros(1, 1), torch.zeros(0, dtype=torch.int64), scale=scale, margin=margin)
        self.num_classes, self.dim, self.scale, self.margin = int(num_classes), int(dim), float(scale), float(margin)
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.dim, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the class centres from N(0, 0.01^2) (the scale does not matter: they are normalised)."""
        nn.init.normal_(self.weight, std=0.01)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        return self._loss(embeddings, self.weight, labels, scale=self.scale, margin=self.margin, reduction=reduction)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, dim={self.dim}, scale={self.scale:g}, margin={self.margin:g}"


class ArcFace(_Margin):
    r"""ArcFace as a layer: it holds the class centres ``weight`` and returns :func:`arcface`.

    No PyTorch counterpart; ``ArcFace(C, D)(embeddings, labels)`` equals
    ``arcface(embeddings, module.weight, labels, scale=scale, margin=margin)``.

    Args:
        num_classes: :math:`C`, the number of classes (identities).
        dim: :math:`D`, the embedding width.
        scale: :math:`s > 0`.
        margin: :math:`m \in [0, \pi/2]`.
        device, dtype: where and in which dtype to create ``weight``.

    Shape:
        forward(embeddings, labels, reduction="mean"): embeddings of shape ``(N, D)``
        and int64 labels of shape ``(N,)``; returns a scalar, or for ``"none"`` a
        tensor of shape ``(N,)``.

    References:
        J. Deng, J. Guo, N. Xue and S. Zafeiriou, "ArcFace: Additive Angular
        Margin Loss for Deep Face Recognition", CVPR 2019.

    Example:
        >>> import torch
        >>> import lossbook
        >>> head = lossbook.ArcFace(10, 3)
        >>> head.weight.shape
        torch.Size([10, 3])
        >>> bool(head(torch.randn(4, 3), torch.tensor([0, 1, 2, 9])) > 0)
        True
    """

    _loss = staticmethod(arcface)

    def __init__(self, num_classes: int, dim: int, *, scale: float = 64.0, margin: float = 0.5,
                 device=None, dtype=None) -> None:
        super().__init__(num_classes, dim, scale=scale, margin=margin, device=device, dtype=dtype)


class CosFace(_Margin):
    r"""CosFace as a layer: it holds the class centres ``weight`` and returns :func:`cosface`.

    No PyTorch counterpart; ``CosFace(C, D)(embeddings, labels)`` equals
    ``cosface(embeddings, module.weight, labels, scale=scale, margin=margin)``.

    Args:
        num_classes: :math:`C`, the number of classes (identities).
        dim: :math:`D`, the embedding width.
        scale: :math:`s > 0`.
        margin: :math:`m \in [0, 2]`.
        device, dtype: where and in which dtype to create ``weight``.

    Shape:
        forward(embeddings, labels, reduction="mean"): embeddings of shape ``(N, D)``
        and int64 labels of shape ``(N,)``; returns a scalar, or for ``"none"`` a
        tensor of shape ``(N,)``.

    References:
        H. Wang, Y. Wang, Z. Zhou et al., "CosFace: Large Margin Cosine Loss
        for Deep Face Recognition", CVPR 2018.

    Example:
        >>> import torch
        >>> import lossbook
        >>> head = lossbook.CosFace(10, 3, scale=30.0)
        >>> head
        CosFace(num_classes=10, dim=3, scale=30, margin=0.35)
    """

    _loss = staticmethod(cosface)

    def __init__(self, num_classes: int, dim: int, *, scale: float = 64.0, margin: float = 0.35,
                 device=None, dtype=None) -> None:
        super().__init__(num_classes, dim, scale=scale, margin=margin, device=device, dtype=dtype)
