"""Input recipes: for every loss in ``lossbook.catalog``, how to make its inputs,
how to call it, and how to call its peer on the same inputs.

``CASES[key]`` must exist for every catalog key: :func:`cases` raises
``KeyError`` naming the loss that has no recipe, so a new loss cannot slip
out of the benchmark. A recipe's ``make(sizes, gen, variant)`` returns float64
CPU tensors (integer and bool ones keep their dtype) and modules;
:func:`convert` moves them to the device and dtype being measured.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

import lossbook
from lossbook import catalog

from . import inputs as I
from . import peers
from .inputs import SIZES, Sizes



@dataclass(frozen=True)
class Case:
    key: str
    peer_name: str  #: how the peer is written
    peer_kind: str  #: "PyTorch", "torchvision", "torchvision's formula, written out" or "plain torch"
    make: Callable[[Sizes, torch.Generator, str], dict]
    ours: Callable[[dict], torch.Tensor]
    peer: Callable[[dict], torch.Tensor]
    grad: tuple[str, ...]  #: inputs the loss is differentiated with respect to
    extreme: str  #: what the extreme inputs are, for the accuracy table
    variants: tuple[str, ...] = ("ordinary", "extreme")
    module_grads: bool = True  #: differentiate with respect to the modules' parameters too
    note: str = ""



# --------------------------------------------------------------------------
# Recipes


def _regression(key, peer, peer_name, kind="PyTorch", variants=("ordinary", "extreme"), **kw):
    fn = getattr(lossbook, key)
    return Case(
        key, peer_name, kind, I.make_residuals,
        ours=lambda t: fn(t["pred"], t["target"], **kw),
        peer=lambda t: peer(t["pred"], t["target"], **kw),
        grad=("pred",), extreme="residuals of ±1e6 and exact zeros" + (", all zero" if "perfect" in variants else ""),
        variants=variants,
    )


_W = (1.0, 0.5, 2.0, 0.1)


def _all_cases() -> dict[str, Case]:
    L = lossbook
    out = [
        _regression("mse", F.mse_loss, "F.mse_loss"),
        _regression("rmse", lambda p, t: torch.sqrt(F.mse_loss(p, t)), "torch.sqrt(F.mse_loss)",
                    variants=("ordinary", "extreme", "perfect")),
        _regression("mae", F.l1_loss, "F.l1_loss"),
        _regression("huber", F.huber_loss, "F.huber_loss"),
        _regression("smooth_l1", F.smooth_l1_loss, "F.smooth_l1_loss"),
        _regression("pseudo_huber", peers.pseudo_huber, "δ²(sqrt(1 + (r/δ)²) - 1)", "plain torch"),
        _regression("log_cosh", peers.log_cosh, "log(cosh(r))", "plain torch"),
        Case("gaussian_nll", "F.gaussian_nll_loss", "PyTorch", I.make_gaussian,
             lambda t: L.gaussian_nll(t["mean"], t["target"], t["var"]),
             lambda t: F.gaussian_nll_loss(t["mean"], t["target"], t["var"]),
             ("mean", "var"), "variances 0, 1e-12 and 1e12; residuals of ±1e6"),
        Case("beta_nll", "0.5 (r²/σ² + log σ²) · detach(σ²)^β", "plain torch", I.make_gaussian,
             lambda t: L.beta_nll(t["mean"], t["target"], t["var"]),
             lambda t: peers.beta_nll(t["mean"], t["target"], t["var"]),
             ("mean", "var"), "variances 0, 1e-12 and 1e12; residuals of ±1e6",
             note="the peer is the paper's code, which does not clamp the variance (0 gives inf)"),
        Case("poisson_nll", "F.poisson_nll_loss", "PyTorch", I.make_poisson,
             lambda t: L.poisson_nll(t["input"], t["target"]),
             lambda t: F.poisson_nll_loss(t["input"], t["target"]),
             ("input",), "log-rates of -50, 50 and 80; counts 0 and 1e6"),
        Case("quantile", "torch.maximum(q r, (q - 1) r).mean(), q = 0.9", "plain torch", I.make_residuals,
             lambda t: L.quantile(t["pred"], t["target"], q=0.9),
             lambda t: peers.quantile(t["pred"], t["target"], q=0.9),
             ("pred",), "residuals of ±1e6 and exact zeros"),
        Case("cross_entropy", "F.cross_entropy", "PyTorch", I.make_ce,
             lambda t: L.cross_entropy(t["logits"], t["target"]),
             lambda t: F.cross_entropy(t["logits"], t["target"]),
             ("logits",), "one logit of ±1e4 per row"),
        Case("nll", "F.nll_loss", "PyTorch", I.make_nll,
             lambda t: L.nll(t["log_probs"], t["target"]),
             lambda t: F.nll_loss(t["log_probs"], t["target"]),
             ("log_probs",), "log-probabilities of logits ±1e4 (0 and -1e4)"),
        Case("binary_cross_entropy", "F.binary_cross_entropy", "PyTorch", I.make_bce,
             lambda t: L.binary_cross_entropy(t["probs"], t["target"]),
             lambda t: F.binary_cross_entropy(t["probs"], t["target"]),
             ("probs",), "probabilities exactly 0 and 1"),
        Case("binary_cross_entropy_with_logits", "F.binary_cross_entropy_with_logits", "PyTorch",
             I.make_logits,
             lambda t: L.binary_cross_entropy_with_logits(t["logits"], t["target"]),
             lambda t: F.binary_cross_entropy_with_logits(t["logits"], t["target"]),
             ("logits",), "logits ±1e4"),
        Case("kl_divergence", 'F.kl_div(log_softmax, q, "batchmean")', "PyTorch", I.make_kl,
             lambda t: L.kl_divergence(t["logits"], t["target_probs"]),
             lambda t: F.kl_div(F.log_softmax(t["logits"], dim=1), t["target_probs"], reduction="batchmean"),
             ("logits",), "logits ±1e4, one-hot targets"),
        Case("hinge", "clamp(1 - t s, min=0)", "plain torch", I.make_hinge,
             lambda t: L.hinge(t["scores"], t["target"]),
             lambda t: peers.hinge(t["scores"], t["target"]),
             ("scores",), "scores ±1e4"),
        Case("multiclass_hinge", "F.multi_margin_loss", "PyTorch", I.make_ce,
             lambda t: L.multiclass_hinge(t["logits"], t["target"]),
             lambda t: F.multi_margin_loss(t["logits"], t["target"]),
             ("logits",), "one score of ±1e4 per row"),
        Case("focal", peers.SIGMOID_FOCAL[1], peers.SIGMOID_FOCAL[2], I.make_logits,
             lambda t: L.focal(t["logits"], t["target"]),
             lambda t: peers.SIGMOID_FOCAL[0](t["logits"], t["target"], reduction="mean"),
             ("logits",), "logits ±1e4"),
        Case("softmax_focal", "log_softmax, gather, (1 - p)^γ", "plain torch", I.make_ce,
             lambda t: L.softmax_focal(t["logits"], t["target"]),
             lambda t: peers.softmax_focal(t["logits"], t["target"]),
             ("logits",), "one logit of ±1e4 per row"),
        Case("triplet", "F.triplet_margin_loss", "PyTorch", I.make_triplet,
             lambda t: L.triplet(t["anchor"], t["positive"], t["negative"]),
             lambda t: F.triplet_margin_loss(t["anchor"], t["positive"], t["negative"]),
             ("anchor", "positive", "negative"), "scale 1e3, identical anchor and positive"),
        Case("contrastive", "norm, clamp, formula", "plain torch", I.make_contrastive,
             lambda t: L.contrastive(t["x1"], t["x2"], t["similar"]),
             lambda t: peers.contrastive(t["x1"], t["x2"], t["similar"]),
             ("x1", "x2"), "scale 1e3, identical pairs"),
        Case("iou_loss", "1 - IoU from torchvision's _loss_inter_union", "torchvision's formula, written out",
             I.make_boxes,
             lambda t: L.iou_loss(t["pred"], t["target"]),
             lambda t: peers.tv_iou_loss(t["pred"], t["target"]),
             ("pred",), "identical, zero-height, point and far disjoint boxes"),
        Case("giou_loss", peers.GIOU[1], peers.GIOU[2], I.make_boxes,
             lambda t: L.giou_loss(t["pred"], t["target"]),
             lambda t: peers.GIOU[0](t["pred"], t["target"], reduction="mean"),
             ("pred",), "identical, zero-height, point and far disjoint boxes"),
        Case("diou_loss", peers.DIOU[1], peers.DIOU[2], I.make_boxes,
             lambda t: L.diou_loss(t["pred"], t["target"]),
             lambda t: peers.DIOU[0](t["pred"], t["target"], reduction="mean"),
             ("pred",), "identical, zero-height, point and far disjoint boxes"),
        Case("ciou_loss", peers.CIOU[1], peers.CIOU[2], I.make_boxes,
             lambda t: L.ciou_loss(t["pred"], t["target"]),
             lambda t: peers.CIOU[0](t["pred"], t["target"], reduction="mean"),
             ("pred",), "identical, zero-height, point and far disjoint boxes"),
        Case("dice_loss", "sums over each sample, formula", "plain torch", I.make_dice,
             lambda t: L.dice_loss(t["probs"], t["target"]),
             lambda t: peers.dice_loss(t["probs"], t["target"]),
             ("probs",), "probabilities 0 and 1, empty masks"),
        Case("tversky_loss", "TP, FP, FN sums over each sample, formula", "plain torch", I.make_overlap,
             lambda t: L.tversky_loss(t["probs"], t["target"]),
             lambda t: peers.tversky_loss(t["probs"], t["target"]),
             ("probs",), "probabilities 0 and 1, empty and all-ones masks"),
        Case("focal_tversky_loss", "Tversky formula ** γ", "plain torch", I.make_overlap,
             lambda t: L.focal_tversky_loss(t["probs"], t["target"]),
             lambda t: peers.focal_tversky_loss(t["probs"], t["target"]),
             ("probs",), "probabilities 0 and 1, empty and all-ones masks"),
        Case("lovasz_hinge", "sort, lovasz_grad, dot (Berman et al.'s code, written out)", "plain torch",
             I.make_lovasz,
             lambda t: L.lovasz_hinge(t["logits"], t["target"]),
             lambda t: peers.lovasz_hinge(t["logits"], t["target"]),
             ("logits",), "logits ±1e4, empty and all-ones masks"),
        Case("gan_discriminator_loss", "two F.binary_cross_entropy_with_logits", "PyTorch", I.make_real_fake,
             lambda t: L.gan_discriminator_loss(t["real"], t["fake"]),
             lambda t: peers.gan_discriminator_loss(t["real"], t["fake"]),
             ("real", "fake"), "logits of scale 1e4"),
        Case("gan_generator_loss", "F.binary_cross_entropy_with_logits(fake, ones)", "PyTorch", I.make_real_fake,
             lambda t: L.gan_generator_loss(t["fake"]),
             lambda t: peers.gan_generator_loss(t["fake"]),
             ("fake",), "logits of scale 1e4"),
        Case("wasserstein_critic_loss", "fake.mean() - real.mean()", "plain torch", I.make_real_fake,
             lambda t: L.wasserstein_critic_loss(t["real"], t["fake"]),
             lambda t: t["fake"].mean() - t["real"].mean(),
             ("real", "fake"), "scores of scale 1e4"),
        Case("wasserstein_generator_loss", "-fake.mean()", "plain torch", I.make_real_fake,
             lambda t: L.wasserstein_generator_loss(t["fake"]),
             lambda t: -t["fake"].mean(),
             ("fake",), "scores of scale 1e4"),
        Case("gradient_penalty", "WGAN-GP as usually written (autograd.grad, norm)", "plain torch", I.make_gp,
             lambda t: L.gradient_penalty(t["critic"], t["real"], t["fake"], generator=t["_gen_ours"]),
             lambda t: peers.gradient_penalty(t["critic"], t["real"], t["fake"], generator=t["_gen_peer"]),
             (), "samples of scale 1e3 (real = fake in this table)",
             note="critic: an MLP with one LeakyReLU hidden layer; gradients with respect to its parameters"),
        Case("policy_gradient_loss", "-(log_probs * advantages.detach()).mean()", "plain torch", I.make_pg,
             lambda t: L.policy_gradient_loss(t["log_probs"], t["advantages"]),
             lambda t: -(t["log_probs"] * t["advantages"].detach()).mean(),
             ("log_probs",), "log-probabilities -1e4 and 0, advantages of scale 1e6"),
        Case("ppo_clip_loss", "-min(r A, clamp(r, 1 - ε, 1 + ε) A), r = exp(Δ log π)", "plain torch", I.make_ppo,
             lambda t: L.ppo_clip_loss(t["log_probs"], t["old_log_probs"], t["advantages"]),
             lambda t: peers.ppo_clip_loss(t["log_probs"], t["old_log_probs"], t["advantages"]),
             ("log_probs",), "log-ratios of ±50 and ±1e4, advantages of scale 1e6"),
        Case("td_loss", "F.mse_loss on the detached target", "PyTorch", I.make_td,
             lambda t: L.td_loss(t["values"], t["rewards"], t["next_values"], t["done"]),
             lambda t: peers.td_loss(t["values"], t["rewards"], t["next_values"], t["done"]),
             ("values",), "values and rewards of scale 1e6"),
        Case("distillation_kl", 'T² F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target, "batchmean")',
             "PyTorch", I.make_distill,
             lambda t: L.distillation_kl(t["student_logits"], t["teacher_logits"], temperature=2.0),
             lambda t: peers.distillation_kl(t["student_logits"], t["teacher_logits"], temperature=2.0),
             ("student_logits",), "one logit of ±1e4 per row, identical distributions in every other row"),
        Case("jsd", "softmax, mixture, two KL sums", "plain torch", I.make_distill,
             lambda t: L.jsd(t["student_logits"], t["teacher_logits"]),
             lambda t: peers.jsd(t["student_logits"], t["teacher_logits"]),
             ("student_logits",), "one logit of ±1e4 per row, identical distributions in every other row"),
        *[Case(key, f"{form}, F.logsigmoid" if key == "dpo_loss" else form, "plain torch", I.make_preference,
               lambda t, key=key: getattr(L, key)(
                   t["policy_chosen"], t["policy_rejected"], t["ref_chosen"], t["ref_rejected"]),
               lambda t, key=key: getattr(peers, key)(
                   t["policy_chosen"], t["policy_rejected"], t["ref_chosen"], t["ref_rejected"]),
               ("policy_chosen", "policy_rejected"), "log-probability differences of ±1e3")
          for key, form in (("dpo_loss", "-logsigmoid(β((pc - rc) - (pr - rr)))"),
                            ("ipo_loss", "((pc - rc) - (pr - rr) - 1/(2β))²"))],
        Case("simpo_loss", "-F.logsigmoid(β(c - r) - γ)", "plain torch", I.make_simpo,
             lambda t: L.simpo_loss(t["chosen"], t["rejected"]),
             lambda t: peers.simpo_loss(t["chosen"], t["rejected"]),
             ("chosen", "rejected"), "log-probability differences of ±1e3"),
        Case("weighted_sum", "sum(w * l for w, l in zip(weights, losses))", "plain torch", I.make_losses,
             lambda t: L.weighted_sum(t["losses"], _W[: len(t["losses"])]),
             lambda t: sum(w * l for w, l in zip(_W, t["losses"])),
             ("losses",), "losses 0, 1e-6, 1e6 and 1"),
        Case("UncertaintyWeighting", "(exp(-s) * stack(losses) + s).sum()", "plain torch", I.make_uw,
             lambda t: t["uw"](t["losses"]),
             lambda t: peers.uncertainty_weighting(t["uw"].log_vars, t["losses"]),
             ("losses",), "losses 0, 1e-6, 1e6 and 1"),
        Case("general_robust", "Barron's formula, α = 1, c = 1", "plain torch", I.make_robust,
             lambda t: L.general_robust(t["x"], t.get("alpha", 1.0), t.get("scale", 1.0)),
             lambda t: peers.general_robust(t["x"], t.get("alpha", 1.0), t.get("scale", 1.0)),
             ("x", "alpha", "scale"), "residuals of ±1e6 and exact zeros; α = -∞, -2, 0, 0.5, 1, 1.5, 1.999, 2, 4",
             note="the accuracy inputs use one α per column, including the limits"),
        Case("AdaptiveRobustLoss", "Barron's formula with the module's α, c; log Z from lossbook", "plain torch",
             I.make_arl,
             lambda t: t["arl"](t["x"]),
             lambda t: peers.adaptive_robust(t["arl"], t["x"]),
             ("x",), "residuals of ±1e6 and exact zeros"),
        Case("info_nce", "F.cross_entropy(normalize(q) @ normalize(k).T / τ, arange(N))", "plain torch",
             I.make_query_key,
             lambda t: L.info_nce(t["query"], t["key"], temperature=t.get("temperature", 0.07)),
             lambda t: peers.info_nce(t["query"], t["key"], t.get("temperature", 0.07)),
             ("query", "key"), "τ = 1e-4, scale 1e3, identical and zero embeddings"),
        Case("nt_xent", "2N × 2N similarities, diagonal -inf, F.cross_entropy", "plain torch", I.make_views,
             lambda t: L.nt_xent(t["z1"], t["z2"], temperature=t.get("temperature", 0.5)),
             lambda t: peers.nt_xent(t["z1"], t["z2"], t.get("temperature", 0.5)),
             ("z1", "z2"), "τ = 1e-4, scale 1e3, identical and zero embeddings"),
        Case("clip_loss", "mean of F.cross_entropy of the logits and of their transpose", "plain torch",
             I.make_image_text,
             lambda t: L.clip_loss(t["image"], t["text"], logit_scale=t.get("logit_scale", 1 / 0.07)),
             lambda t: peers.clip_loss(t["image"], t["text"], t.get("logit_scale", 1 / 0.07)),
             ("image", "text"), "logit scale 1e4, scale 1e3, identical and zero embeddings"),
        Case("siglip_loss", "-F.logsigmoid(labels * logits).sum() / N", "plain torch", I.make_image_text,
             lambda t: L.siglip_loss(t["image"], t["text"], logit_scale=t.get("logit_scale", 10.0)),
             lambda t: peers.siglip_loss(t["image"], t["text"], t.get("logit_scale", 10.0)),
             ("image", "text"), "logit scale 1e4, scale 1e3, identical and zero embeddings"),
        Case("supcon", "log_softmax over the others, mean over positives (SupContrast)", "plain torch",
             I.make_supcon,
             lambda t: L.supcon(t["features"], t["labels"], temperature=t.get("temperature", 0.1)),
             lambda t: peers.supcon(t["features"], t["labels"], t.get("temperature", 0.1)),
             ("features",), "τ = 1e-4, scale 1e3, a zero embedding"),
        Case("arcface", "cos θ cos m - sin θ sin m with the fallback (insightface)", "plain torch", I.make_margin,
             lambda t: L.arcface(t["embeddings"], t["weight"], t["labels"]),
             lambda t: peers.arcface(t["embeddings"], t["weight"], t["labels"]),
             ("embeddings", "weight"), "embeddings on their class centre (cos 1), a zero embedding, scale 1e3"),
        Case("cosface", "F.cross_entropy(s (cos - m one_hot))", "plain torch", I.make_margin,
             lambda t: L.cosface(t["embeddings"], t["weight"], t["labels"]),
             lambda t: peers.cosface(t["embeddings"], t["weight"], t["labels"]),
             ("embeddings", "weight"), "embeddings on their class centre (cos 1), a zero embedding, scale 1e3"),
        Case("linear_cross_entropy", "F.cross_entropy(F.linear(hidden, weight, bias), target)", "PyTorch",
             I.make_lm,
             lambda t: L.linear_cross_entropy(t["hidden"], t["weight"], t["target"], bias=t["bias"]),
             lambda t: F.cross_entropy(F.linear(t["hidden"], t["weight"], t["bias"]), t["target"]),
             ("hidden", "weight", "bias"), "hidden states of scale 30 (logits in the hundreds)",
             note="one target in 8 is ignore_index; the peer materialises the (N, V) logits"),
        Case("z_loss", "torch.logsumexp(logits, 1).square().mean()", "plain torch", I.make_ce,
             lambda t: L.z_loss(t["logits"]),
             lambda t: torch.logsumexp(t["logits"], 1).square().mean(),
             ("logits",), "one logit of ±1e4 per row"),
    ]
    return {c.key: c for c in out}


CASES = _all_cases()


def cases(keys: list[str] | None = None) -> list[Case]:
    """The recipes of every catalog loss (or of ``keys``), in catalog order."""
    wanted = catalog.keys() if not keys else keys
    missing = [k for k in wanted if k not in CASES]
    if missing:
        raise KeyError(f"no benchmark input recipe for {missing}: add one to benchmarks/cases.py")
    return [CASES[k] for k in wanted]


# --------------------------------------------------------------------------
# Moving inputs to a device and dtype


def convert(inputs: dict, case: Case, device: torch.device, dtype: torch.dtype) -> tuple[dict, list[torch.Tensor]]:
    """Inputs on ``device`` in ``dtype`` (floating tensors and modules), and the leaves to differentiate."""

    def move(v):
        if isinstance(v, torch.Tensor):
            return v.detach().to(device=device, dtype=dtype if v.is_floating_point() else v.dtype).clone()
        if isinstance(v, nn.Module):
            return copy.deepcopy(v).to(device=device, dtype=dtype)
        if isinstance(v, list):
            return [move(x) for x in v]
        return v

    out = {k: move(v) for k, v in inputs.items() if not k.startswith("_")}
    leaves: list[torch.Tensor] = []
    for name in case.grad:
        if name not in out:
            continue
        for x in out[name] if isinstance(out[name], list) else [out[name]]:
            leaves.append(x.requires_grad_(True))
    if case.module_grads:
        for v in out.values():
            if isinstance(v, nn.Module):
                leaves.extend(p for p in v.parameters() if p.requires_grad)
    reseed(out, device)
    return out, leaves


def reseed(t: dict, device: torch.device, seed: int = 0) -> None:
    """Fresh generators for the random parts (gradient_penalty's interpolation), equal on both sides."""
    t["_gen_ours"] = torch.Generator(device=device).manual_seed(seed)
    t["_gen_peer"] = torch.Generator(device=device).manual_seed(seed)


def make(case: Case, size: str, variant: str, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return case.make(SIZES[size], gen, variant)


def describe(inputs: dict) -> str:
    """The main input's shape, for the tables."""
    for v in inputs.values():
        if isinstance(v, torch.Tensor):
            return " × ".join(f"{d:,}" for d in v.shape) or "scalar"
        if isinstance(v, list):
            return f"{len(v)} scalar losses"
    return "?"
