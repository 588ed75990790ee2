"""lossbook.representation (InfoNCE, NT-Xent, CLIP, SigLIP, SupCon, ArcFace, CosFace) against float64
references written from the papers' formulas (loops over anchors), gradients and bad inputs.

The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every loss of the family is
covered. Limits, hand-worked cases, the papers' code and extreme inputs are in
tests/test_representation_properties.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bad_input import ValueCase, bad_input_tests, embedding_cases, number_cases
from common import DTYPES, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import representation as R

KEYS = [k for k in R.__all__ if k[0].islower()]
LOSSES = {k: getattr(R, k) for k in KEYS}
N, D, C = 6, 4, 5


def data(seed=0, n=N, d=D, dtype=F64):
    """Two correlated views (N, D), labels with repeats in [0, 3), class centres (C, D), labels in [0, C)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    y = x + 0.8 * torch.randn(n, d, generator=g, dtype=F64)
    w = torch.randn(C, d, generator=g, dtype=F64)
    classes = torch.randint(0, C, (n,), generator=g)
    groups = torch.arange(n) % 3  # every group has >= 2 members for n >= 6
    return x.to(dtype), y.to(dtype), groups, w.to(dtype), classes


# ==========================================================================
# REFERENCE: float64 NumPy, straight from each paper's formula, one anchor at a time.


def unit(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def lse(v):
    m = v.max()
    return m + np.log(np.exp(v - m).sum())


def np_info_nce(q, k, temperature=0.07, negatives=None):
    q, k = unit(q), unit(k)
    cands = k if negatives is None else np.concatenate([k, unit(negatives)])
    return np.array([lse(cands @ q[i] / temperature) - q[i] @ k[i] / temperature for i in range(len(q))])


def np_nt_xent(z1, z2, temperature=0.5):
    z, n = unit(np.concatenate([z1, z2])), len(z1)
    out = []
    for a in range(2 * n):
        others = [b for b in range(2 * n) if b != a]
        partner = (a + n) % (2 * n)
        out.append(lse(np.array([z[a] @ z[b] for b in others]) / temperature) - z[a] @ z[partner] / temperature)
    return np.array(out)


def np_clip(x, y, logit_scale=1 / 0.07):
    s = logit_scale * unit(x) @ unit(y).T
    return np.array([(lse(s[i]) - s[i, i] + lse(s[:, i]) - s[i, i]) / 2 for i in range(len(x))])


def np_siglip(x, y, logit_scale=10.0, logit_bias=-10.0):
    s = logit_scale * unit(x) @ unit(y).T + logit_bias
    labels = 2 * np.eye(len(x)) - 1
    return np.log1p(np.exp(-labels * s)).sum(1)  # -log sigmoid(z) = log(1 + e^-z)


def np_supcon(f, labels, temperature=0.1):
    """L_out (Khosla et al. 2020, eq. 2): per anchor, -1/|P(i)| sum_p log softmax over A(i); NaN without P(i)."""
    z = unit(f)
    out = []
    for i in range(len(z)):
        a_i = [a for a in range(len(z)) if a != i]
        p_i = [p for p in a_i if labels[p] == labels[i]]
        den = lse(np.array([z[i] @ z[a] for a in a_i]) / temperature)
        out.append(-np.mean([z[i] @ z[p] / temperature - den for p in p_i]) if p_i else np.nan)
    return np.array(out)


def np_margin(e, w, labels, target_of, scale):
    cos = unit(e) @ unit(w).T
    out = []
    for i, y in enumerate(labels):
        logits = scale * cos[i].copy()
        logits[y] = scale * target_of(cos[i, y])
        out.append(lse(logits) - logits[y])
    return np.array(out)


def np_arcface(e, w, labels, scale=64.0, margin=0.5):
    def target(c):
        theta = math.acos(min(max(c, -1.0), 1.0))
        return math.cos(theta + margin) if theta + margin <= math.pi else c - margin * math.sin(margin)
    return np_margin(e, w, labels, target, scale)


def np_cosface(e, w, labels, scale=64.0, margin=0.35):
    return np_margin(e, w, labels, lambda c: c - margin, scale)


REFERENCE = {  # key -> parameter sets ({} checks the defaults)
    "info_nce": [{}, {"temperature": 1.0}, {"temperature": 0.2, "negatives": 3}],
    "nt_xent": [{}, {"temperature": 0.1}, {"temperature": 2.0}],
    "clip_loss": [{}, {"logit_scale": 1.0}, {"logit_scale": 50.0}],
    "siglip_loss": [{}, {"logit_scale": 1.0, "logit_bias": 0.0}, {"logit_scale": 5.0, "logit_bias": -2.0}],
    "supcon": [{}, {"temperature": 0.5}, {"temperature": 1.0}],
    "arcface": [{}, {"scale": 10.0, "margin": 0.2}, {"scale": 2.0, "margin": 1.5}, {"margin": 0.0}],
    "cosface": [{}, {"scale": 10.0, "margin": 0.1}, {"scale": 2.0, "margin": 1.0}],
}


def call(key, params, dtype=F64, seed=0, reduction="mean"):
    """lossbook's value and the NumPy reference's per-anchor values for ``key`` on seeded data."""
    x, y, groups, w, classes = data(seed, dtype=dtype)
    p = dict(params)
    xn, yn, wn = (t.double().numpy() for t in (x, y, w))
    if key == "info_nce":
        m = p.pop("negatives", None)
        if m is not None:
            p["negatives"] = (y[:m] * 1.3 + x[-m:]).contiguous()
        ref = np_info_nce(xn, yn, p.get("temperature", 0.07),
                          None if m is None else p["negatives"].double().numpy())
        return R.info_nce(x, y, reduction=reduction, **p), ref
    if key == "nt_xent":
        return R.nt_xent(x, y, reduction=reduction, **p), np_nt_xent(xn, yn, **p)
    if key == "clip_loss":
        return R.clip_loss(x, y, reduction=reduction, **p), np_clip(xn, yn, **p)
    if key == "siglip_loss":
        return R.siglip_loss(x, y, reduction=reduction, **p), np_siglip(xn, yn, **p)
    if key == "supcon":
        return R.supcon(x, groups, reduction=reduction, **p), np_supcon(xn, groups.numpy(), **p)
    fn, ref = (R.arcface, np_arcface) if key == "arcface" else (R.cosface, np_cosface)
    return fn(x, w, classes, reduction=reduction, **p), ref(xn, wn, classes.numpy(), **p)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "key, params", [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in KEYS for p in REFERENCE[k]]
)
def test_matches_the_papers_formula(key, params, reduction, dtype):
    got, per = call(key, params, dtype, reduction=reduction)
    rows = 2 * N if key == "nt_xent" else N
    assert got.dtype == dtype and got.shape == ((rows,) if reduction == "none" else ())
    want = torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype)
    torch.testing.assert_close(got, want, **dtype_tol(dtype))


