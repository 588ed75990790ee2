"""Bad-input cases shared by the loss test modules (not a test module itself).

Each case is ``(id, args, kwargs, error, message pattern)``: calling the loss
with ``*args, **kwargs`` must raise ``error`` with a message matching the
pattern, which names the offending argument.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def pair_cases(names=("pred", "target"), *, reduction=True):
    """A prediction/target pair of the wrong type, dtype or shape; an unknown ``reduction``.

    With ``reduction=False`` the loss takes no ``reduction`` keyword, and
    passing one must be rejected too.
    """
    a, b = names
    p, p64, i64 = torch.ones(4), torch.ones(4, dtype=torch.float64), torch.ones(4, dtype=torch.int64)
    tensor, floating = r" must be a torch\.Tensor, got ", r" must have a floating-point dtype"
    dtype, shape = rf"^{b} must have the same dtype as {a} ", rf"^{b} must have the same shape as {a} "
    cases = [
        (f"{a}-list", ([1.0] * 4, p), {}, TypeError, f"^{a}{tensor}list"),
        (f"{b}-ndarray", (p, np.ones(4, np.float32)), {}, TypeError, f"^{b}{tensor}ndarray"),
        (f"{b}-float", (p, 1.0), {}, TypeError, f"^{b}{tensor}float"),
        (f"{a}-int", (i64, p), {}, TypeError, f"^{a}{floating}"),
        (f"{b}-int", (p, i64.int()), {}, TypeError, f"^{b}{floating}"),
        ("f32-vs-f64", (p, p64), {}, TypeError, dtype + r"\(torch\.float32\), got torch\.float64"),
        ("f64-vs-f32", (p64, p), {}, TypeError, dtype + r"\(torch\.float64\), got torch\.float32"),
        ("shape", (p, torch.ones(5)), {}, ValueError, shape + r"\(4,\), got \(5,\)"),
        ("N-vs-N1", (p, torch.ones(4, 1)), {}, ValueError, shape + r"\(4,\), got \(4, 1\)"),
        ("N1-vs-N", (torch.ones(4, 1), p), {}, ValueError, shape + r"\(4, 1\), got \(4,\)"),
    ]
    if not reduction:
        return cases + [("reduction", (p, p), {"reduction": "mean"}, TypeError, "reduction")]
    message = r"^reduction must be one of 'mean', 'sum', 'none', got "
    return cases + [
        (f"reduction-{v}", (p, p), {"reduction": v}, ValueError, f"{message}{v!r}$")
        for v in ("avg", "batchmean", None)
    ]


def number_cases(name, *, positive, args=(torch.ones(3), torch.ones(3))):
    """A parameter that must be a finite real number > 0 (``positive``) or >= 0."""
    if positive:
        below = [(v, ValueError, rf"^{name} must be > 0") for v in (0, 0.0, -1.0)]
    else:
        below = [(v, ValueError, rf"^{name} must be >= 0") for v in (-0.5, -1e-9)]
    nonfinite = [(v, ValueError, rf"^{name} must be finite") for v in (math.nan, math.inf, -math.inf)]
    wrong = [(v, TypeError, rf"^{name} must be a real number") for v in ("1", None, True, torch.tensor(1.0))]
    return [(f"{name}={v!r}", args, {name: v}, e, m) for v, e, m in below + nonfinite + wrong]
