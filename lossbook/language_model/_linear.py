"""``linear_cross_entropy``: argument checks, autocast, the reduction around the chunked Functions."""

from __future__ import annotations

import torch

from .. import _core
from ._function import _LinearCrossEntropy, _LinearCrossEntropyTotal, default_chunk_size

# --------------------------------------------------------------------------
# Checks


def _check_inputs(hidden, weight, bias, target, class_weight, ignore_index):
    _core.check_tensor(hidden, "hidden")
    if hidden.dim() != 2:
        raise ValueError(f"hidden must have shape (N, D), got {tuple(hidden.shape)}")
    _core.check_tensor(weight, "weight")
    d = hidden.shape[1]
    if weight.dim() != 2 or weight.shape[1] != d:
        raise ValueError(f"weight must have shape (V, {d}), D as in hidden, got {tuple(weight.shape)}")
    _core.check_same_dtype(weight, hidden, ("hidden", "weight"))
    _core.check_same_device(weight, hidden, ("hidden", "weight"))
    v = weight.shape[0]
    if v < 1:
        raise ValueError("weight must have at least one row (one per class), got 0")
    for name, x in (("bias", bias), ("class_weight", class_weight)):
        if x is None:
            continue
        _core.check_tensor(x, name)
        if x.shape != (v,):
            raise ValueError(f"{name} must have shape ({v},), one per class (row of weight), got {tuple(x.shape)}")
        _core.check_same_dtype(x, hidden, ("hidden", name))
        _core.check_same_device(x, hidden, ("hidden", name))
    _core.check_tensor(target, "target", floating=False)
    if target.dtype != torch.int64:
        raise TypeError(f"target must hold integer class indices (int64), got {target.dtype}")
    if target.shape != hidden.shape[:1]:
        raise ValueError(
            f"target must have shape ({hidden.shape[0]},) for hidden of shape {tuple(hidden.shape)}, "
            f"got {tuple(target.shape)}"
        )
    _core.check_same_device(target, hidden, ("hidden", "target"))
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
    _core.check_class_indices(target, v, ignore_index=ignore_index)
    return v


def _unit(value, name):
    v = _core.check_nonnegative(value, name)
    if v > 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return v


