"""Data and reference implementations for the classification tests (not a test module itself).

Every builder is seeded and draws in float64 before casting, so a float32 and a
float64 run see the same numbers up to rounding. The NumPy references are
written straight from the formulas in the docstrings of lossbook.classification.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from common import F64
NC, NCHW = (6, 4), (3, 4, 2, 5)  # 4 classes


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def logits(shape, dtype=F64, *, seed=0, scale=2.0):
    return (scale * torch.randn(shape, generator=_gen(seed), dtype=F64)).to(dtype)


def indices(shape, num_classes, *, seed=0, ignore=None):
    """Class indices; with ``ignore``, every third entry is that value."""
    t = torch.randint(num_classes, shape, generator=_gen(seed + 100))
    if ignore is not None:
        t.view(-1)[::3] = ignore
    return t


def index_shape(shape):
    return shape[:1] + shape[2:]


def distribution(shape, dtype=F64, *, seed=0, zeros=False):
    """Class probabilities along dim 1; with ``zeros`` about a third are exactly 0 (never class 0)."""
    u = torch.rand(shape, generator=_gen(seed + 200), dtype=F64)
    if zeros:
        u = torch.where(u < 0.35, 0.0, u)
        u.select(1, 0).add_(0.1)
    return (u / u.sum(1, keepdim=True)).to(dtype)


def unit(shape, dtype=F64, *, seed=0, hard=False, lo=0.0, hi=1.0):
    """Values in [lo, hi] (probabilities, binary targets), or in {0, 1} with ``hard``."""
    u = torch.rand(shape, generator=_gen(seed + 300), dtype=F64)
    return (u.round() if hard else lo + (hi - lo) * u).to(dtype)


def class_weight(num_classes, dtype=F64, *, seed=0):
    return (0.5 + 1.5 * torch.rand(num_classes, generator=_gen(seed + 400), dtype=F64)).to(dtype)


def signs(shape, dtype=F64, *, seed=0):
    return torch.where(torch.rand(shape, generator=_gen(seed + 500)) < 0.5, -1.0, 1.0).to(dtype)


def hinge_scores(target, margin, *, seed=0):
    """Scores with ``|margin - t s|`` in [0.2, 1.5]: on both sides of the kink, never near it."""
    u = torch.rand(target.shape, generator=_gen(seed + 600), dtype=F64)
    d = torch.where(u < 0.5, -1.0, 1.0) * (0.2 + 2.6 * (u - 0.5).abs())
    return (target * (margin + d)).to(target.dtype)


def multiclass_scores(target, num_classes, margin, *, seed=0):
    """Scores with ``margin - s_y + s_c`` in +-[0.2, 1] for every c != y (away from every kink)."""
    n = target.shape[0]
    u = torch.rand((n, num_classes), generator=_gen(seed + 700), dtype=F64)
    s = (torch.where(u < 0.5, -1.0, 1.0) * (0.2 + 1.6 * (u - 0.5).abs())) - margin
    s[torch.arange(n), target] = 0.0
    return s + torch.randn((n, 1), generator=_gen(seed + 800), dtype=F64)  # a shift per sample changes nothing


# --------------------------------------------------------------------------
# References


def np_reduce(per, reduction, sample_weight=None):
    """``"mean"`` is the plain mean, or ``sum(per) / sum(sample_weight)`` (PyTorch's weighted mean)."""
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / (per.size if sample_weight is None else sample_weight.sum())


def _log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def np_hinge(s, t, *, margin=1.0, reduction="mean"):
    return np_reduce(np.maximum(0.0, margin - t * s), reduction)


def np_multiclass_hinge(s, y, *, margin=1.0, p=1, weight=None, reduction="mean"):
    # (1/C) sum_{c != y} w_y max(0, m - s_y + s_c)^p; "mean" is the plain mean over samples
    n, c = s.shape
    s_y = s[np.arange(n), y][:, None]
    terms = np.maximum(0.0, margin - s_y + s) ** p
    terms[np.arange(n), y] = 0.0
    w_y = np.ones(n) if weight is None else weight[y]
    return np_reduce(w_y * terms.sum(1) / c, reduction)


def np_kl(z, q, *, reduction="mean"):
    # sum_c q_c (log q_c - log p_c) with 0 log 0 = 0, summed per sample over every non-batch dim
    log_q = np.log(np.where(q > 0, q, 1.0))
    per = np.where(q > 0, q * (log_q - _log_softmax(z)), 0.0)
    return np_reduce(per.reshape(len(z), -1).sum(1), reduction)


def np_focal(x, t, *, alpha=0.25, gamma=2.0, reduction="mean"):
    # -alpha_t (1 - p_t)^gamma log p_t, with p = sigmoid(x), p_t = p t + (1 - p)(1 - t)
    p = 1.0 / (1.0 + np.exp(-x))
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = (1 - p_t) ** gamma * ce
    if alpha is not None:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return np_reduce(loss, reduction)


def torchvision_focal(x, t, *, alpha=0.25, gamma=2.0, reduction="mean"):
    """torchvision.ops.sigmoid_focal_loss, written down from its definition, in float64."""
    x, t = x.double(), t.double()
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None:  # torchvision: `if alpha >= 0`, alpha = -1 switches it off
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def np_softmax_focal(z, y, *, gamma=2.0, weight=None, reduction="mean"):
    # -w_y (1 - p_y)^gamma log p_y; "mean" is sum / sum(w_y)
    log_p_y = np.take_along_axis(_log_softmax(z), y[:, None], axis=1)[:, 0]
    w_y = np.ones(y.shape) if weight is None else weight[y]
    return np_reduce(-w_y * (1 - np.exp(log_p_y)) ** gamma * log_p_y, reduction, w_y)


def torch_kl(z, q, *, reduction="mean"):
    """``F.kl_div`` on ``log_softmax(z)``: batchmean for "mean", summed per sample for "none"."""
    log_p = F.log_softmax(z, 1)
    if reduction == "none":
        return F.kl_div(log_p, q, reduction="none").flatten(1).sum(1)
    return F.kl_div(log_p, q, reduction="batchmean" if reduction == "mean" else "sum")


class Ref(NamedTuple):
    """``make(dtype) -> (args, kwargs)``; ``torch`` is evaluated on the same tensors,
    ``numpy`` on float64 NumPy copies; either takes ``(*args, reduction=..., **kwargs)``."""

    id: str
    make: Callable[[torch.dtype], tuple[tuple, dict]]
    torch: Callable | None = None
    numpy: Callable | None = None


def to_numpy(v):
    if isinstance(v, torch.Tensor):
        return v.detach().double().numpy() if v.is_floating_point() else v.numpy()
    return v
