"""lossbook.segmentation's dice_loss against a float64 NumPy reference, gradients,
hand-worked cases, properties, extreme and bad inputs.

The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every segmentation loss in the
catalog is covered. Those of tversky_loss, focal_tversky_loss and lovasz_hinge
come from tests/segmentation_cases.py (their tests are in
tests/test_segmentation_overlap.py; their bad inputs run here).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from bad_input import (
    bad_input_tests,
    number_cases, pair_cases, unit_interval_value_cases,
)
from common import F32, F64, REDUCTIONS, params_id
import segmentation_cases as overlap
from lossbook import segmentation
from lossbook.segmentation import dice_loss

KEYS = list(segmentation.__all__)
LOSSES = {k: getattr(segmentation, k) for k in KEYS}


def masks(shape, dtype=F64, *, seed=0, soft_target=False):
    """Seeded ``(probs, target)``: probabilities in (0, 1); a binary (about 30% ones) or soft target."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(shape, generator=g, dtype=F64)
    u = torch.rand(shape, generator=g, dtype=F64)
    target = u if soft_target else (u < 0.3).to(F64)
    return probs.to(dtype), target.to(dtype)


# ==========================================================================
# REFERENCE: a float64 NumPy evaluation of the docstring formula, per sample.


def np_dice(p, t, smooth=1.0):
    p, t = p.reshape(len(p), -1), t.reshape(len(t), -1)
    return 1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)


REFERENCE = {"dice_loss": [{}, {"smooth": 1e-6}, {"smooth": 0.5}, {"smooth": 10.0}], **overlap.REFERENCE}
SHAPES = [(5,), (3, 6, 7), (3, 1, 6, 7), (2, 3, 4, 5)]


@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft"])
@pytest.mark.parametrize("dtype", [pytest.param(F32, id="f32"), pytest.param(F64, id="f64")])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("params", REFERENCE["dice_loss"], ids=params_id)
def test_matches_reference(params, shape, dtype, soft):
    probs, target = masks(shape, dtype, soft_target=soft)
    per = np_dice(probs.double().numpy(), target.double().numpy(), **params)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == F32 else dict(rtol=1e-12, atol=1e-14)
    for reduction, reduce in (("mean", np.mean), ("sum", np.sum), ("none", np.asarray)):
        got = dice_loss(probs, target, reduction=reduction, **params)
        assert got.dtype == dtype and got.shape == ((shape[0],) if reduction == "none" else ())
        want = torch.as_tensor(reduce(per), dtype=dtype)
        torch.testing.assert_close(got, want, **tol, msg=lambda m: f"{reduction}: {m}")


def test_one_value_per_sample_for_shape_n():
    # (N,): each sample is one pixel: 1 - (2 p t + s) / (p + t + s)
    p, t = torch.tensor([0.25, 1.0, 0.0], dtype=F64), torch.tensor([1.0, 1.0, 0.0], dtype=F64)
    # 1 - (0.5 + 1)/(1.25 + 1) = 1/3; 1 - 3/3 = 0; 1 - 1/1 = 0
    torch.testing.assert_close(dice_loss(p, t, reduction="none"), torch.tensor([1 / 3, 0, 0], dtype=F64))


def test_hand_worked():
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0]], dtype=F64)
    t = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=F64)
    # overlap 0.5: (2 * 0.5 + 1) / (1 + 2 + 1) = 2/4 -> 1/2; with s = 0.5: (1.5)/(3.5) -> 4/7
    assert dice_loss(p, t).item() == 0.5
    assert dice_loss(p, t, smooth=0.5).item() == pytest.approx(4 / 7, rel=1e-15)


# ==========================================================================
# GRADCHECK: the loss is a ratio of sums with a denominator >= smooth > 0,
# smooth everywhere: first and second derivatives against finite differences.

GRADCHECK = {"dice_loss": [{}, {"smooth": 0.1}, {"smooth": 5.0}], **overlap.GRADCHECK}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("params", GRADCHECK["dice_loss"], ids=params_id)
def test_gradcheck(params, reduction):
    probs, target = masks((2, 3, 4), seed=1, soft_target=True)
    inputs = (probs.requires_grad_(True), target.requires_grad_(True))
    fn = lambda p, t: dice_loss(p, t, reduction=reduction, **params)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs)
    if reduction == "none":  # the reductions are linear: one is enough for second derivatives
        assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# Properties (hypothesis). Probabilities are multiples of 1/256, so every sum
# below is exact in float64.

_unit = st.integers(0, 256).map(lambda i: i / 256)
_bit = st.sampled_from([0.0, 1.0])
_smooth = st.floats(1e-3, 10.0)


