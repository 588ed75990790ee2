"""lossbook.composite (weighted_sum, UncertaintyWeighting) against float64 NumPy
evaluations of the docstring formulas; gradients, properties (the gradient of a weighted
sum, the minimiser s = log L of uncertainty weighting), dtype and device, bad inputs.

REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests; tests/test_catalog.py
reads them to check that both composite losses in the catalog are covered.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.func import functional_call

import lossbook
from bad_input import ValueCase, bad_input_tests
from common import DTYPES, F32, F64
from lossbook.composite import UncertaintyWeighting, weighted_sum


def _tol(dtype):
    return dict(rtol=2e-6, atol=1e-6) if dtype == F32 else dict(rtol=1e-12, atol=1e-12)


def uncertainty(num_tasks, losses):
    """A fresh UncertaintyWeighting(num_tasks) applied to ``losses`` (for the BAD_INPUT table)."""
    return UncertaintyWeighting(num_tasks)(losses)


LOSSES = {"weighted_sum": weighted_sum, "UncertaintyWeighting": uncertainty}
_L = [0.75, 2.5, 0.125]  # three task losses


# ==========================================================================
# REFERENCE: sum_i w_i L_i and sum_i exp(-s_i) L_i + s_i in float64 NumPy

REFERENCE = {  # weighted_sum: (case, losses' shape, weights); UncertaintyWeighting: log-variances s
    "weighted_sum": [("sequence", (), [1.0, 0.5, 2.0]), ("mapping", (), [0.1, 0.0, 3]),
                     ("tensors", (), [0.25, 1.5, 4.0]), ("per-sample", (5,), [1.0, 0.2, 0.7]),
                     ("numpy", (2, 3), [np.float32(0.5), np.float64(2.0), np.int64(1)])],
    "UncertaintyWeighting": [[0.0, 0.0, 0.0], [0.5, -1.0, 2.0], [-3.0, 0.25, 1e-3]],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case, shape, weights", REFERENCE["weighted_sum"], ids=lambda v: str(v)[:12])
def test_weighted_sum_matches_formula(case, shape, weights, dtype):
    g = torch.Generator().manual_seed(0)
    losses = [torch.rand(shape, generator=g, dtype=F64).to(dtype) + 0.1 for _ in weights]
    want = sum(float(w) * l.double().numpy() for w, l in zip(weights, losses))
    if case == "mapping":
        names = ["cls", "box", "mask"]
        got = weighted_sum(dict(zip(names, losses)), dict(zip(reversed(names), reversed(weights))))
    elif case == "tensors":
        got = weighted_sum(losses, [torch.tensor(w, dtype=F64) for w in weights])  # float64 weights
    else:
        got = weighted_sum(losses, weights)
    assert got.dtype == dtype and got.shape == shape
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("as_tensor", [False, True], ids=["sequence", "tensor"])
@pytest.mark.parametrize("s", REFERENCE["UncertaintyWeighting"], ids=str)
def test_uncertainty_weighting_matches_formula(s, as_tensor, dtype):
    module = UncertaintyWeighting(3)
    with torch.no_grad():
        module.log_vars.copy_(torch.tensor(s))
    losses = torch.tensor(_L, dtype=dtype)
    got = module(losses if as_tensor else list(losses.unbind()))
    assert got.dtype == dtype and got.shape == ()
    s64 = np.array(s, np.float32).astype(np.float64)  # log_vars is a float32 parameter
    want = (np.exp(-s64) * np.array(_L) + s64).sum()
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **_tol(dtype))
    torch.testing.assert_close(module.weights, torch.tensor(np.exp(-s64), dtype=F32))


# ==========================================================================
# GRADCHECK (float64): weighted_sum w.r.t. the losses and tensor weights;
# UncertaintyWeighting w.r.t. its log-variances and the losses.

GRADCHECK = {
    "weighted_sum": [{"weights": "numbers"}, {"weights": "tensors"}, {"weights": "mapping"}],
    "UncertaintyWeighting": [{"input": "sequence"}, {"input": "tensor"}],
}


@pytest.mark.parametrize("params", GRADCHECK["weighted_sum"], ids=str)
def test_gradcheck_weighted_sum(params):
    losses = [torch.tensor(v, dtype=F64, requires_grad=True) for v in ([0.5, 1.5], [2.0, -1.0], [0.25, 3.0])]
    if params["weights"] == "numbers":
        fn, inputs = (lambda *ls: weighted_sum(ls, [0.5, 2.0, 1.0])), losses
    elif params["weights"] == "tensors":
        ws = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (0.5, 2.0, 1.0)]
        fn, inputs = (lambda a, b, c, *w: weighted_sum([a, b, c], w)), losses + ws
    else:
        fn, inputs = (lambda a, b, c: weighted_sum({"a": a, "b": b, "c": c}, {"c": 1.0, "a": 0.5, "b": 2.0})), losses
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("params", GRADCHECK["UncertaintyWeighting"], ids=str)
def test_gradcheck_uncertainty_weighting(params):
    module = UncertaintyWeighting(3).double()

    def fn(s, losses):
        given = losses if params["input"] == "tensor" else list(losses.unbind())
        return functional_call(module, {"log_vars": s}, (given,))

    inputs = (torch.tensor([0.3, -0.7, 1.1], dtype=F64, requires_grad=True),
              torch.tensor(_L, dtype=F64, requires_grad=True))
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# Properties: weighted_sum

_w = st.floats(0, 100)


@given(st.lists(_w, min_size=1, max_size=4))
def test_gradient_of_a_weighted_sum_is_the_weighted_sum_of_gradients(weights):
    theta = torch.tensor([0.3, -1.2, 2.0], dtype=F64, requires_grad=True)
    fns = [lambda t: (t**2).sum(), lambda t: t.exp().sum(), lambda t: (t[0] * t[1] - t[2]) ** 2,
           lambda t: torch.sin(t).sum()][: len(weights)]
    (got,) = torch.autograd.grad(weighted_sum([f(theta) for f in fns], weights), theta)
    want = sum(w * torch.autograd.grad(f(theta), theta)[0] for w, f in zip(weights, fns))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@given(st.permutations(range(4)), st.lists(_w, min_size=4, max_size=4))
def test_mapping_order_is_irrelevant(order, weights):
    names = ["a", "b", "c", "d"]
    losses = {n: torch.tensor(v, dtype=F64) for n, v in zip(names, _L + [4.0])}
    w = dict(zip(names, weights))
    torch.testing.assert_close(weighted_sum(losses, {names[i]: w[names[i]] for i in order}),
                               weighted_sum({names[i]: losses[names[i]] for i in order}, w), rtol=1e-14, atol=0)
    torch.testing.assert_close(weighted_sum(losses, w), torch.tensor(sum(w[n] * losses[n].item() for n in names),
                                                                      dtype=F64))


@given(st.floats(-1e6, 1e6), _w)
def test_one_loss_times_its_weight(loss, w):
    x = torch.tensor(loss, dtype=F64)
    assert weighted_sum([x], [w]).item() == w * loss
    assert weighted_sum({"only": x}, {"only": torch.tensor(w, dtype=F64)}).item() == w * loss


def test_zero_weight_cuts_a_task_and_tensor_weights_carry_gradients():
    a, b = (torch.tensor(v, requires_grad=True) for v in (2.0, 3.0))
    w = torch.tensor(0.5, dtype=F64, requires_grad=True)  # a learned or scheduled weight, float64
    total = weighted_sum([a, b], [w, 0.0])
    assert total.dtype == F32  # the losses' dtype, not the weight's
    ga, gb, gw = torch.autograd.grad(total, (a, b, w))
    assert ga.item() == 0.5 and gb.item() == 0.0 and gw.item() == 2.0 and gw.dtype == F64


# ==========================================================================
# Properties: UncertaintyWeighting


def test_fresh_module_weighs_every_task_one():
    module = UncertaintyWeighting(3)
    assert [n for n, _ in module.named_parameters()] == ["log_vars"]
    assert torch.equal(module.log_vars.detach(), torch.zeros(3)) and torch.equal(module.weights, torch.ones(3))
    losses = [torch.tensor(v) for v in _L]
    assert module(losses).item() == sum(_L)
    assert not module.weights.requires_grad and "num_tasks=3" in repr(module)


@given(st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=5))
def test_minimiser_is_log_of_the_loss(values):
    losses = torch.tensor(values, dtype=F64)
    module = UncertaintyWeighting(len(values)).double()
    with torch.no_grad():
        module.log_vars.copy_(losses.log())
    total = module(losses)
    (grad,) = torch.autograd.grad(total, module.log_vars)  # -exp(-s) L + 1 = 0 at s = log L
    torch.testing.assert_close(grad, torch.zeros_like(grad), rtol=0, atol=1e-12)
    torch.testing.assert_close(total, (1 + losses.log()).sum())  # the minimum value
    for step in (-0.5, 0.1, 2.0):  # e^{-s} L + s is convex in s: any other s is worse
        with torch.no_grad():
            module.log_vars.copy_(losses.log() + step)
        assert module(losses) > total


def test_training_reaches_the_minimiser():
    losses = torch.tensor([0.5, 2.0, 8.0])
    module = UncertaintyWeighting(3)
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        module(losses).backward()
        opt.step()
    torch.testing.assert_close(module.log_vars.detach(), losses.log(), rtol=0, atol=1e-3)
    torch.testing.assert_close(module.weights, 1 / losses, rtol=2e-3, atol=0)  # the noisy task weighs least
    torch.testing.assert_close(module(losses), (1 + losses.log()).sum(), rtol=1e-6, atol=1e-6)
    small = UncertaintyWeighting(2)  # an objective for the weights, not an error: with losses below 1
    with torch.no_grad():  # its minimum 2 + log(0.1 * 0.2) is negative
        small.log_vars.copy_(torch.tensor([0.1, 0.2]).log())
    assert small([torch.tensor(0.1), torch.tensor(0.2)]).item() == pytest.approx(2 + math.log(0.02), rel=1e-6)


def test_tensor_and_sequence_inputs_agree():
    module = UncertaintyWeighting(3)
    with torch.no_grad():
        module.log_vars.copy_(torch.tensor([0.2, -0.4, 1.0]))
    grads = []
    for as_tensor in (False, True):
        module.zero_grad()
        parts = [torch.tensor(v, requires_grad=True) for v in _L]
        out = module(torch.stack(parts) if as_tensor else parts)
        out.backward()
        grads.append((out.detach(), module.log_vars.grad.clone(), [p.grad for p in parts]))
    (v1, s1, p1), (v2, s2, p2) = grads
    assert torch.equal(v1, v2) and torch.equal(s1, s2) and all(torch.equal(a, b) for a, b in zip(p1, p2))
    torch.testing.assert_close(torch.stack(p1), torch.exp(-torch.tensor([0.2, -0.4, 1.0])))


def test_dtype_and_device():
    dev = lossbook.device()
    module = UncertaintyWeighting(2).to(dev, F64)
    assert module.log_vars.dtype == F64 and module.log_vars.device.type == dev.type
    out = module([torch.tensor(1.5, device=dev), torch.tensor(0.5, device=dev)])  # float32 losses
    assert out.dtype == F32 and out.device.type == dev.type  # the losses' dtype
    out.backward()
    assert module.log_vars.grad.dtype == F64  # the gradient lands on the float64 parameter
    torch.testing.assert_close(module.log_vars.grad.cpu(), torch.tensor([-0.5, 0.5], dtype=F64))
    total = weighted_sum([torch.tensor(1.0, device=dev)], [torch.tensor(2.0, dtype=F64)])
    assert total.dtype == F32 and total.device.type == dev.type and total.item() == 2.0


# ==========================================================================
# BAD_INPUT (see bad_input.py)

_A, _B = torch.tensor(1.0), torch.tensor(2.0)
_KEYS = r"^weights must have the same keys as losses: "
_UW = r"^losses must have shape \(2,\), one per task, got "


def _weight_cases():
    num = [(f"weight={v!r}", ([_A, _B], [1.0, v]), {}, e, rf"^weights\[1\] must {m}")
           for v, e, m in ((-1.0, ValueError, "be >= 0"), (math.nan, ValueError, "be finite"),
                           (math.inf, ValueError, "be finite"), (True, TypeError, "be a real number"),
                           ("1", TypeError, "be a real number"), (None, TypeError, "be a real number"))]
    tensor = [
        ("weight-1d", ([_A, _B], [1.0, torch.ones(1)]), {}, ValueError,
         r"^weights\[1\] must .*0-dim .*got shape \(1,\)$"),
        ("weight-2d", ([_A, _B], [torch.ones(2, 2), 1.0]), {}, ValueError, r"^weights\[0\] must .*got shape \(2, 2\)$"),
        ("weight-int", ([_A, _B], [torch.tensor(2), 1.0]), {}, TypeError, r"^weights\[0\] must .*got torch\.int64$"),
    ]
    value = [ValueCase(f"weight-tensor={v}", ([_A, _B], [1.0, torch.tensor(v)]), {}, ValueError,
                       rf"^weights\[1\] must be finite and >= 0, got {shown}$")
             for v, shown in ((-0.5, r"-0\.5"), (math.nan, "nan"), (math.inf, "inf"))]
    return num + tensor + value


BAD_INPUT = {
    "weighted_sum": [
        ("length", ([_A, _B], [1.0]), {}, ValueError, r"^weights must have one entry per loss: 2 losses, 1 weights$"),
        ("length-more", ([_A], [1.0, 2.0]), {}, ValueError, r"one entry per loss: 1 losses, 2 weights$"),
        ("keys", ({"a": _A, "b": _B}, {"a": 1.0, "c": 2.0}), {}, ValueError,
         _KEYS + r"no weight for \['b'\], weights without a loss \['c'\]$"),
        ("keys-fewer", ({"a": _A, "b": _B}, {"a": 1.0}), {}, ValueError, _KEYS + r"no weight for \['b'\]"),
        ("seq-vs-map", ([_A], {"a": 1.0}), {}, TypeError, r"^losses and weights must both be sequences or both"),
        ("map-vs-seq", ({"a": _A}, [1.0]), {}, TypeError, r"^losses and weights must both be sequences or both"),
        ("empty", ([], []), {}, ValueError, r"^losses must not be empty$"),
        ("empty-map", ({}, {}), {}, ValueError, r"^losses must not be empty$"),
        ("losses-tensor", (torch.ones(2), [1.0, 1.0]), {}, TypeError,
         r"^losses must be a sequence or a mapping, got Tensor$"),
        ("weights-str", ([_A, _B], "12"), {}, TypeError, r"^weights must be a sequence or a mapping, got str$"),
        ("loss-float", ([_A, 2.0], [1.0, 1.0]), {}, TypeError, r"^losses\[1\] must be a torch\.Tensor, got float$"),
        ("loss-int", ([_A, torch.tensor(2)], [1.0, 1.0]), {}, TypeError, r"^losses\[1\] must have a floating-point"),
        ("loss-dtype", ([_A, _B.double()], [1.0, 1.0]), {}, TypeError,
         r"^losses\[1\] must have the same dtype as losses\[0\] \(torch\.float32\), got torch\.float64$"),
        ("loss-device", ([_A, _B.to("meta")], [1.0, 1.0]), {}, ValueError,
         r"^losses\[1\] must be on the same device as losses\[0\] \(cpu\), got meta$"),
        ("loss-shape", ([_A, torch.ones(3)], [1.0, 1.0]), {}, ValueError,
         r"^losses\[1\] must have the same shape as losses\[0\] \(\), got \(3,\)"),
        ("loss-key", ({"a": _A, "b": torch.ones(1)}, {"a": 1.0, "b": 1.0}), {}, ValueError,
         r"^losses\['b'\] must have the same shape as losses\['a'\] \(\), got \(1,\)"),
    ] + _weight_cases(),
    "UncertaintyWeighting": [
        (f"num_tasks={v!r}", (v, [_A]), {}, ValueError, rf"^num_tasks must be >= 1, got {v}$") for v in (0, -1)
    ] + [
        (f"num_tasks={v!r}", (v, [_A]), {}, TypeError, rf"^num_tasks must be an int, got {type(v).__name__}$")
        for v in (2.5, True, "2", None)
    ] + [
        ("too-many", (2, [_A, _B, _A]), {}, ValueError, r"^losses must have 2 entries, one per task, got 3$"),
        ("too-few", (2, [_A]), {}, ValueError, r"^losses must have 2 entries, one per task, got 1$"),
        ("tensor-3", (2, torch.ones(3)), {}, ValueError, _UW + r"\(3,\)$"),
        ("tensor-21", (2, torch.ones(2, 1)), {}, ValueError, _UW + r"\(2, 1\)$"),
        ("tensor-0d", (2, _A), {}, ValueError, _UW + r"\(\)$"),
        ("tensor-int", (2, torch.ones(2, dtype=torch.int64)), {}, TypeError, r"^losses must have a floating-point"),
        ("entry-1d", (2, [_A, torch.ones(3)]), {}, ValueError,
         r"^losses\[1\] must be a scalar \(0-dim\) tensor, got shape \(3,\)$"),
        ("entry-float", (2, [1.0, _B]), {}, TypeError, r"^losses\[0\] must be a torch\.Tensor, got float$"),
        ("entry-dtype", (2, [_A, _B.double()]), {}, TypeError,
         r"^losses\[1\] must have the same dtype as losses\[0\] \(torch\.float32\), got torch\.float64$"),
        # the meta device stands in for a GPU
        ("entry-device", (2, [_A, torch.ones((), device="meta")]), {}, ValueError,
         r"^losses\[1\] must be on the same device as losses\[0\] \(cpu\), got meta$"),
        ("mapping", (2, {"a": _A, "b": _B}), {}, TypeError,
         r"^losses must be a sequence of scalar tensors or a 1-D tensor, got dict$"),
        ("str", (2, "ab"), {}, TypeError, r"^losses must be a sequence of scalar tensors .*got str$"),
    ],
}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


def test_unchecked_negative_tensor_weight_is_used_as_given():
    with lossbook.value_checks(False):  # lossbook reads no weight value: -2 is used as given
        assert weighted_sum([_A, _B], [1.0, torch.tensor(-2.0)]).item() == 1.0 - 4.0
