"""lossbook.adversarial (GAN and WGAN losses, WGAN-GP's gradient penalty) against PyTorch's
binary cross-entropy and float64 NumPy evaluations of the docstring formulas; gradients,
properties (the saturation claim among them), extreme, empty and bad inputs.

REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests; tests/test_catalog.py
reads them to check that every adversarial loss in the catalog is covered.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from bad_input import bad_input_tests, pair_cases, reduction_cases
from common import DTYPES, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import adversarial
from lossbook.adversarial import (
    gan_discriminator_loss, gan_generator_loss, gradient_penalty,
    wasserstein_critic_loss, wasserstein_generator_loss,
)

KEYS = list(adversarial.__all__)
LOSSES = {k: getattr(adversarial, k) for k in KEYS}
TWO_SIDED = ("gan_discriminator_loss", "wasserstein_critic_loss")


def scores(shape, *, seed=0, scale=3.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=F64)).to(dtype)


# ==========================================================================
# REFERENCE: float64 NumPy straight from the docstrings (D = sigmoid(logit)), and
# PyTorch's binary_cross_entropy_with_logits against ones and zeros.


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_two_sided(key, real, fake, reduction):
    if key == "gan_discriminator_loss":  # -log D(x) - log(1 - D(G(z)))
        r, f = -np.log(_sigmoid(real)), -np.log(1 - _sigmoid(fake))
    else:  # mean(fake) - mean(real)
        r, f = -real, fake
    return r + f if reduction == "none" else NP_REDUCE[reduction](r) + NP_REDUCE[reduction](f)


def torch_two_sided(key, real, fake, reduction):
    if key == "wasserstein_critic_loss":
        return None
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    return (F.binary_cross_entropy_with_logits(real, ones, reduction=reduction)
            + F.binary_cross_entropy_with_logits(fake, zeros, reduction=reduction))


REFERENCE = {  # key -> cases: (real shape, fake shape) for the two-sided losses, parameters otherwise
    "gan_discriminator_loss": [((7,), (7,)), ((4, 3), (4, 3)), ((6,), (3,)), ((2, 5), (5, 5))],
    "wasserstein_critic_loss": [((7,), (7,)), ((4, 3), (4, 3)), ((6,), (3,)), ((2, 5), (5, 5))],
    "gan_generator_loss": [{}, {"non_saturating": True}, {"non_saturating": False}],
    "wasserstein_generator_loss": [{}],
    "gradient_penalty": ["linear", "quadratic", "quadratic-image"],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, shapes", [pytest.param(k, s, id=f"{k}-{s}") for k in TWO_SIDED for s in REFERENCE[k]])
def test_two_sided_match_reference(key, shapes, reduction, dtype):
    real, fake = scores(shapes[0], seed=1, dtype=dtype), scores(shapes[1], seed=2, dtype=dtype)
    if reduction == "none" and shapes[0] != shapes[1]:
        pytest.raises(ValueError, LOSSES[key], real, fake, reduction="none")
        return
    got = LOSSES[key](real, fake, reduction=reduction)
    assert got.dtype == dtype and got.shape == (shapes[0] if reduction == "none" else ())
    ref = torch_two_sided(key, real, fake, reduction)
    if ref is not None:
        torch.testing.assert_close(got, ref)
    want = np_two_sided(key, real.double().numpy(), fake.double().numpy(), reduction)
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **dtype_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7,), (4, 3)], ids=str)
@pytest.mark.parametrize("key, params", [
    pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in ("gan_generator_loss", "wasserstein_generator_loss")
    for p in REFERENCE[k]])
def test_generator_losses_match_reference(key, params, shape, reduction, dtype):
    fake = scores(shape, seed=3, dtype=dtype)
    got = LOSSES[key](fake, reduction=reduction, **params)
    assert got.dtype == dtype and got.shape == (shape if reduction == "none" else ())
    x = fake.double().numpy()
    if key == "wasserstein_generator_loss":
        per = -x
    elif params.get("non_saturating", True):  # -log D(G(z))
        per = -np.log(_sigmoid(x))
        torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake),
                                                                           reduction=reduction))
    else:  # log(1 - D(G(z)))
        per = np.log(1 - _sigmoid(x))
        torch.testing.assert_close(got, -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake),
                                                                            reduction=reduction))
    torch.testing.assert_close(got, torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype), **dtype_tol(dtype))


def _draws(n, seed, dtype):
    """The interpolation weights u, one per sample, drawn as the docstring says."""
    return torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=dtype).double().numpy()


def critic_case(name, dtype):
    """(critic, real, fake, hand-computed per-sample penalties) with NumPy in float64."""
    g = torch.Generator().manual_seed(5)
    if name == "linear":  # f(x) = w.x + b: the gradient is w everywhere, the penalty (||w|| - 1)^2
        critic = torch.nn.Linear(3, 1).to(dtype)
        real, fake = (torch.randn(6, 3, generator=g).to(dtype) for _ in "rf")
        w = critic.weight.detach().double().numpy().ravel()
        return critic, real, fake, np.full(6, (np.linalg.norm(w) - 1) ** 2)
    shape = (6, 3) if name == "quadratic" else (5, 2, 3, 4)
    real, fake = (torch.randn(shape, generator=g).to(dtype) for _ in "rf")
    if name == "quadratic":  # f(x) = x.A x: gradient (A + A^T) x_hat
        a = torch.randn(3, 3, generator=g).to(dtype)
        critic = lambda x: ((x @ a) * x).sum(1)  # noqa: E731
        grad_of = lambda xh: xh @ (a + a.T).double().numpy().T  # noqa: E731
    else:  # f(x) = 1/2 sum m * x^2 over (C, H, W), scores (N, 1): gradient m * x_hat
        m = torch.rand(shape[1:], generator=g).to(dtype)
        critic = lambda x: 0.5 * (m * x**2).flatten(1).sum(1, keepdim=True)  # noqa: E731
        grad_of = lambda xh: m.double().numpy() * xh  # noqa: E731
    u = _draws(shape[0], seed=7, dtype=dtype).reshape((-1,) + (1,) * (len(shape) - 1))
    x_hat = u * real.double().numpy() + (1 - u) * fake.double().numpy()
    norms = np.sqrt((grad_of(x_hat).reshape(shape[0], -1) ** 2).sum(1))
    return critic, real, fake, (norms - 1) ** 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", REFERENCE["gradient_penalty"])
def test_gradient_penalty_matches_hand_computation(name, reduction, dtype):
    torch.manual_seed(0)  # nn.Linear's initialisation
    critic, real, fake, per = critic_case(name, dtype)
    got = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7), reduction=reduction)
    assert got.dtype == dtype and got.shape == ((real.shape[0],) if reduction == "none" else ())
    want = torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype)
    torch.testing.assert_close(got.detach(), want, **dtype_tol(dtype))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_penalty_of_a_linear_critic_ignores_the_interpolation(seed):
    w = torch.tensor([[0.6, 0.0, 0.0], [0.3, -0.4, 1.2], [2.0, 1.0, -2.0]], dtype=F64)  # norms 0.6, 1.3, 3
    real, fake = scores((8, 3), seed=seed), scores((8, 3), seed=seed + 10)
    for row, norm in zip(w, (0.6, 1.3, 3.0)):
        pen = gradient_penalty(lambda x: x @ row + 0.5, real, fake, generator=torch.Generator().manual_seed(seed),
                               reduction="none")
        torch.testing.assert_close(pen, torch.full((8,), (norm - 1) ** 2, dtype=F64), rtol=1e-12, atol=1e-15)


def test_gradient_penalty_is_reproducible_with_a_seeded_generator():
    critic, real, fake, _ = critic_case("quadratic", F64)
    def run(seed):
        return gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(seed), reduction="none")
    assert torch.equal(run(3), run(3))
    assert not torch.allclose(run(3), run(4))
    torch.manual_seed(11)  # without a generator: the global RNG
    first = gradient_penalty(critic, real, fake, reduction="none")
    torch.manual_seed(11)
    assert torch.equal(first, gradient_penalty(critic, real, fake, reduction="none"))


def test_gradient_penalty_trains_the_critic_only():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    real, fake = (scores((5, 3), seed=s).requires_grad_(True) for s in (1, 2))
    gradient_penalty(critic, real, fake).backward()  # the critic's input gradient depends on x here
    assert real.grad is None and fake.grad is None
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.parameters() if p is not critic[2].bias)
    linear = torch.nn.Linear(3, 1).double()
    gradient_penalty(linear, real, fake).backward()
    w = linear.weight.detach().ravel()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||; no path to b
    torch.testing.assert_close(linear.weight.grad.ravel(), 2 * (w.norm() - 1) * w / w.norm())
    assert linear.bias.grad is None


def test_gradient_penalty_accepts_scores_n_and_n1():
    real, fake = scores((4, 3), seed=1), scores((4, 3), seed=2)
    f = lambda x: (x**3).sum(1)  # noqa: E731
    a = gradient_penalty(f, real, fake, generator=torch.Generator().manual_seed(0), reduction="none")
    b = gradient_penalty(lambda x: f(x)[:, None], real, fake, generator=torch.Generator().manual_seed(0),
                         reduction="none")
    assert torch.equal(a, b) and (a > 0).all()


# ==========================================================================
# GRADCHECK (float64, finite differences; second derivatives too). The gradient
# penalty is checked as a function of the critic's weights w, the interpolation
# fixed by a fresh seeded generator on every call.

GRADCHECK = {
    "gan_discriminator_loss": [{}],
    "gan_generator_loss": [{"non_saturating": True}, {"non_saturating": False}],
    "wasserstein_critic_loss": [{}],
    "wasserstein_generator_loss": [{}],
    "gradient_penalty": [{"critic": "tanh"}, {"critic": "quadratic"}],
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "key, params", [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in KEYS for p in GRADCHECK[k]]
)
def test_gradcheck(key, params, reduction):
    real, fake = scores((4, 2), seed=1).requires_grad_(True), scores((4, 2), seed=2).requires_grad_(True)
    if key in TWO_SIDED:
        fn, inputs = (lambda r, f: LOSSES[key](r, f, reduction=reduction)), (real, fake)
    elif key != "gradient_penalty":
        fn, inputs = (lambda f: LOSSES[key](f, reduction=reduction, **params)), (fake,)
    else:
        x_real, x_fake = real.detach(), fake.detach()

        def fn(w):
            critic = (lambda x: torch.tanh(x @ w)) if params["critic"] == "tanh" else (lambda x: ((x @ w) * x).sum(1))
            return gradient_penalty(critic, x_real, x_fake, generator=torch.Generator().manual_seed(0),
                                    reduction=reduction)
        inputs = (scores((2,) if params["critic"] == "tanh" else (2, 2), seed=4, scale=0.7).requires_grad_(True),)
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# Properties (hypothesis)

_logit = st.floats(-30, 30)


def _vec(values=_logit, n_min=1):
    return st.lists(values, min_size=n_min, max_size=6).map(lambda v: torch.tensor(v, dtype=F64))


def _grad(fn, x):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(fn(x), x)[0]


@given(_vec(), _vec())
def test_discriminator_loss_is_nonnegative_and_falls_toward_real_up_fake_down(real, fake):
    n = min(len(real), len(fake))
    assert (gan_discriminator_loss(real[:n], fake[:n], reduction="none") >= 0).all()
    assert gan_discriminator_loss(real, fake) >= 0
    assert (_grad(lambda r: gan_discriminator_loss(r, fake, reduction="sum"), real) < 0).all()
    assert (_grad(lambda f: gan_discriminator_loss(real, f, reduction="sum"), fake) > 0).all()
    # its infimum 0 is reached in the limit: real -> +inf, fake -> -inf
    assert gan_discriminator_loss(torch.full_like(real, 1e4), torch.full_like(fake, -1e4)).item() == 0.0


@given(_vec())
def test_generator_losses_signs_and_gradients(fake):
    ns = gan_generator_loss(fake, reduction="none")
    mm = gan_generator_loss(fake, non_saturating=False, reduction="none")
    assert (ns >= 0).all() and (mm <= 0).all()  # the minimax form is log(1 - D): never positive
    torch.testing.assert_close(ns + mm, -fake)  # softplus(-l) - softplus(l) = -l
    d = torch.sigmoid(fake)  # D(G(z))
    torch.testing.assert_close(_grad(lambda f: gan_generator_loss(f, reduction="sum"), fake), -(1 - d))
    torch.testing.assert_close(
        _grad(lambda f: gan_generator_loss(f, non_saturating=False, reduction="sum"), fake), -d)


def test_minimax_generator_saturates_where_the_discriminator_wins():
    fake = torch.tensor([-10.0, -5.0, 0.0, 5.0], dtype=F64)  # D(G(z)) = 4.5e-5, 6.7e-3, 1/2, 0.993
    mm = _grad(lambda f: gan_generator_loss(f, non_saturating=False, reduction="sum"), fake)
    ns = _grad(lambda f: gan_generator_loss(f, reduction="sum"), fake)
    assert abs(mm[0]) < 1e-4 and ns[0] < -0.9999  # rejected fakes: no signal vs a full one
    assert mm[2] == ns[2] == -0.5  # D = 1/2: equal
    assert abs(ns[3]) < 0.01 and mm[3] < -0.99  # accepted fakes: the roles swap


@given(_vec(), _vec(), st.floats(-100, 100))
def test_wasserstein_critic_antisymmetry_and_shift(real, fake, c):
    for reduction in ("mean", "sum"):
        a = wasserstein_critic_loss(real, fake, reduction=reduction)
        torch.testing.assert_close(wasserstein_critic_loss(fake, real, reduction=reduction), -a)
        # mean(fake) - mean(real) = (-mean(real)) - (-mean(fake))
        gen = [wasserstein_generator_loss(x, reduction=reduction) for x in (real, fake)]
        torch.testing.assert_close(gen[0] - gen[1], a)
    torch.testing.assert_close(wasserstein_critic_loss(real + c, fake + c), wasserstein_critic_loss(real, fake),
                               rtol=1e-9, atol=1e-9)
    # mean over each side's own batch: d/dreal = -1/N, d/dfake = 1/M
    torch.testing.assert_close(_grad(lambda r: wasserstein_critic_loss(r, fake), real),
                               torch.full_like(real, -1 / len(real)))
    torch.testing.assert_close(_grad(lambda f: wasserstein_critic_loss(real, f), fake),
                               torch.full_like(fake, 1 / len(fake)))


@given(_vec(), _vec())
def test_discriminator_loss_is_two_generator_terms(real, fake):
    want = gan_generator_loss(real) - gan_generator_loss(fake, non_saturating=False)
    torch.testing.assert_close(gan_discriminator_loss(real, fake), want)


# ==========================================================================
# Extreme inputs, empty batches


def test_extreme_logits_float32():
    big = torch.tensor([1e4, -1e4])
    for key, args, want in [
        ("gan_discriminator_loss", (big, -big), [0.0, 2e4]),  # softplus(-1e4) = 0, softplus(1e4) = 1e4
        ("gan_generator_loss", (big,), [0.0, 1e4]),
        ("wasserstein_critic_loss", (big, -big), [-2e4, 2e4]),
        ("wasserstein_generator_loss", (big,), [-1e4, 1e4]),
    ]:
        inputs = [a.clone().requires_grad_(True) for a in args]
        out = LOSSES[key](*inputs, reduction="none")
        torch.testing.assert_close(out, torch.tensor(want), msg=key)
        assert all(torch.isfinite(g).all() for g in torch.autograd.grad(out.sum(), inputs))
    fake = big.clone().requires_grad_(True)
    out = gan_generator_loss(fake, non_saturating=False, reduction="sum")  # -softplus(1e4) + -softplus(-1e4)
    assert out.item() == -1e4
    torch.testing.assert_close(torch.autograd.grad(out, fake)[0], torch.tensor([-1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key, reduction):
    if key == "gradient_penalty":
        w = torch.randn(3, requires_grad=True)
        args = (lambda x: x @ w, torch.zeros(0, 3), torch.zeros(0, 3))
        leaf = w
    else:
        leaf = torch.zeros(0, requires_grad=True)
        args = (leaf, torch.zeros(0)) if key in TWO_SIDED else (leaf,)
    out = LOSSES[key](*args, reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0  # not NaN
    (grad,) = torch.autograd.grad(out, leaf)
    assert grad.shape == leaf.shape and (grad == 0).all()


def test_gradient_penalty_empty_batch_reaches_module_parameters():
    critic = torch.nn.Sequential(torch.nn.Conv2d(2, 1, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    critic(torch.zeros(1, 2, 5, 5))  # materialise the lazy layer
    out = gradient_penalty(critic, torch.zeros(0, 2, 5, 5), torch.zeros(0, 2, 5, 5))
    out.backward()
    assert out.item() == 0.0 and all(p.grad is not None and (p.grad == 0).all() for p in critic.parameters())


@pytest.mark.parametrize("key", TWO_SIDED)
def test_two_sided_mean_with_an_empty_side_is_the_other_side(key):
    fake = scores((5,), seed=9)
    x = fake.numpy()  # the mean over no real samples counts as 0, not NaN: the fake side alone
    want = (-np.log(1 - _sigmoid(x)) if key == "gan_discriminator_loss" else x).mean()
    torch.testing.assert_close(LOSSES[key](torch.zeros(0, dtype=F64), fake), torch.tensor(want, dtype=F64))


# ==========================================================================
# BAD_INPUT (see bad_input.py)

_S, _X = torch.zeros(4), torch.zeros(4, 3)
_T, _FL = r" must be a torch\.Tensor, got ", r" must have a floating-point dtype"


def scores_cases(name, head=(), tail=()):
    """One batch of scores (between ``head`` and ``tail``) that is no tensor, not floating or a scalar."""
    def args(x):
        return (*head, x, *tail)
    return [
        (f"{name}-list", args([0.0] * 4), {}, TypeError, f"^{name}{_T}list$"),
        (f"{name}-ndarray", args(np.zeros(4, np.float32)), {}, TypeError, f"^{name}{_T}ndarray$"),
        (f"{name}-int", args(torch.zeros(4, dtype=torch.int64)), {}, TypeError, f"^{name}{_FL}"),
        (f"{name}-scalar", args(torch.tensor(0.0)), {}, ValueError, rf"^{name} must have a batch dimension"),
    ]


def two_sided_cases(a, b):
    same = rf"^{b} must have the same per-sample shape as {a} "
    return scores_cases(a, tail=(_S,)) + scores_cases(b, head=(_S,)) + [
        ("f32-vs-f64", (_S, _S.double()), {}, TypeError, rf"^{b} must have the same dtype as {a} \(torch\.float32\), "
         r"got torch\.float64$"),
        ("device", (_S, _S.to("meta")), {}, ValueError, rf"^{b} must be on the same device as {a} \(cpu\), got meta$"),
        ("per-sample-shape", (_X, torch.zeros(4, 2)), {}, ValueError, same + r"\(3,\), got \(2,\)$"),
        ("N-vs-N1", (_S, torch.zeros(4, 1)), {}, ValueError, same + r"\(\), got \(1,\)$"),
        ("none-N-vs-M", (_S, torch.zeros(5)), {"reduction": "none"}, ValueError,
         rf"^{b} must have the same shape as {a} \(4,\), got \(5,\)"),
    ] + reduction_cases((_S, _S))


def _critic(x):
    return x.sum(1)


_GP = (_critic, _X, _X)
_CRITIC_SHAPE = r"^critic must return scores of shape \(4,\) or \(4, 1\), got "

BAD_INPUT = {
    "gan_discriminator_loss": two_sided_cases("real_logits", "fake_logits"),
    "wasserstein_critic_loss": two_sided_cases("real_scores", "fake_scores"),
    "gan_generator_loss": scores_cases("fake_logits") + reduction_cases((_S,)) + [
        (f"non_saturating={v!r}", (_S,), {"non_saturating": v}, TypeError,
         rf"^non_saturating must be a bool, got {type(v).__name__}$") for v in (1, 0, None, "True", np.bool_(True))],
    "wasserstein_generator_loss": scores_cases("fake_scores") + reduction_cases((_S,)),
    "gradient_penalty": [(i, (_critic, *a), kw, e, m) for i, a, kw, e, m in pair_cases(("real", "fake"))] + [
        (f"critic-{type(c).__name__}", (c, _X, _X), {}, TypeError,
         rf"^critic must be callable .*got {type(c).__name__}$")
        for c in (None, 3.0, torch.ones(3))
    ] + [
        ("critic-returns-list", (lambda x: [0.0] * 4, _X, _X), {}, TypeError, rf"^critic\(x\){_T}list$"),
        ("critic-returns-int", (lambda x: x.sum(1).long(), _X, _X), {}, TypeError, rf"^critic\(x\){_FL}"),
        ("critic-returns-N2", (lambda x: x[:, :2], _X, _X), {}, ValueError, _CRITIC_SHAPE + r"\(4, 2\)$"),
        ("critic-returns-scalar", (lambda x: x.sum(), _X, _X), {}, ValueError, _CRITIC_SHAPE + r"\(\)$"),
        ("critic-returns-1", (lambda x: x.sum().reshape(1), _X, _X), {}, ValueError, _CRITIC_SHAPE + r"\(1,\)$"),
        ("real-1d", (_critic, _S, _S), {}, ValueError,
         r"^real must have shape \(N, \*\) with at least one feature dimension, got \(4,\)$"),
        ("generator-numpy", _GP, {"generator": np.random.default_rng(0)}, TypeError,
         r"^generator must be a torch\.Generator or None, got Generator$"),
        ("generator-int", _GP, {"generator": 0}, TypeError, r"^generator must be a torch\.Generator or None, got int$"),
    ] + reduction_cases(_GP),
}


test_bad_input, _no_value_cases = bad_input_tests(LOSSES, BAD_INPUT)  # no value-range checks here


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    args = {"gradient_penalty": _GP, **{k: (_S, _S) for k in TWO_SIDED}}.get(key, (_S,))
    with pytest.raises(TypeError, match=f"takes {len(args)} positional arguments? but {len(args) + 1} were given"):
        LOSSES[key](*args, "mean")
