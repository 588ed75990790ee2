r"""InfoNCE, NT-Xent (SimCLR) and the supervised contrastive loss (private; see lossbook.representation)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _core
from ..distributed import all_gather_with_grad, gather_with_offset
from ._common import embeddings, extra_embeddings, flag, labels_of, similarity

__all__ = ["info_nce", "nt_xent", "supcon"]


def _masked_self(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` (a fresh tensor) with the diagonal, in place, at the dtype's lowest value: no anchor is
    its own candidate.

    The lowest finite value, not -inf: a row with no other entry (one sample)
    then has a finite log-softmax (0) and no NaN gradient.
    """
    logits.diagonal().fill_(torch.finfo(logits.dtype).min)
    return logits


@_core.float32_under_autocast
def info_nce(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    temperature: float = 0.07,
    negatives: torch.Tensor | None = None,
    gather: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""InfoNCE: pick each query's own key out of all the keys, by a softmax over cosine similarities.

    With :math:`\hat q_i, \hat k_j` the L2-normalised rows (cosine
    similarity), temperature :math:`\tau`, and the candidates of query
    :math:`i` all :math:`N` keys (and the :math:`M` extra ``negatives``
    :math:`\hat n_m`), per query

    .. math::
        \ell_i = -\log \frac{e^{\hat q_i\cdot\hat k_i/\tau}}
        {\sum_j e^{\hat q_i\cdot\hat k_j/\tau} + \sum_m e^{\hat q_i\cdot\hat n_m/\tau}} .

    Key :math:`i` is query :math:`i`'s positive; every other key is one of
    its negatives. Over :math:`N` candidates,
    :math:`I(q; k) \ge \log N - \mathcal L` bounds the mutual information
    of the pairs (Oord et al. 2018). ``"mean"`` averages over the queries.
    Zero or identical embeddings give finite values and gradients
    (:func:`torch.nn.functional.normalize` with its ``eps``).

    No PyTorch counterpart; it equals
    ``F.cross_entropy(F.normalize(query) @ F.normalize(key).T / temperature, torch.arange(N))``
    (with the normalised ``negatives`` as extra columns).

    With ``gather=True`` and an initialised ``torch.distributed`` process
    group, the keys (and ``negatives``) of every process are gathered with
    :func:`lossbook.distributed.all_gather_with_grad`, so each local query is
    scored against the keys of the whole global batch; its positive is its
    own key there. Without a process group it changes nothing.

    Args:
        query: the queries (anchors).
        key: the keys; row ``i`` is query ``i``'s positive.
        temperature: :math:`\tau > 0`.
        negatives: optional extra negatives for every query (a memory bank).
        gather: gather the keys of every process (see above).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per query).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        query: ``(N, D)``.
        key: ``(N, D)``.
        negatives: ``(M, D)``.

    References:
        A. van den Oord, Y. Li and O. Vinyals, "Representation Learning with
        Contrastive Predictive Coding", arXiv:1807.03748, 2018.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> # orthogonal pairs, tau = 1: -log(e / (e + 1)) = log(1 + 1/e)
        >>> round(lossbook.info_nce(q, q, temperature=1.0).item(), 4), round(math.log(1 + math.exp(-1)), 4)
        (0.3133, 0.3133)
    """
    _core.check_reduction(reduction)
    temperature = _core.check_positive(temperature, "temperature")
    flag(gather, "gather")
    embeddings(("query", query), ("key", key))
    if negatives is not None:
        extra_embeddings(negatives, "negatives", query, "query")
    q, k = F.normalize(query, dim=1), F.normalize(key, dim=1)
    offset = 0
    if gather:
        k, offset = gather_with_offset(k)
    logits = similarity(q, k)
    if negatives is not None:
        neg = F.normalize(negatives, dim=1)
        if gather:
            neg = all_gather_with_grad(neg)
        logits = torch.cat([logits, similarity(q, neg)], dim=1)
    target = torch.arange(offset, offset + q.shape[0], device=q.device)
    loss = F.cross_entropy(logits / temperature, target, reduction="none")  # log-sum-exp inside
    return _core.reduce(loss, reduction)


@_core.float32_under_autocast
def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""NT-Xent (SimCLR): each of 2N views must find its partner among the other 2N - 1 views.

    The two views of sample :math:`i` are :math:`z_{1,i}` and
    :math:`z_{2,i}`; stack them into :math:`2N` L2-normalised rows
    :math:`\hat z_a` (the first :math:`N` from ``z1``). With
    :math:`p(a)` the partner of view :math:`a` (:math:`a \pm N`), per view

    .. math::
        \ell_a = -\log \frac{e^{\hat z_a\cdot\hat z_{p(a)}/\tau}}
        {\sum_{b \ne a} e^{\hat z_a\cdot\hat z_b/\tau}} ,

    so each anchor has one positive and :math:`2N - 2` negatives (itself
    left out). ``"mean"`` averages over the :math:`2N` anchors, as Chen et
    al. (2020) do. It is :func:`info_nce` of each view against the other
    :math:`2N - 1` views, its partner as the positive.

    No PyTorch counterpart; it equals
    ``F.cross_entropy(s, torch.cat([torch.arange(N, 2 * N), torch.arange(N)]))`` with
    ``z = F.normalize(torch.cat([z1, z2]))`` and ``s = (z @ z.T / temperature)`` with its
    diagonal removed (set to the lowest float).

    Args:
        z1: the first view of each sample.
        z2: the second view, the same shape.
        temperature: :math:`\tau > 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per view: ``z1``'s rows, then ``z2``'s).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(2N,)``.

    Shape:
        z1: ``(N, D)``.
        z2: ``(N, D)``.

    References:
        T. Chen, S. Kornblith, M. Norouzi and G. Hinton, "A Simple Framework
        for Contrastive Learning of Visual Representations", ICML 2020.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> # each view: its partner at cos 1, the two others at cos 0, tau = 1
        >>> round(lossbook.nt_xent(z, z, temperature=1.0).item(), 4), round(math.log(1 + 2 / math.e), 4)
        (0.5514, 0.5514)
    """
    _core.check_reduction(reduction)
    temperature = _core.check_positive(temperature, "temperature")
    embeddings(("z1", z1), ("z2", z2))
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = _masked_self(similarity(z, z) / temperature)
    target = torch.cat([torch.arange(n, 2 * n, device=z.device), torch.arange(n, device=z.device)])
    return _core.reduce(F.cross_entropy(logits, target, reduction="none"), reduction)


