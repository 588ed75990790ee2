"""lossbook.post_training (distillation_kl, jsd, dpo_loss, ipo_loss, simpo_loss) against
float64 NumPy evaluations written from the papers' formulas and against F.kl_div; gradients
(gradcheck, gradgradcheck, DPO's weighting), hand-worked values, limits and identities,
extreme, empty and bad inputs.

Where TRL (huggingface/trl) differs from the paper, the comment says so and both are tested:
- GKD's generalised JSD: TRL's GKDTrainer returns KL(teacher || student) at beta = 0 and
  KL(student || teacher) at beta = 1. The formula of the paper (and lossbook) gives 0 at both
  ends: those two KLs are the limits of jsd / beta and jsd / (1 - beta) (test_jsd_limits).
- IPO: TRL averages the log-probabilities over the response's tokens before the loss
  (loss_type="ipo"), where Azar et al. write the sequence log-probabilities; lossbook takes
  whatever log-probabilities it is given, so both are one call (test_ipo_with_length_averaged_inputs).
- DPO's label smoothing is TRL's "sigmoid" loss with label_smoothing (cDPO), the same formula;
  SimPO is TRL's CPO trainer's "simpo" loss, where -logsigmoid(beta (c - r - gamma / beta))
  equals the paper's -logsigmoid(beta (c - r) - gamma).

REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests; tests/test_catalog.py
reads them to check that every post-training loss in the catalog is covered.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook
from bad_input import bad_input_tests, class_pair_cases, number_cases, reduction_cases, unit_parameter_cases
from common import DTYPES, F32, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import post_training
from lossbook.post_training import distillation_kl, dpo_loss, ipo_loss, jsd, simpo_loss

KEYS = list(post_training.__all__)
LOSSES = {k: getattr(post_training, k) for k in KEYS}
PREFERENCE = ("dpo_loss", "ipo_loss")


def logits_pair(shape=(5, 7), *, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn((2, *shape), generator=g, dtype=F64)).unbind(0)


def log_probs(n=6, *, seed=0, k=4):
    """``k`` seeded (n,) tensors of log-probabilities in (-5, -1)."""
    g = torch.Generator().manual_seed(seed)
    return tuple((-(1 + 4 * torch.rand((k, n), generator=g, dtype=F64))).unbind(0))


# ==========================================================================
# float64 NumPy references, from the papers' formulas


def np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def np_kl(log_p, log_q):
    """KL(p || q) per sample, summed over every non-batch axis, with 0 log 0 = 0."""
    p = np.exp(log_p)
    terms = np.where(p > 0, p * (log_p - log_q), 0.0)
    return terms.reshape(len(terms), -1).sum(axis=1)


def np_distillation_kl(s, t, temperature=1.0, reverse=False):
    ls, lt = np_log_softmax(s / temperature), np_log_softmax(t / temperature)
    return temperature**2 * (np_kl(ls, lt) if reverse else np_kl(lt, ls))


def np_jsd(s, t, beta=0.5, temperature=1.0):
    ps, pt = np.exp(np_log_softmax(s / temperature)), np.exp(np_log_softmax(t / temperature))
    m = beta * pt + (1 - beta) * ps

    def kl(p):  # KL(p || m), explicit loop over the samples
        out = []
        for pi, mi in zip(p, m):
            pi, mi = pi.ravel(), mi.ravel()
            out.append(sum(a * math.log(a / b) for a, b in zip(pi, mi) if a > 0))
        return np.array(out)

    return temperature**2 * (beta * kl(pt) + (1 - beta) * kl(ps))


def np_logsigmoid(x):
    return -np.logaddexp(0.0, -x)


def np_dpo(pc, pr, rc, rr, beta=0.1, label_smoothing=0.0):
    h = beta * ((pc - rc) - (pr - rr))
    return -(1 - label_smoothing) * np_logsigmoid(h) - label_smoothing * np_logsigmoid(-h)


def np_ipo(pc, pr, rc, rr, beta=0.1):
    return ((pc - rc) - (pr - rr) - 1 / (2 * beta)) ** 2


def np_simpo(c, r, beta=2.0, gamma=1.0):
    return -np_logsigmoid(beta * (c - r) - gamma)


# ==========================================================================
# REFERENCE

REFERENCE = {
    "distillation_kl": [{}, {"temperature": 2.0}, {"temperature": 0.5}, {"reverse": True},
                        {"reverse": True, "temperature": 4.0}],
    "jsd": [{}, {"beta": 0.1}, {"beta": 0.9, "temperature": 2.0}, {"beta": 0.0}, {"beta": 1.0}],
    "dpo_loss": [{}, {"beta": 0.5}, {"label_smoothing": 0.1}, {"beta": 1.0, "label_smoothing": 0.5}],
    "ipo_loss": [{}, {"beta": 0.5}, {"beta": 2.0}],
    "simpo_loss": [{}, {"beta": 2.5, "gamma": 0.5}, {"gamma": 0.0}],
}
NP_REF = {"distillation_kl": np_distillation_kl, "jsd": np_jsd, "dpo_loss": np_dpo, "ipo_loss": np_ipo,
          "simpo_loss": np_simpo}


def _cases(keys):
    return [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in keys for p in REFERENCE[k]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 2, 3)], ids=str)
@pytest.mark.parametrize("key, params", _cases(["distillation_kl", "jsd"]))
def test_distillation_matches_formula(key, params, shape, reduction, dtype):
    s, t = (x.to(dtype) for x in logits_pair(shape))
    got = LOSSES[key](s, t, reduction=reduction, **params)
    assert got.dtype == dtype and got.shape == ((shape[0],) if reduction == "none" else ())
    want = NP_REDUCE[reduction](NP_REF[key](s.double().numpy(), t.double().numpy(), **params))
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **dtype_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, params", _cases(["dpo_loss", "ipo_loss", "simpo_loss"]))
def test_preference_matches_formula(key, params, reduction, dtype):
    x = tuple(v.to(dtype) for v in log_probs(k=4 if key in PREFERENCE else 2))
    got = LOSSES[key](*x, reduction=reduction, **params)
    assert got.dtype == dtype and got.shape == ((6,) if reduction == "none" else ())
    want = NP_REDUCE[reduction](NP_REF[key](*(v.double().numpy() for v in x), **params))
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **dtype_tol(dtype))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_distillation_kl_is_t_squared_times_kl_div(temperature, reverse):
    s, t = logits_pair((6, 9), seed=3)
    ls, lt = F.log_softmax(s / temperature, 1), F.log_softmax(t / temperature, 1)
    inp, target = (lt, ls) if reverse else (ls, lt)
    want = temperature**2 * F.kl_div(inp, target, log_target=True, reduction="batchmean")
    torch.testing.assert_close(distillation_kl(s, t, temperature=temperature, reverse=reverse), want)
    per = temperature**2 * F.kl_div(inp, target, log_target=True, reduction="none").sum(1)
    torch.testing.assert_close(distillation_kl(s, t, temperature=temperature, reverse=reverse, reduction="none"), per)


# ==========================================================================
# Hand-worked values


def test_hand_worked_values():
    # DPO: policy = reference gives h = 0 and -log sigma(0) = log 2, for every beta and smoothing
    lp = torch.tensor([-3.0, -7.0], dtype=F64)
    for beta, e in ((0.1, 0.0), (1.0, 0.3)):
        assert dpo_loss(lp, lp - 1, lp, lp - 1, beta=beta, label_smoothing=e).item() == pytest.approx(math.log(2))
    # DPO: a log-ratio margin of 10 at beta = 0.5 gives h = 5 and log(1 + e^-5)
    zero = torch.zeros(1, dtype=F64)
    assert dpo_loss(zero + 10, zero, zero, zero, beta=0.5).item() == pytest.approx(math.log1p(math.exp(-5)))
    # IPO: at the target margin 1/(2 beta) = 5 (beta = 0.1) the loss is 0; at margin 0 it is 5^2 = 25
    assert ipo_loss(zero + 5, zero, zero, zero, beta=0.1).item() == pytest.approx(0.0, abs=1e-12)
    assert ipo_loss(zero, zero, zero, zero, beta=0.1).item() == pytest.approx(25.0)
    # SimPO: c = r gives -log sigma(-gamma) = log(1 + e^gamma): log(1 + e) for gamma = 1
    assert simpo_loss(zero - 1, zero - 1).item() == pytest.approx(math.log1p(math.e))
    # distillation_kl: teacher one-hot-like [log 1, log 0] vs uniform student: KL = log 2 (T = 1)
    s, t = torch.zeros(1, 2, dtype=F64), torch.tensor([[0.0, -1e4]], dtype=F64)
    assert distillation_kl(s, t).item() == pytest.approx(math.log(2))
    # reverse: KL(uniform || [1, 0]) is infinite in theory; with a logit gap of 1e4 it is
    # 0.5 * log(0.5 / 1) + 0.5 * log(0.5 / e^-1e4) = 0.5 * 1e4 - log 2 (to rounding)
    assert distillation_kl(s, t, reverse=True).item() == pytest.approx(0.5e4 - math.log(2), rel=1e-12)
    # JSD at beta = 1/2 between two (almost) disjoint distributions is log 2
    a, b = torch.tensor([[40.0, 0.0]], dtype=F64), torch.tensor([[0.0, 40.0]], dtype=F64)
    assert jsd(a, b).item() == pytest.approx(math.log(2), rel=1e-12)


# ==========================================================================
# Limits and identities


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_forward_distillation_is_kl_divergence_of_the_teachers_softmax(temperature):
    s, t = logits_pair((5, 6), seed=4)
    want = temperature**2 * lossbook.kl_divergence(s / temperature, F.softmax(t / temperature, 1))
    torch.testing.assert_close(distillation_kl(s, t, temperature=temperature), want)


def test_jsd_is_symmetric_at_one_half_and_not_elsewhere():
    s, t = logits_pair((6, 5), seed=5)
    torch.testing.assert_close(jsd(s, t, beta=0.5), jsd(t, s, beta=0.5))
    assert not torch.allclose(jsd(s, t, beta=0.2), jsd(t, s, beta=0.2))
    torch.testing.assert_close(jsd(s, t, beta=0.2), jsd(t, s, beta=0.8))  # swapping the roles swaps beta


def test_jsd_limits():
    s, t = logits_pair((6, 5), seed=6)
    # lossbook (the paper's formula): 0 at both ends, exactly
    assert jsd(s, t, beta=0.0).item() == 0.0 and jsd(s, t, beta=1.0).item() == 0.0
    # TRL's ends are the limits of jsd / beta and jsd / (1 - beta): forward and reverse KL
    eps = 1e-6
    torch.testing.assert_close(jsd(s, t, beta=eps) / eps, distillation_kl(s, t), rtol=1e-4, atol=0)
    torch.testing.assert_close(jsd(s, t, beta=1 - eps) / eps, distillation_kl(s, t, reverse=True), rtol=1e-4, atol=0)


def test_jsd_is_bounded_by_the_entropy_of_the_mixing_weights():
    s, t = logits_pair((50, 4), seed=7, scale=20.0)  # near-disjoint distributions
    for beta in (0.1, 0.5, 0.8):
        bound = -beta * math.log(beta) - (1 - beta) * math.log(1 - beta)
        per = jsd(s, t, beta=beta, reduction="none")
        assert (per >= -1e-12).all() and (per <= bound + 1e-12).all()
        per_t = jsd(s, t, beta=beta, temperature=3.0, reduction="none")
        assert (per_t <= 9 * bound + 1e-10).all()  # the factor T^2


def test_dpo_without_smoothing_is_minus_logsigmoid():
    pc, pr, rc, rr = log_probs(seed=8)
    h = 0.3 * ((pc - rc) - (pr - rr))
    torch.testing.assert_close(dpo_loss(pc, pr, rc, rr, beta=0.3, reduction="none"), -F.logsigmoid(h))


def test_dpo_gradient_is_the_papers_weighting():
    # Rafailov et al., eq. 7: grad = -beta * sigma(-h) * (grad log pi(y_w) - grad log pi(y_l))
    pc, pr, rc, rr = log_probs(seed=9)
    pc.requires_grad_(True), pr.requires_grad_(True), rc.requires_grad_(True), rr.requires_grad_(True)
    beta = 0.5
    gc, gr, grc, grr = torch.autograd.grad(dpo_loss(pc, pr, rc, rr, beta=beta, reduction="sum"),
                                           (pc, pr, rc, rr), allow_unused=True)
    h = beta * ((pc - rc) - (pr - rr)).detach()
    torch.testing.assert_close(gc, -beta * torch.sigmoid(-h))
    torch.testing.assert_close(gr, beta * torch.sigmoid(-h))
    assert grc is None and grr is None  # the reference is detached


def test_dpo_smoothing_minimum_and_symmetry():
    # -(1-e) log s(h) - e log s(-h) has derivative -(1-e) s(-h) + e s(h): 0 at h* = log((1-e)/e)
    e, beta = 0.2, 1.0
    h = torch.tensor([math.log((1 - e) / e)], dtype=F64, requires_grad=True)
    zero = torch.zeros(1, dtype=F64)
    (g,) = torch.autograd.grad(dpo_loss(h, zero, zero, zero, beta=beta, label_smoothing=e), h)
    assert abs(g.item()) < 1e-12
    # at e = 1/2 the loss is even in h: no preference at all
    x = torch.linspace(-5, 5, 11, dtype=F64)
    z = torch.zeros_like(x)
    torch.testing.assert_close(dpo_loss(x, z, z, z, label_smoothing=0.5, reduction="none"),
                               dpo_loss(-x, z, z, z, label_smoothing=0.5, reduction="none"))


def test_ipo_minimum_is_at_margin_one_over_two_beta():
    for beta in (0.1, 0.5, 2.0):
        g = torch.tensor([1 / (2 * beta)], dtype=F64, requires_grad=True)
        zero = torch.zeros(1, dtype=F64)
        loss = ipo_loss(g, zero, zero, zero, beta=beta)
        (grad,) = torch.autograd.grad(loss, g)
        assert loss.item() == pytest.approx(0.0, abs=1e-20) and abs(grad.item()) < 1e-12
        assert ipo_loss(g + 0.1, zero, zero, zero, beta=beta) > 0 and ipo_loss(g - 0.1, zero, zero, zero, beta=beta) > 0


def test_dpo_keeps_falling_while_ipo_turns_up():
    margins = torch.linspace(0, 40, 9, dtype=F64)
    z = torch.zeros_like(margins)
    d = dpo_loss(margins, z, z, z, beta=0.1, reduction="none")
    i = ipo_loss(margins, z, z, z, beta=0.1, reduction="none")
    assert (d.diff() < 0).all()  # DPO: ever-larger margins always lower the loss
    assert (i[margins < 5].diff() < 0).all() and (i[margins > 5].diff() > 0).all()


def test_ipo_with_length_averaged_inputs():
    # TRL's IPO averages log-probabilities over tokens first; with lossbook that is the caller's
    # division. Paper (sums) and TRL (means) are the same call on different inputs.
    pc, pr, rc, rr = log_probs(seed=10)
    lengths_c, lengths_r = torch.tensor([3.0, 5, 2, 7, 4, 6], dtype=F64), torch.tensor([4.0, 2, 6, 3, 5, 1], dtype=F64)
    got = ipo_loss(pc / lengths_c, pr / lengths_r, rc / lengths_c, rr / lengths_r, reduction="none")
    want = ((pc - rc) / lengths_c - (pr - rr) / lengths_r - 5.0) ** 2
    torch.testing.assert_close(got, want)


def test_simpo_with_gamma_zero_is_a_bradley_terry_logistic_loss():
    c, r = log_probs(seed=11, k=2)
    beta = 2.5
    want = F.binary_cross_entropy_with_logits(beta * (c - r), torch.ones_like(c))
    torch.testing.assert_close(simpo_loss(c, r, beta=beta, gamma=0.0), want)
    # and DPO with a reference that gives every response log-probability 0
    z = torch.zeros_like(c)
    torch.testing.assert_close(simpo_loss(c, r, beta=beta, gamma=0.0), dpo_loss(c, r, z, z, beta=beta))
    # TRL's form: -logsigmoid(beta * (c - r - gamma / beta))
    torch.testing.assert_close(simpo_loss(c, r, beta=beta, gamma=0.7), -F.logsigmoid(beta * (c - r - 0.7 / beta)).mean())


@pytest.mark.parametrize("key", ["distillation_kl", "jsd"])
def test_teacher_is_detached(key):
    s, t = logits_pair(seed=12)
    t.requires_grad_(True)
    s.requires_grad_(True)
    gs, gt = torch.autograd.grad(LOSSES[key](s, t), (s, t), allow_unused=True)
    assert gt is None and torch.isfinite(gs).all()


def test_losses_are_nonnegative_and_reductions_agree():
    for seed in range(5):
        s, t = logits_pair((8, 6), seed=seed, scale=3.0)
        x4, x2 = log_probs(8, seed=seed), log_probs(8, seed=seed, k=2)
        for key in KEYS:
            args = (s, t) if key in ("distillation_kl", "jsd") else x4 if key in PREFERENCE else x2
            per = LOSSES[key](*args, reduction="none")
            assert (per >= -1e-12).all(), key
            torch.testing.assert_close(LOSSES[key](*args, reduction="sum"), per.sum())
            torch.testing.assert_close(LOSSES[key](*args), per.mean())


@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key):
    args = (torch.zeros(0, 3, requires_grad=True), torch.zeros(0, 3)) if key in ("distillation_kl", "jsd") else (
        tuple(torch.zeros(0, requires_grad=True) for _ in range(4 if key in PREFERENCE else 2)))
    for reduction in ("mean", "sum"):
        out = LOSSES[key](*args, reduction=reduction)
        assert out.shape == () and out.item() == 0.0
        out.backward()
    assert LOSSES[key](*args, reduction="none").shape == (0,)


@pytest.mark.parametrize("key", KEYS)
def test_dtype_is_kept(key):
    for dtype in (torch.float16, torch.bfloat16, F32, F64):
        args = (torch.randn(3, 4).to(dtype), torch.randn(3, 4).to(dtype)) if key in ("distillation_kl", "jsd") else (
            tuple(-torch.rand(3).to(dtype) for _ in range(4 if key in PREFERENCE else 2)))
        assert LOSSES[key](*args).dtype == dtype


# ==========================================================================
# Extreme inputs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("key, params", [("distillation_kl", {}), ("distillation_kl", {"reverse": True}),
                                         ("jsd", {}), ("jsd", {"beta": 0.1}), ("jsd", {"beta": 0.0})],
                         ids=lambda v: params_id(v) if isinstance(v, dict) else v)
def test_distillation_extreme_logits_are_finite(key, params, temperature, dtype):
    g = torch.Generator().manual_seed(13)
    signs = torch.where(torch.rand(6, 5, generator=g) < 0.5, -1.0, 1.0)
    s = (1e4 * signs).to(dtype).requires_grad_(True)
    t = (1e4 * torch.roll(signs, 1, dims=1)).to(dtype)
    value = LOSSES[key](s, t, temperature=temperature, **params)
    (grad,) = torch.autograd.grad(value, s)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    # identical student and teacher: 0 exactly for the KL, within rounding (relative to T^2) for the JSD
    same = LOSSES[key](s, s.detach(), temperature=temperature, reduction="none", **params)
    (grad,) = torch.autograd.grad(same.sum(), s)
    assert torch.isfinite(grad).all()
    if key == "distillation_kl":
        assert (same == 0).all()
    else:
        assert (same.abs() <= 1e-5 * temperature**2).all()


@pytest.mark.parametrize("key", ["distillation_kl", "jsd"])
def test_identical_ordinary_distributions(key):
    s, _ = logits_pair((6, 8), seed=14)
    s32 = s.float()
    if key == "distillation_kl":
        assert (distillation_kl(s32, s32.clone(), reduction="none") == 0).all()
        assert (distillation_kl(s32, s32 + 3.0, reduction="none").abs() < 1e-6).all()  # a shift: same softmax
    else:
        for beta in (0.3, 0.5):
            assert (jsd(s32, s32.clone(), beta=beta, reduction="none").abs() < 1e-6).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", ["dpo_loss", "ipo_loss", "simpo_loss"])
def test_preference_extreme_log_prob_differences_are_finite(key, dtype):
    big = torch.tensor([1e3, -1e3, 0.0, 5e2], dtype=dtype)
    zero = torch.zeros(4, dtype=dtype)
    pc = (zero - 1e3 + big.clamp(min=0)).requires_grad_(True)
    pr = (zero - 1e3 + (-big).clamp(min=0)).requires_grad_(True)
    args = (pc, pr, zero - 1.0, zero - 1.0) if key in PREFERENCE else (pc, pr)
    for params in ({}, {"beta": 10.0}) + (({"label_smoothing": 0.3},) if key == "dpo_loss" else ()):
        value = LOSSES[key](*args, reduction="none", **params)
        grads = torch.autograd.grad(value.sum(), (pc, pr))
        assert torch.isfinite(value).all() and all(torch.isfinite(g).all() for g in grads)
    if key == "dpo_loss":  # a right ranking by 1e3 at beta = 0.1: h = 100, loss e^-100 (not 0 by cancellation)
        assert dpo_loss(*args, reduction="none")[0].item() == pytest.approx(math.exp(-100), rel=1e-3)
        assert dpo_loss(*args, reduction="none")[1].item() == pytest.approx(100, rel=1e-6)


# ==========================================================================
# GRADCHECK (float64): the student's logits, the policy's log-probabilities

GRADCHECK = {
    "distillation_kl": [{}, {"temperature": 2.0}, {"reverse": True, "temperature": 0.7}],
    "jsd": [{}, {"beta": 0.2, "temperature": 1.5}, {"beta": 0.9}],
    "dpo_loss": [{}, {"beta": 0.5, "label_smoothing": 0.2}],
    "ipo_loss": [{}, {"beta": 0.5}],
    "simpo_loss": [{}, {"beta": 2.5, "gamma": 0.5}],
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "key, params", [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in KEYS for p in GRADCHECK[k]]
)
def test_gradcheck(key, params, reduction):
    fn = LOSSES[key]
    if key in ("distillation_kl", "jsd"):
        s, t = logits_pair((3, 4), seed=15)
        s.requires_grad_(True)
        f = lambda x: fn(x, t, reduction=reduction, **params)  # noqa: E731
        inputs = (s,)
    elif key in PREFERENCE:
        pc, pr, rc, rr = log_probs(4, seed=16)
        f = lambda a, b: fn(a, b, rc, rr, reduction=reduction, **params)  # noqa: E731
        inputs = (pc.requires_grad_(True), pr.requires_grad_(True))
    else:
        c, r = log_probs(4, seed=17, k=2)
        f = lambda a, b: fn(a, b, reduction=reduction, **params)  # noqa: E731
        inputs = (c.requires_grad_(True), r.requires_grad_(True))
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


# ==========================================================================
# BAD_INPUT (see bad_input.py)

_Z, _Q = torch.zeros(4, 3), torch.full((4, 3), 1 / 3)
_P = tuple(torch.full((4,), -1.0) for _ in range(4))
_TENSOR, _FLOATING = r" must be a torch\.Tensor, got ", r" must have a floating-point dtype"


def _response_cases(names):
    """(N,) log-probabilities ``names`` (valid: float32 (4,)) of the wrong type, dtype, rank,
    shape or device; an unknown ``reduction``."""
    first, valid = names[0], _P[: len(names)]

    def args(i, v):
        return valid[:i] + (v,) + valid[i + 1:]

    rank = rf"^{first} must have shape \(N,\), one log-probability per response, got "
    cases = [
        (f"{first}-list", args(0, [-1.0] * 4), {}, TypeError, f"^{first}{_TENSOR}list$"),
        (f"{first}-int", args(0, torch.zeros(4, dtype=torch.int64)), {}, TypeError, f"^{first}{_FLOATING}"),
        (f"{first}-N1", tuple(torch.zeros(4, 1) for _ in names), {}, ValueError, rank + r"\(4, 1\)$"),
        (f"{first}-0d", tuple(torch.tensor(0.0) for _ in names), {}, ValueError, rank + r"\(\)$"),
    ]
    for i, n in enumerate(names[1:], start=1):
        same = rf"^{n} must have the same shape as {first} \(4,\), got "
        cases += [
            (f"{n}-ndarray", args(i, np.zeros(4, np.float32)), {}, TypeError, f"^{n}{_TENSOR}ndarray$"),
            (f"{n}-int", args(i, torch.zeros(4, dtype=torch.int32)), {}, TypeError, f"^{n}{_FLOATING}"),
            (f"{n}-f64", args(i, torch.zeros(4, dtype=F64)), {}, TypeError,
             rf"^{n} must have the same dtype as {first} \(torch\.float32\), got torch\.float64$"),
            (f"{n}-N1", args(i, torch.zeros(4, 1)), {}, ValueError, same + r"\(4, 1\)"),
            (f"{n}-N+1", args(i, torch.zeros(5)), {}, ValueError, same + r"\(5,\)"),
            (f"{n}-device", args(i, torch.zeros(4, device="meta")), {}, ValueError,
             rf"^{n} must be on the same device as {first} \(cpu\), got meta$"),
        ]
    return cases + reduction_cases(valid)


_DPO = ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected")
_distill = class_pair_cases(("student_logits", "teacher_logits")) + [
    ("teacher-device", (_Z, _Q.to("meta")), {}, ValueError,
     r"^teacher_logits must be on the same device as student_logits \(cpu\), got meta$"),
] + number_cases("temperature", positive=True, args=(_Z, _Q))

BAD_INPUT = {
    "distillation_kl": _distill + [
        ("reverse-int", (_Z, _Q), {"reverse": 1}, TypeError, r"^reverse must be a bool, got int$"),
        ("reverse-str", (_Z, _Q), {"reverse": "yes"}, TypeError, r"^reverse must be a bool, got str$"),
    ],
    "jsd": _distill + unit_parameter_cases("beta", args=(_Z, _Q)),
    "dpo_loss": _response_cases(_DPO) + number_cases("beta", positive=True, args=_P) + [
        c for c in number_cases("label_smoothing", positive=False, args=_P)
    ] + [
        (f"label_smoothing={v}", _P, {"label_smoothing": v}, ValueError,
         rf"^label_smoothing must be in \[0, 0\.5\], got {v}$") for v in (0.75, 1.0, 0.5 + 1e-9)
    ],
    "ipo_loss": _response_cases(_DPO) + number_cases("beta", positive=True, args=_P),
    "simpo_loss": _response_cases(("chosen", "rejected")) + number_cases("beta", positive=True, args=_P[:2])
    + number_cases("gamma", positive=False, args=_P[:2]),
}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


def test_bad_input_tables_name_every_tensor():
    ids = {c[0] for c in BAD_INPUT["dpo_loss"]}
    assert {f"{n}-f64" for n in _DPO[1:]} <= ids and "policy_chosen-N1" in ids
    assert {"teacher_logits-ndarray", "f32-vs-f64", "temperature=0", "beta=1.5"} <= {c[0] for c in BAD_INPUT["jsd"]}


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    args = (_Z, _Q) if key in ("distillation_kl", "jsd") else _P if key in PREFERENCE else _P[:2]
    with pytest.raises(TypeError, match=f"takes {len(args)} positional arguments but {len(args) + 1} were given"):
        LOSSES[key](*args, 0.5)
