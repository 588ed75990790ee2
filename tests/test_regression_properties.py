"""lossbook.regression: hypothesis properties, limits, extreme inputs, low precision, empty batches.

The loss wrappers and seeded data come from test_regression.py, which holds the
reference, gradient, sympy and bad-input tables.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import lossbook
from common import F32, F64
from test_regression import KEYS, REDUCED, call, reductions, residual_data


# ==========================================================================
# Properties (hypothesis). Values are multiples of 2**-10 below 2**10 in
# magnitude, so t + r and t - r are exact and (t + r) - t == r.

_dyadic = st.integers(-(2**20), 2**20).map(lambda i: i / 2**10)
_eps = np.finfo(np.float64).eps
_sign = st.sampled_from([-1.0, 1.0])
_delta = st.fixed_dictionaries({"delta": st.floats(0.01, 100.0)})
PARAMS = {k: st.just({}) for k in KEYS} | {  # the parameters drawn for each loss
    "huber": _delta, "pseudo_huber": _delta, "smooth_l1": st.fixed_dictionaries({"beta": st.floats(0, 100.0)})
}


@st.composite
def pairs(draw, values=_dyadic):
    """``(target, residual)`` float64 tensors of one shape, 1 to 8 elements."""
    n = draw(st.integers(1, 8))
    return tuple(torch.tensor(draw(st.lists(values, min_size=n, max_size=n)), dtype=F64) for _ in "tr")


def _per_element(key, pred, target, params):
    return call(key, pred, target, "none" if key in REDUCED else None, **params)


def _grad(key, pred, target, **params):
    pred = pred.clone().requires_grad_(True)
    return torch.autograd.grad(call(key, pred, target, "sum", **params), pred)[0]


@pytest.mark.parametrize("key", KEYS)
@given(data=st.data())
def test_nonnegative(key, data):
    t, r = data.draw(pairs())
    assert (_per_element(key, t + r, t, data.draw(PARAMS[key])) >= 0).all()


@pytest.mark.parametrize("key", KEYS)
@given(data=st.data())
def test_zero_with_zero_gradient_at_a_perfect_prediction(key, data):
    t, _ = data.draw(pairs())
    pred = t.clone().requires_grad_(True)
    loss = _per_element(key, pred, t, data.draw(PARAMS[key]))
    assert (loss == 0).all()
    assert (torch.autograd.grad(loss.sum(), pred)[0] == 0).all()


@pytest.mark.parametrize("key", REDUCED)
@given(data=st.data())
def test_reductions_consistent(key, data):
    t, r = data.draw(pairs())
    params = data.draw(PARAMS[key])
    none = call(key, t + r, t, "none", **params)
    torch.testing.assert_close(call(key, t + r, t, "sum", **params), none.sum())
    torch.testing.assert_close(call(key, t + r, t, "mean", **params), none.mean())
    torch.testing.assert_close(call(key, t + r, t, **params), none.mean())  # the default


@given(pairs())
def test_rmse_is_the_root_of_mse(tr):
    t, r = tr
    torch.testing.assert_close(lossbook.rmse(t + r, t), lossbook.mse(t + r, t).sqrt())


@pytest.mark.parametrize("key", KEYS)
@given(data=st.data())
def test_symmetric_in_the_residual(key, data):
    t, r = data.draw(pairs())
    params = data.draw(PARAMS[key])
    plus, minus = (_per_element(key, t + s * r, t, params) for s in (1, -1))
    torch.testing.assert_close(plus, minus, rtol=1e-12, atol=0)


@given(pairs(), st.floats(0.01, 100.0))
def test_huber_is_delta_times_smooth_l1(tr, d):
    t, r = tr
    want = d * lossbook.smooth_l1(t + r, t, beta=d, reduction="none")
    torch.testing.assert_close(lossbook.huber(t + r, t, delta=d, reduction="none"), want)


def _scaled(z_lo, z_hi):
    """``(params, r)`` with ``r = +-z * delta``, ``z`` in [z_lo, z_hi]."""
    draw = st.tuples(st.floats(1e-3, 1e3), st.floats(z_lo, z_hi), _sign)
    return draw.map(lambda a: ({"delta": a[0]}, a[2] * a[1] * a[0]))


# name -> (loss, strategy of (params, r), bounds (lo, hi) on loss(r)), derived by hand
LIMITS = {
    # d^2 (sqrt(1 + z^2) - 1), z = r/d, is r^2/2 - r^4/(8 d^2) + ..., an alternating
    # series with shrinking terms for |z| < 1
    "pseudo_huber-quadratic": (
        "pseudo_huber", _scaled(0.0, 1e-3), lambda r, d: (r * r / 2 - r**4 / (8 * d * d), r * r / 2)),
    # loss - (d|r| - d^2) = d^2 (sqrt(1 + z^2) - |z|) = d^2 / (sqrt(1 + z^2) + |z|),
    # in (0, d^2 / (2|z|)] = (0, d^3 / (2|r|)]
    "pseudo_huber-linear": (
        "pseudo_huber", _scaled(1e3, 1e6),
        lambda r, d: (d * abs(r) - d * d, d * abs(r) - d * d + d**3 / (2 * abs(r)))),
    # log cosh r = r^2/2 - r^4/12 + r^6/45 - ..., alternating with shrinking terms
    "log_cosh-quadratic": (
        "log_cosh", st.floats(-0.1, 0.1).map(lambda r: ({}, r)),
        lambda r, _: (r * r / 2 - r**4 / 12, r * r / 2)),
    # log cosh r - (|r| - log 2) = log(1 + exp(-2|r|)), in (0, exp(-2|r|)]
    "log_cosh-linear": (
        "log_cosh", st.tuples(st.floats(5.0, 1e6), _sign).map(lambda a: ({}, a[0] * a[1])),
        lambda r, _: (abs(r) - math.log(2), abs(r) - math.log(2) + math.exp(-2 * abs(r)))),
}


@pytest.mark.parametrize("name", LIMITS)
@given(data=st.data())
def test_limits(name, data):
    key, strategy, bounds = LIMITS[name]
    params, r = data.draw(strategy)
    loss = call(key, torch.tensor([r], dtype=F64), torch.zeros(1, dtype=F64), "sum", **params).item()
    lo, hi = bounds(r, params.get("delta"))
    slack = 8 * _eps * loss  # float64 rounding of the loss and of the bounds
    assert lo - slack <= loss <= hi + slack


@given(pairs(), st.floats(0.01, 100.0))
def test_huber_gradient_is_clipped_residual(tr, d):
    t, r = tr
    g = _grad("huber", t + r, t, delta=d)
    assert (g.abs() <= d).all()
    torch.testing.assert_close(g, r.clamp(-d, d), rtol=0, atol=0)


@given(pairs(st.floats(-1e3, 1e3)), st.floats(0.1, 100.0))
def test_pseudo_huber_gradient_below_delta(tr, d):
    t, r = tr  # |r / d| <= 1e4: float64 still resolves d (1 - 1/(2 z^2)) from d
    res = (t + r) - t  # the residual the loss sees (a tiny r is lost in t + r)
    g = _grad("pseudo_huber", t + r, t, delta=d)
    assert (g.abs() < d).all()
    torch.testing.assert_close(g, res / torch.sqrt(1 + (res / d) ** 2))  # the docstring's gradient


@given(pairs())
def test_mae_gradient_is_sign_of_residual(tr):
    t, r = tr
    torch.testing.assert_close(_grad("mae", t + r, t), torch.sign(r), rtol=0, atol=0)


# ==========================================================================
# Extreme inputs, low precision, empty batches

FAR = {  # (value, slope) per element at r = 1e6 with default parameters, by hand
    "mse": (1e12, 2e6),  # r^2, 2r
    "mae": (1e6, 1.0),  # |r|, sign r
    "huber": (1e6 - 0.5, 1.0),  # delta (|r| - delta/2), delta sign r
    "smooth_l1": (1e6 - 0.5, 1.0),  # |r| - beta/2, sign r
    "pseudo_huber": (1e6 - 1.0, 1.0),  # sqrt(1 + 1e12) - 1 = 1e6 - 1 + 5e-7; slope 1 - 5e-13
    "log_cosh": (1e6 - math.log(2), 1.0),  # |r| - log 2 + log(1 + e^-2e6); tanh(1e6) = 1
}


@pytest.mark.parametrize("key", REDUCED)
def test_extreme_residuals_float32(key):
    target = torch.tensor([0.0, 1.5, -4.0, 0.0, 0.0])
    pred = (target + torch.tensor([0.0, 0.0, 0.0, 1e6, -1e6])).requires_grad_(True)
    loss = call(key, pred, target, "none")
    value, slope = FAR[key]
    torch.testing.assert_close(loss, torch.tensor([0.0, 0, 0, value, value]))
    (grad,) = torch.autograd.grad(loss.sum(), pred)
    torch.testing.assert_close(grad, torch.tensor([0.0, 0, 0, slope, -slope]))
    for reduction in ("mean", "sum"):
        out = call(key, pred, target, reduction)
        assert torch.isfinite(out) and torch.isfinite(torch.autograd.grad(out, pred)[0]).all()


def test_rmse_extreme_and_zero_error():
    pred = torch.tensor([0.0, 1e6, -1e6], requires_grad=True)
    value = lossbook.rmse(pred, torch.zeros(3))
    # sqrt((0 + 1e12 + 1e12) / 3) = 1e6 sqrt(2/3); gradient r / (n rmse) = 0, +-1/sqrt(6)
    torch.testing.assert_close(value, torch.tensor(1e6 * math.sqrt(2 / 3)))
    (grad,) = torch.autograd.grad(value, pred)
    torch.testing.assert_close(grad, torch.tensor([0.0, 1, -1]) / math.sqrt(6))

    target = torch.tensor([0.5, -2.0, 3.0])
    pred = target.clone().requires_grad_(True)
    value = lossbook.rmse(pred, target)
    assert value.item() == 0.0 and (torch.autograd.grad(value, pred)[0] == 0).all()
    # why rmse exists: the naive root of mse has a 0 * inf = NaN gradient here
    naive = torch.sqrt(F.mse_loss(pred, target))
    assert torch.isnan(torch.autograd.grad(naive, pred)[0]).all()

    # the guard turns only 1 / (2 * 0) into 0: a NaN input still gives a NaN value and gradient
    pred = torch.tensor([1.0, math.nan], requires_grad=True)
    value = lossbook.rmse(pred, torch.zeros(2))
    assert value.isnan() and torch.autograd.grad(value, pred)[0].isnan().all()


def test_rmse_guarded_root():
    # rmse takes its root through one guarded node, _Root: sqrt, with first and second
    # derivatives, except that the gradient at 0 is 0.
    from lossbook.regression._fused import _Root

    x = torch.tensor([0.3, 2.0, 0.01], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(_Root.apply, (x,)) and torch.autograd.gradgradcheck(_Root.apply, (x,))
    pred = torch.tensor([1.0, -2.0, 0.5], dtype=F64, requires_grad=True)
    target = torch.zeros(3, dtype=F64)
    plain = torch.sqrt(F.mse_loss(pred, target))
    guarded = lossbook.rmse(pred, target)
    torch.testing.assert_close(guarded, plain, rtol=0, atol=0)
    torch.testing.assert_close(torch.autograd.grad(guarded, pred)[0], torch.autograd.grad(plain, pred)[0])
    zero = torch.zeros((), dtype=F64, requires_grad=True)
    assert torch.autograd.grad(_Root.apply(zero), zero)[0].item() == 0.0


def test_log_cosh_does_not_overflow():
    r = torch.tensor([1e4, -1e4, 100.0])
    assert torch.isinf(torch.log(torch.cosh(r))).all()  # cosh overflows float32 past 89
    pred = r.clone().requires_grad_(True)
    loss = lossbook.log_cosh(pred, torch.zeros(3), reduction="none")
    torch.testing.assert_close(loss, r.abs() - math.log(2))  # + log(1 + e^{-2|r|}) < 1e-86
    (grad,) = torch.autograd.grad(loss.sum(), pred)
    torch.testing.assert_close(grad, torch.tensor([1.0, -1.0, 1.0]))  # tanh r


@pytest.mark.parametrize("dtype, smallest", [(F32, -18), (F64, -150)])
def test_log_cosh_keeps_full_relative_precision(dtype, smallest):
    # From the smallest |r| whose value r^2/2 is a normal number up past the limit at 80, value and
    # slope are within 4 machine epsilons of a 50-digit evaluation: no cancellation anywhere.
    mpmath = pytest.importorskip("mpmath")
    mags = torch.logspace(smallest, 4, 600, dtype=F64).to(dtype)
    r = torch.cat([mags, -mags, torch.tensor([79.9, 80.0, 80.1, 88.7, 89.0, 103.9, 104.0], dtype=dtype)])
    pred = r.clone().requires_grad_(True)
    loss = lossbook.log_cosh(pred, torch.zeros_like(r), reduction="none")
    (slope,) = torch.autograd.grad(loss.sum(), pred)
    with mpmath.workdps(50):
        # log cosh x = log1p(2 sinh(x/2)^2): cosh itself rounds to 1 at 50 digits for tiny x
        value = [float(mpmath.log1p(2 * mpmath.sinh(mpmath.mpf(float(x)) / 2) ** 2)) for x in r]
        tanh = [float(mpmath.tanh(mpmath.mpf(float(x)))) for x in r]
    eps = torch.finfo(dtype).eps
    for got, want in ((loss, value), (slope, tanh)):
        want = torch.tensor(want, dtype=F64)
        rel = ((got.double() - want).abs() / want.abs()).max().item()
        assert rel <= 4 * eps, rel / eps


def test_log_cosh_limit_changes_nothing_below_it():
    # The limit at |r| = 80 is applied to every element; below 80 it adds exactly 0, so the
    # value and slope there are those of the plain M, u form.
    from lossbook import regression

    for dtype in (F32, F64):
        r = 20 * torch.randn(5000, generator=torch.Generator().manual_seed(3), dtype=dtype).clamp(-80, 80)
        pred = r.clone().requires_grad_(True)
        loss = lossbook.log_cosh(pred, torch.zeros_like(r), reduction="none")
        (slope,) = torch.autograd.grad(loss.sum(), pred)
        a = r.abs()
        m = torch.expm1(a)
        u = m / (m + 1)
        assert regression._smooth._LOG_COSH_LIMIT == 80.0
        assert torch.equal(loss, torch.log1p(m * u * 0.5))
        assert torch.equal(slope, ((m + u) / (m * u + 2)).copysign(r))


@pytest.mark.parametrize(
    "dtype, delta, r, value, slope",
    [  # delta >> |r|: r^2/2 and r; delta << |r|: delta |r| - delta^2 ~ delta |r| and delta sign r
        (F32, 1e30, [0.5, -3.0, 100.0], [0.125, 4.5, 5000.0], [0.5, -3.0, 100.0]),
        (F32, 1e-30, [0.5, -3.0, 100.0], [5e-31, 3e-30, 1e-28], [1e-30, -1e-30, 1e-30]),
        (torch.float16, 0.01, [100.0, -1000.0], [1.0, 10.0], [0.01, -0.01]),  # r / delta > 65504
    ],
    ids=["f32-huge", "f32-tiny", "f16-small"],
)
def test_pseudo_huber_extreme_delta(dtype, delta, r, value, slope):
    pred = torch.tensor(r, dtype=dtype, requires_grad=True)
    loss = lossbook.pseudo_huber(pred, torch.zeros_like(pred), delta=delta, reduction="none")
    tol = dict(rtol=1e-5 if dtype == F32 else 1e-2, atol=0)
    torch.testing.assert_close(loss, torch.tensor(value, dtype=dtype), **tol)
    (grad,) = torch.autograd.grad(loss.sum(), pred)
    torch.testing.assert_close(grad, torch.tensor(slope, dtype=dtype), **tol)


@pytest.mark.parametrize("dtype, rtol", [(torch.float16, 4e-3), (torch.bfloat16, 3e-2)], ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_half_precision_keeps_dtype(key, dtype, rtol):
    pred, target = (x.to(dtype) for x in residual_data((4, 6), seed=2))
    pred.requires_grad_(True)
    for reduction in reductions(key):
        out = call(key, pred, target, reduction)
        (grad,) = torch.autograd.grad(out.sum(), pred)
        assert out.dtype == dtype and grad.dtype == dtype and torch.isfinite(grad).all()
        exact = call(key, pred.detach().double(), target.double(), reduction)
        torch.testing.assert_close(out.double(), exact, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("shape", [(0,), (0, 3)], ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key, shape):
    pred, target = torch.empty(shape, requires_grad=True), torch.empty(shape)
    for reduction in ("mean", "sum") if key in REDUCED else (None,):
        out = call(key, pred, target, reduction)
        assert out.shape == () and out.item() == 0.0  # not NaN
        assert torch.autograd.grad(out, pred)[0].shape == shape
    if key in REDUCED:
        assert call(key, pred, target, "none").shape == shape
