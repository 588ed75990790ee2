"""Input makers for the benchmark: seeded float64 CPU tensors (and modules) per loss.

``make(sizes, gen, variant)`` with ``variant`` "ordinary" or "extreme" (or
"perfect" for the regression losses); ``sizes`` is a :class:`Sizes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

import lossbook

F64 = torch.float64


@dataclass(frozen=True)
class Sizes:
    n: int  #: elements of regression, binary and element-wise inputs
    rows: int  #: samples of (rows, classes) logits
    classes: int
    emb: int  #: embedding rows
    dim: int  #: embedding width
    boxes: int
    mask: tuple[int, ...]  #: Dice input shape
    gp: tuple[int, int]  #: gradient-penalty samples (N, D)
    hidden: int  #: the critic's hidden width
    tasks: int  #: losses combined by the composite losses
    #: language models: tokens (default ``rows``), vocabulary (default ``classes``) and hidden width
    #: (default ``dim``) of linear_cross_entropy
    tokens: int | None = None
    vocab: int | None = None
    width: int | None = None
    #: rows of the representation losses, which compare every row with every other (default ``emb``)
    pairs: int | None = None


SIZES = {
    # (a loss of every pair of 8192 rows, or logits of 4096 tokens x 32,000 words, takes seconds a
    # call on one CPU thread: those sizes are scaled down to keep the run to minutes)
    "full": Sizes(1_000_000, 8192, 1000, 8192, 128, 200_000, (64, 1, 125, 125), (4096, 256), 256, 4,
                  tokens=1024, vocab=8192, width=128, pairs=2048),
    "quick": Sizes(100_000, 1024, 1000, 1024, 128, 20_000, (16, 1, 80, 80), (512, 256), 256, 4,
                   tokens=1024, vocab=32_000, width=256),
    # "batch32": a batch of 32 rows, the size of the book's demos and of an RL
    # update: little to compute, so the fixed cost per call shows
    "batch32": Sizes(32, 32, 10, 32, 8, 32, (32, 1, 4, 4), (32, 8), 8, 4),
    # the accuracy table's inputs
    "accuracy": Sizes(4096, 256, 10, 256, 16, 1024, (8, 1, 16, 16), (64, 8), 16, 4),
}



def _randn(gen, *shape):
    return torch.randn(shape, generator=gen, dtype=F64)


def _rand(gen, *shape):
    return torch.rand(shape, generator=gen, dtype=F64)


def _signs(gen, *shape):
    return torch.where(_rand(gen, *shape) < 0.5, -1.0, 1.0).to(F64)


def _bits(gen, *shape):
    return (_rand(gen, *shape) < 0.5).to(F64)


def make_residuals(s, gen, variant):
    target = _randn(gen, s.n)
    if variant == "ordinary":
        return {"pred": target + _randn(gen, s.n), "target": target}
    if variant == "extreme":  # residuals of +-1e6, and exact zeros
        r = 1e6 * _signs(gen, s.n) * (_rand(gen, s.n) < 0.5)
        return {"pred": target + r, "target": target}
    if variant == "perfect":
        return {"pred": target.clone(), "target": target}
    raise ValueError(variant)


def make_logits(s, gen, variant, soft=False):
    t = _rand(gen, s.n) if soft else _bits(gen, s.n)
    if variant == "ordinary":
        return {"logits": 2 * _randn(gen, s.n), "target": t}
    return {"logits": 1e4 * _signs(gen, s.n), "target": _bits(gen, s.n)}


def _class_logits(s, gen, variant):
    logits = _randn(gen, s.rows, s.classes)
    target = torch.randint(0, s.classes, (s.rows,), generator=gen)
    if variant == "extreme":  # one logit of +-1e4 per row, the others 0
        hot = torch.randint(0, s.classes, (s.rows, 1), generator=gen)
        logits = torch.zeros(s.rows, s.classes, dtype=F64).scatter(1, hot, 1e4 * _signs(gen, s.rows, 1))
    return logits, target


def _embeddings(s, gen, variant, k):
    xs = [_randn(gen, s.emb, s.dim) for _ in range(k)]
    if variant == "extreme":  # scale 1e3, and every other row identical to the first input's
        xs = [1e3 * x for x in xs]
        same = (torch.arange(s.emb) % 2 == 0).unsqueeze(1)
        xs[1] = torch.where(same, xs[0], xs[1])
    return xs


def make_boxes(s, gen, variant):
    def boxes(n, scale=1.0):
        xy = 100 * _rand(gen, n, 2) * scale
        wh = (1 + 49 * _rand(gen, n, 2)) * scale
        return torch.cat([xy, xy + wh], dim=1)

    pred, target = boxes(s.boxes), boxes(s.boxes)
    if variant == "ordinary":  # a prediction near each target
        pred = target + 5 * _randn(gen, s.boxes, 4)
        pred = torch.cat([torch.minimum(pred[:, :2], pred[:, 2:]), torch.maximum(pred[:, :2], pred[:, 2:])], 1)
        return {"pred": pred, "target": target}
    # extreme: a quarter each of identical boxes, zero-height boxes, points, and
    # disjoint boxes at coordinates of 1e4
    q = torch.arange(s.boxes) % 4
    flat = pred.clone()
    flat[:, 3] = flat[:, 1]
    point = pred.clone()
    point[:, 2:] = point[:, :2]
    far = boxes(s.boxes, scale=100.0)
    p = torch.where((q == 0).unsqueeze(1), target, torch.where((q == 1).unsqueeze(1), flat, torch.where((q == 2).unsqueeze(1), point, far)))
    t = torch.where((q == 3).unsqueeze(1), boxes(s.boxes), target)
    return {"pred": p, "target": t}


def _mlp(d, hidden, gen):
    net = nn.Sequential(nn.Linear(d, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(_randn(gen, *p.shape) / max(p.shape[-1], 1) ** 0.5)
    return net.to(F64)


def make_nll(s, gen, variant):
    logits, target = _class_logits(s, gen, variant)
    return {"log_probs": F.log_softmax(logits, dim=1), "target": target}


def make_ce(s, gen, variant):
    logits, target = _class_logits(s, gen, variant)
    return {"logits": logits, "target": target}


def make_kl(s, gen, variant):
    logits, _ = _class_logits(s, gen, variant)
    q = F.softmax(_randn(gen, s.rows, s.classes), dim=1)
    if variant == "extreme":  # one-hot targets: exact zeros
        q = F.one_hot(torch.randint(0, s.classes, (s.rows,), generator=gen), s.classes).to(F64)
    return {"logits": logits, "target_probs": q}


def make_bce(s, gen, variant):
    if variant == "ordinary":
        return {"probs": torch.sigmoid(2 * _randn(gen, s.n)), "target": _bits(gen, s.n)}
    return {"probs": _bits(gen, s.n), "target": _bits(gen, s.n)}  # probabilities 0 and 1, right and wrong


def make_hinge(s, gen, variant):
    scale = 1.0 if variant == "ordinary" else 1e4
    return {"scores": scale * _randn(gen, s.n), "target": _signs(gen, s.n)}


def make_contrastive(s, gen, variant):
    x1, x2 = _embeddings(s, gen, variant, 2)
    if variant == "ordinary":
        x2 = x1 + 0.1 * _randn(gen, s.emb, s.dim) * 10 ** _rand(gen, s.emb, 1)
    return {"x1": x1, "x2": x2, "similar": _bits(gen, s.emb)}


def make_triplet(s, gen, variant):
    a, p, n = _embeddings(s, gen, variant, 3)
    return {"anchor": a, "positive": p, "negative": n}


def make_dice(s, gen, variant):
    if variant == "ordinary":
        return {"probs": _rand(gen, *s.mask), "target": _bits(gen, *s.mask)}
    probs, target = _bits(gen, *s.mask), _bits(gen, *s.mask)
    target[: s.mask[0] // 2] = 0  # half the samples: an empty target mask
    probs[: s.mask[0] // 4] = 0  # a quarter: both masks empty
    return {"probs": probs, "target": target}


def make_overlap(s, gen, variant):
    """Tversky and focal Tversky: soft probabilities, or 0/1 ones with empty and all-ones masks."""
    if variant == "ordinary":
        return {"probs": _rand(gen, *s.mask), "target": _bits(gen, *s.mask)}
    probs, target = _bits(gen, *s.mask), _bits(gen, *s.mask)
    q = max(s.mask[0] // 4, 1)
    target[:q] = 0  # empty target masks
    probs[:q // 2 + 1] = 0  # some of them: both masks empty
    target[q:2 * q] = 1  # all-ones target masks
    probs[q:q + q // 2 + 1] = 1  # some of them: a perfect all-ones prediction
    return {"probs": probs, "target": target}


def make_lovasz(s, gen, variant):
    """Lovász hinge: logits (continuous, so no ties) and 0/1 targets; logits of ±1e4 and empty masks."""
    target = _bits(gen, *s.mask)
    if variant == "ordinary":
        return {"logits": 2 * _randn(gen, *s.mask), "target": target}
    logits = 1e4 * _randn(gen, *s.mask)
    target[: max(s.mask[0] // 4, 1)] = 0  # empty target masks
    target[-1] = 1  # an all-ones mask
    return {"logits": logits, "target": target}


def make_real_fake(s, gen, variant):
    scale = 1.0 if variant == "ordinary" else 1e4
    return {"real": scale * _randn(gen, s.n), "fake": scale * _randn(gen, s.n)}


def make_gp(s, gen, variant):
    n, d = s.gp
    real = _randn(gen, n, d) * (1.0 if variant == "ordinary" else 1e3)
    # In the accuracy table real == fake, so that the random interpolation weight
    # (drawn differently in float32 and float64) cancels; timing uses distinct batches.
    fake = real.clone() if s is SIZES["accuracy"] else _randn(gen, n, d)
    return {"critic": _mlp(d, s.hidden, gen), "real": real, "fake": fake}


def make_pg(s, gen, variant):
    if variant == "ordinary":
        return {"log_probs": -_rand(gen, s.n) * 3, "advantages": _randn(gen, s.n)}
    return {"log_probs": -1e4 * _bits(gen, s.n), "advantages": 1e6 * _randn(gen, s.n)}


def make_ppo(s, gen, variant):
    old = -_rand(gen, s.n) * 3
    if variant == "ordinary":  # log-ratios of a few tenths: both sides of the clip
        return {"log_probs": old + 0.3 * _randn(gen, s.n), "old_log_probs": old, "advantages": _randn(gen, s.n)}
    # log-ratios of ±50 and ±1e4, advantages of scale 1e6
    diff = torch.tensor([50.0, -50.0, 1e4, -1e4], dtype=F64).repeat(s.n // 4 + 1)[: s.n]
    return {"log_probs": old + diff, "old_log_probs": old, "advantages": 1e6 * _randn(gen, s.n)}


def make_td(s, gen, variant):
    scale = 1.0 if variant == "ordinary" else 1e6
    return {
        "values": scale * _randn(gen, s.n), "rewards": scale * _randn(gen, s.n),
        "next_values": scale * _randn(gen, s.n), "done": _rand(gen, s.n) < 0.1,
    }


def make_losses(s, gen, variant):
    if variant == "ordinary":
        losses = [_rand(gen) * 3 for _ in range(s.tasks)]
    else:  # losses of 0, 1e-6 and 1e6
        losses = [torch.tensor(v, dtype=F64) for v in (0.0, 1e-6, 1e6, 1.0)[: s.tasks]]
    return {"losses": losses}


def make_uw(s, gen, variant):
    t = make_losses(s, gen, variant)
    uw = lossbook.UncertaintyWeighting(s.tasks).to(F64)
    with torch.no_grad():
        uw.log_vars.copy_(0.5 * _randn(gen, s.tasks))
    t["uw"] = uw
    return t


def _make_robust(s, gen, variant):
    if variant == "ordinary":
        return {"x": 3 * _randn(gen, s.n)}
    return {"x": 1e6 * _signs(gen, s.n) * (_rand(gen, s.n) < 0.5)}


_ALPHAS = (float("-inf"), -2.0, 0.0, 0.5, 1.0, 1.5, 1.999, 2.0, 4.0)


def _make_robust_acc(s, gen, variant):
    """Accuracy: one alpha per column, including the special values."""
    k = len(_ALPHAS)
    x = _make_robust(s, gen, variant)["x"][: (s.n // k) * k].reshape(-1, k)
    alpha = torch.tensor(_ALPHAS, dtype=F64)
    if variant == "extreme":  # exp(z/2) of alpha > 2 overflows for |x| = 1e6, as it should
        x = torch.where(alpha > 2, x.clamp(-3, 3), x)
    return {"x": x, "alpha": alpha, "scale": torch.full((k,), 1.5, dtype=F64)}


def make_arl(s, gen, variant):
    t = _make_robust(s, gen, variant)
    arl = lossbook.AdaptiveRobustLoss(8)
    with torch.no_grad():  # different alphas and scales per dimension
        arl.latent_alpha.copy_(_randn(gen, 8))
        arl.latent_scale.copy_(_randn(gen, 8))
    return {"x": t["x"][: (s.n // 8) * 8].reshape(-1, 8), "arl": arl.to(F64)}


def make_robust(s, gen, variant):
    # timing uses scalar alpha = 1, scale = 1 (the peer's formula needs alpha not in {0, 2})
    return _make_robust(s, gen, variant) if s is not SIZES["accuracy"] else _make_robust_acc(s, gen, variant)


def make_gaussian(s, gen, variant):
    """A mean, a target and a variance. Extreme: a quarter each of variances 0 and 1e-12 (below the
    clamp), 1e12, and 1 with residuals of ±1e6."""
    target = _randn(gen, s.n)
    if variant == "ordinary":
        var = torch.exp(_randn(gen, s.n))
        return {"mean": target + var.sqrt() * _randn(gen, s.n), "target": target, "var": var}
    q = torch.arange(s.n) % 4
    var = torch.where(q == 0, 0.0, torch.where(q == 1, 1e-12, torch.where(q == 2, 1e12, 1.0))).to(F64)
    r = torch.where(q == 3, 1e6 * _signs(gen, s.n), _randn(gen, s.n))
    return {"mean": target + r, "target": target, "var": var}


def make_poisson(s, gen, variant):
    """Log-rates and counts drawn from them. Extreme: log-rates of ±50 and 80, counts 0 and 1e6."""
    if variant == "ordinary":
        log_rate = _randn(gen, s.n)
        return {"input": log_rate, "target": torch.poisson(log_rate.exp(), generator=gen)}
    q = torch.arange(s.n) % 3
    log_rate = torch.where(q == 0, -50.0, torch.where(q == 1, 50.0, 80.0)).to(F64)
    return {"input": log_rate, "target": 1e6 * _bits(gen, s.n)}


def make_distill(s, gen, variant):
    """Student and teacher logits (rows, classes); extreme: one logit of ±1e4 per row, the
    teacher's equal to the student's (identical distributions) in every other row."""
    student, _ = _class_logits(s, gen, variant)
    teacher, _ = _class_logits(s, gen, variant)
    if variant == "extreme":
        same = (torch.arange(s.rows) % 2 == 0).unsqueeze(1)
        teacher = torch.where(same, student, teacher)
    return {"student_logits": student, "teacher_logits": teacher}


def make_preference(s, gen, variant):
    """Per-response log-probabilities (rows,) of the policy and the reference, chosen and rejected;
    extreme: log-probability differences of ±1e3 (log-probabilities 0 and -1e3)."""
    if variant == "ordinary":
        lp = [-(1 + 4 * _rand(gen, s.rows)) for _ in range(4)]
    else:
        bits = _bits(gen, s.rows)
        lp = [-1e3 * bits, -1e3 * (1 - bits), -_rand(gen, s.rows), -_rand(gen, s.rows)]
    return dict(zip(("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected"), lp))


def make_simpo(s, gen, variant):
    """Length-averaged log-probabilities (rows,) of the chosen and the rejected response."""
    t = make_preference(s, gen, variant)
    return {"chosen": t["policy_chosen"], "rejected": t["policy_rejected"]}


# --------------------------------------------------------------------------
# Contrastive representation learning (lossbook.representation)


def _views(s, gen, variant):
    """Two (emb, dim) views: the second near the first; extreme: scale 1e3, every third row of the
    second view identical to the first's, and a zero row in each."""
    n = s.pairs or s.emb
    x = _randn(gen, n, s.dim)
    y = x + 0.5 * _randn(gen, n, s.dim)
    if variant == "extreme":
        x, y = 1e3 * x, 1e3 * y
        same = (torch.arange(n) % 3 == 0).unsqueeze(1)
        y = torch.where(same, x, y)
        x[1], y[2] = 0.0, 0.0
    return x, y


