"""Private helpers shared by every loss: argument checks and reductions.

Shape and argument checks always run. Checks that must read tensor *values*
(class indices in range, probabilities in [0, 1], ...) cost a device-to-host
synchronisation on a GPU, so they can be switched off with
:func:`set_value_checks` or the :func:`value_checks` context manager. Under
``torch.compile`` they become asserts inside the graph (see
:func:`set_value_checks`).

Mixed precision (:func:`float32_under_autocast`): inside ``torch.autocast``
a loss returns what its PyTorch/torchvision counterpart returns there. Every
PyTorch loss is on autocast's float32 list (it casts float16/bfloat16 inputs
to float32 and returns float32), so a lossbook loss whose counterpart is such
a loss, and every lossbook loss without a counterpart, is computed in float32
under autocast on its inputs' device: float16/bfloat16 inputs are cast to
float32 (float64 stays float64), the body runs with autocast off, the result
is float32 and the gradients reach the inputs in their own dtype. With
autocast off nothing is cast: float16 in, float16 out.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
from typing import Any, Callable, Iterator, TypeVar

import torch

_REDUCTIONS = ("mean", "sum", "none")
_value_checks_enabled = True


def set_value_checks(enabled: bool) -> bool:
    """Turn the value-range checks on or off for the whole process.

    Eager, a failed value check raises ``ValueError`` naming the argument and
    showing offending values; reading the answer makes a GPU wait for the
    device. Under ``torch.compile`` (``torch.compiler.is_compiling()``) a value
    check is a ``torch._assert_async`` in the graph instead: nothing breaks
    the graph or is read on the host, and bad input raises ``RuntimeError``
    with the same "``name`` must ..." text when the compiled code runs (on a
    GPU, a device-side assert). The setting is read when a function is
    compiled; changing it recompiles. With checks off neither runs.

    Args:
        enabled: ``True`` to check values (the default state), ``False`` to
            skip the checks that read tensor data.

    Returns:
        The previous setting, so that it can be restored.

    Example:
        >>> import lossbook
        >>> previous = lossbook.set_value_checks(False)
        >>> lossbook.set_value_checks(previous)
        False
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
# Mixed precision

_HALF = (torch.float16, torch.bfloat16)
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def _first_tensor(values: Any) -> torch.Tensor | None:
    """The first tensor among ``values``, looking into lists, tuples and dicts."""
    for v in values:
        if isinstance(v, torch.Tensor):
            return v
        if isinstance(v, (list, tuple)):
            found = _first_tensor(v)
        elif isinstance(v, dict):
            found = _first_tensor(v.values())
        else:
            continue
        if found is not None:
            return found
    return None


def _to_float32(v: Any) -> Any:
    """``v`` with every float16/bfloat16 tensor in it cast to float32 (differentiably)."""
    if isinstance(v, torch.Tensor):
        return v.float() if v.dtype in _HALF else v
    if type(v) in (list, tuple):
        return type(v)(_to_float32(x) for x in v)
    if type(v) is dict:
        return {k: _to_float32(x) for k, x in v.items()}
    return v


