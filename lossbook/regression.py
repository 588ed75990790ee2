r"""Regression losses: functions of the residual :math:`r = \hat y - y`.

Every loss here takes ``pred`` and ``target`` of the same shape, dtype and
device (no broadcasting) and, except :func:`rmse`, a keyword ``reduction``:
``"mean"`` (default) averages the per-element losses, ``"sum"`` adds them and
``"none"`` returns them, one per element. The mean of an empty batch is a zero
that still backpropagates.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from . import _core

__all__ = ["mse", "rmse", "mae", "huber", "smooth_l1", "pseudo_huber", "log_cosh"]

_LOG2 = math.log(2.0)


def _fused(
    kernel: Callable[..., torch.Tensor],
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: str,
    **kwargs: float,
) -> torch.Tensor:
    """Call a fused PyTorch loss kernel; an empty ``"mean"`` becomes a zero sum."""
    _core.check_pair(pred, target)
    _core.check_reduction(reduction)
    return kernel(pred, target, reduction=_core.empty_safe(reduction, pred.numel()), **kwargs)


def mse(pred: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Mean squared error (L2 loss).

    Per element, with the residual :math:`r = \hat y - y`,

    .. math:: \ell(r) = r^2, \qquad \frac{\partial \ell}{\partial \hat y} = 2r,

    so the pull on a prediction grows in proportion to its error: one large
    outlier can dominate the mean. ``reduction`` then combines the elements.

    Matches :func:`torch.nn.functional.mse_loss` (same default, same numbers:
    lossbook calls that fused kernel).

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        Least squares go back to Legendre (1805) and Gauss (1809); minimising
        MSE is maximum likelihood under Gaussian noise.
    """
    return _fused(F.mse_loss, pred, target, reduction)


def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Root mean squared error: the square root of :func:`mse`.

    .. math:: \mathrm{RMSE} = \sqrt{\frac{1}{n}\sum_{i=1}^n r_i^2},
        \qquad \frac{\partial\,\mathrm{RMSE}}{\partial \hat y_i}
        = \frac{r_i}{n\,\mathrm{RMSE}}.

    RMSE is in the units of the target, which makes it the easier number to
    report, and it has the same minimiser as MSE. It is one value per call
    (no ``reduction``): the square root of a mean does not split into
    per-element terms. The gradient above is 0/0 at a perfect prediction;
    lossbook returns the subgradient 0 there instead of NaN (a naive
    ``torch.sqrt(F.mse_loss(...))`` gives NaN). An empty input gives 0.

    PyTorch has no RMSE loss; the float64 reference is
    ``sqrt(mean((pred - target) ** 2))``.

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.

    Returns:
        A scalar tensor.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.
    """
    _core.check_pair(pred, target)
    # vector_norm's backward maps a zero norm to a zero gradient, not NaN.
    n = max(pred.numel(), 1)
    return torch.linalg.vector_norm(pred - target) / math.sqrt(n)


def mae(pred: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Mean absolute error (L1 loss).

    Per element,

    .. math:: \ell(r) = |r|, \qquad \frac{\partial \ell}{\partial \hat y}
        = \operatorname{sign}(r),

    with the subgradient 0 at :math:`r = 0` (as autograd gives). Every error
    pulls with the same strength, so outliers cannot dominate; the price is a
    gradient that does not shrink near the optimum. Minimising the mean
    absolute error of a constant gives the median.

    Matches :func:`torch.nn.functional.l1_loss` (lossbook calls it).

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        Laplace (1774); least absolute deviations is maximum likelihood under
        Laplace noise.
    """
    return _fused(F.l1_loss, pred, target, reduction)


