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


@_core.float32_under_autocast
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
    :math:`\delta`, times :math:`\delta^2`). Small residuals lose no digits
    to cancellation, and extreme ``delta`` or residuals do not overflow.

    No PyTorch counterpart; it equals
    ``delta**2 * (torch.sqrt(1 + (r / delta)**2) - 1)`` with ``r = pred - target``.

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

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.pseudo_huber(torch.tensor([0.0, 0.75]), torch.zeros(2), reduction="none")
        tensor([0.0000, 0.2500])
        >>> round(lossbook.pseudo_huber(torch.tensor([0.5, 3.0]), torch.zeros(2)).item(), 4)
        1.1402
    """
    delta = _core.check_positive(delta, "delta")
    _core.check_pair(pred, target)
    _core.check_reduction(reduction)
    return _core.reduce(_PseudoHuber.apply(pred - target, delta), reduction)


# Computed as delta |r| w / (sqrt(1 + w^2) + 1) with w = |r| / delta, which equals the
# formula (multiply it by (sqrt(1+w^2) + 1) / (sqrt(1+w^2) + 1)) but loses no digits to
# cancellation for small r and forms neither delta^2 nor r^2, which overflow float32 for
# extreme delta. w is capped where w^2 would overflow (beyond the cap both
# w / (sqrt(1+w^2) + 1) and w / sqrt(1+w^2) are 1 to the dtype's precision); float16 and
# bfloat16 are computed in float32. The same pass stores the slope for the backward pass,
# so that autograd does not record and replay the formula op by op.
class _PseudoHuber(torch.autograd.Function):
    r"""Pseudo-Huber of the residual, with its slope computed in the same pass.

    With :math:`w = \min(|r|/\delta, W)` and :math:`s = \sqrt{1 + w^2}`, the loss is
    :math:`\delta\,|r|\,w/(s + 1)` and its derivative
    :math:`\operatorname{sign}(r)\,\delta\,w/s`. The cap :math:`W` (the fourth
    root of the dtype's largest number) keeps :math:`w^2` finite; beyond it
    :math:`w/(s+1)` and :math:`w/s` are 1 to the dtype's precision, so the cap
    changes nothing. Half precision is computed in float32.
    """

    @staticmethod
    def forward(ctx, r: torch.Tensor, delta: float) -> torch.Tensor:
        x = r.float() if r.dtype in (torch.float16, torch.bfloat16) else r
        w = (x / delta).abs_().clamp_(max=torch.finfo(x.dtype).max ** 0.25)
        s = w.square().add_(1.0).sqrt_()
        loss = (w / (s + 1.0)).mul_(delta).mul_(x.abs())
        slope = torch.copysign(w.div_(s).mul_(delta), x)
        ctx.save_for_backward(r, slope.to(r.dtype))
        ctx.delta = delta
        return loss.to(r.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        r, slope = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: the slope, differentiably
            d = r.new_tensor(ctx.delta)
            return grad * (ctx.delta * (r / torch.hypot(r, d))), None
        return grad * slope, None


@_core.float32_under_autocast
def log_cosh(pred: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Log-cosh loss: about :math:`r^2/2` near zero, about :math:`|r| - \log 2` far out.

    Per element,

    .. math:: \ell(r) = \log\cosh r, \qquad
        \frac{\partial \ell}{\partial \hat y} = \tanh r.

    Smooth everywhere, with a gradient bounded by 1: a parameter-free cousin
    of Huber with ``delta=1``. ``cosh`` overflows float32 for :math:`|r| > 89`,
    so the naive ``torch.log(torch.cosh(r))`` returns ``inf`` there, and near
    zero it rounds :math:`\cosh r` to 1, losing the value; lossbook's value
    and slope keep full relative precision from 0 (where the value is exactly
    0) to residuals of any size, which never overflow.

    No PyTorch counterpart; it equals ``torch.log(torch.cosh(pred - target))``
    where ``cosh`` does not overflow.

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

    Example:
        >>> import torch
        >>> import lossbook
        >>> torch.log(torch.cosh(torch.tensor(1000.0)))  # the naive form overflows
        tensor(inf)
        >>> round(lossbook.log_cosh(torch.tensor([1000.0]), torch.zeros(1)).item(), 2)  # 1000 - log 2
        999.31
        >>> round(lossbook.log_cosh(torch.tensor([0.5, 3.0]), torch.zeros(2)).item(), 4)
        1.2147
    """
    _core.check_pair(pred, target)
    _core.check_reduction(reduction)
    return _core.reduce(_LogCosh.apply(pred, target), reduction)


# Past this |r| log-cosh is evaluated at the limit plus the rest: sinh(40)^2 fits in
# float32, and log cosh a = log cosh 80 + (a - 80) to within e^-160 of the value.
_LOG_COSH_LIMIT = 80.0


# cosh overflows float32 for |r| > 89, and near zero it rounds to 1. So, with a = |r|,
# M = e^a - 1 from expm1 and u = M / (1 + M) = 1 - e^-a:
#     log cosh r = log1p(M u / 2),   tanh r = sign(r) (M + u) / (2 + M u),
# since cosh a - 1 = M u / 2 and 2 sinh a = M + u: no subtraction of nearly equal numbers
# anywhere, so value and slope keep full relative precision (within 4 machine epsilons of a
# 50-digit evaluation in float32 and float64 wherever the value is a normal number, tested),
# and the value is exactly 0 at r = 0. Past |r| = 80 it evaluates at 80 and adds |r| - 80
# (exact there: log cosh a = a - log 2 + O(e^-2a)), so nothing overflows. The slope is
# stored for the backward pass.
class _LogCosh(torch.autograd.Function):
    r"""log cosh of the residual in one pass; its slope ``tanh`` in the backward.

    With :math:`c` the residual clamped to :math:`[-80, 80]`,
    :math:`\log\cosh c = \operatorname{log1p}(2\sinh^2(c/2))`, since
    :math:`\cosh c - 1 = 2\sinh^2(c/2)`: no subtraction of nearly equal
    numbers, so the value keeps full relative precision down to the smallest
    residuals and is exactly 0 at 0; past 80 it adds :math:`|r| - 80`. Half
    precision is computed in float32. Ten operations forward, two backward,
    where autograd of the same formula would record ten and replay about
    twelve.
    """

    @staticmethod
    def forward(ctx, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r = pred - target
        x = r.float() if r.dtype in (torch.float16, torch.bfloat16) else r
        c = x.clamp(-_LOG_COSH_LIMIT, _LOG_COSH_LIMIT)
        s = torch.sinh(c * 0.5)
        loss = s.mul_(s).mul_(2.0).log1p_().add_(x.sub(c).abs_())
        ctx.save_for_backward(pred, target, x)
        return loss.to(pred.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        pred, target, x = ctx.saved_tensors
        # double backward: the slope from pred and target, differentiably
        slope = torch.tanh(pred - target if torch.is_grad_enabled() else x).to(grad.dtype)
        g = grad * slope
        return (g if ctx.needs_input_grad[0] else None), (-g if ctx.needs_input_grad[1] else None)
