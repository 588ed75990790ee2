"""Numerical accuracy: every loss in float32 against its own float64 evaluation.

For each loss, on ordinary inputs and on extreme ones (logits of ±1e4,
residuals of 1e6, probabilities 0 and 1, degenerate boxes, ...), the inputs
are rounded to float32 once, so that float32 and float64 evaluate the *same*
numbers; the float64 result is the reference. Reported:

- the relative error of the value, ``|v32 - v64| / max(|v64|, 1e-6)``;
- the relative error of the gradient, the largest over the elements of
  ``|g32 - g64| / max(|g64|, 1e-4 * G)``, with ``G`` the largest float64
  gradient element on these inputs or on the ordinary ones: an element four
  orders of magnitude below the gradient's scale does not count as its own
  scale (the gradient of an IoU loss for identical boxes is only the
  ``eps`` term, about 1e-12, which float32 rounds to 0);
- the number of non-finite values among the value and the gradient, in
  float32 and float64 (must be zero), and the same count for the peer in
  float32 (for information: naive formulas overflow, torchvision's CIoU
  divides by a zero height).

Deterministic: seeded inputs, the CPU, one thread.
"""

from __future__ import annotations

import math

import torch

from . import cases as C

VALUE_FLOOR = 1e-6
GRAD_FLOOR = 1e-4


def _evaluate(fn, t: dict, leaves: list[torch.Tensor]):
    value = fn(t)
    grads = torch.autograd.grad(value, leaves, allow_unused=True) if leaves else ()
    grads = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, leaves)]
    return value.detach(), [g.detach() for g in grads]


def _nonfinite(value: torch.Tensor, grads: list[torch.Tensor]) -> int:
    return int((~torch.isfinite(value)).sum()) + sum(int((~torch.isfinite(g)).sum()) for g in grads)


def _value_error(v32: torch.Tensor, v64: torch.Tensor) -> float:
    ref = v64.abs().clamp(min=VALUE_FLOOR)
    return float(((v32.double() - v64).abs() / ref).max())


def _scales(g64: list[torch.Tensor]) -> list[float]:
    return [float(b.abs().max()) if b.numel() else 0.0 for b in g64]


def _grad_error(g32: list[torch.Tensor], g64: list[torch.Tensor], ordinary: list[float]) -> float:
    worst = 0.0
    for a, b, s in zip(g32, g64, ordinary):
        if b.numel() == 0:
            continue
        scale = max(float(b.abs().max()), s)
        if scale == 0.0:
            err = float((a.double() - b).abs().max())
        else:
            ref = b.abs().clamp(min=GRAD_FLOOR * scale)
            err = float(((a.double() - b).abs() / ref).max())
        worst = max(worst, err if math.isfinite(err) else math.inf)
    return worst


def check(case: C.Case, seed: int = 0) -> dict:
    """One row of the accuracy table."""
    cpu = torch.device("cpu")
    row = {"key": case.key, "extreme": case.extreme, "note": case.note}
    nonfinite = nonfinite64 = 0
    peer_nonfinite: int | None = 0
    ordinary_scales: list[float] = []
    for variant in case.variants:
        inputs = C.make(case, "accuracy", variant, seed)
        t32, leaves32 = C.convert(inputs, case, cpu, torch.float32)
        t64, leaves64 = C.convert(t32, case, cpu, torch.float64)  # the float32 numbers, in float64
        v32, g32 = _evaluate(case.ours, t32, leaves32)
        v64, g64 = _evaluate(case.ours, t64, leaves64)
        nonfinite += _nonfinite(v32, g32)
        nonfinite64 += _nonfinite(v64, g64)
        group = "ordinary" if variant == "ordinary" else "extreme"
        if variant == "ordinary":
            ordinary_scales = _scales(g64)
        scales = ordinary_scales or [0.0] * len(g64)
        for name, err in (("value", _value_error(v32, v64)), ("grad", _grad_error(g32, g64, scales))):
            k = f"{name}_{group}"
            row[k] = max(row.get(k, 0.0), err)
        try:
            p32, leaves_p = C.convert(inputs, case, cpu, torch.float32)
            pv, pg = _evaluate(case.peer, p32, leaves_p)
            if peer_nonfinite is not None:
                peer_nonfinite += _nonfinite(pv, pg)
        except Exception as exc:  # a peer that refuses the input (recorded, not fatal)
            peer_nonfinite = None
            row["peer_error"] = f"{type(exc).__name__}: {exc}"[:200]
    row["nonfinite"] = nonfinite
    row["nonfinite_float64"] = nonfinite64
    row["peer_nonfinite"] = peer_nonfinite
    return row


def table(keys: list[str] | None = None) -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [check(c) for c in C.cases(keys)]
    finally:
        torch.set_num_threads(threads)
