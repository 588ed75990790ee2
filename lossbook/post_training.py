r"""Losses of language-model post-training: knowledge distillation and preference optimisation.

Distillation (``distillation_kl``, ``jsd``) compares a student's softmax with a
teacher's, class by class; the teacher is held fixed (detached). Preference
optimisation (``dpo_loss``, ``ipo_loss``, ``simpo_loss``) takes one
log-probability per response, summed (DPO, IPO) or averaged (SimPO) over its
tokens, for a preferred ("chosen") and a dispreferred ("rejected") response to
the same prompt; a reference model's log-probabilities are detached.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _core

__all__ = ["distillation_kl", "jsd", "dpo_loss", "ipo_loss", "simpo_loss"]


# --------------------------------------------------------------------------
# Checks shared by the two families


def _check_logit_pair(student_logits: object, teacher_logits: object) -> None:
    names = ("student_logits", "teacher_logits")
    _core.num_classes(student_logits, names[0])
    _core.check_pair(student_logits, teacher_logits, names)


def _check_responses(tensors: tuple, names: tuple[str, ...]) -> None:
    """Floating ``(N,)`` tensors of one dtype, device and shape (no broadcasting)."""
    first, name = tensors[0], names[0]
    _core.check_tensor(first, name)
    if first.dim() != 1:
        raise ValueError(f"{name} must have shape (N,), one log-probability per response, got {tuple(first.shape)}")
    for x, n in zip(tensors[1:], names[1:]):
        _core.check_pair(first, x, (name, n))


def _per_sample(x: torch.Tensor, reduction: str) -> torch.Tensor:
    """Sum over every dimension after the batch one, then ``reduction`` over the samples."""
    return _core.reduce(x.flatten(1).sum(1), reduction)


# --------------------------------------------------------------------------
# Distillation


@_core.float32_under_autocast
def distillation_kl(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    reverse: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Knowledge-distillation loss: the KL divergence between temperature-softened teacher and student.

    Per sample, with temperature :math:`T`, :math:`p^t = \operatorname{softmax}(z^t / T)`
    (teacher) and :math:`p^s = \operatorname{softmax}(z^s / T)` (student),

    .. math:: \ell = T^2\, \mathrm{KL}(p^t \,\|\, p^s)
        = T^2 \sum_c p^t_c \left(\log p^t_c - \log p^s_c\right),

    or, with ``reverse=True``, :math:`T^2\,\mathrm{KL}(p^s \,\|\, p^t)`. A
    temperature above 1 flattens both distributions so that the teacher's
    small probabilities (its "dark knowledge") carry weight; the factor
    :math:`T^2` keeps the gradient's size, which falls as :math:`1/T^2`,
    comparable across temperatures (Hinton et al.). The forward divergence
    makes the student cover every mode of the teacher; the reverse one lets it
    settle on one. The teacher is detached. Summed over the class dimension
    (and any further dimensions) per sample; ``"mean"`` averages over samples.
    It is 0 exactly when the two logits give the same distribution.

    No PyTorch counterpart; it equals ``T**2 * F.kl_div(F.log_softmax(s / T, 1),
    F.log_softmax(t / T, 1), log_target=True, reduction="batchmean")`` for
    ``"mean"`` (the arguments swapped for ``reverse=True``).

    Args:
        student_logits: the student's unnormalised scores :math:`z^s` (with gradient).
        teacher_logits: the teacher's scores :math:`z^t`, the same shape (detached).
        temperature: :math:`T` > 0.
        reverse: ``False`` for :math:`\mathrm{KL}(p^t \| p^s)`, ``True`` for
            :math:`\mathrm{KL}(p^s \| p^t)`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        student_logits: ``(N, C)`` or ``(N, C, d1, ...)``.
        teacher_logits: the same shape.

    References:
        G. Hinton, O. Vinyals and J. Dean, "Distilling the Knowledge in a
        Neural Network", NeurIPS Deep Learning Workshop, 2015.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> student = torch.tensor([[1.0, 0.0, -1.0]])
        >>> teacher = torch.tensor([[2.0, 1.0, 0.0]])
        >>> round(lossbook.distillation_kl(student, teacher, temperature=2.0).item(), 4)
        0.0
        >>> teacher = torch.tensor([[0.0, 2.0, 0.0]])
        >>> loss = lossbook.distillation_kl(student, teacher, temperature=2.0)
        >>> round(loss.item(), 4)
        0.8198
        >>> expected = 4 * F.kl_div(F.log_softmax(student / 2, 1), F.log_softmax(teacher / 2, 1),
        ...                         log_target=True, reduction="batchmean")
        >>> torch.allclose(loss, expected)
        True
    """
    _core.check_reduction(reduction)
    _check_logit_pair(student_logits, teacher_logits)
    t = _core.check_positive(temperature, "temperature")
    if not isinstance(reverse, bool):
        raise TypeError(f"reverse must be a bool, got {type(reverse).__name__}")
    log_s = F.log_softmax(student_logits / t, dim=1)
    log_t = F.log_softmax(teacher_logits.detach() / t, dim=1)
    # kl_div(input, target, log_target=True) = exp(target) * (target - input): exactly 0 where
    # the two log-probabilities are equal, and 0 (not NaN) where exp(target) underflows
    kl = F.kl_div(log_t, log_s, log_target=True, reduction="none") if reverse else F.kl_div(
        log_s, log_t, log_target=True, reduction="none")
    return (t * t) * _per_sample(kl, reduction)


