"""The support modules: lossbook.data, lossbook.train, lossbook.plot, lossbook.device."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import lossbook
from lossbook import data, plot, train

# --------------------------------------------------------------------------
# data

GENERATORS = {
    "line_with_outliers": data.line_with_outliers,
    "noisy_sine": data.noisy_sine,
    "two_moons": data.two_moons,
    "imbalanced": data.imbalanced,
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic(name):
    make = GENERATORS[name]
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])
    if name != "two_moons":  # its labels are fixed by design: n // 2 zeros, then ones
        assert not torch.equal(a[1], c[1])


def test_line_with_outliers_shapes_and_mask():
    x, y, out = data.line_with_outliers(50, outlier_fraction=0.2)
    assert x.shape == y.shape == (50, 1) and out.shape == (50,)
    assert x.dtype == y.dtype == torch.float32 and out.dtype == torch.bool
    assert int(out.sum()) == 10  # round(0.2 * 50)
    assert ((x >= 0) & (x <= 5)).all()
    # outliers are drawn among the half of the points with the largest x
    assert x[out].min() >= x.squeeze(1).sort().values[25]


def test_line_with_outliers_moves_only_the_outliers():
    # without noise, inliers lie on y = 3x - 1 and outliers 12 to 18 below it
    # (offset -12 times a factor in [1, 1.5])
    x, y, out = data.line_with_outliers(40, slope=3.0, intercept=-1.0, noise=0.0, seed=1)
    gap = (y - (3.0 * x - 1.0)).squeeze(1)
    assert int(out.sum()) == 6  # round(0.15 * 40)
    torch.testing.assert_close(gap[~out], torch.zeros(34), rtol=0, atol=1e-5)
    assert ((gap[out] <= -12.0 + 1e-4) & (gap[out] >= -18.0 - 1e-4)).all()


def test_line_with_outliers_without_outliers():
    assert int(data.line_with_outliers(30, outlier_fraction=0.0)[2].sum()) == 0


def test_noisy_sine_shapes_and_order():
    x, y = data.noisy_sine(25, noise=0.0)
    assert x.shape == y.shape == (25, 1)
    assert (x[1:] >= x[:-1]).all()  # sorted
    torch.testing.assert_close(y, torch.sin(2 * torch.pi * x))  # no noise: on the curve


def test_two_moons_classes_and_shape():
    x, y = data.two_moons(101, noise=0.0)
    assert x.shape == (101, 2) and y.shape == (101,) and y.dtype == torch.long
    assert y.bincount().tolist() == [50, 51]  # n // 2 in class 0, the rest in class 1
    # without noise the upper moon lies on the unit circle, the lower on the one centred at (1, 0.5)
    torch.testing.assert_close(x[y == 0].norm(dim=1), torch.ones(50))
    torch.testing.assert_close((x[y == 1] - torch.tensor([1.0, 0.5])).norm(dim=1), torch.ones(51))
    # no line separates them: each moon reaches into the other's x-range
    assert x[y == 0, 0].max() > x[y == 1, 0].min()


def test_imbalanced_ratio_and_separation():
    x, y = data.imbalanced(510, ratio=50.0)
    assert x.shape == (510, 2) and y.dtype == torch.long
    assert int(y.sum()) == 10  # round(510 / 51)
    # the rare class sits about `separation` away from the common one, along the diagonal
    gap = (x[y == 1].mean(0) - x[y == 0].mean(0)).norm()
    assert 1.3 < float(gap) < 2.7
    assert not torch.equal(y, y.sort().values)  # shuffled


def test_digits_split_and_scale():
    x_train, y_train, x_test, y_test = data.digits(test_fraction=0.25, seed=0)
    assert x_train.shape[1] == x_test.shape[1] == 64
    assert x_train.shape[0] + x_test.shape[0] == 1797  # the size of scikit-learn's digits
    assert x_test.shape[0] == round(0.25 * 1797)
    assert 0.0 <= float(x_train.min()) and float(x_train.max()) == 1.0  # pixels 0..16 scaled to [0, 1]
    assert set(y_train.unique().tolist()) == set(range(10))
    again = data.digits(test_fraction=0.25, seed=0)
    assert torch.equal(again[0], x_train) and torch.equal(again[3], y_test)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: data.line_with_outliers(1), r"^n must be >= 2, got 1"),
        (lambda: data.line_with_outliers(10, outlier_fraction=1.0), r"^outlier_fraction must be in \[0, 1\)"),
        (lambda: data.line_with_outliers(10, outlier_fraction=-0.1), r"^outlier_fraction must be in"),
        (lambda: data.noisy_sine(0), r"^n must be >= 1, got 0"),
        (lambda: data.two_moons(1), r"^n must be >= 2, got 1"),
        (lambda: data.imbalanced(100, ratio=0), r"^ratio must be > 0, got 0"),
        (lambda: data.split(), r"^split needs at least one tensor"),
        (lambda: data.split(torch.zeros(5), torch.zeros(4)), r"^every tensor must have 5 rows, got \[5, 4\]"),
        (lambda: data.split(torch.zeros(5), fraction=0.0), r"^fraction must be in \(0, 1\)"),
        (lambda: data.split(torch.zeros(5), fraction=1.0), r"^fraction must be in \(0, 1\)"),
    ],
    ids=["n", "fraction-1", "fraction-neg", "sine-n", "moons-n", "ratio", "split-none", "split-rows", "split-0", "split-1"],
)
def test_data_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_split_holds_out_the_same_rows_of_every_tensor():
    rows = torch.arange(20)
    a, b = rows[:, None] * 10.0, -rows.double()
    a_tr, a_ho, b_tr, b_ho, r_tr, r_ho = data.split(a, b, rows, fraction=0.25, seed=5)
    assert len(r_ho) == 5 and len(r_tr) == 15  # round(0.25 * 20)
    assert sorted(torch.cat([r_tr, r_ho]).tolist()) == list(range(20))  # a partition
    torch.testing.assert_close(a_ho, r_ho[:, None] * 10.0)
    torch.testing.assert_close(b_tr, -r_tr.double())
    assert torch.equal(data.split(rows, seed=5, fraction=0.25)[1], r_ho)  # deterministic
    assert not torch.equal(data.split(rows, seed=6, fraction=0.25)[1], r_ho)


# --------------------------------------------------------------------------
# train


def _zero_line():
    model = torch.nn.Linear(1, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    return model


def test_fit_reduces_the_loss_and_records_each_epoch():
    x, y, _ = data.line_with_outliers(seed=0)
    model = _zero_line()
    # at zero weights the prediction is 0: loss mean(y^2), gradient of mean((wx + b - y)^2)
    # is (mean(-2xy), mean(-2y))
    grad0 = torch.stack([(-2 * x * y).mean(), (-2 * y).mean()]).norm()
    h = train.fit(model, lossbook.mse, x, y, epochs=300, lr=0.1, device="cpu", progress=False)
    assert len(h.train) == len(h.grad_norm) == h.epochs == 300 and h.val == []
    torch.testing.assert_close(torch.tensor(h.train[0]), (y**2).mean())
    torch.testing.assert_close(torch.tensor(h.grad_norm[0]), grad0)
    # it ends near the least-squares line, the minimum of the training loss
    design = torch.cat([x, torch.ones_like(x)], dim=1).double()
    best = ((design @ torch.linalg.lstsq(design, y.double()).solution - y) ** 2).mean().item()
    with torch.no_grad():
        final = lossbook.mse(model(x), y).item()
    assert best * (1 - 1e-5) <= final < 1.01 * best < h.train[0]  # float32 rounding below best
    assert h.train[-1] < 1.01 * best


def test_fit_mini_batches_with_validation():
    x, y, _ = data.line_with_outliers(seed=1)
    xt, xv, yt, yv = data.split(x, y)
    h = train.fit(_zero_line(), lossbook.huber, xt, yt, epochs=5, batch_size=16, validation=(xv, yv),
                  optimizer="sgd-momentum", lr=0.05, device="cpu", progress=False)
    assert len(h.train) == len(h.val) == len(h.grad_norm) == 5
    assert h.val[-1] < h.val[0] and h.best_epoch == int(np.argmin(h.val)) and not h.stopped_early


def test_fit_early_stopping_restores_the_best_weights():
    # validation targets are all 0, so the model (pushed towards y = 2x + 1 > 0) gets
    # worse on them with every step after the first: best epoch 0, then `patience`
    # epochs without improvement
    x, y, _ = data.line_with_outliers(seed=0, outlier_fraction=0.0)
    xv, yv = x[:10], torch.zeros(10, 1)
    model = _zero_line()
    h = train.fit(model, lossbook.mse, x, y, epochs=100, lr=0.1, validation=(xv, yv), patience=3,
                  device="cpu", progress=False)
    assert h.stopped_early and h.best_epoch == 0 and h.epochs == 4
    assert h.val == sorted(h.val)
    with torch.no_grad():
        assert lossbook.mse(model(xv), yv).item() == min(h.val)


@pytest.mark.parametrize(
    "rows, kwargs, match",
    [
        (10, dict(patience=3), r"^patience needs validation data"),
        (10, dict(optimizer="lbfgs"), r"^optimizer must be 'adam', 'sgd' or 'sgd-momentum', got 'lbfgs'"),
        (9, {}, r"^x and y must have the same number of rows, got 10 and 9"),
        (10, dict(batch_size=0), r"^batch_size must be a positive int or None, got 0"),
    ],
    ids=["patience", "optimizer", "rows", "batch_size"],
)
def test_fit_argument_errors(rows, kwargs, match):
    x, y, _ = data.line_with_outliers(10)
    with pytest.raises(ValueError, match=match):
        train.fit(_zero_line(), lossbook.mse, x, y[:rows], epochs=1, device="cpu", progress=False, **kwargs)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "progress, ci, expected",
    [("0", None, False), ("1", None, True), ("false", None, False), ("1", "true", True),
     (None, "true", False), (None, None, True)],
)
def test_show_progress(monkeypatch, progress, ci, expected):
    monkeypatch.setattr("sys.stderr", _Terminal())  # a person at a terminal...
    for name, value in (("LOSSBOOK_PROGRESS", progress), ("CI", ci)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert train.show_progress() is expected


def test_show_progress_off_without_a_terminal(monkeypatch):
    monkeypatch.delenv("LOSSBOOK_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not train.show_progress()


# --------------------------------------------------------------------------
# device


def test_device_honours_lossbook_device(monkeypatch):
    monkeypatch.setenv("LOSSBOOK_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # even with a GPU
    assert lossbook.device() == torch.device("cpu")
    monkeypatch.setenv("LOSSBOOK_DEVICE", "cuda:1")
    assert lossbook.device() == torch.device("cuda", 1)


def test_device_prefers_cuda_then_cpu(monkeypatch):
    monkeypatch.delenv("LOSSBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert lossbook.device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert lossbook.device() == torch.device("cuda")


def test_device_is_cpu_here(monkeypatch):
    monkeypatch.delenv("LOSSBOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert lossbook.device().type == expected


# --------------------------------------------------------------------------
# plot


def test_loss_and_gradient_plots_autograd_gradient():
    fig = plot.loss_and_gradient({"huber": plot.of_residual(lossbook.huber, delta=1.0)}, title="t")
    try:
        assert isinstance(fig, Figure) and len(fig.axes) == 2
        left, right = fig.axes
        r, value = left.lines[0].get_data()
        r2, grad = right.lines[0].get_data()
        assert len(r) == 601 and r[0] == -3.0 and r[-1] == 3.0 and np.array_equal(r, r2)
        # Huber, delta = 1: r^2/2 inside [-1, 1], |r| - 1/2 outside; gradient clip(r, -1, 1)
        np.testing.assert_allclose(value, np.where(np.abs(r) <= 1, r**2 / 2, np.abs(r) - 0.5), atol=1e-12)
        np.testing.assert_allclose(grad, np.clip(r, -1, 1), atol=1e-12)
        assert fig._suptitle.get_text() == "t"
    finally:
        plt.close(fig)


def test_loss_and_gradient_on_given_axes_and_points():
    fig, axes = plt.subplots(1, 2)
    try:
        r = torch.linspace(-2, 2, 9, dtype=torch.float64)
        got = plot.loss_and_gradient({"mse": plot.of_residual(lossbook.mse)}, r=r, axes=tuple(axes))
        assert got is fig
        np.testing.assert_allclose(axes[1].lines[0].get_ydata(), 2 * r.numpy())  # d r^2 / dr = 2r
    finally:
        plt.close(fig)


def test_history_draws_train_solid_and_validation_dashed():
    runs = {"mse": train.History(train=[3.0, 2.0, 1.0], val=[3.5, 2.5, 2.0]),
            "huber": train.History(train=[1.0, 0.5, 0.25])}
    ax = plot.history(runs)
    try:
        (a, av, b) = ax.lines
        assert list(a.get_ydata()) == [3.0, 2.0, 1.0] and a.get_linestyle() == "-"
        assert list(av.get_ydata()) == [3.5, 2.5, 2.0] and av.get_linestyle() == "--"
        assert a.get_color() == av.get_color() == plot.PALETTE[0] and b.get_color() == plot.PALETTE[1]
        assert [line.get_label() for line in ax.lines] == ["mse (train)", "mse (validation)", "huber"]
        assert len(plot.history(runs["mse"], ax=plt.figure().gca(), val=False).lines) == 1
    finally:
        plt.close("all")
