"""lossbook.robust (general_robust, AdaptiveRobustLoss, log_partition): float64
references, gradients, extreme and bad inputs, and the module's parameters (the
named special cases and one test per property are in test_robust_properties.py).

REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that both robust losses are covered.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from bad_input import ValueCase, bad_input_tests
from common import F32, F64, NP_REDUCE, REDUCTIONS
from lossbook import robust
from lossbook.robust import AdaptiveRobustLoss, general_robust, log_partition

INF = math.inf


def adaptive(x, *, reduction="mean", **ctor):
    """Build an AdaptiveRobustLoss for ``x``'s last dimension and evaluate it."""
    ctor.setdefault("num_dims", x.shape[-1] if isinstance(x, torch.Tensor) and x.dim() else 1)
    module = AdaptiveRobustLoss(ctor.pop("num_dims"), **ctor)
    return module.to(x.dtype)(x, reduction=reduction) if isinstance(x, torch.Tensor) else module(x, reduction=reduction)


LOSSES = {"general_robust": general_robust, "AdaptiveRobustLoss": adaptive}


def np_rho(x, a, c):
    """Barron's rho straight from the formula (generic alpha only), float64."""
    z = (np.asarray(x, np.float64) / c) ** 2
    b = abs(a - 2)
    return b / a * ((z / b + 1) ** (a / 2) - 1)


def quad_log_z(a):
    """log Z(alpha) by adaptive quadrature (scipy), independent of the package's rule."""
    value, _ = integrate.quad(lambda t: math.exp(-float(np_rho(t, a, 1.0))) if a not in (0, 2)
                              else (math.exp(-t * t / 2) if a == 2 else 1 / (1 + t * t / 2)),
                              -INF, INF, limit=400, epsabs=1e-13, epsrel=1e-12)
    return math.log(value)


def residuals(dtype=F64, n=9, seed=0, spread=4.0):
    g = torch.Generator().manual_seed(seed)
    return (spread * torch.randn(n, generator=g, dtype=F64)).to(dtype)


# ==========================================================================
# REFERENCE

REFERENCE = {
    "general_robust": [dict(alpha=a, scale=c) for a in (-7.5, -1.0, 0.5, 1.5, 3.0) for c in (0.3, 1.0, 2.5)],
    "AdaptiveRobustLoss": [dict(alpha_init=a, scale_init=c) for a, c in ((0.05, 1.0), (1.0, 0.5), (1.9, 2.0))],
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("params", REFERENCE["general_robust"], ids=str)
def test_general_robust_matches_formula(params, dtype, reduction):
    x = residuals()
    got = general_robust(x.to(dtype), params["alpha"], params["scale"], reduction=reduction)
    want = NP_REDUCE[reduction](np_rho(x.numpy(), params["alpha"], params["scale"]))
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == F32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.double().numpy(), want, **tol)
    assert got.dtype == dtype


@pytest.mark.parametrize("params", REFERENCE["AdaptiveRobustLoss"], ids=str)
def test_adaptive_is_rho_plus_log_scale_plus_log_z(params):
    x = residuals().reshape(3, 3)
    module = AdaptiveRobustLoss(3, **params).double()
    got = module(x, reduction="none")
    a, c = module.alpha[0].item(), module.scale[0].item()
    assert (a, c) == (params["alpha_init"], params["scale_init"])  # exact in float64
    want = np_rho(x.numpy(), a, c) + math.log(c) + quad_log_z(a)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("a", [0.0, 1e-3, 0.3, 1.0, 1.5, 1.999, 2.0, 3.0, 6.0, 10.0])
def test_log_partition_matches_adaptive_quadrature(a):
    got = log_partition(torch.tensor(a, dtype=F64)).item()
    assert got == pytest.approx(quad_log_z(a), abs=1e-8)


def test_log_partition_closed_forms():
    got = log_partition(torch.tensor([2.0, 0.0], dtype=F64))
    # Z(2) = integral of exp(-x^2/2) = sqrt(2 pi); Z(0) = integral of 1/(1 + x^2/2) = pi sqrt(2)
    np.testing.assert_allclose(got.numpy(), [0.5 * math.log(2 * math.pi), math.log(math.pi * math.sqrt(2))], atol=1e-12)


@pytest.mark.parametrize("alpha, scale", [(0.001, 1.0), (0.3, 0.7), (1.0, 2.0), (1.999, 0.05), (4.0, 1.0)])
def test_adaptive_density_integrates_to_one(alpha, scale):
    module = AdaptiveRobustLoss(1, alpha_init=alpha, scale_init=scale, alpha_range=(0.0, 5.0)).double()
    density = lambda t: math.exp(-module(torch.tensor([[t]], dtype=F64), reduction="none").item())  # noqa: E731
    total, _ = integrate.quad(density, -INF, INF, limit=400)
    assert total == pytest.approx(1.0, abs=1e-3)
    assert total == pytest.approx(1.0, abs=1e-7)  # in fact far better than the 1e-3 asked for


