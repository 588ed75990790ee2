"""Regression losses that PyTorch computes with one fused kernel: mse, rmse, mae, huber, smooth_l1."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .. import _core

__all__ = ["mse", "rmse", "mae", "huber", "smooth_l1"]


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
    return kernel(pred, target, reduction=_core.kernel_reduction(reduction, pred.numel()), **kwargs)


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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> pred, target = torch.tensor([0.5, 3.0]), torch.zeros(2)
        >>> lossbook.mse(pred, target)
        tensor(4.6250)
        >>> torch.equal(lossbook.mse(pred, target), F.mse_loss(pred, target))
        True
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

    No PyTorch counterpart; it equals ``torch.sqrt(F.mse_loss(pred, target))``
    away from a perfect prediction.

    Args:
        pred: predictions :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.

    Returns:
        A scalar tensor.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        C. F. Gauss, *Theoria motus corporum coelestium*, 1809 (the mean
        error of least squares).

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.rmse(torch.tensor([3.0, -3.0]), torch.zeros(2))
        tensor(3.)
        >>> pred = torch.zeros(2, requires_grad=True)
        >>> lossbook.rmse(pred, torch.zeros(2)).backward()
        >>> pred.grad  # 0, not NaN, at a perfect prediction
        tensor([0., 0.])
    """
    _core.check_pair(pred, target)
    mean_square = F.mse_loss(pred, target, reduction=_core.kernel_reduction("mean", pred.numel()))
    return _Root.apply(mean_square)


class _Root(torch.autograd.Function):
    """``sqrt`` whose gradient at 0 is the subgradient 0, not ``1 / (2 * 0) * 0 = NaN``.

    One node instead of the four a ``torch.where`` guard takes.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        root = x.sqrt()
        ctx.save_for_backward(root)
        return root

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (root,) = ctx.saved_tensors
        # 0.5 / 0 = inf becomes 0; a NaN stays NaN (differentiable: double backward works)
        return grad * (0.5 / root).nan_to_num_(nan=math.nan, posinf=0.0, neginf=0.0)


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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> pred, target = torch.tensor([0.5, 3.0]), torch.zeros(2)
        >>> lossbook.mae(pred, target)
        tensor(1.7500)
        >>> torch.equal(lossbook.mae(pred, target), F.l1_loss(pred, target))
        True
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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> pred, target = torch.tensor([0.5, 3.0]), torch.zeros(2)
        >>> lossbook.huber(pred, target)
        tensor(1.3125)
        >>> torch.equal(lossbook.huber(pred, target, delta=2.0), F.huber_loss(pred, target, delta=2.0))
        True
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

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> pred, target = torch.tensor([0.5, 3.0]), torch.zeros(2)
        >>> lossbook.smooth_l1(pred, target, beta=2.0)
        tensor(1.0312)
        >>> torch.equal(lossbook.smooth_l1(pred, target), F.smooth_l1_loss(pred, target))
        True
    """
    beta = _core.check_nonnegative(beta, "beta")
    return _fused(F.smooth_l1_loss, pred, target, reduction, beta=beta)