@_core.float32_under_autocast
def supcon(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Supervised contrastive loss: every other sample of the anchor's class is a positive.

    With L2-normalised rows :math:`\hat z_i`, :math:`A(i)` all samples but
    :math:`i`, and :math:`P(i) \subset A(i)` those with the label of
    :math:`i`, per anchor (Khosla et al. 2020's :math:`\mathcal L^{sup}_{out}`)

    .. math::
        \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)}
        \log \frac{e^{\hat z_i\cdot\hat z_p/\tau}}{\sum_{a \in A(i)} e^{\hat z_i\cdot\hat z_a/\tau}} .

    The rows are all the views (stack two augmentations of each image, with
    their labels repeated). An anchor without a positive (the only one of its
    class) has no term: ``"none"`` gives 0 for it and ``"mean"`` averages
    over the anchors that have one. The paper's code also multiplies by
    ``temperature / base_temperature`` (1 at its defaults) and counts such
    anchors, as zeros, in the mean; lossbook does neither.

    No PyTorch counterpart; it equals the mean over anchors with a positive of
    ``-(log_prob * pos).sum(1) / pos.sum(1)``, with ``log_prob`` the row-wise
    ``log_softmax`` of ``F.normalize(features) @ F.normalize(features).T / temperature``
    over the other samples and ``pos`` the same-label mask without the diagonal.

    Args:
        features: one embedding per view.
        labels: the class of each row (int64, any values).
        temperature: :math:`\tau > 0`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per anchor).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        features: ``(N, D)``.
        labels: ``(N,)``.

    References:
        P. Khosla, P. Teterwak, C. Wang, A. Sarna, Y. Tian, P. Isola,
        A. Maschinot, C. Liu and D. Krishnan, "Supervised Contrastive
        Learning", NeurIPS 2020.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> # rows 0 and 1 share a class (cos 1), row 2 has no positive; tau = 1:
        >>> # -log(e / (e + 1)) for each of rows 0 and 1
        >>> round(lossbook.supcon(z, torch.tensor([0, 0, 1]), temperature=1.0).item(), 4)
        0.3133
    """
    _core.check_reduction(reduction)
    temperature = _core.check_positive(temperature, "temperature")
    embeddings(("features", features))
    labels_of(labels, features, "features")
    z = F.normalize(features, dim=1)
    logits = _masked_self(similarity(z, z) / temperature)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    eye = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    count = pos.sum(1)
    loss = -torch.where(pos, log_prob, 0).sum(1) / count.clamp_min(1)
    if reduction == "mean":  # over the anchors that have a positive; 0 (backpropagating) if none has
        return loss.sum() / (count > 0).sum().clamp_min(1)
    return _core.reduce(loss, reduction)
