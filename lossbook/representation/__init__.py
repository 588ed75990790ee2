r"""Contrastive representation learning: InfoNCE, NT-Xent, CLIP, SigLIP, SupCon, ArcFace and CosFace.

Embeddings are rows, ``(N, D)``, and are L2-normalised inside every loss: the
scores are cosine similarities, divided by a temperature or multiplied by a
scale. ``reduction="none"`` gives one value per anchor (query, view, pair,
image or sample). :func:`info_nce`, :func:`clip_loss` and
:func:`siglip_loss` take ``gather=True`` to use the keys of every process as
negatives (:mod:`lossbook.distributed`).
"""

# The losses live in private modules by topic; this package is their public home.
from ._angular import ArcFace, CosFace, arcface, cosface
from ._clip import clip_loss, siglip_loss
from ._nce import info_nce, nt_xent, supcon

__all__ = ["info_nce", "nt_xent", "clip_loss", "siglip_loss", "supcon", "arcface", "cosface", "ArcFace", "CosFace"]
