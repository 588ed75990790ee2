"""Metadata of every loss in lossbook: one :class:`LossRecord` per loss.

The book renders its overview tables, cheat sheet and glossary from here, and
the test suite iterates over it: a loss in the catalog without a reference
test, a gradient check or a bad-input test fails the suite. Adding a loss is
one function and one record in :data:`RECORDS`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from . import (
    adversarial,
    boxes,
    classification,
    composite,
    language_model,
    metric,
    post_training,
    probabilistic,
    regression,
    representation,
    rl,
    robust,
    segmentation,
)

__all__ = ["LossRecord", "RECORDS", "TERMS", "get", "keys", "by_family", "to_markdown", "inputs"]

#: The source articles (``shared/sources``), by the number their file name starts with.
SOURCES = {
    "000": "Different types of loss functions in deep learning, pros and cons",
    "001": "Loss functions 1: what a loss is, its roles, training loops",
    "002": "Loss functions in deep learning: a full survey",
    "003": "Common loss functions for classification and regression",
    "004": "Cross-entropy and mean squared error in deep learning",
}


@dataclass(frozen=True)
class LossRecord:
    """What the book and the tests need to know about one loss."""

    key: str  #: the function's name in :mod:`lossbook`
    function: Callable  #: the loss itself
    family: str  #: the module it lives in (``"regression"``, ...)
    name: str  #: English name
    chinese: str  #: Chinese name, for the glossary
    formula: str  #: per-element or per-sample loss in LaTeX
    task: str  #: what it is used for
    sources: tuple[str, ...]  #: source articles that discuss it (keys of SOURCES)
    counterpart: str | None  #: the PyTorch/torchvision function it matches, if any
    paper: str  #: where it comes from
    chapter: str  #: the book chapter (document name) that teaches it


_MODULES = {
    "regression": regression,
    "probabilistic": probabilistic,
    "classification": classification,
    "metric": metric,
    "representation": representation,
    "boxes": boxes,
    "segmentation": segmentation,
    "adversarial": adversarial,
    "rl": rl,
    "post_training": post_training,
    "composite": composite,
    "robust": robust,
    "language_model": language_model,
}


def _record(family: str, chapter: str, **kw) -> LossRecord:
    return LossRecord(
        family=family, function=getattr(_MODULES[family], kw["key"]), chapter=chapter, **kw
    )


def _regression(**kw) -> LossRecord:
    return _record("regression", "book/regression", **kw)


RECORDS: tuple[LossRecord, ...] = (
    _regression(
        key="mse", name="Mean squared error (L2)", chinese="均方误差",
        formula=r"(\hat y - y)^2", task="regression",
        sources=("000", "001", "002", "003", "004"),
        counterpart="torch.nn.functional.mse_loss",
        paper="Legendre (1805); Gauss (1809): least squares",
    ),
    _regression(
        key="rmse", name="Root mean squared error", chinese="均方根误差",
        formula=r"\sqrt{\tfrac1n \sum_i (\hat y_i - y_i)^2}", task="regression",
        sources=("001",), counterpart=None,
        paper="Gauss (1809): the standard error of least squares",
    ),
    _regression(
        key="mae", name="Mean absolute error (L1)", chinese="平均绝对误差",
        formula=r"|\hat y - y|", task="regression, robust to outliers",
        sources=("001", "002", "003"), counterpart="torch.nn.functional.l1_loss",
        paper="Laplace (1774): least absolute deviations",
    ),
    _regression(
        key="huber", name="Huber loss", chinese="Huber损失",
        formula=r"\begin{cases}\tfrac12 r^2 & |r|\le\delta\\ \delta(|r|-\tfrac12\delta) & |r|>\delta\end{cases}",
        task="regression, robust to outliers", sources=("000", "002"),
        counterpart="torch.nn.functional.huber_loss",
        paper="Huber (1964), Robust Estimation of a Location Parameter",
    ),
    _regression(
        key="smooth_l1", name="Smooth L1 loss", chinese="平滑L1损失",
        formula=r"\begin{cases}r^2/(2\beta) & |r|<\beta\\ |r|-\tfrac12\beta & |r|\ge\beta\end{cases}",
        task="regression, box coordinates in detection", sources=("002",),
        counterpart="torch.nn.functional.smooth_l1_loss",
        paper="Girshick (2015), Fast R-CNN",
    ),
    _regression(
        key="pseudo_huber", name="Pseudo-Huber (Charbonnier) loss", chinese="伪Huber损失",
        formula=r"\delta^2\left(\sqrt{1+(r/\delta)^2}-1\right)",
        task="regression, robust and smooth", sources=("003",), counterpart=None,
        paper="Charbonnier et al. (1994); Hartley and Zisserman (2004)",
    ),
    _regression(
        key="log_cosh", name="Log-cosh loss", chinese="对数双曲余弦损失",
        formula=r"\log\cosh(\hat y - y)", task="regression, robust and smooth",
        sources=(), counterpart=None,
        paper="Saleh and Saleh (2022), Statistical properties of the log-cosh loss",
    ),
    _record(
        "probabilistic", "book/regression",
        key="gaussian_nll", name="Gaussian negative log-likelihood", chinese="高斯负对数似然",
        formula=r"\tfrac12\bigl(\log\sigma^2 + (\mu - y)^2 / \sigma^2\bigr)",
        task="regression with a predicted variance (heteroscedastic uncertainty)", sources=(),
        counterpart="torch.nn.functional.gaussian_nll_loss",
        paper="Nix and Weigend (1994), Estimating the mean and variance of the target probability distribution",
    ),
    _record(
        "probabilistic", "book/regression",
        key="beta_nll", name="Beta-NLL (β-NLL, variance-weighted Gaussian NLL)", chinese="β-NLL（β负对数似然）",
        formula=r"\lfloor\sigma^{2\beta}\rfloor \cdot \tfrac12\bigl(\log\sigma^2 + (\mu - y)^2 / \sigma^2\bigr)",
        task="regression with a predicted variance that still fits the mean in noisy regions", sources=(),
        counterpart=None,
        paper="Seitzer et al. (2022), On the Pitfalls of Heteroscedastic Uncertainty Estimation with Probabilistic Neural Networks",
    ),
    _record(
        "probabilistic", "book/regression",
        key="poisson_nll", name="Poisson negative log-likelihood", chinese="泊松负对数似然",
        formula=r"e^{x} - y\,x \quad (x = \log\lambda)",
        task="regression of counts (events, photons, clicks)", sources=(),
        counterpart="torch.nn.functional.poisson_nll_loss",
        paper="Nelder and Wedderburn (1972), Generalized Linear Models",
    ),
    _record(
        "probabilistic", "book/regression",
        key="quantile", name="Quantile (pinball) loss", chinese="分位数损失",
        formula=r"\max\bigl(q\,(y - \hat y),\ (q - 1)(y - \hat y)\bigr)",
        task="quantile regression, prediction intervals", sources=(),
        counterpart=None,
        paper="Koenker and Bassett (1978), Regression Quantiles",
    ),
    _record(
        "classification", "book/probabilities",
        key="cross_entropy", name="Cross-entropy (softmax)", chinese="交叉熵损失",
        formula=r"-w_y \log \frac{e^{z_y}}{\sum_c e^{z_c}}",
        task="multi-class classification (also weighted, label-smoothed, soft targets)",
        sources=("000", "001", "002", "003", "004"),
        counterpart="torch.nn.functional.cross_entropy",
        paper="Bishop (2006), Pattern Recognition and Machine Learning, §4.3.4",
    ),
    _record(
        "classification", "book/probabilities",
        key="nll", name="Negative log-likelihood", chinese="负对数似然损失",
        formula=r"-w_y\, s_y \quad (s = \log\mathrm{softmax}(z))",
        task="multi-class classification from log-probabilities", sources=("002",),
        counterpart="torch.nn.functional.nll_loss",
        paper="Fisher (1922): maximum likelihood",
    ),
    _record(
        "classification", "book/probabilities",
        key="binary_cross_entropy", name="Binary cross-entropy (log loss)", chinese="二元交叉熵（对数损失）",
        formula=r"-\big(t\log p + (1-t)\log(1-p)\big)",
        task="binary and multi-label classification, from probabilities",
        sources=("001", "002", "003"), counterpart="torch.nn.functional.binary_cross_entropy",
        paper="Cox (1958), The regression analysis of binary sequences",
    ),
    _record(
        "classification", "book/probabilities",
        key="binary_cross_entropy_with_logits", name="Binary cross-entropy with logits",
        chinese="带logits的二元交叉熵",
        formula=r"w_+ t\,\mathrm{softplus}(-x) + (1-t)\,\mathrm{softplus}(x)",
        task="binary and multi-label classification, from logits (stable)",
        sources=("002", "003"), counterpart="torch.nn.functional.binary_cross_entropy_with_logits",
        paper="Cox (1958), The regression analysis of binary sequences",
    ),
    _record(
        "classification", "book/probabilities",
        key="kl_divergence", name="Kullback–Leibler divergence", chinese="KL散度",
        formula=r"\sum_c q_c\,(\log q_c - \log p_c)",
        task="matching a target distribution (distillation, soft labels)", sources=("003",),
        counterpart="torch.nn.functional.kl_div",
        paper="Kullback and Leibler (1951), On Information and Sufficiency",
    ),
    _record(
        "classification", "book/margins",
        key="hinge", name="Hinge loss", chinese="合页损失（Hinge损失）",
        formula=r"\max(0,\ m - t s)", task="binary classification with a margin (SVM)",
        sources=("000", "001"), counterpart=None,
        paper="Cortes and Vapnik (1995), Support-Vector Networks",
    ),
    _record(
        "classification", "book/margins",
        key="multiclass_hinge", name="Multi-class hinge (Weston–Watkins)", chinese="多类合页损失",
        formula=r"\tfrac1C \sum_{c\ne y} \max(0,\ m - s_y + s_c)^p",
        task="multi-class classification with a margin", sources=("000",),
        counterpart="torch.nn.functional.multi_margin_loss",
        paper="Weston and Watkins (1999), SVMs for Multi-Class Pattern Recognition",
    ),
    _record(
        "classification", "book/margins",
        key="focal", name="Focal loss (sigmoid)", chinese="焦点损失（Focal Loss）",
        formula=r"-\alpha_t (1-p_t)^\gamma \log p_t",
        task="binary / multi-label classification with many easy negatives (dense detection)",
        sources=("001", "002"), counterpart="torchvision.ops.sigmoid_focal_loss",
        paper="Lin et al. (2017), Focal Loss for Dense Object Detection",
    ),
    _record(
        "classification", "book/margins",
        key="softmax_focal", name="Focal loss (softmax, multi-class)", chinese="多类焦点损失",
        formula=r"-w_y (1-p_y)^\gamma \log p_y",
        task="multi-class classification with class imbalance", sources=("002",),
        counterpart=None, paper="Lin et al. (2017), Focal Loss for Dense Object Detection",
    ),
    _record(
        "metric", "book/embeddings",
        key="triplet", name="Triplet margin loss", chinese="三元组损失",
        formula=r"\max\big(0,\ d(a,p) - d(a,n) + m\big)",
        task="metric learning: verification, retrieval (anchor, positive, negative)",
        sources=("000", "002"), counterpart="torch.nn.functional.triplet_margin_loss",
        paper="Schroff et al. (2015), FaceNet; Weinberger and Saul (2009), LMNN",
    ),
    _record(
        "metric", "book/embeddings",
        key="contrastive", name="Contrastive loss", chinese="对比损失",
        formula=r"s\,d^2 + (1-s)\max(0,\ m - d)^2",
        task="metric learning on pairs (similar / dissimilar)", sources=("002",),
        counterpart=None,
        paper="Hadsell, Chopra and LeCun (2006), Dimensionality Reduction by Learning an Invariant Mapping",
    ),
    _record(
        "representation", "book/contrastive",
        key="info_nce", name="InfoNCE loss", chinese="InfoNCE 损失（信息噪声对比估计）",
        formula=r"-\log \frac{e^{\hat q_i\cdot\hat k_i/\tau}}{\sum_j e^{\hat q_i\cdot\hat k_j/\tau}}",
        task="contrastive representation learning: each query against its key and the other keys",
        sources=(), counterpart=None,
        paper="Oord, Li and Vinyals (2018), Representation Learning with Contrastive Predictive Coding",
    ),
    _record(
        "representation", "book/contrastive",
        key="nt_xent", name="NT-Xent loss (SimCLR)", chinese="NT-Xent 归一化温度交叉熵",
        formula=r"-\log \frac{e^{\hat z_a\cdot\hat z_{p(a)}/\tau}}{\sum_{b\ne a} e^{\hat z_a\cdot\hat z_b/\tau}}",
        task="self-supervised learning from two augmented views of each sample",
        sources=(), counterpart=None,
        paper="Chen et al. (2020), A Simple Framework for Contrastive Learning of Visual Representations (SimCLR)",
    ),
    _record(
        "representation", "book/contrastive",
        key="clip_loss", name="CLIP contrastive loss", chinese="CLIP 对比损失",
        formula=r"\tfrac12\big(\mathrm{CE}_{\text{rows}}(t\,\hat X\hat Y^\top) + \mathrm{CE}_{\text{cols}}(t\,\hat X\hat Y^\top)\big)",
        task="image-text (two-modality) pre-training and retrieval",
        sources=(), counterpart=None,
        paper="Radford et al. (2021), Learning Transferable Visual Models From Natural Language Supervision (CLIP)",
    ),
    _record(
        "representation", "book/contrastive",
        key="siglip_loss", name="SigLIP pairwise sigmoid loss", chinese="SigLIP 成对 sigmoid 损失",
        formula=r"-\tfrac1N \sum_{i,j} \log\sigma\big(l_{ij}(t\,\hat x_i\cdot\hat y_j + b)\big)",
        task="image-text pre-training without a softmax over the batch",
        sources=(), counterpart=None,
        paper="Zhai et al. (2023), Sigmoid Loss for Language Image Pre-Training (SigLIP)",
    ),
    _record(
        "representation", "book/contrastive",
        key="supcon", name="Supervised contrastive loss", chinese="监督对比损失",
        formula=r"-\frac{1}{|P(i)|}\sum_{p\in P(i)} \log \frac{e^{\hat z_i\cdot\hat z_p/\tau}}{\sum_{a\ne i} e^{\hat z_i\cdot\hat z_a/\tau}}",
        task="contrastive learning with labels: every same-class sample is a positive",
        sources=(), counterpart=None,
        paper="Khosla et al. (2020), Supervised Contrastive Learning",
    ),
    _record(
        "representation", "book/contrastive",
        key="arcface", name="ArcFace (additive angular margin) loss", chinese="ArcFace 加性角度间隔损失",
        formula=r"-\log \frac{e^{s\cos(\theta_y + m)}}{e^{s\cos(\theta_y + m)} + \sum_{c\ne y} e^{s\cos\theta_c}}",
        task="face recognition and other open-set identification: classification with an angular margin",
        sources=(), counterpart=None,
        paper="Deng et al. (2019), ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
    ),
    _record(
        "representation", "book/contrastive",
        key="cosface", name="CosFace (large margin cosine) loss", chinese="CosFace 大间隔余弦损失",
        formula=r"-\log \frac{e^{s(\cos\theta_y - m)}}{e^{s(\cos\theta_y - m)} + \sum_{c\ne y} e^{s\cos\theta_c}}",
        task="face recognition and other open-set identification: classification with a cosine margin",
        sources=(), counterpart=None,
        paper="Wang et al. (2018), CosFace: Large Margin Cosine Loss for Deep Face Recognition",
    ),
    _record(
        "boxes", "book/boxes_and_masks",
        key="iou_loss", name="IoU loss", chinese="IoU损失（交并比损失）",
        formula=r"1 - \frac{|B \cap B^{gt}|}{|B \cup B^{gt}|}",
        task="bounding-box regression", sources=("001",), counterpart=None,
        paper="Yu et al. (2016), UnitBox",
    ),
    _record(
        "boxes", "book/boxes_and_masks",
        key="giou_loss", name="Generalized IoU loss", chinese="GIoU损失",
        formula=r"1 - \mathrm{IoU} + \frac{|C| - |B \cup B^{gt}|}{|C|}",
        task="bounding-box regression (gradient for disjoint boxes)", sources=(),
        counterpart="torchvision.ops.generalized_box_iou_loss",
        paper="Rezatofighi et al. (2019), Generalized Intersection over Union",
    ),
    _record(
        "boxes", "book/boxes_and_masks",
        key="diou_loss", name="Distance IoU loss", chinese="DIoU损失",
        formula=r"1 - \mathrm{IoU} + \rho^2 / c^2",
        task="bounding-box regression (centre distance)", sources=(),
        counterpart="torchvision.ops.distance_box_iou_loss",
        paper="Zheng et al. (2020), Distance-IoU Loss",
    ),
    _record(
        "boxes", "book/boxes_and_masks",
        key="ciou_loss", name="Complete IoU loss", chinese="CIoU损失",
        formula=r"1 - \mathrm{IoU} + \rho^2 / c^2 + \alpha v",
        task="bounding-box regression (centre distance and aspect ratio)", sources=("001",),
        counterpart="torchvision.ops.complete_box_iou_loss",
        paper="Zheng et al. (2020), Distance-IoU Loss",
    ),
    _record(
        "segmentation", "book/boxes_and_masks",
        key="dice_loss", name="Dice loss (soft)", chinese="Dice损失",
        formula=r"1 - \frac{2\sum_i p_i t_i + s}{\sum_i p_i + \sum_i t_i + s}",
        task="segmentation under class imbalance", sources=("002",), counterpart=None,
        paper="Dice (1945); Milletari et al. (2016), V-Net",
    ),
    _record(
        "segmentation", "book/boxes_and_masks",
        key="tversky_loss", name="Tversky loss", chinese="Tversky 损失",
        formula=r"1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}",
        task="segmentation: trade false positives against false negatives", sources=(), counterpart=None,
        paper="Salehi et al. (2017), Tversky loss function for image segmentation",
    ),
    _record(
        "segmentation", "book/boxes_and_masks",
        key="focal_tversky_loss", name="Focal Tversky loss", chinese="焦点 Tversky 损失",
        formula=r"\Bigl(1 - \frac{TP + s}{TP + \alpha\,FP + \beta\,FN + s}\Bigr)^{\gamma}",
        task="segmentation of small lesions", sources=(), counterpart=None,
        paper="Abraham and Khan (2019), A novel focal Tversky loss function",
    ),
    _record(
        "segmentation", "book/boxes_and_masks",
        key="lovasz_hinge", name="Lovász hinge loss", chinese="Lovász 铰链损失",
        formula=r"\sum_k \max(0, e_{\pi_k})\,\bigl(\Delta_J(\pi_{1..k}) - \Delta_J(\pi_{1..k-1})\bigr)",
        task="binary segmentation: optimise the IoU (Jaccard index)", sources=(), counterpart=None,
        paper="Berman, Triki and Blaschko (2018), The Lovász-Softmax loss",
    ),
    _record(
        "adversarial", "book/adversarial",
        key="gan_discriminator_loss", name="GAN discriminator loss", chinese="GAN判别器损失",
        formula=r"-\log D(x) - \log(1 - D(G(z)))",
        task="generative modelling (GAN): train the discriminator", sources=("002",),
        counterpart="torch.nn.functional.binary_cross_entropy_with_logits",
        paper="Goodfellow et al. (2014), Generative Adversarial Nets",
    ),
    _record(
        "adversarial", "book/adversarial",
        key="gan_generator_loss", name="GAN generator loss (non-saturating or minimax)",
        chinese="GAN生成器损失",
        formula=r"-\log D(G(z)) \;\text{or}\; \log(1 - D(G(z)))",
        task="generative modelling (GAN): train the generator", sources=("002",),
        counterpart="torch.nn.functional.binary_cross_entropy_with_logits",
        paper="Goodfellow et al. (2014), Generative Adversarial Nets",
    ),
    _record(
        "adversarial", "book/adversarial",
        key="wasserstein_critic_loss", name="Wasserstein critic loss", chinese="Wasserstein判别器（评论家）损失",
        formula=r"\mathbb{E}[f(G(z))] - \mathbb{E}[f(x)]",
        task="generative modelling (WGAN): train the critic", sources=("002",), counterpart=None,
        paper="Arjovsky, Chintala and Bottou (2017), Wasserstein GAN",
    ),
    _record(
        "adversarial", "book/adversarial",
        key="wasserstein_generator_loss", name="Wasserstein generator loss", chinese="Wasserstein生成器损失",
        formula=r"-\mathbb{E}[f(G(z))]",
        task="generative modelling (WGAN): train the generator", sources=("002",), counterpart=None,
        paper="Arjovsky, Chintala and Bottou (2017), Wasserstein GAN",
    ),
    _record(
        "adversarial", "book/adversarial",
        key="gradient_penalty", name="Gradient penalty (WGAN-GP)", chinese="梯度惩罚",
        formula=r"(\|\nabla_{\hat x} f(\hat x)\|_2 - 1)^2",
        task="keeping a Wasserstein critic 1-Lipschitz", sources=(), counterpart=None,
        paper="Gulrajani et al. (2017), Improved Training of Wasserstein GANs",
    ),
    _record(
        "rl", "book/reinforcement",
        key="policy_gradient_loss", name="Policy-gradient (REINFORCE) surrogate loss",
        chinese="策略梯度损失",
        formula=r"-\log \pi_\theta(a \mid s)\, A",
        task="reinforcement learning: train a policy", sources=("002",), counterpart=None,
        paper="Williams (1992), REINFORCE; Sutton et al. (2000), policy gradient theorem",
    ),
    _record(
        "rl", "book/reinforcement",
        key="ppo_clip_loss", name="PPO clipped surrogate loss", chinese="PPO 截断替代目标损失",
        formula=r"-\min\bigl(r A,\ \mathrm{clip}(r, 1 - \epsilon, 1 + \epsilon) A\bigr),\ r = \pi_\theta / \pi_{\theta_{old}}",
        task="reinforcement learning: several policy updates per batch", sources=(), counterpart=None,
        paper="Schulman et al. (2017), Proximal Policy Optimization Algorithms",
    ),
    _record(
        "rl", "book/reinforcement",
        key="td_loss", name="Temporal-difference (TD) loss", chinese="时序差分损失",
        formula=r"\bigl(V(s) - [r + \gamma (1 - d) V(s')]\bigr)^2",
        task="reinforcement learning: learn values or Q-values", sources=("002",),
        counterpart="torch.nn.functional.mse_loss",
        paper="Sutton (1988), temporal differences; Mnih et al. (2015), DQN (Huber form)",
    ),
    _record(
        "post_training", "book/post_training",
        key="distillation_kl", name="Knowledge-distillation KL divergence", chinese="蒸馏 KL 散度",
        formula=r"T^2 \sum_c p^t_c \,(\log p^t_c - \log p^s_c),\ p = \mathrm{softmax}(z / T)",
        task="knowledge distillation: a student matches a teacher's softened distribution", sources=(),
        counterpart=None,
        paper="Hinton, Vinyals and Dean (2015), Distilling the Knowledge in a Neural Network",
    ),
    _record(
        "post_training", "book/post_training",
        key="jsd", name="Generalised Jensen–Shannon divergence (GKD)", chinese="广义 Jensen–Shannon 散度",
        formula=r"T^2\bigl(\beta\,\mathrm{KL}(p^t \| m) + (1-\beta)\,\mathrm{KL}(p^s \| m)\bigr),\ m = \beta p^t + (1-\beta) p^s",
        task="knowledge distillation of language models, between forward and reverse KL", sources=(),
        counterpart=None,
        paper="Agarwal et al. (2024), On-Policy Distillation of Language Models (GKD)",
    ),
    _record(
        "post_training", "book/post_training",
        key="dpo_loss", name="Direct Preference Optimisation (DPO) loss", chinese="DPO 直接偏好优化损失",
        formula=r"-\log\sigma\Bigl(\beta\log\frac{\pi(y_w)}{\pi_{\mathrm{ref}}(y_w)} - \beta\log\frac{\pi(y_l)}{\pi_{\mathrm{ref}}(y_l)}\Bigr)",
        task="preference optimisation of a language model against a reference", sources=(),
        counterpart=None,
        paper="Rafailov et al. (2023), Direct Preference Optimization",
    ),
    _record(
        "post_training", "book/post_training",
        key="ipo_loss", name="Identity Preference Optimisation (IPO) loss", chinese="IPO 身份偏好优化损失",
        formula=r"\Bigl(\log\frac{\pi(y_w)}{\pi_{\mathrm{ref}}(y_w)} - \log\frac{\pi(y_l)}{\pi_{\mathrm{ref}}(y_l)} - \frac{1}{2\beta}\Bigr)^2",
        task="preference optimisation with a bounded margin", sources=(),
        counterpart=None,
        paper="Azar et al. (2023), A General Theoretical Paradigm to Understand Learning from Human Preferences",
    ),
    _record(
        "post_training", "book/post_training",
        key="simpo_loss", name="Simple Preference Optimisation (SimPO) loss", chinese="SimPO 简单偏好优化损失",
        formula=r"-\log\sigma\bigl(\beta(\bar c - \bar r) - \gamma\bigr)",
        task="reference-free preference optimisation on length-averaged log-probabilities", sources=(),
        counterpart=None,
        paper="Meng, Xia and Chen (2024), SimPO: Simple Preference Optimization with a Reference-Free Reward",
    ),
    _record(
        "composite", "book/combining",
        key="weighted_sum", name="Weighted sum of losses (multi-task, composite)", chinese="多任务加权损失",
        formula=r"\sum_i w_i L_i",
        task="multi-task learning, composite objectives", sources=("002",), counterpart=None,
        paper="Caruana (1997), Multitask Learning",
    ),
    _record(
        "composite", "book/combining",
        key="UncertaintyWeighting", name="Uncertainty weighting (learned task weights)",
        chinese="不确定性加权",
        formula=r"\sum_i e^{-s_i} L_i + s_i",
        task="multi-task learning with learned weights", sources=("002",), counterpart=None,
        paper="Kendall, Gal and Cipolla (2018), Multi-Task Learning Using Uncertainty",
    ),
    _record(
        "robust", "book/combining",
        key="general_robust", name="General robust loss (Barron)", chinese="通用鲁棒损失",
        formula=r"\frac{|\alpha-2|}{\alpha}\Bigl[\Bigl(\frac{(x/c)^2}{|\alpha-2|} + 1\Bigr)^{\alpha/2} - 1\Bigr]",
        task="regression, one dial between L2 and very robust losses", sources=("002",), counterpart=None,
        paper="Barron (2019), A General and Adaptive Robust Loss Function",
    ),
    _record(
        "robust", "book/combining",
        key="AdaptiveRobustLoss", name="Adaptive robust loss (learned shape and scale)",
        chinese="自适应鲁棒损失",
        formula=r"\rho(x, \alpha, c) + \log c + \log Z(\alpha)",
        task="regression where the right robustness is unknown", sources=("002",), counterpart=None,
        paper="Barron (2019), A General and Adaptive Robust Loss Function",
    ),
    _record(
        "language_model", "book/language_models",
        key="linear_cross_entropy", name="Linear cross-entropy (chunked)", chinese="线性交叉熵（分块）",
        formula=r"-w_y \log \frac{e^{(Wh+b)_y}}{\sum_v e^{(Wh+b)_v}} \;(+\,\lambda\, \mathrm{lse}^2)",
        task="language models: next-token cross-entropy over a large vocabulary without the logits in memory",
        sources=(), counterpart="torch.nn.functional.linear_cross_entropy",
        paper="Wijmans et al. (2025), Cut Your Losses in Large-Vocabulary Language Models",
    ),
    _record(
        "language_model", "book/language_models",
        key="z_loss", name="Z-loss (log-normaliser penalty)", chinese="z-损失（对数归一化项惩罚）",
        formula=r"\Big(\log \sum_c e^{z_c}\Big)^2",
        task="language models: keeps the softmax normaliser near 1 (added with a small weight)",
        sources=(), counterpart=None,
        paper="Chowdhery et al. (2022), PaLM: Scaling Language Modeling with Pathways",
    ),
)

#: General terms of the book for the glossary: (English, Chinese, one-line meaning).
TERMS: tuple[tuple[str, str, str], ...] = (
    ("loss function", "损失函数", "a number that measures how wrong one prediction is; training minimises its average"),
    ("cost / objective function", "代价函数 / 目标函数", "the quantity an optimiser minimises: the mean loss plus any regularisation"),
    ("empirical risk", "经验风险", "the average loss over the training set"),
    ("residual", "残差", "prediction minus target, r = ŷ − y"),
    ("gradient", "梯度", "the vector of partial derivatives of the loss; its negative is the steepest-descent direction"),
    ("subgradient", "次梯度", "a slope that stays below a convex function at a kink, e.g. any value in [−1, 1] for |r| at 0"),
    ("backpropagation", "反向传播", "the chain rule applied through a network to get the gradient of the loss"),
    ("logit", "对数几率 / 未归一化分数", "a raw score before the sigmoid or softmax; losses on logits are numerically stable"),
    ("softmax", "softmax函数", "turns a vector of logits into probabilities that sum to 1"),
    ("sigmoid", "sigmoid函数", "turns one logit into a probability, σ(x) = 1 / (1 + e^(−x))"),
    ("log-sum-exp", "对数求和指数", "log Σ exp(x_i), computed by subtracting the maximum so that it cannot overflow"),
    ("one-hot encoding", "独热编码", "a class label written as a vector with a 1 at the class and 0 elsewhere"),
    ("label smoothing", "标签平滑", "mixing the one-hot target with a uniform distribution to discourage over-confidence"),
    ("class imbalance", "类别不平衡", "some classes are far rarer than others in the training data"),
    ("class weight", "类别权重", "a per-class factor on the loss that makes rare classes count more"),
    ("margin", "间隔", "how far a score or distance is on the correct side of a decision threshold"),
    ("embedding", "嵌入", "a learned vector representation in which distances mean similarity"),
    ("bounding box", "边界框", "a rectangle (x1, y1, x2, y2) around an object"),
    ("intersection over union (IoU)", "交并比", "area of overlap divided by area of union of two boxes or masks"),
    ("convexity", "凸性", "every chord lies above the graph; a convex loss has no spurious local minima in its argument"),
    ("robustness to outliers", "对异常值的鲁棒性", "how little a few huge residuals can move the fitted model"),
    ("calibration", "校准", "predicted probabilities match observed frequencies"),
    ("proper scoring rule", "恰当评分规则", "a loss whose expected value is minimised by predicting the true probability"),
    ("reduction", "归约", "how per-element losses are combined: mean, sum or none"),
    ("learning rate", "学习率", "the step size of gradient descent"),
    ("gradient clipping", "梯度裁剪", "rescaling a gradient whose norm exceeds a threshold"),
    ("early stopping", "早停", "stopping training when the validation loss stops improving"),
    ("overfitting", "过拟合", "training loss keeps falling while validation loss rises"),
    ("discriminator / critic", "判别器 / 评论家", "the network of a GAN that scores samples as real or generated"),
    ("generator", "生成器", "the network of a GAN that maps noise to samples"),
    ("mode collapse", "模式崩溃", "a generator that produces only a few of the data's modes"),
    ("Lipschitz constraint", "利普希茨约束", "a bound on how fast a function can change; WGAN's critic must be 1-Lipschitz"),
    ("policy", "策略", "the distribution over actions an agent samples from"),
    ("advantage", "优势函数", "how much better an action did than the baseline expected"),
    ("baseline", "基线", "a quantity subtracted from returns to reduce the variance of policy gradients"),
    ("temporal-difference error", "时序差分误差", "value estimate minus its bootstrapped one-step target"),
    ("multi-task learning", "多任务学习", "one model trained on several losses at once"),
    ("negative log-likelihood", "负对数似然", "minus the log of the probability (density) a model gives the data"),
)


def inputs(rec: LossRecord) -> str:
    """The tensor arguments of a loss, from its signature (``forward``'s for a module)."""
    fn = rec.function
    if isinstance(fn, type):
        fn = fn.forward
    names = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.KEYWORD_ONLY or p.name == "self":
            continue
        names.append(p.name)
    return ", ".join(names)


_BY_KEY = {r.key: r for r in RECORDS}


def get(key: str) -> LossRecord:
    """The record of the loss called ``key`` (``KeyError`` naming the known keys)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no loss {key!r} in the catalog; known: {sorted(_BY_KEY)}") from None


def keys() -> list[str]:
    """Every loss key, in catalog order."""
    return [r.key for r in RECORDS]


def by_family(family: str) -> list[LossRecord]:
    """The records of one family, in catalog order."""
    return [r for r in RECORDS if r.family == family]


def to_markdown(records: Iterable[LossRecord], columns: Sequence[str]) -> str:
    """A Markdown table of ``records`` with the given record fields as columns.

    ``formula`` is wrapped in ``$...$``, ``key`` and ``counterpart`` in
    backticks, so the table renders in a notebook and in the book.
    """
    def cell(rec: LossRecord, col: str) -> str:
        value = getattr(rec, col)
        if col == "formula":  # a bare | would end the table cell; \| is a norm
            return "$" + value.replace(r"\|", r"\Vert ").replace("|", r"\vert ") + "$"
        if col in ("key", "counterpart"):
            return f"`{value}`" if value else "—"
        if col == "sources":
            return ", ".join(value) if value else "—"
        return str(value).replace("|", "\\|")

    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * len(columns)
    rows = ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in records]
    return "\n".join([head, rule, *rows])
