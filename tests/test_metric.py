"""lossbook.metric (triplet, contrastive) against PyTorch and float64 references,
gradients, properties, extreme and bad inputs.

The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every metric loss in the catalog
is covered.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from bad_input import (
    ValueCase, bad_input_tests,
    embedding_cases, number_cases,
)
from common import DTYPES, F64, NP_REDUCE, REDUCTIONS, dtype_tol, params_id
from lossbook import metric
from lossbook.metric import contrastive, triplet

KEYS = list(metric.__all__)
LOSSES = {k: getattr(metric, k) for k in KEYS}


def embeddings(count, n=6, d=5, *, seed=0, scale=1.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(n, d, generator=g, dtype=F64)).to(dtype) for _ in range(count)]


# ==========================================================================
# REFERENCE: float64 NumPy evaluations of the docstring formulas (and, for
# triplet, PyTorch's triplet_margin_loss).


def np_distance(u, v, p=2.0, eps=1e-6):
    """``||u - v + eps||_p`` per row, PyTorch's pairwise_distance."""
    return (np.abs(u - v + eps) ** p).sum(1) ** (1 / p)


def np_triplet(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False):
    d_an = np_distance(a, neg, p, eps)
    if swap:
        d_an = np.minimum(d_an, np_distance(pos, neg, p, eps))
    return np.maximum(0.0, np_distance(a, pos, p, eps) - d_an + margin)


def np_contrastive(x1, x2, s, margin=1.0):
    d = np.sqrt(((x1 - x2) ** 2).sum(1))
    return s * d**2 + (1 - s) * np.maximum(0.0, margin - d) ** 2


REFERENCE = {  # key -> parameter sets ({} checks the defaults)
    "triplet": [{}] + [
        {"p": p, "swap": s, "margin": m, "eps": e}
        for p in (1.0, 2.0, 3.0) for s in (False, True) for m, e in ((0.5, 0.0), (2.0, 1e-3), (0.05, 1e-6))
    ],
    "contrastive": [{}, {"margin": 0.5}, {"margin": 2.0}, {"margin": 0.0}],
}
_SIMILAR = [0, 1, 0, 0, 1, 0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("params", REFERENCE["triplet"], ids=params_id)
def test_triplet_matches_pytorch_and_formula(params, reduction, dtype):
    a, pos, neg = embeddings(3, dtype=dtype)
    got = triplet(a, pos, neg, reduction=reduction, **params)
    assert got.dtype == dtype and got.shape == ((6,) if reduction == "none" else ())
    torch.testing.assert_close(got, F.triplet_margin_loss(a, pos, neg, reduction=reduction, **params))
    per = np_triplet(*(x.double().numpy() for x in (a, pos, neg)), **params)
    want = torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype)
    torch.testing.assert_close(got, want, **dtype_tol(dtype))


def test_triplet_reference_data_has_easy_and_hard_triplets():
    per = np_triplet(*(x.numpy() for x in embeddings(3)))
    assert (per == 0).any() and (per > 0.1).any()  # both pieces of max(0, .) are exercised


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("as_bool", [True, False], ids=["bool", "float"])
@pytest.mark.parametrize("params", REFERENCE["contrastive"], ids=params_id)
def test_contrastive_matches_formula(params, as_bool, dtype):
    x1, x2 = embeddings(2, scale=0.3, dtype=dtype)  # distances around 1: both sides of the margin
    s = torch.tensor(_SIMILAR, dtype=torch.bool if as_bool else dtype)
    per = np_contrastive(x1.double().numpy(), x2.double().numpy(), np.array(_SIMILAR, float), **params)
    for reduction in REDUCTIONS:
        got = contrastive(x1, x2, s, reduction=reduction, **params)
        assert got.dtype == dtype and got.shape == ((6,) if reduction == "none" else ())
        want = torch.as_tensor(NP_REDUCE[reduction](per), dtype=dtype)
        torch.testing.assert_close(got, want, **dtype_tol(dtype), msg=lambda m: f"{reduction}: {m}")


