r"""Barron's rho, the computation behind :mod:`lossbook.robust` (private).

Two ways to the same values and gradients: :func:`rho_formula`, the formula with
every limit selected per element and differentiated by autograd (any tensor
``alpha``, the reference, and the double-backward path), and :class:`RhoOnePass`,
one pass with the gradients written out (a number ``alpha``, or a tensor of
finite ones). tests/test_robust.py checks that they agree.
"""

from __future__ import annotations

import math

import torch

from . import _core

# Taylor coefficients 1/(k+1)! of exprel(y) = expm1(y) / y, lowest order first.
_EXPREL = [1.0 / math.factorial(k + 1) for k in range(10)]


def _exprel(y: torch.Tensor) -> torch.Tensor:
    """``expm1(y) / y`` with its limit 1 at 0, accurate (value and derivative) near 0."""
    small = y.abs() < 0.1
    ys = torch.where(small, y, torch.zeros_like(y))
    series = torch.zeros_like(y)
    for c in reversed(_EXPREL):  # Horner; truncation error < 1e-17 for |y| < 0.1
        series = series * ys + c
    yl = torch.where(small, torch.ones_like(y), y)
    return torch.where(small, series, torch.expm1(yl) / yl)


def rho_formula(x: torch.Tensor, alpha: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Elementwise rho, broadcast; no checks."""
    u = x / scale
    z = u**2  # may overflow for huge |x|/c (float32: 1e20); only the closed forms use it
    info = torch.finfo(z.dtype)
    # |alpha - 2| clamped away from 0 so z / b stays finite; alpha == 2 is replaced below.
    b = torch.clamp((alpha - 2).abs(), min=info.eps)
    # Finite stand-in for alpha = +-inf in the general branch (the limits are selected below).
    a = torch.where(torch.isinf(alpha), torch.zeros_like(alpha), alpha)
    b = torch.where(torch.isinf(alpha), torch.full_like(b, 2.0), b)
    # L = log(1 + z/b), without forming z where it would overflow: 2 log|u| - log b there.
    big = u.abs() > info.max ** 0.25
    u_small = torch.where(big, torch.zeros_like(u), u)
    u_big = torch.where(big, u, torch.ones_like(u))
    log1p_term = torch.where(big, 2 * torch.log(u_big.abs()) - torch.log(b), torch.log1p(u_small**2 / b))
    # b/a * ((1 + z/b)^(a/2) - 1) = b/a * expm1(y) with y = a L / 2, L = log1p(z / b). For |y| < 1
    # (a = 0 included) as (b L / 2) * exprel(y), which needs no division by a; beyond, as
    # b/a * expm1(y) itself: there exprel's product with L would cancel (saturated residuals at
    # negative alpha: rho a rounding above its bound b/|a|, d rho/d scale of the wrong sign).
    y = 0.5 * a * log1p_term
    near = y.abs() < 1
    y_near = torch.where(near, y, torch.zeros_like(y))
    y_far = torch.where(near, torch.ones_like(y), y)
    a_far = torch.where(near, torch.ones_like(a), a)  # never 0 where it is used
    # (exp(y) - 1, not expm1: expm1's backward forms e^y as expm1(y) + 1, which rounds to 0 for y << 0)
    general = torch.where(near, 0.5 * b * log1p_term * _exprel(y_near), (b / a_far) * (torch.exp(y_far) - 1))
    result = torch.where(alpha == 2, 0.5 * z, general)
    # Welsch: -expm1 keeps small z exact; 1 - exp for large z keeps the tiny gradient
    # exp(-z/2) (expm1's backward computes it as result + 1, which rounds to 0).
    welsch = torch.where(z < 1, -torch.expm1(-0.5 * torch.clamp(z, max=1)), 1 - torch.exp(-0.5 * z))
    result = torch.where(alpha == -math.inf, welsch, result)
    # exp(z/2) only where alpha is +inf: elsewhere an overflow would turn the zero
    # gradient of the unselected branch into NaN (0 * inf).
    z_inf = torch.where(alpha == math.inf, z, torch.zeros_like(z))
    return torch.where(alpha == math.inf, torch.expm1(0.5 * z_inf), result)


# --------------------------------------------------------------------------
# The same rho in one pass, with its gradients written out (the fast path).


def _exprel_prime(y: torch.Tensor, ey: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """d/dy exprel(y) = (e^y - exprel(y)) / y from ``ey = expm1(y)`` and ``E = exprel(y)``;
    its Taylor series 1/2 + y/3 + y^2/8 + y^3/30 + y^4/144 for |y| < 0.01 (truncation < 2e-13
    relative), where the difference would cancel."""
    small = y.abs() < 0.01
    ys = torch.where(small, y, torch.zeros_like(y))
    series = ys * (1 / 144) + 1 / 30
    for c in (1 / 8, 1 / 3, 1 / 2):
        series = series * ys + c
    yl = torch.where(small, torch.ones_like(y), y)
    return torch.where(small, series, (ey + 1 - E) / yl)


def _log1p_over(u: torch.Tensor, b: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L = log(1 + u^2 / b), and the mask where u^2 / b overflowed.

    There L is 2 log|u| - log b instead (exact to the dtype's precision, since
    1 is negligible next to u^2 / b).
    """
    L = u.square().div_(b).log1p_()
    over = torch.isinf(L) & torch.isfinite(u)
    log_b = math.log(b) if isinstance(b, float) else torch.log(b)
    return torch.where(over, 2 * torch.log(u.abs()) - log_b, L), over


class RhoOnePass(torch.autograd.Function):
    r""":math:`\rho(x, \alpha, c)` for a number :math:`\alpha` (any, :math:`\pm\infty` included) or a tensor
    of finite :math:`\alpha`, with :math:`\partial\rho/\partial x` stored in the forward pass and the
    gradients in :math:`\alpha` and :math:`c` written out.

    With :math:`u = x/c`, :math:`b = \max(|\alpha - 2|, \epsilon)`, :math:`L = \log(1 + u^2/b)` and
    :math:`y = \alpha L/2`: :math:`\rho = \tfrac{b}{2} L\,\operatorname{exprel}(y)`,
    :math:`\partial\rho/\partial u = u\,e^{(\alpha/2 - 1)L}` (so :math:`\partial\rho/\partial c
    = -u\,\partial\rho/\partial x`), and :math:`\partial\rho/\partial\alpha = \tfrac{b}{4}L^2
    \operatorname{exprel}'(y) + \operatorname{sign}(\alpha - 2)\,\tfrac12\big(L\operatorname{exprel}(y)
    + e^{y}\operatorname{expm1}(-L)\big)`. For a number :math:`\alpha` the closed forms are chosen in
    Python and :math:`\rho = \tfrac{b}{\alpha}\operatorname{expm1}(y)` (accurate for any
    :math:`\alpha \ne 0`). Double backward differentiates :func:`rho_formula`.
    """

    @staticmethod
    def forward(ctx, x, alpha, scale):
        needs_x, needs_a, needs_c = ctx.needs_input_grad
        ctx.numbers = tuple(None if isinstance(v, torch.Tensor) else v for v in (alpha, scale))
        u = x if isinstance(scale, float) and scale == 1 else x / scale
        number = not isinstance(alpha, torch.Tensor)
        aux = None
        if number and abs(alpha) == math.inf:  # Welsch (-inf) and its mirror (+inf): z = u^2
            half_z = u.square().mul_(0.5 if alpha > 0 else -0.5)
            rho = torch.expm1(half_z)
            if alpha < 0:
                rho.neg_()
            slope = torch.exp(half_z).mul_(u) if needs_x or needs_c else None
        elif number and alpha == 2:
            rho = u.square().mul_(0.5)
            slope = u.clone() if needs_x or needs_c else None
        elif number and alpha == 1:  # Charbonnier: |u| w / (s + 1), slope sign(u) w / s, s = sqrt(1 + w^2)
            w = u.abs().clamp_(max=torch.finfo(u.dtype).max ** 0.25)  # beyond, w / (s + 1) is 1 to precision
            s = w.square().add_(1).sqrt_()
            rho = (w / (s + 1)).mul_(u.abs())
            slope = w.div_(s).copysign_(u) if needs_x or needs_c else None
        elif number and alpha == -2:  # Geman-McClure: 2 / (1 + 4/z); slope u r^2 with r = 4 / (z + 4)
            z = u.square()
            rho = torch.reciprocal(z).mul_(4).add_(1).reciprocal_().mul_(2)
            slope = None
            if needs_x or needs_c:
                r = z.add_(4).reciprocal_().mul_(4)  # in place: z is not needed any more
                slope = torch.mul(u, r).mul_(r)  # (u r) r: no early underflow of r^2
        elif number and alpha == 0:  # Cauchy: log(1 + q), q = z/2; slope u / (1 + q)
            q = u.square().mul_(0.5)
            rho = torch.log1p(q)
            slope = torch.div(u, q.add_(1)) if needs_x or needs_c else None
            # where q overflowed (|u| > 1e19 in float32): 2 log|u| - log 2, slope 2 / u
            over = torch.isinf(rho) & torch.isfinite(u)
            rho = torch.where(over, 2 * torch.log(u.abs()) - math.log(2), rho)
            if slope is not None:
                slope = torch.where(over, 2 / u, slope)
        else:
            eps = torch.finfo(u.dtype).eps
            b = max(abs(alpha - 2), eps) if number else (alpha - 2).abs().clamp_(min=eps)
            L, over = _log1p_over(u, b)
            y = L * (0.5 * alpha)
            ey = torch.expm1(y)
            if number:  # b/alpha * expm1(alpha L / 2), or b L / 2 at alpha = 0
                rho = L * (0.5 * b) if alpha == 0 else ey * (b / alpha)
                E = None
            else:
                E = (ey / y).masked_fill_(y == 0, 1.0)  # exprel(y), its limit 1 at y = 0
                rho = L * E * (0.5 * b)
                rho = torch.where(alpha == 2, u.square().mul_(0.5), rho)  # the closed form z / 2
            slope = None
            if needs_x or needs_c:
                slope = torch.exp(L * (0.5 * alpha - 1)).mul_(u)
                # where u^2 / b overflowed: u e^{(a/2-1) L} formed in log space (no underflow)
                log_u = torch.log(u.abs())
                log_b = math.log(b) if number else torch.log(b)
                big = torch.exp((alpha - 1) * log_u - (0.5 * alpha - 1) * log_b).copysign_(u)
                slope = torch.where(over, big, slope)
            if needs_a:
                aux = (L, y, ey, E, b)
        if slope is not None:
            if isinstance(scale, torch.Tensor):
                slope = slope / scale
            elif scale != 1:
                slope = slope.div_(scale)
        tensors = [v if isinstance(v, torch.Tensor) else None for v in (alpha, scale)]
        ctx.save_for_backward(x, *tensors, slope, u, *(aux or ()))
        return rho

    @staticmethod
    def backward(ctx, grad):
        x, alpha, scale, slope, u, *aux = ctx.saved_tensors
        alpha = ctx.numbers[0] if alpha is None else alpha
        scale = ctx.numbers[1] if scale is None else scale
        needs_x, needs_a, needs_c = ctx.needs_input_grad
        if torch.is_grad_enabled():  # double backward: differentiate the plain formula
            a = alpha if isinstance(alpha, torch.Tensor) else x.new_tensor(alpha)
            c = scale if isinstance(scale, torch.Tensor) else x.new_tensor(scale)
            return _core.reference_grads(lambda: rho_formula(x, a, c), (x, alpha, scale), (needs_x, needs_a, needs_c), grad)
        gx = grad * slope if needs_x or needs_c else None
        ga = gc = None
        if needs_c:
            gc = (gx * u).neg_().sum_to_size(scale.shape)
        if needs_a:
            L, y, ey, E, b = aux
            d = L.square().mul_(0.25 * b) * _exprel_prime(y, ey, E)
            side = (L * E).add_((ey + 1) * torch.expm1(-L)).mul_(0.5)
            sign = torch.where((alpha - 2).abs() > torch.finfo(L.dtype).eps, torch.sign(alpha - 2), 0.0)
            ga = (d + side * sign) * grad
            ga = ga.masked_fill_(alpha == 2, 0.0).sum_to_size(alpha.shape)
        if needs_x and gx.shape != x.shape:
            gx = gx.sum_to_size(x.shape)
        return (gx if needs_x else None), ga, gc
