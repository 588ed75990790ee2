"""lossbook._barron: the one-pass rho (RhoOnePass, used by general_robust with a number alpha and by
AdaptiveRobustLoss) against autograd of the plain formula with every limit (rho_formula), its gradients
in x, alpha and scale, double backward and float32 at extreme residuals. The public losses
built on them are tested in tests/test_robust.py.
"""

from __future__ import annotations

import pytest
import torch

from common import F32, F64
from lossbook import _barron, _core
from lossbook.robust import general_robust
from test_robust import INF, residuals


NUMBER_ALPHAS = (-INF, -2.0, -1e-3, 0.0, 1e-6, 0.5, 1.0, 1.5, 2 - 1e-9, 2.0, 3.0, INF)


def _value_and_grads(fn, x, *rest):
    leaves = [v for v in (x, *rest) if isinstance(v, torch.Tensor) and v.requires_grad]
    value = fn(x, *rest)
    return [value.detach(), *torch.autograd.grad(value.sum(), leaves)]


@pytest.mark.parametrize("a", NUMBER_ALPHAS)
def test_number_alpha_one_pass_matches_plain_formula(a):
    # general_robust takes a number alpha through RhoOnePass's closed forms (0, 1, -2, 2, +-inf) or its
    # general branch; rho_formula is the autograd of the formula with every limit, fed a tensor alpha.
    x = residuals(n=64, spread=3.0)
    x[0] = 0.0
    if a > 2:  # exp(z/2) of alpha = +inf overflows beyond |x| ~ 37
        x = x.clamp(-3, 3)
    x.requires_grad_(True)
    c = torch.tensor(1.3, dtype=F64, requires_grad=True)
    got = _value_and_grads(_barron.RhoOnePass.apply, x, a, c)
    want = _value_and_grads(_barron.rho_formula, x, torch.tensor(a, dtype=F64), c)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-13)