def test_contrastive_reference_data_spans_the_margin():
    x1, x2 = embeddings(2, scale=0.3)
    d = (x1 - x2).norm(dim=1)[torch.tensor(_SIMILAR) == 0]
    assert (d < 0.9).any() and (d > 1.1).any()


# ==========================================================================
# GRADCHECK: key -> parameter sets, checked in float64 against finite
# differences (and second derivatives), away from the kinks: d(a,p) - d(a,n) + m
# and m - d not near 0, no distance or (for p = 1) difference component near 0.

GRADCHECK = {
    "triplet": [{"p": 1.0}, {"p": 2.0}, {"p": 3.0}, {"p": 2.0, "swap": True}, {"margin": 0.3, "eps": 0.0}],
    "contrastive": [{}, {"margin": 2.0}],
}


def _signed(g, n, d, lo, hi):
    sign = torch.where(torch.rand(n, d, generator=g) < 0.5, -1.0, 1.0).double()
    return sign * (lo + (hi - lo) * torch.rand(n, d, generator=g, dtype=F64))


def triplet_gradcheck_data(params):
    """Rows 0-1 hard (a small negative offset), rows 2-3 easy (a large one)."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(4, 3, generator=g, dtype=F64)
    pos = a + _signed(g, 4, 3, 0.3, 0.6)
    neg = a + _signed(g, 4, 3, 0.1, 0.2) * torch.tensor([[1.0], [1.0], [8.0], [8.0]], dtype=F64)
    an, ap, pn = (u.numpy() for u in (a, pos, neg))
    eps, p, m = params.get("eps", 1e-6), params.get("p", 2.0), params.get("margin", 1.0)
    for u, v in ((an, ap), (an, pn), (ap, pn)):
        assert (np.abs(u - v + eps) > 0.05).all()
    d_an, d_pn = np_distance(an, pn, p, eps), np_distance(ap, pn, p, eps)
    assert not params.get("swap") or (np.abs(d_an - d_pn) > 0.05).all()
    assert (np.abs(np_distance(an, ap, p, eps) - np.minimum(d_an, d_pn) + m) > 0.05).all()
    return a, pos, neg


def contrastive_gradcheck_data(params):
    """Distances 0.4 m and 0.7 m (dissimilar: active), 1.6 m and 2.5 m (dissimilar: inactive)."""
    g = torch.Generator().manual_seed(4)
    x1, direction = torch.randn(2, 6, 3, generator=g, dtype=F64)
    r = params.get("margin", 1.0) * torch.tensor([0.5, 0.4, 1.6, 1.3, 0.7, 2.5], dtype=F64)
    x2 = x1 + direction / direction.norm(dim=1, keepdim=True) * r[:, None]
    return x1, x2, torch.tensor([1.0, 0, 0, 1, 0, 0], dtype=F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "key, params", [pytest.param(k, p, id=f"{k}-{params_id(p)}") for k in KEYS for p in GRADCHECK[k]]
)
def test_gradcheck(key, params, reduction):
    if key == "triplet":
        inputs = [x.requires_grad_(True) for x in triplet_gradcheck_data(params)]
        fn = lambda a, p, n: triplet(a, p, n, reduction=reduction, **params)  # noqa: E731
    else:
        x1, x2, s = contrastive_gradcheck_data(params)
        inputs = [x1.requires_grad_(True), x2.requires_grad_(True)]
        fn = lambda u, v: contrastive(u, v, s, reduction=reduction, **params)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs)
    if reduction == "none":  # the reductions are linear: one is enough for second derivatives
        assert torch.autograd.gradgradcheck(fn, inputs)


# ==========================================================================
# Hand-worked cases: 2-D points on a grid, eps = 0 so that distances are exact.


def _points(*rows):
    return torch.tensor(rows, dtype=F64)


def test_triplet_hand_worked():
    # anchor (0, 0), positive (3, 4): d(a, p) = sqrt(9 + 16) = 5; margin 1.
    a, pos = _points((0, 0), (0, 0), (0, 0)), _points((3, 4), (3, 4), (3, 4))
    neg = _points((6, 8), (0, 3), (0, 5.5))
    # easy (6, 8): d(a, n) = 10 >= 5 + 1 -> 0; hard (0, 3): d = 3 -> 5 - 3 + 1 = 3;
    # semi-hard (0, 5.5): farther than the positive, inside the margin -> 5 - 5.5 + 1 = 0.5
    got = triplet(a, pos, neg, eps=0.0, reduction="none")
    torch.testing.assert_close(got, _points(0, 3, 0.5), rtol=0, atol=1e-15)
    # with the default eps = 1e-6 the numbers move by at most sqrt(2) * 1e-6 per distance
    torch.testing.assert_close(triplet(a, pos, neg, reduction="none"), got, rtol=0, atol=3e-6)


def test_triplet_swap_hand_worked():
    # anchor (0, 0), positive (3, 4), negative (6, 4): d(a, n) = sqrt(52) = 7.21 > 5 + 1 -> 0,
    # but d(p, n) = 3; swap takes min(7.21, 3) = 3 -> 5 - 3 + 1 = 3
    a, pos, neg = _points((0, 0)), _points((3, 4)), _points((6, 4))
    assert triplet(a, pos, neg, eps=0.0).item() == 0.0
    assert triplet(a, pos, neg, eps=0.0, swap=True).item() == 3.0


def test_contrastive_hand_worked():
    # x1 (0, 0), x2 (3, 4): d = 5. Similar: d^2 = 25. Dissimilar: max(0, 1 - 5)^2 = 0 with
    # margin 1, (7 - 5)^2 = 4 with margin 7.
    x1, x2 = _points((0, 0), (0, 0)), _points((3, 4), (3, 4))
    s = torch.tensor([True, False])
    torch.testing.assert_close(contrastive(x1, x2, s, reduction="none"), _points(25, 0), rtol=0, atol=0)
    torch.testing.assert_close(contrastive(x1, x2, s, margin=7.0, reduction="none"), _points(25, 4), rtol=0, atol=0)


# ==========================================================================
# Properties (hypothesis). Coordinates are multiples of 2**-6 below 2**6, so
# differences, translations and squares are exact in float64.

_coord = st.integers(-(2**12), 2**12).map(lambda i: i / 2**6)


@st.composite
def rows(draw, count, n_min=1):
    """``count`` float64 tensors of one shape (N, D), N in [n_min, 6], D in [1, 4]."""
    n, d = draw(st.integers(n_min, 6)), draw(st.integers(1, 4))
    flat = st.lists(_coord, min_size=n * d, max_size=n * d)
    return [torch.tensor(draw(flat), dtype=F64).reshape(n, d) for _ in range(count)]


_triplet_params = st.fixed_dictionaries({
    "margin": st.floats(1e-3, 10), "p": st.sampled_from([1.0, 2.0, 3.0]), "swap": st.booleans()})
_similar = st.lists(st.booleans(), min_size=6, max_size=6)


def _similar_for(x, flags, dtype=F64):
    return torch.tensor(flags[: x.shape[0]], dtype=dtype)


@given(rows(3), _triplet_params, _similar, st.floats(0, 10))
def test_nonnegative(xs, params, flags, margin):
    a, pos, neg = xs
    assert (triplet(a, pos, neg, reduction="none", **params) >= 0).all()
    assert (contrastive(a, pos, _similar_for(a, flags), margin=margin, reduction="none") >= 0).all()


@given(rows(2), _coord.map(abs))
def test_contrastive_zero_cases(xs, margin):
    x, direction = xs
    n = x.shape[0]
    # a similar pair at distance 0
    assert (contrastive(x, x.clone(), torch.ones(n, dtype=F64), margin=margin, reduction="none") == 0).all()
    # a dissimilar pair at distance margin + |t| >= margin, along the first axis (exact: dyadic)
    far = x.clone()
    far[:, 0] += margin + direction[:, 0].abs()
    assert (contrastive(x, far, torch.zeros(n, dtype=F64), margin=margin, reduction="none") == 0).all()


@given(rows(3), _triplet_params, _similar)
def test_reductions_consistent(xs, params, flags):
    a, pos, neg = xs
    for fn in (lambda r: triplet(a, pos, neg, reduction=r, **params),
               lambda r: contrastive(a, pos, _similar_for(a, flags), reduction=r)):
        none = fn("none")
        torch.testing.assert_close(fn("sum"), none.sum())
        torch.testing.assert_close(fn("mean"), none.mean())


@given(rows(4), _triplet_params, _similar, st.sampled_from(REDUCTIONS))
def test_invariant_to_translation(xs, params, flags, reduction):
    a, pos, neg, shift = xs
    c = shift[:1]  # one vector added to every embedding
    torch.testing.assert_close(triplet(a + c, pos + c, neg + c, reduction=reduction, **params),
                               triplet(a, pos, neg, reduction=reduction, **params), rtol=1e-12, atol=1e-12)
    s = _similar_for(a, flags)
    torch.testing.assert_close(contrastive(a + c, pos + c, s, reduction=reduction),
                               contrastive(a, pos, s, reduction=reduction), rtol=1e-12, atol=1e-12)


# ==========================================================================
# Extreme inputs, identical embeddings, empty batches


def _value_and_grads(fn, *inputs):
    inputs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*inputs)
    return out, torch.autograd.grad(out.sum(), inputs)


def test_large_embeddings_float32():
    a, pos, neg = (torch.tensor([v]) for v in ([1e4, 0.0], [-1e4, 0.0], [0.0, 1e4]))
    # d(a, p) = 2e4, d(a, n) = 1e4 sqrt(2) -> 2e4 - 14142.1356 + 1 = 5858.8644
    out, grads = _value_and_grads(lambda *x: triplet(*x, reduction="none"), a, pos, neg)
    torch.testing.assert_close(out, torch.tensor([2e4 - 1e4 * 2**0.5 + 1]))
    assert all(torch.isfinite(g).all() for g in grads)
    # similar: d^2 = 4e8; dissimilar: max(0, 1 - 2e4)^2 = 0
    out, grads = _value_and_grads(lambda u, v: contrastive(u, v, torch.tensor([True, False]), reduction="none"),
                                  torch.cat([a, a]), torch.cat([pos, pos]))
    torch.testing.assert_close(out, torch.tensor([4e8, 0.0]))
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("eps", [1e-6, 0.0])
def test_triplet_identical_anchor_and_positive(eps):
    a = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], dtype=F64)
    neg = torch.tensor([[1.0, 2.0, 3.5], [4.5, 0.5, 0.5]], dtype=F64)
    out, grads = _value_and_grads(lambda *x: triplet(*x, eps=eps, reduction="none"), a, a, neg)
    # d(a, p) = ||eps (1, 1, 1)|| = sqrt(3) eps; d(a, n) = ||(0, 0, -0.5) + eps||, ||(-4, 0, 0) + eps||
    d_an = np_distance(a.numpy(), neg.numpy(), eps=eps)
    want = np.maximum(0, 3**0.5 * eps - d_an + 1)  # ~0.5 and 0
    torch.testing.assert_close(out, torch.from_numpy(want))
    assert all(torch.isfinite(g).all() for g in grads)


def test_contrastive_identical_embeddings():
    x = torch.tensor([[1.0, -2.0], [3.0, 0.25]], dtype=F64)
    out, grads = _value_and_grads(lambda u, v: contrastive(u, v, torch.tensor([True, False]), reduction="none"), x, x)
    # d = 0: similar -> 0; dissimilar -> max(0, 1 - 0)^2 = 1; the subgradient of d at 0 is 0
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0], dtype=F64), rtol=0, atol=0)
    assert all((g == 0).all() for g in grads)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key, reduction):
    a, pos, neg = (torch.zeros(0, 3, requires_grad=True) for _ in range(3))
    if key == "triplet":
        out = triplet(a, pos, neg, reduction=reduction)
    else:
        out = contrastive(a, pos, torch.zeros(0, dtype=torch.bool), reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0  # PyTorch's mean of nothing would be NaN
    out.backward()
    assert a.grad is not None and a.grad.shape == (0, 3)


# ==========================================================================
# BAD_INPUT: key -> cases (id, args, kwargs, error, message pattern); a ValueCase is a
# value-range check, which lossbook.value_checks(False) skips (see bad_input.py).

_E = torch.zeros(4, 3)
_TRIPLE, _PAIR = (_E, _E, _E), (_E, _E, torch.tensor([0.0, 1.0, 1.0, 0.0]))
_LABEL = r"^similar must hold 0 or 1, got values such as "


def _similar_cases():
    shape, dtype = r"^similar must have shape \(4,\), one per pair, got ", r"^similar must be bool or torch\.float32"
    return [
        ("similar-list", (_E, _E, [0.0, 1.0, 1.0, 0.0]), {}, TypeError, r"^similar must be a torch\.Tensor, got list$"),
        ("similar-f64", (_E, _E, torch.zeros(4, dtype=F64)), {}, TypeError, dtype + r" like x1, got torch\.float64$"),
        ("similar-int64", (_E, _E, torch.zeros(4, dtype=torch.int64)), {}, TypeError,
         dtype + r" like x1, got torch\.int64$"),
        # the meta device stands in for a GPU: similar there is on another device than the embeddings
        ("similar-device", (_E, _E, torch.zeros(4, device="meta")), {}, ValueError,
         r"^similar must be on the same device as x1 \(cpu\), got meta$"),
        ("similar-N1", (_E, _E, torch.zeros(4, 1)), {}, ValueError, shape + r"\(4, 1\)$"),
        ("similar-N+1", (_E, _E, torch.zeros(5)), {}, ValueError, shape + r"\(5,\)$"),
        ("similar-ND", (_E, _E, torch.zeros(4, 3)), {}, ValueError, shape + r"\(4, 3\)$"),
    ] + [
        ValueCase(f"similar={v}", (_E, _E, torch.tensor([0.0, v, 1.0, v])), {}, ValueError, _LABEL + rf"\[{shown}\]$")
        for v, shown in ((0.5, r"0\.5, 0\.5"), (2.0, r"2\.0, 2\.0"), (-1.0, r"-1\.0, -1\.0"), (np.nan, "nan, nan"))
    ]


BAD_INPUT = {
    "triplet": embedding_cases(("anchor", "positive", "negative"))
    + number_cases("margin", positive=True, args=_TRIPLE)  # PyTorch refuses 0
    + number_cases("p", positive=True, args=_TRIPLE)
    + number_cases("eps", positive=False, args=_TRIPLE)
    + [(f"swap={v!r}", _TRIPLE, {"swap": v}, TypeError, rf"^swap must be a bool, got {type(v).__name__}$")
       for v in (1, 0, "True", None, np.bool_(True))],
    "contrastive": embedding_cases(("x1", "x2"), tail=_PAIR[2:])
    + number_cases("margin", positive=False, args=_PAIR) + _similar_cases(),
}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)


def test_bool_similar_passes_the_value_check_and_equals_float():
    x1, x2 = embeddings(2, scale=0.3)
    s = torch.tensor(_SIMILAR)
    torch.testing.assert_close(contrastive(x1, x2, s.bool()), contrastive(x1, x2, s.double()), rtol=0, atol=0)


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    args = _TRIPLE if key == "triplet" else _PAIR
    with pytest.raises(TypeError, match="takes 3 positional arguments but 4 were given"):
        LOSSES[key](*args, 1.0)
