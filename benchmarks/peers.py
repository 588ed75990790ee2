"""The peers: how a PyTorch (or torchvision) user computes the same loss.

A peer is PyTorch's built-in where it has the loss, torchvision's function
where torchvision has it and is installed, and otherwise the obvious
plain-torch expression of the formula. Where torchvision is not installed,
its sigmoid focal loss and box losses are replaced by the transcriptions
below: the same operations as torchvision 0.28's ``torchvision/ops``
(BSD-3-Clause, (c) Soumith Chintala 2016), without the API-usage logging,
so the benchmark compares against torchvision's arithmetic either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

try:  # torchvision is optional: only its CPU/GPU build matching torch is usable
    import torchvision  # noqa: F401
    from torchvision import ops as _tv_ops

    TORCHVISION = torchvision.__version__
except Exception:  # ImportError, or a build that does not match torch
    _tv_ops = None
    TORCHVISION = None


def _mean(loss: torch.Tensor) -> torch.Tensor:
    # torchvision's box losses: the mean, or a zero that backpropagates when empty
    return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()


# --------------------------------------------------------------------------
# torchvision 0.28 transcriptions (torchvision/ops/{focal,giou,diou,ciou}_loss.py, _utils.py)


def tv_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="mean"):
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss.mean() if reduction == "mean" else loss


def tv_loss_inter_union(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1 = torch.max(x1, x1g)
    ykis1 = torch.max(y1, y1g)
    xkis2 = torch.min(x2, x2g)
    ykis2 = torch.min(y2, y2g)
    intsctk = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def tv_generalized_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    intsctk, unionk = tv_loss_inter_union(boxes1, boxes2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    miouk = iouk - ((area_c - unionk) / (area_c + eps))
    loss = 1 - miouk
    return _mean(loss) if reduction == "mean" else loss


def _tv_diou_iou_loss(boxes1, boxes2, eps=1e-7):
    intsct, union = tv_loss_inter_union(boxes1, boxes2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    diagonal_distance_squared = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x_p = (x2 + x1) / 2
    y_p = (y2 + y1) / 2
    x_g = (x1g + x2g) / 2
    y_g = (y1g + y2g) / 2
    centers_distance_squared = ((x_p - x_g) ** 2) + ((y_p - y_g) ** 2)
    loss = 1 - iou + (centers_distance_squared / diagonal_distance_squared)
    return loss, iou


def tv_distance_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    loss, _ = _tv_diou_iou_loss(boxes1, boxes2, eps)
    return _mean(loss) if reduction == "mean" else loss


def tv_complete_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    diou_loss, iou = _tv_diou_iou_loss(boxes1, boxes2)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    w_pred = x2 - x1
    h_pred = y2 - y1
    w_gt = x2g - x1g
    h_gt = y2g - y1g
    v = (4 / (torch.pi**2)) * torch.pow((torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    loss = diou_loss + alpha * v
    return _mean(loss) if reduction == "mean" else loss


def tv_iou_loss(boxes1, boxes2, eps=1e-7):
    """torchvision has no IoU loss: 1 - IoU from its own intersection and union."""
    intsct, union = tv_loss_inter_union(boxes1, boxes2)
    return _mean(1 - intsct / (union + eps))


def _tv(name: str, fallback):
    """torchvision's function when installed, else the transcription; and how to label it."""
    if _tv_ops is not None and hasattr(_tv_ops, name):
        return getattr(_tv_ops, name), f"torchvision.ops.{name}", "torchvision"
    return fallback, f"torchvision.ops.{name} (transcribed)", "torchvision's formula, transcribed"


SIGMOID_FOCAL = _tv("sigmoid_focal_loss", tv_sigmoid_focal_loss)
GIOU = _tv("generalized_box_iou_loss", tv_generalized_box_iou_loss)
DIOU = _tv("distance_box_iou_loss", tv_distance_box_iou_loss)
CIOU = _tv("complete_box_iou_loss", tv_complete_box_iou_loss)


# --------------------------------------------------------------------------
# Plain-torch formulas where neither library has the loss


def pseudo_huber(pred, target, delta=1.0):
    r = pred - target
    return (delta**2 * (torch.sqrt(1 + (r / delta) ** 2) - 1)).mean()


def log_cosh(pred, target):
    return torch.log(torch.cosh(pred - target)).mean()


def hinge(scores, target, margin=1.0):
    return torch.clamp(margin - target * scores, min=0).mean()


def softmax_focal(logits, target, gamma=2.0):
    log_p = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()


def contrastive(x1, x2, similar, margin=1.0):
    d = (x1 - x2).norm(dim=1)
    return (similar * d**2 + (1 - similar) * torch.clamp(margin - d, min=0) ** 2).mean()


def dice_loss(probs, target, smooth=1.0):
    p, t = probs.flatten(1), target.flatten(1)
    return (1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()


def gan_discriminator_loss(real, fake):
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )


def gan_generator_loss(fake):
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def gradient_penalty(critic, real, fake, generator=None):
    """Gulrajani et al.'s WGAN-GP penalty as usually written (lambda left to the caller)."""
    u = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (u * real.detach() + (1 - u) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def td_loss(values, rewards, next_values, done, gamma=0.99):
    target = (rewards + gamma * (1 - done.float()) * next_values).detach()
    return F.mse_loss(values, target)


def uncertainty_weighting(log_vars, losses):
    return (torch.exp(-log_vars) * torch.stack(losses) + log_vars).sum()


def barron_rho(x, alpha, scale):
    """Barron's rho straight from the formula, for alpha not in {0, 2}."""
    b = abs(alpha - 2)
    return b / alpha * (((x / scale) ** 2 / b + 1) ** (alpha / 2) - 1)


def general_robust(x, alpha=1.0, scale=1.0):
    return barron_rho(x, alpha, scale).mean()


def adaptive_robust(module, x):
    """The NLL written out with the module's alpha and scale; log Z from lossbook (PyTorch has none)."""
    from lossbook.robust import log_partition

    alpha, scale = module.alpha, module.scale
    b = torch.abs(alpha - 2)
    rho = b / alpha * (((x / scale) ** 2 / b + 1) ** (alpha / 2) - 1)
    return (rho + torch.log(scale) + log_partition(alpha)).mean()

