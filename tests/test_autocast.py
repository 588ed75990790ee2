"""Every catalog loss inside ``torch.autocast("cpu", ...)``: what PyTorch's own losses do there.

The rule (``lossbook._core.float32_under_autocast``): PyTorch puts its losses on
autocast's float32 list, so inside ``torch.autocast`` they cast float16/bfloat16
inputs to float32 and return float32. lossbook follows it:

- a loss with a PyTorch/torchvision counterpart (``catalog`` record's
  ``counterpart``) returns the counterpart's dtype and value, the counterpart
  called on the same inputs under the same autocast (within the tolerance of
  the inputs' dtype: the two may round intermediate values differently);
- a loss without one is computed in float32: the result is float32 and equals
  the loss computed outside autocast on the inputs cast to float32 (within
  float32 tolerance). ``gradient_penalty`` is the one case in between: its
  critic is the caller's model and runs under the caller's autocast, so only
  the penalty is float32, and its value agrees to the autocast dtype's
  tolerance;
- gradients reach the inputs in the inputs' own dtype.

Each loss runs (through the catalog and the benchmark's recipes in
``benchmarks/cases.py``, so a new loss is covered) under bfloat16 autocast
and, where this CPU's autocast supports it, float16, with float32 inputs (the
usual situation: the loss's inputs come from float32 code) and with inputs in
the autocast dtype (model outputs in half precision). Modules (a critic,
``UncertaintyWeighting``, ``AdaptiveRobustLoss``) stay float32, as
parameters do in mixed-precision training. Outside autocast nothing changes:
half precision in, half precision out (box losses excepted: they upcast as
torchvision's do).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import lossbook
from lossbook import catalog

from catalog_recipes import CASES, SMALL as SIZES, peers, recipes

F32 = torch.float32
CPU = torch.device("cpu")

# torchvision's box losses start with _upcast_non_float (float16/bfloat16 to float32); the written-out
# peers used where torchvision is not installed leave it out, so it is applied here for them.
_UPCAST_PEERS = {"iou_loss", "giou_loss", "diou_loss", "ciou_loss"} if peers.TORCHVISION is None else set()
# The critic runs under the caller's autocast; only the penalty is float32 (see the module docstring).
_CALLER_AUTOCAST = {"gradient_penalty"}


def _cpu_autocast_dtypes() -> list[torch.dtype]:
    """bfloat16, and float16 where this torch's CPU autocast takes it (it warns and turns off otherwise)."""
    out = [torch.bfloat16]
    if not torch.amp.autocast_mode.is_autocast_available("cpu"):
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with torch.autocast("cpu", dtype=torch.float16):
                ok = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.float16
    except (RuntimeError, UserWarning):
        ok = False
    return out + [torch.float16] if ok else out


AUTOCAST = _cpu_autocast_dtypes()


def _tol(dtype: torch.dtype) -> dict:
    # torch.testing's defaults for the dtype; float32's atol a little looser for sums of 24 terms
    return {torch.bfloat16: dict(rtol=1.6e-2, atol=1e-5), torch.float16: dict(rtol=1e-3, atol=1e-5)}.get(
        dtype, dict(rtol=1e-5, atol=1e-6)
    )


def _inputs(case: recipes.Case, dtype: torch.dtype) -> tuple[dict, list[torch.Tensor]]:
    """The recipe's inputs: floating tensors in ``dtype``, modules in float32; and the leaves."""
    raw = case.make(SIZES, torch.Generator().manual_seed(0), "ordinary")
    t, _ = recipes.convert(raw, case, CPU, F32)
    t = {k: _cast(v, dtype) for k, v in t.items()}
    return t, _leaves(t, case)


def _leaves(t: dict, case: recipes.Case) -> list[torch.Tensor]:
    """The recipe's differentiated inputs (made leaves that require grad) and the modules' parameters."""
    leaves: list[torch.Tensor] = []
    for name in case.grad:
        if name in t:
            leaves.extend(x.requires_grad_(True) for x in (t[name] if isinstance(t[name], list) else [t[name]]))
    if case.module_grads:
        for v in t.values():
            if isinstance(v, nn.Module):
                leaves.extend(p for p in v.parameters() if p.requires_grad)
    return leaves


def _cast(v, dtype):
    if isinstance(v, torch.Tensor):
        return v.detach().to(dtype).clone() if v.is_floating_point() else v
    if isinstance(v, list):
        return [_cast(x, dtype) for x in v]
    return v


def _run(fn, t: dict, leaves: list[torch.Tensor]):
    recipes.reseed(t, CPU)
    value = fn(t)
    grads = torch.autograd.grad(value, leaves, allow_unused=True) if leaves else ()
    return value, grads


def _peer(case: recipes.Case):
    if case.key not in _UPCAST_PEERS:
        return case.peer
    return lambda t: case.peer({k: v.float() if isinstance(v, torch.Tensor) and v.dtype in (
        torch.float16, torch.bfloat16) else v for k, v in t.items()})


def _check_grads(grads, leaves, want, key: str, tol: dict, *, scaled: bool = False) -> None:
    """Dtype, finite, close; ``scaled``: an absolute tolerance of rtol times the largest entry
    (for gradients through a half-precision double backward, where single entries cancel)."""
    assert len(grads) == len(leaves) == len(want)
    for i, (g, x, w) in enumerate(zip(grads, leaves, want)):
        assert (g is None) == (w is None), f"{key}: gradient {i} is {g}, expected {w}"
        if g is None:
            continue
        assert g.dtype == x.dtype, f"{key}: gradient {i} is {g.dtype}, its input {x.dtype}"
        assert torch.isfinite(g).all(), f"{key}: gradient {i} is not finite"
        w = w.to(x.dtype).float()
        t = dict(tol, atol=max(tol["atol"], tol["rtol"] * w.abs().max().item())) if scaled else tol
        torch.testing.assert_close(g.float(), w, **t, msg=lambda m: f"{key} gradient {i}: {m}")


