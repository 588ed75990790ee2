"""lossbook._barron: the one-pass rho (_Rho, used by general_robust with a number alpha and by
AdaptiveRobustLoss) against autograd of the plain formula with every limit (_rho), its gradients
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
    # general_robust takes a number alpha through _Rho's closed forms (0, 1, -2, 2, +-inf) or its
    # general branch; _rho is the autograd of the formula with every limit, fed a tensor alpha.
    x = residuals(n=64, spread=3.0)
    x[0] = 0.0
    if a > 2:  # exp(z/2) of alpha = +inf overflows beyond |x| ~ 37
        x = x.clamp(-3, 3)
    x.requires_grad_(True)
    c = torch.tensor(1.3, dtype=F64, requires_grad=True)
    got = _value_and_grads(_barron._Rho.apply, x, a, c)
    want = _value_and_grads(_barron._rho, x, torch.tensor(a, dtype=F64), c)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-13)


def test_tensor_alpha_one_pass_matches_plain_formula():
    # AdaptiveRobustLoss's path: one alpha and scale per column, 0 and 2 included; the gradients in
    # alpha and scale are written out in _Rho.backward and must equal autograd of the formula.
    x = residuals(n=120, spread=3.0).reshape(20, 6)
    x[0] = 0.0
    x.requires_grad_(True)
    alpha = torch.tensor([0.0, 1e-7, 0.5, 1.0, 2.0, 4.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([1.3, 0.5, 2.0, 1.0, 1.0, 0.7], dtype=F64, requires_grad=True)
    got = _value_and_grads(_barron._Rho.apply, x, alpha, scale)
    want = _value_and_grads(_barron._rho, x, alpha, scale)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    # at alpha = 2 exactly the closed form z/2 is used, whose alpha-derivative is 0 (documented)
    assert got[2][4].item() == 0.0


@pytest.mark.parametrize("a", [-2.0, 0.0, 0.7, 1.0, 2.0])
def test_one_pass_gradcheck_and_double_backward(a):
    x = residuals(n=8, spread=2.0).requires_grad_(True)
    c = torch.tensor(0.8, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, c: _barron._Rho.apply(x, a, c), (x, c))
    assert torch.autograd.gradgradcheck(lambda x, c: _barron._Rho.apply(x, a, c), (x, c))
    alpha = torch.tensor([a, 0.3] if a != 2 else [1.9, 0.3], dtype=F64, requires_grad=True)
    xs = x.detach().reshape(4, 2).requires_grad_(True)
    assert torch.autograd.gradcheck(_barron._Rho.apply, (xs, alpha, c))
    assert torch.autograd.gradgradcheck(_barron._Rho.apply, (xs, alpha, c))



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