def test_reference_data_exercises_the_arcface_fallback():
    # with margin 1.5, some targets have theta + m > pi (the fallback); with 0.5 at seed 0 none do
    x, _, _, w, classes = data(0)
    c = (unit(x.numpy()) @ unit(w.numpy()).T)[np.arange(N), classes.numpy()]
    theta = np.arccos(c)
    assert (theta + 1.5 > np.pi).any() and (theta + 1.5 < np.pi).any()


# ==========================================================================
# GRADCHECK: key -> parameter sets, float64 finite differences on small shapes.

GRADCHECK = {
    "info_nce": [{"temperature": 0.5}, {"temperature": 0.3, "negatives": 2}],
    "nt_xent": [{"temperature": 0.5}],
    "clip_loss": [{"logit_scale": 3.0}],
    "siglip_loss": [{"logit_scale": 2.0, "logit_bias": -1.0}],
    "supcon": [{"temperature": 0.5}],
    "arcface": [{"scale": 4.0, "margin": 0.3}, {"scale": 2.0, "margin": 1.5}],
    "cosface": [{"scale": 4.0, "margin": 0.3}],
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "key, params", [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in KEYS for p in GRADCHECK[k]]
)
def test_gradcheck(key, params, reduction):
    x, y, groups, w, classes = data(3, n=4, d=3)
    groups = torch.tensor([0, 1, 0, 1])
    p = dict(params)
    m = p.pop("negatives", None)
    if key == "info_nce":
        inputs = [x, y] + ([torch.randn(m, 3, generator=torch.Generator().manual_seed(9), dtype=F64)] if m else [])
        fn = lambda q, k, *neg: R.info_nce(q, k, negatives=neg[0] if neg else None, reduction=reduction, **p)  # noqa: E731
    elif key in ("nt_xent", "clip_loss", "siglip_loss"):
        inputs = [x, y]
        fn = lambda a, b: LOSSES[key](a, b, reduction=reduction, **p)  # noqa: E731
    elif key == "supcon":
        inputs = [x]
        fn = lambda a: R.supcon(a, groups, reduction=reduction, **p)  # noqa: E731
    else:
        inputs = [x, w]
        fn = lambda e, c: LOSSES[key](e, c, classes, reduction=reduction, **p)  # noqa: E731
    inputs = [t.clone().requires_grad_(True) for t in inputs]
    assert torch.autograd.gradcheck(fn, inputs)
    if reduction == "none":
        assert torch.autograd.gradgradcheck(fn, inputs)


