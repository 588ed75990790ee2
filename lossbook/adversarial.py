r"""Adversarial losses: the GAN discriminator and generator, the Wasserstein
critic and generator, and the gradient penalty of WGAN-GP.

A GAN trains two networks against each other. The discriminator (critic)
``D`` scores samples; the generator ``G`` maps noise ``z`` to samples. The
functions here take the discriminator's raw outputs (logits or scores), never
probabilities, so that every log is computed in the stable logits form:
:math:`-\log\sigma(l) = \operatorname{softplus}(-l)` and
:math:`-\log(1-\sigma(l)) = \operatorname{softplus}(l)`.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from . import _core

__all__ = [
    "gan_discriminator_loss",
    "gan_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
]


def _check_scores(x: object, name: str) -> torch.Tensor:
    _core.check_tensor(x, name)
    if x.dim() < 1:
        raise ValueError(f"{name} must have a batch dimension, shape (N,) or (N, *), got a scalar")
    return x


def _real_fake(real: object, fake: object, names: tuple[str, str], reduction: str) -> None:
    """Real and fake outputs: floating, same dtype and device; the same shape only for ``"none"``."""
    a, b = names
    _check_scores(real, a)
    _check_scores(fake, b)
    _core.check_same_dtype(fake, real, names)
    _core.check_same_device(fake, real, names)
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"{b} must have the same per-sample shape as {a} {tuple(real.shape[1:])}, "
            f"got {tuple(fake.shape[1:])}"
        )
    if reduction == "none":
        _core.check_same_shape(real, fake, names)


def _two_sided(real_term: torch.Tensor, fake_term: torch.Tensor, reduction: str) -> torch.Tensor:
    # "mean" averages each side over its own batch: real and fake batches may differ in size.
    if reduction == "none":
        return real_term + fake_term
    return _core.reduce(real_term, reduction) + _core.reduce(fake_term, reduction)


def _difference(fake: torch.Tensor, real: torch.Tensor, reduction: str) -> torch.Tensor:
    # reduce first, then subtract: two scalar ops instead of a negated copy of the batch
    if reduction == "none":
        return fake - real
    return _core.reduce(fake, reduction) - _core.reduce(real, reduction)


@_core.float32_under_autocast
def gan_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""The original GAN's discriminator loss: binary cross-entropy of real against 1, fake against 0.

    With :math:`D = \sigma(l)` the discriminator's probability that a sample
    is real,

    .. math:: \ell = -\log D(x) - \log\bigl(1 - D(G(z))\bigr)
              = \operatorname{softplus}(-l_{\text{real}}) + \operatorname{softplus}(l_{\text{fake}}).

    Minimising it is maximising the GAN value function
    :math:`V(D, G) = \mathbb E\log D(x) + \mathbb E\log(1-D(G(z)))` over
    ``D``. ``"mean"`` averages the real and the fake terms each over its own
    batch and adds them, so the two batches may differ in size; ``"sum"``
    sums both; ``"none"`` needs equal shapes and returns the sum of the two
    terms element by element.

    Matches ``F.binary_cross_entropy_with_logits(real, ones) +
    F.binary_cross_entropy_with_logits(fake, zeros)``.

    Args:
        real_logits: the discriminator's logits on real samples.
        fake_logits: its logits on generated samples (detach them when
            training the discriminator).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the inputs' shape.

    Shape:
        real_logits: ``(N, *)``.
        fake_logits: ``(M, *)``, with ``M == N`` for ``"none"``.

    References:
        I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

    Example:
        >>> import torch
        >>> import lossbook
        >>> loss = lossbook.gan_discriminator_loss(torch.zeros(2), torch.zeros(2))
        >>> round(loss.item(), 4)  # 2 log 2
        1.3863
    """
    _core.check_reduction(reduction)
    _real_fake(real_logits, fake_logits, ("real_logits", "fake_logits"), reduction)
    return _two_sided(F.softplus(-real_logits), F.softplus(fake_logits), reduction)


