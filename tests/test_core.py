"""The private helpers in lossbook._core: reductions, argument checks, value-check switch."""

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
