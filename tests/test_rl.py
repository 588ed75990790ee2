"""lossbook.rl (policy_gradient_loss, td_loss) against PyTorch's mse_loss / huber_loss on
the detached target and float64 NumPy evaluations of the docstring formulas; gradients,
properties (what is detached, what the surrogate's value does and does not mean), extreme,
empty and bad inputs.

REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests; tests/test_catalog.py
reads them to check that the RL losses in the catalog are covered. Those of ppo_clip_loss
come from tests/rl_ppo_cases.py (its tests are in tests/test_rl_ppo.py; its bad inputs
run here).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from bad_input import ValueCase, bad_input_tests, number_cases, pair_cases, unit_parameter_cases
from common import DTYPES, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import rl
from lossbook.rl import policy_gradient_loss, td_loss
import rl_ppo_cases as ppo

KEYS = list(rl.__all__)
LOSSES = {k: getattr(rl, k) for k in KEYS}


def transitions(shape, *, seed=0, dtype=F64):
    """Seeded (values, rewards, next_values, done) with about a third of the transitions terminal."""
    g = torch.Generator().manual_seed(seed)
    v, r, nv = (2.0 * torch.randn((3, *shape), generator=g, dtype=F64)).to(dtype)
    done = (torch.rand(shape, generator=g) < 0.35).to(dtype)
    return v, r, nv, done


# ==========================================================================
# REFERENCE


def np_td(v, r, nv, d, gamma=0.99, delta=None):
    e = v - (r + gamma * (1 - d) * nv)
    if delta is None:
        return e**2
    return np.where(np.abs(e) <= delta, 0.5 * e**2, delta * (np.abs(e) - 0.5 * delta))


REFERENCE = {
    "policy_gradient_loss": [(7,), (4, 3)],  # shapes
    "td_loss": [{}, {"gamma": 0.5}, {"gamma": 0.0}, {"gamma": 1.0}, {"delta": 1.0}, {"delta": 0.3, "gamma": 0.9}],
    **ppo.REFERENCE,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", REFERENCE["policy_gradient_loss"], ids=str)
def test_policy_gradient_matches_formula(shape, reduction, dtype):
    g = torch.Generator().manual_seed(1)
    log_probs = torch.log(torch.rand(shape, generator=g, dtype=F64)).to(dtype)
    advantages = torch.randn(shape, generator=g, dtype=F64).to(dtype)
    got = policy_gradient_loss(log_probs, advantages, reduction=reduction)
    assert got.dtype == dtype and got.shape == (shape if reduction == "none" else ())
    want = NP_REDUCE[reduction](-(log_probs.double().numpy() * advantages.double().numpy()))
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **dtype_tol(dtype))


@pytest.mark.parametrize("as_bool", [False, True], ids=["done-float", "done-bool"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("params", REFERENCE["td_loss"], ids=params_id)
def test_td_loss_matches_pytorch_and_formula(params, reduction, dtype, as_bool):
    v, r, nv, d = transitions((5, 4), dtype=dtype)
    got = td_loss(v, r, nv, d.bool() if as_bool else d, reduction=reduction, **params)
    assert got.dtype == dtype and got.shape == ((5, 4) if reduction == "none" else ())
    gamma, delta = params.get("gamma", 0.99), params.get("delta")
    target = (r + gamma * (1 - d) * nv).detach()
    ref = (F.mse_loss(v, target, reduction=reduction) if delta is None
           else F.huber_loss(v, target, reduction=reduction, delta=delta))
    torch.testing.assert_close(got, ref)
    per = np_td(*(x.double().numpy() for x in (v, r, nv, d)), gamma=gamma, delta=delta)
    torch.testing.assert_close(got, torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype), **dtype_tol(dtype))


def test_td_reference_data_has_both_huber_pieces_and_both_kinds_of_transition():
    v, r, nv, d = (x.numpy() for x in transitions((5, 4)))
    e = np.abs(v - (r + 0.99 * (1 - d) * nv))
    assert (e < 0.3).any() and (e > 1.0).any() and 0 < d.sum() < d.size


# ==========================================================================
# GRADCHECK (float64): only the inputs that carry a gradient by design, the
# log-probabilities and the values. TD errors are kept 0.1 away from +-delta.

GRADCHECK = {
    "policy_gradient_loss": [{}],
    "td_loss": [{}, {"gamma": 0.9}, {"delta": 0.5}, {"delta": 2.0, "gamma": 0.0}],
    **ppo.GRADCHECK,  # run in tests/test_rl_ppo.py
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "key, params",
    [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in ("policy_gradient_loss", "td_loss") for p in GRADCHECK[k]],
)
def test_gradcheck(key, params, reduction):
    v, r, nv, d = transitions((4, 3), seed=2)
    if key == "policy_gradient_loss":
        fn = lambda lp: policy_gradient_loss(lp, r, reduction=reduction)  # noqa: E731
        inputs = (v.requires_grad_(True),)
    else:
        delta = params.get("delta")
        if delta is not None:  # move each TD error off the kink |e| = delta
            target = r + params.get("gamma", 0.99) * (1 - d) * nv
            e = v - target
            e = torch.where((e.abs() - delta).abs() < 0.1, e + 0.25 * torch.sign(e), e)
            v = target + e
            assert ((e.abs() - delta).abs() > 0.05).all()
        fn = lambda val: td_loss(val, r, nv, d, reduction=reduction, **params)  # noqa: E731
        inputs = (v.requires_grad_(True),)
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# Properties: policy gradient

_num = st.floats(-100, 100)


@st.composite
def batches(draw, count, values=_num, n_min=1):
    n = draw(st.integers(n_min, 8))
    return [torch.tensor(draw(st.lists(values, min_size=n, max_size=n)), dtype=F64) for _ in range(count)]


def _grads(fn, *inputs):
    inputs = [x.clone().requires_grad_(True) for x in inputs]
    return torch.autograd.grad(fn(*inputs), inputs, allow_unused=True)


@given(batches(2, values=st.floats(-50, 0)), st.sampled_from(("mean", "sum")))
def test_policy_gradient_gradients(xs, reduction):
    log_probs, adv = xs
    g_lp, g_adv = _grads(lambda lp, a: policy_gradient_loss(lp, a, reduction=reduction), log_probs, adv)
    assert g_adv is None  # advantages are detached
    scale = len(adv) if reduction == "mean" else 1
    torch.testing.assert_close(g_lp, -adv / scale)


@given(batches(2, values=st.floats(-50, 0)), st.floats(-100, 100))
def test_adding_a_baseline_moves_the_value_not_the_expected_gradient(xs, c):
    log_probs, adv = xs
    shift = policy_gradient_loss(log_probs, adv + c) - policy_gradient_loss(log_probs, adv)
    torch.testing.assert_close(shift, -c * log_probs.mean(), rtol=1e-9, atol=1e-9)


def test_policy_gradient_theorem_exactly_on_a_softmax_policy():
    # Expected over a ~ pi, the surrogate's gradient is minus the gradient of J = sum_a pi(a) R(a);
    # a constant baseline c changes the single-sample gradient but not this expectation.
    theta = torch.tensor([0.3, -1.2, 0.8, 0.0], dtype=F64, requires_grad=True)
    rewards = torch.tensor([1.0, 5.0, -2.0, 0.5], dtype=F64)
    log_pi = torch.log_softmax(theta, 0)
    (grad_j,) = torch.autograd.grad((log_pi.exp() * rewards).sum(), theta, retain_graph=True)
    for c in (0.0, 3.0, -10.0):
        per_action = policy_gradient_loss(log_pi, rewards + c, reduction="none")
        (expected,) = torch.autograd.grad((log_pi.exp().detach() * per_action).sum(), theta, retain_graph=True)
        torch.testing.assert_close(expected, -grad_j, rtol=1e-12, atol=1e-12)
    one = [torch.autograd.grad(policy_gradient_loss(log_pi[:1], rewards[:1] + c), theta, retain_graph=True)[0]
           for c in (0.0, 3.0)]
    assert not torch.allclose(one[0], one[1])  # a single sample's gradient does depend on c


def test_policy_gradient_value_is_no_error():
    lp = torch.log(torch.tensor([0.5, 0.25]))
    assert policy_gradient_loss(lp, torch.tensor([-1.0, -1.0])) < 0  # negative advantages: a negative loss
    # a better policy can show a higher expected loss: rewards -1 and -2, action 0 the better
    rewards = torch.tensor([-1.0, -2.0], dtype=F64)

    def expected(pi):  # E over a ~ pi of the surrogate, and the expected return J
        pi = torch.tensor(pi, dtype=F64)
        return (pi * policy_gradient_loss(pi.log(), rewards, reduction="none")).sum(), (pi * rewards).sum()

    (loss_uniform, j_uniform), (loss_better, j_better) = expected([0.5, 0.5]), expected([0.9, 0.1])
    assert j_better > j_uniform and loss_better > loss_uniform


# ==========================================================================
# Properties: TD


@given(batches(4), st.floats(0, 1), st.sampled_from([None, 0.5, 2.0]))
def test_td_no_gradient_through_the_target(xs, gamma, delta):
    v, r, nv, flags = xs
    d = (flags > 0).double()
    g_v, g_r, g_nv, g_d = _grads(lambda *a: td_loss(*a, gamma=gamma, delta=delta, reduction="sum"), v, r, nv, d)
    assert g_r is None and g_nv is None and g_d is None
    e = v - (r + gamma * (1 - d) * nv)
    want = 2 * e if delta is None else e.clamp(-delta, delta)  # Huber caps the gradient at delta
    torch.testing.assert_close(g_v, want, rtol=1e-9, atol=1e-9)
    assert delta is None or (g_v.abs() <= delta).all()


@given(batches(4), st.floats(0, 1))
def test_terminal_transitions_and_gamma_zero_do_not_bootstrap(xs, gamma):
    v, r, nv, other = xs
    plain = F.mse_loss(v, r, reduction="none")
    torch.testing.assert_close(td_loss(v, r, nv, torch.ones_like(v), gamma=gamma, reduction="none"), plain)
    torch.testing.assert_close(td_loss(v, r, nv, torch.ones_like(v, dtype=torch.bool), gamma=gamma,
                                       reduction="none"), plain)
    torch.testing.assert_close(td_loss(v, r, nv, (other > 0).double(), gamma=0.0, reduction="none"), plain)
    # and the next state's value matters only where bootstrapping happens
    assert torch.equal(td_loss(v, r, nv, torch.ones_like(v), gamma=gamma, reduction="none"),
                       td_loss(v, r, other, torch.ones_like(v), gamma=gamma, reduction="none"))


@given(batches(4), st.floats(0, 1))
def test_td_loss_is_zero_at_the_bellman_target(xs, gamma):
    _, r, nv, flags = xs
    d = flags > 0
    v = r + gamma * (~d).double() * nv
    # zero up to one rounding of r + gamma * v' (lossbook fuses the multiply-add, the line above does not)
    tol = (2 * torch.finfo(v.dtype).eps * (r.abs() + gamma * nv.abs())) ** 2
    assert (td_loss(v, r, nv, d, gamma=gamma, reduction="none") <= tol).all()
    assert (td_loss(v, r, nv, d, gamma=gamma, delta=1.0, reduction="none") <= tol).all()
    assert (td_loss(r, r, nv, torch.ones_like(d), gamma=gamma, reduction="none") == 0).all()  # done: exactly r


@given(batches(4), st.floats(0, 1), st.sampled_from(REDUCTIONS))
def test_bool_and_float_done_agree(xs, gamma, reduction):
    v, r, nv, flags = xs
    d = flags > 0
    assert torch.equal(td_loss(v, r, nv, d, gamma=gamma, reduction=reduction),
                       td_loss(v, r, nv, d.double(), gamma=gamma, reduction=reduction))


# ==========================================================================
# Extreme inputs, empty batches


@pytest.mark.parametrize("delta", [None, 1.0])
def test_large_td_errors_float32(delta):
    values = torch.tensor([1e6, -1e6, 0.0], requires_grad=True)
    zeros = torch.zeros(3)
    out = td_loss(values, zeros, zeros, zeros, delta=delta, reduction="none")
    (grad,) = torch.autograd.grad(out.sum(), values)
    if delta is None:  # e^2, 2e
        want, slope = [1e12, 1e12, 0.0], [2e6, -2e6, 0.0]
    else:  # delta (|e| - delta/2), delta sign e
        want, slope = [1e6 - 0.5, 1e6 - 0.5, 0.0], [1.0, -1.0, 0.0]
    torch.testing.assert_close(out, torch.tensor(want))
    torch.testing.assert_close(grad, torch.tensor(slope))
    for reduction in ("mean", "sum"):
        assert torch.isfinite(td_loss(values, zeros, zeros, zeros, delta=delta, reduction=reduction))


def test_extreme_policy_gradient_float32():
    lp = torch.tensor([-1e4, -1e-30, 0.0], requires_grad=True)
    out = policy_gradient_loss(lp, torch.tensor([1e4, -1e6, 5.0]), reduction="none")
    torch.testing.assert_close(out, torch.tensor([1e8, -1e-24, 0.0]))
    assert torch.isfinite(torch.autograd.grad(out.sum(), lp)[0]).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key, reduction):
    x = torch.zeros(0, requires_grad=True)
    rest = {"policy_gradient_loss": (torch.zeros(0),), "ppo_clip_loss": (torch.zeros(0),) * 2}.get(
        key, (torch.zeros(0),) * 2 + (torch.zeros(0).bool(),))
    out = LOSSES[key](x, *rest, reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0  # not NaN
    (grad,) = torch.autograd.grad(out, x)
    assert grad.shape == (0,)


# ==========================================================================
# BAD_INPUT (see bad_input.py)

_V, _Z = torch.ones(4), torch.zeros(4)
_TD = (_V, _V, _V, _Z)
_DONE = r"^done must hold 0 or 1 \(or be a bool tensor\), got values such as "


def _td(cases, position):
    """Pair cases for (values, x), with x at ``position`` of td_loss's arguments, the rest valid."""
    out = []
    for i, (a, b), kw, e, m in cases:
        args = list(_TD)
        args[0], args[position] = a, b
        out.append((i, tuple(args), kw, e, m))
    return out


