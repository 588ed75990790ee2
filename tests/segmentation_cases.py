"""Float64 references and the case tables of tversky_loss, focal_tversky_loss and lovasz_hinge
(not a test module itself).

tests/test_segmentation.py merges the tables into its REFERENCE, GRADCHECK and BAD_INPUT
(which tests/test_catalog.py reads for the segmentation family, and whose BAD_INPUT it
runs); tests/test_segmentation_overlap.py runs the rest.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from bad_input import ValueCase, number_cases, pair_cases, unit_interval_value_cases
from common import F64


def masks(shape, dtype=F64, *, seed=0, soft_target=False, fg=0.3):
    """Seeded ``(probs, target)``: probabilities in (0, 1); a binary (about ``fg`` ones) or soft target."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(shape, generator=g, dtype=F64)
    u = torch.rand(shape, generator=g, dtype=F64)
    target = u if soft_target else (u < fg).to(F64)
    return probs.to(dtype), target.to(dtype)


def logit_masks(shape, dtype=F64, *, seed=0, scale=2.0):
    """Seeded ``(logits, target)``: normal logits (no ties, almost surely) and a 0/1 target."""
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(shape, generator=g, dtype=F64)
    target = (torch.rand(shape, generator=g, dtype=F64) < 0.4).to(F64)
    return logits.to(dtype), target.to(dtype)


# --------------------------------------------------------------------------
# References, written from the papers' formulas in float64 NumPy, one sample at a time