def float32_under_autocast(fn: _Fn) -> _Fn:
    """Decorator: under ``torch.autocast`` the loss is computed in float32, as PyTorch's losses are.

    PyTorch puts its losses (``mse_loss``, ``cross_entropy``,
    ``binary_cross_entropy_with_logits``, ...) on autocast's float32 list:
    inside ``torch.autocast`` they cast float16/bfloat16 inputs to float32 and
    return float32. A lossbook loss decorated with this follows the same rule.
    When autocast is on for the device of the first tensor among the
    arguments (``torch.is_autocast_enabled(device_type)``), every
    float16/bfloat16 tensor among the arguments (also inside lists, tuples and
    dicts, such as ``weighted_sum``'s losses) is cast to float32 with
    ``.float()``, so that gradients flow back to the inputs in their own
    dtype, and ``fn`` runs with autocast off. float64 tensors stay float64.
    With autocast off the call is unchanged (float16 in, float16 out). Under
    ``torch.compile`` the autocast state is read when tracing, so the graph
    stays whole.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        first = _first_tensor(args) if args else None
        if first is None:
            first = _first_tensor(kwargs.values())
        if first is None or not torch.is_autocast_enabled(first.device.type):
            return fn(*args, **kwargs)
        with torch.autocast(first.device.type, enabled=False):
            return fn(*_to_float32(args), **_to_float32(kwargs))

    return wrapper  # type: ignore[return-value]


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


def check_same_dtype(x: torch.Tensor, like: torch.Tensor, names: tuple[str, str]) -> None:
    """Raise ``TypeError`` unless ``x`` (``names[1]``) has the dtype of ``like`` (``names[0]``).

    The one wording of a dtype mismatch in lossbook:
    ``"target must have the same dtype as pred (torch.float32), got torch.float64"``.
    """
    if x.dtype != like.dtype:
        raise TypeError(f"{names[1]} must have the same dtype as {names[0]} ({like.dtype}), got {x.dtype}")


def check_same_device(x: object, like: torch.Tensor, names: tuple[str, str], *, type_only: bool = False) -> None:
    """Raise ``ValueError`` unless ``x`` (``names[1]``, a tensor or a ``torch.Generator``) is on
    the device of ``like`` (``names[0]``); ``type_only`` compares the device types only.

    The one wording of a device mismatch in lossbook:
    ``"target must be on the same device as pred (cpu), got cuda:0"``.
    """
    if (x.device.type != like.device.type) if type_only else (x.device != like.device):
        raise ValueError(f"{names[1]} must be on the same device as {names[0]} ({like.device}), got {x.device}")


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
    check_same_dtype(target, pred, names)
    check_same_device(target, pred, names)
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
    # numbers.Real admits Python and NumPy scalars; bool is an Integral but
    # never a meaningful threshold, so it is refused.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not abs(v) < math.inf:  # NaN too; math.isfinite would break a torch.compile graph
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
    """Combine per-element or per-sample losses as ``reduction`` asks (checked by the caller).

    ``"mean"`` of an empty tensor is a zero that still backpropagates (the
    convention of torchvision's box losses), not NaN.
    """
    if reduction == "none":
        return loss
    if reduction == "sum" or loss.numel() == 0:
        return loss.sum()
    return loss.mean()



# --------------------------------------------------------------------------
# Value checks (skipped when value checks are off)


def _some_values(bad: torch.Tensor) -> str:
    return f"values such as {bad.flatten()[:3].tolist()}"


def require_values(
    valid: torch.Tensor,
    values: torch.Tensor,
    name: str,
    expected: str,
    got: Callable[[torch.Tensor], str] = _some_values,
) -> None:
    """The one way a value check fails: ``ValueError`` naming ``name`` unless ``valid`` holds everywhere.

    ``valid`` is a boolean mask over ``values`` (or over its rows). Eager,
    the answer is read once (a synchronisation on a GPU) and the message is
    ``"{name} must {expected}, got {got(values[~valid])}"``, by default up to
    three offending values. Under ``torch.compile`` the check is a
    ``torch._assert_async`` in the graph instead, so the graph stays whole; it
    fails with a ``RuntimeError`` carrying ``"{name} must {expected}"`` when
    the graph runs.
    """
    ok = valid.all()
    if torch.compiler.is_compiling():
        torch._assert_async(ok, f"{name} must {expected}")
    elif not bool(ok):
        raise ValueError(f"{name} must {expected}, got {got(values[~valid])}")


def check_unit_interval(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` unless every value of ``x`` is in [0, 1] (NaN is not)."""
    if _value_checks_enabled:
        require_values((x >= 0) & (x <= 1), x, name, "hold probabilities in [0, 1]")


def check_class_indices(
    target: torch.Tensor, num_classes: int, name: str = "target", ignore_index: int | None = None
) -> None:
    """Raise ``ValueError`` unless every index is in ``[0, num_classes)`` (or ``ignore_index``)."""
    if not _value_checks_enabled:
        return
    valid = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        valid = valid | (target == ignore_index)
    require_values(valid, target, name, f"hold class indices in [0, {num_classes - 1}]")


def check_signs(target: torch.Tensor, name: str = "target") -> None:
    """Raise ``ValueError`` unless every value is -1 or +1."""
    if _value_checks_enabled:
        require_values((target == 1) | (target == -1), target, name, "hold labels -1 or +1")


def check_binary(x: torch.Tensor, name: str, expected: str = "hold 0 or 1") -> None:
    """Raise ``ValueError`` unless every value is 0 or 1."""
    if _value_checks_enabled:
        require_values((x == 0) | (x == 1), x, name, expected)


# --------------------------------------------------------------------------
# Class-dimension checks (classification, segmentation, ...)


def num_classes(scores: torch.Tensor, name: str) -> int:
    check_tensor(scores, name)
    if scores.dim() < 2:
        raise ValueError(
            f"{name} must have shape (N, C) or (N, C, d1, ...), got {tuple(scores.shape)}"
        )
    return scores.shape[1]


def check_index_target(scores: torch.Tensor, target: object, name: str, ignore_index: int | None = None) -> None:
    """Check integer class indices of shape ``(N, d1, ...)`` against ``(N, C, d1, ...)`` scores."""
    check_tensor(target, "target", floating=False)
    if target.dtype != torch.int64:  # PyTorch's kernels (nll_loss, gather, multi_margin_loss) need int64
        raise TypeError(f"target must hold integer class indices (int64), got {target.dtype}")
    expected = scores.shape[:1] + scores.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"target must have shape {tuple(expected)} for {name} of shape "
            f"{tuple(scores.shape)}, got {tuple(target.shape)}"
        )
    check_same_device(target, scores, (name, "target"))
    check_class_indices(target, scores.shape[1], ignore_index=ignore_index)