# ==========================================================================
# GRADCHECK: float64 finite differences in x, alpha and scale.

GRADCHECK = {
    "general_robust": [-INF, -4.0, -1e-3, 0.0, 1e-3, 0.7, 1.0, 1.99, 2.01, 5.0],
    "AdaptiveRobustLoss": [dict(alpha_init=a, scale_init=c) for a, c in ((0.01, 1.0), (1.0, 0.3), (1.98, 2.0))],
}


@pytest.mark.parametrize("alpha", GRADCHECK["general_robust"])
def test_gradcheck_general_robust(alpha):
    x = residuals(n=5, spread=2.0).requires_grad_(True)
    c = torch.tensor([0.8], dtype=F64, requires_grad=True)
    if math.isinf(alpha):
        fn = lambda x, c: general_robust(x, alpha, c, reduction="none")  # noqa: E731
        inputs = (x, c)
    else:
        fn = lambda x, a, c: general_robust(x, a, c, reduction="none")  # noqa: E731
        inputs = (x, torch.tensor([alpha], dtype=F64, requires_grad=True), c)
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("params", GRADCHECK["AdaptiveRobustLoss"], ids=str)
def test_gradcheck_adaptive(params):
    module = AdaptiveRobustLoss(2, **params).double()
    x = residuals(n=6).reshape(3, 2).requires_grad_(True)
    la, ls = module.latent_alpha.detach().clone(), module.latent_scale.detach().clone()

    def fn(x, la_, ls_):
        module.latent_alpha.data, module.latent_scale.data = la_.detach(), ls_.detach()
        return torch.func.functional_call(module, {"latent_alpha": la_, "latent_scale": ls_}, (x,), {"reduction": "none"})

    assert torch.autograd.gradcheck(fn, (x, la.requires_grad_(True), ls.requires_grad_(True)))


@pytest.mark.parametrize("a0", [2.0, 2 - 1e-4, 2 + 1e-4, 0.0, 1e-6, -1e-6, -INF, INF, 1.0, -2.0, -1e8, 1e3])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_finite_values_and_gradients_at_and_near_the_special_points(a0, dtype):
    x = torch.tensor([0.0, 0.3, -2.0, 7.0], dtype=dtype, requires_grad=True)
    a = torch.tensor(a0, dtype=dtype, requires_grad=True)
    c = torch.tensor(1.3, dtype=dtype, requires_grad=True)
    value = general_robust(x, a, c, reduction="sum")
    value.backward()
    for t in (value, x.grad, a.grad, c.grad):
        assert bool(torch.isfinite(t).all()), (a0, dtype, t)


@pytest.mark.parametrize("a0", [-INF, -2.0, -1e-5, 0.0, 1e-5, 0.5, 1.0, 1.9, 2.0, 3.0])
def test_float32_agrees_with_float64(a0):
    x64 = torch.linspace(-20, 20, 41, dtype=F64)
    grads = {}
    for dtype in (F32, F64):
        x = x64.to(dtype).requires_grad_(True)
        c = torch.tensor(1.5, dtype=dtype, requires_grad=True)
        v = general_robust(x, a0, c, reduction="none")
        v.sum().backward()
        grads[dtype] = (v.detach().double(), x.grad.double(), c.grad.double())
    for got, want in zip(grads[F32], grads[F64]):
        torch.testing.assert_close(got, want, rtol=2e-5, atol=1e-5)


def test_extreme_residuals_are_finite():
    x = torch.tensor([1e6, -1e6, 1e30, -3e37], requires_grad=True)  # (x/c)^2 overflows float32
    for a in (-INF, -2.0, -1e-3, 0.0, 0.5, 1.0):
        x.grad = None
        value = general_robust(x, a, 1.0, reduction="none")
        value.sum().backward()
        assert bool(torch.isfinite(value).all() & torch.isfinite(x.grad).all()), a
    # alpha = 1 grows like |x|: 1e30 is representable in float32 and comes out right
    assert general_robust(x[2:3].detach(), 1.0, 1.0).item() == pytest.approx(1e30, rel=1e-5)
    assert general_robust(x[2:3].detach(), 0.0, 1.0).item() == pytest.approx(math.log1p(0.5e60), rel=1e-6)



def test_float16_is_computed_in_float32():
    x = torch.linspace(-300, 300, 13)
    got = general_robust(x.half(), 0.5, 0.01, reduction="none")
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.float(), general_robust(x.half().float(), 0.5, 0.01, reduction="none").half().float())


