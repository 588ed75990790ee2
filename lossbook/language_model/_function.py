"""The chunked autograd Functions of :func:`lossbook.linear_cross_entropy`: a chunk of tokens' logits at a
time, the gradients formed in the forward (``"mean"``, ``"sum"``) or recomputed in the backward (``"none"``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
