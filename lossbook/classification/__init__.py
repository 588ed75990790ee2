r"""Classification losses: cross-entropy and its family, margins, focal losses.

Class scores come first, with the class dimension at dim 1 as in PyTorch:
``(N, C)`` or ``(N, C, d1, ...)``. Class targets are integer indices of shape
``(N, d1, ...)``; binary and multi-label targets are floats of the scores'
shape. ``reduction="none"`` gives one value per sample (per element for the
sigmoid and binary losses, where every element is its own yes/no problem).
"""

# The losses live in private modules by topic; this package is their public home.
from ._focal import focal, softmax_focal
from ._margins import hinge, multiclass_hinge
from ._probabilities import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_divergence,
    nll,
)

__all__ = [
    "cross_entropy", "nll", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "kl_divergence", "hinge", "multiclass_hinge", "focal", "softmax_focal",
]