def test_empty_input():
    x = torch.zeros(0, requires_grad=True)
    for reduction in ("mean", "sum"):
        out = general_robust(x, 1.0, 1.0, reduction=reduction)
        out.backward()
        assert out.item() == 0.0
    assert general_robust(x, 1.0, 1.0, reduction="none").shape == (0,)
    assert adaptive(torch.zeros(0, 3), num_dims=3).item() == 0.0


def test_per_dimension_alpha_and_scale_broadcast():
    x = residuals(n=12).reshape(4, 3)
    alpha, scale = torch.tensor([0.0, 1.0, 2.0], dtype=F64), torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    got = general_robust(x, alpha, scale, reduction="none")
    for j in range(3):
        torch.testing.assert_close(got[:, j], general_robust(x[:, j], alpha[j].item(), scale[j].item(), reduction="none"))


# ==========================================================================
# AdaptiveRobustLoss: parameters and learning.


@pytest.mark.parametrize("init", [dict(alpha_init=0.25, scale_init=0.2, alpha_range=(0.0, 3.0), scale_min=1e-3),
                                  dict(alpha_init=1.3, scale_init=0.7), dict(alpha_init=1.9, scale_init=2.0), {}])
def test_initial_values_are_exact_in_the_modules_dtype(init):
    # float32 latents made float64 used to be 1e-8 off, and float32 itself up to 1 ulp off
    a, c = init.get("alpha_init", 1.0), init.get("scale_init", 1.0)
    for m in (AdaptiveRobustLoss(2, **init), AdaptiveRobustLoss(2, **init, dtype=F64),
              AdaptiveRobustLoss(2, **init).double(), AdaptiveRobustLoss(2, **init, dtype=F64).float()):
        dt = m.latent_alpha.dtype
        assert m.alpha.dtype == m.scale.dtype == dt
        assert m.alpha.tolist() == [torch.tensor(a, dtype=dt).item()] * 2
        assert m.scale.tolist() == [torch.tensor(c, dtype=dt).item()] * 2


def test_initial_values_and_ranges():
    m = AdaptiveRobustLoss(3, alpha_init=0.25, scale_init=0.2, alpha_range=(0.0, 3.0), scale_min=1e-3)
    with torch.no_grad():
        m.latent_alpha.copy_(torch.tensor([-1e3, 0.0, 1e3]))
        m.latent_scale.fill_(-1e3)
    assert m.alpha.tolist() == pytest.approx([0.0, 1.5, 3.0], rel=0, abs=3e-7)  # (1.5 + a rounding)
    assert m.alpha.min() >= 0.0 and m.alpha.max() <= 3.0
    assert bool((m.scale >= 1e-3).all())


def _fit(data, steps=300):
    torch.manual_seed(0)
    m = AdaptiveRobustLoss(1).double()
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        m(data).backward()
        opt.step()
    return m.alpha.item(), m.scale.item()


def test_learns_alpha_from_the_tails_of_the_data():
    g = torch.Generator().manual_seed(0)
    gaussian = 2.0 * torch.randn(2000, 1, generator=g, dtype=F64)
    cauchy = 0.5 * torch.distributions.Cauchy(0.0, 1.0).icdf(torch.rand(2000, 1, generator=g, dtype=F64) * 0.998 + 0.001)
    a_gauss, c_gauss = _fit(gaussian)
    a_cauchy, _ = _fit(cauchy)
    assert a_gauss > 1.5  # Gaussian residuals: alpha near the L2 end of the range
    assert c_gauss == pytest.approx(2.0, rel=0.15)  # and the scale near the standard deviation
    assert a_cauchy < 0.5  # heavy tails: alpha near the Cauchy end


def test_module_gradients_reach_both_parameters():
    m = AdaptiveRobustLoss(2)
    m(torch.randn(8, 2)).backward()
    assert m.latent_alpha.grad.abs().min() > 0 and m.latent_scale.grad.abs().min() > 0


# ==========================================================================
# BAD_INPUT