def check_normalizer(normalizer: object, reduction: str) -> float | torch.Tensor | None:
    """``None``, a finite number > 0, or a 0-d real tensor whose value is > 0 (a value check).

    The divisor of ``reduction="mean"`` in place of the local count of targets
    (micro-batches and processes share one, the count over all of them), so
    it is refused with any other reduction.
    """
    if normalizer is None:
        return None
    if reduction != "mean":
        raise ValueError(f"normalizer divides the sum of reduction='mean' only, got reduction={reduction!r}")
    if not isinstance(normalizer, torch.Tensor):
        return check_positive(normalizer, "normalizer")
    if normalizer.dim() != 0 or normalizer.dtype == torch.bool or normalizer.is_complex():
        raise ValueError(
            f"normalizer must be a number or a 0-d real tensor, got a tensor of shape "
            f"{tuple(normalizer.shape)} and dtype {normalizer.dtype}"
        )
    if _value_checks_enabled:
        require_values(normalizer > 0, normalizer.reshape(1), "normalizer", "be > 0")
    return normalizer


def divide_by_normalizer(total: torch.Tensor, normalizer: float | torch.Tensor) -> torch.Tensor:
    """``total / normalizer`` in ``total``'s dtype (a checked :func:`check_normalizer` value)."""
    if isinstance(normalizer, torch.Tensor):
        return total / normalizer.to(device=total.device, dtype=total.dtype)
    return total / normalizer


def check_class_weight(weight: object, scores: torch.Tensor, name: str) -> torch.Tensor | None:
    """``None`` or a floating ``(C,)`` tensor on the device and in the dtype of ``scores`` (called ``name``)."""
    if weight is None:
        return None
    check_tensor(weight, "weight")
    c = scores.shape[1]
    if weight.shape != (c,):
        raise ValueError(f"weight must have shape ({c},), one per class, got {tuple(weight.shape)}")
    check_same_dtype(weight, scores, (name, "weight"))
    check_same_device(weight, scores, (name, "weight"))
    return weight


