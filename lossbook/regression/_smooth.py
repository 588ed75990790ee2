r"""Smooth robust regression losses without a PyTorch kernel: pseudo-Huber and log-cosh.

Each computes its value and slope in one pass (a custom autograd Function),
exact at both ends of the residual's range.
"""

from __future__ import annotations

import torch

from .. import _core

__all__ = ["pseudo_huber", "log_cosh"]


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


# Past this |r| log-cosh is evaluated at the limit plus the rest: e^80 and its square fit in
# float32, and log cosh a = log cosh 80 + (a - 80) to within e^-160 of the value.
_LOG_COSH_LIMIT = 80.0


# cosh overflows float32 for |r| > 89, and near zero it rounds to 1: the naive form fails at
# both ends. Tested: the value and the slope tanh r are within 4 machine epsilons of a 50-digit
# evaluation in float32 and float64 wherever the value is a normal number.
class _LogCosh(torch.autograd.Function):
    r"""log cosh of the residual and its slope tanh, from one ``expm1`` and one ``log1p``.

    With :math:`a = \min(|r|, 80)`, :math:`M = e^a - 1` and :math:`u = M/(1+M) = 1 - e^{-a}`
    (both exact near 0, neither overflows): :math:`\cosh a - 1 = M u/2` and
    :math:`\tanh a = (M + u)/(2 + M u)`, so neither value nor slope subtracts nearly equal
    numbers. Past :math:`|r| = 80` the value is :math:`\log\cosh 80 + (|r| - 80)`. The slope
    is stored for the backward pass (``tanh`` itself costs about three times an ``expm1`` on a
    CPU). Half precision is computed in float32.
    """

    @staticmethod
    def forward(ctx, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r = pred - target
        x = r.float() if r.dtype in (torch.float16, torch.bfloat16) else r
        a = x.abs()
        m = a.clamp(max=_LOG_COSH_LIMIT).expm1_()  # M = e^a - 1
        u = m / (m + 1.0)  # 1 - e^-a
        mu = m * u
        loss = torch.mul(mu, 0.5).log1p_()  # log(1 + (cosh a - 1))
        slope = m.add_(u).div_(mu.add_(2.0)).copysign_(x)  # 2 sinh a / 2 cosh a, signed
        loss.add_(a.sub_(_LOG_COSH_LIMIT).clamp_(min=0.0))
        ctx.save_for_backward(pred, target, slope.to(pred.dtype))
        return loss.to(pred.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        pred, target, slope = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: tanh, differentiably
            slope = torch.tanh(pred - target)
        g = grad * slope
        return (g if ctx.needs_input_grad[0] else None), (-g if ctx.needs_input_grad[1] else None)
