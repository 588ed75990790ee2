"""lossbook.probabilistic against PyTorch and float64 references, gradients, sympy, bad input, limits.

The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every probabilistic loss in the
catalog is covered.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook
from bad_input import ValueCase, bad_input_tests, number_cases, pair_cases, unit_parameter_cases
from common import DTYPES, F32, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import catalog, symbolic

KEYS = [r.key for r in catalog.by_family("probabilistic")]
LOSSES = {k: getattr(lossbook, k) for k in KEYS}
GAUSSIAN = ("gaussian_nll", "beta_nll")  # (mean, target, var)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


# ==========================================================================
# Inputs: seeded float64, cast to the dtype under test


def gaussian_data(shape, dtype=F64, *, seed=0, clamped=True):
    """``(mean, target, var)``: variances log-normal around 1; with ``clamped`` two of them 0 and
    1e-9, below the default clamp eps = 1e-6."""
    g = torch.Generator().manual_seed(seed)
    target = 2.0 * torch.randn(shape, generator=g, dtype=F64)
    var = torch.exp(torch.randn(shape, generator=g, dtype=F64))
    mean = target + var.sqrt() * torch.randn(shape, generator=g, dtype=F64)
    if clamped:
        var.view(-1)[0] = 0.0
        var.view(-1)[-1] = 1e-9
    return mean.to(dtype), target.to(dtype), var.to(dtype)


def poisson_data(shape, dtype=F64, *, seed=0, log_input=True):
    """``(input, target)``: log-rates (or rates, two of them 0) and Poisson counts drawn from
    them, with counts 0, 1 and above 1 among them (the three cases of ``full``)."""
    g = torch.Generator().manual_seed(seed)
    log_rate = torch.randn(shape, generator=g, dtype=F64) + 0.5
    target = torch.poisson(log_rate.exp(), generator=g)
    target.view(-1)[:3] = torch.tensor([0.0, 1.0, 4.0], dtype=F64)[: target.numel()]
    if log_input:
        return log_rate.to(dtype), target.to(dtype)
    rate = log_rate.exp()
    rate.view(-1)[:2] = 0.0  # log(0 + eps): finite
    return rate.to(dtype), target.to(dtype)


def residual_data(shape, dtype=F64, *, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = 3.0 * torch.randn(shape, generator=g, dtype=F64)
    pred = target + 10.0 ** (3 * torch.rand(shape, generator=g, dtype=F64) - 2) * torch.randn(
        shape, generator=g, dtype=F64).sign()
    return pred.to(dtype), target.to(dtype)


def data(key, shape, dtype=F64, *, seed=0, **params):
    if key in GAUSSIAN:
        return gaussian_data(shape, dtype, seed=seed)
    if key == "poisson_nll":
        return poisson_data(shape, dtype, seed=seed, log_input=params.get("log_input", True))
    return residual_data(shape, dtype, seed=seed)


# ==========================================================================
# REFERENCE: PyTorch's function where it has one, and for every loss a float64
# NumPy evaluation of the formula from the paper / the docstring.


def _np_gaussian(mean, target, var, full=False, eps=1e-6):
    v = np.maximum(var, eps)
    return 0.5 * (np.log(v) + (mean - target) ** 2 / v) + (HALF_LOG_2PI if full else 0.0)


def _np_beta(mean, target, var, beta=0.5, eps=1e-6):
    # Seitzer et al. (2022), eq. (5): the NLL of each point times (its variance)^beta, variance clamped
    v = np.maximum(var, eps)
    return v**beta * _np_gaussian(mean, target, var, eps=eps)


def _np_poisson(x, y, log_input=True, full=False, eps=1e-8):
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:  # Stirling's approximation of log(y!), where y > 1
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
        loss = loss + np.where(y > 1, stirling, 0.0)
    return loss


def _np_quantile(pred, target, q=0.5):
    # Koenker and Bassett (1978): rho_q(u) = u (q - 1[u < 0]), u = target - pred
    u = target - pred
    return u * (q - (u < 0))


def _torch_gaussian(mean, target, var, **kw):
    return F.gaussian_nll_loss(mean, target, var, **kw)


class Ref(NamedTuple):
    numpy: Callable[..., np.ndarray]  # per-element loss, float64
    torch: Callable | None  # PyTorch's function, or None
    params: tuple[dict, ...]


REFERENCE = {
    "gaussian_nll": Ref(_np_gaussian, _torch_gaussian,
                        ({}, {"full": True}, {"eps": 1e-3}, {"full": True, "eps": 0.5})),
    "beta_nll": Ref(_np_beta, None, ({}, {"beta": 0.0}, {"beta": 0.25}, {"beta": 1.0}, {"beta": 0.5, "eps": 1e-2})),
    "poisson_nll": Ref(_np_poisson, F.poisson_nll_loss, (
        {}, {"full": True}, {"log_input": False}, {"log_input": False, "full": True},
        {"log_input": False, "eps": 1e-3},
    )),
    "quantile": Ref(_np_quantile, None, ({}, {"q": 0.1}, {"q": 0.9}, {"q": 0.37})),
}
SHAPES = [(7,), (5, 3), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key, params, reduction", [
    pytest.param(k, p, red, id=f"{k}-{params_id(p)}-{red}")
    for k in KEYS for p in REFERENCE[k].params for red in REDUCTIONS
])
def test_matches_reference(key, params, reduction, dtype, shape):
    tensors = data(key, shape, dtype, **params)
    got = LOSSES[key](*tensors, **params, reduction=reduction)
    assert got.dtype == dtype
    assert got.shape == (tensors[0].shape if reduction == "none" else ())
    ref = REFERENCE[key]
    if ref.torch is not None:  # PyTorch's function on the same tensors: the same numbers
        torch.testing.assert_close(got, ref.torch(*tensors, **params, reduction=reduction), rtol=0, atol=0)
    per = ref.numpy(*(x.double().numpy() for x in tensors), **params)
    want = NP_REDUCE[reduction](per)
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **dtype_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 1.0])
def test_beta_nll_gradients_are_the_papers(beta, dtype):
    # The weight v^beta is a constant to autograd (stop-gradient): d/dmu = v^beta (mu - y) / v and
    # d/dv = v^beta (v - r^2) / (2 v^2), with v the clamped variance (straight through the clamp).
    mean, target, var = gaussian_data((6, 5), dtype)
    mean.requires_grad_(True)
    var.requires_grad_(True)
    gm, gv = torch.autograd.grad(lossbook.beta_nll(mean, target, var, beta=beta, reduction="sum"), (mean, var))
    m, t, v = (x.detach().double().numpy() for x in (mean, target, var))
    v = np.maximum(v, 1e-6)
    r = m - t
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == F32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gm, torch.as_tensor(v**beta * r / v, dtype=dtype), **tol)
    torch.testing.assert_close(gv, torch.as_tensor(v**beta * (v - r**2) / (2 * v**2), dtype=dtype), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.3, 0.5, 1.0])
def test_beta_nll_one_pass_equals_autograd_of_the_formula(beta, dtype):
    # the written-out backward of the one-pass Function against autograd of the plain formula
    from lossbook.probabilistic import _beta_formula

    mean, target, var = gaussian_data((5, 6), dtype)
    ours = [x.clone().requires_grad_(True) for x in (mean, target, var)]
    ref = [x.clone().requires_grad_(True) for x in (mean, target, var)]
    a = lossbook.beta_nll(*ours, beta=beta, reduction="none")
    b = _beta_formula(*ref, beta, 1e-6)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == F32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a, b, **tol)
    w = torch.rand(a.shape, generator=torch.Generator().manual_seed(1), dtype=F64).to(dtype)
    for x, y in zip(torch.autograd.grad(a, ours, w), torch.autograd.grad(b, ref, w)):
        torch.testing.assert_close(x, y, **tol)


@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_gradients_equal_pytorchs(full):
    # including the variances below eps: PyTorch passes the gradient straight through its clamp
    mean, target, var = gaussian_data((4, 6))
    ours = [x.clone().requires_grad_(True) for x in (mean, target, var)]
    theirs = [x.clone().requires_grad_(True) for x in (mean, target, var)]
    a = torch.autograd.grad(lossbook.gaussian_nll(*ours, full=full), ours)
    b = torch.autograd.grad(F.gaussian_nll_loss(*theirs, full=full), theirs)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


# ==========================================================================
# Hand-worked cases


def test_hand_worked_values():
    # Gaussian: mean 0, target 2, var 4: (log 4 + 2^2/4)/2 = (1.3863 + 1)/2 = 1.19315;
    # full adds log(2 pi)/2 = 0.91894, total 2.11209.
    m, t, v = torch.tensor([0.0], dtype=F64), torch.tensor([2.0], dtype=F64), torch.tensor([4.0], dtype=F64)
    assert lossbook.gaussian_nll(m, t, v).item() == pytest.approx((math.log(4) + 1) / 2, rel=1e-15)
    assert lossbook.gaussian_nll(m, t, v, full=True).item() == pytest.approx(2.1120857137646, rel=1e-12)
    # var 0 is clamped to eps = 1e-6: (log 1e-6 + 4 / 1e-6)/2 = (-13.8155 + 4e6)/2 = 1999993.09
    assert lossbook.gaussian_nll(m, t, torch.zeros(1, dtype=F64)).item() == pytest.approx(
        (math.log(1e-6) + 4e6) / 2, rel=1e-15)
    # beta-NLL, beta = 0.5: the same NLL times sqrt(4) = 2: 2.38629
    assert lossbook.beta_nll(m, t, v).item() == pytest.approx(math.log(4) + 1, rel=1e-15)
    # beta = 1: times 4: 4.77259
    assert lossbook.beta_nll(m, t, v, beta=1.0).item() == pytest.approx(2 * (math.log(4) + 1), rel=1e-15)
    # Poisson, log-rate log 3, count 2: e^{log 3} - 2 log 3 = 3 - 2.19722 = 0.80278;
    # the rate 3 itself (log_input=False): 3 - 2 log(3 + 1e-8), the same to 1e-8;
    # full adds the Stirling term of log 2! = 2 log 2 - 2 + log(4 pi)/2 = 0.65180 (log 2 = 0.69315)
    x, y = torch.tensor([math.log(3)], dtype=F64), torch.tensor([2.0], dtype=F64)
    assert lossbook.poisson_nll(x, y).item() == pytest.approx(3 - 2 * math.log(3), rel=1e-14)
    assert lossbook.poisson_nll(x.exp(), y, log_input=False).item() == pytest.approx(3 - 2 * math.log(3), rel=1e-8)
    stirling = 2 * math.log(2) - 2 + 0.5 * math.log(4 * math.pi)
    assert lossbook.poisson_nll(x, y, full=True).item() == pytest.approx(3 - 2 * math.log(3) + stirling, rel=1e-14)
    # quantile q = 0.9: pred 1, target 3 (under-predicted by 2): 0.9 * 2 = 1.8;
    # pred 3, target 1 (over by 2): (0.9 - 1)(-2) = 0.2; their mean 1.0
    p, t2 = torch.tensor([1.0, 3.0], dtype=F64), torch.tensor([3.0, 1.0], dtype=F64)
    got = lossbook.quantile(p, t2, q=0.9, reduction="none")
    torch.testing.assert_close(got, torch.tensor([1.8, 0.2], dtype=F64))
    assert lossbook.quantile(p, t2, q=0.9).item() == pytest.approx(1.0)


def test_quantile_subgradient_at_zero_residual():
    # torch.maximum splits the gradient at a tie: d/dpred = (-q + (1 - q))/2 = 1/2 - q
    pred = torch.zeros(3, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(lossbook.quantile(pred, torch.zeros(3, dtype=F64), q=0.8, reduction="sum"), pred)
    torch.testing.assert_close(g, torch.full((3,), 0.5 - 0.8, dtype=F64))


# ==========================================================================
# Limits and properties


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_beta_zero_is_gaussian_nll(reduction, full):
    mean, target, var = gaussian_data((5, 4))
    a = [x.clone().requires_grad_(True) for x in (mean, target, var)]
    b = [x.clone().requires_grad_(True) for x in (mean, target, var)]
    la = lossbook.beta_nll(*a, beta=0.0, reduction=reduction)
    lb = lossbook.gaussian_nll(*b, reduction=reduction)
    torch.testing.assert_close(la, lb, rtol=0, atol=0)
    for x, y in zip(torch.autograd.grad(la.sum(), a), torch.autograd.grad(lb.sum(), b)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_beta_one_gives_the_mean_the_mse_gradient():
    # beta = 1: d/dmu = v (mu - y)/v = mu - y, the gradient of mse/2, whatever the variance
    mean, target, var = gaussian_data((8,), clamped=False)
    mean.requires_grad_(True)
    (g,) = torch.autograd.grad(lossbook.beta_nll(mean, target, var, beta=1.0, reduction="sum"), mean)
    torch.testing.assert_close(g, (mean - target).detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_quantile_half_is_half_of_mae(reduction):
    pred, target = residual_data((6, 4))
    pred.requires_grad_(True)
    a = lossbook.quantile(pred, target, q=0.5, reduction=reduction)
    b = lossbook.mae(pred, target, reduction=reduction) / 2
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(*(torch.autograd.grad(v.sum(), pred)[0] for v in (a, b)), rtol=0, atol=0)


@pytest.mark.parametrize("q", [0.1, 0.25, 0.5, 0.9])
def test_quantile_minimiser_is_the_empirical_quantile(q):
    # the mean pinball loss of a constant c is piecewise linear in c with its minimum at a data
    # point: the one where the fraction of targets below c crosses q
    y = torch.randn(1001, generator=torch.Generator().manual_seed(3), dtype=F64)
    grid = torch.sort(y).values  # the candidates: the data points themselves
    losses = torch.stack([lossbook.quantile(c.expand(y.shape), y, q=q) for c in grid])
    best = grid[losses.argmin()]
    assert best.item() == pytest.approx(np.quantile(y.numpy(), q, method="inverted_cdf"), abs=1e-12)
    # and gradient descent on a constant gets there too
    c = torch.zeros((), dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([c], lr=0.02)
    for step in range(3000):
        opt.zero_grad()
        lossbook.quantile(c.expand(y.shape), y, q=q).backward()
        for group in opt.param_groups:
            group["lr"] = 0.05 / (1 + step / 100)
        opt.step()
    assert (y < c).double().mean().item() == pytest.approx(q, abs=0.01)


def test_gaussian_nll_best_variance_is_the_squared_error():
    # for fixed mean, d/dv = (v - r^2) / (2 v^2) = 0 at v = r^2
    mean, target = torch.tensor([0.0], dtype=F64), torch.tensor([1.5], dtype=F64)
    vs = torch.linspace(0.5, 5, 4501, dtype=F64)
    losses = torch.stack([lossbook.gaussian_nll(mean, target, v.reshape(1)) for v in vs])
    assert vs[losses.argmin()].item() == pytest.approx(2.25, abs=1e-3)


def test_poisson_nll_is_smallest_at_the_count():
    # d/dx (e^x - y x) = e^x - y = 0 at x = log y
    y = torch.tensor([3.0], dtype=F64)
    xs = torch.linspace(0, 2, 2001, dtype=F64)
    losses = torch.stack([lossbook.poisson_nll(x.reshape(1), y) for x in xs])
    assert xs[losses.argmin()].item() == pytest.approx(math.log(3), abs=1e-3)


def test_poisson_full_is_the_negative_log_pmf_for_large_counts():
    # Stirling: log y! ~ y log y - y + log(2 pi y)/2, relative error ~ 1/(12 y)
    y = torch.tensor([50.0, 200.0], dtype=F64)
    x = torch.log(y)
    want = -torch.distributions.Poisson(y).log_prob(y)
    torch.testing.assert_close(lossbook.poisson_nll(x, y, full=True, reduction="none"), want, rtol=1e-3, atol=0)


# ==========================================================================
# Empty batch and extreme inputs


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(key, reduction):
    n = 3 if key in GAUSSIAN else 2
    tensors = [torch.zeros(0, 4, dtype=F64, requires_grad=(i == 0)) for i in range(n)]
    out = LOSSES[key](*tensors, reduction=reduction)
    if reduction == "none":
        assert out.shape == (0, 4)
        return
    assert out.shape == () and out.item() == 0.0  # PyTorch's "mean" of nothing is NaN
    (g,) = torch.autograd.grad(out, tensors[0])
    assert g.shape == (0, 4)


def _finite(key, tensors, **params):
    leaves = [x.requires_grad_(True) for x in tensors[:1] + (tensors[2:] if key in GAUSSIAN else [])]
    value = LOSSES[key](*tensors, **params, reduction="sum")
    grads = torch.autograd.grad(value, leaves)
    assert torch.isfinite(value), (key, params, value)
    for g in grads:
        assert torch.isfinite(g).all(), (key, params)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", GAUSSIAN)
def test_gaussian_extreme_inputs_are_finite(key, dtype):
    # variances 0, 1e-30 and 1e30 (huge), residuals of 1e6 over the clamped variance
    var = torch.tensor([0.0, 1e-30, 1e30, 1.0, 0.0, 1e-6], dtype=dtype)
    mean = torch.tensor([1e6, -1e6, 1e6, 1e6, 0.0, 0.0], dtype=dtype)
    _finite(key, [mean, torch.zeros(6, dtype=dtype), var])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_extreme_inputs_are_finite(log_input, dtype):
    # log-rates of -80 and 80 (e^80 fits float32), counts 0 and 1e6; rates of 0 and 1e30
    x = torch.tensor([-80.0, 80.0, 80.0, -80.0, 0.0], dtype=dtype)
    if not log_input:
        x = torch.tensor([0.0, 1e30, 1e-30, 0.0, 1.0], dtype=dtype)
    y = torch.tensor([0.0, 1e6, 0.0, 1e6, 1.0], dtype=dtype)
    for full in (False, True):
        _finite("poisson_nll", [x.clone(), y], log_input=log_input, full=full)


@pytest.mark.parametrize("dtype", DTYPES)
def test_quantile_extreme_inputs_are_finite(dtype):
    pred = torch.tensor([1e6, -1e6, 0.0, 1e30], dtype=dtype)
    for q in (1e-6, 0.5, 1 - 1e-6):
        _finite("quantile", [pred.clone(), torch.zeros(4, dtype=dtype)], q=q)


# ==========================================================================
# GRADCHECK: key -> [(params, has a second derivative)], float64, against finite differences.
# Variances stay above eps (the clamp is not differentiable there); beta-NLL's weight is a
# stop-gradient, which finite differences in var would see: beta_nll is checked in (mean, target),
# and in var at beta = 0 (its var gradient is test_beta_nll_gradients_are_the_papers).

GRADCHECK = {
    "gaussian_nll": [({}, True), ({"full": True}, True)],
    "beta_nll": [({}, True), ({"beta": 1.0}, True), ({"beta": 0.0}, True)],
    "poisson_nll": [({}, True), ({"full": True}, True), ({"log_input": False}, True)],
    "quantile": [({}, True), ({"q": 0.1}, True), ({"q": 0.9}, True)],
}


def _gradcheck_inputs(key, params):
    if key in GAUSSIAN:
        mean, target, var = gaussian_data((2, 3), seed=1, clamped=False)
        wrt_var = key == "gaussian_nll" or params.get("beta", 0.5) == 0.0
        return (mean, target, var), (True, True, wrt_var)
    if key == "poisson_nll":
        x, y = poisson_data((2, 3), seed=1, log_input=params.get("log_input", True))
        if not params.get("log_input", True):
            x = x.clamp(min=0.1)  # away from the rate 0
        return (x, y), (True, False)  # counts are data
    pred, target = residual_data((2, 3), seed=1)  # |r| >= 0.01: away from the kink
    return (pred, target), (True, True)


@pytest.mark.parametrize("key, params, second, reduction", [
    pytest.param(k, p, s, red, id=f"{k}-{params_id(p)}-{red}")
    for k in KEYS for p, s in GRADCHECK[k] for red in REDUCTIONS
])
def test_gradcheck(key, params, second, reduction):
    tensors, wrt = _gradcheck_inputs(key, params)
    leaves = [x.clone().requires_grad_(w) for x, w in zip(tensors, wrt)]
    inputs = tuple(x for x in leaves if x.requires_grad)

    def fn(*xs):
        it = iter(xs)
        args = [next(it) if x.requires_grad else x for x in leaves]
        return LOSSES[key](*args, **params, reduction=reduction)

    assert torch.autograd.gradcheck(fn, inputs)
    if second:
        assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# Symbolic forms (residual r = prediction - target; Poisson: log-rate x)

SYMBOLIC = {"gaussian_nll": [{"var": 0.5}, {"var": 2.0}], "quantile": [{"q": 0.1}, {"q": 0.5}, {"q": 0.8}],
            "poisson_nll": [{"target": 0.0}, {"target": 3.0}]}


@pytest.mark.parametrize("which", ["loss", "gradient"])
@pytest.mark.parametrize("key, params", [
    pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in SYMBOLIC for p in SYMBOLIC[k]
])
def test_symbolic_matches_autograd(key, params, which):
    assert key in symbolic.keys()
    v = np.concatenate([np.linspace(-4, 4, 32), [0.013, -2.71]])  # no exact 0: the quantile's kink
    x = torch.from_numpy(v).requires_grad_(True)
    (value,) = params.values()
    if key == "poisson_nll":
        loss = lossbook.poisson_nll(x, torch.full_like(x, value), reduction="none")
    else:
        target = torch.arange(len(v), dtype=F64) / 8 - 2
        pred = target + x
        if key == "gaussian_nll":
            loss = lossbook.gaussian_nll(pred, target, torch.full_like(pred, value), reduction="none")
        else:
            loss = lossbook.quantile(pred, target, q=value, reduction="none")
    got = loss if which == "loss" else torch.autograd.grad(loss.sum(), x)[0]
    want = symbolic.form(key).numeric(which, **params)(v)
    torch.testing.assert_close(got.detach(), torch.from_numpy(want), rtol=1e-9, atol=1e-12)


def test_symbolic_gradients_are_the_textbook_ones():
    import sympy as sp

    r, v, q, x, t = symbolic.r, symbolic.v, symbolic.q, symbolic.x, symbolic.t
    assert sp.simplify(symbolic.form("gaussian_nll").gradient() - r / v) == 0
    assert sp.simplify(symbolic.form("poisson_nll").gradient() - (sp.exp(x) - t)) == 0
    assert symbolic.form("quantile").gradient() == sp.Piecewise((-q, r < 0), (1 - q, True))


# ==========================================================================
# BAD_INPUT: key -> cases (see bad_input.py); three-tensor losses get a valid var appended.


def _with_var(cases):
    out = []
    for id_, args, kwargs, error, match in cases:
        a = args[0]
        var = torch.ones_like(a) if isinstance(a, torch.Tensor) and a.is_floating_point() else torch.ones(4)
        out.append((id_, (*args, var), kwargs, error, match))
    return out


def _var_cases():
    """``var`` against ``mean``: wrong type, dtype or shape (a valid target of mean's shape)."""
    out = []
    for id_, (mean, var), kwargs, error, match in pair_cases(("mean", "var")):
        if id_.startswith(("mean-", "reduction")) or not isinstance(mean, torch.Tensor):
            continue
        out.append((f"var:{id_}", (mean, torch.ones_like(mean), var), kwargs, error, match))
    return out


_ONES3 = (torch.ones(3), torch.ones(3), torch.ones(3))
_NEG_VAR = r"^var must be >= 0 \(a variance\), got values such as "


def _gaussian_cases():
    m = torch.tensor([0.0, 1.0, 2.0, 3.0])
    return (
        _with_var(pair_cases(("mean", "target")))
        + _var_cases()
        + number_cases("eps", positive=True, args=_ONES3)
        + [
            ValueCase("var<0", (m, m, torch.tensor([1.0, -1.0, 2.0, -3.0])), {}, ValueError,
                      _NEG_VAR + r"\[-1\.0, -3\.0\]$"),
            ValueCase("var=-0.25", (m, m, torch.tensor([1.0, 1.0, -0.25, 0.0])), {}, ValueError,
                      _NEG_VAR + r"\[-0\.25\]$"),
        ]
    )


def _q_cases():
    args = (torch.ones(3), torch.ones(3))
    out = [(f"q={v!r}", args, {"q": v}, ValueError, rf"^q must be in \(0, 1\), got {v}$")
           for v in (0, 0.0, 1, 1.0, -0.5, 1.5, 1 + 1e-9)]
    out += [(f"q={v!r}", args, {"q": v}, ValueError, "^q must be finite") for v in (math.nan, math.inf)]
    out += [(f"q={v!r}", args, {"q": v}, TypeError, "^q must be a real number") for v in ("0.5", None, True)]
    return out


BAD_INPUT = {
    "gaussian_nll": _gaussian_cases(),
    "beta_nll": _gaussian_cases() + unit_parameter_cases("beta", args=_ONES3),
    "poisson_nll": pair_cases(("input", "target")) + number_cases("eps", positive=True) + [
        ValueCase("target<0", (torch.zeros(4), torch.tensor([0.0, -1.0, 3.0, -0.5])), {}, ValueError,
                  r"^target must hold counts >= 0, got values such as \[-1\.0, -0\.5\]$"),
        ValueCase("target<0,log_input=False", (torch.ones(4), torch.tensor([-2.0, 1.0, 3.0, 0.0])),
                  {"log_input": False}, ValueError, r"^target must hold counts >= 0, got values such as \[-2\.0\]$"),
    ],
    "quantile": pair_cases() + _q_cases(),
}

test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    n = 3 if key in GAUSSIAN else 2
    with pytest.raises(TypeError, match=f"takes {n} positional arguments but {n + 1} were given"):
        LOSSES[key](*[torch.ones(3)] * n, 0.5)


def test_negative_var_raises_under_compile():
    torch._dynamo.reset()
    compiled = torch.compile(lambda m, t, v: lossbook.gaussian_nll(m, t, v), fullgraph=True, backend="eager")
    m = torch.zeros(4)
    assert torch.isfinite(compiled(m, m, torch.ones(4)))
    with pytest.raises(RuntimeError, match=r"var must be >= 0 \(a variance\)"):
        compiled(m, m, torch.tensor([1.0, -1.0, 1.0, 1.0]))
    torch._dynamo.reset()
