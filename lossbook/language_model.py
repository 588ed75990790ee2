r"""Losses for language models at vocabulary scale.

A language model's last layer turns each token's hidden state :math:`h`
(width :math:`D`) into logits over a vocabulary of :math:`V` words,
:math:`z = W h + b`, and the loss is the cross-entropy of the next token.
With :math:`N` tokens the logits are an :math:`N \times V` matrix, the
largest tensor of the whole step when :math:`V` is in the tens of
thousands. :func:`linear_cross_entropy` computes the loss and its gradients
from :math:`h` and :math:`W` chunk by chunk, never holding that matrix;
:func:`z_loss` and :func:`softcap` keep the logits in range; :func:`perplexity`
reports the loss as a language modeller does; and ``normalizer`` (also on
:func:`lossbook.cross_entropy`) makes micro-batches and processes weigh every
token the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _core
from .classification import cross_entropy

__all__ = ["linear_cross_entropy", "z_loss", "softcap", "perplexity"]

#: Elements of one chunk's (rows, V) logits when ``chunk_size`` is not given (8 MB in float32).
CHUNK_ELEMENTS = 1 << 21


def default_chunk_size(vocab: int) -> int:
    """The rows of a chunk when ``chunk_size`` is None: about :data:`CHUNK_ELEMENTS` logits."""
    return max(1, CHUNK_ELEMENTS // max(vocab, 1))


# --------------------------------------------------------------------------
# The chunked Function


def _chunk_logits(h, weight, bias, compute, cap):
    """A chunk's logits in ``compute`` dtype (soft-capped), and tanh of the capped ones (or None)."""
    z = F.linear(h, weight, bias).to(compute)  # the matmul in the inputs' dtype, the rest in float32+
    if cap is None:
        return z, None
    t = torch.tanh(z / cap)
    return cap * t, t


def _boundaries(n, chunk):
    """The chunks' (start, end) rows; ``chunk`` None: the whole batch is one chunk."""
    if chunk is None:
        return [(0, n)]
    # A Python loop over the rows: torch.compile unrolls it for the traced batch size
    # (and guards on that size, so another batch size recompiles).
    return [(s, min(s + chunk, n)) for s in range(0, n, chunk)] or [(0, 0)]


def _setup(hidden, weight, target, class_weight, ignore_index):
    compute = torch.promote_types(hidden.dtype, torch.float32)  # the softmax in float32 or float64
    keep = target != ignore_index
    y = torch.where(keep, target, 0)
    cw = class_weight.to(compute) if class_weight is not None else None
    wsum = cw.sum() if cw is not None else weight.shape[0]
    return compute, keep, y, cw, wsum


def _chunk_loss(logits, lse, y, keep, cw, wsum, eps, zl, v):
    """Per-token losses of a chunk (0 where ignored), from its logits and log-sum-exp."""
    picked = logits.gather(1, y[:, None]).squeeze(1)
    w_y = cw[y] if cw is not None else 1.0
    loss = lse - picked
    if eps > 0 or cw is not None:  # (a Python number 1 multiplies nothing: one operation fewer)
        loss = (1 - eps) * w_y * loss
    if eps > 0:  # PyTorch's smoothing: eps / V * sum_c w_c (lse - logit_c)
        smooth = logits @ cw if cw is not None else logits.sum(1)
        loss = loss + eps / v * (wsum * lse - smooth)
    if zl > 0:
        loss = loss + zl * w_y * lse.square()
    return torch.where(keep, loss, 0)


def _chunk_grad(probs, t, lse, g, y, cw, wsum, eps, zl, v):
    """d loss / d logits of a chunk, for per-token upstream gradients ``g`` (0 where ignored):
    ``p * spread - hit * onehot(y) - g eps / V * w``, times the soft-cap's slope. Formed in
    place in ``probs`` (and ``t``), so that a chunk holds few (rows, V) tensors at once."""
    w_y = cw[y] if cw is not None else 1.0
    hit = g if eps == 0 and cw is None else g * ((1 - eps) * w_y)  # the pull of the target class
    coef = (1 - eps) * w_y + eps * wsum / v  # Python operations where nothing is a tensor
    if zl > 0:
        coef = coef + 2 * zl * w_y * lse
    spread = g if isinstance(coef, (int, float)) and coef == 1 else g * coef
    d = probs.mul_(spread[:, None]).scatter_add_(1, y[:, None], hit.neg()[:, None])
    if eps > 0:
        d.sub_((g[:, None] * (eps / v)) * (cw[None, :] if cw is not None else 1.0))
    if t is not None:
        d.mul_(t.square_().neg_().add_(1))  # the slope 1 - tanh^2
    return d