@_core.float32_under_autocast
def gan_generator_loss(
    fake_logits: torch.Tensor, *, non_saturating: bool = True, reduction: str = "mean"
) -> torch.Tensor:
    r"""The generator's loss of the original GAN, non-saturating by default.

    With :math:`D(G(z)) = \sigma(l)` the discriminator's probability that a
    generated sample is real,

    .. math::

        \ell_{\text{NS}} = -\log D(G(z)) = \operatorname{softplus}(-l),
        \qquad
        \ell_{\text{minimax}} = \log\bigl(1 - D(G(z))\bigr) = -\operatorname{softplus}(l).

    The minimax form is the generator's side of the value function; it is
    negative, and its gradient with respect to the logit,
    :math:`-\sigma(l) = -D(G(z))`, vanishes exactly when the discriminator
    confidently rejects the fakes (early in training). The non-saturating
    form has gradient :math:`-(1 - D(G(z)))`, large in that regime; both have
    their stationary points where ``D`` is fooled (Goodfellow et al. 2014, §3).

    Matches ``F.binary_cross_entropy_with_logits(fake, ones)`` (non-saturating)
    and ``-F.binary_cross_entropy_with_logits(fake, zeros)`` (minimax).

    Args:
        fake_logits: the discriminator's logits on generated samples.
        non_saturating: ``True`` for :math:`-\log D(G(z))`, ``False`` for
            the original :math:`\log(1 - D(G(z)))`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the input's shape.

    Shape:
        fake_logits: ``(N, *)``.

    References:
        I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

    Example:
        >>> import torch
        >>> import lossbook
        >>> round(lossbook.gan_generator_loss(torch.zeros(2)).item(), 4)  # -log(1/2)
        0.6931
        >>> minimax = lossbook.gan_generator_loss(torch.zeros(2), non_saturating=False)
        >>> round(minimax.item(), 4)  # log(1 - 1/2)
        -0.6931
    """
    _core.check_reduction(reduction)
    if not isinstance(non_saturating, bool):
        raise TypeError(f"non_saturating must be a bool, got {type(non_saturating).__name__}")
    _check_scores(fake_logits, "fake_logits")
    loss = F.softplus(-fake_logits) if non_saturating else -F.softplus(fake_logits)
    return _core.reduce(loss, reduction)


