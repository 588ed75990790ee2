"""The private helpers in lossbook._core: reductions, the value-check switch and the value-range checks
it governs, mean_over_targets and kernel_reduction. The type, shape, number and class-dimension argument
checks are in test_core_arguments.py."""

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
def test_check_reduction_rejects_unknown_reduction(bad):
    # checked once, by check_reduction at the top of each loss (reduce trusts its caller; the
    # bad-input tables give every loss an unknown reduction)
    with pytest.raises(ValueError, match=rf"^reduction must be one of .*got {re.escape(repr(bad))}$"):
        _core.check_reduction(bad)


@pytest.mark.parametrize("good", ["mean", "sum", "none"])
def test_check_reduction_returns_the_name(good):
    assert _core.check_reduction(good) == good


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
# mean_over_targets, kernel_reduction


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


def test_mean_over_targets_with_a_learned_weight():
    # the denominator is a tensor, so a learned weight's gradient includes it: d(6 / (w0 + w2 + w2)) / dw = -6 / 3.5^2 * (1, 0, 2)
    w = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64, requires_grad=True)
    got = _core.mean_over_targets(torch.tensor(6.0, dtype=torch.float64), torch.tensor([0, 2, -100, 2]), w, -100)
    assert math.isclose(got.item(), 6 / 3.5, rel_tol=1e-15)
    torch.testing.assert_close(torch.autograd.grad(got, w)[0], -6 / 3.5**2 * torch.tensor([1.0, 0, 2], dtype=torch.float64))


@pytest.mark.parametrize("key", ["cross_entropy", "nll"])
def test_class_weights_summing_to_at_most_zero_give_pytorchs_weighted_mean(key):
    # Weights whose sum over the targets is negative: PyTorch divides by that sum, and so does
    # lossbook (it used to return the undivided sum, -39.66 here, where PyTorch gives 4.777).
    g = torch.Generator().manual_seed(4)
    z = torch.randn(6, 3, generator=g, dtype=torch.float64).mul_(3).requires_grad_(True)
    s = torch.log_softmax(z, 1) if key == "nll" else z
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    w = torch.tensor([-2.0, 0.5, -1.0], dtype=torch.float64)
    ours, theirs = getattr(lossbook, key), getattr(torch.nn.functional, key if key == "cross_entropy" else "nll_loss")
    assert float(w[y].sum()) < 0
    got, want = ours(s, y, weight=w), theirs(s, y, weight=w)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    grads = [torch.autograd.grad(v, z, retain_graph=True)[0] for v in (got, want)]
    torch.testing.assert_close(*grads)
    # weights that cancel exactly over the counted targets: the sum, undivided (PyTorch: inf or NaN)
    w0 = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)
    y0 = torch.tensor([0, 1, 2, 0, 1, 2])
    torch.testing.assert_close(ours(s, y0, weight=w0), ours(s, y0, weight=w0, reduction="sum"), rtol=0, atol=0)


@pytest.mark.parametrize(
    "reduction, n, expected",
    [("mean", 0, "sum"), ("mean", 1, "mean"), ("mean", 5, "mean"),
     ("sum", 0, "sum"), ("none", 0, "none"), ("none", 3, "none")],
)
def test_kernel_reduction(reduction, n, expected):
    assert _core.kernel_reduction(reduction, n) == expected


def test_kernel_reduction_avoids_pytorchs_nan_mean():
    x = torch.empty(0)
    bce = torch.nn.functional.binary_cross_entropy
    assert torch.isnan(bce(x, x, reduction="mean"))  # PyTorch's mean of nothing
    assert bce(x, x, reduction=_core.kernel_reduction("mean", 0)).item() == 0.0
