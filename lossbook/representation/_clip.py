r"""Image-text losses: CLIP's symmetric cross-entropy and SigLIP's pairwise sigmoid (private)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _core
from ..distributed import gather_with_offset
from ._common import embeddings, flag, scalar, similarity

__all__ = ["clip_loss", "siglip_loss"]


@_core.float32_under_autocast
def clip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    *,
    logit_scale: float | torch.Tensor = 1 / 0.07,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""CLIP's contrastive loss: match each image to its text and each text to its image.

    With L2-normalised rows :math:`\hat x_i` (images) and :math:`\hat y_j`
    (texts) and the logits :math:`s_{ij} = t\,\hat x_i\cdot\hat y_j`
    (:math:`t` = ``logit_scale``, :math:`1/\tau`), per pair

    .. math::
        \ell_i = \tfrac12\Big(-\log\frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
        - \log\frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}\Big) ,

    the cross-entropy of row :math:`i` (image to texts) and of column
    :math:`i` (text to images). ``"mean"`` is the mean of the two mean
    cross-entropies, as in Radford et al. (2021); the loss is symmetric in
    ``image`` and ``text``. Each row and each column is normalised over the
    whole batch.

    No PyTorch counterpart; it equals
    ``(F.cross_entropy(s, torch.arange(N)) + F.cross_entropy(s.T, torch.arange(N))) / 2``
    with ``s = logit_scale * F.normalize(image) @ F.normalize(text).T``.

    With ``gather=True`` and an initialised ``torch.distributed`` process
    group, both modalities are gathered from every process
    (:func:`lossbook.distributed.all_gather_with_grad`): each local image is
    scored against all texts and each local text against all images. Summed
    over processes (``reduction="sum"``), the local losses are the loss of
    the global batch.

    Args:
        image: image embeddings.
        text: text embeddings; row ``i`` describes image ``i``.
        logit_scale: :math:`t > 0`, a number or a 0-dim tensor (CLIP learns
            it as ``exp`` of a parameter).
        gather: gather both modalities from every process (see above).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pair).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        image: ``(N, D)``.
        text: ``(N, D)``.

    References:
        A. Radford, J. W. Kim, C. Hallacy et al., "Learning Transferable
        Visual Models From Natural Language Supervision", ICML 2021.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> round(lossbook.clip_loss(x, x, logit_scale=1.0).item(), 4), round(math.log(1 + math.exp(-1)), 4)
        (0.3133, 0.3133)
    """
    _core.check_reduction(reduction)
    flag(gather, "gather")
    embeddings(("image", image), ("text", text))
    scale = scalar(logit_scale, "logit_scale", image, "image", positive=True)
    x, y = F.normalize(image, dim=1), F.normalize(text, dim=1)
    if gather:
        x_all, offset = gather_with_offset(x)
        y_all, _ = gather_with_offset(y)
        target = torch.arange(offset, offset + x.shape[0], device=x.device)
        rows = F.cross_entropy(scale * similarity(x, y_all), target, reduction="none")
        cols = F.cross_entropy(scale * similarity(y, x_all), target, reduction="none")
    else:
        logits = scale * similarity(x, y)
        target = torch.arange(x.shape[0], device=x.device)
        rows = F.cross_entropy(logits, target, reduction="none")
        cols = F.cross_entropy(logits.T, target, reduction="none")
    return _core.reduce((rows + cols) / 2, reduction)


@_core.float32_under_autocast
def siglip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    *,
    logit_scale: float | torch.Tensor = 10.0,
    logit_bias: float | torch.Tensor = -10.0,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""SigLIP's pairwise sigmoid loss: every image-text pair is its own binary match-or-not problem.

    With L2-normalised rows :math:`\hat x_i, \hat y_j`, scale :math:`t`,
    bias :math:`b`, and :math:`l_{ij} = +1` for a matching pair
    (:math:`i = j`) and :math:`-1` otherwise, per image

    .. math::
        \ell_i = -\sum_j \log \sigma\big(l_{ij}\,(t\,\hat x_i\cdot\hat y_j + b)\big) .

    ``"mean"`` divides the sum over all :math:`N^2` pairs by :math:`N`, as
    Zhai et al. (2023) and their code (``big_vision``) do. No softmax: no
    term needs any other, so the :math:`N \times N` pairs can be computed in
    chunks. The defaults :math:`t = 10`, :math:`b = -10` are the paper's
    initialisation (it learns both); the bias keeps the many negatives from
    dominating the first steps.

    No PyTorch counterpart; it equals
    ``-F.logsigmoid(labels * (logit_scale * F.normalize(image) @ F.normalize(text).T + logit_bias)).sum() / N``
    with ``labels = 2 * torch.eye(N) - 1``.

    With ``gather=True`` and an initialised ``torch.distributed`` process
    group, the texts of every process are gathered
    (:func:`lossbook.distributed.all_gather_with_grad`) and each local image
    is paired with all of them. Summed over processes (``reduction="sum"``),
    the local losses are the loss of the global batch.

    Args:
        image: image embeddings.
        text: text embeddings; row ``i`` matches image ``i``.
        logit_scale: :math:`t > 0`, a number or a 0-dim tensor.
        logit_bias: :math:`b`, a finite number or a 0-dim tensor.
        gather: gather the texts of every process (see above).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per image).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        image: ``(N, D)``.
        text: ``(N, D)``.

    References:
        X. Zhai, B. Mustafa, A. Kolesnikov and L. Beyer, "Sigmoid Loss for
        Language Image Pre-Training", ICCV 2023.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> # t = 1, b = 0: per image -log sigmoid(1) - log sigmoid(-0) = log(1 + 1/e) + log 2
        >>> got = lossbook.siglip_loss(x, x, logit_scale=1.0, logit_bias=0.0)
        >>> round(got.item(), 4), round(math.log(1 + math.exp(-1)) + math.log(2), 4)
        (1.0064, 1.0064)
    """
    _core.check_reduction(reduction)
    flag(gather, "gather")
    embeddings(("image", image), ("text", text))
    scale = scalar(logit_scale, "logit_scale", image, "image", positive=True)
    bias = scalar(logit_bias, "logit_bias", image, "image", positive=False)
    x, y = F.normalize(image, dim=1), F.normalize(text, dim=1)
    offset = 0
    if gather:
        y, offset = gather_with_offset(y)
    logits = scale * similarity(x, y) + bias
    match = (torch.arange(x.shape[0], device=x.device) + offset)[:, None] == torch.arange(
        y.shape[0], device=x.device
    )[None, :]
    loss = -F.logsigmoid(torch.where(match, logits, -logits)).sum(1)  # l_ij * logits, stably
    return _core.reduce(loss, reduction)
