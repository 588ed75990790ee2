r"""Probabilistic regression: losses of a predicted distribution, or of a predicted quantile.

A network that predicts a distribution (a mean and a variance, or a Poisson
rate) is trained by the negative log-likelihood of the targets under it; one
that predicts a quantile, by the pinball loss. As in
:mod:`lossbook.regression`, every tensor argument has the prediction's shape,
dtype and device (no broadcasting), the options are keyword-only, and
``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per
element). The mean of an empty batch is a zero that still backpropagates.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _core

__all__ = ["gaussian_nll", "beta_nll", "poisson_nll", "quantile"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _check_gaussian(mean, target, var, eps, reduction) -> float:
    _core.check_pair(mean, target, ("mean", "target"))
    _core.check_pair(mean, var, ("mean", "var"))
    eps = _core.check_positive(eps, "eps")
    _core.check_reduction(reduction)
    if _core.value_checks_enabled():  # NaN is let through, as in the other inputs and in PyTorch
        _core.require_values(~(var < 0), var, "var", "be >= 0 (a variance)")
    return eps


def _gaussian_terms(mean, target, var, eps):
    """PyTorch's per-element Gaussian NLL (without the constant), and the clamped variance.

    The variance is clamped to ``eps`` as PyTorch does it (PyTorch clamps a
    copy outside autograd): the gradient with respect to ``var`` is the
    gradient at the clamped value, passed straight through. The operations are PyTorch's, in
    its order, so the numbers are its to the last bit.
    """
    var = var.clone()  # PyTorch's way: clamp a copy outside autograd, the gradient passes through
    with torch.no_grad():
        var.clamp_(min=eps)
    return 0.5 * (torch.log(var) + (mean - target) ** 2 / var), var


def gaussian_nll(
    mean: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor,
    *,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Gaussian negative log-likelihood with a predicted (heteroscedastic) variance.

    Per element, with the predicted mean :math:`\mu`, variance :math:`\sigma^2`
    and the target :math:`y`,

    .. math:: \ell = \frac12\left(\log \max(\sigma^2, \epsilon)
        + \frac{(\mu - y)^2}{\max(\sigma^2, \epsilon)}\right)
        \;\left[+ \tfrac12 \log 2\pi \text{ if } \texttt{full}\right],

    minus the log-density of :math:`y` under :math:`\mathcal N(\mu, \sigma^2)`.
    :math:`\partial\ell/\partial\mu = (\mu - y)/\sigma^2` and
    :math:`\partial\ell/\partial\sigma^2 = (\sigma^2 - (\mu - y)^2)/(2\sigma^4)`,
    so for a fixed mean the best variance is the squared error. ``reduction``
    then combines the elements. With a constant variance the loss is
    :func:`lossbook.mse` divided by :math:`2\sigma^2` plus a constant.

    The variance is clamped to ``eps`` from below as PyTorch clamps it: outside
    autograd, so the gradient with respect to ``var`` is its value at the
    clamped variance. A variance of exactly 0 therefore gives a finite loss.
    A negative variance is an error (a value check); a NaN passes through as a
    NaN loss, as a NaN mean does.

    Matches :func:`torch.nn.functional.gaussian_nll_loss` (same defaults and,
    for ``var`` of ``mean``'s shape, the same numbers: the same operations in
    the same order). Unlike PyTorch, ``var`` must have ``mean``'s shape: a
    ``(N,)`` mean with an ``(N, 1)`` variance is an error, not a broadcast;
    and a Python float is not taken for ``var`` (pass
    ``torch.full_like(mean, v)``). PyTorch's value check is a Python ``if`` on
    the data, which stops ``torch.compile`` from making one graph; lossbook's
    is the switchable value check of :func:`lossbook.set_value_checks`.

    Args:
        mean: predicted means :math:`\mu`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``mean``.
        var: predicted variances :math:`\sigma^2 \ge 0`, same shape, dtype and
            device as ``mean`` (typically ``softplus`` or ``exp`` of a network
            output).
        full: add the constant :math:`\tfrac12\log 2\pi`, making the loss the
            exact negative log-density.
        eps: lower clamp of the variance; must be > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``mean``'s shape.

    Shape:
        mean: ``(*)``, any shape.
        target: ``(*)``, the same shape.
        var: ``(*)``, the same shape.

    References:
        D. A. Nix and A. S. Weigend, "Estimating the mean and variance of the
        target probability distribution", IEEE ICNN 1994.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> mean, target, var = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([1.0, 4.0])
        >>> lossbook.gaussian_nll(mean, target, var, reduction="none")  # (0 + 1/1)/2, (log 4 + 0)/2
        tensor([0.5000, 0.6931])
        >>> torch.equal(lossbook.gaussian_nll(mean, target, var, full=True),
        ...             F.gaussian_nll_loss(mean, target, var, full=True))
        True
    """
    eps = _check_gaussian(mean, target, var, eps, reduction)
    loss, _ = _gaussian_terms(mean, target, var, eps)
    if full:
        loss = loss + _HALF_LOG_2PI
    return _core.reduce(loss, reduction)