def check_broadcast_weight(
    weight: object, shape: torch.Size, name: str, like: torch.Tensor, like_name: str
) -> torch.Tensor | None:
    """``None`` or a floating tensor that broadcasts to ``shape`` (PyTorch's rule for BCE weights),
    in the dtype and on the device of ``like`` (called ``like_name``)."""
    if weight is None:
        return None
    check_tensor(weight, name)
    try:
        ok = torch.broadcast_shapes(weight.shape, shape) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must broadcast to {tuple(shape)}, got {tuple(weight.shape)}")
    check_same_dtype(weight, like, (like_name, name))
    check_same_device(weight, like, (like_name, name))
    return weight


def nll_mean(
    log_probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, ignore_index: int
) -> torch.Tensor:
    """PyTorch's weighted mean of the NLL, ``sum_i w[y_i] l_i / sum_i w[y_i]`` over counted targets.

    PyTorch's kernel returns the sum together with its denominator (the total
    weight of the counted targets), so the mean costs one division. Where the
    denominator is 0 (no target counts, or class weights that cancel) the sum
    is returned undivided: 0 for a sum of nothing, where PyTorch gives NaN.
    """
    if log_probs.dim() <= 2:
        total, den = torch.ops.aten.nll_loss_forward(log_probs, target, weight, 2, ignore_index)
    else:  # (N, C, d1, ...): the 2-d kernel on (N, C, 1, d1 * ...), as F.nll_loss does
        n, c, d = log_probs.shape[0], log_probs.shape[1], math.prod(log_probs.shape[2:])
        total, den = torch.ops.aten.nll_loss2d_forward(
            log_probs.reshape(n, c, 1, d), target.reshape(n, 1, d), weight, 2, ignore_index
        )
    return total / torch.where(den != 0, den, 1)


def mean_over_targets(
    total: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, ignore_index: int | None
) -> torch.Tensor:
    """``total / sum of w[target]`` over the counted targets, PyTorch's weighted mean.

    For losses whose kernel does not return the denominator (:func:`nll_mean`
    does). The denominator stays a tensor (nothing is read on the host). Where
    it is 0 the total is returned undivided: 0 for a sum of nothing, where
    PyTorch gives NaN.
    """
    if weight is None and ignore_index is None:
        return total / max(target.numel(), 1)
    keep = target != ignore_index if ignore_index is not None else None
    if weight is None:
        den = keep.sum(dtype=torch.promote_types(total.dtype, torch.float32))  # a float divisor: faster
    else:
        picked = weight[target.clamp(0, weight.numel() - 1)]
        den = (picked if keep is None else torch.where(keep, picked, 0)).sum()
    return (total / torch.where(den != 0, den, 1)).to(total.dtype)


def kernel_reduction(reduction: str, numel: int) -> str:
    """The reduction to ask a PyTorch kernel for: ``"sum"`` for the mean of nothing.

    PyTorch's mean of an empty tensor is NaN; lossbook's is a zero that backpropagates.
    """
    return "sum" if reduction == "mean" and numel == 0 else reduction


def reference_grads(
    reference: Callable[[], torch.Tensor], inputs: tuple, needs: tuple[bool, ...], grad: torch.Tensor
) -> tuple[torch.Tensor | None, ...]:
    """The backward pass of a one-pass ``autograd.Function`` by autograd of a reference form.

    Used where the written-out gradient will not do: double backward (the
    gradient must itself be differentiable), or an input whose derivative
    the Function does not write out. ``reference()`` evaluates the loss from
    ``inputs`` with plain differentiable operations; the result has one entry
    per input, ``None`` where ``needs`` is False.
    """
    wrt = [x for x, need in zip(inputs, needs) if need]
    with torch.enable_grad():
        out = reference()
    grads = iter(torch.autograd.grad(out, wrt, grad, create_graph=torch.is_grad_enabled()))
    return tuple(next(grads) if need else None for need in needs)