@pytest.mark.parametrize("inputs", ["float32", "half"], ids=["float32-inputs", "half-inputs"])
@pytest.mark.parametrize("dtype", AUTOCAST, ids=[str(d).removeprefix("torch.") for d in AUTOCAST])
@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_under_autocast_returns_what_pytorch_returns(case, dtype, inputs):
    in_dtype = F32 if inputs == "float32" else dtype
    t, leaves = _inputs(case, in_dtype)
    with torch.autocast("cpu", dtype=dtype):
        value, grads = _run(case.ours, t, leaves)
    counterpart = catalog.get(case.key).counterpart
    if case.key in _CALLER_AUTOCAST:  # the critic in the autocast dtype on both sides
        with torch.autocast("cpu", dtype=dtype):
            want, want_grads = _run(case.peer, t, leaves)
        want, tol = want.float(), _tol(dtype)  # the plain-torch peer's penalty is in the inputs' dtype
        assert value.dtype == F32, f"{case.key}: the penalty is float32 under autocast, got {value.dtype}"
    elif counterpart is not None:
        with torch.autocast("cpu", dtype=dtype):
            want, want_grads = _run(_peer(case), t, leaves)
        tol = _tol(in_dtype)
        assert value.dtype == want.dtype, f"{case.key}: {value.dtype}, {counterpart} gives {want.dtype}"
    else:
        t32, leaves32 = _upcast(t, case)
        want, want_grads = _run(case.ours, t32, leaves32)  # autocast off: the float32 computation
        tol = _tol(F32)
        assert value.dtype == F32, f"{case.key} has no counterpart: float32 under autocast, got {value.dtype}"
    torch.testing.assert_close(value.detach(), want.detach(), **tol, msg=lambda m: f"{case.key} value: {m}")
    # a half-precision gradient is rounded once more than the value: twice the dtype's rtol
    grad_tol = tol if in_dtype == F32 else dict(_tol(in_dtype), rtol=2 * _tol(in_dtype)["rtol"])
    _check_grads(grads, leaves, want_grads, case.key, grad_tol, scaled=case.key in _CALLER_AUTOCAST)


def _upcast(t: dict, case: recipes.Case) -> tuple[dict, list[torch.Tensor]]:
    """``t``'s half-precision inputs cast to float32 (the same values), modules shared, with new leaves."""
    t32 = {k: _cast(v, F32) for k, v in t.items()}
    return t32, _leaves(t32, case)

def test_float16_autocast_is_tested_where_the_cpu_has_it():
    # torch >= 2.4 takes float16 on the CPU; an older or reduced build may not, and then only bfloat16 runs
    assert torch.bfloat16 in AUTOCAST
    if tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 4):
        assert torch.float16 in AUTOCAST


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_outside_autocast_half_precision_stays_half(case):
    raw = case.make(SIZES, torch.Generator().manual_seed(0), "ordinary")
    t, leaves = recipes.convert(raw, case, CPU, torch.bfloat16)  # modules in bfloat16 too
    try:
        value, grads = _run(case.ours, t, leaves)
    except NotImplementedError as e:  # a PyTorch kernel without bfloat16 on the CPU (multi_margin_loss)
        with pytest.raises(NotImplementedError):
            case.peer(t)  # the counterpart fails the same way
        pytest.skip(f"no bfloat16 CPU kernel: {e}")
    boxes = catalog.get(case.key).family == "boxes"  # torchvision's box losses upcast half precision
    assert value.dtype == (F32 if boxes else torch.bfloat16), f"{case.key}: {value.dtype}"
    for g, x in zip(grads, leaves):
        assert g is None or g.dtype == x.dtype


# --------------------------------------------------------------------------
# The helper, and torch.compile


def test_helper_casts_half_and_keeps_float64():
    seen = {}

    @lossbook._core.float32_under_autocast
    def f(a, *, b, more):
        seen.update(a=a.dtype, b=b.dtype, more=[x.dtype for x in more], autocast=torch.is_autocast_enabled("cpu"))
        return a.sum() + b.sum()

    a = torch.ones(2, dtype=torch.float16, requires_grad=True)
    b = torch.ones(2, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = f(a, b=b, more=[torch.ones(1, dtype=torch.bfloat16), torch.ones(1, dtype=torch.int64)])
    assert seen == dict(a=F32, b=torch.float64, more=[F32, torch.int64], autocast=False)
    assert out.dtype == torch.float64
    out.backward()
    assert a.grad.dtype == torch.float16
    f(a, b=b, more=[])  # autocast off: nothing is cast
    assert seen["a"] == torch.float16 and seen["autocast"] is False


@pytest.mark.parametrize("key", ["log_cosh", "gan_discriminator_loss"])
def test_compiled_under_autocast_is_float32_and_eager(key):
    torch._dynamo.reset()
    case = recipes.CASES[key]
    compiled = torch.compile(case.ours, fullgraph=True, dynamic=True, backend="inductor")
    t, leaves = _inputs(case, torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want, want_grads = _run(case.ours, t, leaves)
        got, grads = _run(compiled, t, leaves)
    assert got.dtype == F32
    torch.testing.assert_close(got, want, rtol=2e-5, atol=1e-6)
    for g, w in zip(grads, want_grads):
        assert g.dtype == torch.bfloat16
        torch.testing.assert_close(g, w)
    assert compiled(t).dtype == torch.bfloat16  # autocast off: a recompile, half precision out
    torch._dynamo.reset()