def make_query_key(s, gen, variant):
    q, k = _views(s, gen, variant)
    out = {"query": q, "key": k}
    if variant == "extreme":
        out["temperature"] = 1e-4
    return out


def make_views(s, gen, variant):
    z1, z2 = _views(s, gen, variant)
    out = {"z1": z1, "z2": z2}
    if variant == "extreme":
        out["temperature"] = 1e-4
    return out


def make_image_text(s, gen, variant):
    x, y = _views(s, gen, variant)
    out = {"image": x, "text": y}
    if variant == "extreme":
        out["logit_scale"] = 1e4
    return out


def make_supcon(s, gen, variant):
    x, _ = _views(s, gen, variant)
    out = {"features": x, "labels": torch.randint(0, 3, (x.shape[0],), generator=gen)}
    if variant == "extreme":
        out["temperature"] = 1e-4
    return out


def make_margin(s, gen, variant):
    weight = _randn(gen, s.classes, s.dim)
    labels = torch.randint(0, s.classes, (s.emb,), generator=gen)
    emb = weight[labels] + 0.7 * _randn(gen, s.emb, s.dim)
    if variant == "extreme":  # every other embedding on its class centre (cos 1), one zero row, scale 1e3
        emb = 1e3 * torch.where((torch.arange(s.emb) % 2 == 0).unsqueeze(1), weight[labels], emb)
        emb[1] = 0.0
    return {"embeddings": emb, "weight": weight, "labels": labels}


def make_lm(s, gen, variant):
    """Hidden states (N, D), an unembedding (V, D) and bias, next tokens with one in 8 ignored (-100)."""
    n = s.tokens if s.tokens is not None else s.rows
    v = s.vocab if s.vocab is not None else s.classes
    d = s.width if s.width is not None else s.dim
    hidden = _randn(gen, n, d) * (1.0 if variant == "ordinary" else 30.0)  # extreme: logits in the hundreds
    weight = _randn(gen, v, d) / d**0.5
    target = torch.randint(0, v, (n,), generator=gen)
    target = torch.where(torch.arange(n) % 8 == 3, -100, target)
    return {"hidden": hidden, "weight": weight, "bias": 0.1 * _randn(gen, v), "target": target}