def _rows(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def np_tversky(p, t, alpha=0.5, beta=0.5, smooth=1.0):
    """Salehi et al. (2017), eq. 3, as a loss: 1 - (TP + s) / (TP + alpha FP + beta FN + s) per sample."""
    out = []
    for pi, ti in zip(_rows(p), _rows(t)):
        tp, fp, fn = np.sum(pi * ti), np.sum(pi * (1 - ti)), np.sum((1 - pi) * ti)
        den = tp + alpha * fp + beta * fn + smooth
        out.append(0.0 if den == 0 else 1 - (tp + smooth) / den)  # s = 0 and nothing anywhere: the limit, 0
    return np.array(out)


def np_focal_tversky(p, t, alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0):
    """Abraham and Khan (2019), eq. 4: the Tversky loss to the power gamma (their 1/gamma)."""
    return np_tversky(p, t, alpha, beta, smooth) ** gamma


def jaccard_loss_of_wrong_set(fg, wrong):
    """Delta_J(S): 1 - IoU when exactly the pixels ``wrong`` (a bool mask) are predicted wrong.

    The prediction is then (F \\ S) u (S \\ F); its intersection with F is F \\ S and its union with
    F is F u S, so IoU = |F \\ S| / |F u S| (and Delta_J = 0 when both are empty).
    """
    union = np.sum(fg | wrong)
    return 0.0 if union == 0 else 1.0 - np.sum(fg & ~wrong) / union


def np_lovasz_hinge(logits, target):
    """Berman et al. (2018), eq. 8-9 and Alg. 1, with an explicit loop: per sample, sort the hinge errors
    in decreasing order and sum relu(e_(i)) (Delta_J(prefix i) - Delta_J(prefix i-1)), each Delta_J
    computed from its set, not from Alg. 1's running sums."""
    out = []
    for f, t in zip(_rows(logits), _rows(target)):
        fg = t == 1
        e = 1 - f * (2 * t - 1)
        order = np.argsort(-e, kind="stable")
        wrong = np.zeros(len(e), dtype=bool)
        total, previous = 0.0, 0.0  # Delta_J of the empty set is 0: nothing predicted wrong
        for i in order:
            wrong[i] = True
            current = jaccard_loss_of_wrong_set(fg, wrong)
            total += max(e[i], 0.0) * (current - previous)
            previous = current
        out.append(total)
    return np.array(out)


def np_lovasz_layer_cake(logits, target):
    """The same extension summed the other way: sum_k (x_(k) - x_(k+1)) Delta_J(prefix k), x = relu(e)
    sorted down, x_(p+1) = 0 (the extension as an integral over thresholds, Berman et al. eq. 8)."""
    out = []
    for f, t in zip(_rows(logits), _rows(target)):
        fg = t == 1
        x = np.maximum(1 - f * (2 * t - 1), 0)
        order = np.argsort(-x, kind="stable")
        xs = np.append(x[order], 0.0)
        wrong = np.zeros(len(x), dtype=bool)
        total = 0.0
        for k, i in enumerate(order):
            wrong[i] = True
            total += (xs[k] - xs[k + 1]) * jaccard_loss_of_wrong_set(fg, wrong)
        out.append(total)
    return np.array(out)


def all_binary_masks(size):
    """Every 0/1 mask of ``size`` pixels, as a float64 ``(2**size, size)`` tensor."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=size)), dtype=F64)


# --------------------------------------------------------------------------
# Tables (merged into tests/test_segmentation.py's)

REFERENCE = {
    "tversky_loss": [{}, {"alpha": 0.3, "beta": 0.7}, {"alpha": 1.0, "beta": 0.0}, {"alpha": 0.0, "beta": 2.0},
                     {"alpha": 1.0, "beta": 1.0, "smooth": 1e-6}, {"smooth": 0.0}, {"smooth": 10.0}],
    "focal_tversky_loss": [{}, {"gamma": 1.0}, {"gamma": 2.0}, {"gamma": 0.5, "alpha": 0.7, "beta": 0.3},
                           {"smooth": 0.0}],
    "lovasz_hinge": [{}],
}

GRADCHECK = {
    "tversky_loss": [{}, {"alpha": 0.2, "beta": 0.9, "smooth": 0.1}, {"alpha": 1.0, "beta": 0.0}],
    "focal_tversky_loss": [{}, {"gamma": 2.0}, {"gamma": 0.5, "smooth": 0.5}],
    "lovasz_hinge": [{}],
}

_P, _T = torch.full((2, 3), 0.5), torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.25, 1.0]])
_F, _B = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]]), torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
_NOBROADCAST = r"^target must have the same shape as {} "


def _mask_cases(first):
    nob = _NOBROADCAST.format(first)
    return [
        (f"{first}-0d", (torch.tensor(0.5), torch.tensor(0.5)), {}, ValueError,
         rf"^{first} must have a batch dimension, shape \(N, \*\), got a scalar$"),
        ("N1HW-vs-NHW", (torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4)), {}, ValueError,
         nob + r"\(2, 1, 4, 4\), got \(2, 4, 4\)"),
        ("NHW-vs-1HW", (torch.zeros(2, 4, 4), torch.zeros(1, 4, 4)), {}, ValueError,
         nob + r"\(2, 4, 4\), got \(1, 4, 4\)"),
        ("device", (torch.zeros(2, 3), torch.zeros(2, 3, device="meta")), {}, ValueError,
         rf"^target must be on the same device as {first} \(cpu\), got meta$"),
    ]


def _tversky_cases(gamma):
    both = r"^alpha and beta must not both be 0 \(the loss would be 0 for every prediction\)$"
    cases = (pair_cases(("probs", "target")) + _mask_cases("probs")
             + number_cases("alpha", positive=False, args=(_P, _T))
             + number_cases("beta", positive=False, args=(_P, _T))
             + number_cases("smooth", positive=False, args=(_P, _T))
             + [("alpha=beta=0", (_P, _T), {"alpha": 0.0, "beta": 0}, ValueError, both)]
             + unit_interval_value_cases((_P, _T), 0, "probs") + unit_interval_value_cases((_P, _T), 1, "target"))
    if gamma:
        cases += number_cases("gamma", positive=True, args=(_P, _T))
    return cases


def _binary_target_cases():
    message = r"^target must hold 0 or 1, got values such as "
    out = []
    for v, shown in ((0.5, r"0\.5"), (-1.0, r"-1\.0"), (2.0, r"2\.0"), (float("nan"), "nan")):
        bad = _B.clone()
        bad[0, 1] = v
        out.append(ValueCase(f"target={v}", (_F, bad), {}, ValueError, message + rf"\[{shown}\]$"))
    return out


BAD_INPUT = {
    "tversky_loss": _tversky_cases(gamma=False),
    "focal_tversky_loss": _tversky_cases(gamma=True),
    "lovasz_hinge": pair_cases(("logits", "target")) + _mask_cases("logits") + _binary_target_cases(),
}