@_core.float32_under_autocast
def jsd(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    beta: float = 0.5,
    temperature: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Generalised Jensen–Shannon divergence between the teacher's and the student's softmax (GKD).

    Per sample, with :math:`p^t = \operatorname{softmax}(z^t / T)`,
    :math:`p^s = \operatorname{softmax}(z^s / T)` and the mixture
    :math:`m = \beta\, p^t + (1 - \beta)\, p^s`,

    .. math:: \ell = T^2 \Big(\beta\, \mathrm{KL}(p^t \,\|\, m)
        + (1 - \beta)\, \mathrm{KL}(p^s \,\|\, m)\Big),

    with :math:`\log m` computed as a log-sum-exp of :math:`\log\beta + \log p^t`
    and :math:`\log(1-\beta) + \log p^s`. It is symmetric in the two
    distributions at :math:`\beta = 1/2` (the Jensen–Shannon divergence, at most
    :math:`\log 2` before the factor :math:`T^2`), bounded for every
    :math:`\beta`, and 0 when they agree. At :math:`\beta = 0` and :math:`\beta = 1`
    the mixture is one of the two distributions and the value is 0; divided by
    :math:`\beta` it tends to :math:`\mathrm{KL}(p^t \| p^s)` as
    :math:`\beta \to 0`, divided by :math:`1 - \beta` to
    :math:`\mathrm{KL}(p^s \| p^t)` as :math:`\beta \to 1` (the forward and
    reverse KL, which TRL's ``GKDTrainer`` returns at those two ends). The
    teacher is detached. Summed over the class dimension (and any further
    dimensions) per sample; ``"mean"`` averages over samples.

    No PyTorch counterpart; it equals ``T**2 * (beta * F.kl_div(log_m, log_pt,
    log_target=True) + (1 - beta) * F.kl_div(log_m, log_ps, log_target=True))``
    with ``reduction="batchmean"``, for ``"mean"``.

    Args:
        student_logits: the student's unnormalised scores :math:`z^s` (with gradient).
        teacher_logits: the teacher's scores :math:`z^t`, the same shape (detached).
        beta: the teacher's weight :math:`\beta` in the mixture, in [0, 1].
        temperature: :math:`T` > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        student_logits: ``(N, C)`` or ``(N, C, d1, ...)``.
        teacher_logits: the same shape.

    References:
        R. Agarwal, N. Vieillard, Y. Zhou, P. Stanczyk, S. Ramos, M. Geist and
        O. Bachem, "On-Policy Distillation of Language Models: Learning from
        Self-Generated Mistakes", ICLR 2024.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> student = torch.tensor([[30.0, 0.0]])
        >>> teacher = torch.tensor([[0.0, 30.0]])
        >>> round(lossbook.jsd(student, teacher).item() / math.log(2), 4)
        1.0
        >>> lossbook.jsd(student, teacher, beta=0.0)
        tensor(0.)
    """
    _core.check_reduction(reduction)
    _check_logit_pair(student_logits, teacher_logits)
    b = _core.check_nonnegative(beta, "beta")
    if b > 1:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    t = _core.check_positive(temperature, "temperature")
    log_s = F.log_softmax(student_logits / t, dim=1)
    log_t = F.log_softmax(teacher_logits.detach() / t, dim=1)
    # log m = logsumexp(log b + log p_t, log(1 - b) + log p_s); a weight of 0 is a log of -inf,
    # which logsumexp takes (its softmax gives it weight 0, no NaN)
    log_b = math.log(b) if b > 0 else -math.inf
    log_1mb = math.log1p(-b) if b < 1 else -math.inf
    log_m = torch.logsumexp(torch.stack([log_t + log_b, log_s + log_1mb]), dim=0)
    kl_t = F.kl_div(log_m, log_t, log_target=True, reduction="none")
    kl_s = F.kl_div(log_m, log_s, log_target=True, reduction="none")
    return (t * t) * _per_sample(b * kl_t + (1 - b) * kl_s, reduction)


# --------------------------------------------------------------------------
# Preference optimisation

_DPO_NAMES = ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected")


def _log_ratio_margin(policy_chosen, policy_rejected, ref_chosen, ref_rejected) -> torch.Tensor:
    """``(pc - rc) - (pr - rr)``, the reference values detached."""
    _check_responses((policy_chosen, policy_rejected, ref_chosen, ref_rejected), _DPO_NAMES)
    return (policy_chosen - ref_chosen.detach()) - (policy_rejected - ref_rejected.detach())


@_core.float32_under_autocast
def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Direct Preference Optimisation loss: a Bradley–Terry log-likelihood of the implicit reward margin.

    Per pair, with the policy's log-probabilities :math:`\log\pi(y_w)`,
    :math:`\log\pi(y_l)` of the chosen and the rejected response, the
    reference model's :math:`\log\pi_{\mathrm{ref}}(y_w)`,
    :math:`\log\pi_{\mathrm{ref}}(y_l)`, the implicit reward
    :math:`r(y) = \beta \log\frac{\pi(y)}{\pi_{\mathrm{ref}}(y)}` and the margin
    :math:`h = r(y_w) - r(y_l)`,

    .. math:: \ell = -(1 - \varepsilon)\log\sigma(h) - \varepsilon \log\sigma(-h),

    computed with ``logsigmoid``. With :math:`\varepsilon = 0` it is the
    negative log-likelihood that the chosen response wins under the
    Bradley–Terry model, and its gradient weighs each pair by
    :math:`\beta\,\sigma(-h)`: pairs the policy already ranks right count
    little. :math:`\varepsilon > 0` (conservative DPO) treats each label as
    flipped with probability :math:`\varepsilon`, which bounds the margin the
    loss asks for. The reference values are detached. ``"mean"`` averages
    over pairs.

    No PyTorch counterpart; it equals ``-(1 - e) * F.logsigmoid(h) - e *
    F.logsigmoid(-h)`` with ``h = beta * ((pc - rc) - (pr - rr))``, reduced as asked.

    Args:
        policy_chosen: :math:`\log\pi(y_w \mid x)`, summed over the response's tokens.
        policy_rejected: :math:`\log\pi(y_l \mid x)`.
        ref_chosen: :math:`\log\pi_{\mathrm{ref}}(y_w \mid x)` (detached).
        ref_rejected: :math:`\log\pi_{\mathrm{ref}}(y_l \mid x)` (detached).
        beta: :math:`\beta` > 0, the strength of the implicit KL penalty
            towards the reference (smaller lets the policy move further).
        label_smoothing: :math:`\varepsilon` in [0, 0.5].
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per pair).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        policy_chosen, policy_rejected, ref_chosen, ref_rejected: ``(N,)`` each.

    References:
        R. Rafailov, A. Sharma, E. Mitchell, S. Ermon, C. D. Manning and
        C. Finn, "Direct Preference Optimization: Your Language Model is
        Secretly a Reward Model", NeurIPS 2023; label smoothing: E. Mitchell,
        "A note on DPO with noisy preferences and relationship to IPO", 2023.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> pc, pr = torch.tensor([-5.0, -3.0]), torch.tensor([-6.0, -2.0])
        >>> rc, rr = torch.tensor([-5.0, -3.0]), torch.tensor([-6.0, -2.0])
        >>> round(lossbook.dpo_loss(pc, pr, rc, rr).item() / math.log(2), 4)  # policy = reference: log 2
        1.0
        >>> round(lossbook.dpo_loss(pc + 10, pr, rc, rr, beta=0.5).item(), 4)
        0.0067
    """
    _core.check_reduction(reduction)
    b = _core.check_positive(beta, "beta")
    e = _core.check_nonnegative(label_smoothing, "label_smoothing")
    if e > 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5], got {label_smoothing}")
    h = b * _log_ratio_margin(policy_chosen, policy_rejected, ref_chosen, ref_rejected)
    loss = -F.logsigmoid(h) if e == 0 else -(1 - e) * F.logsigmoid(h) - e * F.logsigmoid(-h)
    return _core.reduce(loss, reduction)


@_core.float32_under_autocast
def ipo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    *,
    beta: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Identity Preference Optimisation loss: the log-ratio margin regressed onto a fixed target.

    Per pair, with the log-ratio margin
    :math:`g = \log\frac{\pi(y_w)}{\pi_{\mathrm{ref}}(y_w)} - \log\frac{\pi(y_l)}{\pi_{\mathrm{ref}}(y_l)}`,

    .. math:: \ell = \Big(g - \frac{1}{2\beta}\Big)^2 .

    Where DPO's :math:`-\log\sigma(\beta g)` keeps falling as :math:`g` grows,
    so that on preferences without noise the margin grows without bound, IPO's
    square has its minimum at :math:`g = 1/(2\beta)`: :math:`\beta` (written
    :math:`\tau` in the paper) fixes how far the policy moves from the
    reference. The reference values are detached. ``"mean"`` averages over pairs.

    No PyTorch counterpart; it equals ``((pc - rc) - (pr - rr) - 1 / (2 * beta)) ** 2``,
    reduced as asked.

    Args:
        policy_chosen: :math:`\log\pi(y_w \mid x)` of the chosen response.
        policy_rejected: :math:`\log\pi(y_l \mid x)` of the rejected one.
        ref_chosen: :math:`\log\pi_{\mathrm{ref}}(y_w \mid x)` (detached).
        ref_rejected: :math:`\log\pi_{\mathrm{ref}}(y_l \mid x)` (detached).
        beta: :math:`\beta` > 0; the target margin is :math:`1/(2\beta)`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per pair).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        policy_chosen, policy_rejected, ref_chosen, ref_rejected: ``(N,)`` each.

    References:
        M. G. Azar, M. Rowland, B. Piot, D. Guo, D. Calandriello, M. Valko and
        R. Munos, "A General Theoretical Paradigm to Understand Learning from
        Human Preferences", AISTATS 2024 (arXiv 2310.12036, 2023).

    Example:
        >>> import torch
        >>> import lossbook
        >>> ref = torch.tensor([-4.0, -4.0])
        >>> pc, pr = torch.tensor([1.0, -4.0]), torch.tensor([-4.0, -4.0])
        >>> lossbook.ipo_loss(pc, pr, ref, ref, beta=0.1, reduction="none")  # target margin 5
        tensor([ 0., 25.])
    """
    _core.check_reduction(reduction)
    b = _core.check_positive(beta, "beta")
    g = _log_ratio_margin(policy_chosen, policy_rejected, ref_chosen, ref_rejected)
    return _core.reduce((g - 1 / (2 * b)) ** 2, reduction)


@_core.float32_under_autocast
def simpo_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    beta: float = 2.0,
    gamma: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Simple Preference Optimisation loss: a reference-free Bradley–Terry loss on length-averaged log-probabilities, with a target margin.

    Per pair, with the length-averaged log-probabilities
    :math:`\bar c = \frac{1}{|y_w|}\log\pi(y_w \mid x)` and
    :math:`\bar r = \frac{1}{|y_l|}\log\pi(y_l \mid x)`,

    .. math:: \ell = -\log\sigma\big(\beta(\bar c - \bar r) - \gamma\big),

    computed with ``logsigmoid``. The reward :math:`\beta \bar c` needs no
    reference model and does not favour long responses; the margin
    :math:`\gamma \ge 0` asks the chosen response to win by at least
    :math:`\gamma / \beta` nats per token. With :math:`\gamma = 0` it is the
    logistic (Bradley–Terry) loss of the reward difference. ``"mean"``
    averages over pairs.

    No PyTorch counterpart; it equals ``-F.logsigmoid(beta * (chosen - rejected)
    - gamma)``, reduced as asked.

    Args:
        chosen: length-averaged log-probability :math:`\bar c` of the chosen response.
        rejected: length-averaged log-probability :math:`\bar r` of the rejected one.
        beta: :math:`\beta` > 0, the scale of the reward.
        gamma: the target reward margin :math:`\gamma` >= 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per pair).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        chosen, rejected: ``(N,)`` each.

    References:
        Y. Meng, M. Xia and D. Chen, "SimPO: Simple Preference Optimization
        with a Reference-Free Reward", NeurIPS 2024.

    Example:
        >>> import torch
        >>> import lossbook
        >>> chosen, rejected = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
        >>> lossbook.simpo_loss(chosen, rejected, reduction="none")  # margins 0 and -3
        tensor([0.6931, 3.0486])
    """
    _core.check_reduction(reduction)
    b = _core.check_positive(beta, "beta")
    g = _core.check_nonnegative(gamma, "gamma")
    _check_responses((chosen, rejected), ("chosen", "rejected"))
    return _core.reduce(-F.logsigmoid(b * (chosen - rejected) - g), reduction)
