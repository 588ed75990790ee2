r"""Combining losses: fixed weighted sums and learned uncertainty weighting.

A multi-task model (or a composite objective such as detection's
classification plus box regression) minimises one number made from several
losses. Because the gradient of a weighted sum is the weighted sum of the
gradients, the weights set how hard each task pulls on the shared
parameters; they are as much hyperparameters as the learning rate.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from . import _core

__all__ = ["weighted_sum", "UncertaintyWeighting"]


def _the_value(bad: torch.Tensor) -> str:
    return str(bad.tolist()[0])


def _check_weight(w: object, name: str) -> torch.Tensor | float:
    if isinstance(w, torch.Tensor):
        if not w.is_floating_point():
            raise TypeError(f"{name} must be a real number or a 0-dim floating tensor, got {w.dtype}")
        if w.dim() != 0:
            raise ValueError(f"{name} must be a real number or a 0-dim tensor, got shape {tuple(w.shape)}")
        if _core.value_checks_enabled():
            d = w.detach()
            _core.require_values(torch.isfinite(d) & (d >= 0), d, name, "be finite and >= 0", got=_the_value)
        return w
    if isinstance(w, bool) or not isinstance(w, numbers.Real):
        raise TypeError(f"{name} must be a real number or a 0-dim tensor, got {type(w).__name__}")
    return _core.check_nonnegative(w, name)


def _plain_weighted_sum(losses: object, weights: object) -> torch.Tensor | None:
    """The sum for the common, valid case (lists or tuples of same-shape tensors and of
    non-negative finite Python numbers), checked without the generic machinery; None
    for anything else, which the full checks then handle (and explain)."""
    if type(losses) not in (list, tuple) or type(weights) not in (list, tuple):
        return None
    if not losses or len(losses) != len(weights):
        return None
    first = losses[0]
    if type(first) is not torch.Tensor or not first.is_floating_point():
        return None
    dtype, device, shape = first.dtype, first.device, first.shape
    for loss, w in zip(losses, weights):
        if type(loss) is not torch.Tensor or loss.dtype != dtype or loss.shape != shape or loss.device != device:
            return None
        if type(w) is not float and type(w) is not int or not 0 <= w < math.inf:
            return None
    total = weights[0] * first
    for loss, w in zip(losses[1:], weights[1:]):
        total = total + w * loss
    return total


@_core.float32_under_autocast
def weighted_sum(
    losses: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
    weights: Sequence[float | torch.Tensor] | Mapping[str, float | torch.Tensor],
) -> torch.Tensor:
    r"""A weighted sum of losses, :math:`\sum_i w_i L_i`.

    .. math:: L = \sum_{i=1}^{k} w_i\,L_i, \qquad
              \nabla_\theta L = \sum_i w_i\,\nabla_\theta L_i .

    ``losses`` and ``weights`` are either two sequences of the same length
    (matched by position) or two mappings with the same keys (matched by
    name, the safer form: a reordered list cannot silently pair a weight with
    the wrong task). A length or key mismatch is an error, never a silent
    truncation as ``zip`` would do. The losses are usually scalars, but any
    tensors of one common shape work (e.g. per-sample losses,
    ``reduction="none"``), without broadcasting.

    Weights are non-negative finite numbers or 0-dim tensors (a tensor
    weight may carry a gradient, e.g. a schedule or a learned weight).
    A negative weight would turn minimising that term into maximising it; if
    that is meant, negate the loss instead.

    No PyTorch counterpart; it equals ``sum(w * l for w, l in zip(weights, losses))``.

    Args:
        losses: a sequence or mapping of loss tensors, all of one shape,
            dtype and device.
        weights: a sequence or mapping of weights, matching ``losses``.

    Returns:
        A tensor of the losses' shape.

    Shape:
        each loss: ``()`` usually; all the same shape.

    References:
        R. Caruana, "Multitask Learning", Machine Learning 28, 1997; A. Kendall,
        Y. Gal and R. Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
        Losses", CVPR 2018 (on how sensitive results are to the weights).

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.weighted_sum([torch.tensor(1.0), torch.tensor(2.0)], [0.5, 0.25])
        tensor(1.)
        >>> losses = {"box": torch.tensor(1.0), "cls": torch.tensor(2.0)}
        >>> lossbook.weighted_sum(losses, {"box": 2.0, "cls": 1.0})
        tensor(4.)
    """
    total = _plain_weighted_sum(losses, weights)
    if total is not None:
        return total
    if isinstance(losses, Mapping) or isinstance(weights, Mapping):
        if not (isinstance(losses, Mapping) and isinstance(weights, Mapping)):
            raise TypeError("losses and weights must both be sequences or both be mappings")
        if set(losses) != set(weights):
            missing = sorted(map(str, set(losses) - set(weights)))
            extra = sorted(map(str, set(weights) - set(losses)))
            raise ValueError(
                f"weights must have the same keys as losses: no weight for {missing}, "
                f"weights without a loss {extra}"
            )
        names = list(losses)
        pairs = [(f"losses[{k!r}]", losses[k], f"weights[{k!r}]", weights[k]) for k in names]
    else:
        for obj, name in ((losses, "losses"), (weights, "weights")):
            if isinstance(obj, (str, bytes, torch.Tensor)) or not isinstance(obj, Sequence):
                raise TypeError(f"{name} must be a sequence or a mapping, got {type(obj).__name__}")
        if len(losses) != len(weights):
            raise ValueError(
                f"weights must have one entry per loss: {len(losses)} losses, {len(weights)} weights"
            )
        pairs = [(f"losses[{i}]", l, f"weights[{i}]", w) for i, (l, w) in enumerate(zip(losses, weights))]
    if not pairs:
        raise ValueError("losses must not be empty")
    first_name, first = pairs[0][0], pairs[0][1]
    _core.check_tensor(first, first_name)
    total = None
    for lname, loss, wname, w in pairs:
        _core.check_tensor(loss, lname)
        if loss is not first:
            _core.check_same_dtype(loss, first, (first_name, lname))
            _core.check_same_device(loss, first, (first_name, lname))
            _core.check_same_shape(first, loss, (first_name, lname))
        w = _check_weight(w, wname)
        if isinstance(w, torch.Tensor):  # the total keeps the losses' dtype and device
            w = w.to(dtype=loss.dtype, device=loss.device)
        term = w * loss
        total = term if total is None else total + term
    return total


class UncertaintyWeighting(nn.Module):
    r"""Multi-task weighting learned from each task's homoscedastic uncertainty.

    With one learnable log-variance :math:`s_i` per task, started at 0,

    .. math:: L = \sum_{i=1}^{k} e^{-s_i} L_i + s_i .

    Minimising over :math:`s_i` for fixed :math:`L_i` gives
    :math:`e^{-s_i} = 1 / L_i`: a task with a large (noisy) loss gets a small
    weight, and the :math:`+s_i` term stops every weight from collapsing to
    zero. This is the simplified form used in practice; Kendall et al.
    derive :math:`\tfrac{1}{2\sigma_i^2}L_i + \log\sigma_i` for a Gaussian
    likelihood (:math:`s_i = \log\sigma_i^2` up to the factor 1/2). The
    total can be negative once a task's loss is below 1: it is an objective
    for the weights, not an error to report; report the task losses.

    Put the module's parameters in the optimiser with the model's.

    No PyTorch counterpart; it equals
    ``(torch.exp(-s) * torch.stack(losses) + s).sum()`` with
    ``s = weighting.log_vars``.

    Args:
        num_tasks: the number of losses :math:`k \ge 1`.

    Shape:
        forward(losses): a sequence of ``k`` scalar tensors, or a tensor of
        shape ``(k,)``; returns a scalar.

    References:
        A. Kendall, Y. Gal and R. Cipolla, "Multi-Task Learning Using
        Uncertainty to Weigh Losses for Scene Geometry and Semantics",
        CVPR 2018.

    Example:
        >>> import torch
        >>> import lossbook
        >>> weighting = lossbook.UncertaintyWeighting(2)
        >>> weighting([torch.tensor(1.0), torch.tensor(2.0)]).item()  # s_i = 0: the plain sum
        3.0
    """

    def __init__(self, num_tasks: int) -> None:
        super().__init__()
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, numbers.Integral):
            raise TypeError(f"num_tasks must be an int, got {type(num_tasks).__name__}")
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        self.num_tasks = int(num_tasks)
        #: the log-variances :math:`s_i`, one per task
        self.log_vars = nn.Parameter(torch.zeros(self.num_tasks))

    @property
    def weights(self) -> torch.Tensor:
        """The current task weights :math:`e^{-s_i}` (detached)."""
        return torch.exp(-self.log_vars.detach())

    @_core.float32_under_autocast
    def forward(self, losses: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """The weighted total :math:`\\sum_i e^{-s_i} L_i + s_i`."""
        stacked = self._stack(losses)
        s = self.log_vars
        if s.dtype != stacked.dtype or s.device != stacked.device:
            s = s.to(device=stacked.device, dtype=stacked.dtype)
        return (torch.exp(-s) * stacked + s).sum()

    def _stack(self, losses: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """The losses as one ``(k,)`` tensor; a short path for a list of good scalars, else every check."""
        if type(losses) in (list, tuple) and len(losses) == self.num_tasks:
            try:  # stack raises on mixed devices, shapes and non-tensors: the checks below name the culprit
                stacked = torch.stack(losses)
            except (RuntimeError, TypeError):
                stacked = None
            if stacked is not None and stacked.shape == (self.num_tasks,) and stacked.is_floating_point():
                dtype = stacked.dtype  # stack promotes mixed dtypes: check each
                if all(loss.dtype is dtype for loss in losses):
                    return stacked
        return self._checked_stack(losses)

    def _checked_stack(self, losses: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Every check on the losses, each with its own message; then the ``(k,)`` tensor."""
        if isinstance(losses, torch.Tensor):
            _core.check_tensor(losses, "losses")
            if losses.shape != (self.num_tasks,):
                raise ValueError(
                    f"losses must have shape ({self.num_tasks},), one per task, got {tuple(losses.shape)}"
                )
            return losses
        if type(losses) not in (list, tuple) and (
            isinstance(losses, (str, bytes, Mapping)) or not isinstance(losses, Sequence)
        ):
            raise TypeError(f"losses must be a sequence of scalar tensors or a 1-D tensor, got {type(losses).__name__}")
        if len(losses) != self.num_tasks:
            raise ValueError(f"losses must have {self.num_tasks} entries, one per task, got {len(losses)}")
        for i, loss in enumerate(losses):
            if type(loss) is not torch.Tensor or not loss.is_floating_point():  # common case: no call
                _core.check_tensor(loss, f"losses[{i}]")
            if loss.dim() != 0:
                raise ValueError(f"losses[{i}] must be a scalar (0-dim) tensor, got shape {tuple(loss.shape)}")
            if loss.dtype != losses[0].dtype or loss.device != losses[0].device:  # common case: no call
                _core.check_same_dtype(loss, losses[0], ("losses[0]", f"losses[{i}]"))
                _core.check_same_device(loss, losses[0], ("losses[0]", f"losses[{i}]"))
        return torch.stack(list(losses))

    def extra_repr(self) -> str:
        return f"num_tasks={self.num_tasks}"