class _Grads:
    """Gradients of hidden, weight and bias, filled chunk by chunk (weight and bias summed in float32+).

    ``one``: the batch is one chunk, whose products are the gradients themselves (nothing to add up).
    """

    def __init__(self, hidden, weight, bias, needs, one):
        self.hidden, self.weight, self.one = hidden, weight, one
        self.acc = torch.promote_types(weight.dtype, torch.float32)
        self.need = (needs[0], needs[1], needs[2] and bias is not None)
        self.h = self.w = self.b = None
        if not one:
            dev = weight.device
            self.h = torch.empty_like(hidden) if self.need[0] else None
            self.w = torch.zeros(weight.shape, dtype=self.acc, device=dev) if self.need[1] else None
            self.b = torch.zeros(weight.shape[0], dtype=self.acc, device=dev) if self.need[2] else None

    def add(self, d, s, e):
        dz = d.to(self.hidden.dtype)  # the matrix products in the inputs' dtype, as autograd of F.linear
        if self.need[0]:
            h = dz @ self.weight
            if self.one:
                self.h = h
            else:
                self.h[s:e] = h
        if self.need[1]:
            w = (dz.t() @ self.hidden[s:e]).to(self.acc)
            self.w = w if self.one else self.w.add_(w)
        if self.need[2]:
            b = dz.sum(0, dtype=self.acc)  # the rounded gradient, as autograd of F.linear sums it
            self.b = b if self.one else self.b.add_(b)

    def result(self, bias):
        w = self.w.to(self.weight.dtype) if self.w is not None else None
        b = self.b.to(bias.dtype) if self.b is not None else None
        return self.h, w, b


def _no_double_backward():
    if torch.is_grad_enabled():
        raise RuntimeError(
            "linear_cross_entropy has no double backward: its gradients are formed chunk by chunk "
            "without a graph (compute the loss from materialised logits with lossbook.cross_entropy "
            "for second derivatives)"
        )


class _LinearCrossEntropy(torch.autograd.Function):
    """Per-token losses of ``h W^T + b`` (``reduction="none"``): saves the inputs and the per-token
    log-sum-exp only, and recomputes each chunk's logits in the backward, where the per-token
    upstream gradient is known."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, target, class_weight, ignore_index, eps, zl, cap, chunk):
        n, v = hidden.shape[0], weight.shape[0]
        compute, keep, y, cw, wsum = _setup(hidden, weight, target, class_weight, ignore_index)
        losses, lses = [], []
        for s, e in _boundaries(n, chunk):
            logits, _ = _chunk_logits(hidden[s:e], weight, bias, compute, cap)
            lse = torch.logsumexp(logits, dim=1)
            losses.append(_chunk_loss(logits, lse, y[s:e], keep[s:e], cw, wsum, eps, zl, v))
            lses.append(lse)
        lse = torch.cat(lses) if len(lses) > 1 else lses[0]
        ctx.save_for_backward(hidden, weight, bias, y, keep, class_weight, lse)
        ctx.options = (eps, zl, cap, chunk)
        return torch.cat(losses) if len(losses) > 1 else losses[0]

    @staticmethod
    def backward(ctx, grad):
        _no_double_backward()
        hidden, weight, bias, y, keep, class_weight, lse = ctx.saved_tensors
        eps, zl, cap, chunk = ctx.options
        compute, v = lse.dtype, weight.shape[0]
        cw = class_weight.to(compute) if class_weight is not None else None
        wsum = cw.sum() if cw is not None else v
        g = torch.where(keep, grad.to(compute), 0)
        chunks = _boundaries(hidden.shape[0], chunk)
        grads = _Grads(hidden, weight, bias, ctx.needs_input_grad[:3], len(chunks) == 1)
        for s, e in chunks:
            logits, t = _chunk_logits(hidden[s:e], weight, bias, compute, cap)
            probs = (logits - lse[s:e, None]).exp_()
            del logits
            grads.add(_chunk_grad(probs, t, lse[s:e], g[s:e], y[s:e], cw, wsum, eps, zl, v), s, e)
        return *grads.result(bias), None, None, None, None, None, None, None


class _LinearCrossEntropyTotal(torch.autograd.Function):
    """``scale * sum_i loss_i`` (``"sum"``, and ``"mean"`` with ``scale`` = 1 / denominator).

    The upstream gradient is one number, so the gradients are formed in the forward pass, chunk
    by chunk while each chunk's logits exist, for an upstream gradient of 1, and the backward
    only scales them: no logits are recomputed. Held between the passes: the gradients of the
    inputs, which have the inputs' sizes, never the (N, V) logits.
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, target, class_weight, scale, needs, ignore_index, eps, zl, cap, chunk):
        n, v = hidden.shape[0], weight.shape[0]
        compute, keep, y, cw, wsum = _setup(hidden, weight, target, class_weight, ignore_index)
        scale = scale.to(compute)
        g = torch.where(keep, scale, 0)
        chunks = _boundaries(n, chunk)
        grads = _Grads(hidden, weight, bias, needs, len(chunks) == 1) if any(needs) else None
        total = None
        for s, e in chunks:
            logits, t = _chunk_logits(hidden[s:e], weight, bias, compute, cap)
            top = logits.amax(1, keepdim=True)
            exp = (logits - top).exp_()  # one exponential per logit, for the log-sum-exp and the softmax
            z = exp.sum(1, keepdim=True)
            lse = (top + torch.log(z)).squeeze(1)
            part = _chunk_loss(logits, lse, y[s:e], keep[s:e], cw, wsum, eps, zl, v).sum()
            total = part if total is None else total + part
            del logits
            if grads is not None:
                grads.add(_chunk_grad(exp.div_(z), t, lse, g[s:e], y[s:e], cw, wsum, eps, zl, v), s, e)
        saved = grads.result(bias) if grads is not None else (None, None, None)
        ctx.save_for_backward(*saved)
        return total * scale

    @staticmethod
    def backward(ctx, grad):
        _no_double_backward()
        out = []
        for saved, need in zip(ctx.saved_tensors, ctx.needs_input_grad[:3]):
            out.append((saved * grad).to(saved.dtype) if need and saved is not None else None)
        return *out, None, None, None, None, None, None, None, None, None


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