def test_gradcheck_of_a_learnable_logit_scale_and_bias():
    x, y, *_ = data(4, n=4, d=3)
    scale, bias = torch.tensor(2.0, dtype=F64, requires_grad=True), torch.tensor(-1.0, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: R.clip_loss(x, y, logit_scale=t), [scale])
    assert torch.autograd.gradcheck(lambda t, b: R.siglip_loss(x, y, logit_scale=t, logit_bias=b), [scale, bias])


# ==========================================================================
# BAD_INPUT: key -> cases (id, args, kwargs, error, message pattern); a ValueCase is a
# value-range check, which lossbook.value_checks(False) skips (see bad_input.py).

_E, _L = torch.zeros(4, 3), torch.tensor([0, 1, 0, 1])
_W = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
_PAIR, _SUP, _MARGIN = (_E, _E), (_E, _L), (_E, _W, _L)


def _gather_cases(args):
    return [(f"gather={v!r}", args, {"gather": v}, TypeError, rf"^gather must be a bool, got {type(v).__name__}$")
            for v in (1, "yes", None)]


def _labels_cases(args, position):
    def at(v):
        return args[:position] + (v,) + args[position + 1:]
    shape = r"^labels must have shape \(4,\), one per row of "
    idx = r"^labels must hold integer class labels \(int64\), got torch\."
    return [
        ("labels-list", at([0, 1, 0, 1]), {}, TypeError, r"^labels must be a torch\.Tensor, got list$"),
        ("labels-float", at(torch.zeros(4)), {}, TypeError, idx + "float32$"),
        ("labels-int32", at(torch.zeros(4, dtype=torch.int32)), {}, TypeError, idx + "int32$"),
        ("labels-N+1", at(torch.zeros(5, dtype=torch.int64)), {}, ValueError, shape + r"\w+, got \(5,\)$"),
        ("labels-N1", at(torch.zeros(4, 1, dtype=torch.int64)), {}, ValueError, shape + r"\w+, got \(4, 1\)$"),
        ("labels-device", at(torch.zeros(4, dtype=torch.int64, device="meta")), {}, ValueError,
         r"^labels must be on the same device as \w+ \(cpu\), got meta$"),
    ]


def _scalar_cases(name, args, *, positive):
    """A logit scale (> 0) or bias (any finite): a number, or a 0-dim tensor whose value is checked."""
    numbers = [c for c in number_cases(name, positive=positive, args=args)
               if "tensor" not in c[0] and (positive or "must be >= 0" not in c[4])]
    expected = "be finite and > 0" if positive else "be finite"
    values = [(-1.0, r"-1\.0"), (math.inf, "inf")] if positive else [(math.nan, "nan"), (-math.inf, "-inf")]
    return numbers + [
        (f"{name}-1d", args, {name: torch.ones(1)}, ValueError, rf"^{name} must be a number or a 0-dim tensor"),
        (f"{name}-int", args, {name: torch.tensor(1)}, TypeError, rf"^{name} must have a floating-point dtype"),
        (f"{name}-device", args, {name: torch.tensor(1.0, device="meta")}, ValueError,
         rf"^{name} must be on the same device as image \(cpu\), got meta$"),
    ] + [ValueCase(f"{name}-tensor={v}", args, {name: torch.tensor(v)}, ValueError,
                   rf"^{name} must {expected}, got values such as \[{shown}\]$") for v, shown in values]


