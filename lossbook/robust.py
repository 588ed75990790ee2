r"""Barron's general and adaptive robust loss.

One shape parameter :math:`\alpha` moves a single formula through the
robust losses of the regression chapter and beyond: L2 (:math:`\alpha=2`),
Charbonnier / pseudo-Huber (1), Cauchy (0), Geman--McClure (-2) and Welsch
(:math:`-\infty`). :class:`AdaptiveRobustLoss` learns :math:`\alpha` and the
scale from data by minimising the negative log-likelihood of the probability
density :math:`p(x) \propto e^{-\rho(x, \alpha, c)}`, whose normaliser is
computed here by quadrature (no table is downloaded or stored).

Reference: J. T. Barron, "A General and Adaptive Robust Loss Function",
CVPR 2019.
"""

from __future__ import annotations

import math
from typing import Callable
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from . import _core
from ._barron import RhoOnePass, rho_formula

__all__ = ["general_robust", "AdaptiveRobustLoss", "log_partition"]


def _as_tensor(value: object, name: str, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        _core.check_tensor(value, name)
        _core.check_same_device(value, like, ("x", name))
        _core.check_same_dtype(value, like, ("x", name))
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number or a tensor, got {type(value).__name__}")
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


@_core.float32_under_autocast
def general_robust(
    x: torch.Tensor,
    alpha: float | torch.Tensor,
    scale: float | torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Barron's general robust loss :math:`\rho(x, \alpha, c)` of a residual.

    With :math:`z = (x / c)^2`,

    .. math::

        \rho(x, \alpha, c) = \frac{|\alpha - 2|}{\alpha}
        \left[\left(\frac{z}{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right],

    and its limits where that expression is 0/0 or undefined:

    ==================  ===========================  =========================
    :math:`\alpha`      :math:`\rho`                 name
    ==================  ===========================  =========================
    2                   :math:`z/2`                  L2, ``mse / 2`` at c = 1
    1                   :math:`\sqrt{z + 1} - 1`     Charbonnier, pseudo-Huber
    0                   :math:`\log(1 + z/2)`        Cauchy / Lorentzian
    -2                  :math:`2z / (z + 4)`         Geman--McClure
    :math:`-\infty`     :math:`1 - e^{-z/2}`         Welsch / Leclerc
    :math:`+\infty`     :math:`e^{z/2} - 1`
    ==================  ===========================  =========================

    It is 0 at :math:`x = 0`, increases with :math:`|x|`, behaves like
    :math:`z/2` for :math:`|x| \ll c`, and is bounded for :math:`\alpha < 0`
    (by :math:`|\alpha - 2| / |\alpha|`). :math:`c^2\rho(x, 1, c)` is
    :func:`lossbook.pseudo_huber` with ``delta = c``. Large residuals do not
    overflow (a residual of 1e30 in float32 is fine), and every
    :math:`\alpha`, however close to 0 or 2, is accurate. ``alpha`` may be a
    number or a tensor (one per dimension, or learned; it may mix finite
    values with :math:`\pm\infty`): both give the same values and gradients
    (in ``x``, ``alpha`` and ``scale``). At :math:`\alpha = 2` and
    :math:`\pm\infty` the gradient with respect to :math:`\alpha` is 0 (the
    closed forms do not depend on it). Near 2, :math:`|\alpha - 2|` is
    clamped at the dtype's machine epsilon: the true
    :math:`\partial\rho/\partial\alpha` grows like :math:`\log|\alpha - 2|`
    there, so it is large but finite. With value checks on, a tensor
    ``scale`` is checked to be finite and positive and a tensor ``alpha``
    not NaN (a synchronisation on a GPU); a number is always checked. With
    value checks off nothing waits for a GPU.

    ``alpha`` and ``scale`` are numbers or tensors that broadcast against
    ``x`` (e.g. one per dimension); ``scale`` must be > 0.

    No PyTorch counterpart; for an ``alpha`` other than 0 and 2 it equals
    ``abs(alpha - 2) / alpha * (((x / scale) ** 2 / abs(alpha - 2) + 1) ** (alpha / 2) - 1)``,
    reduced as asked.

    Args:
        x: residuals.
        alpha: shape parameter, any real or :math:`\pm\infty`.
        scale: :math:`c > 0`, the width of the quadratic bowl.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per element, of the
            broadcast shape).

    Returns:
        A scalar, or for ``"none"`` a tensor of the broadcast shape.

    Shape:
        x: any shape; alpha and scale: numbers or tensors broadcasting to it.

    References:
        J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019.

    Example:
        >>> import torch
        >>> import lossbook
        >>> x = torch.tensor([1.0, 2.0])
        >>> lossbook.general_robust(x, 2.0, 1.0, reduction="none")  # alpha = 2: x^2 / 2
        tensor([0.5000, 2.0000])
        >>> round(lossbook.general_robust(x, 1.0, 1.0).item(), 4)  # alpha = 1: sqrt(x^2 + 1) - 1
        0.8251
    """
    _core.check_reduction(reduction)
    _core.check_tensor(x, "x")
    if not isinstance(scale, torch.Tensor):  # a number is checked always, a tensor only with value checks
        _core.check_positive(scale, "scale")
    if not isinstance(alpha, torch.Tensor) and not isinstance(alpha, bool) and isinstance(alpha, numbers.Real):
        if alpha != alpha:  # NaN (math.isnan would break a torch.compile graph)
            raise ValueError("alpha must be a real number or +-inf, got nan")
    a = _as_tensor(alpha, "alpha", x)  # type and device checks; a number becomes a 0-dim tensor
    c = _as_tensor(scale, "scale", x)
    try:
        torch.broadcast_shapes(x.shape, a.shape, c.shape)
    except RuntimeError:
        raise ValueError(
            f"alpha {tuple(a.shape)} and scale {tuple(c.shape)} must broadcast against x {tuple(x.shape)}"
        ) from None
    if _core.value_checks_enabled():  # (numbers were checked above)
        if isinstance(scale, torch.Tensor):
            _core.require_values((c > 0) & torch.isfinite(c), c, "scale", "be finite and > 0")
        if isinstance(alpha, torch.Tensor):
            _core.require_values(~torch.isnan(a), a, "alpha", "be a real number or +-inf", got=lambda bad: "NaN")
    # With b = |alpha - 2| and L = log(1 + z/b), formed as 2 log|x/c| - log b where z/b would
    # overflow (so a residual of 1e30 in float32 is fine), rho is computed in one of two ways:
    # - alpha a number (the usual case): one pass (RhoOnePass) that also stores
    #   d rho / dx = (x / c^2) e^((alpha/2 - 1) L) for the backward pass. The members with a
    #   name use their closed forms (alpha = 1 as z / (sqrt(1 + z) + 1), cancellation-free;
    #   0, -2, 2, +-inf as in the docstring's table); any other alpha uses
    #   (b / alpha) expm1((alpha / 2) L), accurate for every alpha != 0 however small. The
    #   bare formula is undefined at 0 and 2 and overflows for large residuals.
    # - alpha a tensor (one per dimension, or learned): autograd of
    #   (b / 2) L exprel((alpha / 2) L), exprel(y) = (e^y - 1) / y, with the limits selected
    #   per element, so a tensor may mix finite values with +-inf; it records more ops.
    # Both give the same values and gradients (tested to 1e-12 in float64).
    xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # half: computed in float32
    if isinstance(alpha, torch.Tensor):  # it may hold +-inf: the plain formula with every limit
        rho = rho_formula(xc, a.to(xc.dtype), c.to(xc.dtype))
    else:  # one pass (closed forms chosen in Python)
        rho = RhoOnePass.apply(xc, float(alpha), c.to(xc.dtype) if isinstance(scale, torch.Tensor) else float(scale))
    return _core.reduce(rho.to(x.dtype), reduction)


# --------------------------------------------------------------------------
# The normaliser of Barron's density, by quadrature.

# Trapezoid rule in u with x = sinh(u): the integrand decays at least like
# e^{-|u|} (alpha = 0 has Cauchy-like tails 1/x^2), and the trapezoid rule is
# spectrally accurate for smooth, fast-decaying integrands.
_U_MAX = 45.0
_U_STEP = 0.05  # |error of log Z| < 1e-9 on [0, 10] against scipy's quad
_ALPHA_MAX = 10.0  # beyond it rho(sinh(45)) overflows float64
_ALPHA_DOMAIN = f"be in [0, {_ALPHA_MAX:g}] (the density is not normalisable below 0)"


def log_partition(alpha: torch.Tensor) -> torch.Tensor:
    r""":math:`\log Z(\alpha)`, with :math:`Z(\alpha) = \int_{-\infty}^{\infty} e^{-\rho(x, \alpha, 1)}\,dx`.

    Defined for :math:`0 \le \alpha \le 10` (for :math:`\alpha < 0` the
    density is not normalisable; above 10 the quadrature would overflow, and
    such light tails are rarely wanted). Computed in float64 by the trapezoid rule after the
    substitution :math:`x = \sinh u`, which turns the heavy tails at small
    :math:`\alpha` into exponentially decaying ones; differentiable with
    respect to ``alpha`` through autograd. :math:`Z(2) = \sqrt{2\pi}`,
    :math:`Z(0) = \pi\sqrt 2`.

    Args:
        alpha: tensor of shape parameters, each in :math:`[0, 10]`.

    Returns:
        A tensor of ``alpha``'s shape, dtype and device.
    """
    _core.check_tensor(alpha, "alpha")
    if _core.value_checks_enabled():
        _core.require_values(
            (alpha >= 0) & (alpha <= _ALPHA_MAX), alpha, "alpha",
            _ALPHA_DOMAIN,
        )
    a64 = alpha.to(torch.float64)
    n = int(round(_U_MAX / _U_STEP))
    u = torch.arange(-n, n + 1, dtype=torch.float64, device=alpha.device) * _U_STEP
    x = torch.sinh(u)
    log_jac = torch.log(torch.cosh(u))
    shape = a64.shape
    rho = rho_formula(x, a64.reshape(-1, 1), torch.ones((), dtype=torch.float64, device=alpha.device))
    logz = torch.logsumexp(log_jac - rho, dim=-1) + math.log(_U_STEP)
    return logz.reshape(shape).to(alpha.dtype)


class AdaptiveRobustLoss(nn.Module):
    r"""Barron's adaptive robust loss, with a learned shape and scale per dimension.

    It learns the shape :math:`\alpha` and the scale :math:`c` of the general
    robust loss, one of each per dimension.

    The output is the negative log-likelihood of a residual under Barron's
    density :math:`p(x \mid \alpha, c) = e^{-\rho(x, \alpha, c)} / (c\,Z(\alpha))`,

    .. math:: \ell(x) = \rho(x, \alpha, c) + \log c + \log Z(\alpha),

    so :math:`\int e^{-\ell(x)}\,dx = 1` for every :math:`\alpha, c`. The
    normaliser is what makes :math:`\alpha` learnable: minimising
    :math:`\rho` alone would always prefer the smallest, most forgiving loss,
    whereas the likelihood trades the robustness of small :math:`\alpha`
    against the price :math:`\log Z(\alpha)` of spreading probability onto
    large residuals. Heavy-tailed residuals pull :math:`\alpha` down; Gaussian
    ones push it toward 2.

    :math:`\alpha` stays in ``alpha_range`` through a scaled sigmoid of a
    latent parameter, and :math:`c > scale_min` through a shifted softplus;
    both start at the given initial values, exactly in the module's dtype.
    :math:`\log Z(\alpha)` is
    :func:`log_partition` (by quadrature in float64).

    No PyTorch counterpart; it equals
    ``general_robust(x, loss.alpha, loss.scale, reduction="none") + torch.log(loss.scale) + log_partition(loss.alpha)``,
    reduced as asked.

    Args:
        num_dims: number of residual dimensions (the size of the last axis).
        alpha_init: initial :math:`\alpha`, inside ``alpha_range``.
        scale_init: initial :math:`c > scale_min`.
        alpha_range: ``(low, high)`` with ``0 <= low < high <= 10``.
        scale_min: lower bound of the scale, > 0.
        device, dtype: where and in which dtype to create the parameters.

    Shape:
        forward(x, reduction="mean"): residuals of shape ``(..., num_dims)``;
        returns a scalar, or for ``"none"`` the per-element NLL of ``x``'s shape.

    References:
        J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019.

    Example:
        >>> import torch
        >>> import lossbook
        >>> loss = lossbook.AdaptiveRobustLoss(2)
        >>> loss.alpha.tolist(), loss.scale.tolist()
        ([1.0, 1.0], [1.0, 1.0])
        >>> round(loss(torch.tensor([[0.0, 1.0], [0.5, -2.0]])).item(), 4)
        1.6276
    """

    def __init__(
        self,
        num_dims: int,
        *,
        alpha_init: float = 1.0,
        scale_init: float = 1.0,
        alpha_range: tuple[float, float] = (0.001, 1.999),
        scale_min: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_dims, bool) or not isinstance(num_dims, numbers.Integral):
            raise TypeError(f"num_dims must be an int, got {type(num_dims).__name__}")
        if num_dims < 1:
            raise ValueError(f"num_dims must be >= 1, got {num_dims}")
        if not isinstance(alpha_range, (tuple, list)) or len(alpha_range) != 2:
            raise TypeError(f"alpha_range must be a pair (low, high), got {alpha_range!r}")
        lo = _core.check_nonnegative(alpha_range[0], "alpha_range[0]")
        hi = _core.check_nonnegative(alpha_range[1], "alpha_range[1]")
        if not lo < hi <= _ALPHA_MAX:
            raise ValueError(f"alpha_range must have 0 <= low < high <= {_ALPHA_MAX:g}, got {alpha_range!r}")
        alpha_init = _core._real(alpha_init, "alpha_init")
        if not lo < alpha_init < hi:
            raise ValueError(f"alpha_init must be strictly inside alpha_range {alpha_range!r}, got {alpha_init}")
        scale_min = _core.check_positive(scale_min, "scale_min")
        scale_init = _core.check_positive(scale_init, "scale_init")
        if not scale_init > scale_min:
            raise ValueError(f"scale_init must be > scale_min ({scale_min}), got {scale_init}")
        self.num_dims = int(num_dims)
        self.alpha_range = (lo, hi)
        self.scale_min = scale_min
        self._initial = (alpha_init, scale_init)
        self.latent_alpha = nn.Parameter(torch.empty(self.num_dims, device=device, dtype=dtype))
        self.latent_scale = nn.Parameter(torch.empty(self.num_dims, device=device, dtype=dtype))
        self.reset_parameters()

    def _alpha_of(self, latent: torch.Tensor) -> torch.Tensor:
        lo, hi = self.alpha_range
        return lo + (hi - lo) * torch.sigmoid(latent)

    def _scale_of(self, latent: torch.Tensor) -> torch.Tensor:
        return self.scale_min + F.softplus(latent)

    def _initial_rounding(self, k: int, image: Callable, latent: torch.Tensor) -> torch.Tensor:
        # initial value minus its image at the initial latent, in the latent's dtype: 0 or a rounding
        # (exact by Sterbenz's lemma), so that image + this is the initial value exactly at the start
        start = torch.full((), self._start[k], dtype=latent.dtype, device=latent.device)
        return torch.full((), self._initial[k], dtype=latent.dtype, device=latent.device) - image(start)

    def reset_parameters(self) -> None:
        r"""Set :math:`\alpha` and the scale back to ``alpha_init`` and ``scale_init``."""
        alpha_init, scale_init = self._initial
        lo, hi = self.alpha_range
        t = (alpha_init - lo) / (hi - lo)
        s = scale_init - self.scale_min
        inverses = (math.log(t / (1 - t)), s + math.log(-math.expm1(-s)))  # of the sigmoid, of softplus
        # the latents as stored in their dtype (a later .to(dtype) rounds them the same way)
        self._start = tuple(float(torch.tensor(v, dtype=self.latent_alpha.dtype)) for v in inverses)
        with torch.no_grad():
            self.latent_alpha.fill_(self._start[0])
            self.latent_scale.fill_(self._start[1])

    @property
    def alpha(self) -> torch.Tensor:
        r"""The current :math:`\alpha` per dimension (with gradient)."""
        lo, hi = self.alpha_range
        alpha = self._alpha_of(self.latent_alpha) + self._initial_rounding(0, self._alpha_of, self.latent_alpha)
        return alpha.clamp(lo, hi)

    @property
    def scale(self) -> torch.Tensor:
        """The current scale :math:`c` per dimension (with gradient)."""
        scale = self._scale_of(self.latent_scale) + self._initial_rounding(1, self._scale_of, self.latent_scale)
        return scale.clamp(min=self.scale_min)

    @_core.float32_under_autocast
    def forward(self, x: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
        """The negative log-likelihood of the residuals ``x``, reduced."""
        _core.check_reduction(reduction)
        _core.check_tensor(x, "x")
        if x.dim() < 1 or x.shape[-1] != self.num_dims:
            raise ValueError(f"x must have shape (..., {self.num_dims}), got {tuple(x.shape)}")
        alpha = self.alpha.to(device=x.device, dtype=x.dtype)
        scale = self.scale.to(device=x.device, dtype=x.dtype)
        # log Z(alpha) by quadrature at every forward pass, for the num_dims values only; rho in
        # one pass that also forms its derivatives in x, alpha and c (written out, not recorded
        # op by op).
        nll = RhoOnePass.apply(x, alpha, scale) + torch.log(scale) + log_partition(alpha)
        return _core.reduce(nll, reduction)

    def extra_repr(self) -> str:
        return f"num_dims={self.num_dims}, alpha_range={self.alpha_range}, scale_min={self.scale_min}"
