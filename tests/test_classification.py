"""lossbook.classification against PyTorch and float64 references, gradients, sympy, bad input.

The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every classification loss in the
catalog is covered. Properties, limits and extreme inputs are in
test_classification_properties.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook
from bad_input import (
    ValueCase, argument_params, bad_input_tests, value_params,
    broadcast_weight_cases, class_index_value_cases, class_pair_cases, class_score_cases,
    class_weight_cases, index_target_cases, number_cases, pair_cases, sign_value_cases,
    unit_interval_value_cases, unit_parameter_cases,
)
from classification_cases import (
    NC, NCHW, Ref, class_weight, distribution, hinge_scores, index_shape, indices, logits,
    multiclass_scores, np_focal, np_hinge, np_kl, np_multiclass_hinge, np_softmax_focal, signs, to_numpy,
    torch_kl, torchvision_focal, unit,
)
from common import F32, F64, REDUCTIONS
from lossbook import catalog, symbolic

KEYS = [r.key for r in catalog.by_family("classification")]
LOSSES = {k: getattr(lossbook, k) for k in KEYS}


def _idx(shape, **kw):  # logits of `shape` and index targets for them
    return lambda dt: ((logits(shape, dt), indices(index_shape(shape), shape[1], **kw)), {})


def _with(make, **extra):
    """``make`` with extra keyword arguments; a callable value is called with the dtype."""
    def made(dt):
        args, kw = make(dt)
        return args, {**kw, **{k: v(dt) if callable(v) else v for k, v in extra.items()}}
    return made


def _logsm(make):  # the same data with log-probabilities as the scores
    def made(dt):
        (z, y), kw = make(dt)
        return (F.log_softmax(z, 1), y), kw
    return made


def _probs(shape, **kw):
    return lambda dt: ((logits(shape, dt), distribution(shape, dt, **kw)), {})


def _binary(shape, *, sigmoid=False, **kw):  # (probabilities or logits, targets in [0, 1])
    return lambda dt: (((torch.sigmoid(logits(shape)) if sigmoid else logits(shape)).to(dt), unit(shape, dt, **kw)), {})


def _hinge(shape, margin=1.0):
    return lambda dt: ((hinge_scores(signs(shape), margin).to(dt), signs(shape, dt)), {})


def _multi(n, c, margin=1.0):
    y = indices((n,), c)
    return lambda dt: ((multiclass_scores(y, c, margin).to(dt), y), {})


W4 = lambda dt: class_weight(4, dt)  # noqa: E731
CE = F.cross_entropy
# ==========================================================================
# REFERENCE: key -> [Ref]; every loss, every reduction, float32 and float64.

REFERENCE = {
    "cross_entropy": [
        Ref("index", _idx(NC), CE),
        Ref("index-NCHW", _idx(NCHW), CE),
        Ref("weight", _with(_idx(NC), weight=W4), CE),
        Ref("weight-NCHW", _with(_idx(NCHW), weight=W4), CE),
        Ref("ignore_index", _with(_idx(NC, ignore=-100), weight=W4), CE),
        Ref("ignore_index=1", _with(_idx(NCHW), ignore_index=1), CE),
        Ref("ignore_index=-1", _with(_idx(NC, ignore=-1), ignore_index=-1), CE),
        Ref("label_smoothing", _with(_idx(NC, ignore=-100), weight=W4, label_smoothing=0.2), CE),
        Ref("label_smoothing-NCHW", _with(_idx(NCHW), label_smoothing=1.0), CE),
        Ref("probs", _probs(NC), CE),
        Ref("probs-NCHW-zeros", _probs(NCHW, zeros=True), CE),
        Ref("probs-weight-smoothing", _with(_probs(NC, zeros=True), weight=W4, label_smoothing=0.3), CE),
    ],
    "nll": [
        Ref("index", _logsm(_idx(NC)), F.nll_loss),
        Ref("NCHW", _logsm(_idx(NCHW)), F.nll_loss),
        Ref("weight-ignore_index", _with(_logsm(_idx(NC, ignore=-100)), weight=W4), F.nll_loss),
        Ref("weight-ignore_index=0-NCHW", _with(_logsm(_idx(NCHW)), weight=W4, ignore_index=0), F.nll_loss),
        Ref("raw-scores", _idx(NC), F.nll_loss),  # nll picks -s_y; it normalises nothing
    ],
    "binary_cross_entropy": [
        Ref("soft", _binary(NC, sigmoid=True), F.binary_cross_entropy),
        Ref("hard", _binary((2, 3, 4), sigmoid=True, hard=True), F.binary_cross_entropy),
        Ref("weight-C", _with(_binary(NC, sigmoid=True), weight=W4), F.binary_cross_entropy),
        Ref("weight-full", _with(_binary(NC, sigmoid=True), weight=lambda dt: unit(NC, dt, seed=9)),
            F.binary_cross_entropy),
    ],
    "binary_cross_entropy_with_logits": [
        Ref("soft", _binary(NC), F.binary_cross_entropy_with_logits),
        Ref("hard-NCHW", _binary(NCHW, hard=True), F.binary_cross_entropy_with_logits),
        Ref("weight", _with(_binary(NC), weight=W4), F.binary_cross_entropy_with_logits),
        Ref("pos_weight", _with(_binary(NC), pos_weight=lambda dt: 4 * class_weight(4, dt, seed=1)),
            F.binary_cross_entropy_with_logits),
        Ref("both-NCHW", _with(_binary(NCHW), weight=lambda dt: unit((5,), dt, seed=2),
                               pos_weight=lambda dt: 3 * unit((2, 1), dt, seed=3)),
            F.binary_cross_entropy_with_logits),
    ],
    "kl_divergence": [
        Ref("NC", _probs(NC), torch_kl, np_kl),
        Ref("NC-zeros", _probs(NC, zeros=True), torch_kl, np_kl),
        Ref("NCHW-zeros", _probs(NCHW, zeros=True), torch_kl, np_kl),
    ],
    "hinge": [
        Ref("default", _hinge((7,)), None, np_hinge),
        Ref("margin=0.5", _with(_hinge((3, 5), 0.5), margin=0.5), None, np_hinge),
        Ref("margin=2", _with(_hinge((3, 5), 2.0), margin=2.0), None, np_hinge),
        Ref("margin=0", _with(_hinge((9,), 0.0), margin=0.0), None, np_hinge),
    ],
    "multiclass_hinge": [
        Ref("default", _multi(7, 4), F.multi_margin_loss, np_multiclass_hinge),
        Ref("p=2", _with(_multi(7, 4), p=2), F.multi_margin_loss, np_multiclass_hinge),
        Ref("margin=0.5", _with(_multi(7, 5, 0.5), margin=0.5), F.multi_margin_loss, np_multiclass_hinge),
        Ref("weight", _with(_multi(7, 4), weight=W4), F.multi_margin_loss, np_multiclass_hinge),
        Ref("p=2-margin=2-weight", _with(_multi(7, 4, 2.0), p=2, margin=2.0, weight=W4),
            F.multi_margin_loss, np_multiclass_hinge),
    ],
    "focal": [
        Ref("default", _binary(NC), torchvision_focal, np_focal),
        Ref("hard", _binary((2, 3, 4), hard=True), torchvision_focal, np_focal),
        Ref("alpha=None", _with(_binary(NC), alpha=None), torchvision_focal, np_focal),
        Ref("alpha=0.75-gamma=0.5", _with(_binary(NC, hard=True), alpha=0.75, gamma=0.5), torchvision_focal, np_focal),
        Ref("gamma=0", _with(_binary(NC), gamma=0.0), torchvision_focal, np_focal),
        Ref("alpha=1-gamma=5", _with(_binary(NC), alpha=1.0, gamma=5.0), torchvision_focal, np_focal),
    ],
    "softmax_focal": [
        Ref("default", _idx(NC), None, np_softmax_focal),
        Ref("gamma=0.5", _with(_idx(NC), gamma=0.5), None, np_softmax_focal),
        Ref("gamma=0", _with(_idx(NC), gamma=0.0), None, np_softmax_focal),
        Ref("weight", _with(_idx(NC), weight=W4), None, np_softmax_focal),
        Ref("weight-NCHW-gamma=3", _with(_idx(NCHW), weight=W4, gamma=3.0), None, np_softmax_focal),
    ],
}


@pytest.mark.parametrize("dtype", [pytest.param(F32, id="f32"), pytest.param(F64, id="f64")])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, ref", [pytest.param(k, r, id=f"{k}-{r.id}") for k in KEYS for r in REFERENCE[k]])
def test_matches_reference(key, ref, reduction, dtype):
    args, kwargs = ref.make(dtype)
    got = LOSSES[key](*args, reduction=reduction, **kwargs)
    assert got.dtype == dtype
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == F32 else dict(rtol=1e-10, atol=1e-12)
    if ref.torch is not None:  # same dtype for PyTorch's own functions; float64 for torchvision's formula
        want = ref.torch(*args, reduction=reduction, **kwargs)
        torch.testing.assert_close(got, want.to(dtype), **({} if want.dtype == dtype else tol))
    if ref.numpy is not None:
        want = ref.numpy(*map(to_numpy, args), reduction=reduction, **{k: to_numpy(v) for k, v in kwargs.items()})
        torch.testing.assert_close(got, torch.as_tensor(want, dtype=dtype), **tol)


@pytest.mark.parametrize("key", ["cross_entropy", "nll"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_every_target_ignored_gives_zero_where_pytorch_gives_nan(key, weighted):
    z = logits(NC).requires_grad_(True)
    y = torch.full((NC[0],), -100)
    kw = {"weight": class_weight(4)} if weighted else {}
    theirs = {"cross_entropy": F.cross_entropy, "nll": F.nll_loss}[key](z, y, **kw)
    assert torch.isnan(theirs)  # PyTorch: 0 / 0
    ours = LOSSES[key](z, y, **kw)
    assert ours.item() == 0.0
    (grad,) = torch.autograd.grad(ours, z)
    assert (grad == 0).all()  # no target counts, so nothing pulls on the logits
    for reduction in ("sum", "none"):  # these agree with PyTorch: zeros
        torch.testing.assert_close(LOSSES[key](z, y, reduction=reduction, **kw),
                                   torch.zeros(()) if reduction == "sum" else torch.zeros(NC[0]), check_dtype=False)


@pytest.mark.parametrize("normalizer", [6.5, 3, "tensor"])
@pytest.mark.parametrize("ref", [r for r in REFERENCE["cross_entropy"] if r.id in (
    "index", "weight", "ignore_index", "label_smoothing", "label_smoothing-NCHW", "probs", "probs-weight-smoothing")],
    ids=lambda r: r.id)
def test_cross_entropy_normalizer_divides_the_sum(ref, normalizer):
    # with "mean", the (weighted) sum over the normalizer instead of the local denominator
    args, kwargs = ref.make(F64)
    z = args[0].clone().requires_grad_(True)
    norm = torch.tensor(4.25, dtype=F64) if normalizer == "tensor" else normalizer
    got = lossbook.cross_entropy(z, args[1], normalizer=norm, **kwargs)
    want = F.cross_entropy(z, args[1], reduction="sum", **kwargs) / (4.25 if normalizer == "tensor" else normalizer)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(torch.autograd.grad(got, z)[0], torch.autograd.grad(want, z)[0])
    assert lossbook.cross_entropy(z.float(), args[1] if not args[1].is_floating_point() else args[1].float(),
                                  normalizer=norm, **{k: v.float() if isinstance(v, torch.Tensor) else v
                                                      for k, v in kwargs.items()}).dtype == F32


def test_cross_entropy_normalizer_makes_micro_batches_add_up():
    z, y = logits((12, 4)), indices((12,), 4, ignore=-100)
    y[:5] = -100  # the first micro-batch holds more ignored targets than the others
    w = class_weight(4)
    whole = lossbook.cross_entropy(z, y, weight=w)
    keep = y != -100
    total_weight = w[y[keep]].sum()
    parts = [lossbook.cross_entropy(z[i:i + 4], y[i:i + 4], weight=w, normalizer=total_weight) for i in (0, 4, 8)]
    torch.testing.assert_close(sum(parts), whole)
    means = [lossbook.cross_entropy(z[i:i + 4], y[i:i + 4], weight=w) for i in (0, 4, 8)]
    assert abs(sum(means) / 3 - whole) > 1e-3  # per-micro-batch means weigh targets unequally
    assert lossbook.cross_entropy(z, torch.full((12,), -100), normalizer=5.0).item() == 0.0


# ==========================================================================
# GRADCHECK: key -> [(id, make(float64), number of leading args to differentiate, has a
# second derivative)]. Targets are differentiated only where a perturbation keeps them valid.

_NC3, _NCHW3 = (3, 4), (2, 4, 2, 2)
GRADCHECK = {
    "cross_entropy": [
        ("index-weight-ignore-smoothing", _with(_idx(_NC3, ignore=-100), weight=W4, label_smoothing=0.1), 1, True),
        ("index-NCHW", _idx(_NCHW3), 1, True),
        ("probs-NCHW", _probs(_NCHW3), 2, True),
    ],
    "nll": [("weight-ignore", _with(_logsm(_idx(_NC3, ignore=-100)), weight=W4), 1, True),
            ("NCHW", _logsm(_idx(_NCHW3)), 1, True)],
    "binary_cross_entropy": [("soft", _binary(_NC3, sigmoid=True, lo=0.05, hi=0.95), 2, True),
                             ("weight", _with(_binary(_NC3, sigmoid=True, hard=True), weight=W4), 1, True)],
    "binary_cross_entropy_with_logits": [
        ("soft", _binary(_NC3), 2, True),
        ("weight-pos_weight", _with(_binary(_NC3), weight=W4, pos_weight=lambda dt: 3 * class_weight(4, dt)), 2, True),
    ],
    "kl_divergence": [("positive", _probs(_NC3), 2, True), ("zeros-NCHW", _probs(_NCHW3, zeros=True), 1, True)],
    "hinge": [("default", _hinge((7,)), 1, False), ("margin=0.5", _with(_hinge((7,), 0.5), margin=0.5), 1, False)],
    "multiclass_hinge": [("default", _multi(5, 4), 1, False),
                         ("p=2-weight", _with(_multi(5, 4, 0.5), p=2, margin=0.5, weight=W4), 1, False)],
    "focal": [
        ("soft", _binary(_NC3, lo=0.05, hi=0.95), 2, True),
        ("soft-gamma=0.5-alpha=None", _with(_binary(_NC3, lo=0.05, hi=0.95), gamma=0.5, alpha=None), 2, True),
        # targets 0 or 1: a finite-difference step in t leaves [0, 1] (d/dt: test_focal_target_gradient)
        ("hard", _binary(_NC3, hard=True), 1, True),
        ("hard-gamma=0.5", _with(_binary(_NC3, hard=True), gamma=0.5), 1, True),
    ],
    "softmax_focal": [("default", _idx(_NC3), 1, True),
                      ("gamma=0.5-weight-NCHW", _with(_idx(_NCHW3), gamma=0.5, weight=W4), 1, True)],
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, make, wrt, second", [
    pytest.param(k, m, w, s, id=f"{k}-{i}") for k in KEYS for i, m, w, s in GRADCHECK[k]
])
def test_gradcheck(key, make, wrt, second, reduction):
    args, kwargs = make(F64)
    inputs = tuple(a.clone().requires_grad_(True) for a in args[:wrt])

    def fn(*xs):
        return LOSSES[key](*xs, *args[wrt:], reduction=reduction, **kwargs)

    assert torch.autograd.gradcheck(fn, inputs)
    if second:
        assert torch.autograd.gradgradcheck(fn, inputs)


# focal in the target t (learned soft targets): q = 1 - p_t = p + t (1 - 2p), ce = -(t log p +
# (1 - t) log(1 - p)) and alpha_t = 1 - alpha + t (2 alpha - 1) are linear in t, with slopes 1 - 2p,
# log(1 - p) - log p = -x and 2 alpha - 1, so
#     d/dt = (2 alpha - 1) q^gamma ce + alpha_t q^gamma (gamma (1 - 2p) ce / q - x),
# finite at t = 0 and 1 too (q > 0 for a finite x), where log t or log(1 - t) is not.


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (None, 0.5), (0.75, 0.5), (0.25, 0.0), (1.0, 5.0)])
@pytest.mark.parametrize("dtype, tol", [(F64, 1e-12), (F32, 1e-6)], ids=str)
def test_focal_target_gradient(dtype, tol, alpha, gamma):
    # first and second derivatives (a Hessian-vector product) against float64 autograd of
    # torchvision's formula; rows 0-2 hard targets, rows 3-5 soft
    x, t = logits(NC), torch.cat([unit((3, 4), hard=True), unit((3, 4), seed=1)])
    v = torch.linspace(-1, 1, x.numel(), dtype=F64).reshape(NC)
    got, want = [], []
    for out, f in ((got, lambda x, t: lossbook.focal(x, t, alpha=alpha, gamma=gamma, reduction="sum")),
                   (want, lambda x, t: torchvision_focal(x, t, alpha=alpha, gamma=gamma, reduction="sum"))):
        xs = [a.to(dtype if out is got else F64).requires_grad_(True) for a in (x, t)]
        gx, gt = torch.autograd.grad(f(*xs), xs, create_graph=True)
        out += [gx, gt, *torch.autograd.grad((gx * v).sum() + (gt * v.flip(0)).sum(), xs)]
    for g, w in zip(got, want):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g.double(), w, rtol=tol, atol=tol)


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (None, 0.5), (0.75, 0.5)])
def test_focal_target_gradient_at_logit_zero(alpha, gamma):
    # x = 0: p = 1/2, q = 1/2, ce = log 2 for every t, so d/dt = (2 alpha - 1) 2^-gamma log 2
    t = torch.tensor([0.0, 0.3, 1.0], dtype=F64, requires_grad=True)
    loss = lossbook.focal(torch.zeros(3, dtype=F64), t, alpha=alpha, gamma=gamma, reduction="sum")
    (g,) = torch.autograd.grad(loss, t)
    want = 0.0 if alpha is None else (2 * alpha - 1) * 2**-gamma * np.log(2)  # None: alpha_t = 1, slope 0
    torch.testing.assert_close(g, torch.full_like(g, want), rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("gamma, want", [(0.5, [-16250.0, 0, 0, -1250]), (2.0, [-27500.0, 0, 0, 2500])])
def test_focal_target_gradient_at_saturated_logits(gamma, want):
    # float32, alpha = 0.25, x = (1e4, 1e4, -1e4, -1e4), t = (0, 1, 0, 1). Entries 2 and 3 are right:
    # q = e^-1e4 = 0, so d/dt = 0. Entries 1 and 4 are wrong: q = 1, ce = 1e4, so with
    #   1 - 2p = -1, alpha_t = 0.75: -0.5e4 + 0.75 (-gamma 1e4 - 1e4)   (entry 1)
    #   1 - 2p = +1, alpha_t = 0.25: -0.5e4 + 0.25 (gamma 1e4 + 1e4)    (entry 4)
    x = torch.tensor([1e4, 1e4, -1e4, -1e4], requires_grad=True)
    t = torch.tensor([0.0, 1, 0, 1], requires_grad=True)
    gx, gt = torch.autograd.grad(lossbook.focal(x, t, gamma=gamma, reduction="sum"), (x, t))
    torch.testing.assert_close(gt, torch.tensor(want), rtol=1e-6, atol=0)
    torch.testing.assert_close(gx, torch.tensor([0.75, 0, 0, -0.25]), rtol=1e-6, atol=0)  # alpha_t (p - t)


# ==========================================================================
# SYMBOLIC: the sympy gradient against autograd of the torch loss (reduction="none")
# with respect to the form's variable, for every classification loss with a form.

SYMBOLIC = {
    "binary_cross_entropy": [{"t": t} for t in (0.0, 0.3, 1.0)],
    "binary_cross_entropy_with_logits": [{"t": t} for t in (0.0, 0.3, 1.0)],
    "hinge": [{"t": t, "m": m} for t in (-1.0, 1.0) for m in (0.5, 1.0)],
    "focal": [{"t": t, "alpha": a, "gamma": g}
              for t, a, g in itertools.product((0.0, 0.3, 1.0), (0.25, 0.75), (0, 0.5, 2))],
}
_TORCH_PARAMS = {"hinge": lambda p: {"margin": p["m"]}, "focal": lambda p: {"alpha": p["alpha"], "gamma": p["gamma"]}}


def test_every_classification_form_has_symbolic_cases():
    assert {k for k in symbolic.keys() if k in LOSSES} == set(SYMBOLIC)


@pytest.mark.parametrize("which", ["loss", "gradient"])
@pytest.mark.parametrize("key, params", [
    pytest.param(k, p, id=f"{k}-" + ",".join(f"{n}={v}" for n, v in p.items()))
    for k in symbolic.keys() if k in LOSSES for p in SYMBOLIC[k]
])
def test_symbolic_matches_autograd(key, params, which):
    if key == "binary_cross_entropy":  # the variable is a probability p in (0, 1)
        v = np.linspace(0.02, 0.98, 25)
    elif key == "hinge":  # the score s, away from the kink at t s = m
        v = params["t"] * params["m"] + np.concatenate([np.linspace(-4, -0.1, 12), np.linspace(0.1, 4, 12)])
    else:  # a logit x
        v = np.linspace(-8, 8, 33)
    var = torch.tensor(v, dtype=F64, requires_grad=True)
    target = torch.full_like(var, params["t"])
    loss = LOSSES[key](var, target, reduction="none", **_TORCH_PARAMS.get(key, lambda p: {})(params))
    got = loss if which == "loss" else torch.autograd.grad(loss.sum(), var)[0]
    want = symbolic.form(key).numeric(which, **params)(v)
    torch.testing.assert_close(got.detach(), torch.from_numpy(want), rtol=1e-9, atol=1e-12)


# ==========================================================================
# BAD_INPUT: key -> cases (id, args, kwargs, error, message pattern); a ValueCase is a
# value-range check, which lossbook.value_checks(False) skips (see bad_input.py).

_S, _Y = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])  # valid scores and indices, C = 3
_X, _T = torch.zeros(4, 3), torch.full((4, 3), 0.5)  # valid logits and targets in [0, 1]
_OOB = {"cross_entropy": (IndexError, "out of bounds"), "nll": (IndexError, "out of bounds"),
        "softmax_focal": (RuntimeError, "out of bounds"), "multiclass_hinge": (RuntimeError, "out of range")}
_BCE = (RuntimeError, "should be between 0 and 1")  # F.binary_cross_entropy checks its own inputs on CPU


def _index_loss_cases(key, name, **kw):
    return (class_score_cases(name) + index_target_cases(name, **kw) + class_weight_cases(name, (_S, _Y))
            + class_index_value_cases((_S, _Y), _OOB[key]))


BAD_INPUT = {
    "cross_entropy": _index_loss_cases("cross_entropy", "logits", float_is_probs=True)
    + class_pair_cases(("logits", "target"), int_target=False)
    + unit_parameter_cases("label_smoothing", args=(_S, _Y))
    + unit_interval_value_cases((_X, _T), 1, "target")
    + [(f"normalizer={v!r}", (_S, _Y), {"normalizer": v}, e, m) for v, e, m in (
        (0, ValueError, r"^normalizer must be > 0, got 0$"), (-1.5, ValueError, r"^normalizer must be > 0"),
        (math.inf, ValueError, r"^normalizer must be finite"), ("2", TypeError, r"^normalizer must be a real number"),
        (torch.ones(1), ValueError, r"^normalizer must be a number or a 0-d real tensor, got a tensor of shape \(1,\)"))]
    + [("normalizer-with-sum", (_S, _Y), {"normalizer": 2.0, "reduction": "sum"}, ValueError,
        r"^normalizer divides the sum of reduction='mean' only, got reduction='sum'$")]
    + [ValueCase(f"normalizer=tensor({v})", (_S, _Y), {"normalizer": torch.tensor(v)}, ValueError,
                 rf"^normalizer must be > 0, got values such as \[{shown}\]$") for v, shown in ((0.0, r"0\.0"), (-2.0, r"-2\.0"))],
    "nll": _index_loss_cases("nll", "log_probs"),
    "binary_cross_entropy": pair_cases(("probs", "target"))
    + broadcast_weight_cases("weight", (_T, _T), "probs")
    + unit_interval_value_cases((_T, _T), 0, "probs", _BCE) + unit_interval_value_cases((_T, _T), 1, "target", _BCE),
    "binary_cross_entropy_with_logits": pair_cases(("logits", "target"))
    + broadcast_weight_cases("weight", (_X, _T), "logits") + broadcast_weight_cases("pos_weight", (_X, _T), "logits")
    + unit_interval_value_cases((_X, _T), 1, "target"),
    "kl_divergence": class_pair_cases(("logits", "target_probs"))
    + unit_interval_value_cases((_X, _T), 1, "target_probs"),
    "hinge": pair_cases(("scores", "target"))
    + number_cases("margin", positive=False) + sign_value_cases(torch.ones(4)),
    "multiclass_hinge": _index_loss_cases("multiclass_hinge", "scores", spatial=False)
    + number_cases("margin", positive=False, args=(_S, _Y))
    + [(f"p={p!r}", (_S, _Y), {"p": p}, ValueError, rf"^p must be 1 or 2, got {p!r}$")
       for p in (0, 3, 1.5, True, "2", None)]
    + [("scores-NCHW", (torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.int64)), {}, ValueError,
        r"^scores must have shape \(N, C\), got \(2, 3, 4\)$")],
    "focal": pair_cases(("logits", "target"))
    + number_cases("gamma", positive=False, args=(_X, _T))
    + unit_parameter_cases("alpha", args=(_X, _T), none_ok=True)
    + unit_interval_value_cases((_X, _T), 1, "target"),
    "softmax_focal": _index_loss_cases("softmax_focal", "logits")
    + number_cases("gamma", positive=False, args=(_S, _Y))
    + [("C=1", (torch.zeros(4, 1), torch.zeros(4, dtype=torch.int64)), {}, ValueError,
        r"^logits must have at least 2 classes for softmax_focal, got 1$")],
}
_ARGUMENT = argument_params(BAD_INPUT)
_VALUE = value_params(BAD_INPUT)


def test_every_loss_has_both_kinds_of_bad_input():
    assert {p.values[0] for p in _ARGUMENT} == set(KEYS)
    assert {p.values[0] for p in _VALUE} == set(KEYS)


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    args, kwargs = REFERENCE[key][0].make(F32)
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        LOSSES[key](*args, 1.0, **kwargs)

