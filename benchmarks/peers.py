"""The peers: how a PyTorch (or torchvision) user computes the same loss.

A peer is PyTorch's built-in where it has the loss, torchvision's function
where torchvision has it and is installed, and otherwise the obvious
plain-torch expression of the formula. Where torchvision is not installed,
its sigmoid focal loss and box losses are replaced by the functions below,
written from the definitions in torchvision 0.28's ``torchvision/ops`` with
the same tensor operations in the same order (without its API-usage
logging), so the benchmark compares against torchvision's arithmetic and
cost either way.
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
# torchvision 0.28's sigmoid focal loss and box losses (torchvision/ops: focal_loss, giou_loss,
# diou_loss, ciou_loss and the helpers in _utils), written out here from their definitions with the
# same tensor operations in the same order, so that their cost and their arithmetic are torchvision's.


def tv_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="mean"):
    prob = torch.sigmoid(inputs)
    bce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    prob_true = prob * targets + (1 - prob) * (1 - targets)
    loss = bce * (1 - prob_true) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean() if reduction == "mean" else loss


def _corners(boxes):
    return boxes.unbind(dim=-1)  # x0, y0, x1, y1


def tv_loss_inter_union(boxes1, boxes2):
    """Intersection (zero, then written through a boolean mask of overlapping pairs) and union."""
    ax0, ay0, ax1, ay1 = _corners(boxes1)
    bx0, by0, bx1, by1 = _corners(boxes2)
    left, top = torch.max(ax0, bx0), torch.max(ay0, by0)
    right, bottom = torch.min(ax1, bx1), torch.min(ay1, by1)
    inter = torch.zeros_like(ax0)
    hit = (bottom > top) & (right > left)
    inter[hit] = (right[hit] - left[hit]) * (bottom[hit] - top[hit])
    return inter, (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter


def _tv_enclosing(boxes1, boxes2):
    ax0, ay0, ax1, ay1 = _corners(boxes1)
    bx0, by0, bx1, by1 = _corners(boxes2)
    return torch.min(ax0, bx0), torch.min(ay0, by0), torch.max(ax1, bx1), torch.max(ay1, by1)


def tv_generalized_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    inter, union = tv_loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    left, top, right, bottom = _tv_enclosing(boxes1, boxes2)
    hull = (right - left) * (bottom - top)
    loss = 1 - (iou - (hull - union) / (hull + eps))
    return _mean(loss) if reduction == "mean" else loss


def _tv_diou_and_iou(boxes1, boxes2, eps=1e-7):
    inter, union = tv_loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    left, top, right, bottom = _tv_enclosing(boxes1, boxes2)
    diagonal2 = ((right - left) ** 2) + ((bottom - top) ** 2) + eps
    ax0, ay0, ax1, ay1 = _corners(boxes1)
    bx0, by0, bx1, by1 = _corners(boxes2)
    gap2 = (((ax1 + ax0) / 2 - (bx0 + bx1) / 2) ** 2) + (((ay1 + ay0) / 2 - (by0 + by1) / 2) ** 2)
    return 1 - iou + (gap2 / diagonal2), iou


def tv_distance_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    loss, _ = _tv_diou_and_iou(boxes1, boxes2, eps)
    return _mean(loss) if reduction == "mean" else loss


def tv_complete_box_iou_loss(boxes1, boxes2, reduction="mean", eps=1e-7):
    diou, iou = _tv_diou_and_iou(boxes1, boxes2)  # torchvision passes no eps here: the default
    ax0, ay0, ax1, ay1 = _corners(boxes1)
    bx0, by0, bx1, by1 = _corners(boxes2)
    aspect_gap = torch.atan((bx1 - bx0) / (by1 - by0)) - torch.atan((ax1 - ax0) / (ay1 - ay0))
    v = (4 / (torch.pi**2)) * torch.pow(aspect_gap, 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    loss = diou + alpha * v
    return _mean(loss) if reduction == "mean" else loss


def tv_iou_loss(boxes1, boxes2, eps=1e-7):
    """torchvision has no IoU loss: 1 - IoU from its own intersection and union."""
    inter, union = tv_loss_inter_union(boxes1, boxes2)
    return _mean(1 - inter / (union + eps))


def _tv(name: str, fallback):
    """torchvision's function when installed, else its formula written out above; and how to label it."""
    if _tv_ops is not None and hasattr(_tv_ops, name):
        return getattr(_tv_ops, name), f"torchvision.ops.{name}", "torchvision"
    return fallback, f"torchvision.ops.{name} (written out)", "torchvision's formula, written out"


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


def tversky_loss(probs, target, alpha=0.5, beta=0.5, smooth=1.0):
    p, t = probs.flatten(1), target.flatten(1)
    tp, fp, fn = (p * t).sum(1), (p * (1 - t)).sum(1), ((1 - p) * t).sum(1)
    return (1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)).mean()


def focal_tversky_loss(probs, target, alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0):
    p, t = probs.flatten(1), target.flatten(1)
    tp, fp, fn = (p * t).sum(1), (p * (1 - t)).sum(1), ((1 - p) * t).sum(1)
    return ((1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)) ** gamma).mean()


