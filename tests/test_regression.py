"""lossbook.regression against PyTorch and float64 references, gradients, sympy, bad input.

The tables REFERENCE, GRADCHECK, SYMBOLIC and BAD_INPUT drive the parametrized
tests; tests/test_catalog.py reads them to check that every regression loss in
the catalog is covered. Properties, limits and extreme inputs are in
test_regression_properties.py.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

import lossbook
from bad_input import number_cases, pair_cases
from common import DTYPES, F32, F64, REDUCTIONS, params_id
from lossbook import catalog, symbolic

KEYS = [r.key for r in catalog.by_family("regression")]
LOSSES = {k: getattr(lossbook, k) for k in KEYS}
REDUCED = [k for k in KEYS if k != "rmse"]  # rmse has no `reduction`


def call(key, pred, target, reduction=None, **params):
    """``reduction=None``: the loss's default (and rmse's only form)."""
    return LOSSES[key](pred, target, **params, **({} if reduction is None else {"reduction": reduction}))


def reductions(key):
    return REDUCTIONS if key in REDUCED else (None,)


def residual_data(shape, dtype=F64, *, seed=0, scale=1.0, away_from_kink=False):
    """Seeded ``(pred, target)``; residual magnitudes log-uniform on [0.01, 10] * scale (both pieces
    of every piecewise loss), or with ``away_from_kink`` in [0.1, 0.8] or [1.25, 3] * scale."""
    g = torch.Generator().manual_seed(seed)
    u, v = torch.rand((2, *shape), generator=g, dtype=F64)
    mag = 10.0 ** (3.0 * u - 2.0)
    if away_from_kink:
        mag = torch.where(u < 0.5, 0.1 + 0.7 * v, 1.25 + 1.75 * v)
    sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(F64)
    target = 3.0 * torch.randn(shape, generator=g, dtype=F64)
    return (target + sign * mag * scale).to(dtype), target.to(dtype)


# ==========================================================================
# REFERENCE: PyTorch's function where it has one, and for every loss a plain
# float64 NumPy evaluation of the formula in the docstring.


def _np_huber(r, delta=1.0):
    return np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))


def _np_smooth_l1(r, beta=1.0):
    if beta == 0:  # the quadratic zone |r| < 0 is empty
        return np.abs(r)
    return np.where(np.abs(r) < beta, r**2 / (2 * beta), np.abs(r) - 0.5 * beta)


def _np_pseudo_huber(r, delta=1.0):
    return delta**2 * (np.sqrt(1 + (r / delta) ** 2) - 1)


class Ref(NamedTuple):
    numpy: Callable[..., np.ndarray]  # per-element loss of r (for rmse: the value)
    torch: Callable | None = None  # torch.nn.functional counterpart
    params: tuple[dict, ...] = ({},)  # {} checks the defaults too


REFERENCE = {
    "mse": Ref(lambda r: r**2, F.mse_loss),
    "rmse": Ref(lambda r: np.sqrt(np.mean(r**2))),
    "mae": Ref(np.abs, F.l1_loss),
    "huber": Ref(_np_huber, F.huber_loss, ({}, {"delta": 0.5}, {"delta": 2.5})),
    "smooth_l1": Ref(_np_smooth_l1, F.smooth_l1_loss, ({}, {"beta": 0.5}, {"beta": 2.0}, {"beta": 0.0})),
    "pseudo_huber": Ref(_np_pseudo_huber, None, ({}, {"delta": 0.3}, {"delta": 3.0})),
    "log_cosh": Ref(lambda r: np.log(np.cosh(r))),
}
SHAPES = [(7,), (5, 3), (2, 3, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key, params, reduction", [
    pytest.param(k, p, red, id=f"{k}-{params_id(p)}-{red}")
    for k in KEYS for p in REFERENCE[k].params for red in reductions(k)
])
def test_matches_reference(key, params, reduction, dtype, shape):
    pred, target = residual_data(shape, dtype)
    got = call(key, pred, target, reduction, **params)
    assert got.dtype == dtype
    ref = REFERENCE[key]
    if ref.torch is not None:  # PyTorch's function, same dtype: float32 rounding at most
        torch.testing.assert_close(got, ref.torch(pred, target, reduction=reduction, **params))
    per = ref.numpy(pred.double().numpy() - target.double().numpy(), **params)
    want = {"sum": np.sum, "mean": np.mean}.get(reduction, np.asarray)(per)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == F32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1_with_beta_zero_is_mae(reduction):
    pred, target = residual_data((6, 4))
    pred.requires_grad_(True)
    a = lossbook.smooth_l1(pred, target, beta=0.0, reduction=reduction)
    b = lossbook.mae(pred, target, reduction=reduction)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    ga, gb = (torch.autograd.grad(v.sum(), pred)[0] for v in (a, b))
    torch.testing.assert_close(ga, gb, rtol=0, atol=0)


# ==========================================================================
# GRADCHECK: key -> [(params, has a second derivative)], checked against finite
# differences in float64 at residuals away from 0 and from |r| = delta or beta.

GRADCHECK = {
    "mse": [({}, True)],
    "rmse": [({}, True)],  # at nonzero error
    "mae": [({}, False)],
    "huber": [({"delta": 1.0}, True), ({"delta": 0.3}, True)],
    "smooth_l1": [({"beta": 1.0}, True), ({"beta": 2.0}, True), ({"beta": 0.0}, False)],
    "pseudo_huber": [({"delta": 1.0}, True), ({"delta": 0.5}, True)],
    "log_cosh": [({}, True)],  # near 0 and far out: one formula throughout
}


@pytest.mark.parametrize("key, params, second, reduction", [
    pytest.param(k, p, s, red, id=f"{k}-{params_id(p)}-{red}")
    for k in KEYS for p, s in GRADCHECK[k] for red in reductions(k)
])
def test_gradcheck(key, params, second, reduction):
    kink = next(iter(params.values()), 1.0) or 1.0
    pred, target = residual_data((2, 3), seed=1, scale=kink, away_from_kink=True)
    inputs = (pred.requires_grad_(True), target.requires_grad_(True))
    fn = lambda p, t: call(key, p, t, reduction, **params)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs)
    if second:
        assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# SYMBOLIC: the loss and gradient derived with sympy against the torch loss
# and autograd.

SYMBOLIC = {
    "mse": [{}],
    "mae": [{}],
    "huber": [{"delta": 1.0}, {"delta": 0.25}, {"delta": 3.0}],
    "smooth_l1": [{"beta": 1.0}, {"beta": 0.5}, {"beta": 2.0}],
    "pseudo_huber": [{"delta": 1.0}, {"delta": 0.2}, {"delta": 5.0}],
    "log_cosh": [{}],
    "rmse": [1, 2, 5],  # sizes n of symbolic.rmse_form(n)
}


@pytest.mark.parametrize("which", ["loss", "gradient"])
@pytest.mark.parametrize(
    "key, params",
    [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in symbolic.keys() if k in LOSSES for p in SYMBOLIC[k]],
)
def test_symbolic_matches_autograd(key, params, which):
    # every 1/4 on [-4, 4] (0 and most thresholds among them), the thresholds, points between
    th = list(params.values())
    r = np.concatenate([np.linspace(-4, 4, 33), th, np.negative(th), [0.013, -2.71]])
    target = torch.arange(len(r), dtype=F64) / 8 - 2  # exact eighths
    pred = (target + torch.from_numpy(r)).requires_grad_(True)
    loss = call(key, pred, target, "none", **params)
    got = loss if which == "loss" else torch.autograd.grad(loss.sum(), pred)[0]
    want = symbolic.form(key).numeric(which, **params)(r)
    torch.testing.assert_close(got.detach(), torch.from_numpy(want), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", SYMBOLIC["rmse"])
def test_symbolic_rmse_matches_autograd(n):
    expr, syms = symbolic.rmse_form(n)
    grad = sp.lambdify(syms, [sp.diff(expr, s) for s in syms], modules="numpy")
    pred, target = residual_data((n,), seed=n)
    pred.requires_grad_(True)
    value = lossbook.rmse(pred, target)
    (got,) = torch.autograd.grad(value, pred)
    r = (pred - target).detach().numpy()
    torch.testing.assert_close(got, torch.tensor(grad(*r), dtype=F64), rtol=1e-10, atol=1e-12)
    assert math.isclose(value.item(), sp.lambdify(syms, expr, modules="numpy")(*r), rel_tol=1e-12)


# ==========================================================================
# BAD_INPUT: key -> [(id, args, kwargs, error, message pattern)] (see bad_input.py).

BAD_INPUT = {
    "mse": pair_cases(),
    "rmse": pair_cases(reduction=False),  # one value per call: no reduction keyword at all
    "mae": pair_cases(),
    "huber": pair_cases() + number_cases("delta", positive=True),
    "smooth_l1": pair_cases() + number_cases("beta", positive=False),
    "pseudo_huber": pair_cases() + number_cases("delta", positive=True),
    "log_cosh": pair_cases(),
}


@pytest.mark.parametrize("checks", [True, False], ids=["checks-on", "checks-off"])
@pytest.mark.parametrize(
    "key, args, kwargs, error, match",
    [pytest.param(k, *c[1:], id=f"{k}-{c[0]}") for k in KEYS for c in BAD_INPUT[k]],
)
def test_bad_input(key, args, kwargs, error, match, checks):
    # shape, type and argument checks run even with the value checks off
    with lossbook.value_checks(checks), pytest.raises(error, match=match):
        LOSSES[key](*args, **kwargs)


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        LOSSES[key](torch.ones(3), torch.ones(3), 2.0)