def test_tensor_alpha_one_pass_matches_plain_formula():
    # AdaptiveRobustLoss's path: one alpha and scale per column, 0 and 2 included; the gradients in
    # alpha and scale are written out in RhoOnePass.backward and must equal autograd of the formula.
    x = residuals(n=120, spread=3.0).reshape(20, 6)
    x[0] = 0.0
    x.requires_grad_(True)
    alpha = torch.tensor([0.0, 1e-7, 0.5, 1.0, 2.0, 4.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([1.3, 0.5, 2.0, 1.0, 1.0, 0.7], dtype=F64, requires_grad=True)
    got = _value_and_grads(_barron.RhoOnePass.apply, x, alpha, scale)
    want = _value_and_grads(_barron.rho_formula, x, alpha, scale)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    # at alpha = 2 exactly the closed form z/2 is used, whose alpha-derivative is 0 (documented)
    assert got[2][4].item() == 0.0


@pytest.mark.parametrize("a", [-2.0, 0.0, 0.7, 1.0, 2.0])
def test_one_pass_gradcheck_and_double_backward(a):
    x = residuals(n=8, spread=2.0).requires_grad_(True)
    c = torch.tensor(0.8, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, c: _barron.RhoOnePass.apply(x, a, c), (x, c))
    assert torch.autograd.gradgradcheck(lambda x, c: _barron.RhoOnePass.apply(x, a, c), (x, c))
    alpha = torch.tensor([a, 0.3] if a != 2 else [1.9, 0.3], dtype=F64, requires_grad=True)
    xs = x.detach().reshape(4, 2).requires_grad_(True)
    assert torch.autograd.gradcheck(_barron.RhoOnePass.apply, (xs, alpha, c))
    assert torch.autograd.gradgradcheck(_barron.RhoOnePass.apply, (xs, alpha, c))



@pytest.mark.parametrize("a", (-INF, -2.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0))
def test_one_pass_float32_at_extreme_residuals(a):
    # float32 value and slope against float64 on residuals up to 3e37, where (x/c)^2 overflows
    # float32 (beyond 1.8e19): the closed forms and the log-space branch keep full precision
    # wherever the float64 result fits in float32, and overflow to inf only where it does not
    # (alpha = 1.5 at 1e30: rho is about 5.6e44; alpha = 2 beyond 2.6e19).
    x64 = torch.tensor([0.0, 1e-30, 1e-3, 0.7, 40.0, 1e6, 1e12, 1e20, 1e30, 3e37], dtype=F64)
    x64 = torch.cat([x64, -x64[1:]])
    x32 = x64.float().requires_grad_(True)
    v32 = general_robust(x32, a, 1.0, reduction="none")
    (g32,) = torch.autograd.grad(v32.sum(), x32)
    x64 = x64.requires_grad_(True)
    v64 = general_robust(x64, a, 1.0, reduction="none").detach()
    (g64,) = torch.autograd.grad(general_robust(x64, a, 1.0, reduction="sum"), x64)
    big, tiny = torch.finfo(F32).max, torch.finfo(F32).tiny
    fits = v64 <= big
    torch.testing.assert_close(v32.double()[fits], v64[fits], rtol=3e-6, atol=1e-44)
    assert bool(torch.isinf(v32[~fits]).all())
    assert bool(torch.isfinite(g32).all())
    normal = g64.abs() >= tiny  # float32 cannot hold a slope below its smallest normal number
    torch.testing.assert_close(g32.double()[normal], g64[normal], rtol=3e-6, atol=0.0)
    assert bool((g32.double()[~normal].abs() <= tiny).all())


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_tensor_alpha_at_saturated_residuals_is_as_exact_as_a_number(dtype):
    # A tensor alpha (the plain formula, rho_formula): for negative alpha and residuals far out, rho stays
    # at or below its bound |alpha - 2| / |alpha| and d rho / d scale is negative and accurate,
    # as with a number alpha. (Through exprel, L * exprel(a L / 2) cancelled: rho rounded above
    # the bound, and d rho / d scale came out positive, up to +3.6e-5 in float32.)
    alphas = torch.tensor([-50.0, -10.0, -7.5, -2.0, -1.0, -0.5, -0.01], dtype=F64)
    x = torch.tensor([3.0, 40.0, 1e3, 1e6, 1e10, 1e18], dtype=F64)[:, None].expand(-1, len(alphas))
    scale = torch.tensor(1.3, dtype=F64)

    rho = general_robust(x.to(dtype), alphas.to(dtype), scale.to(dtype), reduction="none")
    bound = ((alphas - 2).abs() / alphas.abs()).to(dtype)
    assert bool((rho <= bound).all()), (rho - bound).max()
    for j, a in enumerate(alphas.tolist()):  # one alpha at a time: the gradient in scale per alpha
        c = scale.to(dtype).requires_grad_(True)
        column = general_robust(x[:, j].to(dtype), alphas[j : j + 1].to(dtype), c, reduction="none")
        grads = torch.stack([torch.autograd.grad(v, c, retain_graph=True)[0] for v in column])
        c64 = scale.clone().requires_grad_(True)
        truth = general_robust(x[:, j], a, c64, reduction="none")  # the number path, float64
        truth = torch.stack([torch.autograd.grad(v, c64, retain_graph=True)[0] for v in truth])
        assert bool((grads <= 0).all()), (a, grads)
        # autograd's chain passes through 1/u (about 1e-18 here), so a float32 gradient far below
        # 1 underflows to 0 on the way: compared where it is above 1e-30, and never larger elsewhere
        shown = truth.abs() >= (1e-30 if dtype == F32 else torch.finfo(dtype).tiny)
        rtol = 2e-5 if dtype == F32 else 1e-12
        torch.testing.assert_close(grads.double()[shown], truth[shown], rtol=rtol, atol=0)
        assert bool((grads.double()[~shown].abs() <= truth[~shown].abs() * (1 + rtol)).all())
