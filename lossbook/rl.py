r"""Losses of reinforcement learning: the policy-gradient surrogate, PPO's clipped
surrogate and the temporal-difference (TD) loss.

Neither compares a prediction with a fixed target. The policy-gradient loss
is a *surrogate*: a function whose gradient is an estimate of the gradient of
the expected return, whose value measures nothing. The TD loss is a
regression loss, but on a target built from the model's own next-state
estimate: the target moves as the model learns, and is held fixed
(detached) for each step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _core

__all__ = ["policy_gradient_loss", "ppo_clip_loss", "td_loss"]

#: The log-ratio log_probs - old_log_probs is capped at this inside ppo_clip_loss: exp(50) = 5.2e21
#: is finite in float32, and far beyond any ratio the clip lets an update reach.
_MAX_LOG_RATIO = 50.0


@_core.float32_under_autocast
def policy_gradient_loss(
    log_probs: torch.Tensor, advantages: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""The REINFORCE / policy-gradient surrogate loss.

    For each sampled action :math:`a_t` in state :math:`s_t`, with
    :math:`\log\pi_\theta(a_t \mid s_t)` its log-probability under the
    policy and :math:`A_t` its advantage (a return, or a return minus a
    baseline),

    .. math:: \ell_t = -\log\pi_\theta(a_t \mid s_t)\,A_t .

    The advantages are detached: only the log-probabilities carry a
    gradient, so that
    :math:`\nabla_\theta \ell = -\mathbb E\bigl[A_t\,\nabla_\theta\log\pi_\theta(a_t\mid s_t)\bigr]`,
    minus the policy-gradient theorem's estimate of the gradient of the
    expected return. The value of the loss is not an error: it can be
    negative, it changes when a constant is added to every advantage while
    the expected gradient does not, and it need not fall as the policy
    improves. Read the return, not this loss, to judge training.

    No PyTorch counterpart; it equals ``-(log_probs * advantages.detach())``
    reduced as asked.

    Args:
        log_probs: log-probabilities of the actions taken (with gradient).
        advantages: their advantages or returns, the same shape (any
            gradient they carry is cut).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the inputs' shape.

    Shape:
        log_probs: ``(N,)`` or any shape ``(N, *)``.
        advantages: the same shape.

    References:
        R. J. Williams, "Simple Statistical Gradient-Following Algorithms for
        Connectionist Reinforcement Learning", Machine Learning 8, 1992;
        R. S. Sutton et al., "Policy Gradient Methods for Reinforcement
        Learning with Function Approximation", NeurIPS 2000.

    Example:
        >>> import torch
        >>> import lossbook
        >>> log_probs, advantages = torch.tensor([-0.5, -1.0]), torch.tensor([2.0, 1.0])
        >>> lossbook.policy_gradient_loss(log_probs, advantages)
        tensor(1.)
    """
    _core.check_reduction(reduction)
    _core.check_pair(log_probs, advantages, ("log_probs", "advantages"))
    weighted = log_probs * advantages.detach()
    return -weighted if reduction == "none" else -_core.reduce(weighted, reduction)


