"""lossbook: the loss functions of deep learning, explained and tested.

Every loss is a small pure function of PyTorch tensors (prediction first,
then target, keyword-only options) that agrees with PyTorch and torchvision
where they have the same loss, and raises a clear error on input it cannot
mean. See the book for the mathematics and :mod:`lossbook.catalog` for the
list.
"""

from ._core import set_value_checks, value_checks
from ._device import device
from .adversarial import (
    gan_discriminator_loss,
    gan_generator_loss,
    gradient_penalty,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from .boxes import ciou_loss, diou_loss, giou_loss, iou_loss
from .classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    focal,
    hinge,
    kl_divergence,
    multiclass_hinge,
    nll,
    softmax_focal,
)
from .composite import UncertaintyWeighting, weighted_sum
from .language_model import linear_cross_entropy, perplexity, softcap, z_loss
from .metric import contrastive, triplet
from .probabilistic import beta_nll, gaussian_nll, poisson_nll, quantile
from .post_training import distillation_kl, dpo_loss, ipo_loss, jsd, simpo_loss
from .regression import huber, log_cosh, mae, mse, pseudo_huber, rmse, smooth_l1
from .representation import ArcFace, CosFace, arcface, clip_loss, cosface, info_nce, nt_xent, siglip_loss, supcon
from .rl import policy_gradient_loss, ppo_clip_loss, td_loss
from .robust import AdaptiveRobustLoss, general_robust
from .segmentation import dice_loss, focal_tversky_loss, lovasz_hinge, tversky_loss

__version__ = "0.1.0"

__all__ = sorted(
    [
        "binary_cross_entropy",
        "ciou_loss",
        "contrastive",
        "dice_loss",
        "focal_tversky_loss",
        "lovasz_hinge",
        "tversky_loss",
        "diou_loss",
        "giou_loss",
        "iou_loss",
        "triplet",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "focal",
        "hinge",
        "kl_divergence",
        "multiclass_hinge",
        "nll",
        "softmax_focal",
        "device",
        "huber",
        "log_cosh",
        "mae",
        "mse",
        "pseudo_huber",
        "rmse",
        "set_value_checks",
        "smooth_l1",
        "value_checks",
        "gan_discriminator_loss",
        "gan_generator_loss",
        "gradient_penalty",
        "wasserstein_critic_loss",
        "wasserstein_generator_loss",
        "policy_gradient_loss",
        "ppo_clip_loss",
        "td_loss",
        "distillation_kl",
        "dpo_loss",
        "ipo_loss",
        "jsd",
        "simpo_loss",
        "weighted_sum",
        "UncertaintyWeighting",
        "general_robust",
        "AdaptiveRobustLoss",
        "gaussian_nll",
        "beta_nll",
        "poisson_nll",
        "quantile",
        "info_nce",
        "nt_xent",
        "clip_loss",
        "siglip_loss",
        "supcon",
        "arcface",
        "cosface",
        "ArcFace",
        "CosFace",
        "linear_cross_entropy",
        "perplexity",
        "softcap",
        "z_loss",
    ]
)