def _paired(name):
    """td_loss's second tensor ``name`` mismatching valid float32 (4,) values (ids prefixed by the name)."""
    keep = [c for c in pair_cases(("values", name)) if c[0].startswith((name, "shape", "N-vs", "f32-vs"))]
    return [(c[0] if c[0].startswith(name) else f"{name}-{c[0]}", *c[1:]) for c in keep]


BAD_INPUT = {
    "policy_gradient_loss": pair_cases(("log_probs", "advantages")) + [
        ("device", (_V, _V.to("meta")), {}, ValueError,
         r"^advantages must be on the same device as log_probs \(cpu\), got meta$")],
    "td_loss": (
        _td(pair_cases(("values", "rewards")), 1) + _td(_paired("next_values"), 2)
        + unit_parameter_cases("gamma", args=_TD)
        + [c for c in number_cases("delta", positive=True, args=_TD) if c[0] != "delta=None"]
        + [
            ("done-list", (_V, _V, _V, [0.0] * 4), {}, TypeError, r"^done must be a torch\.Tensor, got list$"),
            ("done-int64", (_V, _V, _V, _Z.long()), {}, TypeError,
             r"^done must be a bool or floating tensor, got torch\.int64$"),
            ("done-N1", (_V, _V, _V, torch.zeros(4, 1)), {}, ValueError,
             r"^done must have the same shape as values \(4,\), got \(4, 1\)"),
            ("done-device", (_V, _V, _V, _Z.to("meta")), {}, ValueError,
             r"^done must be on the same device as values \(cpu\), got meta$"),
            ("rewards-device", (_V, _V.to("meta"), _V, _Z), {}, ValueError,
             r"^rewards must be on the same device as values \(cpu\), got meta$"),
        ]
        + [ValueCase(f"done={v}", (_V, _V, _V, torch.tensor([0.0, v, 1.0, v])), {}, ValueError,
                     _DONE + rf"\[{shown}\]$") for v, shown in
           ((0.5, r"0\.5, 0\.5"), (2.0, r"2\.0, 2\.0"), (-1.0, r"-1\.0, -1\.0"), (np.nan, "nan, nan"))]
    ),
    **ppo.BAD_INPUT,
}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


def test_bad_input_tables_cover_the_second_tensors():
    ids = {c[0] for c in BAD_INPUT["td_loss"]}
    assert {"next_values-ndarray", "next_values-int", "next_values-f32-vs-f64", "next_values-shape",
            "next_values-N-vs-N1", "f32-vs-f64", "shape", "gamma=1.5", "delta=0"} <= ids


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    args = {"td_loss": _TD, "ppo_clip_loss": (_V, _V, _V)}.get(key, (_V, _V))
    with pytest.raises(TypeError, match=f"takes {len(args)} positional arguments but {len(args) + 1} were given"):
        LOSSES[key](*args, 0.5)