# --------------------------------------------------------------------------
# The losses


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    class_weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    softcap: float | None = None,
    reduction: str = "mean",
    normalizer: float | torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Cross-entropy of the logits of a linear layer, computed chunk by chunk without materialising them.

    With logits :math:`z_i = W h_i + b` (soft-capped to
    :math:`c \tanh(z_i / c)` when ``softcap`` :math:`c` is given),
    :math:`\mathrm{lse}_i = \log\sum_v e^{z_{iv}}`, class weights :math:`w`
    (default 1), label smoothing :math:`\varepsilon` and z-loss weight
    :math:`\lambda`, token :math:`i` with target :math:`y_i` contributes

    .. math:: \ell_i = (1-\varepsilon)\, w_{y_i} (\mathrm{lse}_i - z_{i y_i})
        + \frac{\varepsilon}{V} \sum_v w_v (\mathrm{lse}_i - z_{iv})
        + \lambda\, w_{y_i} \mathrm{lse}_i^2,

    and 0 when :math:`y_i` is ``ignore_index``. ``"mean"`` divides
    :math:`\sum_i \ell_i` by :math:`\sum_i w_{y_i}` over the counted tokens
    (their number without class weights), or by ``normalizer`` when given;
    when no token counts it is a zero that backpropagates. The first two
    terms are PyTorch's cross-entropy (its weighted label smoothing too); the
    last is the z-loss of PaLM, reduced like the cross-entropy. The logits
    exist one chunk of tokens at a time. With ``"mean"`` or ``"sum"`` the
    upstream gradient is one number, so the gradients of the inputs are
    formed in the forward pass while each chunk's logits exist and the
    backward only scales them; with ``"none"`` only the per-token
    :math:`\mathrm{lse}_i` is kept, and the backward, which receives one
    upstream gradient per token, recomputes each chunk's logits. Either way
    memory grows with :math:`N` and :math:`V` separately, never with
    :math:`N V`. The gradient of ``weight``
    and ``bias`` is summed over the chunks in float32 for float16/bfloat16
    inputs. Inside ``torch.autocast`` the matrix product runs in the
    autocast dtype (as ``F.linear`` does there) and the loss is float32. It
    has no second derivative (double backward raises ``RuntimeError``).

    Matches :func:`torch.nn.functional.linear_cross_entropy`, i.e.
    ``F.cross_entropy(F.linear(hidden, weight, bias), target, ...)`` of the
    materialised logits, when ``z_loss=0`` and ``softcap=None``.

    Value checks (on by default) read ``target`` (and a tensor
    ``normalizer``); ``lossbook.set_value_checks(False)`` switches them off.

    Args:
        hidden: the last hidden states :math:`h`, one row per token.
        weight: the output projection :math:`W` (the unembedding), one row per class.
        target: the next tokens' class indices.
        bias: the projection's bias :math:`b`, or None.
        class_weight: per-class weights :math:`w`, or None.
        ignore_index: target value that contributes nothing (padding).
        label_smoothing: :math:`\varepsilon` in [0, 1].
        z_loss: :math:`\lambda \ge 0`, the weight of :math:`\mathrm{lse}^2` (PaLM used 1e-4).
        softcap: :math:`c > 0`, or None for no capping (Gemma 2 used 30).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per token).
        normalizer: with ``"mean"``, the divisor of the sum in place of the
            local count: a number or a 0-d tensor, > 0 (the count of tokens
            over all micro-batches and processes).
        chunk_size: tokens per chunk, >= 1; None picks about
            :data:`CHUNK_ELEMENTS` logits per chunk (under
            ``torch.compile``, where the token count may be symbolic, None
            makes the batch one chunk; a given ``chunk_size`` is unrolled
            there for the traced batch size, which then recompiles for
            another size).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N,)``.

    Shape:
        hidden: ``(N, D)``.
        weight: ``(V, D)``.
        target: ``(N,)``.
        bias, class_weight: ``(V,)``.

    References:
        E. Wijmans et al., "Cut Your Losses in Large-Vocabulary Language
        Models", ICLR 2025 (the chunked, recomputing computation);
        P.-L. Hsu et al., "Liger Kernel: Efficient Triton Kernels for LLM
        Training", arXiv:2410.10989, 2024; z-loss: A. Chowdhery et al.,
        "PaLM: Scaling Language Modeling with Pathways", JMLR 2023
        (arXiv:2204.02311, 2022); soft-capping: Gemma Team, "Gemma 2:
        Improving Open Language Models at a Practical Size",
        arXiv:2408.00118, 2024.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> import lossbook
        >>> g = torch.Generator().manual_seed(0)
        >>> hidden, weight = torch.randn(10, 4, generator=g), torch.randn(7, 4, generator=g)
        >>> target = torch.tensor([0, 1, 2, 3, 4, 5, 6, -100, 1, 2])
        >>> loss = lossbook.linear_cross_entropy(hidden, weight, target, chunk_size=3)
        >>> torch.allclose(loss, F.cross_entropy(hidden @ weight.T, target))
        True
    """
    _core.check_reduction(reduction)
    v = _check_inputs(hidden, weight, bias, target, class_weight, ignore_index)
    eps = _unit(label_smoothing, "label_smoothing")
    zl = _core.check_nonnegative(z_loss, "z_loss")
    cap = None if softcap is None else _core.check_positive(softcap, "softcap")
    norm = _core.check_normalizer(normalizer, reduction)
    if chunk_size is None:
        # Traced by torch.compile, the token count may be a symbol (dynamic shapes), which a
        # loop over chunks would fix to one value: the default there is one chunk, whose
        # logits are still recomputed in the backward rather than saved.
        chunk = None if torch.compiler.is_compiling() else default_chunk_size(v)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int or None, got {type(chunk_size).__name__}")
    elif chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    else:
        chunk = chunk_size
    out_dtype = hidden.dtype
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        # as under autocast F.linear runs in the autocast dtype and cross_entropy in float32
        low = torch.get_autocast_dtype(device)
        cast = (lambda x: x.to(low) if x is not None and x.dtype != torch.float64 else x)
        hidden, weight, bias = cast(hidden), cast(weight), cast(bias)
        out_dtype = torch.float32 if hidden.dtype != torch.float64 else torch.float64
        with torch.autocast(device, enabled=False):
            return _reduce(hidden, weight, bias, target, class_weight, ignore_index, eps, zl, cap, chunk,
                           reduction, norm, out_dtype)
    return _reduce(hidden, weight, bias, target, class_weight, ignore_index, eps, zl, cap, chunk,
                   reduction, norm, out_dtype)


def _reduce(hidden, weight, bias, target, class_weight, ignore_index, eps, zl, cap, chunk, reduction, norm, out):
    if reduction == "none":
        losses = _LinearCrossEntropy.apply(hidden, weight, bias, target, class_weight, ignore_index, eps, zl, cap,
                                           chunk)
        return losses.to(out)
    compute = torch.promote_types(hidden.dtype, torch.float32)
    one = torch.ones((), dtype=compute, device=hidden.device)
    if reduction == "sum":
        scale = one
    elif norm is not None:
        scale = _core.divide_by_normalizer(one, norm).detach()
    else:  # PyTorch's weighted mean over the counted tokens; 0 when none counts
        keep = target != ignore_index
        if class_weight is None:
            den = keep.sum(dtype=compute)
        else:
            den = torch.where(keep, class_weight.to(compute)[torch.where(keep, target, 0)], 0).sum()
        scale = 1 / torch.where(den != 0, den, 1)
    grad = torch.is_grad_enabled()
    needs = tuple(grad and x is not None and x.requires_grad for x in (hidden, weight, bias))
    total = _LinearCrossEntropyTotal.apply(hidden, weight, bias, target, class_weight, scale, needs, ignore_index,
                                           eps, zl, cap, chunk)
    return total.to(out)