@_core.float32_under_autocast
def z_loss(logits: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Z-loss: the squared log-normaliser of the softmax, which pulls it towards 0.

    Per sample, with logits :math:`z` over :math:`C` classes,

    .. math:: \ell(z) = \Big(\log \sum_c e^{z_c}\Big)^2 .

    Softmax is unchanged when a constant is added to every logit, so
    cross-entropy leaves the log-normaliser free to drift; in half precision
    a large one loses the logits' resolution. PaLM adds
    :math:`10^{-4}\,\ell` to the loss to keep it near 0. Its gradient is
    :math:`2 \log Z \cdot \operatorname{softmax}(z)`. ``"mean"`` averages
    over samples (and further dimensions), ``"sum"`` adds them.

    No PyTorch counterpart; it equals ``torch.logsumexp(logits, dim=1) ** 2``.

    Args:
        logits: unnormalised class scores :math:`z`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per sample).

    Returns:
        A scalar, or for ``"none"`` a tensor of shape ``(N, d1, ...)``.

    Shape:
        logits: ``(N, C)`` or ``(N, C, d1, ...)``.

    References:
        A. Chowdhery et al., "PaLM: Scaling Language Modeling with
        Pathways", JMLR 24(240), 2023 (arXiv:2204.02311, 2022), §5.

    Example:
        >>> import math
        >>> import torch
        >>> import lossbook
        >>> logits = torch.zeros(2, 4)
        >>> lossbook.z_loss(logits, reduction="none")  # (log 4) ** 2 each
        tensor([1.9218, 1.9218])
        >>> math.isclose(lossbook.z_loss(logits).item(), math.log(4) ** 2, rel_tol=1e-6)
        True
    """
    _core.check_reduction(reduction)
    _core.num_classes(logits, "logits")
    return _core.reduce(torch.logsumexp(logits, dim=1).square(), reduction)


def softcap(logits: torch.Tensor, cap: float) -> torch.Tensor:
    r"""Soft-capping: squash logits smoothly into :math:`(-c, c)` with :math:`c \tanh(z / c)`.

    Near 0 it is the identity (slope 1), and no logit can pass :math:`\pm c`,
    so neither can the log-normaliser run away; Gemma 2 caps its final
    logits at :math:`c = 30`. Element-wise, any shape.

    Args:
        logits: any tensor of logits.
        cap: :math:`c > 0`.

    Returns:
        A tensor of ``logits``' shape, dtype and device.

    References:
        Gemma Team, "Gemma 2: Improving Open Language Models at a Practical
        Size", arXiv:2408.00118, 2024.

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.softcap(torch.tensor([0.0, 1.0, 100.0]), 30.0)
        tensor([ 0.0000,  0.9996, 29.9237])
    """
    _core.check_tensor(logits, "logits")
    c = _core.check_positive(cap, "cap")
    return c * torch.tanh(logits / c)


def perplexity(logits: torch.Tensor, target: torch.Tensor, *, ignore_index: int = -100) -> torch.Tensor:
    r"""Perplexity: the exponential of the mean cross-entropy, the model's effective number of choices.

    .. math:: \mathrm{PPL} = \exp\Big(\frac{1}{|\mathcal{I}|}\sum_{i \in \mathcal{I}} -\log p_{i, y_i}\Big),

    over the tokens :math:`\mathcal{I}` whose target is not ``ignore_index``
    (1 when none count). A uniform guess over :math:`V` classes has
    perplexity :math:`V`; a perfect model has 1. It is a metric, not a loss
    to train on: minimising it minimises the cross-entropy.

    Args:
        logits: class scores, ``(N, C)`` or ``(N, C, d1, ...)``.
        target: class indices, ``(N, d1, ...)``.
        ignore_index: target value that is not counted.

    Returns:
        A scalar, in ``logits``' dtype.

    References:
        F. Jelinek et al., "Perplexity — a measure of the difficulty of
        speech recognition tasks", JASA 62(S1), 1977.

    Example:
        >>> import torch
        >>> import lossbook
        >>> lossbook.perplexity(torch.zeros(3, 5), torch.tensor([0, 4, -100]))  # uniform over 5
        tensor(5.)
    """
    return torch.exp(cross_entropy(logits, target, ignore_index=ignore_index))


# --------------------------------------------------------------------------
# Data parallelism, for the tests and the chapter: processes started with
# torch.multiprocessing (spawn), which needs a module-level worker.


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_model_loss(proj, weight, hidden, target, normalizer):
    """The shared model of the demo: a linear layer, then the linear cross-entropy."""
    return linear_cross_entropy(hidden @ proj.T, weight, target, normalizer=normalizer, chunk_size=5)


def _data_parallel_worker(rank, world, port, proj, weight, hiddens, targets, queue):
    import datetime

    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        hidden, target = hiddens[rank], targets[rank]
        out = {}
        for how in ("global", "local"):
            p, w = proj.clone().requires_grad_(True), weight.clone().requires_grad_(True)
            if how == "global":  # every token counts once over all processes
                count = (target != -100).sum().to(hidden.dtype)
                dist.all_reduce(count)
                loss = _tiny_model_loss(p, w, hidden, target, count)
                reported = loss.detach().clone()
                dist.all_reduce(reported)  # the sum of the processes' parts is the batch's loss
                scale = 1.0  # the gradients add up
            else:  # each process's own mean, averaged (what DDP does by default)
                loss = _tiny_model_loss(p, w, hidden, target, None)
                reported = loss.detach().clone()
                dist.all_reduce(reported)
                reported /= world
                scale = 1.0 / world
            loss.backward()
            grads = [p.grad * scale, w.grad * scale]
            for g in grads:
                dist.all_reduce(g)
            out[how] = (reported.tolist(), [g.tolist() for g in grads])
        out["counts"] = int((target != -100).sum())
        queue.put((rank, out))
    finally:
        dist.destroy_process_group()


def _data_parallel(proj, weight, hiddens, targets, *, timeout: float = 60.0) -> dict:
    """Run the tiny model's loss and gradients on ``len(hiddens)`` processes (gloo, CPU).

    Returns, from rank 0, ``{"global": (loss, [grad_proj, grad_weight]), "local": ...,
    "counts": [...]}`` as Python lists: ``"global"`` with the normalizer all-reduced over
    the processes, ``"local"`` with each process's own mean averaged. A process that
    does not finish within ``timeout`` seconds is terminated and ``RuntimeError`` raised.
    """
    import torch.multiprocessing as mp

    world = len(hiddens)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_data_parallel_worker, args=(r, world, port, proj, weight, hiddens, targets, queue))
        for r in range(world)
    ]
    for p in procs:
        p.start()
    results = {}
    try:
        import queue as _queue

        for _ in range(world):
            try:
                rank, out = queue.get(timeout=timeout)
            except _queue.Empty:
                raise RuntimeError(f"data-parallel workers gave no result within {timeout} s") from None
            results[rank] = out
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(5)
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise RuntimeError(f"data-parallel workers exited with {bad}")
    out = dict(results[0])
    out["counts"] = [results[r]["counts"] for r in range(world)]
    return out
