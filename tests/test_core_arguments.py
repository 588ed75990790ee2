"""The argument checks in lossbook._core: tensor pairs (type, dtype, shape, device), positive and
non-negative numbers, the class dimension, class-index targets, and class and broadcast weights."""

import math
import re

import numpy as np
import pytest
import torch

import lossbook
from lossbook import _core


# --------------------------------------------------------------------------
# check_pair


def _f(*shape, dtype=torch.float32, device="cpu"):
    return torch.zeros(shape, dtype=dtype, device=device)


def test_check_pair_returns_its_arguments():
    p, t = _f(3, 2), _f(3, 2)
    got = _core.check_pair(p, t)
    assert got[0] is p and got[1] is t


_SAME = "target must have the same dtype as pred"
_DTYPE = r"must have a floating-point dtype \(float16, bfloat16, float32 or float64\), got "


@pytest.mark.parametrize(
    "pred, target, match",
    [
        ([0.0, 1.0], _f(2), r"^pred must be a torch\.Tensor, got list$"),
        (_f(2), np.zeros(2, dtype=np.float32), r"^target must be a torch\.Tensor, got ndarray$"),
        (_f(2), 3.0, r"^target must be a torch\.Tensor, got float$"),
        (torch.zeros(2, dtype=torch.int64), _f(2), rf"^pred {_DTYPE}torch\.int64$"),
        (_f(2), torch.zeros(2, dtype=torch.bool), rf"^target {_DTYPE}torch\.bool$"),
        (_f(2), _f(2, dtype=torch.float64), rf"^{_SAME} \(torch\.float32\), got torch\.float64$"),
        (_f(2, dtype=torch.float16), _f(2, dtype=torch.bfloat16),
         rf"^{_SAME} \(torch\.float16\), got torch\.bfloat16$"),
    ],
    ids=["pred-list", "target-ndarray", "target-float", "pred-int", "target-bool", "f32-f64", "f16-bf16"],
)
def test_check_pair_type_errors(pred, target, match):
    with pytest.raises(TypeError, match=match):
        _core.check_pair(pred, target)


@pytest.mark.parametrize(
    "ps, ts",
    [((4,), (4, 1)), ((4, 1), (4,)), ((4,), (5,)), ((2, 3), (3, 2)), ((), (1,))],
    ids=str,
)
def test_check_pair_does_not_broadcast(ps, ts):
    message = f"target must have the same shape as pred {ps}, got {ts} (lossbook does not broadcast)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _core.check_pair(_f(*ps), _f(*ts))


def test_check_pair_uses_the_given_names():
    with pytest.raises(ValueError, match=r"^positive must have the same shape as anchor"):
        _core.check_pair(_f(2, 3), _f(2, 4), names=("anchor", "positive"))
    with pytest.raises(TypeError, match=r"^anchor must be a torch\.Tensor"):
        _core.check_pair(None, _f(2), names=("anchor", "positive"))


def test_check_pair_rejects_mixed_devices():
    # the meta device stands in for a GPU: same dtype and shape, other device
    with pytest.raises(ValueError, match=r"^target must be on the same device as pred \(cpu\), got meta$"):
        _core.check_pair(_f(3), _f(3, device="meta"))


def test_check_tensor_can_allow_integer_dtypes():
    idx = torch.tensor([0, 2])
    assert _core.check_tensor(idx, "target", floating=False) is idx
    with pytest.raises(TypeError, match="^target must be a torch.Tensor"):
        _core.check_tensor([0, 2], "target", floating=False)


# --------------------------------------------------------------------------
# check_positive / check_nonnegative

CHECKS = {"positive": _core.check_positive, "nonnegative": _core.check_nonnegative}