def lovasz_hinge(logits, target):
    """Berman et al.'s lovasz_hinge(per_image=True), written out: sort the hinge errors, dot with
    the Jaccard gradient of the sorted ground truth (lovasz_grad), per sample, then the mean."""
    f, t = logits.flatten(1), target.flatten(1)
    errors_sorted, order = torch.sort(1 - f * (2 * t - 1), dim=1, descending=True)
    gt = t.gather(1, order)
    gts = gt.sum(1, keepdim=True)
    jaccard = 1 - (gts - gt.cumsum(1)) / (gts + (1 - gt).cumsum(1))
    grad = torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], dim=1)
    return (F.relu(errors_sorted) * grad).sum(1).mean()


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


def ppo_clip_loss(log_probs, old_log_probs, advantages, clip=0.2):
    """The clipped surrogate as PPO implementations write it (ratio without the cap)."""
    ratio = torch.exp(log_probs - old_log_probs.detach())
    a = advantages.detach()
    return -torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a).mean()


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



def beta_nll(mean, target, var, beta=0.5):
    """Seitzer et al.'s reference code (no clamp of the variance)."""
    loss = 0.5 * ((target - mean) ** 2 / var + var.log())
    return (loss * var.detach() ** beta).mean()


def quantile(pred, target, q=0.5):
    r = target - pred
    return torch.maximum(q * r, (q - 1) * r).mean()


def distillation_kl(student, teacher, temperature=1.0):
    t = temperature
    return t**2 * F.kl_div(F.log_softmax(student / t, 1), F.log_softmax(teacher.detach() / t, 1),
                           log_target=True, reduction="batchmean")


def jsd(student, teacher, beta=0.5, temperature=1.0):
    """The generalised JSD written out: probabilities, their mixture, two KL divergences."""
    t = temperature
    ps, pt = F.softmax(student / t, 1), F.softmax(teacher.detach() / t, 1)
    m = beta * pt + (1 - beta) * ps
    kl = lambda p: (torch.xlogy(p, p) - torch.xlogy(p, m)).sum(1)  # noqa: E731  (0 log 0 = 0)
    return t**2 * (beta * kl(pt) + (1 - beta) * kl(ps)).mean()


def _margin(pc, pr, rc, rr):
    return (pc - rc.detach()) - (pr - rr.detach())


def dpo_loss(pc, pr, rc, rr, beta=0.1):
    return -F.logsigmoid(beta * _margin(pc, pr, rc, rr)).mean()


def ipo_loss(pc, pr, rc, rr, beta=0.1):
    return ((_margin(pc, pr, rc, rr) - 1 / (2 * beta)) ** 2).mean()


def simpo_loss(chosen, rejected, beta=2.0, gamma=1.0):
    return -F.logsigmoid(beta * (chosen - rejected) - gamma).mean()


# --------------------------------------------------------------------------
# Contrastive representation learning: the formulas as usually written


def _unit(x):
    return F.normalize(x, dim=1)


def info_nce(query, key, temperature=0.07):
    logits = _unit(query) @ _unit(key).T / temperature
    return F.cross_entropy(logits, torch.arange(len(query), device=query.device))


def nt_xent(z1, z2, temperature=0.5):
    n = len(z1)
    z = _unit(torch.cat([z1, z2]))
    sim = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


def clip_loss(image, text, logit_scale=1 / 0.07):
    logits = logit_scale * _unit(image) @ _unit(text).T
    labels = torch.arange(len(image), device=image.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def siglip_loss(image, text, logit_scale=10.0, logit_bias=-10.0):
    logits = logit_scale * _unit(image) @ _unit(text).T + logit_bias
    labels = 2 * torch.eye(len(image), dtype=logits.dtype, device=logits.device) - 1
    return -F.logsigmoid(labels * logits).sum() / len(image)


def supcon(features, labels, temperature=0.1):
    z = _unit(features)
    n = len(z)
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = torch.log_softmax(logits, dim=1).masked_fill(self_mask, 0.0)
    pos = ((labels[:, None] == labels[None, :]) & ~self_mask).to(z.dtype)
    count = pos.sum(1)
    per = -(pos * log_prob).sum(1) / count.clamp_min(1)
    return per.sum() / (count > 0).sum().clamp_min(1)


def arcface(embeddings, weight, labels, scale=64.0, margin=0.5):
    import math

    cos = _unit(embeddings) @ _unit(weight).T
    sin = torch.sqrt((1 - cos**2).clamp_min(torch.finfo(cos.dtype).eps))
    phi = cos * math.cos(margin) - sin * math.sin(margin)
    phi = torch.where(cos > math.cos(math.pi - margin), phi, cos - margin * math.sin(margin))
    hot = F.one_hot(labels, weight.shape[0]).bool()
    return F.cross_entropy(scale * torch.where(hot, phi, cos), labels)


def cosface(embeddings, weight, labels, scale=64.0, margin=0.35):
    cos = _unit(embeddings) @ _unit(weight).T
    hot = F.one_hot(labels, weight.shape[0]).to(cos.dtype)
    return F.cross_entropy(scale * (cos - margin * hot), labels)
