r"""Box-regression losses of the IoU family.

Boxes are ``(N, 4)`` tensors of finite coordinates in ``(x1, y1, x2, y2)``
corner format with ``x1 <= x2`` and ``y1 <= y2`` (the value checks reject
other boxes): prediction first, target second, one loss per pair of rows.
``reduction`` defaults to ``"mean"`` (torchvision's box losses default to
``"none"``); the mean of an empty batch is a zero that still backpropagates,
as in torchvision. As in torchvision, float16 and bfloat16 boxes are
computed in float32 and the loss is float32 (its gradient reaches the
half-precision boxes in their dtype); float32 and float64 stay as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _core

__all__ = ["iou_loss", "giou_loss", "diou_loss", "ciou_loss"]

_EPS = 1e-7


def _first_box(bad: torch.Tensor) -> str:
    return f"a box {bad[0].tolist()}"


def _check_boxes(pred: object, target: object, eps: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    _core.check_pair(pred, target, ("pred", "target"))
    if pred.dim() != 2 or pred.shape[-1] != 4:
        raise ValueError(f"pred must have shape (N, 4) as (x1, y1, x2, y2), got {tuple(pred.shape)}")
    eps = _core.check_nonnegative(eps, "eps")
    if _core.value_checks_enabled():
        for name, boxes in (("pred", pred), ("target", target)):
            # comparisons with NaN are False, so the order test alone would let a NaN box through
            for valid, expected in (
                (torch.isfinite(boxes).all(1), "have finite coordinates"),
                ((boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1]), "have x2 >= x1 and y2 >= y1"),
            ):
                _core.require_values(valid, boxes, f"{name} boxes", expected, got=_first_box)
    # torchvision's _upcast_non_float: half-precision areas and ratios lose too much
    if pred.dtype in (torch.float16, torch.bfloat16):
        pred, target = pred.float(), target.float()
    return pred, target, eps


def _iou_terms(pred: torch.Tensor, target: torch.Tensor, eps: float):
    """IoU, and the corners of the smallest enclosing box."""
    x1, y1, x2, y2 = pred.unbind(-1)
    u1, v1, u2, v2 = target.unbind(-1)
    # relu has gradient 0 at 0, so touching boxes behave like torchvision's strict mask
    inter = F.relu(torch.minimum(x2, u2) - torch.maximum(x1, u1)) * F.relu(
        torch.minimum(y2, v2) - torch.maximum(y1, v1)
    )
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    iou = inter / (union + eps)
    enclosing = (torch.minimum(x1, u1), torch.minimum(y1, v1), torch.maximum(x2, u2), torch.maximum(y2, v2))
    return iou, union, enclosing


def _centre_distance(pred: torch.Tensor, target: torch.Tensor, enclosing, eps: float) -> torch.Tensor:
    """Squared centre distance over the squared diagonal of the enclosing box."""
    c1, d1, c2, d2 = enclosing
    diagonal = (c2 - c1) ** 2 + (d2 - d1) ** 2 + eps
    centre = (pred[:, :2] + pred[:, 2:]) / 2 - (target[:, :2] + target[:, 2:]) / 2
    return (centre**2).sum(-1) / diagonal


def iou_loss(
    pred: torch.Tensor, target: torch.Tensor, *, eps: float = _EPS, reduction: str = "mean"
) -> torch.Tensor:
    r"""IoU loss: one minus the intersection over union of two boxes.

    .. math:: \ell = 1 - \mathrm{IoU}, \qquad
        \mathrm{IoU} = \frac{|B \cap B^{gt}|}{|B \cup B^{gt}| + \epsilon}.

    Scale-invariant, and it measures what detection is scored by. Its flaw:
    for disjoint boxes the intersection is 0 whatever their distance, so the
    loss is 1 and its gradient 0 — a prediction that misses gets no signal
    about which way to move. GIoU, DIoU and CIoU add terms that fix this.

    No PyTorch counterpart (torchvision's ``box_iou`` gives the pairwise
    matrix); it equals ``1 - diag(box_iou(pred, target))`` with ``eps`` in the
    denominator.

    Value checks (on by default) read both sets of boxes;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        pred: predicted boxes.
        target: target boxes.
        eps: added to the union, >= 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per box).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        pred: ``(N, 4)`` as ``(x1, y1, x2, y2)``.
        target: ``(N, 4)``.

    References:
        J. Yu, Y. Jiang, Z. Wang, Z. Cao and T. Huang, "UnitBox: An Advanced
        Object Detection Network", ACM Multimedia 2016.

    Example:
        >>> import torch
        >>> import lossbook
        >>> pred, target = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
        >>> round(lossbook.iou_loss(pred, target).item(), 4)  # 1 - 1/7
        0.8571
    """
    _core.check_reduction(reduction)
    pred, target, eps = _check_boxes(pred, target, eps)
    iou, _, _ = _iou_terms(pred, target, eps)
    return _core.reduce(1 - iou, reduction)


def giou_loss(
    pred: torch.Tensor, target: torch.Tensor, *, eps: float = _EPS, reduction: str = "mean"
) -> torch.Tensor:
    r"""Generalized IoU loss: IoU minus the empty share of the enclosing box.

    With :math:`C` the smallest box enclosing both,

    .. math:: \ell = 1 - \mathrm{IoU} + \frac{|C| - |B \cup B^{gt}|}{|C| + \epsilon}.

    For disjoint boxes the penalty grows as they move apart, so the loss
    still has a gradient; it lies in [0, 2).

    Matches torchvision's ``generalized_box_iou_loss`` (same ``eps``).

    Value checks (on by default) read both sets of boxes;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        pred: predicted boxes.
        target: target boxes.
        eps: added to denominators, >= 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per box).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        pred: ``(N, 4)`` as ``(x1, y1, x2, y2)``.
        target: ``(N, 4)``.

    References:
        H. Rezatofighi, N. Tsoi, J. Gwak, A. Sadeghian, I. Reid and
        S. Savarese, "Generalized Intersection over Union", CVPR 2019.

    Example:
        >>> import torch
        >>> import lossbook
        >>> pred, target = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
        >>> round(lossbook.giou_loss(pred, target).item(), 4)  # 1 - 1/7 + 2/9
        1.0794
    """
    _core.check_reduction(reduction)
    pred, target, eps = _check_boxes(pred, target, eps)
    iou, union, (c1, d1, c2, d2) = _iou_terms(pred, target, eps)
    area_c = (c2 - c1) * (d2 - d1)
    return _core.reduce(1 - iou + (area_c - union) / (area_c + eps), reduction)


def diou_loss(
    pred: torch.Tensor, target: torch.Tensor, *, eps: float = _EPS, reduction: str = "mean"
) -> torch.Tensor:
    r"""Distance IoU loss: IoU loss plus the normalised distance between centres.

    With :math:`\rho` the distance between the boxes' centres and :math:`c`
    the diagonal of the enclosing box,

    .. math:: \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon}.

    The centre term pulls a prediction straight towards the target, which
    converges in fewer iterations than GIoU's area penalty (Zheng et al.).

    Matches torchvision's ``distance_box_iou_loss`` (same ``eps``).

    Value checks (on by default) read both sets of boxes;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        pred: predicted boxes.
        target: target boxes.
        eps: added to denominators, >= 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per box).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        pred: ``(N, 4)`` as ``(x1, y1, x2, y2)``.
        target: ``(N, 4)``.

    References:
        Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye and D. Ren, "Distance-IoU
        Loss: Faster and Better Learning for Bounding Box Regression",
        AAAI 2020.

    Example:
        >>> import torch
        >>> import lossbook
        >>> pred, target = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 3.0, 3.0]])
        >>> round(lossbook.diou_loss(pred, target).item(), 4)  # 1 - 1/7 + 2/18
        0.9683
    """
    _core.check_reduction(reduction)
    pred, target, eps = _check_boxes(pred, target, eps)
    iou, _, enclosing = _iou_terms(pred, target, eps)
    return _core.reduce(1 - iou + _centre_distance(pred, target, enclosing, eps), reduction)


def _aspect(boxes: torch.Tensor) -> torch.Tensor:
    """``atan(w / h)``, written as ``atan2(w, h)``: finite with a finite gradient when h = 0."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    point = (w == 0) & (h == 0)  # a box of zero size has no aspect ratio: take a square's
    one = torch.ones_like(w)
    return torch.where(point, math.pi / 4, torch.atan2(torch.where(point, one, w), torch.where(point, one, h)))