@pytest.mark.parametrize(
    "which, value, expected",
    [
        ("positive", 2, 2.0),
        ("positive", 0.5, 0.5),
        ("positive", 1e-300, 1e-300),
        ("positive", np.float64(3.5), 3.5),
        ("nonnegative", 0, 0.0),
        ("nonnegative", 0.0, 0.0),
        ("nonnegative", 7, 7.0),
    ],
)
def test_number_checks_accept_and_return_a_float(which, value, expected):
    got = CHECKS[which](value, "delta")
    assert type(got) is float and got == expected


@pytest.mark.parametrize(
    "which, value, error, match",
    [
        ("positive", 0, ValueError, r"^delta must be > 0, got 0$"),
        ("positive", 0.0, ValueError, r"^delta must be > 0, got 0\.0$"),
        ("positive", -1.5, ValueError, r"^delta must be > 0, got -1\.5$"),
        ("positive", math.nan, ValueError, r"^delta must be finite, got nan$"),
        ("positive", math.inf, ValueError, r"^delta must be finite, got inf$"),
        ("positive", -math.inf, ValueError, r"^delta must be finite, got -inf$"),
        ("positive", True, TypeError, r"^delta must be a real number, got bool$"),
        ("positive", "1.0", TypeError, r"^delta must be a real number, got str$"),
        ("positive", None, TypeError, r"^delta must be a real number, got NoneType$"),
        ("nonnegative", -1e-12, ValueError, r"^delta must be >= 0, got -1e-12$"),
        ("nonnegative", -3, ValueError, r"^delta must be >= 0, got -3$"),
        ("nonnegative", math.nan, ValueError, r"^delta must be finite, got nan$"),
        ("nonnegative", math.inf, ValueError, r"^delta must be finite, got inf$"),
        ("nonnegative", False, TypeError, r"^delta must be a real number, got bool$"),
        ("nonnegative", "0", TypeError, r"^delta must be a real number, got str$"),
    ],
)
def test_number_checks_reject(which, value, error, match):
    with pytest.raises(error, match=match):
        CHECKS[which](value, "delta")


# --------------------------------------------------------------------------
# Class-dimension checks


@pytest.mark.parametrize("shape, c", [((4, 3), 3), ((2, 5, 3, 3), 5), ((0, 2), 2), ((4, 1), 1)])
def test_num_classes_is_dim_1(shape, c):
    assert _core.num_classes(torch.zeros(shape), "logits") == c


@pytest.mark.parametrize(
    "scores, error, match",
    [
        (torch.zeros(4), ValueError, r"^scores must have shape \(N, C\) or \(N, C, d1, \.\.\.\), got \(4,\)$"),
        (torch.tensor(1.0), ValueError, r"^scores must have shape \(N, C\) or \(N, C, d1, \.\.\.\), got \(\)$"),
        (torch.zeros(4, 3, dtype=torch.int64), TypeError, r"^scores must have a floating-point dtype"),
        ([[0.0, 1.0]], TypeError, r"^scores must be a torch\.Tensor, got list$"),
    ],
    ids=["1d", "0d", "int", "list"],
)
def test_num_classes_rejects(scores, error, match):
    with pytest.raises(error, match=match):
        _core.num_classes(scores, "scores")


@pytest.mark.parametrize(
    "scores, target, match",
    [
        (_f(4, 3), torch.zeros(4, dtype=torch.int32),
         r"^target must hold integer class indices \(int64\), got torch\.int32$"),
        (_f(4, 3), torch.zeros(4), r"^target must hold integer class indices \(int64\), got torch\.float32$"),
        (_f(4, 3), torch.zeros(3, dtype=torch.int64),
         r"^target must have shape \(4,\) for s of shape \(4, 3\), got \(3,\)$"),
        (_f(2, 3, 5), torch.zeros(2, 3, dtype=torch.int64),
         r"^target must have shape \(2, 5\) for s of shape \(2, 3, 5\), got \(2, 3\)$"),
        (_f(4, 3), torch.zeros(4, dtype=torch.int64, device="meta"),
         r"^target must be on the same device as s \(cpu\), got meta$"),
        (_f(4, 3), torch.tensor([0, 1, 2, 3]),
         r"^target must hold class indices in \[0, 2\], got values such as \[3\]$"),
    ],
    ids=["int32", "float", "length", "spatial", "device", "range"],
)
def test_check_index_target_rejects(scores, target, match):
    error = TypeError if "int64" in match else ValueError
    with pytest.raises(error, match=match):
        _core.check_index_target(scores, target, "s")