@_core.float32_under_autocast
def ppo_clip_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip: float = 0.2,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""PPO's clipped surrogate loss: the policy-gradient surrogate with the probability ratio clipped.

    For each sampled action, with the probability ratio
    :math:`r_t = \pi_\theta(a_t \mid s_t) / \pi_{\theta_{old}}(a_t \mid s_t) = \exp(\log\pi_\theta - \log\pi_{\theta_{old}})`
    and the advantage :math:`A_t`,

    .. math:: \ell_t = -\min\bigl(r_t A_t,\; \operatorname{clip}(r_t, 1 - \epsilon, 1 + \epsilon)\,A_t\bigr).

    The old log-probabilities and the advantages are detached. Inside the
    clip range the loss is :math:`-r_t A_t`, whose gradient at
    :math:`r_t = 1` is that of :func:`policy_gradient_loss`; once the ratio
    has moved past :math:`1 + \epsilon` for a positive advantage, or below
    :math:`1 - \epsilon` for a negative one, the loss is flat and its
    gradient 0, so that several epochs of updates on one batch cannot push
    the policy far from the one that collected it. On the other side
    (ratio above :math:`1 + \epsilon` with a negative advantage, below
    :math:`1 - \epsilon` with a positive one) nothing is clipped: the
    minimum keeps the pessimistic term. The log-ratio is capped at 50
    inside (a ratio of :math:`e^{50} \approx 5 \times 10^{21}`), so that the
    value and the gradient stay finite in float32 and float64 for any finite
    log-probabilities; below the cap the loss is exactly the formula, and
    beyond it the gradient is 0. ``reduction`` averages or sums over the
    actions.

    No PyTorch counterpart; it equals ``-torch.min(ratio * A, ratio.clamp(1 - clip,
    1 + clip) * A)`` with ``ratio = torch.exp(log_probs - old_log_probs.detach())``
    and ``A = advantages.detach()``, reduced as asked.

    Args:
        log_probs: log-probabilities of the actions taken under the current
            policy (with gradient).
        old_log_probs: their log-probabilities under the policy that
            collected the batch, the same shape (detached here).
        advantages: their advantages, the same shape (detached here).
        clip: :math:`\epsilon`, in (0, 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the inputs' shape.

    Shape:
        log_probs: ``(N,)`` or any shape ``(N, *)``.
        old_log_probs, advantages: the same shape.

    References:
        J. Schulman, F. Wolski, P. Dhariwal, A. Radford and O. Klimov,
        "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017.

    Example:
        >>> import torch
        >>> import lossbook
        >>> old, advantages = torch.log(torch.tensor([0.5, 0.5])), torch.tensor([1.0, -1.0])
        >>> new = torch.log(torch.tensor([0.75, 0.75]))  # ratio 1.5 for both
        >>> lossbook.ppo_clip_loss(new, old, advantages, reduction="none")  # -1.2 (clipped), +1.5 (not)
        tensor([-1.2000,  1.5000])
    """
    _core.check_reduction(reduction)
    eps = _core.check_positive(clip, "clip")
    if not eps < 1:
        raise ValueError(f"clip must be in (0, 1), got {clip}")
    clip = eps
    _core.check_pair(log_probs, old_log_probs, ("log_probs", "old_log_probs"))
    _core.check_pair(log_probs, advantages, ("log_probs", "advantages"))
    a = advantages.detach()
    # capped: exp(+1e4) would be inf, and inf * 0 a NaN gradient on the clipped side
    ratio = torch.exp((log_probs - old_log_probs.detach()).clamp(max=_MAX_LOG_RATIO))
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    return -surrogate if reduction == "none" else -_core.reduce(surrogate, reduction)


def td_loss(
    values: torch.Tensor,
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    done: torch.Tensor,
    *,
    gamma: float = 0.99,
    delta: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The one-step temporal-difference loss: the value estimate regressed on its target.

    The target is bootstrapped: the reward plus the discounted estimate of the
    next state.

    With the target :math:`y = r + \gamma\,(1 - d)\,V'` held fixed (no
    gradient flows through it) and the TD error :math:`\delta_{TD} = V - y`,

    .. math::

        \ell = \delta_{TD}^2
        \quad\text{or, with } \delta \text{ given,}\quad
        \ell = \begin{cases}\tfrac12\delta_{TD}^2 & |\delta_{TD}| \le \delta\\
        \delta\,(|\delta_{TD}| - \tfrac12\delta) & \text{otherwise.}\end{cases}

    :math:`V` is the estimate being trained (state values, or the Q-values of
    the actions taken), :math:`V'` the estimate of the next state (from the
    same network or a target network), :math:`d` marks terminal transitions
    (no bootstrapping past the end of an episode). Detaching the target makes
    the gradient the *semi-gradient* of TD learning; differentiating through
    it (the residual gradient) gives a different algorithm, which usually
    learns more slowly and is biased. The Huber form, as in DQN, caps the
    gradient of a large TD error at :math:`\delta`.

    Matches ``F.mse_loss(values, target)`` and, with ``delta``,
    ``F.huber_loss(values, target, delta=delta)``, where ``target`` is
    ``(rewards + gamma * (1 - done) * next_values).detach()``. Note that the
    squared form has no factor 1/2 while the Huber form has one inside
    :math:`|\delta_{TD}| \le \delta`, as in PyTorch. The target is formed
    with one rounding (a fused multiply-add) where the written-out form has
    two.

    Args:
        values: current estimates :math:`V(s)` or :math:`Q(s, a)`.
        rewards: rewards :math:`r`, the same shape.
        next_values: next-state estimates :math:`V'` (detached here).
        done: terminal flags, bool or 0/1 floats, the same shape.
        gamma: discount factor in [0, 1].
        delta: ``None`` for the squared error, or the Huber threshold > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the inputs' shape.

    Shape:
        values, rewards, next_values, done: all ``(N,)`` or all ``(N, *)``.

    References:
        R. S. Sutton, "Learning to Predict by the Methods of Temporal
        Differences", Machine Learning 3, 1988; V. Mnih et al., "Human-Level
        Control through Deep Reinforcement Learning", Nature 518, 2015.

    Example:
        >>> import torch
        >>> import lossbook
        >>> values, rewards = torch.tensor([1.0, 0.5]), torch.tensor([1.0, 0.0])
        >>> next_values, done = torch.tensor([2.0, 4.0]), torch.tensor([0.0, 1.0])
        >>> lossbook.td_loss(values, rewards, next_values, done, gamma=0.5)  # targets 2 and 0
        tensor(0.6250)
    """
    _core.check_reduction(reduction)
    gamma = _core.check_nonnegative(gamma, "gamma")
    if gamma > 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if delta is not None:
        delta = _core.check_positive(delta, "delta")
    _core.check_pair(values, rewards, ("values", "rewards"))
    _core.check_pair(values, next_values, ("values", "next_values"))
    _core.check_tensor(done, "done", floating=False)
    if done.dtype != torch.bool and not done.is_floating_point():
        raise TypeError(f"done must be a bool or floating tensor, got {done.dtype}")
    _core.check_same_device(done, values, ("values", "done"))
    _core.check_same_shape(values, done, ("values", "done"))
    if done.dtype != torch.bool:
        _core.check_binary(done, "done", "hold 0 or 1 (or be a bool tensor)")
    with torch.no_grad():  # the target is a constant: no graph, and one fused multiply-add
        not_done = (~done).to(values.dtype) if done.dtype == torch.bool else 1 - done.to(values.dtype)
        target = torch.addcmul(rewards, not_done, next_values, value=gamma)
    if delta is None:
        return F.mse_loss(values, target, reduction=_core.kernel_reduction(reduction, values.numel()))
    return F.huber_loss(values, target, reduction=_core.kernel_reduction(reduction, values.numel()), delta=delta)