@_core.float32_under_autocast
def beta_nll(
    mean: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor,
    *,
    beta: float = 0.5,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""β-NLL: the Gaussian negative log-likelihood, each element weighted by its variance to the power β.

    Per element, with :math:`v = \max(\sigma^2, \epsilon)` and
    :math:`\lfloor\cdot\rfloor` meaning "no gradient flows through",

    .. math:: \ell_\beta = \lfloor v^\beta \rfloor \cdot
        \frac12\left(\log v + \frac{(\mu - y)^2}{v}\right),

    then ``reduction`` combines the elements. The Gaussian NLL's gradient with
    respect to the mean is :math:`(\mu - y)/v`: points the model calls noisy
    (large :math:`v`) pull the mean weakly, so a network can settle on a large
    variance there and stop fitting the mean (Seitzer et al. 2022). The
    stop-gradient weight :math:`v^\beta` undoes that: the mean's gradient
    becomes :math:`(\mu - y)/v^{1-\beta}`. ``beta=0`` is exactly
    :func:`gaussian_nll`; ``beta=1`` gives the mean the gradient of
    :math:`\tfrac12` :func:`lossbook.mse`. The weight changes the
    gradients, not the minimiser of each element (the variance is still best
    at the squared error), and the value is no longer a log-likelihood.

    The variance is clamped to ``eps`` as in :func:`gaussian_nll` (outside
    autograd), and the weight is computed from the clamped variance too, so a
    variance of 0 gives a finite loss and weight (Seitzer et al.'s code
    clamps neither). A negative variance is an error (a value check).
    float16/bfloat16 inputs are computed in float32 under ``torch.autocast``.

    No PyTorch counterpart; the tests compare with a float64 evaluation of the
    formula above, and with :func:`torch.nn.functional.gaussian_nll_loss` at
    ``beta=0``.

    Args:
        mean: predicted means :math:`\mu`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``mean``.
        var: predicted variances :math:`\sigma^2 \ge 0`, same shape, dtype and
            device as ``mean``.
        beta: exponent of the weight, in [0, 1]; the paper recommends 0.5.
        eps: lower clamp of the variance; must be > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``mean``'s shape.

    Shape:
        mean: ``(*)``, any shape.
        target: ``(*)``, the same shape.
        var: ``(*)``, the same shape.

    References:
        M. Seitzer, A. Tavakoli, D. Antic and G. Martius, "On the Pitfalls of
        Heteroscedastic Uncertainty Estimation with Probabilistic Neural
        Networks", ICLR 2022.

    Example:
        >>> import torch
        >>> import lossbook
        >>> mean, target, var = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([1.0, 4.0])
        >>> lossbook.beta_nll(mean, target, var, reduction="none")  # 1 * 0.5, sqrt(4) * log(4)/2
        tensor([0.5000, 1.3863])
        >>> torch.equal(lossbook.beta_nll(mean, target, var, beta=0.0), lossbook.gaussian_nll(mean, target, var))
        True
    """
    b = _core.check_nonnegative(beta, "beta")
    if b > 1:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    eps = _check_gaussian(mean, target, var, eps, reduction)
    if b == 0:  # a Python float, not tensor data: exactly gaussian_nll's operations
        return _core.reduce(_gaussian_terms(mean, target, var, eps)[0], reduction)
    return _core.reduce(_BetaNLL.apply(mean, target, var, b, eps), reduction)


def _beta_formula(mean, target, var, beta, eps):
    """β-NLL with plain differentiable operations (for double backward and the tests)."""
    loss, v = _gaussian_terms(mean, target, var, eps)
    return loss * v.detach() ** beta


class _BetaNLL(torch.autograd.Function):
    r"""Per-element β-NLL in one pass, with its gradient written out.

    With :math:`v = \max(\sigma^2, \epsilon)`, :math:`r = \mu - y`, :math:`q = r^2/v` and
    the constant weight :math:`w = v^\beta`: the loss is :math:`\tfrac12 w (\log v + q)`,
    :math:`\partial/\partial\mu = w r / v = -\partial/\partial y` and
    :math:`\partial/\partial\sigma^2 = \tfrac12 w (1 - q)/v` (straight through the
    clamp, as in :func:`gaussian_nll`). Forward and backward take about half the
    operations that autograd of the formula records; double backward goes through
    autograd of the formula.
    """

    @staticmethod
    def forward(ctx, mean, target, var, beta: float, eps: float):
        v = var.clamp(min=eps)
        r = mean - target
        q = r.square().div_(v)
        w = v.sqrt() if beta == 0.5 else v.pow(beta)
        loss = v.log().add_(q).mul_(w).mul_(0.5)
        ctx.save_for_backward(mean, target, var, r, v, q, w)
        ctx.beta, ctx.eps = beta, eps
        return loss

    @staticmethod
    def backward(ctx, grad):
        mean, target, var, r, v, q, w = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # double backward: autograd of the formula
            reference = lambda: _beta_formula(mean, target, var, ctx.beta, ctx.eps)  # noqa: E731
            return (*_core.reference_grads(reference, (mean, target, var), needs, grad), None, None)
        t = grad * w / v
        g_mean = t * r if needs[0] or needs[1] else None
        g_var = t.mul_(0.5).mul_(1 - q) if needs[2] else None
        return (g_mean if needs[0] else None), (-g_mean if needs[1] else None), g_var, None, None


def poisson_nll(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Poisson negative log-likelihood, for count targets.

    Per element, with the predicted rate :math:`\lambda` and the count
    :math:`y \ge 0`: for ``log_input=True`` the input is
    :math:`x = \log\lambda` and

    .. math:: \ell = e^{x} - y\,x, \qquad \frac{\partial\ell}{\partial x} = e^x - y;

    for ``log_input=False`` the input is :math:`\lambda` itself and
    :math:`\ell = \lambda - y \log(\lambda + \epsilon)`. This is
    :math:`-\log P(y \mid \lambda)` up to the term :math:`\log y!`, which does
    not depend on the prediction; ``full=True`` adds its Stirling
    approximation :math:`y \log y - y + \tfrac12 \log(2\pi y)` where
    :math:`y > 1` (0 elsewhere). The loss is convex in :math:`x` and smallest
    at :math:`\lambda = y`. ``reduction`` then combines the elements.

    Predicting the log-rate (the default) keeps the rate positive without a
    constraint and never takes a log of the prediction; with
    ``log_input=False`` the caller must keep :math:`\lambda \ge 0`. A negative
    target is an error (a value check); targets need not be integers.

    Matches :func:`torch.nn.functional.poisson_nll_loss` (same defaults;
    lossbook calls it). PyTorch takes ``log_input``, ``full`` and ``eps``
    positionally; here they are keyword-only, and PyTorch's deprecated
    ``size_average`` and ``reduce`` are not taken.

    Args:
        input: the predicted log-rate :math:`\log\lambda` (``log_input=True``)
            or rate :math:`\lambda` (``log_input=False``), floating point.
        target: counts :math:`y \ge 0`, same shape, dtype and device as ``input``.
        log_input: whether ``input`` is the log of the rate.
        full: add the Stirling term of :math:`\log y!`.
        eps: added to :math:`\lambda` inside the log when ``log_input=False``;
            must be > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``input``'s shape.

    Shape:
        input: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        J. A. Nelder and R. W. M. Wedderburn, "Generalized Linear Models",
        Journal of the Royal Statistical Society A 135(3), 1972 (Poisson
        regression with the log link).

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> log_rate, counts = torch.tensor([0.0, 1.0]), torch.tensor([2.0, 0.0])
        >>> lossbook.poisson_nll(log_rate, counts, reduction="none")  # e^0 - 2*0, e^1 - 0
        tensor([1.0000, 2.7183])
        >>> torch.equal(lossbook.poisson_nll(log_rate, counts), F.poisson_nll_loss(log_rate, counts))
        True
    """
    _core.check_pair(input, target, ("input", "target"))
    eps = _core.check_positive(eps, "eps")
    _core.check_reduction(reduction)
    if _core.value_checks_enabled():
        _core.require_values(~(target < 0), target, "target", "hold counts >= 0")
    return F.poisson_nll_loss(
        input, target, log_input=bool(log_input), full=bool(full), eps=eps,
        reduction=_core.kernel_reduction(reduction, input.numel()),
    )


def _check_level(q: object) -> float:
    v = _core._real(q, "q")
    if not 0 < v < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    return v


@_core.float32_under_autocast
def quantile(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    q: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Quantile (pinball) loss: its minimiser is the ``q``-quantile of the target.

    Per element, with :math:`r = y - \hat y` (target minus prediction; note the
    sign, the opposite of :mod:`lossbook.regression`'s residual),

    .. math:: \ell_q(r) = \max\bigl(q\,r,\ (q - 1)\,r\bigr) = \begin{cases}
        q\,r & r \ge 0 \\ (q - 1)\,r & r < 0 \end{cases}, \qquad
        \frac{\partial \ell_q}{\partial \hat y} = \begin{cases}
        -q & r > 0 \\ 1 - q & r < 0 \end{cases},

    then ``reduction`` combines the elements. An under-prediction costs
    :math:`q` per unit and an over-prediction :math:`1 - q`, so the expected
    loss of a constant prediction is smallest where a fraction :math:`q` of
    the targets lies below it: at the :math:`q`-quantile. ``q=0.5`` is half
    of :func:`lossbook.mae` (the median). At :math:`r = 0` the gradient is the
    subgradient :math:`1/2 - q`, the mean of the two slopes (as autograd of
    ``torch.maximum`` gives). Computed in one pass as :math:`r\,s` with the
    slope :math:`s` stored for the backward pass.
    float16/bfloat16 inputs are computed in float32 under ``torch.autocast``.

    No PyTorch counterpart; the peer is
    ``torch.maximum(q * r, (q - 1) * r).mean()``, and the tests compare with a
    float64 NumPy evaluation of the formula.

    Args:
        pred: predicted quantiles :math:`\hat y`, floating point.
        target: targets :math:`y`, same shape, dtype and device as ``pred``.
        q: the quantile level, in the open interval (0, 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or for ``"none"`` a tensor of ``pred``'s shape.

    Shape:
        pred: ``(*)``, any shape.
        target: ``(*)``, the same shape.

    References:
        R. Koenker and G. Bassett, "Regression Quantiles", Econometrica 46(1),
        1978.

    Example:
        >>> import torch
        >>> import lossbook
        >>> pred, target = torch.tensor([0.0, 0.0]), torch.tensor([2.0, -2.0])
        >>> lossbook.quantile(pred, target, q=0.9, reduction="none")  # 0.9*2 under, 0.1*2 over
        tensor([1.8000, 0.2000])
        >>> torch.equal(lossbook.quantile(pred, target), lossbook.mae(pred, target) / 2)
        True
    """
    q = _check_level(q)
    _core.check_pair(pred, target)
    _core.check_reduction(reduction)
    return _core.reduce(_Pinball.apply(pred, target, q), reduction)


class _Pinball(torch.autograd.Function):
    r"""The pinball loss as :math:`r\,s` with the slope :math:`s = q - \tfrac12 + \tfrac12\operatorname{sign}(r)`.

    :math:`s` is :math:`q` for :math:`r > 0`, :math:`q - 1` for :math:`r < 0` and
    the mean of the two at :math:`r = 0` (what autograd of ``torch.maximum`` gives
    at the tie); it is stored for the backward pass, which is one product. The
    slope is piecewise constant, so the backward pass is differentiable as it
    stands (second derivative 0).
    """

    @staticmethod
    def forward(ctx, pred, target, q: float):
        r = target - pred
        slope = torch.sign(r).mul_(0.5).add_(q - 0.5)
        ctx.save_for_backward(slope)
        return r * slope

    @staticmethod
    def backward(ctx, grad):
        (slope,) = ctx.saved_tensors
        g = grad * slope
        return (-g if ctx.needs_input_grad[0] else None), (g if ctx.needs_input_grad[1] else None), None
