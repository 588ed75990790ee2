"""The private helpers in lossbook._core: reductions, argument, value-range and class-dimension checks."""

import math
import re

import numpy as np
import pytest
import torch

import lossbook
from lossbook import _core


@pytest.fixture(autouse=True)
def _restore_value_checks():
    """Leave the process-wide switch as each test found it."""
    before = _core.value_checks_enabled()
    yield
    _core._value_checks_enabled = before


# --------------------------------------------------------------------------
# reduce


@pytest.mark.parametrize(
    "reduction, expected",
    # losses 1, 2, 6: sum 9, mean 9 / 3 = 3
    [("sum", 9.0), ("mean", 3.0)],
)
def test_reduce_combines(reduction, expected):
    loss = torch.tensor([1.0, 2.0, 6.0])
    out = _core.reduce(loss, reduction)
    assert out.shape == ()
    assert out.item() == expected


def test_reduce_none_returns_the_elements():
    loss = torch.tensor([[1.0, 2.0], [6.0, 0.5]])
    torch.testing.assert_close(_core.reduce(loss, "none"), loss, rtol=0, atol=0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(0,), (0, 3)])
def test_reduce_of_empty_is_a_zero_that_backpropagates(reduction, shape):
    x = torch.empty(shape, requires_grad=True)
    out = _core.reduce(x * 2.0, reduction)
    assert out.shape == ()
    assert out.item() == 0.0  # not NaN, as torch.mean of nothing would be
    out.backward()
    assert x.grad is not None and x.grad.shape == shape


def test_reduce_none_of_empty_is_empty():
    assert _core.reduce(torch.empty(0, 2), "none").shape == (0, 2)


@pytest.mark.parametrize("bad", ["avg", "Mean", "batchmean", "", None, 1])
def test_reduce_rejects_unknown_reduction(bad):
    with pytest.raises(ValueError, match=rf"^reduction must be one of .*got {re.escape(repr(bad))}$"):
        _core.reduce(torch.ones(3), bad)


@pytest.mark.parametrize("good", ["mean", "sum", "none"])
def test_check_reduction_returns_the_name(good):
    assert _core.check_reduction(good) == good


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
# set_value_checks / value_checks


def test_set_value_checks_returns_the_previous_setting():
    assert _core.value_checks_enabled() is True  # the default state
    assert lossbook.set_value_checks(False) is True
    assert _core.value_checks_enabled() is False
    assert lossbook.set_value_checks(False) is False
    assert lossbook.set_value_checks(True) is False
    assert _core.value_checks_enabled() is True


@pytest.mark.parametrize("bad", [0, 1, "yes", None, np.bool_(True)])
def test_set_value_checks_rejects_non_bool(bad):
    lossbook.set_value_checks(False)
    with pytest.raises(TypeError, match=r"^enabled must be a bool, got "):
        lossbook.set_value_checks(bad)
    assert _core.value_checks_enabled() is False  # unchanged by the failed call


@pytest.mark.parametrize("outer", [True, False])
def test_value_checks_sets_and_restores(outer):
    lossbook.set_value_checks(outer)
    with lossbook.value_checks(not outer):
        assert _core.value_checks_enabled() is (not outer)
        with lossbook.value_checks(outer):
            assert _core.value_checks_enabled() is outer
        assert _core.value_checks_enabled() is (not outer)
    assert _core.value_checks_enabled() is outer


def test_value_checks_restores_when_the_block_raises():
    lossbook.set_value_checks(True)
    with pytest.raises(RuntimeError, match="boom"):
        with lossbook.value_checks(False):
            assert _core.value_checks_enabled() is False
            raise RuntimeError("boom")
    assert _core.value_checks_enabled() is True


def test_value_checks_rejects_non_bool_without_changing_state():
    with pytest.raises(TypeError, match="enabled must be a bool"):
        with lossbook.value_checks("off"):
            pass  # pragma: no cover - never entered
    assert _core.value_checks_enabled() is True


# --------------------------------------------------------------------------
# Value-range checks: they read the data, so lossbook.value_checks(False) skips them