def _weight_cases():
    return [
        ("weight-list", (_E, [[0.0] * 3] * 5, _L), {}, TypeError, r"^weight must be a torch\.Tensor, got list$"),
        ("weight-1d", (_E, torch.zeros(5), _L), {}, ValueError, r"^weight must have shape \(C, 3\), one row per class"),
        ("weight-D+1", (_E, torch.zeros(5, 4), _L), {}, ValueError, r"got \(5, 4\)$"),
        ("weight-f64", (_E, _W.double(), _L), {}, TypeError,
         r"^weight must have the same dtype as embeddings \(torch\.float32\), got torch\.float64$"),
        ("weight-device", (_E, torch.zeros(5, 3, device="meta"), _L), {}, ValueError,
         r"^weight must be on the same device as embeddings \(cpu\), got meta$"),
    ]


def _class_value_cases():
    message = r"^labels must hold class indices in \[0, 4\], got values such as "
    return [ValueCase(f"labels={bad}", (_E, _W, torch.tensor(t)), {}, ValueError, message + rf"\[{shown}\]$",
                      (IndexError, "out of bounds"))
            for bad, t, shown in (("C", [0, 5, 1, 2], "5"), ("-1", [0, -1, 1, 2], "-1"))]


def _margin_cases(upper, shown):
    return number_cases("margin", positive=False, args=_MARGIN) + [
        (f"margin={v}", _MARGIN, {"margin": v}, ValueError, rf"^margin must be in \[0, {shown}\]")
        for v in (upper + 0.01, 10.0)]


_NEG = r"^negatives must have shape \(M, 3\) like query's rows, got "
BAD_INPUT = {
    "info_nce": embedding_cases(("query", "key")) + number_cases("temperature", positive=True, args=_PAIR)
    + _gather_cases(_PAIR) + [
        ("negatives-list", _PAIR, {"negatives": [[0.0] * 3]}, TypeError, r"^negatives must be a torch\.Tensor"),
        ("negatives-1d", _PAIR, {"negatives": torch.zeros(3)}, ValueError, _NEG + r"\(3,\)$"),
        ("negatives-D+1", _PAIR, {"negatives": torch.zeros(2, 4)}, ValueError, _NEG + r"\(2, 4\)$"),
        ("negatives-f64", _PAIR, {"negatives": torch.zeros(2, 3, dtype=F64)}, TypeError,
         r"^negatives must have the same dtype as query \(torch\.float32\), got torch\.float64$"),
        ("negatives-device", _PAIR, {"negatives": torch.zeros(2, 3, device="meta")}, ValueError,
         r"^negatives must be on the same device as query \(cpu\), got meta$"),
    ],
    "nt_xent": embedding_cases(("z1", "z2")) + number_cases("temperature", positive=True, args=_PAIR),
    "clip_loss": embedding_cases(("image", "text")) + _gather_cases(_PAIR)
    + _scalar_cases("logit_scale", _PAIR, positive=True),
    "siglip_loss": embedding_cases(("image", "text")) + _gather_cases(_PAIR)
    + _scalar_cases("logit_scale", _PAIR, positive=True) + _scalar_cases("logit_bias", _PAIR, positive=False),
    "supcon": embedding_cases(("features",), tail=(_L,)) + number_cases("temperature", positive=True, args=_SUP)
    + _labels_cases(_SUP, 1),
    "arcface": embedding_cases(("embeddings",), tail=(_W, _L)) + number_cases("scale", positive=True, args=_MARGIN)
    + _margin_cases(math.pi / 2, "pi/2") + _weight_cases() + _labels_cases(_MARGIN, 2) + _class_value_cases(),
    "cosface": embedding_cases(("embeddings",), tail=(_W, _L)) + number_cases("scale", positive=True, args=_MARGIN)
    + _margin_cases(2.0, "2") + _weight_cases() + _labels_cases(_MARGIN, 2) + _class_value_cases(),
}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    args = {"supcon": _SUP, "arcface": _MARGIN, "cosface": _MARGIN}.get(key, _PAIR)
    with pytest.raises(TypeError, match="positional argument"):
        LOSSES[key](*args, 1.0)
