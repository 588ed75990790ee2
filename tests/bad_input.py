"""Bad-input cases shared by the loss test modules (not a test module itself).

Each case is ``(id, args, kwargs, error, message pattern)``: calling the loss
with ``*args, **kwargs`` must raise ``error`` with a message matching the
pattern, which names the offending argument. A :class:`ValueCase` is such a
case with a sixth field: a value-range check, which ``lossbook.value_checks(False)``
skips, and what happens then.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest
import torch

import lossbook

_TENSOR, _FLOATING = r" must be a torch\.Tensor, got ", r" must have a floating-point dtype"


def pair_cases(names=("pred", "target"), *, reduction=True):
    """A prediction/target pair of the wrong type, dtype or shape; an unknown ``reduction``.

    With ``reduction=False`` the loss takes no ``reduction`` keyword, and
    passing one must be rejected too.
    """
    a, b = names
    p, p64, i64 = torch.ones(4), torch.ones(4, dtype=torch.float64), torch.ones(4, dtype=torch.int64)
    tensor, floating = _TENSOR, _FLOATING
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
    return cases + reduction_cases((p, p))


def reduction_cases(args):
    """An unknown ``reduction`` with otherwise valid ``args``."""
    message = r"^reduction must be one of 'mean', 'sum', 'none', got "
    return [
        (f"reduction-{v}", args, {"reduction": v}, ValueError, f"{message}{v!r}$")
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


def unit_parameter_cases(name, *, args, none_ok=False):
    """A parameter that must be a finite real number in [0, 1] (or ``None`` with ``none_ok``)."""
    cases = [c for c in number_cases(name, positive=False, args=args) if not (none_ok and c[0] == f"{name}=None")]
    tail = " or None" if none_ok else ""
    above = [(f"{name}={v!r}", args, {name: v}, ValueError, rf"^{name} must be in \[0, 1\]{tail}, got {v}$")
             for v in (1.5, 1 + 1e-6)]
    return cases + above


# --------------------------------------------------------------------------
# Losses with a class dimension (dim 1): scores (N, C, d1, ...), index targets (N, d1, ...)


def class_score_cases(name, target=torch.zeros(4, dtype=torch.int64)):
    """Scores that are no tensor, not floating, or have no class dimension."""
    shape = rf"^{name} must have shape \(N, C\) or \(N, C, d1, \.\.\.\), got "
    return [
        (f"{name}-list", ([[0.0] * 3] * 4, target), {}, TypeError, f"^{name}{_TENSOR}list"),
        (f"{name}-int", (torch.zeros(4, 3, dtype=torch.int64), target), {}, TypeError, f"^{name}{_FLOATING}"),
        (f"{name}-1d", (torch.zeros(4), target), {}, ValueError, shape + r"\(4,\)$"),
        (f"{name}-0d", (torch.tensor(0.0), target), {}, ValueError, shape + r"\(\)$"),
    ]


def index_target_cases(name, *, float_is_probs=False, spatial=True):
    """Index targets of the wrong type, dtype, shape or device, for scores of shape (4, 3).

    ``float_is_probs``: a floating target is read as class probabilities (cross_entropy),
    so a (4,) float target is a shape error, not a dtype error.
    """
    s, i64 = torch.zeros(4, 3), torch.int64
    idx = r"^target must hold integer class indices \(int64\), got torch\."
    shape = rf"^target must have shape \(4,\) for {name} of shape \(4, 3\), got "
    cases = [
        ("target-list", (s, [0, 1, 2, 0]), {}, TypeError, rf"^target{_TENSOR}list"),
        ("target-ndarray", (s, np.zeros(4, np.int64)), {}, TypeError, rf"^target{_TENSOR}ndarray"),
        ("target-bool", (s, torch.zeros(4, dtype=torch.bool)), {}, TypeError, idx + "bool$"),
        ("target-int32", (s, torch.zeros(4, dtype=torch.int32)), {}, TypeError, idx + "int32$"),
        ("target-uint8", (s, torch.zeros(4, dtype=torch.uint8)), {}, TypeError, idx + "uint8$"),
        ("target-N1", (s, torch.zeros(4, 1, dtype=i64)), {}, ValueError, shape + r"\(4, 1\)$"),
        ("target-N+1", (s, torch.zeros(5, dtype=i64)), {}, ValueError, shape + r"\(5,\)$"),
        ("target-device", (s, torch.zeros(4, dtype=i64, device="meta")), {}, ValueError,
         rf"^target must be on the same device as {name} \(cpu\), got meta$"),
    ]
    if float_is_probs:
        cases.append(("target-float", (s, torch.zeros(4)), {}, ValueError,
                      rf"^target must have the same shape as {name} \(4, 3\), got \(4,\)"))
    else:
        cases.append(("target-float", (s, torch.zeros(4)), {}, TypeError, idx + "float32$"))
    if spatial:
        cases.append(("target-NHW", (torch.zeros(2, 3, 5, 6), torch.zeros(2, 6, 5, dtype=i64)), {}, ValueError,
                      rf"^target must have shape \(2, 5, 6\) for {name} of shape \(2, 3, 5, 6\), got \(2, 6, 5\)$"))
    return cases + reduction_cases((s, torch.zeros(4, dtype=i64)))


def class_pair_cases(names, *, int_target=True):
    """Scores (4, 3) with a target distribution of the same shape: wrong type, dtype or shape.

    With ``int_target=False`` an integer target is read as class indices (cross_entropy)
    and is covered by :func:`index_target_cases` instead.
    """
    a, b = names
    z, q = torch.zeros(4, 3), torch.full((4, 3), 1 / 3)
    dtype, shape = rf"^{b} must have the same dtype as {a} ", rf"^{b} must have the same shape as {a} "
    cases = [
        (f"{a}-list", ([[0.0] * 3] * 4, q), {}, TypeError, f"^{a}{_TENSOR}list"),
        (f"{b}-ndarray", (z, np.full((4, 3), 1 / 3, np.float32)), {}, TypeError, f"^{b}{_TENSOR}ndarray"),
        (f"{a}-int", (torch.zeros(4, 3, dtype=torch.int64), q), {}, TypeError, f"^{a}{_FLOATING}"),
        ("f32-vs-f64", (z, q.double()), {}, TypeError, dtype + r"\(torch\.float32\), got torch\.float64$"),
        ("f64-vs-f32", (z.double(), q), {}, TypeError, dtype + r"\(torch\.float64\), got torch\.float32$"),
        ("NC-vs-NC'", (z, q[:, :2]), {}, ValueError, shape + r"\(4, 3\), got \(4, 2\)"),
        ("NC-vs-NC1", (z, q[..., None]), {}, ValueError, shape + r"\(4, 3\), got \(4, 3, 1\)"),
        ("NC1-vs-NC", (z[..., None], q), {}, ValueError, shape + r"\(4, 3, 1\), got \(4, 3\)"),
        (f"{a}-1d", (torch.zeros(4), torch.zeros(4)), {}, ValueError, rf"^{a} must have shape \(N, C\) or "),
    ]
    if int_target:
        cases.append((f"{b}-int", (z, torch.zeros(4, 3, dtype=torch.int64)), {}, TypeError, f"^{b}{_FLOATING}"))
    return cases + reduction_cases((z, q))


def class_weight_cases(scores, args):
    """A per-class ``weight`` of the wrong type, length, dtype or device, for float32 CPU scores
    (the argument called ``scores``) with C = 3.

    The meta device stands in for a GPU: a weight there is on another device.
    """
    shape = r"^weight must have shape \(3,\), one per class, got "
    return [
        ("weight-list", args, {"weight": [1.0] * 3}, TypeError, rf"^weight{_TENSOR}list"),
        ("weight-int", args, {"weight": torch.ones(3, dtype=torch.int64)}, TypeError, f"^weight{_FLOATING}"),
        ("weight-C+1", args, {"weight": torch.ones(4)}, ValueError, shape + r"\(4,\)$"),
        ("weight-1xC", args, {"weight": torch.ones(1, 3)}, ValueError, shape + r"\(1, 3\)$"),
        ("weight-f64", args, {"weight": torch.ones(3, dtype=torch.float64)}, TypeError,
         rf"^weight must have the same dtype as {scores} \(torch\.float32\), got torch\.float64$"),
        ("weight-device", args, {"weight": torch.ones(3, device="meta")}, ValueError,
         rf"^weight must be on the same device as {scores} \(cpu\), got meta$"),
    ]


def broadcast_weight_cases(name, args, like):
    """An element weight (``weight``, ``pos_weight``) that does not broadcast to float32 CPU inputs of
    shape (4, 3), or has another dtype or device than the input called ``like`` (meta stands in for a
    GPU)."""
    not_b = rf"^{name} must broadcast to \(4, 3\), got "
    return [
        (f"{name}-list", args, {name: [1.0] * 3}, TypeError, rf"^{name}{_TENSOR}list"),
        (f"{name}-N", args, {name: torch.ones(4)}, ValueError, not_b + r"\(4,\)$"),
        (f"{name}-2x3", args, {name: torch.ones(2, 3)}, ValueError, not_b + r"\(2, 3\)$"),
        (f"{name}-grows", args, {name: torch.ones(1, 4, 3)}, ValueError, not_b + r"\(1, 4, 3\)$"),
        (f"{name}-f64", args, {name: torch.ones(3, dtype=torch.float64)}, TypeError,
         rf"^{name} must have the same dtype as {like} \(torch\.float32\), got torch\.float64$"),
        (f"{name}-device", args, {name: torch.ones(3, device="meta")}, ValueError,
         rf"^{name} must be on the same device as {like} \(cpu\), got meta$"),
    ]


# --------------------------------------------------------------------------
# Value-range cases: checks that read the data, which lossbook.value_checks(False) skips


class ValueCase(NamedTuple):
    """A value-range case: with the value checks on, the call raises ``error`` matching ``match``.

    With them off lossbook reads no data, and ``unchecked`` says what happens then:
    ``None``, the loss returns a tensor; ``(error, pattern)``, PyTorch's own CPU kernel
    refuses the data (lossbook's message is not raised).
    """

    id: str
    args: tuple
    kwargs: dict
    error: type
    match: str
    unchecked: tuple | None = None


def class_index_value_cases(args, unchecked=None):
    """Index targets outside [0, C) for scores ``args[0]`` with C = 3 (-1 with no ``ignore_index``)."""
    scores = args[0]
    message = r"^target must hold class indices in \[0, 2\], got values such as "
    return [
        ValueCase(f"target={bad}", (scores, torch.tensor(t)), {}, ValueError, message + rf"\[{shown}\]$", unchecked)
        for bad, t, shown in (("C", [0, 1, 2, 3], "3"), ("-1", [0, -1, 1, 2], "-1"), ("C,C+5", [3, 1, 8, 2], "3, 8"))
    ]


def unit_interval_value_cases(args, position, name, unchecked=None):
    """``args[position]`` holding a value outside [0, 1] (or NaN), everything else valid."""
    cases = []
    for v, shown in ((1.5, r"1\.5"), (-0.25, r"-0\.25"), (math.nan, "nan")):
        bad = args[position].clone()
        bad.view(-1)[1] = v
        new = args[:position] + (bad,) + args[position + 1:]
        message = rf"^{name} must hold probabilities in \[0, 1\], got values such as \[{shown}\]$"
        cases.append(ValueCase(f"{name}={v}", new, {}, ValueError, message, unchecked))
    return cases


def sign_value_cases(scores):
    """Binary labels that are not -1 or +1."""
    message = r"^target must hold labels -1 or \+1, got values such as "
    return [
        ValueCase(f"target={v}", (scores, torch.tensor([1.0, v, -1.0, v])), {}, ValueError, message + rf"\[{shown}\]$")
        for v, shown in ((0.0, r"0\.0, 0\.0"), (0.5, r"0\.5, 0\.5"), (-2.0, r"-2\.0, -2\.0"), (math.nan, "nan, nan"))
    ]


# --------------------------------------------------------------------------
# Embeddings (metric learning) and boxes: inputs of a fixed rank


def embedding_cases(names, tail=()):
    """``(N, D)`` embeddings ``names`` (then the valid arguments ``tail``) of the wrong type,
    dtype, rank or shape; an unknown ``reduction``. The first name sets the shape and dtype
    that the others must match; valid embeddings are float32 ``(4, 3)``."""
    first, e = names[0], torch.zeros(4, 3)

    def args(**given):
        return tuple(given.get(n, e) for n in names) + tuple(tail)

    rank = rf"^{first} must have shape \(N, D\), got "
    cases = [
        (f"{first}-list", args(**{first: [[0.0] * 3] * 4}), {}, TypeError, f"^{first}{_TENSOR}list$"),
        (f"{first}-int", args(**{first: torch.zeros(4, 3, dtype=torch.int64)}), {}, TypeError, f"^{first}{_FLOATING}"),
        (f"{first}-1d", args(**{n: torch.zeros(4) for n in names}), {}, ValueError, rank + r"\(4,\)$"),
        (f"{first}-3d", args(**{n: torch.zeros(4, 3, 2) for n in names}), {}, ValueError, rank + r"\(4, 3, 2\)$"),
        (f"{first}-0d", args(**{n: torch.tensor(0.0) for n in names}), {}, ValueError, rank + r"\(\)$"),
    ]
    for n in names[1:]:
        dtype = rf"^{n} must have the same dtype as {first} "
        shape = rf"^{n} must have the same shape as {first} \(4, 3\), got "
        cases += [
            (f"{n}-ndarray", args(**{n: np.zeros((4, 3), np.float32)}), {}, TypeError, f"^{n}{_TENSOR}ndarray$"),
            (f"{n}-int", args(**{n: torch.zeros(4, 3, dtype=torch.int32)}), {}, TypeError, f"^{n}{_FLOATING}"),
            (f"{n}-f64", args(**{n: e.double()}), {}, TypeError, dtype + r"\(torch\.float32\), got torch\.float64$"),
            (f"{n}-f32", args(**{m: e.double() for m in names if m != n}), {}, TypeError,
             dtype + r"\(torch\.float64\), got torch\.float32$"),
            (f"{n}-1d", args(**{n: torch.zeros(4)}), {}, ValueError, shape + r"\(4,\)"),
            (f"{n}-3d", args(**{n: torch.zeros(4, 3, 1)}), {}, ValueError, shape + r"\(4, 3, 1\)"),
            (f"{n}-D+1", args(**{n: torch.zeros(4, 4)}), {}, ValueError, shape + r"\(4, 4\)"),
            (f"{n}-N+1", args(**{n: torch.zeros(5, 3)}), {}, ValueError, shape + r"\(5, 3\)"),
        ]
    return cases + reduction_cases(args())


_BOXES = torch.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0]])


def box_shape_cases():
    """Box pairs that are not both ``(N, 4)``: of matching shape, pred's shape is named; of
    differing shapes, target's (more mismatched pairs: :func:`pair_cases`)."""
    message = r"^pred must have shape \(N, 4\) as \(x1, y1, x2, y2\), got "
    same = r"^target must have the same shape as pred "
    return [
        ("boxes-N-vs-M", (_BOXES, torch.zeros(3, 4)), {}, ValueError, same + r"\(2, 4\), got \(3, 4\)"),
        ("boxes-14-vs-4", (_BOXES[:1], torch.zeros(4)), {}, ValueError, same + r"\(1, 4\), got \(4,\)"),
    ] + [
        (f"boxes-{label}", (b, b.clone()), {}, ValueError, message + shown + "$")
        for label, b, shown in (
            ("1d", torch.zeros(4), r"\(4,\)"), ("0d", torch.tensor(0.0), r"\(\)"),
            ("3d", torch.zeros(2, 3, 4), r"\(2, 3, 4\)"), ("N5", torch.zeros(2, 5), r"\(2, 5\)"),
            ("N3", torch.zeros(2, 3), r"\(2, 3\)"), ("4N", torch.zeros(4, 2), r"\(4, 2\)"),
        )
    ]


def box_value_cases():
    """A box with x2 < x1 or y2 < y1, in ``pred`` or in ``target``; with the value checks
    off, the loss returns a tensor."""
    cases = []
    for name, position in (("pred", 0), ("target", 1)):
        for label, row, shown in (("x2<x1", [2.0, 0.0, 1.0, 1.0], r"2\.0, 0\.0, 1\.0, 1\.0"),
                                  ("y2<y1", [0.0, 3.0, 1.0, 2.5], r"0\.0, 3\.0, 1\.0, 2\.5"),
                                  ("both", [1.0, 1.0, -1.0, -1.0], r"1\.0, 1\.0, -1\.0, -1\.0")):
            args = [_BOXES.clone(), _BOXES.clone()]
            args[position][1] = torch.tensor(row)
            message = rf"^{name} boxes must have x2 >= x1 and y2 >= y1, got a box \[{shown}\]$"
            cases.append(ValueCase(f"{name}-{label}", tuple(args), {}, ValueError, message))
    return cases


# --------------------------------------------------------------------------
# Running a BAD_INPUT table: one driver for every family's test module.


def argument_params(table):
    """``pytest.param(key, args, kwargs, error, match)`` for the type, shape and argument cases."""
    return [
        pytest.param(k, *c[1:5], id=f"{k}-{c[0]}")
        for k, cases in table.items() for c in cases if not isinstance(c, ValueCase)
    ]


def value_params(table):
    """``pytest.param(key, case)`` for the value-range cases (:class:`ValueCase`)."""
    return [pytest.param(k, c, id=f"{k}-{c.id}") for k, cases in table.items() for c in cases if isinstance(c, ValueCase)]


def assert_argument_error(loss, args, kwargs, error, match, checks):
    """Type, shape and argument checks raise whether or not value checks are on."""
    with lossbook.value_checks(checks), pytest.raises(error, match=match):
        loss(*args, **kwargs)


def assert_value_case(loss, case, *, finite=False):
    """The case raises with value checks on; with them off lossbook reads no data."""
    with pytest.raises(case.error, match=case.match):
        loss(*case.args, **case.kwargs)
    with lossbook.value_checks(False):
        if case.unchecked is None:
            out = loss(*case.args, **case.kwargs)
            assert isinstance(out, torch.Tensor) and out.shape == ()
            assert not finite or bool(torch.isfinite(out))
        else:  # only PyTorch's own CPU kernel still looks, with its own message
            error, pattern = case.unchecked
            with pytest.raises(error, match=pattern) as info:
                loss(*case.args, **case.kwargs)
            assert not isinstance(info.value, ValueError)


def bad_input_tests(losses, table, *, finite=False):
    """The two parametrized tests that run a family's ``BAD_INPUT`` table.

    A test module assigns them to module-level names, which pytest collects:
    ``test_bad_input, test_value_range_checks = bad_input_tests(LOSSES, BAD_INPUT)``.
    """

    @pytest.mark.parametrize("checks", [True, False], ids=["checks-on", "checks-off"])
    @pytest.mark.parametrize("key, args, kwargs, error, match", argument_params(table))
    def test_bad_input(key, args, kwargs, error, match, checks):
        assert_argument_error(losses[key], args, kwargs, error, match, checks)

    value_cases = value_params(table)
    if not value_cases:  # no loss of the family reads tensor values: no test (rather than an empty, skipped one)
        return test_bad_input, None

    @pytest.mark.parametrize("key, case", value_cases)
    def test_value_range_checks(key, case):
        assert_value_case(losses[key], case, finite=finite)

    return test_bad_input, test_value_range_checks
