"""lossbook.classification: limits, hypothesis properties, extreme inputs, low precision, empty batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lossbook
from classification_cases import F64, NC, NCHW, class_weight, distribution, indices, logits, np_softmax_focal, unit
from common import REDUCTIONS
from lossbook import catalog

KEYS = [r.key for r in catalog.by_family("classification")]
LOSSES = {k: getattr(lossbook, k) for k in KEYS}


def _entropy(q):  # -sum_c q_c log q_c per position, 0 log 0 = 0
    return -torch.xlogy(q, q).sum(1)


# ==========================================================================
# Limits: a loss equals a simpler one in a limit, value and gradient.
# name -> f(z, reduction) -> (loss, simpler loss), z the differentiable input.

_Y, _Y4 = indices((NC[0],), 4), indices((NCHW[0], *NCHW[2:]), 4)
_YI = indices((NC[0],), 4, ignore=-100)
_W, _Q, _T = class_weight(4), distribution(NC, zeros=True), unit(NC)
_ONE_HOT = F.one_hot(_Y, 4).to(F64)
LIMITS = {
    "softmax_focal(gamma=0) == cross_entropy": (NC, lambda z, r: (
        lossbook.softmax_focal(z, _Y, gamma=0.0, reduction=r), lossbook.cross_entropy(z, _Y, reduction=r))),
    "softmax_focal(gamma=0, weight) == cross_entropy(weight)": (NCHW, lambda z, r: (
        lossbook.softmax_focal(z, _Y4, gamma=0.0, weight=_W, reduction=r),
        lossbook.cross_entropy(z, _Y4, weight=_W, reduction=r))),
    "focal(gamma=0, alpha=None) == bce_with_logits": (NC, lambda z, r: (
        lossbook.focal(z, _T, gamma=0.0, alpha=None, reduction=r),
        lossbook.binary_cross_entropy_with_logits(z, _T, reduction=r))),
    "nll(log_softmax) == cross_entropy": (NC, lambda z, r: (
        lossbook.nll(F.log_softmax(z, 1), _YI, weight=_W, reduction=r),
        lossbook.cross_entropy(z, _YI, weight=_W, reduction=r))),
    "bce(sigmoid) == bce_with_logits": (NC, lambda z, r: (  # |z| <= ~6: sigmoid far from 0 and 1
        lossbook.binary_cross_entropy(torch.sigmoid(z), _T, reduction=r),
        lossbook.binary_cross_entropy_with_logits(z, _T, reduction=r))),
    "kl_divergence == cross_entropy(probs) - H(q)": (NC, lambda z, r: (
        lossbook.kl_divergence(z, _Q, reduction=r),
        lossbook.cross_entropy(z, _Q, reduction=r) - {"none": _entropy(_Q), "sum": _entropy(_Q).sum(),
                                                      "mean": _entropy(_Q).mean()}[r])),
    "cross_entropy(one-hot) == cross_entropy(index)": (NC, lambda z, r: (
        lossbook.cross_entropy(z, _ONE_HOT, reduction=r), lossbook.cross_entropy(z, _Y, reduction=r))),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LIMITS)
def test_limit(name, reduction):
    shape, pair = LIMITS[name]
    z = logits(shape, seed=3).requires_grad_(True)
    a, b = pair(z, reduction)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    ga, gb = (torch.autograd.grad(v.sum(), z)[0] for v in (a, b))
    torch.testing.assert_close(ga, gb, rtol=1e-12, atol=1e-12)


def test_weighted_one_hot_agrees_except_in_the_mean():
    # per sample and summed, one-hot probabilities and indices agree, weighted too; but PyTorch
    # divides by N for probability targets and by sum(w_y) for indices
    z = logits(NC).requires_grad_(True)
    for reduction in ("none", "sum"):
        a, b = (lossbook.cross_entropy(z, y, weight=_W, reduction=reduction) for y in (_ONE_HOT, _Y))
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(_grad(a, z), _grad(b, z), rtol=1e-12, atol=1e-12)
    total = lossbook.cross_entropy(z, _Y, weight=_W, reduction="sum")
    torch.testing.assert_close(lossbook.cross_entropy(z, _ONE_HOT, weight=_W), total / NC[0])
    torch.testing.assert_close(lossbook.cross_entropy(z, _Y, weight=_W), total / _W[_Y].sum())


@pytest.mark.parametrize("c", [2, 3, 10])
def test_uniform_logits(c):
    # softmax of equal logits is 1/C: CE = log C for any target, gradient (1/C - onehot) / N;
    # the sigmoid of 0 is 1/2: BCE = log 2, gradient (1/2 - t) / numel; focal(0, t=1) = alpha (1/2)^gamma log 2
    z = torch.full((4, c), 3.0, dtype=F64, requires_grad=True)
    y = torch.arange(4) % c
    loss = lossbook.cross_entropy(z, y)
    assert math.isclose(loss.item(), math.log(c), rel_tol=1e-14)
    (g,) = torch.autograd.grad(loss, z)
    torch.testing.assert_close(g, (1 / c - F.one_hot(y, c).to(F64)) / 4, rtol=0, atol=1e-15)
    x = torch.zeros(4, c, dtype=F64, requires_grad=True)
    t = (torch.arange(4 * c, dtype=F64).view(4, c) % 2)
    loss = lossbook.binary_cross_entropy_with_logits(x, t)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-14)
    torch.testing.assert_close(torch.autograd.grad(loss, x)[0], (0.5 - t) / (4 * c), rtol=0, atol=1e-15)
    focal = lossbook.focal(x, torch.ones_like(x), reduction="none")
    torch.testing.assert_close(focal, torch.full_like(x, 0.25 * 0.5**2 * math.log(2)), rtol=1e-14, atol=0)


# ==========================================================================
# Properties (hypothesis)


@st.composite
def batch(draw, lo=-30.0, hi=30.0):
    """Float64 logits (N, C) or (N, C, 2), index targets, a target distribution, class weights."""
    n, c, extra = draw(st.integers(1, 5)), draw(st.integers(2, 4)), draw(st.sampled_from([(), (2,)]))
    shape = (n, c, *extra)
    z = torch.from_numpy(draw(arrays(np.float64, shape, elements=st.floats(lo, hi))))
    y = torch.from_numpy(draw(arrays(np.int64, (n, *extra), elements=st.integers(0, c - 1))))
    u = torch.from_numpy(draw(arrays(np.float64, shape, elements=st.floats(0, 1))))
    q = (u + (u.sum(1, keepdim=True) == 0)) / (u + (u.sum(1, keepdim=True) == 0)).sum(1, keepdim=True)
    t = torch.from_numpy(draw(arrays(np.float64, shape, elements=st.floats(0, 1))))
    w = torch.from_numpy(draw(arrays(np.float64, (c,), elements=st.floats(0.1, 10))))
    return z, y, q, t, w


_gamma = st.floats(0, 5)
_alpha = st.one_of(st.none(), st.floats(0, 1))


def _args(key, b, data, weighted):
    """(args, kwargs) of ``key`` built from a drawn batch."""
    z, y, q, t, w = b
    wk = {"weight": w} if weighted else {}
    if key == "cross_entropy":
        ls = data.draw(st.sampled_from([0.0, 0.1, 1.0]))
        return (z, data.draw(st.sampled_from([y, q]))), {**wk, "label_smoothing": ls}
    if key == "nll":
        return (F.log_softmax(z, 1), y), wk
    if key == "binary_cross_entropy":
        return (torch.sigmoid(z), t), {}
    if key == "binary_cross_entropy_with_logits":
        return (z, t), {"pos_weight": w[: z.shape[-1]] if z.dim() == 2 else w[:1]} if weighted else {}
    if key == "kl_divergence":
        return (z, q), {}
    if key == "hinge":
        return (z, torch.where(t < 0.5, -1.0, 1.0).to(F64)), {"margin": data.draw(st.floats(0, 3))}
    if key == "multiclass_hinge":
        return (z.flatten(1)[:, : z.shape[1]], y.flatten()[: z.shape[0]].clamp(max=z.shape[1] - 1)), {
            **wk, "p": data.draw(st.sampled_from([1, 2])), "margin": data.draw(st.floats(0, 3))}
    if key == "focal":
        return (z, t), {"alpha": data.draw(_alpha), "gamma": data.draw(_gamma)}
    return (z, y), {**wk, "gamma": data.draw(_gamma)}  # softmax_focal


@pytest.mark.parametrize("key", KEYS)
@given(b=batch(), data=st.data())
def test_nonnegative(key, b, data):
    args, kwargs = _args(key, b, data, weighted=data.draw(st.booleans()))
    loss = LOSSES[key](*args, reduction="none", **kwargs)
    # KL sums terms q (log q - log p) of either sign: rounding can leave -1e-14 when p = q
    assert (loss >= (-1e-12 if key == "kl_divergence" else 0)).all(), loss


@pytest.mark.parametrize("key", KEYS)
@given(b=batch(), data=st.data())
def test_reductions_consistent(key, b, data):
    weighted = key in ("cross_entropy", "nll", "softmax_focal", "multiclass_hinge", "binary_cross_entropy_with_logits")
    args, kwargs = _args(key, b, data, weighted=weighted and data.draw(st.booleans()))
    none = LOSSES[key](*args, reduction="none", **kwargs)
    torch.testing.assert_close(LOSSES[key](*args, reduction="sum", **kwargs), none.sum(), rtol=1e-12, atol=1e-12)
    mean = none.mean()
    index_target = not args[1].is_floating_point()
    if "weight" in kwargs and index_target and key != "multiclass_hinge":  # PyTorch's weighted mean
        mean = none.sum() / kwargs["weight"][args[1]].sum()
    torch.testing.assert_close(LOSSES[key](*args, reduction="mean", **kwargs), mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(LOSSES[key](*args, **kwargs), mean, rtol=1e-12, atol=1e-12)  # the default


def _grad(loss, x):
    return torch.autograd.grad(loss.sum(), x)[0]


def _perfect(key, b, data):
    """(loss at a perfect prediction, gradient there, the minimum value) — None where no finite one exists."""
    z, y, q, t, w = b
    if key == "kl_divergence":  # q = softmax(z): KL = 0
        z = z.clone().requires_grad_(True)
        loss = lossbook.kl_divergence(z, torch.softmax(z, 1).detach(), reduction="none")
        return loss, _grad(loss, z), torch.zeros_like(loss)
    if key == "cross_entropy":  # soft targets q = softmax(z): the minimum over z is H(q)
        z = z.clone().requires_grad_(True)
        q = torch.softmax(z, 1).detach()
        loss = lossbook.cross_entropy(z, q, reduction="none")
        return loss, _grad(loss, z), _entropy(q)
    if key == "binary_cross_entropy":  # p = t: the minimum is the binary entropy of t, 0 for t in {0, 1}
        t = data.draw(st.sampled_from([t, t.round()]))
        p = t.clone().requires_grad_(True)
        loss = lossbook.binary_cross_entropy(p, t, reduction="none")
        return loss, _grad(loss, p), -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t))
    if key == "binary_cross_entropy_with_logits":  # t = sigmoid(x)
        x = z.clone().requires_grad_(True)
        t = torch.sigmoid(z)
        loss = lossbook.binary_cross_entropy_with_logits(x, t, reduction="none")
        return loss, _grad(loss, x), -(torch.xlogy(t, t) + torch.xlogy(1 - t, 1 - t))
    # multiples of 2**-10 below 2**6: every sum and difference below is exact
    m, z = data.draw(st.integers(0, 3 * 1024)) / 1024, torch.round(z * 1024) / 1024
    if key == "hinge":  # t s >= m
        sign = torch.where(t < 0.5, -1.0, 1.0).to(F64)
        s = (sign * (m + z.abs())).requires_grad_(True)
        loss = lossbook.hinge(s, sign, margin=m, reduction="none")
        return loss, _grad(loss, s), torch.zeros_like(loss)
    if key == "multiclass_hinge":  # s_y >= s_c + m for every c != y
        s, y = z.flatten(1)[:, : z.shape[1]], y.flatten()[: z.shape[0]].clamp(max=z.shape[1] - 1)
        rows = torch.arange(len(y))
        s = s.index_put((rows, y), s.max(1).values + m + z.flatten()[: len(y)].abs()).requires_grad_(True)
        loss = lossbook.multiclass_hinge(s, y, margin=m, p=data.draw(st.sampled_from([1, 2])), reduction="none")
        return loss, _grad(loss, s), torch.zeros_like(loss)
    return None


PERFECT = ["kl_divergence", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "hinge", "multiclass_hinge"]  # nll, focal, softmax_focal reach 0 only as logits go to infinity


@pytest.mark.parametrize("key", PERFECT)
@given(b=batch(lo=-8.0, hi=8.0), data=st.data())
def test_zero_or_minimal_at_a_perfect_prediction(key, b, data):
    loss, grad, minimum = _perfect(key, b, data)
    exact = key in ("hinge", "multiclass_hinge")
    torch.testing.assert_close(loss, minimum, rtol=0 if exact else 1e-9, atol=0 if exact else 1e-12)
    torch.testing.assert_close(grad, torch.zeros_like(grad), rtol=0, atol=0 if exact else 1e-9)


def test_perfect_covers_every_loss_with_a_finite_minimiser():
    assert set(PERFECT) | {"nll", "focal", "softmax_focal"} == set(KEYS)


@given(b=batch(), gamma=_gamma)
def test_focal_at_most_bce_with_logits(b, gamma):
    z, _, _, t, _ = b
    focal = lossbook.focal(z, t, alpha=None, gamma=gamma, reduction="none")
    bce = lossbook.binary_cross_entropy_with_logits(z, t, reduction="none")
    # (1 - p_t)^gamma <= 1. Slack: PyTorch's BCE, x + log(e^-x + 1) for x < 0, is off by ~eps (1 + |x|)
    # in absolute terms (relative 4e-8 at x = -17), where focal's log-sigmoid is accurate
    assert (focal <= bce + 4 * np.finfo(np.float64).eps * (1 + z.abs())).all()


@given(b=batch(), g=st.lists(_gamma, min_size=2, max_size=2).map(sorted), alpha=_alpha)
def test_focal_nonincreasing_in_gamma(b, g, alpha):
    z, _, _, t, _ = b
    lo, hi = (lossbook.focal(z, t, alpha=alpha, gamma=x, reduction="none") for x in g)
    assert (hi <= lo * (1 + 1e-12)).all()  # base 1 - p_t <= 1; slack: log(1 - p_t) may round to +1e-16


# ==========================================================================
# Extreme inputs: logits of +-1e4 in float32. Values and gradients by hand:
# rows (1e4, -1e4, 0): log-sum-exp = 1e4, so -log p = (0, 2e4, 1e4); gradient p - onehot, p = (1, 0, 0).

_SAT = torch.tensor([[1e4, -1e4, 0.0]] * 3)
_SAT_Y = torch.tensor([0, 1, 2])
_SAT_CE = ([0.0, 2e4, 1e4], [[0.0, 0, 0], [1, -1, 0], [1, 0, -1]])
# x = (1e4, -1e4, 1e4, -1e4), t = (1, 0, 0, 1): the last two are confidently wrong.
_X, _XT = torch.tensor([1e4, -1e4, 1e4, -1e4]), torch.tensor([1.0, 0, 0, 1])
SATURATED = {  # name -> (f(z) -> per-sample loss, z, value, gradient of the sum)
    "cross_entropy": (lambda z: lossbook.cross_entropy(z, _SAT_Y, reduction="none"), _SAT, *_SAT_CE),
    "nll(log_softmax)": (lambda z: lossbook.nll(F.log_softmax(z, 1), _SAT_Y, reduction="none"), _SAT, *_SAT_CE),
    # gamma >= 0: (1 - p_y)^gamma is 0 for the right row, 1 for the wrong ones
    **{f"softmax_focal(gamma={g})": (lambda z, g=g: lossbook.softmax_focal(z, _SAT_Y, gamma=g, reduction="none"),
                                     _SAT, *_SAT_CE) for g in (0.5, 2.0)},
    # softplus(-x t') = (0, 0, 1e4, 1e4); gradient sigmoid(x) - t
    "bce_with_logits": (lambda x: lossbook.binary_cross_entropy_with_logits(x, _XT, reduction="none"),
                        _X, [0.0, 0, 1e4, 1e4], [0.0, 0, 1, -1]),
    # alpha_t (1 - p_t)^gamma CE with 1 - p_t in {0, 0, 1, 1}: (0, 0, 0.75e4, 0.25e4); slope alpha_t * (+-1)
    **{f"focal(gamma={g})": (lambda x, g=g: lossbook.focal(x, _XT, gamma=g, reduction="none"),
                             _X, [0.0, 0, 7500, 2500], [0.0, 0, 0.75, -0.25]) for g in (0.5, 2.0)},
    # q = (1/2, 0, 1/2): KL = 1/2 (log 1/2 - 0) + 1/2 (log 1/2 + 1e4) = 5e3 - log 2; q = (1, 0, 0): 0
    "kl_divergence": (lambda z: lossbook.kl_divergence(z, torch.tensor([[0.5, 0, 0.5], [1, 0, 0], [1, 0, 0]]),
                                                       reduction="none"),
                      _SAT, [5e3 - math.log(2), 0, 0], [[0.5, 0, -0.5], [0, 0, 0], [0, 0, 0]]),
}


@pytest.mark.parametrize("name", SATURATED)
def test_saturated_logits_are_finite(name):
    f, z, value, grad = SATURATED[name]
    z = z.clone().requires_grad_(True)
    loss = f(z)
    torch.testing.assert_close(loss, torch.tensor(value), rtol=1e-6, atol=1e-3)  # float32 ulp at 1e4 ~ 1e-3
    torch.testing.assert_close(_grad(loss, z), torch.tensor(grad), rtol=1e-6, atol=1e-6)
    for reduction in ("mean", "sum"):
        total = f(z).sum() if reduction == "sum" else f(z).mean()
        assert torch.isfinite(total) and torch.isfinite(_grad(total, z)).all()


def test_naive_focal_gradient_is_nan_at_a_saturated_logit():
    # torchvision's formula: at x = 1e4, t = 1, p = 1 in float32, so (1 - p_t)**0.5 = 0 and its
    # derivative 0.5 * 0**-0.5 = inf meets a CE of 0: 0 * inf = NaN
    x, t = torch.tensor([1e4, 20.0], requires_grad=True), torch.ones(2)
    p = torch.sigmoid(x)
    naive = F.binary_cross_entropy_with_logits(x, t, reduction="none") * (1 - (p * t + (1 - p) * (1 - t))) ** 0.5
    assert torch.isnan(_grad(naive, x)).all()
    ours = lossbook.focal(x, t, gamma=0.5, alpha=None, reduction="none")
    g = _grad(ours, x)
    assert torch.isfinite(g).all() and (g <= 0).all() and (g > -1e-6).all()  # ~ -1.5 e^{-1.5 x}
    assert (ours >= 0).all() and (ours < 1e-9).all()


def test_binary_cross_entropy_of_probabilities_0_and_1():
    # PyTorch clamps log p and log(1 - p) at -100, and divides the gradient (p - t) by
    # max(p (1 - p), 1e-12): so 0 or 100, and 0 or +-1e12 — finite
    p, t = torch.tensor([0.0, 0, 1, 1], requires_grad=True), torch.tensor([0.0, 1, 0, 1])
    loss = lossbook.binary_cross_entropy(p, t, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([0.0, 100, 100, 0]), rtol=0, atol=0)
    torch.testing.assert_close(_grad(loss, p), torch.tensor([0.0, -1e12, 1e12, 0]))
    for reduction in ("mean", "sum"):
        out = lossbook.binary_cross_entropy(p, t, reduction=reduction)
        assert torch.isfinite(out) and torch.isfinite(_grad(out, p)).all()


def _half_inputs(key, dtype):
    z = logits((4, 3), seed=5)
    y, q, t = indices((4,), 3, seed=5), distribution((4, 3), seed=5), unit((4, 3), seed=5)
    return {"cross_entropy": (z, y), "nll": (F.log_softmax(z, 1), y), "binary_cross_entropy": (torch.sigmoid(z), t),
            "binary_cross_entropy_with_logits": (z, t), "kl_divergence": (z, q), "hinge": (z, t.round() * 2 - 1),
            "multiclass_hinge": (z, y), "focal": (z, t), "softmax_focal": (z, y)}[key]


@pytest.mark.parametrize("dtype, rtol", [(torch.float16, 1e-2), (torch.bfloat16, 5e-2)], ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_half_precision_keeps_dtype(key, dtype, rtol):
    exact = _half_inputs(key, dtype)
    args = tuple(a.to(dtype) if a.is_floating_point() else a for a in exact)
    x = args[0].clone().requires_grad_(True)
    if key == "multiclass_hinge":  # PyTorch has no half-precision CPU kernel for multi_margin_loss
        with pytest.raises(NotImplementedError, match="multi_margin_loss"):
            F.multi_margin_loss(x, args[1])
        with pytest.raises(NotImplementedError, match="multi_margin_loss"):
            lossbook.multiclass_hinge(x, args[1])
        return
    for reduction in REDUCTIONS:
        out = LOSSES[key](x, *args[1:], reduction=reduction)
        g = _grad(out, x)
        assert out.dtype == dtype and g.dtype == dtype and torch.isfinite(g).all()
        want = LOSSES[key](*(a.double() if a.is_floating_point() else a for a in args), reduction=reduction)
        torch.testing.assert_close(out.double(), want, rtol=rtol, atol=rtol * 1e-1)


# ==========================================================================
# Empty batches: "mean" and "sum" give a zero that backpropagates, "none" an empty tensor.

EMPTY = {  # key -> inputs with N = 0; per-sample "none" shape
    "cross_entropy": [(torch.empty(0, 4), torch.empty(0, dtype=torch.long)),
                      (torch.empty(0, 4, 2, 3), torch.empty(0, 2, 3, dtype=torch.long)),
                      (torch.empty(0, 4), torch.empty(0, 4))],
    "nll": [(torch.empty(0, 4), torch.empty(0, dtype=torch.long))],
    "binary_cross_entropy": [(torch.empty(0), torch.empty(0)), (torch.empty(0, 3), torch.empty(0, 3))],
    "binary_cross_entropy_with_logits": [(torch.empty(0, 3), torch.empty(0, 3))],
    "kl_divergence": [(torch.empty(0, 4), torch.empty(0, 4)), (torch.empty(0, 4, 5), torch.empty(0, 4, 5))],
    "hinge": [(torch.empty(0), torch.empty(0))],
    "multiclass_hinge": [(torch.empty(0, 4), torch.empty(0, dtype=torch.long))],  # PyTorch: uninitialised memory
    "focal": [(torch.empty(0, 3), torch.empty(0, 3))],
    "softmax_focal": [(torch.empty(0, 4), torch.empty(0, dtype=torch.long)),
                      (torch.empty(0, 4, 2), torch.empty(0, 2, dtype=torch.long))],
}


@pytest.mark.parametrize("key, args", [pytest.param(k, a, id=f"{k}-{tuple(a[0].shape)}-{a[1].dtype}")
                                       for k in KEYS for a in EMPTY[k]])
def test_empty_batch(key, args):
    x = args[0].clone().requires_grad_(True)
    for reduction in ("mean", "sum"):
        out = LOSSES[key](x, *args[1:], reduction=reduction)
        assert out.shape == () and out.item() == 0.0  # not NaN
        assert _grad(out, x).shape == x.shape
    none = LOSSES[key](x, *args[1:], reduction="none")
    assert none.numel() == 0 and none.shape[0] == 0


@pytest.mark.parametrize("key, target", [
    ("cross_entropy", torch.empty(2, 0, dtype=torch.long)), ("cross_entropy", torch.empty(2, 4, 0)),
    ("nll", torch.empty(2, 0, dtype=torch.long)), ("kl_divergence", torch.empty(2, 4, 0)),
    ("softmax_focal", torch.empty(2, 0, dtype=torch.long)),
], ids=lambda v: str(v.dtype) if isinstance(v, torch.Tensor) else v)
def test_empty_spatial_dimension_gives_zero(key, target):
    # N = 2 samples of size 0 along d1: nothing to average; PyTorch's own mean is NaN for probabilities
    z = torch.empty(2, 4, 0, requires_grad=True)
    out = LOSSES[key](z, target)
    assert out.item() == 0.0 and _grad(out, z).shape == z.shape


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_softmax_focal_where_p_y_underflows_float32(gamma):
    # p_y = e^{-100}, e^{-200}, e^{-300} underflow float32 (smallest normal ~ e^{-87}), yet
    # -log p_y = 100, 200, 300 (to about e^{-5}) and 1 - p_y = 1 are representable: the loss is
    # -log p_y itself, and float32 must agree with a float64 evaluation of the same numbers.
    z = torch.tensor([[0.0, -100.0, -5.0], [0.0, -200.0, 10.0], [300.0, 0.0, -1.0], [1.0, 2.0, 3.0]])
    y = torch.tensor([1, 1, 1, 2])
    z32 = z.clone().requires_grad_(True)
    z64 = z.double().requires_grad_(True)
    v32 = lossbook.softmax_focal(z32, y, gamma=gamma, reduction="none")
    v64 = lossbook.softmax_focal(z64, y, gamma=gamma, reduction="none")
    np.testing.assert_allclose(v64.detach().numpy(), np_softmax_focal(z.double().numpy(), y.numpy(), gamma=gamma,
                                                                      reduction="none"), rtol=1e-12)
    torch.testing.assert_close(v32.double(), v64.detach(), rtol=1e-6, atol=0.0)
    torch.testing.assert_close(_grad(v32, z32).double(), _grad(v64, z64), rtol=1e-5, atol=1e-6)
