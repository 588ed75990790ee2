"""lossbook.boxes (iou_loss, giou_loss, diou_loss, ciou_loss) against float64
references written from torchvision's definitions, gradients, hand-worked cases,
properties, degenerate, extreme and bad inputs.

torchvision is not a dependency: its box losses are re-implemented below, in
float64, from their definitions (strict intersection mask, eps = 1e-7).
The tables REFERENCE, GRADCHECK and BAD_INPUT drive the parametrized tests;
tests/test_catalog.py reads them to check that every box loss in the catalog is
covered.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from bad_input import (
    bad_input_tests,
    box_shape_cases, box_value_cases, number_cases, pair_cases,
)
import lossbook
from common import F32, F64, REDUCTIONS
from lossbook import boxes
from lossbook.boxes import ciou_loss, diou_loss, iou_loss

KEYS = list(boxes.__all__)
LOSSES = {k: getattr(boxes, k) for k in KEYS}
EPS = 1e-7

# ==========================================================================
# REFERENCE: torchvision's box losses, from their definitions, per box.


def _area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _inter_union(b1, b2):
    """Intersection and union of paired boxes; the intersection is written only where the overlap
    has a positive width and height (a boolean mask, as torchvision does), and is 0 elsewhere."""
    sides = torch.minimum(b1[:, 2:], b2[:, 2:]) - torch.maximum(b1[:, :2], b2[:, :2])  # width, height
    overlap = (sides > 0).all(dim=-1)
    inter = torch.zeros_like(b1[:, 0])
    inter[overlap] = sides[overlap].prod(dim=-1)
    return inter, _area(b1) + _area(b2) - inter


def _enclosing(b1, b2):
    return torch.min(b1[:, 0], b2[:, 0]), torch.min(b1[:, 1], b2[:, 1]), \
        torch.max(b1[:, 2], b2[:, 2]), torch.max(b1[:, 3], b2[:, 3])


def ref_iou(b1, b2, eps=EPS):
    inter, union = _inter_union(b1, b2)
    return inter / (union + eps)


def ref_giou_loss(b1, b2, eps=EPS):
    inter, union = _inter_union(b1, b2)
    c1, d1, c2, d2 = _enclosing(b1, b2)
    area_c = (c2 - c1) * (d2 - d1)
    return 1 - (inter / (union + eps) - (area_c - union) / (area_c + eps))


def ref_diou_loss(b1, b2, eps=EPS):
    c1, d1, c2, d2 = _enclosing(b1, b2)
    diag_c2 = (c2 - c1) ** 2 + (d2 - d1) ** 2 + eps
    centre_dist2 = (((b1[:, :2] + b1[:, 2:]) / 2 - (b2[:, :2] + b2[:, 2:]) / 2) ** 2).sum(-1)
    return 1 - ref_iou(b1, b2, eps) + centre_dist2 / diag_c2


def _v(b1, b2):
    w, h, w_gt, h_gt = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1], b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    return 4 / math.pi**2 * (torch.atan(w_gt / h_gt) - torch.atan(w / h)) ** 2


def _alpha(b1, b2, eps=EPS):
    with torch.no_grad():
        v = _v(b1, b2)
        return v / (1 - ref_iou(b1, b2, eps) + v + eps)


def ref_ciou_loss(b1, b2, eps=EPS):
    return ref_diou_loss(b1, b2, eps) + _alpha(b1, b2, eps) * _v(b1, b2)


REFERENCE = {
    "iou_loss": lambda b1, b2, eps=EPS: 1 - ref_iou(b1, b2, eps),
    "giou_loss": ref_giou_loss, "diou_loss": ref_diou_loss, "ciou_loss": ref_ciou_loss,
}


def box_pairs(n=8, *, seed=0):
    """float64 ``(pred, target)``: the first half overlapping (target = pred jittered),
    the second half drawn independently (mostly disjoint); all boxes 0.5 to 5 wide."""
    g = torch.Generator().manual_seed(seed)

    def draw(centre, size):
        return torch.cat([centre - size / 2, centre + size / 2], 1)

    centre, size = 10 * torch.rand(n, 2, generator=g, dtype=F64), 0.5 + 4.5 * torch.rand(n, 2, generator=g, dtype=F64)
    pred = draw(centre, size)
    jitter = size * (torch.rand(n, 2, generator=g, dtype=F64) - 0.5) * 0.6
    other = 10 * torch.rand(n, 2, generator=g, dtype=F64)
    target = draw(torch.where(torch.arange(n)[:, None] < n // 2, centre + jitter, other),
                  size * (0.6 + 0.8 * torch.rand(n, 2, generator=g, dtype=F64)))
    return pred, target


def test_box_pairs_overlap_and_miss():
    iou = ref_iou(*box_pairs())
    assert (iou > 0.1).sum() >= 4 and (iou == 0).sum() >= 2


def _grads(fn, *inputs, reduction="sum", **kw):
    inputs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*inputs, reduction=reduction, **kw) if reduction else fn(*inputs, **kw)
    return out, torch.autograd.grad(out.sum(), inputs)


@pytest.mark.parametrize("eps", [None, 0.0, 0.5])
@pytest.mark.parametrize("dtype", [pytest.param(F32, id="f32"), pytest.param(F64, id="f64")])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key", KEYS)
def test_matches_reference(key, reduction, dtype, eps):
    pred, target = box_pairs()
    kw = {} if eps is None else {"eps": eps}
    got, got_grads = _grads(LOSSES[key], pred.to(dtype), target.to(dtype), reduction=reduction, **kw)
    assert got.dtype == dtype and got.shape == ((8,) if reduction == "none" else ())
    per, ref_grads = _grads(REFERENCE[key], pred, target, reduction=None, **kw)
    want = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == F32 else dict(rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got.detach(), want.detach().to(dtype), **tol)
    scale = 1 / 8 if reduction == "mean" else 1.0  # the gradient of out.sum(), per box
    for g, r in zip(got_grads, ref_grads):
        torch.testing.assert_close(g, (scale * r).to(dtype), **tol)


# ==========================================================================
# Hand-worked cases: (pred, target) -> (IoU loss, GIoU, DIoU, CIoU loss), derived in
# the comments; eps moves each by less than 1e-7.

_V = 4 / math.pi**2 * (math.pi / 4 - math.atan(2)) ** 2  # aspect term of a 2x1 box against a 1x1 box
HAND = {
    # inside: inter 1, union 4, IoU 1/4; C = target, |C| - union = 0; centres (.5,.5), (1,1):
    # rho^2 = 1/2, c^2 = 2^2 + 2^2 = 8 -> 1/16; both square -> v = 0
    "inside": ([0, 0, 1, 1], [0, 0, 2, 2], (3 / 4, 3 / 4, 3 / 4 + 1 / 16, 3 / 4 + 1 / 16)),
    # disjoint: IoU 0; C = [0,0,3,1], area 3, union 2 -> 1 + 1/3; rho^2 = 2^2 = 4, c^2 = 9 + 1
    "disjoint": ([0, 0, 1, 1], [2, 0, 3, 1], (1, 4 / 3, 1 + 4 / 10, 1 + 4 / 10)),
    # touching along x = 1: IoU 0; C = [0,0,2,1] = union -> 1; rho^2 = 1, c^2 = 4 + 1
    "touching": ([0, 0, 1, 1], [1, 0, 2, 1], (1, 1, 1 + 1 / 5, 1 + 1 / 5)),
    # touching at a corner: IoU 0; |C| = 4, union 2 -> 1 + 2/4; rho^2 = 2, c^2 = 8
    "corner": ([0, 0, 1, 1], [1, 1, 2, 2], (1, 3 / 2, 5 / 4, 5 / 4)),
    # partial: inter 1, union 4 + 4 - 1 = 7; |C| = 9 -> 1 - 1/7 + 2/9 = 68/63; rho^2 = 2, c^2 = 18
    "partial": ([0, 0, 2, 2], [1, 1, 3, 3], (6 / 7, 68 / 63, 6 / 7 + 1 / 9, 6 / 7 + 1 / 9)),
    # 2x1 over 1x1: inter 1, union 2, IoU 1/2; C = pred = union; rho^2 = 1/4, c^2 = 5 -> 1/20;
    # v = 4/pi^2 (atan 1 - atan 2)^2, alpha = v / (1 - 1/2 + v)
    "aspect": ([0, 0, 2, 1], [0, 0, 1, 1], (1 / 2, 1 / 2, 0.55, 0.55 + _V**2 / (0.5 + _V))),
    # a point at the target's centre: inter 0, union 4 = |C|; rho = 0; a point counts as a square
    "point-inside": ([1, 1, 1, 1], [0, 0, 2, 2], (1, 1, 1, 1)),
    # zero height: union 1, C = [0,0,2,1] -> 1 + 1/2; centres (1,0), (.5,.5): rho^2 = 1/2,
    # c^2 = 5; atan2(2, 0) = pi/2 vs pi/4 -> v = 4/pi^2 (pi/4)^2 = 1/4, alpha = 1/4 / (5/4) = 1/5
    "flat": ([0, 0, 2, 0], [0, 0, 1, 1], (1, 3 / 2, 1.1, 1.1 + 1 / 20)),
}


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", HAND)
def test_hand_worked(case, dtype):
    pred, target, want = HAND[case]
    pred, target = torch.tensor([pred], dtype=dtype), torch.tensor([target], dtype=dtype)
    got = [LOSSES[k](pred, target).item() for k in KEYS]
    assert got == pytest.approx(want, abs=1e-6 if dtype == F32 else 2e-7)


@pytest.mark.parametrize("key", KEYS)
def test_identical_boxes(key):
    b = torch.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0], [-5.0, 2.0, 5.0, 2.5]], dtype=F64)
    out, grads = _grads(LOSSES[key], b, b, reduction="none")
    # inter = union = A: every term but 1 - A/(A + eps) = eps/(A + eps) vanishes (C = union, rho = 0, v = 0)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    torch.testing.assert_close(out, EPS / (area + EPS), rtol=1e-6, atol=0)
    assert all(torch.isfinite(g).all() and g.abs().max() < 1e-6 for g in grads)


def test_iou_loss_of_disjoint_boxes_is_one_with_no_gradient():
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 7.0]], dtype=F64)
    target = torch.tensor([[2.0, 0.0, 3.0, 1.0], [0.0, 0.0, 1.0, 1.0]], dtype=F64)
    out, (gp, gt) = _grads(iou_loss, pred, target, reduction="none")
    assert out.tolist() == [1.0, 1.0] and (gp == 0).all() and (gt == 0).all()
    for key in ("giou_loss", "diou_loss", "ciou_loss"):  # these still say which way to move
        _, (gp, _) = _grads(LOSSES[key], pred, target, reduction="none")
        assert (gp.abs().sum(1) > 1e-3).all()


# ==========================================================================
# GRADCHECK: key -> cases, in float64 against finite differences, with no
# coordinate of pred within 0.05 of a coordinate of target on the same axis
# (away from the min/max switches). CIoU's alpha carries no gradient, so its
# check freezes alpha at the point where the gradient is taken.

GRADCHECK = {k: ["overlapping", "disjoint"] for k in KEYS}


def gradcheck_boxes(case):
    pred = torch.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 2.0, 4.0, 5.5], [-3.0, 1.0, -1.0, 4.0]], dtype=F64)
    shift = {"overlapping": [[0.3, 0.4, 0.8, 0.2], [-0.6, 0.9, 0.5, -1.3], [0.7, -0.4, -0.2, 0.55]],
             "disjoint": [[3.1, 0.2, 3.6, 0.3], [-5.3, 0.4, -4.9, 0.7], [1.0, 3.5, 1.3, 4.2]]}[case]
    target = pred + torch.tensor(shift, dtype=F64)
    for i in (0, 2):
        for j in (0, 2):  # x against x, y against y, every corner
            for axis in (0, 1):
                assert ((pred[:, i + axis] - target[:, j + axis]).abs() > 0.05).all()
    iou = ref_iou(pred, target)
    assert (iou > 0.1).all() if case == "overlapping" else (iou == 0).all()
    return pred, target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key, case", [(k, c) for k in KEYS for c in GRADCHECK[k]])
def test_gradcheck(key, case, reduction):
    pred, target = gradcheck_boxes(case)
    fn = lambda p, t: LOSSES[key](p, t, reduction=reduction)  # noqa: E731
    if key == "ciou_loss":
        alpha0 = _alpha(pred, target)

        def fn(p, t):  # + (alpha0 - alpha) v, constant: the finite differences see alpha0 v
            with torch.no_grad():
                fix = (alpha0 - _alpha(p, t)) * _v(p, t)
            loss = ciou_loss(p, t, reduction="none") + fix
            return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
    assert torch.autograd.gradcheck(fn, (pred.requires_grad_(True), target.requires_grad_(True)))


# ==========================================================================
# Properties (hypothesis). Corners are multiples of 1/4 below 64: areas, unions
# and enclosing boxes are exact in float64.

_q = st.integers(0, 256).map(lambda i: i / 4)


@st.composite
def boxes_(draw, n_max=5, min_size=0):
    """``(pred, target)`` float64 boxes, 1 to n_max of each; sizes may be 0 unless ``min_size``."""
    n = draw(st.integers(1, n_max))
    corner = draw(st.lists(st.lists(_q, min_size=2, max_size=2), min_size=2 * n, max_size=2 * n))
    size = draw(st.lists(st.lists(st.integers(min_size, 64), min_size=2, max_size=2), min_size=2 * n, max_size=2 * n))
    c, wh = torch.tensor(corner, dtype=F64), torch.tensor(size, dtype=F64) / 4
    b = torch.cat([c, c + wh], 1)
    return b[:n], b[n:]


# key -> exclusive upper bound: IoU loss <= 1; GIoU adds (|C| - U)/|C| < 1; DIoU adds
# rho^2 / (c^2 + eps) < 1 (both centres lie in C); CIoU adds alpha v <= v <= 4/pi^2 (pi/2)^2 = 1
BOUND = {"iou_loss": 1 + 1e-12, "giou_loss": 2, "diou_loss": 2, "ciou_loss": 3}


@given(b=boxes_())
def test_bounds_and_symmetry(b):
    pred, target = b
    for key in KEYS:
        out = LOSSES[key](pred, target, reduction="none")
        assert (out >= 0).all() and (out < BOUND[key]).all(), key
        # symmetric in (pred, target); for CIoU in value only (alpha is detached)
        torch.testing.assert_close(LOSSES[key](target, pred, reduction="none"), out, rtol=0, atol=1e-12)


@given(b=boxes_(min_size=2), k=st.sampled_from([2.0**-3, 2.0**7]))
def test_scale_invariant(b, k):
    pred, target = b
    for key in KEYS:
        # with eps = 0 every term is a ratio of areas or of squared lengths: exact for k = 2^j
        torch.testing.assert_close(LOSSES[key](k * pred, k * target, eps=0.0, reduction="none"),
                                   LOSSES[key](pred, target, eps=0.0, reduction="none"), rtol=0, atol=1e-12)
        # with eps = 1e-7 and areas >= 1/4 (k >= 1/8: >= 1/256), eps moves a loss by < 1e-7 * 256 * 2
        torch.testing.assert_close(LOSSES[key](k * pred, k * target, reduction="none"),
                                   LOSSES[key](pred, target, reduction="none"), rtol=0, atol=6e-5)


def test_ciou_perfect_box_with_eps_zero():
    # v = 0 and IoU = 1: alpha = 0 / (1 - 1 + 0 + 0) would be 0/0; with v = 0 the term is 0
    b = torch.tensor([[0.0, 0.0, 2.0, 1.0]], dtype=F64)
    out, grads = _grads(ciou_loss, b, b, eps=0.0)
    assert out.item() == 0.0 and all(torch.isfinite(g).all() for g in grads)


@given(b=boxes_(min_size=1), k=st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]))
def test_ciou_equals_diou_for_equal_aspect_ratios(b, k):
    pred, target = b
    pred = pred.clone()  # pred gets target's shape, scaled by k: w/h equal, v = 0
    pred[:, 2:] = pred[:, :2] + k * (target[:, 2:] - target[:, :2])
    c, (cp, ct) = _grads(ciou_loss, pred, target, reduction="none")
    d, (dp, dt) = _grads(diou_loss, pred, target, reduction="none")
    torch.testing.assert_close(c, d, rtol=0, atol=1e-15)
    torch.testing.assert_close(cp, dp, rtol=0, atol=1e-15)
    torch.testing.assert_close(ct, dt, rtol=0, atol=1e-15)


# ==========================================================================
# Degenerate boxes, extreme inputs, empty batches

DEGENERATE = {  # (pred, target), each with a zero width and/or height
    "zero-width": ([1, 0, 1, 2], [0, 0, 2, 2]), "zero-height": ([0, 0, 2, 0], [0, 0, 1, 1]),
    "point": ([1, 1, 1, 1], [0, 0, 2, 2]), "both-points": ([0, 0, 0, 0], [3, 1, 3, 1]),
    "same-point": ([2, 2, 2, 2], [2, 2, 2, 2]), "flat-target": ([0, 0, 1, 1], [0, 3, 4, 3]),
    "same-line": ([0, 0, 0, 0], [1, 0, 1, 0]), "lines": ([0, 0, 2, 0], [1, -1, 1, 1]),
}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
def test_degenerate_boxes_are_finite(key, dtype):
    pred = torch.tensor([p for p, _ in DEGENERATE.values()], dtype=dtype)
    target = torch.tensor([t for _, t in DEGENERATE.values()], dtype=dtype)
    out, grads = _grads(LOSSES[key], pred, target, reduction="none")
    assert torch.isfinite(out).all() and (out >= 0).all()
    assert all(torch.isfinite(g).all() for g in grads)
    # a point has no area: IoU 0 even against itself, loss 1 (no C, no rho, no v)
    assert out[list(DEGENERATE).index("same-point")].item() == 1.0


def test_ciou_zero_height_where_torchvision_gives_nan():
    pred, target = torch.tensor([[0.0, 0.0, 2.0, 0.0]], dtype=F64), torch.tensor([[0.0, 0.0, 1.0, 1.0]], dtype=F64)
    ours, (g,) = _grads(lambda p, **kw: ciou_loss(p, target, **kw), pred)
    ref, (g_ref,) = _grads(lambda p: ref_ciou_loss(p, target), pred, reduction=None)
    torch.testing.assert_close(ours, ref.sum())  # atan(2/0) = atan(inf) = pi/2 = atan2(2, 0): same value
    assert torch.isnan(g_ref).any()  # d(w/h)/dh = -inf times atan' = 0
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("key", KEYS)
def test_large_coordinates_float32(key):
    pred, target = box_pairs()
    got, grads = _grads(LOSSES[key], 1e4 * pred.float(), 1e4 * target.float(), reduction="none")
    assert all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(got, REFERENCE[key](pred, target).float(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
@pytest.mark.parametrize("key", KEYS)
def test_half_precision_boxes_give_float32_as_in_torchvision(key, half):
    # torchvision upcasts float16 boxes (_upcast_non_float) and returns float32; so does lossbook
    pred, target = (b.to(half) for b in box_pairs())
    got, (g_pred, g_target) = _grads(LOSSES[key], pred, target, reduction="none")
    want, want_grads = _grads(LOSSES[key], pred.float(), target.float(), reduction="none")
    assert got.dtype == F32 and g_pred.dtype == g_target.dtype == half
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close((g_pred, g_target), tuple(g.to(half) for g in want_grads), rtol=0, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key, reduction):
    pred, target = torch.zeros(0, 4, requires_grad=True), torch.zeros(0, 4)
    out = LOSSES[key](pred, target, reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0
    out.backward()
    assert pred.grad is not None and pred.grad.shape == (0, 4)


# ==========================================================================
# BAD_INPUT: key -> cases (id, args, kwargs, error, message pattern); a ValueCase is a
# value-range check, which lossbook.value_checks(False) skips (see bad_input.py).

_B = torch.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0]])
_CASES = pair_cases() + box_shape_cases() + number_cases("eps", positive=False, args=(_B, _B)) + box_value_cases()
BAD_INPUT = {k: _CASES for k in KEYS}


test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT, finite=True)


@pytest.mark.parametrize("value, shown", [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")],
                         ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name, position", [("pred", 0), ("target", 1)], ids=["pred", "target"])
@pytest.mark.parametrize("key", KEYS)
def test_nonfinite_boxes_are_rejected(key, name, position, value, shown):
    # x2 of the second box [1, 1, 3, 4]; NaN and +inf pass the order test x2 >= x1
    args = [_B.clone(), _B.clone()]
    args[position][1, 2] = value
    message = rf"^{name} boxes must have finite coordinates, got a box \[1\.0, 1\.0, {shown}, 4\.0\]$"
    with pytest.raises(ValueError, match=message):
        LOSSES[key](*args)
    if value != value:  # NaN: with the value checks off nothing stops it reaching the loss
        with lossbook.value_checks(False):
            assert torch.isnan(LOSSES[key](*args, reduction="none")[1])


@pytest.mark.parametrize("key", KEYS)
def test_options_are_keyword_only(key):
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        LOSSES[key](_B, _B, 1e-7)
