"""lossbook.robust's general_robust: the named special cases and limits, and one test
per mathematical property (Barron 2019, section 2). References, gradients, extreme
and bad inputs are in test_robust.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lossbook
from common import F32, F64
from lossbook import symbolic
from lossbook.robust import general_robust

INF = math.inf


def residuals(dtype=F64, n=9, seed=0, spread=4.0):
    g = torch.Generator().manual_seed(seed)
    return (spread * torch.randn(n, generator=g, dtype=F64)).to(dtype)


# ==========================================================================
# The named special cases, exact (alpha = 2, 0, -inf, +inf are limits).

SPECIAL = {
    "L2 (alpha=2)": (2.0, lambda z: z / 2),
    "Charbonnier (alpha=1)": (1.0, lambda z: torch.sqrt(z + 1) - 1),
    "Cauchy (alpha=0)": (0.0, lambda z: torch.log1p(z / 2)),
    "Geman-McClure (alpha=-2)": (-2.0, lambda z: 2 * z / (z + 4)),
    "Welsch (alpha=-inf)": (-INF, lambda z: 1 - torch.exp(-z / 2)),
    "alpha=+inf": (INF, lambda z: torch.expm1(z / 2)),
}


@pytest.mark.parametrize("name", SPECIAL)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_special_cases(name, dtype):
    alpha, closed = SPECIAL[name]
    x, c = torch.linspace(-6, 6, 25, dtype=dtype), 1.7
    got = general_robust(x, alpha, c, reduction="none")
    torch.testing.assert_close(got, closed((x / c) ** 2), rtol=1e-6 if dtype == F32 else 1e-14, atol=1e-7)


def test_welsch_gradient_is_not_lost_in_the_tail():
    x = torch.tensor([0.5, 10.0, 30.0], dtype=F64, requires_grad=True)
    general_robust(x, -INF, 1.0, reduction="sum").backward()
    want = x.detach() * torch.exp(-x.detach() ** 2 / 2)  # d/dx (1 - exp(-x^2/2)), about 2e-21 at x = 10
    torch.testing.assert_close(x.grad, want, rtol=1e-12, atol=0)


def test_alpha_two_is_half_mse_and_alpha_one_is_pseudo_huber():
    pred, target = residuals(seed=1), residuals(seed=2)
    r = pred - target
    torch.testing.assert_close(general_robust(r, 2.0, 1.0), lossbook.mse(pred, target) / 2)
    for c in (0.5, 3.0):  # c^2 rho(x, 1, c) = delta^2 (sqrt(1 + (r/delta)^2) - 1) with delta = c
        torch.testing.assert_close(c**2 * general_robust(r, 1.0, c), lossbook.pseudo_huber(pred, target, delta=c))


@pytest.mark.parametrize("a0", [2.0, 0.0, -INF])
@pytest.mark.parametrize("side", [-1, 1])
def test_continuous_at_the_limits(a0, side):
    x = torch.linspace(-5, 5, 21, dtype=F64)
    near = -1e6 if a0 == -INF else a0 + side * 1e-7
    if a0 == -INF and side == 1:
        near = -1e9
    torch.testing.assert_close(general_robust(x, near, 1.0, reduction="none"),
                               general_robust(x, a0, 1.0, reduction="none"), rtol=1e-5, atol=1e-6)


# ==========================================================================
# Properties, one test each.

xs = st.floats(-1e3, 1e3, allow_nan=False)
alphas = st.one_of(st.floats(-50, 10, allow_nan=False), st.sampled_from([-INF, 0.0, 2.0, 1.0, -2.0]))
scales = st.floats(0.01, 100.0)


@given(xs, alphas, scales)
def test_zero_at_zero_and_nonnegative(x, a, c):
    assert general_robust(torch.tensor(0.0, dtype=F64), a, c).item() == 0.0
    assert general_robust(torch.tensor(x, dtype=F64), a, c).item() >= 0.0


@given(st.floats(0, 30), st.floats(0, 30), alphas, scales)
def test_monotone_in_abs_x(u, v, a, c):
    lo, hi = sorted((u, v))
    f = lambda t: general_robust(torch.tensor(t, dtype=F64), a, c).item()  # noqa: E731
    assert f(lo) <= f(hi) * (1 + 1e-12) and f(-lo) <= f(hi) * (1 + 1e-12)


@given(xs, st.floats(-20, 10, allow_nan=False), st.floats(-20, 10, allow_nan=False), scales)
def test_monotone_in_alpha(x, a1, a2, c):
    lo, hi = sorted((a1, a2))  # Barron (2019): rho is non-decreasing in alpha
    f = lambda a: general_robust(torch.tensor(x, dtype=F64), a, c).item()  # noqa: E731
    assert f(lo) <= f(hi) * (1 + 1e-9) + 1e-12


@given(st.floats(-50, -1e-3), scales)
def test_bounded_for_negative_alpha(a, c):
    bound = abs(a - 2) / abs(a)  # the limit as |x| -> infinity
    x = torch.tensor([1e3, 1e6, 1e12], dtype=F64) * c
    values = general_robust(x, a, c, reduction="none")
    assert bool((values <= bound * (1 + 1e-12)).all())
    assert values[-1].item() == pytest.approx(bound, rel=1e-3)


@given(xs, alphas, scales, st.floats(0.01, 100.0))
def test_scale_invariance(x, a, c, k):
    one = general_robust(torch.tensor(x, dtype=F64), a, c)
    scaled = general_robust(torch.tensor(k * x, dtype=F64), a, k * c)
    assert scaled.item() == pytest.approx(one.item(), rel=1e-9, abs=1e-300)


@given(st.floats(-10, 10, allow_nan=False), scales)
def test_quadratic_near_zero(a, c):
    x = torch.tensor(1e-4 * c, dtype=F64, requires_grad=True)
    general_robust(x, a, c).backward()
    assert x.grad.item() == pytest.approx(x.item() / c**2, rel=1e-6)  # rho ~ (x/c)^2 / 2 for every alpha


def test_gradient_matches_symbolic_form():
    form = symbolic.form("general_robust")
    r = np.linspace(-4, 4, 17)
    for a, c in ((0.5, 1.0), (-3.0, 0.7), (1.5, 2.0), (4.0, 1.2)):
        x = torch.tensor(r, requires_grad=True)
        general_robust(x, a, c, reduction="sum").backward()
        np.testing.assert_allclose(x.grad.numpy(), form.numeric("gradient", alpha=a, scale=c)(r), rtol=1e-10, atol=1e-14)