def test_check_index_target_accepts_indices_and_ignore_index():
    assert _core.check_index_target(_f(2, 3, 5), torch.zeros(2, 5, dtype=torch.int64), "s") is None
    assert _core.check_index_target(_f(3, 3), torch.tensor([2, -100, 0]), "s", ignore_index=-100) is None
    with lossbook.value_checks(False):  # the range is a value check; shape and dtype are not
        assert _core.check_index_target(_f(2, 3), torch.tensor([7, -5]), "s") is None
        with pytest.raises(TypeError, match="int64"):
            _core.check_index_target(_f(2, 3), torch.tensor([0.0, 1.0]), "s")


def test_check_class_weight():
    scores, w = _f(4, 3), torch.tensor([1.0, 2.0, 0.5])
    assert _core.check_class_weight(None, scores, "scores") is None
    assert _core.check_class_weight(w, scores, "scores") is w
    with pytest.raises(ValueError, match=r"^weight must have shape \(3,\), one per class, got \(2,\)$"):
        _core.check_class_weight(w[:2], scores, "scores")
    # a dtype mismatch is a TypeError, a device mismatch a ValueError, as in check_pair
    with pytest.raises(TypeError, match=r"^weight must have the same dtype as scores \(torch\.float32\), got torch\.float64$"):
        _core.check_class_weight(w.double(), scores, "scores")
    with pytest.raises(ValueError, match=r"^weight must be on the same device as scores \(cpu\), got meta$"):
        _core.check_class_weight(w.to("meta"), scores, "scores")
    with pytest.raises(TypeError, match=r"^weight must have the same dtype as scores"):  # dtype is checked first
        _core.check_class_weight(w.to("meta", torch.float64), scores, "scores")
    with pytest.raises(TypeError, match=r"^weight must be a torch\.Tensor, got list$"):
        _core.check_class_weight([1.0, 2.0, 0.5], scores, "scores")


@pytest.mark.parametrize("shape", [(3,), (4, 1), (1, 3), (4, 3), ()], ids=str)
def test_check_broadcast_weight_accepts_what_broadcasts(shape):
    w = torch.ones(shape)
    assert _core.check_broadcast_weight(w, torch.Size((4, 3)), "pos_weight", _f(4, 3), "logits") is w
    assert _core.check_broadcast_weight(None, torch.Size((4, 3)), "pos_weight", _f(4, 3), "logits") is None


@pytest.mark.parametrize("shape", [(4,), (2, 3), (1, 4, 3), (5, 1)], ids=str)
def test_check_broadcast_weight_rejects_what_would_change_the_shape(shape):
    message = rf"^pos_weight must broadcast to \(4, 3\), got {re.escape(str(shape))}$"
    with pytest.raises(ValueError, match=message):
        _core.check_broadcast_weight(torch.ones(shape), torch.Size((4, 3)), "pos_weight", _f(4, 3), "logits")
    with pytest.raises(TypeError, match=r"^pos_weight must have the same dtype as logits \(torch\.float32\), got torch\.float64$"):
        _core.check_broadcast_weight(torch.ones(3, dtype=torch.float64), torch.Size((4, 3)), "pos_weight", _f(4, 3), "logits")
    with pytest.raises(ValueError, match=r"^pos_weight must be on the same device as logits \(cpu\), got meta$"):
        _core.check_broadcast_weight(torch.ones(3, device="meta"), torch.Size((4, 3)), "pos_weight", _f(4, 3), "logits")