def huber(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Huber loss: quadratic for small residuals, linear for large ones.

    Per element,

    .. math:: \ell_\delta(r) = \begin{cases}
        \tfrac12 r^2 & |r| \le \delta \\
        \delta\,(|r| - \tfrac12\delta) & |r| > \delta
        \end{cases}, \qquad
        \frac{\partial \ell_\delta}{\partial \hat y}
        = \operatorname{clip}(r, -\delta, \delta).

    The two pieces meet with equal value and slope at :math:`|r| = \delta`,
    so the loss is convex and once continuously differentiable; its gradient
    is bounded by ``delta``. ``huber(delta=d) == d * smooth_l1(beta=d)``.

    Matches :func:`torch.nn.functional.huber_loss` (same default
    ``delta=1.0``; lossbook calls it).

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        delta: where the loss turns from quadratic to linear; must be > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        P. J. Huber, "Robust Estimation of a Location Parameter", Annals of
        Mathematical Statistics 35(1), 1964.
    """
    delta = _core.check_positive(delta, "delta")
    return _fused(F.huber_loss, pred, target, reduction, delta=delta)


def smooth_l1(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Smooth L1 loss: Huber loss divided by its threshold.

    Per element,

    .. math:: \ell_\beta(r) = \begin{cases}
        \dfrac{r^2}{2\beta} & |r| < \beta \\
        |r| - \tfrac12\beta & |r| \ge \beta
        \end{cases}, \qquad
        \frac{\partial \ell_\beta}{\partial \hat y}
        = \operatorname{clip}(r/\beta, -1, 1).

    Its linear part has slope 1 whatever ``beta`` is (Huber's has slope
    ``delta``), so ``beta`` only sets the width of the quadratic zone;
    ``beta=0`` is exactly :func:`mae`. This is the box-regression loss of
    Fast R-CNN.

    Matches :func:`torch.nn.functional.smooth_l1_loss` (same default
    ``beta=1.0``; lossbook calls it).

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        beta: width of the quadratic zone; must be >= 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        R. Girshick, "Fast R-CNN", ICCV 2015.
    """
    beta = _core.check_nonnegative(beta, "beta")
    return _fused(F.smooth_l1_loss, pred, target, reduction, beta=beta)


def pseudo_huber(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Pseudo-Huber loss: a smooth (infinitely differentiable) Huber.

    Per element,

    .. math:: \ell_\delta(r) = \delta^2\left(\sqrt{1 + (r/\delta)^2} - 1\right),
        \qquad \frac{\partial \ell_\delta}{\partial \hat y}
        = \frac{r}{\sqrt{1 + (r/\delta)^2}}.

    It is about :math:`r^2/2` for :math:`|r| \ll \delta` and about
    :math:`\delta |r|` for :math:`|r| \gg \delta`; the gradient tends to
    :math:`\pm\delta` but never reaches it. It is the Charbonnier loss and
    Barron's general robust loss at :math:`\alpha = 1` (with scale
    :math:`\delta`, times :math:`\delta^2`).

    Computed as :math:`r \cdot \delta r / (\sqrt{r^2 + \delta^2} + \delta)`
    with ``torch.hypot``, which equals the formula (multiply it by
    :math:`(\sqrt{1+z^2} + 1)/(\sqrt{1+z^2} + 1)`, :math:`z = r/\delta`) but
    loses no digits to cancellation for small :math:`r` and forms neither
    :math:`\delta^2`, :math:`r/\delta` nor :math:`r^2` (also not in the
    backward pass): those overflow float32 for extreme ``delta``, and float16
    already for :math:`|r/\delta| > 65504`.
    PyTorch has no built-in; the tests compare
    with a float64 NumPy evaluation of the formula.

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        delta: scale where the loss turns from quadratic to linear; > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        P. Charbonnier, L. Blanc-Feraud, G. Aubert and M. Barlaud,
        "Two deterministic half-quadratic regularization algorithms for
        computed imaging", ICIP 1994; R. Hartley and A. Zisserman,
        *Multiple View Geometry in Computer Vision*, 2nd ed., 2004 (A6.8).
    """
    delta = _core.check_positive(delta, "delta")
    _core.check_pair(pred, target)
    _core.check_reduction(reduction)
    r = pred - target
    d = torch.full_like(r, delta)
    loss = r * (delta * (r / (torch.hypot(r, d) + d)))
    return _core.reduce(loss, reduction)


def log_cosh(pred: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Log-cosh loss: about :math:`r^2/2` near zero, about :math:`|r| - \log 2` far out.

    Per element,

    .. math:: \ell(r) = \log\cosh r, \qquad
        \frac{\partial \ell}{\partial \hat y} = \tanh r.

    Smooth everywhere, with a gradient bounded by 1: a parameter-free cousin
    of Huber with ``delta=1``.

    ``cosh`` overflows float32 for :math:`|r| > 89`, so the naive
    ``torch.log(torch.cosh(r))`` returns ``inf``. lossbook uses the identity
    :math:`\log\cosh r = |r| + \operatorname{softplus}(-2|r|) - \log 2` for
    :math:`|r| \ge 1` and :math:`\log\cosh r = \operatorname{log1p}(2\sinh^2(r/2))`
    below, where the first form would subtract nearly equal numbers. Both
    are exact identities; the switch keeps full relative precision, exact
    zero at :math:`r = 0`, and a correct second derivative there. PyTorch
    has no built-in; the tests compare with a float64 evaluation.

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        P. Saleh and R. Saleh, "Statistical properties of the log-cosh loss
        function used in machine learning", arXiv:2208.04564, 2022.
    """
    _core.check_pair(pred, target)
    _core.check_reduction(reduction)
    r = pred - target
    a = r.abs()
    small = r.clamp(-1.0, 1.0)  # clamped so the unused branch stays finite
    near = torch.log1p(2.0 * torch.sinh(0.5 * small) ** 2)
    far = a + F.softplus(-2.0 * a) - _LOG2
    return _core.reduce(torch.where(a < 1.0, near, far), reduction)
