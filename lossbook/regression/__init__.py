r"""Regression losses: functions of the residual :math:`r = \hat y - y`.

Every loss here takes ``pred`` and ``target`` of the same shape, dtype and
device (no broadcasting) and, except :func:`rmse`, a keyword ``reduction``:
``"mean"`` (default) averages the per-element losses, ``"sum"`` adds them and
``"none"`` returns them, one per element. The mean of an empty batch is a zero
that still backpropagates.
"""

# The losses live in private modules by kind; this package is their public home.
from ._fused import huber, mae, mse, rmse, smooth_l1
from ._smooth import log_cosh, pseudo_huber

__all__ = ["mse", "rmse", "mae", "huber", "smooth_l1", "pseudo_huber", "log_cosh"]