@_core.float32_under_autocast
def wasserstein_critic_loss(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""The critic's loss of the Wasserstein GAN: mean fake score minus mean real score.

    .. math:: \ell = \mathbb E[f(G(z))] - \mathbb E[f(x)].

    For a 1-Lipschitz critic :math:`f`, the smallest value of this loss is
    minus the Wasserstein-1 (earth mover's) distance between the real and the
    generated distributions (Kantorovich--Rubinstein duality). It is *not* a
    non-negative error: it is usually negative, and it is unbounded below
    unless the critic is kept Lipschitz (weight clipping, or
    :func:`gradient_penalty`). Scores are raw critic outputs, no sigmoid.

    ``"mean"`` is ``mean(fake) - mean(real)`` (batches may differ in size),
    ``"sum"`` is ``sum(fake) - sum(real)``, ``"none"`` needs equal shapes and
    returns ``fake - real``.

    No PyTorch counterpart; it equals ``fake_scores.mean() - real_scores.mean()``.

    Args:
        real_scores: the critic's scores on real samples.
        fake_scores: its scores on generated samples.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the inputs' shape.

    Shape:
        real_scores: ``(N, *)``.
        fake_scores: ``(M, *)``, with ``M == N`` for ``"none"``.

    References:
        M. Arjovsky, S. Chintala and L. Bottou, "Wasserstein Generative
        Adversarial Networks", ICML 2017.

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.wasserstein_critic_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.0]))
        tensor(-1.2500)
    """
    _core.check_reduction(reduction)
    _real_fake(real_scores, fake_scores, ("real_scores", "fake_scores"), reduction)
    return _difference(fake_scores, real_scores, reduction)


@_core.float32_under_autocast
def wasserstein_generator_loss(fake_scores: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""The generator's loss of the Wasserstein GAN: minus the mean critic score of its samples.

    .. math:: \ell = -\mathbb E[f(G(z))].

    The generator moves its samples where the critic scores them higher,
    which for an optimal critic lowers the Wasserstein-1 distance. Like the
    critic loss it can be negative; its value alone says little, the
    critic loss tracks the distance.

    No PyTorch counterpart; it equals ``-fake_scores.mean()``.

    Args:
        fake_scores: the critic's scores on generated samples.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of the input's shape.

    Shape:
        fake_scores: ``(N, *)``.

    References:
        M. Arjovsky, S. Chintala and L. Bottou, "Wasserstein Generative
        Adversarial Networks", ICML 2017.

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.wasserstein_generator_loss(torch.tensor([0.5, 1.5]))
        tensor(-1.)
    """
    _core.check_reduction(reduction)
    _check_scores(fake_scores, "fake_scores")
    if reduction == "none":
        return -fake_scores
    return -_core.reduce(fake_scores, reduction)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""The WGAN-GP gradient penalty: how far the critic's gradient norm is from 1.

    The norm is taken at random points between real and generated samples.

    For each sample, with :math:`u \sim U(0, 1)` drawn per sample,

    .. math::

        \hat x = u\,x_{\text{real}} + (1 - u)\,x_{\text{fake}}, \qquad
        \ell = \bigl(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1\bigr)^2,

    the norm taken over all of a sample's dimensions. ``"mean"`` averages
    over samples, the form Gulrajani et al. add to the critic loss as
    :math:`\lambda\,\ell` (``lambda = 10`` in the paper; the caller
    multiplies). The penalty is a soft version of the 1-Lipschitz constraint
    that the Wasserstein duality needs.

    ``real`` and ``fake`` are detached here: the penalty trains the critic
    only. The result is differentiable with respect to the critic's
    parameters (the input gradient is taken with ``create_graph=True``;
    under ``torch.compile`` with ``torch.func.grad``, for which the critic must
    not update buffers in place, as a ``BatchNorm`` in training mode does).
    Pass a seeded ``torch.Generator`` (on the inputs' device) to make the
    interpolation points reproducible; under ``torch.compile`` leave it
    ``None`` and seed with ``torch.manual_seed``. Inside ``torch.autocast``
    the critic runs under the caller's autocast (it is the caller's model),
    and the penalty from its gradient is computed in float32, as every
    lossbook loss is there.

    No PyTorch counterpart; it equals
    ``((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()`` with
    ``grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]``
    at the interpolates ``x_hat``.

    Args:
        critic: a callable (usually an ``nn.Module``) mapping a batch of
            samples ``(N, *)`` to scores ``(N,)`` or ``(N, 1)``.
        real: a batch of real samples.
        fake: a batch of generated samples, the same shape.
        generator: optional ``torch.Generator`` for the interpolation weights.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        real: ``(N, *)``, e.g. ``(N, 2)`` points or ``(N, C, H, W)`` images.
        fake: the same shape.

    References:
        I. Gulrajani et al., "Improved Training of Wasserstein GANs",
        NeurIPS 2017.

    Example:
        >>> import torch
        >>> import lossbook
        >>> critic = lambda x: 2.0 * x.sum(dim=1)  # gradient norm 2 everywhere
        >>> lossbook.gradient_penalty(critic, torch.zeros(3, 1), torch.ones(3, 1)).item()
        1.0
    """
    _core.check_reduction(reduction)
    if not callable(critic):
        raise TypeError(f"critic must be callable (an nn.Module or a function), got {type(critic).__name__}")
    _core.check_pair(real, fake, ("real", "fake"))
    if real.dim() < 2:
        raise ValueError(f"real must have shape (N, *) with at least one feature dimension, got {tuple(real.shape)}")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        _core.check_same_device(generator, real, ("real", "generator"), type_only=True)
    n = real.shape[0]
    # generator=None spelled out breaks torch.compile with dynamic shapes (torch 2.13): pass it only if given
    drawn_by = {} if generator is None else {"generator": generator}
    u = torch.rand((n,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype, **drawn_by)
    x_hat = u * real.detach() + (1 - u) * fake.detach()

    def total_score(x: torch.Tensor) -> torch.Tensor:
        scores = critic(x)
        _core.check_tensor(scores, "critic(x)")
        if scores.shape not in ((n,), (n, 1)):
            raise ValueError(f"critic must return scores of shape ({n},) or ({n}, 1), got {tuple(scores.shape)}")
        return scores.sum()

    with torch.enable_grad():
        if n == 0:
            # a zero that still backpropagates to whatever the critic's scores depend on
            # (an nn.Module's parameters, or the tensors a plain function closes over)
            penalty = _penalty_dtype(x_hat.new_zeros(0) + 0 * total_score(x_hat))
        elif torch.compiler.is_compiling():
            # torch.compile traces torch.func.grad into the graph (torch.autograd.grad would break
            # it); eager keeps autograd.grad, which allows a critic that updates buffers in place
            # (BatchNorm in training mode), as func.grad does not. test_compile checks they agree.
            grad = torch.func.grad(total_score)(x_hat)
            penalty = _penalty(grad)
        else:
            x_hat.requires_grad_(True)
            (grad,) = torch.autograd.grad(total_score(x_hat), x_hat, create_graph=True)
            penalty = _penalty(grad)
    return _core.reduce(penalty, reduction)


# The critic is the caller's model: it runs under the caller's autocast, as a model does. The
# penalty computed from its input gradient is the loss: in float32 under autocast (_core's rule).
@_core.float32_under_autocast
def _penalty(grad: torch.Tensor) -> torch.Tensor:
    return (torch.linalg.vector_norm(grad.flatten(1), dim=1) - 1) ** 2


@_core.float32_under_autocast
def _penalty_dtype(penalty: torch.Tensor) -> torch.Tensor:
    return penalty
