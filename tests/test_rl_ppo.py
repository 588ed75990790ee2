"""ppo_clip_loss against a float64 NumPy evaluation of Schulman et al.'s eq. 7, gradients,
hand-worked cases (where the clip makes the gradient 0, where it is -r A, its relation to
policy_gradient_loss), what is detached, extreme log-ratios and empty batches. Its bad inputs
run in tests/test_rl.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from common import DTYPES, F32, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import policy_gradient_loss, ppo_clip_loss
from rl_ppo_cases import GRADCHECK, REFERENCE, np_ppo_clip, rollout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(32,), (8, 4)], ids=str)
@pytest.mark.parametrize("params", REFERENCE["ppo_clip_loss"], ids=params_id)
def test_matches_reference(params, shape, reduction, dtype):
    lp, old, adv = rollout(shape, dtype=dtype)
    got = ppo_clip_loss(lp, old, adv, reduction=reduction, **params)
    assert got.dtype == dtype and got.shape == (shape if reduction == "none" else ())
    want = NP_REDUCE[reduction](np_ppo_clip(*(x.double().numpy() for x in (lp, old, adv)), **params))
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **dtype_tol(dtype))


def test_reference_data_has_every_case():
    # ratios below, inside and above [0.8, 1.2], with both signs of advantage
    lp, old, adv = rollout((32,))
    r = torch.exp(lp - old)
    for side in (r < 0.8, (r > 0.8) & (r < 1.2), r > 1.2):
        assert (side & (adv > 0)).any() and (side & (adv < 0)).any()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("params", GRADCHECK["ppo_clip_loss"], ids=params_id)
def test_gradcheck(params, reduction):
    # piecewise smooth in log_probs, with kinks where the ratio is 1 +- clip: keep 0.02 away from them
    lp, old, adv = rollout((4, 3), seed=2)
    clip = params.get("clip", 0.2)
    def near(x):
        r = torch.exp(x - old)
        return ((r - (1 - clip)).abs() < 0.02) | ((r - (1 + clip)).abs() < 0.02)

    lp = torch.where(near(lp), lp + 0.06, lp)  # a ratio near a kink moves 6% up, past it
    assert not near(lp).any()
    r = torch.exp(lp - old)
    assert ((r - (1 - clip)).abs() > 0.02).all() and ((r - (1 + clip)).abs() > 0.02).all()
    fn = lambda x: ppo_clip_loss(x, old, adv, reduction=reduction, **params)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (lp.requires_grad_(True),))
    assert torch.autograd.gradgradcheck(fn, (lp,))


def test_hand_worked():
    # old probability 0.5; new 0.75, 0.55, 0.25, 0.75, 0.25: ratios 1.5, 1.1, 0.5, 1.5, 0.5
    old = torch.log(torch.full((5,), 0.5, dtype=F64))
    lp = torch.log(torch.tensor([0.75, 0.55, 0.25, 0.75, 0.25], dtype=F64)).requires_grad_(True)
    adv = torch.tensor([2.0, 2.0, 2.0, -1.0, -1.0], dtype=F64)
    out = ppo_clip_loss(lp, old, adv, reduction="none")
    # A = 2: min(3, 1.2 * 2) = 2.4 (clipped); min(2.2, 2.2) = 2.2 (inside); min(1, 0.8 * 2 = 1.6) = 1 (not clipped)
    # A = -1: min(-1.5, -1.2) = -1.5 (not clipped); min(-0.5, -0.8) = -0.8 (clipped)
    torch.testing.assert_close(out, torch.tensor([-2.4, -2.2, -1.0, 1.5, 0.8], dtype=F64))
    (g,) = torch.autograd.grad(out.sum(), lp)
    # d(-r A)/d log pi = -r A where the unclipped term is taken, 0 where the clip is
    torch.testing.assert_close(g, torch.tensor([0.0, -2.2, -1.0, 1.5, 0.0], dtype=F64))


@given(st.floats(-0.3, 0.3), st.floats(-5, 5), st.sampled_from([0.1, 0.2, 0.4]))
def test_inside_the_clip_range_it_is_minus_ratio_times_advantage(delta, a, clip):
    if abs(math.exp(delta) - 1) >= clip - 1e-9:
        delta = 0.5 * math.log1p(clip * 0.9)  # inside
    lp = torch.tensor([delta], dtype=F64, requires_grad=True)
    out = ppo_clip_loss(lp, torch.zeros(1, dtype=F64), torch.tensor([a], dtype=F64), clip=clip)
    r = math.exp(delta)
    assert out.item() == pytest.approx(-r * a, rel=1e-14, abs=1e-300)
    assert torch.autograd.grad(out, lp)[0].item() == pytest.approx(-r * a, rel=1e-14, abs=1e-300)


@given(st.floats(0.05, 3.0), st.floats(0.01, 5.0), st.sampled_from([0.1, 0.2, 0.4]))
def test_clipped_where_the_advantage_pushes_gradient_zero(excess, a, clip):
    # A > 0 and ratio beyond 1 + clip; A < 0 and ratio below 1 - clip: flat, value -(1 +- clip) A
    up = torch.tensor([math.log(1 + clip + excess)], dtype=F64, requires_grad=True)
    down = torch.tensor([math.log((1 - clip) / (1 + excess))], dtype=F64, requires_grad=True)
    zero = torch.zeros(1, dtype=F64)
    out_up = ppo_clip_loss(up, zero, torch.tensor([a], dtype=F64), clip=clip)
    out_down = ppo_clip_loss(down, zero, torch.tensor([-a], dtype=F64), clip=clip)
    assert out_up.item() == pytest.approx(-(1 + clip) * a, rel=1e-14)
    assert out_down.item() == pytest.approx((1 - clip) * a, rel=1e-14)
    assert torch.autograd.grad(out_up, up)[0].item() == 0.0
    assert torch.autograd.grad(out_down, down)[0].item() == 0.0
    # the other side is not clipped: A > 0 with the ratio below 1 - clip still gets -r A
    out = ppo_clip_loss(down, zero, torch.tensor([a], dtype=F64), clip=clip)
    r = math.exp(down.item())
    assert torch.autograd.grad(out, down)[0].item() == pytest.approx(-r * a, rel=1e-14)


@given(st.lists(st.floats(-6, 6), min_size=1, max_size=8), st.sampled_from([0.1, 0.2]))
def test_at_ratio_one_the_gradient_is_the_policy_gradient(advs, clip):
    # at log_probs == old_log_probs (the first epoch's first step) r = 1: the value is -A, not
    # policy_gradient_loss's -log pi A, but the gradients with respect to log pi agree: -A / n
    old = torch.log(torch.linspace(0.1, 0.9, len(advs), dtype=F64))
    adv = torch.tensor(advs, dtype=F64)
    lp = old.clone().requires_grad_(True)
    ours = ppo_clip_loss(lp, old, adv, clip=clip)
    pg = policy_gradient_loss(lp, adv)
    torch.testing.assert_close(ours, -adv.mean(), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(torch.autograd.grad(ours, lp)[0], torch.autograd.grad(pg, lp)[0], rtol=1e-14, atol=0)


def test_old_log_probs_and_advantages_are_detached():
    lp, old, adv = rollout((6,), seed=3)
    old.requires_grad_(True), adv.requires_grad_(True)
    lp.requires_grad_(True)
    out = ppo_clip_loss(lp, old, adv)
    g_lp, g_old, g_adv = torch.autograd.grad(out, (lp, old, adv), allow_unused=True)
    assert g_lp is not None and g_old is None and g_adv is None


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_extreme_log_ratios(dtype):
    # differences of +-50 are the formula exactly; +-1e4 would overflow exp: the cap at 50 keeps
    # them finite, with gradient 0 beyond it
    diff = torch.tensor([50.0, 50.0, -50.0, -50.0, 1e4, 1e4, -1e4, -1e4], dtype=dtype)
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0, 1e6, -1e6, 1e6, -1e6], dtype=dtype)
    lp = diff.clone().requires_grad_(True)
    out = ppo_clip_loss(lp, torch.zeros_like(diff), adv, reduction="none")
    e50 = math.exp(50.0)
    want = torch.tensor([-1.2, e50, -math.exp(-50.0), 0.8, -1.2e6, 1e6 * e50, 0.0, 0.8e6], dtype=dtype)
    torch.testing.assert_close(out, want)
    (g,) = torch.autograd.grad(out.sum(), lp)
    assert torch.isfinite(out).all() and torch.isfinite(g).all()
    torch.testing.assert_close(g, torch.tensor([0.0, e50, -math.exp(-50.0), 0.0, 0.0, 0.0, 0.0, 0.0], dtype=dtype))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(reduction):
    lp = torch.zeros(0, requires_grad=True)
    out = ppo_clip_loss(lp, torch.zeros(0), torch.zeros(0), reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0
    assert torch.autograd.grad(out, lp)[0].shape == (0,)