def ciou_loss(
    pred: torch.Tensor, target: torch.Tensor, *, eps: float = _EPS, reduction: str = "mean"
) -> torch.Tensor:
    r"""Complete IoU loss: DIoU loss plus a penalty on differing aspect ratios.

    .. math:: \ell = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon} + \alpha v,
        \qquad v = \frac{4}{\pi^2}\left(\arctan\frac{w^{gt}}{h^{gt}}
        - \arctan\frac{w}{h}\right)^2,

    with the trade-off :math:`\alpha = v / (1 - \mathrm{IoU} + v + \epsilon)`
    treated as a constant (no gradient flows through it), as in the paper's
    implementation.

    Matches torchvision's ``complete_box_iou_loss`` (same ``eps``). The
    arctangent is computed as ``atan2(w, h)``, equal to torchvision's
    ``atan(w / h)`` for boxes of positive height, but with a finite gradient
    for a box of zero height, where torchvision's is NaN.

    Value checks (on by default) read both sets of boxes;
    ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        pred: predicted boxes.
        target: target boxes.
        eps: added to denominators, >= 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per box).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        pred: ``(N, 4)`` as ``(x1, y1, x2, y2)``.
        target: ``(N, 4)``.

    References:
        Z. Zheng et al., "Distance-IoU Loss: Faster and Better Learning for
        Bounding Box Regression", AAAI 2020.

    Example:
        >>> import torch
        >>> import lossbook
        >>> pred, target = torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[1.0, 1.0, 4.0, 3.0]])
        >>> round(lossbook.ciou_loss(pred, target).item(), 4)
        1.0192
    """
    _core.check_reduction(reduction)
    pred, target, eps = _check_boxes(pred, target, eps)
    iou, _, enclosing = _iou_terms(pred, target, eps)
    v = (4 / math.pi**2) * (_aspect(target) - _aspect(pred)) ** 2
    with torch.no_grad():  # v = 0 needs no weight: alpha = 0, not 0/0 at a perfect box with eps = 0
        alpha = torch.where(v > 0, v / (1 - iou + v + eps), 0.0)
    return _core.reduce(1 - iou + _centre_distance(pred, target, enclosing, eps) + alpha * v, reduction)