nan = math.nan
VALUE_CHECKS = {  # name -> (check(x), valid data, its dtype, message start)
    "unit_interval": (lambda x: _core.check_unit_interval(x, "probs"), [0.0, 0.25, 1.0], torch.float32,
                      r"^probs must hold probabilities in \[0, 1\], got values such as "),
    "class_indices": (lambda x: _core.check_class_indices(x, 3, "labels"), [0, 1, 2], torch.int64,
                      r"^labels must hold class indices in \[0, 2\], got values such as "),
    "signs": (lambda x: _core.check_signs(x, "y"), [-1.0, 1.0, 1.0], torch.float32,
              r"^y must hold labels -1 or \+1, got values such as "),
}


@pytest.mark.parametrize("name", VALUE_CHECKS)
def test_value_checks_accept_valid_and_empty_data(name):
    check, good, dtype, _ = VALUE_CHECKS[name]
    assert check(torch.tensor(good, dtype=dtype)) is None
    assert check(torch.tensor(good, dtype=dtype).view(1, 3, 1)) is None
    assert check(torch.empty(0, 2, dtype=dtype)) is None


@pytest.mark.parametrize(
    "name, bad, shown",
    [
        ("unit_interval", [0.5, 1.5], [1.5]),
        ("unit_interval", [-0.25, 0.0], [-0.25]),
        ("unit_interval", [nan, 0.5], ["nan"]),  # NaN is no probability
        ("unit_interval", [[2.0, -1.0], [0.5, 3.0], [4.0, 0.0]], [2.0, -1.0, 3.0]),  # at most three shown
        ("class_indices", [0, 3, 1], [3]),
        ("class_indices", [-1, 0, 2], [-1]),
        ("class_indices", [5, -2, 7, 9], [5, -2, 7]),
        ("signs", [1.0, 0.0], [0.0]),
        ("signs", [0.5, -1.0, 2.0], [0.5, 2.0]),
        ("signs", [nan, 1.0], ["nan"]),
    ],
)
def test_value_checks_name_the_argument_and_show_the_values(name, bad, shown):
    check, _, dtype, start = VALUE_CHECKS[name]
    values = re.escape("[" + ", ".join(str(v) for v in shown) + "]")
    with pytest.raises(ValueError, match=f"{start}{values}$"):
        check(torch.tensor(bad, dtype=dtype))


@pytest.mark.parametrize("name", VALUE_CHECKS)
def test_value_checks_off_read_no_data(name):
    check, good, dtype, _ = VALUE_CHECKS[name]
    bad = torch.tensor(good, dtype=dtype) + 7  # out of range for every check
    meta = torch.empty(3, dtype=dtype, device="meta")  # a tensor with no data at all
    with pytest.raises(ValueError):
        check(bad)
    with pytest.raises(RuntimeError, match="meta"):  # the check on reads values...
        check(meta)
    with lossbook.value_checks(False):  # ...and off, it does not touch them
        assert check(bad) is None
        assert check(meta) is None
    with pytest.raises(ValueError):
        check(bad)


def test_check_class_indices_allows_ignore_index():
    target = torch.tensor([0, -100, 2, -100])
    assert _core.check_class_indices(target, 3, ignore_index=-100) is None
    message = r"^target must hold class indices in \[0, 2\], got values such as \[-100, -100\]$"
    with pytest.raises(ValueError, match=message):
        _core.check_class_indices(target, 3)
    with pytest.raises(ValueError, match=r"got values such as \[-100, -100\]$"):
        _core.check_class_indices(target, 3, ignore_index=-1)


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
         r"^target must be on s's device \(cpu\), got meta$"),
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
    assert _core.check_class_weight(None, scores) is None
    assert _core.check_class_weight(w, scores) is w
    with pytest.raises(ValueError, match=r"^weight must have shape \(3,\), one per class, got \(2,\)$"):
        _core.check_class_weight(w[:2], scores)
    # a dtype mismatch is a TypeError, a device mismatch a ValueError, as in check_pair
    with pytest.raises(TypeError, match=r"^weight must have the scores' dtype \(torch\.float32\), got torch\.float64$"):
        _core.check_class_weight(w.double(), scores)
    with pytest.raises(ValueError, match=r"^weight must be on the scores' device \(cpu\), got meta$"):
        _core.check_class_weight(w.to("meta"), scores)
    with pytest.raises(TypeError, match=r"^weight must have the scores' dtype"):  # dtype is checked first
        _core.check_class_weight(w.to("meta", torch.float64), scores)
    with pytest.raises(TypeError, match=r"^weight must be a torch\.Tensor, got list$"):
        _core.check_class_weight([1.0, 2.0, 0.5], scores)


