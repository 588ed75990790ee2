"""The float64 reference and the case tables of ppo_clip_loss (not a test module itself).

tests/test_rl.py merges the tables into its REFERENCE, GRADCHECK and BAD_INPUT (which
tests/test_catalog.py reads for the rl family, and whose BAD_INPUT it runs);
tests/test_rl_ppo.py runs the rest.
"""

from __future__ import annotations

import numpy as np
import torch

from bad_input import number_cases, pair_cases
from common import F64


def np_ppo_clip(log_probs, old_log_probs, advantages, clip=0.2):
    """Schulman et al. (2017), eq. 7, per action and negated: -min(r A, clip(r, 1 - eps, 1 + eps) A)."""
    r = np.exp(np.asarray(log_probs, np.float64) - np.asarray(old_log_probs, np.float64))
    a = np.asarray(advantages, np.float64)
    return -np.minimum(r * a, np.clip(r, 1 - clip, 1 + clip) * a)


def rollout(shape, *, seed=0, spread=0.3, dtype=F64):
    """Seeded (log_probs, old_log_probs, advantages): log-ratios of about ``spread``, so that some
    ratios fall outside [0.8, 1.2] and some inside, and normal advantages."""
    g = torch.Generator().manual_seed(seed)
    old = torch.log(torch.rand(shape, generator=g, dtype=F64) * 0.9 + 0.05)
    new = old + spread * torch.randn(shape, generator=g, dtype=F64)
    adv = torch.randn(shape, generator=g, dtype=F64)
    return new.to(dtype), old.to(dtype), adv.to(dtype)


REFERENCE = {"ppo_clip_loss": [{}, {"clip": 0.1}, {"clip": 0.5}, {"clip": 0.9}]}
GRADCHECK = {"ppo_clip_loss": [{}, {"clip": 0.1}]}

_V, _Z = torch.ones(4), torch.zeros(4)
_PPO = (_V, _V, _Z)


def _ppo(cases, position, prefix=""):
    """Pair cases for (log_probs, x), with x at ``position`` of the three arguments, the rest valid."""
    out = []
    for i, (a, b), kw, e, m in cases:
        like = torch.zeros_like(a) if isinstance(a, torch.Tensor) and a.is_floating_point() else _Z
        args = [a, like, like]  # the third tensor valid against the first
        args[position] = b
        out.append((prefix + i, tuple(args), kw, e, m))
    return out


_clip_range = [(f"clip={v!r}", _PPO, {"clip": v}, ValueError, rf"^clip must be in \(0, 1\), got {v}$")
               for v in (1, 1.0, 1.5)]
BAD_INPUT = {
    "ppo_clip_loss": (
        _ppo(pair_cases(("log_probs", "old_log_probs")), 1, "old-")
        + _ppo([c for c in pair_cases(("log_probs", "advantages")) if not c[0].startswith("reduction")], 2, "adv-")
        + number_cases("clip", positive=True, args=_PPO) + _clip_range
        + [("old-device", (_V, _V.to("meta"), _Z), {}, ValueError,
            r"^old_log_probs must be on the same device as log_probs \(cpu\), got meta$"),
           ("adv-device", (_V, _V, _Z.to("meta")), {}, ValueError,
            r"^advantages must be on the same device as log_probs \(cpu\), got meta$")]
    ),
}
