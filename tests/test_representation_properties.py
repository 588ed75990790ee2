"""lossbook.representation: hand-worked cases, limits, the papers' public code, extreme inputs,
empty batches and the ArcFace/CosFace modules."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
import torch.nn.functional as F

import lossbook
from common import F64
from lossbook import representation as R
from test_representation import KEYS, LOSSES, data

E1, E2 = [1.0, 0.0], [0.0, 1.0]


def rows(*r, dtype=F64):
    return torch.tensor(r, dtype=dtype)


# ==========================================================================
# Hand-worked cases


def test_info_nce_two_orthogonal_pairs_at_temperature_one():
    # q = k = (e1, e2): query 1 scores its key at cos 1 and the other key at cos 0, so
    # loss = -log(e^1 / (e^1 + e^0)) = log(1 + 1/e) = 0.31326..., the same for both queries
    q = rows(E1, E2)
    want = math.log(1 + math.exp(-1))
    torch.testing.assert_close(R.info_nce(q, q, temperature=1.0, reduction="none"), rows(want, want))


def test_info_nce_with_a_negative_by_hand():
    # one query e1, its key (1, 1)/sqrt 2 (cos 1/sqrt 2), one extra negative e1 itself (cos 1), tau = 0.5:
    # -log(e^{sqrt 2} / (e^{sqrt 2} + e^2)) = log(1 + e^{2 - sqrt 2})
    got = R.info_nce(rows(E1), rows([1.0, 1.0]), temperature=0.5, negatives=rows(E1))
    assert got.item() == pytest.approx(math.log(1 + math.exp(2 - math.sqrt(2))), rel=1e-12)


def test_siglip_by_hand():
    # e1, e2 against themselves, t = 1, b = 0: matching pairs -log sigmoid(1), the others -log sigmoid(-0) = log 2
    x = rows(E1, E2)
    want = math.log(1 + math.exp(-1)) + math.log(2)
    torch.testing.assert_close(R.siglip_loss(x, x, logit_scale=1.0, logit_bias=0.0, reduction="none"),
                               rows(want, want))


def test_cosface_and_arcface_by_hand():
    # embedding (1, 1) at 45 degrees from both centres e1 and e2, class 0, s = 1.
    # CosFace m = 0.2: target cos(pi/4) - 0.2, other cos(pi/4): log(1 + e^{0.2}).
    # ArcFace m = pi/4: target cos(pi/2) = 0, other cos(pi/4): log(1 + e^{cos(pi/4)}).
    w, e, y = rows(E1, E2), rows([1.0, 1.0]), torch.tensor([0])
    assert R.cosface(e, w, y, scale=1.0, margin=0.2).item() == pytest.approx(math.log(1 + math.exp(0.2)))
    got = R.arcface(e, w, y, scale=1.0, margin=math.pi / 4).item()
    assert got == pytest.approx(math.log(1 + math.exp(math.cos(math.pi / 4))), rel=1e-12)


def test_arcface_fallback_by_hand():
    # embedding (-1, 0.1) is at theta = pi - atan(0.1) from centre e1; with m = 0.5 theta + m > pi, so the
    # target is cos(theta) - m sin(m) (the paper's code), not cos(theta + m) (which would be larger)
    w, e, y = rows(E1, E2), rows([-1.0, 0.1]), torch.tensor([0])
    c, m = -1 / math.sqrt(1.01), 0.5
    target, other = c - m * math.sin(m), 0.1 / math.sqrt(1.01)
    want = math.log(math.exp(target) + math.exp(other)) - target
    assert R.arcface(e, w, y, scale=1.0, margin=m).item() == pytest.approx(want, rel=1e-12)
    assert math.cos(math.acos(c) + m) > target


# ==========================================================================
# Limits and identities


def test_info_nce_with_one_key_and_no_negatives_is_zero():
    x, y, *_ = data(0, n=1)
    assert R.info_nce(x, y).item() == 0.0
    assert R.info_nce(x, y, temperature=1e-4).item() == 0.0


def test_info_nce_at_a_high_temperature_is_log_n():
    x, y, *_ = data(0)
    assert R.info_nce(x, y, temperature=1e6).item() == pytest.approx(math.log(6), abs=1e-5)


@pytest.mark.parametrize("key", ["clip_loss", "siglip_loss"])
def test_image_text_losses_are_symmetric(key):
    x, y, *_ = data(1)
    torch.testing.assert_close(LOSSES[key](x, y), LOSSES[key](y, x), rtol=1e-12, atol=1e-12)


def test_clip_is_the_mean_of_info_nce_both_ways():
    x, y, *_ = data(2)
    both = (R.info_nce(x, y, temperature=0.1) + R.info_nce(y, x, temperature=0.1)) / 2
    torch.testing.assert_close(R.clip_loss(x, y, logit_scale=10.0), both, rtol=1e-12, atol=1e-12)


def test_nt_xent_is_info_nce_over_the_2n_views():
    # each view a: its partner is the key, the 2N - 2 other views are extra negatives
    x, y, *_ = data(3)
    z = torch.cat([x, y])
    n2 = len(z)
    per = [R.info_nce(z[a:a + 1], z[(a + n2 // 2) % n2:][:1], temperature=0.3,
                      negatives=z[[b for b in range(n2) if b not in (a, (a + n2 // 2) % n2)]]) for a in range(n2)]
    torch.testing.assert_close(R.nt_xent(x, y, temperature=0.3, reduction="none"), torch.stack(per))


@pytest.mark.parametrize("key", ["arcface", "cosface"])
def test_margin_zero_is_cross_entropy_of_scaled_cosines(key):
    x, _, _, w, classes = data(4)
    cos = F.normalize(x) @ F.normalize(w).T
    want = F.cross_entropy(30.0 * cos, classes)
    torch.testing.assert_close(LOSSES[key](x, w, classes, scale=30.0, margin=0.0), want, rtol=1e-12, atol=1e-12)


def test_supcon_with_one_positive_per_anchor_is_nt_xent():
    # two views of N samples, labelled by sample: each anchor's only positive is its partner
    x, y, *_ = data(5)
    labels = torch.arange(N := len(x)).repeat(2)
    torch.testing.assert_close(R.supcon(torch.cat([x, y]), labels, temperature=0.5), R.nt_xent(x, y, temperature=0.5))


def test_siglip_can_be_computed_in_chunks():
    # no softmax: the sum over pairs splits into independent blocks of rows and columns
    x, y, *_ = data(6)
    whole = R.siglip_loss(x, y, reduction="sum")
    scale, bias = 10.0, -10.0
    blocks = 0.0
    xs, ys = F.normalize(x), F.normalize(y)
    for i in range(0, 6, 2):
        for j in range(0, 6, 3):
            logits = scale * xs[i:i + 2] @ ys[j:j + 3].T + bias
            labels = torch.where(torch.arange(i, i + 2)[:, None] == torch.arange(j, j + 3)[None, :], 1.0, -1.0)
            blocks = blocks + (-F.logsigmoid(labels * logits)).sum()
    torch.testing.assert_close(whole, blocks)


def test_losses_ignore_the_length_of_the_embeddings():
    x, y, groups, w, classes = data(7)
    s = torch.linspace(0.1, 10, 6, dtype=F64)[:, None]
    pairs = {"info_nce", "nt_xent", "clip_loss", "siglip_loss"}
    for key in KEYS:
        if key in pairs:
            a, b = LOSSES[key](x, y), LOSSES[key](s * x, 3 * y)
        elif key == "supcon":
            a, b = R.supcon(x, groups), R.supcon(s * x, groups)
        else:
            a, b = LOSSES[key](x, w, classes), LOSSES[key](s * x, 5 * w, classes)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=key)


# ==========================================================================
# The papers' public code


def supcontrast_official(features, labels, temperature=0.07, base_temperature=0.07):
    """SupContrast's SupConLoss (github.com/HobbitLong/SupContrast, losses.py), contrast_mode='all', one view:
    it multiplies by temperature / base_temperature and counts anchors without a positive as 0 in the mean."""
    z = F.normalize(features)
    mask = (labels[:, None] == labels[None, :]).to(z.dtype)
    logits = z @ z.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    logits_mask = 1 - torch.eye(len(z), dtype=z.dtype)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    pairs = mask.sum(1)
    pairs = torch.where(pairs < 1e-6, 1, pairs)
    return (-(temperature / base_temperature) * (mask * log_prob).sum(1) / pairs).mean()


def test_supcon_against_the_official_code():
    x, *_ = data(8, n=8)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])  # anchor 5 has no positive
    per = R.supcon(x, labels, temperature=0.2, reduction="none")
    assert per[5] == 0
    official = supcontrast_official(x, labels, temperature=0.2)
    torch.testing.assert_close(official, (0.2 / 0.07) * per.sum() / 8)  # the factor, and 8 anchors, not 7
    torch.testing.assert_close(R.supcon(x, labels, temperature=0.2), per.sum() / 7)


def test_siglip_against_big_vision():
    # big_vision (proj/image_text/siglip): logits = z_img @ z_txt.T * t + b; labels = 2 * eye - 1;
    # loss = -sum(log_sigmoid(labels * logits)) / n. lossbook's "mean" is that; "sum" is n times it.
    x, y, *_ = data(9)
    logits = F.normalize(x) @ F.normalize(y).T * 10.0 - 10.0
    labels = 2 * torch.eye(6, dtype=F64) - 1
    official = -F.logsigmoid(labels * logits).sum() / 6
    torch.testing.assert_close(R.siglip_loss(x, y), official)
    torch.testing.assert_close(R.siglip_loss(x, y, reduction="sum"), 6 * official)


def test_arcface_against_insightface():
    # insightface (recognition/arcface_torch/losses.py, ArcFace with easy_margin=False): phi = cos cos_m - sin sin_m,
    # where(cos > th, phi, cos - mm) with th = cos(pi - m), mm = sin(pi - m) m = sin(m) m
    x, _, _, w, classes = data(10)
    m, s = 0.5, 64.0
    cos = F.normalize(x) @ F.normalize(w).T
    c = cos[torch.arange(6), classes]
    sine = torch.sqrt(1 - c**2)
    phi = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - sine * math.sin(m), c - math.sin(math.pi - m) * m)
    logits = s * cos.scatter(1, classes[:, None], phi[:, None])
    torch.testing.assert_close(R.arcface(x, w, classes), F.cross_entropy(logits, classes))


# ==========================================================================
# Extreme inputs: temperatures 1e-4 and 1e4, identical and zero embeddings


def _all_losses(x, y, temperature, **_):
    groups = torch.tensor([0, 1, 0, 1])
    w = torch.cat([x[:2], y[2:3]]) + 0.0
    classes = torch.tensor([0, 1, 2, 0])
    t = temperature
    return {
        "info_nce": R.info_nce(x, y, temperature=t, negatives=y[:2] * 2),
        "nt_xent": R.nt_xent(x, y, temperature=t),
        "clip_loss": R.clip_loss(x, y, logit_scale=1 / t),
        "siglip_loss": R.siglip_loss(x, y, logit_scale=1 / t, logit_bias=-1 / t),
        "supcon": R.supcon(torch.cat([x, y]), groups.repeat(2), temperature=t),
        "arcface": R.arcface(x, w, classes, scale=1 / t),
        "cosface": R.cosface(x, w, classes, scale=1 / t),
    }


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("temperature", [1e-4, 1.0, 1e4])
@pytest.mark.parametrize("case", ["random", "identical", "zero rows", "all zero"])
def test_extreme_inputs_give_finite_values_and_gradients(case, temperature, dtype):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(4, 3, generator=g, dtype=F64)
    y = torch.randn(4, 3, generator=g, dtype=F64)
    if case == "identical":
        y = x.clone()
    elif case == "zero rows":
        x[1], y[2] = 0.0, 0.0
    elif case == "all zero":
        x, y = torch.zeros(4, 3, dtype=F64), torch.zeros(4, 3, dtype=F64)
    x, y = x.to(dtype).requires_grad_(True), y.to(dtype).requires_grad_(True)
    for key, value in _all_losses(x, y, temperature).items():
        gx, gy = torch.autograd.grad(value, [x, y], allow_unused=True, retain_graph=True)
        assert torch.isfinite(value), (key, value)
        for g_ in (gx, gy):
            assert g_ is None or torch.isfinite(g_).all(), (key, g_)


def test_arcface_on_the_class_centre_has_a_finite_gradient():
    w = rows(E1, E2).requires_grad_(True)
    e = rows(E1, [0.0, 3.0]).requires_grad_(True)  # each exactly on its centre: cos 1, sin 0
    value = R.arcface(e, w, torch.tensor([0, 1]))
    grads = torch.autograd.grad(value, [e, w])
    assert torch.isfinite(value) and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("key", KEYS)
def test_empty_batch(key, reduction):
    e = torch.zeros(0, 3, requires_grad=True)
    labels = torch.zeros(0, dtype=torch.int64)
    if key == "supcon":
        out = R.supcon(e, labels, reduction=reduction)
    elif key in ("arcface", "cosface"):
        out = LOSSES[key](e, torch.ones(4, 3), labels, reduction=reduction)
    else:
        out = LOSSES[key](e, e, reduction=reduction)
    if reduction == "none":
        assert out.shape == (0,)
        return
    assert out.shape == () and out.item() == 0.0
    out.backward()
    assert e.grad is not None and e.grad.shape == (0, 3)


@pytest.mark.parametrize("key", ["info_nce", "clip_loss", "siglip_loss"])
def test_gather_without_a_process_group_changes_nothing(key):
    x, y, *_ = data(12)
    assert torch.equal(LOSSES[key](x, y, gather=True), LOSSES[key](x, y))


# ==========================================================================
# The modules


@pytest.mark.parametrize("cls, fn, margin", [(lossbook.ArcFace, R.arcface, 0.5), (lossbook.CosFace, R.cosface, 0.35)])
def test_modules_hold_the_weight_and_call_the_loss(cls, fn, margin):
    torch.manual_seed(0)
    head = cls(7, 3, scale=16.0, dtype=F64)
    assert head.weight.shape == (7, 3) and head.weight.dtype == F64 and head.weight.requires_grad
    assert head.margin == margin and head.scale == 16.0
    e, y = torch.randn(5, 3, dtype=F64), torch.tensor([0, 6, 2, 2, 1])
    torch.testing.assert_close(head(e, y), fn(e, head.weight, y, scale=16.0, margin=margin), rtol=0, atol=0)
    assert head(e, y, reduction="none").shape == (5,)
    head(e, y).backward()
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()
    before = head.weight.detach().clone()
    head.reset_parameters()
    assert not torch.equal(before, head.weight) and head.weight.std().item() < 0.05
    assert cls(2, 2, device="meta").weight.device.type == "meta"


@pytest.mark.parametrize("cls", [lossbook.ArcFace, lossbook.CosFace])
def test_modules_check_their_arguments(cls):
    with pytest.raises(TypeError, match=r"^num_classes must be an int, got float$"):
        cls(2.0, 3)
    with pytest.raises(ValueError, match=r"^dim must be >= 1, got 0$"):
        cls(2, 0)
    with pytest.raises(ValueError, match=r"^scale must be > 0"):
        cls(2, 3, scale=0.0)
    with pytest.raises(ValueError, match=r"^margin must be"):
        cls(2, 3, margin=-1.0)


# ==========================================================================
# Properties (hypothesis): non-negative, and "sum"/"mean" consistent with "none"

def _call_each(x, y, labels, w, t):
    classes = labels % len(w)
    return {
        "info_nce": lambda r: R.info_nce(x, y, temperature=t, reduction=r),
        "nt_xent": lambda r: R.nt_xent(x, y, temperature=t, reduction=r),
        "clip_loss": lambda r: R.clip_loss(x, y, logit_scale=1 / t, reduction=r),
        "siglip_loss": lambda r: R.siglip_loss(x, y, logit_scale=1 / t, reduction=r),
        "supcon": lambda r: R.supcon(x, labels, temperature=t, reduction=r),
        "arcface": lambda r: R.arcface(x, w, classes, scale=1 / t, reduction=r),
        "cosface": lambda r: R.cosface(x, w, classes, scale=1 / t, reduction=r),
    }


@given(st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**16), st.sampled_from([0.05, 0.5, 5.0]))
def test_nonnegative_and_reductions_consistent(n, d, seed, t):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, d, generator=g, dtype=F64)
    labels = torch.randint(0, 3, (n,), generator=g)
    w = torch.randn(4, d, generator=g, dtype=F64)
    for key, fn in _call_each(x, y, labels, w, t).items():
        none = fn("none")
        assert (none >= 0).all(), key
        torch.testing.assert_close(fn("sum"), none.sum(), msg=key)
        if key == "supcon":  # the mean over the anchors that have a positive
            has = ((labels[:, None] == labels[None, :]).sum(1) > 1).sum().clamp_min(1)
            torch.testing.assert_close(fn("mean"), none.sum() / has, msg=key)
        else:
            torch.testing.assert_close(fn("mean"), none.mean(), msg=key)
