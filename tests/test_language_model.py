"""lossbook.language_model: linear_cross_entropy against F.cross_entropy of materialised logits, z_loss,
softcap, perplexity; gradients, all-ignored batches, bad input (memory, micro-batches, processes and
compile: test_language_model_scale.py).

The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every language-model loss in the
catalog is covered.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

import lossbook
from bad_input import ValueCase, bad_input_tests, class_score_cases, reduction_cases
from common import F32, F64
from language_model_cases import N, V, _data, reference
from lossbook import language_model as lm

LOSSES = {
    "linear_cross_entropy": lossbook.linear_cross_entropy, "z_loss": lossbook.z_loss,
    "softcap": lossbook.softcap, "perplexity": lossbook.perplexity,
}


# ==========================================================================
# REFERENCE: every option combination against the materialised definition

_OPTIONS = dict(
    bias=(False, True), class_weight=(False, True), ignore=(False, True), label_smoothing=(0.0, 0.1),
    z_loss=(0.0, 1e-4), softcap=(None, 30.0),
)
_REDUCE = [("mean", None), ("mean", 6.5), ("mean", "tensor"), ("sum", None), ("none", None)]
COMBOS = [dict(zip(_OPTIONS, v)) for v in itertools.product(*_OPTIONS.values())]


def _call(opts, dtype, reduction="mean", normalizer=None, chunk_size=4, data=None):
    hidden, weight, bias, cw, target = data or _data(dtype, ignored=(2, 7) if opts.get("ignore", True) else ())
    kw = dict(bias=bias if opts.get("bias") else None, class_weight=cw if opts.get("class_weight") else None,
              label_smoothing=opts.get("label_smoothing", 0.0), z_loss=opts.get("z_loss", 0.0),
              softcap=opts.get("softcap"), reduction=reduction)
    if normalizer == "tensor":
        normalizer = torch.tensor(7.25, dtype=dtype)
    kw["normalizer"] = normalizer
    return (hidden, weight, target), kw


REFERENCE = {
    "linear_cross_entropy": [
        pytest.param(o, id=",".join(f"{k}={v}" for k, v in o.items())) for o in COMBOS
    ],
    "z_loss": [(4, 3), (5, 4, 2), (6, 1)],
}


@pytest.mark.parametrize("dtype", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("reduction, normalizer", _REDUCE, ids=[f"{r}-{n}" for r, n in _REDUCE])
@pytest.mark.parametrize("opts", REFERENCE["linear_cross_entropy"])
def test_linear_cross_entropy_matches_materialised_logits(opts, reduction, normalizer, dtype):
    (hidden, weight, target), kw = _call(opts, dtype, reduction, normalizer)
    leaves = [hidden, weight] + ([kw["bias"]] if kw["bias"] is not None else [])
    leaves = [x.requires_grad_(True) for x in leaves]
    got = lossbook.linear_cross_entropy(hidden, weight, target, chunk_size=4, **kw)
    want = reference(hidden, weight, target, **kw)
    assert got.dtype == dtype and got.shape == want.shape
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == F64 else dict(rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(got, want, **tol)
    upstream = torch.linspace(-1, 2, N, dtype=dtype) if reduction == "none" else torch.tensor(1.5, dtype=dtype)
    grads = torch.autograd.grad(got, leaves, upstream)  # "none": any upstream gradient, per token
    wants = torch.autograd.grad(want, leaves, upstream)
    for g, w in zip(grads, wants):
        assert g.dtype == dtype
        torch.testing.assert_close(g, w, **tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [dict(), dict(bias=True, class_weight=True, label_smoothing=0.2)], ids=["plain", "all"])
def test_equals_pytorchs_linear_cross_entropy(opts, reduction):
    (hidden, weight, target), kw = _call(opts, F32, reduction)
    kw.pop("normalizer"), kw.pop("z_loss"), kw.pop("softcap")
    got = lossbook.linear_cross_entropy(hidden, weight, target, **kw)
    want = F.linear_cross_entropy(hidden, weight, target, linear_bias=kw.pop("bias"), weight=kw.pop("class_weight"),
                                  **kw)
    torch.testing.assert_close(got, want, rtol=2e-5, atol=2e-6)


def test_weighted_label_smoothing_is_pytorchs():
    # PyTorch: (1 - eps) w_y (lse - z_y) + eps / V sum_v w_v (lse - z_v), the mean over sum of w_y
    hidden, weight, bias, cw, target = _data()
    logits = hidden @ weight.T
    lse, keep = torch.logsumexp(logits, 1), target != -100
    y = target.clamp(min=0)
    per = 0.8 * cw[y] * (lse - logits.gather(1, y[:, None])[:, 0]) + 0.2 / V * ((lse[:, None] - logits) * cw).sum(1)
    want = torch.where(keep, per, 0).sum() / cw[y][keep].sum()
    torch.testing.assert_close(F.cross_entropy(logits, target, weight=cw, label_smoothing=0.2), want)
    got = lossbook.linear_cross_entropy(hidden, weight, target, class_weight=cw, label_smoothing=0.2, chunk_size=3)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 10, 11, 12, 1000, None])
def test_any_chunk_size_gives_the_same(chunk_size):
    hidden, weight, bias, cw, target = _data()
    kw = dict(bias=bias, class_weight=cw, label_smoothing=0.1, z_loss=1e-2, softcap=5.0)
    leaves = [x.requires_grad_(True) for x in (hidden, weight, bias)]
    got = lossbook.linear_cross_entropy(hidden, weight, target, chunk_size=chunk_size, **kw)
    want = reference(hidden, weight, target, **kw)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    for g, w in zip(torch.autograd.grad(got, leaves), torch.autograd.grad(want, leaves)):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-13)


def test_default_chunk_size_is_a_few_megabytes():
    assert lm.default_chunk_size(32_000) * 32_000 * 4 <= 8 * 2**20
    assert lm.default_chunk_size(37) > 10_000 and lm.default_chunk_size(10**9) == 1


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "f16"])
def test_half_precision_within_a_stated_tolerance(dtype):
    # The matrix product in the inputs' dtype (as F.linear), the softmax in float32, the gradient
    # of weight and bias summed over chunks in float32: within 2% of the float64 definition
    # computed on the same (rounded) inputs, the gradients within 2% of their largest entry.
    hidden, weight, bias, cw, target = _data(F64, n=64, v=101, ignored=(3, 9))
    kw = dict(label_smoothing=0.1, z_loss=1e-3, softcap=30.0)
    low = [x.to(dtype).requires_grad_(True) for x in (hidden, weight, bias)]
    got = lossbook.linear_cross_entropy(low[0], low[1], target, bias=low[2], chunk_size=7, **kw)
    assert got.dtype == dtype
    exact = [x.detach().double().requires_grad_(True) for x in low]
    want = reference(exact[0], exact[1], target, bias=exact[2], **kw)
    torch.testing.assert_close(got.double(), want, rtol=2e-2, atol=0)
    for g, w, x in zip(torch.autograd.grad(got, low), torch.autograd.grad(want, exact), low):
        assert g.dtype == x.dtype and torch.isfinite(g).all()
        torch.testing.assert_close(g.double(), w, rtol=0, atol=2e-2 * w.abs().max().item())


@pytest.mark.parametrize("shape", REFERENCE["z_loss"], ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_z_loss_is_the_squared_log_normaliser(shape, reduction, dtype):
    z = (3 * torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=F64)).to(dtype)
    per = torch.logsumexp(z.double(), 1) ** 2
    want = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    torch.testing.assert_close(lossbook.z_loss(z, reduction=reduction), want.to(dtype))


def test_z_loss_gradient_is_2_lse_softmax():
    z = torch.randn(4, 6, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(lossbook.z_loss(z, reduction="sum"), z)
    torch.testing.assert_close(g, 2 * torch.logsumexp(z, 1, keepdim=True) * torch.softmax(z, 1))
    assert lossbook.z_loss(torch.full((2, 5), 1e4)).isfinite()  # log-sum-exp form: no overflow


def test_softcap_and_perplexity():
    z = torch.linspace(-200, 200, 41, dtype=F64, requires_grad=True)
    capped = lossbook.softcap(z, 30.0)
    torch.testing.assert_close(capped, 30 * torch.tanh(z / 30))
    assert capped.abs().max() < 30
    (g,) = torch.autograd.grad(capped.sum(), z)
    assert g.max() == 1 and (g > 0).all()  # slope 1 at 0, never 0
    logits, target = torch.randn(9, 5, dtype=F64), torch.tensor([0, 1, 2, 3, 4, -100, 0, 1, -100])
    torch.testing.assert_close(lossbook.perplexity(logits, target), torch.exp(F.cross_entropy(logits, target)))
    assert lossbook.perplexity(logits, torch.full((9,), -100)) == 1.0
    torch.testing.assert_close(lossbook.perplexity(torch.zeros(3, 7), torch.tensor([0, 6, 2])),
                               torch.tensor(7.0))  # uniform over V: perplexity V


# ==========================================================================
# All targets ignored, extreme logits, double backward


@pytest.mark.parametrize("normalizer", [None, 4.0])
@pytest.mark.parametrize("opts", [dict(), dict(class_weight=True, label_smoothing=0.1, z_loss=1e-2, softcap=5.0)],
                         ids=["plain", "all"])
def test_every_target_ignored_is_a_zero_that_backpropagates(opts, normalizer):
    hidden, weight, bias, cw, target = _data(ignored=range(N))
    leaves = [x.requires_grad_(True) for x in (hidden, weight, bias)]
    loss = lossbook.linear_cross_entropy(hidden, weight, target, bias=bias, normalizer=normalizer, chunk_size=4,
                                         class_weight=cw if opts.get("class_weight") else None,
                                         **{k: v for k, v in opts.items() if k != "class_weight"})
    assert loss.item() == 0.0
    for g in torch.autograd.grad(loss, leaves):
        assert torch.isfinite(g).all() and (g == 0).all()


def test_extreme_hidden_states_stay_finite():
    hidden, weight, bias, cw, target = _data(F32)
    hidden = (1e3 * hidden).requires_grad_(True)  # logits of order 1e3: exp overflows without log-sum-exp
    loss = lossbook.linear_cross_entropy(hidden, weight, target, z_loss=1e-4, chunk_size=4)
    (g,) = torch.autograd.grad(loss, hidden)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    torch.testing.assert_close(loss, reference(hidden, weight, target, z_loss=1e-4), rtol=1e-5, atol=1e-3)


def test_double_backward_raises_a_clear_error():
    hidden, weight, bias, cw, target = _data()
    hidden.requires_grad_(True)
    loss = lossbook.linear_cross_entropy(hidden, weight, target)
    with pytest.raises(RuntimeError, match="linear_cross_entropy has no double backward"):
        torch.autograd.grad(loss, hidden, create_graph=True)


# ==========================================================================
# GRADCHECK (float64, finite differences); no second derivative (see above)

GRADCHECK = {
    "linear_cross_entropy": [
        dict(), dict(bias=True, class_weight=True, label_smoothing=0.2, z_loss=0.05, softcap=2.0),
        dict(bias=True, label_smoothing=1.0),
    ],
    "z_loss": [(3, 4), (2, 3, 2)],
}


@pytest.mark.parametrize("reduction, normalizer", _REDUCE, ids=[f"{r}-{n}" for r, n in _REDUCE])
@pytest.mark.parametrize("opts", GRADCHECK["linear_cross_entropy"], ids=["plain", "all", "smoothing=1"])
def test_gradcheck_linear_cross_entropy(opts, reduction, normalizer):
    data = _data(n=5, d=3, v=7, ignored=(1,))
    (hidden, weight, target), kw = _call(opts, F64, reduction, normalizer, data=data)
    bias = kw.pop("bias")
    inputs = tuple(x.clone().requires_grad_(True) for x in (hidden, weight, bias if bias is not None else weight))

    def fn(h, w, b):
        return lossbook.linear_cross_entropy(h, w, target, bias=b if bias is not None else None, chunk_size=2, **kw)

    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("shape", GRADCHECK["z_loss"], ids=str)
def test_gradcheck_z_loss(shape):
    z = torch.randn(shape, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: lossbook.z_loss(x), (z,))
    assert torch.autograd.gradgradcheck(lambda x: lossbook.z_loss(x, reduction="sum"), (z,))


# ==========================================================================
# BAD_INPUT

_H, _W, _Y = torch.zeros(4, 3), torch.zeros(5, 3), torch.tensor([0, 1, 4, -100])
_ARGS = (_H, _W, _Y)


def _lce_cases():
    c = []
    add = c.append
    add(("hidden-list", ([[0.0] * 3] * 4, _W, _Y), {}, TypeError, r"^hidden must be a torch\.Tensor, got list"))
    add(("hidden-int", (torch.zeros(4, 3, dtype=torch.int64), _W, _Y), {}, TypeError,
         r"^hidden must have a floating-point dtype"))
    add(("hidden-1d", (torch.zeros(4), _W, _Y), {}, ValueError, r"^hidden must have shape \(N, D\), got \(4,\)$"))
    add(("hidden-3d", (torch.zeros(2, 4, 3), _W, _Y), {}, ValueError,
         r"^hidden must have shape \(N, D\), got \(2, 4, 3\)$"))
    add(("weight-D", (_H, torch.zeros(5, 4), _Y), {}, ValueError,
         r"^weight must have shape \(V, 3\), D as in hidden, got \(5, 4\)$"))
    add(("weight-1d", (_H, torch.zeros(5), _Y), {}, ValueError, r"^weight must have shape \(V, 3\)"))
    add(("weight-f64", (_H, _W.double(), _Y), {}, TypeError,
         r"^weight must have the same dtype as hidden \(torch\.float32\), got torch\.float64$"))
    add(("weight-device", (_H, torch.zeros(5, 3, device="meta"), _Y), {}, ValueError,
         r"^weight must be on the same device as hidden \(cpu\), got meta$"))
    add(("weight-V=0", (_H, torch.zeros(0, 3), torch.full((4,), -100)), {}, ValueError, r"^weight must have at least"))
    for name in ("bias", "class_weight"):
        add((f"{name}-V+1", _ARGS, {name: torch.zeros(6)}, ValueError,
             rf"^{name} must have shape \(5,\), one per class \(row of weight\), got \(6,\)$"))
        add((f"{name}-1xV", _ARGS, {name: torch.zeros(1, 5)}, ValueError, rf"^{name} must have shape \(5,\)"))
        add((f"{name}-f64", _ARGS, {name: torch.zeros(5, dtype=F64)}, TypeError,
             rf"^{name} must have the same dtype as hidden"))
        add((f"{name}-list", _ARGS, {name: [0.0] * 5}, TypeError, rf"^{name} must be a torch\.Tensor"))
    add(("target-float", (_H, _W, torch.zeros(4)), {}, TypeError,
         r"^target must hold integer class indices \(int64\), got torch\.float32$"))
    add(("target-int32", (_H, _W, _Y.int()), {}, TypeError, r"^target must hold integer class indices \(int64\)"))
    add(("target-N+1", (_H, _W, torch.zeros(5, dtype=torch.int64)), {}, ValueError,
         r"^target must have shape \(4,\) for hidden of shape \(4, 3\), got \(5,\)$"))
    add(("target-N1", (_H, _W, _Y[:, None]), {}, ValueError, r"^target must have shape \(4,\) for hidden"))
    add(("target-device", (_H, _W, torch.zeros(4, dtype=torch.int64, device="meta")), {}, ValueError,
         r"^target must be on the same device as hidden \(cpu\), got meta$"))
    add(("target-list", (_H, _W, [0, 1, 2, 3]), {}, TypeError, r"^target must be a torch\.Tensor"))
    add(("ignore_index-float", _ARGS, {"ignore_index": -100.0}, TypeError, r"^ignore_index must be an int"))
    for v, e, m in ((-0.1, ValueError, r"^label_smoothing must be >= 0"), (1.5, ValueError,
                    r"^label_smoothing must be in \[0, 1\], got 1\.5$"), (math.nan, ValueError,
                    r"^label_smoothing must be finite"), ("0.1", TypeError, r"^label_smoothing must be a real")):
        add((f"label_smoothing={v!r}", _ARGS, {"label_smoothing": v}, e, m))
    for v, e, m in ((-1e-4, ValueError, r"^z_loss must be >= 0"), (math.inf, ValueError, r"^z_loss must be finite"),
                    (None, TypeError, r"^z_loss must be a real")):
        add((f"z_loss={v!r}", _ARGS, {"z_loss": v}, e, m))
    for v, e, m in ((0.0, ValueError, r"^softcap must be > 0"), (-30.0, ValueError, r"^softcap must be > 0"),
                    (math.inf, ValueError, r"^softcap must be finite"), ("30", TypeError, r"^softcap must be a real")):
        add((f"softcap={v!r}", _ARGS, {"softcap": v}, e, m))
    for v, e, m in ((0, ValueError, r"^chunk_size must be >= 1, got 0$"), (-3, ValueError, r"^chunk_size must be >= 1"),
                    (2.0, TypeError, r"^chunk_size must be an int or None, got float$"),
                    (True, TypeError, r"^chunk_size must be an int or None, got bool$")):
        add((f"chunk_size={v!r}", _ARGS, {"chunk_size": v}, e, m))
    for v, e, m in ((0, ValueError, r"^normalizer must be > 0"), (-2.0, ValueError, r"^normalizer must be > 0"),
                    (math.nan, ValueError, r"^normalizer must be finite"), ("3", TypeError, r"^normalizer must be a real"),
                    (torch.ones(2), ValueError, r"^normalizer must be a number or a 0-d real tensor, got a tensor "
                     r"of shape \(2,\)"),
                    (torch.tensor(True), ValueError, r"^normalizer must be a number or a 0-d real tensor")):
        add((f"normalizer={v!r}", _ARGS, {"normalizer": v}, e, m))
    for r in ("sum", "none"):
        add((f"normalizer-with-{r}", _ARGS, {"normalizer": 3.0, "reduction": r}, ValueError,
             rf"^normalizer divides the sum of reduction='mean' only, got reduction='{r}'$"))
    c += reduction_cases(_ARGS)
    msg = r"^target must hold class indices in \[0, 4\], got values such as "
    oob = (RuntimeError, "out of bounds")  # with the checks off, gather refuses the index itself
    c += [ValueCase(f"target={bad}", (_H, _W, torch.tensor(t)), {}, ValueError, msg + rf"\[{shown}\]$", oob)
          for bad, t, shown in (("V", [0, 1, 5, 2], "5"), ("-1", [0, -1, 1, 2], "-1"), ("V,V+3", [5, 1, 8, 2], "5, 8"))]
    c += [ValueCase(f"normalizer={v}", _ARGS, {"normalizer": torch.tensor(v)}, ValueError,
                    rf"^normalizer must be > 0, got values such as \[{shown}\]$")
          for v, shown in ((0.0, r"0\.0"), (-4.0, r"-4\.0"), (math.nan, "nan"))]
    return c


BAD_INPUT = {
    "linear_cross_entropy": _lce_cases(),
    "z_loss": [(i, args[:1], kw, e, m) for i, args, kw, e, m in class_score_cases("logits")]
    + reduction_cases((torch.zeros(4, 3),)),
    "softcap": [
        ("logits-list", ([1.0], 30.0), {}, TypeError, r"^logits must be a torch\.Tensor"),
        ("cap=0", (torch.zeros(3), 0.0), {}, ValueError, r"^cap must be > 0"),
        ("cap=-1", (torch.zeros(3), -1.0), {}, ValueError, r"^cap must be > 0"),
        ("cap=None", (torch.zeros(3), None), {}, TypeError, r"^cap must be a real number"),
    ],
    "perplexity": [("logits-1d", (torch.zeros(4), torch.zeros(4, dtype=torch.int64)), {}, ValueError,
                    r"^logits must have shape \(N, C\)")],
}

test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


def test_cross_entropy_normalizer_bad_input():
    z, y = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"^normalizer must be > 0, got -1"):
        lossbook.cross_entropy(z, y, normalizer=-1)
    with pytest.raises(ValueError, match=r"^normalizer divides the sum of reduction='mean' only"):
        lossbook.cross_entropy(z, y, normalizer=2, reduction="sum")


@pytest.mark.parametrize("key", ["linear_cross_entropy", "z_loss"])
def test_options_are_keyword_only(key):
    args = _ARGS if key == "linear_cross_entropy" else (torch.zeros(4, 3),)
    with pytest.raises(TypeError, match="positional argument"):
        LOSSES[key](*args, 1.0)