@pytest.mark.parametrize("shape", [(3,), (4, 1), (1, 3), (4, 3), ()], ids=str)
def test_check_broadcast_weight_accepts_what_broadcasts(shape):
    w = torch.ones(shape)
    assert _core.check_broadcast_weight(w, torch.Size((4, 3)), "pos_weight", _f(4, 3)) is w
    assert _core.check_broadcast_weight(None, torch.Size((4, 3)), "pos_weight", _f(4, 3)) is None


@pytest.mark.parametrize("shape", [(4,), (2, 3), (1, 4, 3), (5, 1)], ids=str)
def test_check_broadcast_weight_rejects_what_would_change_the_shape(shape):
    message = rf"^pos_weight must broadcast to \(4, 3\), got {re.escape(str(shape))}$"
    with pytest.raises(ValueError, match=message):
        _core.check_broadcast_weight(torch.ones(shape), torch.Size((4, 3)), "pos_weight", _f(4, 3))
    with pytest.raises(TypeError, match=r"^pos_weight must have the input's dtype \(torch\.float32\), got torch\.float64$"):
        _core.check_broadcast_weight(torch.ones(3, dtype=torch.float64), torch.Size((4, 3)), "pos_weight", _f(4, 3))
    with pytest.raises(ValueError, match=r"^pos_weight must be on the input's device \(cpu\), got meta$"):
        _core.check_broadcast_weight(torch.ones(3, device="meta"), torch.Size((4, 3)), "pos_weight", _f(4, 3))


# --------------------------------------------------------------------------
# mean_over_targets, empty_safe


@pytest.mark.parametrize(
    "target, weight, ignore_index, expected",
    [
        ([0, 1, 2], None, None, 2.0),  # 6 / 3 targets
        ([0, 1, 2], [1.0, 2.0, 3.0], None, 1.0),  # 6 / (1 + 2 + 3)
        ([2, 2, 0], [1.0, 2.0, 3.0], -100, 6 / 7),  # 6 / (3 + 3 + 1)
        ([0, -100, 2], None, -100, 3.0),  # 6 / 2 counted targets
        ([0, -100, 2], [1.0, 2.0, 3.0], -100, 1.5),  # 6 / (1 + 3); -100 never indexes the weight
        ([1, 1, 2], [1.0, 2.0, 3.0], 1, 2.0),  # ignore_index may be a real class: 6 / 3
    ],
)
def test_mean_over_targets_is_the_weighted_mean(target, weight, ignore_index, expected):
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    got = _core.mean_over_targets(torch.tensor(6.0, dtype=torch.float64), torch.tensor(target), w, ignore_index)
    assert math.isclose(got.item(), expected, rel_tol=1e-15)


@pytest.mark.parametrize("weight", [None, torch.tensor([1.0, 2.0])], ids=["unweighted", "weighted"])
def test_mean_over_targets_is_zero_when_no_target_counts(weight):
    z = torch.ones(3, requires_grad=True)
    total = (z * 0).sum()  # what a loss sums when every target is ignored
    target = torch.full((3,), -100)
    assert torch.isnan(total / (target != -100).sum())  # the naive mean: 0 / 0
    got = _core.mean_over_targets(total, target, weight, -100)
    assert got.item() == 0.0
    (grad,) = torch.autograd.grad(got, z)
    assert (grad == 0).all()
    empty = _core.mean_over_targets(torch.zeros(()), torch.empty(0, dtype=torch.int64), weight, None)
    assert empty.item() == 0.0


@pytest.mark.parametrize(
    "reduction, n, expected",
    [("mean", 0, "sum"), ("mean", 1, "mean"), ("mean", 5, "mean"),
     ("sum", 0, "sum"), ("none", 0, "none"), ("none", 3, "none")],
)
def test_empty_safe(reduction, n, expected):
    assert _core.empty_safe(reduction, n) == expected


def test_empty_safe_avoids_pytorchs_nan_mean():
    x = torch.empty(0)
    bce = torch.nn.functional.binary_cross_entropy
    assert torch.isnan(bce(x, x, reduction="mean"))  # PyTorch's mean of nothing
    assert bce(x, x, reduction=_core.empty_safe("mean", 0)).item() == 0.0