@st.composite
def batch(draw, values=_unit, n_min=1):
    """A float64 ``(N, H, W)`` mask, N in [n_min, 4], H, W in [1, 4]."""
    n, h, w = draw(st.integers(n_min, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return torch.tensor(draw(st.lists(values, min_size=n * h * w, max_size=n * h * w)), dtype=F64).reshape(n, h, w)


@st.composite
def pairs(draw, values=_unit):
    p = draw(batch(values))
    t = torch.tensor(draw(st.lists(values, min_size=p.numel(), max_size=p.numel())), dtype=F64)
    return p, t.reshape(p.shape)


@given(pairs(), _smooth)
def test_in_unit_interval(pt, s):
    # 2 p t <= p + t for p, t in [0, 1], so 0 < (2 sum pt + s) / (sum p + sum t + s) <= 1
    out = dice_loss(*pt, smooth=s, reduction="none")
    assert (out >= 0).all() and (out <= 1).all()


@given(batch(_bit), _smooth)
def test_zero_at_a_perfect_binary_prediction(t, s):
    # p = t binary with A ones: sum pt = sum p = sum t = A -> 1 - (2A + s)/(2A + s) = 0 exactly
    probs = t.clone().requires_grad_(True)
    out = dice_loss(probs, t, smooth=s, reduction="none")
    assert (out == 0).all()
    assert torch.isfinite(torch.autograd.grad(out.sum(), probs)[0]).all()


@given(batch(), _smooth)
def test_all_zero_prediction(t, s):
    # sum pt = sum p = 0, A = sum t: 1 - (0 + s)/(0 + A + s) = 1 - s/(A + s)
    area = t.flatten(1).sum(1)
    out = dice_loss(torch.zeros_like(t), t, smooth=s, reduction="none")
    torch.testing.assert_close(out, 1 - s / (area + s), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("s", [1.0, 0.01])
def test_both_masks_empty(s):
    probs, target = (torch.zeros(2, 3, 3, dtype=F64, requires_grad=True) for _ in "pt")
    out = dice_loss(probs, target, smooth=s, reduction="sum")
    assert out.item() == 0.0  # 1 - s/s: nothing predicted, nothing there
    # d/dp_i [1 - (2I + s)/D] = -(2 t_i D - (2I + s))/D^2 with D = P + T + s; at p = t = 0: s/s^2 = 1/s
    for g in torch.autograd.grad(out, (probs, target)):
        torch.testing.assert_close(g, torch.full_like(g, 1 / s), rtol=1e-14, atol=0)


@given(pairs(), _smooth)
def test_per_sample(pt, s):
    # each sample's loss depends on that sample only: the batch gives what each sample gives alone
    p, t = pt
    both = dice_loss(p, t, smooth=s, reduction="none")
    alone = torch.cat([dice_loss(p[i : i + 1], t[i : i + 1], smooth=s, reduction="none") for i in range(len(p))])
    torch.testing.assert_close(both, alone, rtol=0, atol=0)


@given(pairs(), _smooth)
def test_reductions_consistent(pt, s):
    none = dice_loss(*pt, smooth=s, reduction="none")
    torch.testing.assert_close(dice_loss(*pt, smooth=s, reduction="sum"), none.sum())
    torch.testing.assert_close(dice_loss(*pt, smooth=s, reduction="mean"), none.mean())
    torch.testing.assert_close(dice_loss(*pt, smooth=s), none.mean())  # the default


@given(pairs())
def test_symmetric_in_probs_and_target(pt):
    p, t = pt
    torch.testing.assert_close(dice_loss(p, t, reduction="none"), dice_loss(t, p, reduction="none"), rtol=0, atol=0)


# ==========================================================================
# Extreme inputs, empty batches


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_probabilities_exactly_zero_and_one(dtype):
    probs = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]], dtype=dtype)
    target = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]], dtype=dtype)
    probs.requires_grad_(True)
    out = dice_loss(probs, target, reduction="none")
    # 1 - (2 + 1)/(2 + 2 + 1) = 2/5; 1 - 1/(0 + 4 + 1) = 4/5; 1 - 1/(4 + 0 + 1) = 4/5
    torch.testing.assert_close(out, torch.tensor([2 / 5, 4 / 5, 4 / 5], dtype=dtype))
    assert torch.isfinite(torch.autograd.grad(out.sum(), probs)[0]).all()


def test_large_masks_float32():
    probs = torch.ones(2, 1, 256, 256, requires_grad=True)
    target = torch.zeros(2, 1, 256, 256)
    target[:, :, :128] = 1.0
    out = dice_loss(probs, target, reduction="none")
    # sum p = 65536, sum t = sum pt = 32768 (exact in float32): 1 - (65536 + 1)/(98304 + 1)
    torch.testing.assert_close(out, torch.full((2,), 1 - 65537 / 98305))
    assert torch.isfinite(torch.autograd.grad(out.sum(), probs)[0]).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(0,), (0, 3, 3)], ids=str)
def test_empty_batch(shape, reduction):
    probs = torch.zeros(shape, requires_grad=True)
    out = dice_loss(probs, torch.zeros(shape), reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0
    out.backward()
    assert probs.grad is not None and probs.grad.shape == shape


# ==========================================================================
# BAD_INPUT: key -> cases (id, args, kwargs, error, message pattern); a ValueCase is a
# value-range check, which lossbook.value_checks(False) skips (see bad_input.py).

_P, _T = torch.full((2, 3), 0.5), torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.25, 1.0]])
_NOBROADCAST = r"^target must have the same shape as probs "
BAD_INPUT = {
    "dice_loss": pair_cases(("probs", "target"))
    + number_cases("smooth", positive=True, args=(_P, _T))
    + [("probs-0d", (torch.tensor(0.5), torch.tensor(0.5)), {}, ValueError,
        r"^probs must have a batch dimension, shape \(N, \*\), got a scalar$"),
       ("N1HW-vs-NHW", (torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4)), {}, ValueError,
        _NOBROADCAST + r"\(2, 1, 4, 4\), got \(2, 4, 4\)"),
       ("NHW-vs-N1HW", (torch.zeros(2, 4, 4), torch.zeros(2, 1, 4, 4)), {}, ValueError,
        _NOBROADCAST + r"\(2, 4, 4\), got \(2, 1, 4, 4\)"),
       ("NHW-vs-1HW", (torch.zeros(2, 4, 4), torch.zeros(1, 4, 4)), {}, ValueError,
        _NOBROADCAST + r"\(2, 4, 4\), got \(1, 4, 4\)")]
    + unit_interval_value_cases((_P, _T), 0, "probs") + unit_interval_value_cases((_P, _T), 1, "target"),
    **overlap.BAD_INPUT,
}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        LOSSES[key](_P, _T, 1.0)