_X = torch.ones(3)
_SCALE_MSG = r"^scale must be finite and > 0, got values such as "
BAD_INPUT = {
    "general_robust": [
        ("x-list", ([1.0], 1.0, 1.0), {}, TypeError, r"^x must be a torch\.Tensor, got list$"),
        ("x-int", (torch.ones(3, dtype=torch.int64), 1.0, 1.0), {}, TypeError, r"^x must have a floating-point dtype"),
        ("alpha-str", (_X, "2", 1.0), {}, TypeError, r"^alpha must be a real number or a tensor, got str$"),
        ("alpha-bool", (_X, True, 1.0), {}, TypeError, r"^alpha must be a real number or a tensor, got bool$"),
        ("alpha-nan", (_X, math.nan, 1.0), {}, ValueError, r"^alpha must be a real number or \+-inf, got nan$"),
        ("alpha-f64", (_X, torch.tensor(1.0, dtype=F64), 1.0), {}, TypeError,
         r"^alpha must have the same dtype as x \(torch\.float32\), got torch\.float64$"),
        ("alpha-int", (_X, torch.tensor(1), 1.0), {}, TypeError, r"^alpha must have a floating-point dtype"),
        ("scale-0", (_X, 1.0, 0.0), {}, ValueError, r"^scale must be > 0, got 0\.0$"),
        ("scale--1", (_X, 1.0, -1), {}, ValueError, r"^scale must be > 0, got -1$"),
        ("scale-inf", (_X, 1.0, INF), {}, ValueError, r"^scale must be finite, got inf$"),
        ("scale-None", (_X, 1.0, None), {}, TypeError, r"^scale must be a real number, got NoneType$"),
        ("no-broadcast", (_X, torch.ones(2), 1.0), {}, ValueError, r"^alpha \(2,\) and scale \(\) must broadcast against x \(3,\)$"),
        ("reduction", (_X, 1.0, 1.0), {"reduction": "avg"}, ValueError, r"^reduction must be one of"),
        ValueCase("scale-tensor-0", (_X, 1.0, torch.tensor([1.0, 0.0, 2.0])), {}, ValueError, _SCALE_MSG + r"\[0\.0\]$"),
        ValueCase("scale-tensor-neg", (_X, 1.0, torch.tensor(-2.0)), {}, ValueError, _SCALE_MSG + r"\[-2\.0\]$"),
        ValueCase("scale-tensor-nan", (_X, 1.0, torch.tensor(math.nan)), {}, ValueError, _SCALE_MSG + r"\[nan\]$"),
        ValueCase("alpha-tensor-nan", (_X, torch.tensor([1.0, math.nan, 0.0]), 1.0), {}, ValueError,
                  r"^alpha must be a real number or \+-inf, got NaN$"),
    ],
    "AdaptiveRobustLoss": [
        ("x-list", ([[1.0]],), {}, TypeError, r"^x must be a torch\.Tensor, got list$"),
        ("x-last-dim", (torch.ones(4, 3),), {"num_dims": 2}, ValueError, r"^x must have shape \(\.\.\., 2\), got \(4, 3\)$"),
        ("x-0d", (torch.tensor(1.0),), {"num_dims": 1}, ValueError, r"^x must have shape \(\.\.\., 1\), got \(\)$"),
        ("num_dims-0", (_X,), {"num_dims": 0}, ValueError, r"^num_dims must be >= 1, got 0$"),
        ("num_dims-float", (_X,), {"num_dims": 3.0}, TypeError, r"^num_dims must be an int, got float$"),
        ("num_dims-bool", (_X,), {"num_dims": True}, TypeError, r"^num_dims must be an int, got bool$"),
        ("range-reversed", (_X,), {"alpha_range": (1.5, 0.5)}, ValueError, r"^alpha_range must have 0 <= low < high <= 10"),
        ("range-negative", (_X,), {"alpha_range": (-1.0, 1.5)}, ValueError, r"^alpha_range\[0\] must be >= 0, got -1\.0$"),
        ("range-above-10", (_X,), {"alpha_range": (0.0, 12.0)}, ValueError, r"^alpha_range must have 0 <= low < high <= 10"),
        ("range-scalar", (_X,), {"alpha_range": 1.0}, TypeError, r"^alpha_range must be a pair \(low, high\), got 1\.0$"),
        ("alpha_init-outside", (_X,), {"alpha_init": 2.5}, ValueError, r"^alpha_init must be strictly inside alpha_range"),
        ("alpha_init-at-bound", (_X,), {"alpha_init": 0.001}, ValueError, r"^alpha_init must be strictly inside"),
        ("scale_init-0", (_X,), {"scale_init": 0.0}, ValueError, r"^scale_init must be > 0, got 0\.0$"),
        ("scale_init-below-min", (_X,), {"scale_init": 1e-6}, ValueError, r"^scale_init must be > scale_min \(1e-05\)"),
        ("scale_min-neg", (_X,), {"scale_min": -1.0}, ValueError, r"^scale_min must be > 0, got -1\.0$"),
        ("reduction", (_X,), {"num_dims": 3, "reduction": "avg"}, ValueError, r"^reduction must be one of"),
    ],
}

test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


@pytest.mark.parametrize("bad", [-0.5, 10.5, math.nan])
def test_log_partition_refuses_alpha_outside_its_domain(bad):
    with pytest.raises(ValueError, match=r"^alpha must be in \[0, 10\]"):
        log_partition(torch.tensor([1.0, bad]))


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        general_robust(_X, 1.0, 1.0, "sum")
    with pytest.raises(TypeError):
        AdaptiveRobustLoss(1, 1.0)
    assert robust.__all__ == ["general_robust", "AdaptiveRobustLoss", "log_partition"]
