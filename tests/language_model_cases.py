"""Inputs and the materialised reference of linear_cross_entropy, shared by the language-model test modules
(not a test module itself)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from common import F64

N, D, V = 11, 5, 37  # V prime: no chunk or vector width divides it


def _data(dtype=F64, n=N, d=D, v=V, seed=0, ignored=(2, 7)):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, d, generator=g, dtype=F64)
    weight = torch.randn(v, d, generator=g, dtype=F64) / d**0.5 * 2
    bias = 0.5 * torch.randn(v, generator=g, dtype=F64)
    class_weight = 0.25 + 2 * torch.rand(v, generator=g, dtype=F64)
    target = torch.randint(0, v, (n,), generator=g)
    target[list(ignored)] = -100
    return [x.to(dtype) for x in (hidden, weight, bias, class_weight)] + [target]


def reference(hidden, weight, target, *, bias=None, class_weight=None, ignore_index=-100, label_smoothing=0.0,
              z_loss=0.0, softcap=None, reduction="mean", normalizer=None):
    """The definition, with the (N, V) logits materialised: F.cross_entropy plus the z-loss term."""
    logits = F.linear(hidden, weight, bias)
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    kw = dict(weight=class_weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    keep = target != ignore_index
    w_y = class_weight[target.clamp(min=0)] if class_weight is not None else torch.ones_like(logits[:, 0])
    w_y = torch.where(keep, w_y, 0)
    z = z_loss * w_y * torch.logsumexp(logits, 1) ** 2
    if reduction == "none":
        return F.cross_entropy(logits, target, reduction="none", **kw) + z
    total = F.cross_entropy(logits, target, reduction="sum", **kw) + z.sum()
    if reduction == "sum":
        return total
    den = w_y.sum() if normalizer is None else normalizer
    return total / den
