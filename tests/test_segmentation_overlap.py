"""tversky_loss, focal_tversky_loss and lovasz_hinge against float64 NumPy references written
from the papers (tests/segmentation_cases.py), gradients, hand-worked cases, limits, properties,
extreme inputs and empty batches. Their bad inputs run in tests/test_segmentation.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lossbook
from common import F32, F64, NP_REDUCE, REDUCTIONS, params_id
from segmentation_cases import (
    GRADCHECK, REFERENCE, all_binary_masks, jaccard_loss_of_wrong_set, logit_masks, masks,
    np_focal_tversky, np_lovasz_hinge, np_lovasz_layer_cake, np_tversky,
)
from lossbook import dice_loss, focal_tversky_loss, lovasz_hinge, tversky_loss

SHAPES = [(5,), (3, 6, 7), (3, 1, 6, 7), (2, 3, 4, 5)]
TOL = {F32: dict(rtol=2e-5, atol=2e-6), F64: dict(rtol=1e-12, atol=1e-14)}
DTYPES = [pytest.param(F32, id="f32"), pytest.param(F64, id="f64")]


# ==========================================================================
# References


def _check(got, per, reduction, dtype, n):
    assert got.dtype == dtype and got.shape == ((n,) if reduction == "none" else ())
    want = torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype)
    torch.testing.assert_close(got, want, **TOL[dtype], msg=lambda m: f"{reduction}: {m}")


@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("key, np_ref", [("tversky_loss", np_tversky), ("focal_tversky_loss", np_focal_tversky)])
def test_tversky_family_matches_reference(key, np_ref, shape, dtype, soft):
    probs, target = masks(shape, dtype, soft_target=soft)
    for params in REFERENCE[key]:
        per = np_ref(probs.double().numpy(), target.double().numpy(), **params)
        for reduction in REDUCTIONS:
            _check(getattr(lossbook, key)(probs, target, reduction=reduction, **params), per, reduction, dtype, shape[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lovasz_matches_the_loop_over_prefix_jaccards(shape, dtype):
    logits, target = logit_masks(shape, dtype)
    per = np_lovasz_hinge(logits.double().numpy(), target.double().numpy())
    # the extension summed the other way (over thresholds) gives the same numbers
    np.testing.assert_allclose(per, np_lovasz_layer_cake(logits.double().numpy(), target.double().numpy()),
                               rtol=1e-12, atol=1e-12)
    for reduction in REDUCTIONS:
        _check(lovasz_hinge(logits, target, reduction=reduction), per, reduction, dtype, shape[0])


def test_lovasz_with_empty_and_full_masks_matches_reference():
    logits, target = logit_masks((4, 9), seed=3)
    target[0], target[1] = 0, 1
    per = np_lovasz_hinge(logits.numpy(), target.numpy())
    torch.testing.assert_close(lovasz_hinge(logits, target, reduction="none"), torch.as_tensor(per))
    # an empty target: Delta_J = 1 for any non-empty wrong set, so only the largest error counts
    assert per[0] == pytest.approx(max(0.0, (1 + logits[0]).max().item()), rel=1e-14)


# ==========================================================================
# The Lovász extension agrees with the Jaccard loss on 0/1 errors (brute force)


def test_lovasz_is_the_jaccard_loss_on_binary_errors():
    # With y = 2t - 1, a logit f = y has hinge error 1 - y^2 = 0 (right, with margin) and f = 0 has
    # error exactly 1 (on the fence: counted wrong). The Lovász extension of a set function at the
    # indicator of S equals the set function at S (Berman et al., Prop. 1 / Lovász 1983): so for
    # logits f = y (1 - w) with w the 0/1 indicator of S, the loss is Delta_J(S) = 1 - |F \ S| / |F u S|,
    # 1 - IoU of the prediction that is wrong exactly on S. All 2^4 targets times all 2^4 sets:
    every = all_binary_masks(4)
    target = every.repeat_interleave(len(every), 0)  # (256, 4): each target with each S
    wrong = every.repeat(len(every), 1)
    logits = (2 * target - 1) * (1 - wrong)
    got = lovasz_hinge(logits, target, reduction="none")
    want = [jaccard_loss_of_wrong_set(t.numpy() == 1, w.numpy() == 1) for t, w in zip(target, wrong)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=F64), rtol=1e-15, atol=1e-15)
    # and where S is not empty and no pixel sits on the fence, thresholding the logits at 0 gives
    # exactly the prediction "wrong on S": 1 - IoU of (f > 0) against the target
    fence = logits == 0
    pred = torch.where(fence, 1 - target, (logits > 0).to(F64))  # a fence pixel is wrong by definition
    inter, union = (pred * target).sum(1), ((pred + target) > 0).sum(1).to(F64)
    iou_loss = torch.where(union > 0, 1 - inter / union.clamp(min=1), 0)
    torch.testing.assert_close(got, iou_loss, rtol=1e-15, atol=1e-15)


def test_lovasz_hand_worked():
    # logits (2, -1, 0.5), target (1, 1, 0): signs (1, 1, -1), errors 1 - f y = (-1, 2, 1.5).
    # Sorted down: 2 (fg), 1.5 (bg), -1 (fg); F has 2 pixels.
    # Delta_J of the prefixes: {fg1}: 1 - 1/2 = 1/2; {fg1, bg}: 1 - 1/3 = 2/3; all: 1 - 0/3 = 1.
    # Differences 1/2, 1/6, 1/3: loss = 2 * 1/2 + 1.5 * 1/6 + relu(-1) * 1/3 = 1.25
    logits = torch.tensor([[2.0, -1.0, 0.5]], dtype=F64, requires_grad=True)
    out = lovasz_hinge(logits, torch.tensor([[1.0, 1.0, 0.0]], dtype=F64))
    assert out.item() == pytest.approx(1.25, rel=1e-15)
    # d/df_i = -y_i * relu'(e_i) * (its difference): (0, -1/2, +1/6)
    (g,) = torch.autograd.grad(out, logits)
    torch.testing.assert_close(g, torch.tensor([[0.0, -0.5, 1 / 6]], dtype=F64))


def test_lovasz_one_pixel_samples_are_the_hinge():
    # (N,): one pixel per sample, Delta_J({the pixel}) = 1, so the loss is max(0, 1 - f y)
    f, t = torch.tensor([0.5, -2.0, 3.0, -0.25], dtype=F64), torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=F64)
    torch.testing.assert_close(lovasz_hinge(f, t, reduction="none"), torch.tensor([0.5, 3.0, 4.0, 0.75], dtype=F64))


# ==========================================================================
# Gradients (float64). Tversky is a smooth ratio (denominator >= smooth > 0); focal Tversky is
# smooth where the Tversky loss is > 0 (random soft inputs); Lovász is piecewise linear, with
# kinks where two errors tie or an error is 0: the inputs below keep away from both.


def _inputs(key, seed=1):
    if key == "lovasz_hinge":
        logits, target = logit_masks((2, 3, 4), seed=seed)
        e = (1 - logits * (2 * target - 1)).flatten(1)
        gaps = (e.sort(1).values.diff(dim=1)).min()
        assert gaps > 1e-3 and e.abs().min() > 1e-3  # no tie, no error at 0 within gradcheck's reach
        return logits.requires_grad_(True), target
    probs, target = masks((2, 3, 4), seed=seed, soft_target=True)
    return probs.requires_grad_(True), target.requires_grad_(True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, params", [pytest.param(k, p, id=f"{k}-{params_id(p)}")
                                         for k in GRADCHECK for p in GRADCHECK[k]])
def test_gradcheck(key, params, reduction):
    x, t = _inputs(key)
    fn = lambda a, b: getattr(lossbook, key)(a, b, reduction=reduction, **params)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, t))
    if reduction == "none" and key != "lovasz_hinge":  # Lovász is piecewise linear: no second derivative
        assert torch.autograd.gradgradcheck(fn, (x, t))


# ==========================================================================
# Hand-worked cases and limits of Tversky


def test_tversky_hand_worked():
    p = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=F64)
    t = torch.tensor([[1.0, 0.0, 1.0, 1.0]], dtype=F64)
    # TP = 1, FP = 1 (pixel 2), FN = 2 (pixels 3, 4)
    # alpha 0.3, beta 0.7, s = 1: 1 - 2 / (1 + 0.3 + 1.4 + 1) = 1 - 2/3.7 = 17/37
    assert tversky_loss(p, t, alpha=0.3, beta=0.7).item() == pytest.approx(17 / 37, rel=1e-15)
    # alpha 1, beta 0 (false positives only), s = 0: 1 - 1 / (1 + 1) = 1/2
    assert tversky_loss(p, t, alpha=1.0, beta=0.0, smooth=0.0).item() == 0.5
    # alpha 0, beta 1 (false negatives only), s = 0: 1 - 1 / (1 + 2) = 2/3
    assert tversky_loss(p, t, alpha=0.0, beta=1.0, smooth=0.0).item() == pytest.approx(2 / 3, rel=1e-15)
    # focal, gamma 2, on the first: (17/37)^2
    assert focal_tversky_loss(p, t, alpha=0.3, beta=0.7, gamma=2.0).item() == pytest.approx((17 / 37) ** 2, rel=1e-14)


@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft"])
@pytest.mark.parametrize("s", [1.0, 0.25, 1e-6])
def test_tversky_half_half_is_dice_with_smooth_doubled(s, soft):
    # alpha = beta = 1/2: TP + (FP + FN)/2 = (sum p + sum t)/2, so (TP + s)/(that + s) = (2TP + 2s)/(P + T + 2s)
    probs, target = masks((4, 5, 6), soft_target=soft, seed=2)
    torch.testing.assert_close(tversky_loss(probs, target, smooth=s, reduction="none"),
                               dice_loss(probs, target, smooth=2 * s, reduction="none"), rtol=1e-13, atol=1e-15)


def test_tversky_one_one_is_the_soft_jaccard_loss():
    probs, target = masks((3, 7), soft_target=True, seed=4)
    tp = (probs * target).sum(1)
    jaccard = (tp + 1) / (probs.sum(1) + target.sum(1) - tp + 1)  # TP + FP + FN = P + T - TP
    torch.testing.assert_close(tversky_loss(probs, target, alpha=1.0, beta=1.0, reduction="none"), 1 - jaccard)


def test_alpha_one_beta_zero_counts_only_false_positives():
    t = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0]], dtype=F64)
    miss_all = torch.zeros_like(t)  # FN = 2, FP = 0
    over = torch.ones_like(t)  # FN = 0, FP = 3
    fp_only = dict(alpha=1.0, beta=0.0, smooth=0.0)
    assert tversky_loss(miss_all, t, **fp_only).item() == 0.0  # TP = 0, denominator 0: the limit, 0
    assert tversky_loss(over, t, **fp_only).item() == pytest.approx(1 - 2 / 5, rel=1e-15)  # 1 - 2/(2 + 3)
    fn_only = dict(alpha=0.0, beta=1.0, smooth=1.0)
    assert tversky_loss(over, t, **fn_only).item() == 0.0  # (2 + 1)/(2 + 0 + 1)
    assert tversky_loss(miss_all, t, **fn_only).item() == pytest.approx(1 - 1 / 3, rel=1e-15)


@given(st.floats(0.0, 3.0), st.floats(0.0, 3.0), st.floats(0.0, 5.0))
def test_tversky_grows_with_alpha_and_beta(a, b, s):
    probs, target = masks((3, 8), soft_target=True, seed=5)
    if a == 0 and b == 0:
        a = 0.1
    lo = tversky_loss(probs, target, alpha=a, beta=b, smooth=s, reduction="none")
    hi = tversky_loss(probs, target, alpha=a + 0.5, beta=b + 0.5, smooth=s, reduction="none")
    assert (lo >= 0).all() and (lo <= 1).all() and (hi >= lo).all()


@pytest.mark.parametrize("params", [{}, {"alpha": 0.6, "beta": 0.4, "smooth": 0.1}], ids=params_id)
def test_focal_gamma_one_is_tversky_in_value_and_gradient(params):
    ab = {k: v for k, v in params.items()}
    probs, target = masks((3, 2, 5), soft_target=True, seed=6)
    grads = []
    for loss in (lambda p: focal_tversky_loss(p, target, gamma=1.0, **ab),
                 lambda p: tversky_loss(p, target, alpha=ab.get("alpha", 0.3), beta=ab.get("beta", 0.7),
                                        smooth=ab.get("smooth", 1.0))):
        p = probs.clone().requires_grad_(True)
        out = loss(p)
        grads.append((out.detach(), torch.autograd.grad(out, p)[0]))
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


def test_focal_gamma_below_one_weighs_good_samples_more():
    # d(l^g)/dl = g l^(g-1), > 1 for l < g^(1/(1-g)): at g = 0.75 below 0.75^4 = 0.316. A well segmented
    # sample (l below it) gets a larger gradient than under Tversky, a badly segmented one a smaller
    probs, target = masks((2, 20), seed=7)
    probs = torch.stack([target[0] * 0.95 + 0.02, probs[1]])  # sample 0 nearly right
    lt = tversky_loss(probs, target, alpha=0.3, beta=0.7, reduction="none")
    assert lt[0] < 0.75**4 < lt[1]
    grads = []
    for fn in (focal_tversky_loss, lambda p, t, **kw: tversky_loss(p, t, alpha=0.3, beta=0.7, **kw)):
        p = probs.clone().requires_grad_(True)
        grads.append(torch.autograd.grad(fn(p, target, reduction="sum"), p)[0])
    ratio = grads[0].norm(dim=1) / grads[1].norm(dim=1)
    torch.testing.assert_close(ratio, 0.75 * lt ** (0.75 - 1))
    assert ratio[0] > 1 > ratio[1]


# ==========================================================================
# Extreme inputs, empty batches


@pytest.mark.parametrize("key", ["tversky_loss", "focal_tversky_loss"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_probabilities_zero_and_one_empty_and_full_masks(key, dtype):
    probs = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0],
                          [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]], dtype=dtype, requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0],
                           [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]], dtype=dtype)
    fn = getattr(lossbook, key)
    for s in (1.0, 0.0):
        out = fn(probs, target, smooth=s, reduction="none")
        want = np_tversky(probs.detach().double().numpy(), target.double().numpy(),
                          *((0.5, 0.5) if key == "tversky_loss" else (0.3, 0.7)), s)
        if key == "focal_tversky_loss":
            want = want**0.75
        torch.testing.assert_close(out, torch.as_tensor(want, dtype=dtype))
        assert out[2] == 0 and out[3] == 0 and out[4] == 0  # perfect, both empty, perfect
        assert torch.isfinite(torch.autograd.grad(out.sum(), probs)[0]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_lovasz_logits_of_1e4(dtype):
    logits = torch.tensor([[1e4, -1e4, 1e4, -1e4], [-1e4, -1e4, 1e4, 1e4], [1e4, 1e4, -1e4, -1e4]],
                          dtype=dtype, requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]], dtype=dtype)
    out = lovasz_hinge(logits, target, reduction="none")
    # all right with margin: 0; empty mask, two false positives of error 1e4 + 1: the largest, 10001;
    # all wrong: errors 10001 each, Delta_J climbs to 1 over the prefixes: 10001
    torch.testing.assert_close(out, torch.tensor([0.0, 10001.0, 10001.0], dtype=dtype))
    assert torch.isfinite(torch.autograd.grad(out.sum(), logits)[0]).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(0,), (0, 3, 3)], ids=str)
@pytest.mark.parametrize("key", ["tversky_loss", "focal_tversky_loss", "lovasz_hinge"])
def test_empty_batch(key, shape, reduction):
    x = torch.zeros(shape, requires_grad=True)
    out = getattr(lossbook, key)(x, torch.zeros(shape), reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0
    out.backward()
    assert x.grad is not None and x.grad.shape == shape


@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 10_000))
def test_per_sample_and_reductions(n, k, seed):
    for key, (x, t) in (("tversky_loss", masks((n, k), seed=seed)), ("focal_tversky_loss", masks((n, k), seed=seed)),
                        ("lovasz_hinge", logit_masks((n, k), seed=seed))):
        fn = getattr(lossbook, key)
        none = fn(x, t, reduction="none")
        alone = torch.cat([fn(x[i : i + 1], t[i : i + 1], reduction="none") for i in range(n)])
        torch.testing.assert_close(none, alone, rtol=0, atol=0)
        torch.testing.assert_close(fn(x, t), none.mean())
        torch.testing.assert_close(fn(x, t, reduction="sum"), none.sum())
        assert (none >= 0).all()
