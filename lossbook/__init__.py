"""lossbook: the loss functions of deep learning, explained and tested.

Every loss is a small pure function of PyTorch tensors (prediction first,
then target, keyword-only options) that agrees with PyTorch and torchvision
where they have the same loss, and raises a clear error on input it cannot
mean. See the book for the mathematics and :mod:`lossbook.catalog` for the
list.
"""

from ._core import set_value_checks, value_checks
from ._device import device
from .regression import huber, log_cosh, mae, mse, pseudo_huber, rmse, smooth_l1

__version__ = "0.1.0"

__all__ = sorted(
    [
        "device",
        "huber",
        "log_cosh",
        "mae",
        "mse",
        "pseudo_huber",
        "rmse",
        "set_value_checks",
        "smooth_l1",
        "value_checks",
    ]
)
