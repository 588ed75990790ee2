"""Private helpers shared by every loss: argument checks and reductions.

Shape and argument checks always run. Checks that must read tensor *values*
(class indices in range, probabilities in [0, 1], ...) cost a device-to-host
synchronisation on a GPU, so they can be switched off with
:func:`set_value_checks` or the :func:`value_checks` context manager.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch

_REDUCTIONS = ("mean", "sum", "none")
_value_checks_enabled = True


def set_value_checks(enabled: bool) -> bool:
    """Turn the value-range checks on or off for the whole process.

    Args:
        enabled: ``True`` to check values (the default state), ``False`` to
            skip the checks that read tensor data.

    Returns:
        The previous setting, so that it can be restored.
    """
    global _value_checks_enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    previous = _value_checks_enabled
    _value_checks_enabled = enabled
    return previous


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Context manager that sets the value-range checks for a block.

    Example:
        >>> import lossbook
        >>> with lossbook.value_checks(False):
        ...     pass  # losses here skip the checks that read tensor values
    """
    previous = set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(previous)


def value_checks_enabled() -> bool:
    """Whether the value-range checks are on."""
    return _value_checks_enabled


# --------------------------------------------------------------------------
# Argument checks


def check_tensor(x: object, name: str, *, floating: bool = True) -> torch.Tensor:
    """Raise ``TypeError`` unless ``x`` is a tensor (of a floating dtype)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype (float16, bfloat16, "
            f"float32 or float64), got {x.dtype}"
        )
    return x


def check_pair(
    pred: object, target: object, names: tuple[str, str] = ("pred", "target")
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a prediction/target pair: floating tensors, same dtype, device and shape.

    No broadcasting: a ``(N,)`` prediction against a ``(N, 1)`` target is an
    error, not an ``(N, N)`` loss.
    """
    a, b = names
    check_tensor(pred, a)
    check_tensor(target, b)
    if pred.dtype != target.dtype:
        raise TypeError(
            f"{b} must have the same dtype as {a} ({pred.dtype}), got {target.dtype}"
        )
    if pred.device != target.device:
        raise ValueError(
            f"{b} must be on the same device as {a} ({pred.device}), got {target.device}"
        )
    check_same_shape(pred, target, names)
    return pred, target


def check_same_shape(
    x: torch.Tensor, y: torch.Tensor, names: tuple[str, str]
) -> None:
    """Raise ``ValueError`` unless the two tensors have exactly the same shape."""
    if x.shape != y.shape:
        raise ValueError(
            f"{names[1]} must have the same shape as {names[0]} "
            f"{tuple(x.shape)}, got {tuple(y.shape)} (lossbook does not broadcast)"
        )


def check_positive(value: object, name: str) -> float:
    """Raise unless ``value`` is a finite real number > 0."""
    v = _real(value, name)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return v


def check_nonnegative(value: object, name: str) -> float:
    """Raise unless ``value`` is a finite real number >= 0."""
    v = _real(value, name)
    if not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return v


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value}")
    return v


def check_reduction(reduction: object) -> str:
    """Raise ``ValueError`` unless ``reduction`` is 'mean', 'sum' or 'none'."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'mean', 'sum', 'none', got {reduction!r}"
        )
    return reduction  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Reductions


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Combine per-element or per-sample losses as ``reduction`` asks.

    ``"mean"`` of an empty tensor is a zero that still backpropagates (the
    convention of torchvision's box losses), not NaN.
    """
    check_reduction(reduction)
    if reduction == "none":
        return loss
    if reduction == "sum" or loss.numel() == 0:
        return loss.sum()
    return loss.mean()

