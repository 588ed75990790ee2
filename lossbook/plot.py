"""Plots in one house style: loss and gradient curves, training histories.

Gradients in these plots come from autograd on the lossbook functions, so a
picture can never disagree with the code it illustrates.
"""

from __future__ import annotations

from typing import Callable, Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .train import History

__all__ = ["style", "of_residual", "loss_and_gradient", "history", "PALETTE"]

#: Colour-blind-safe colours (Okabe and Ito), used in this order.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter)."""
    plt.rcParams.update(
        {
            "figure.figsize": (7.0, 3.2),
            "figure.dpi": 100,
            "savefig.bbox": "tight",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "lines.linewidth": 1.8,
        }
    )


def of_residual(loss: Callable[..., torch.Tensor], **kwargs) -> Callable[[torch.Tensor], torch.Tensor]:
    """Turn ``loss(pred, target, ...)`` into a per-element function of the residual.

    Example:
        ``of_residual(lossbook.huber, delta=2.0)(r)`` is
        ``lossbook.huber(r, zeros_like(r), delta=2.0, reduction="none")``.
    """

    def curve(r: torch.Tensor) -> torch.Tensor:
        return loss(r, torch.zeros_like(r), reduction="none", **kwargs)

    return curve


def loss_and_gradient(
    curves: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    *,
    r: torch.Tensor | None = None,
    xlabel: str = r"residual $r = \hat y - y$",
    title: str | None = None,
    axes: tuple[Axes, Axes] | None = None,
) -> Figure:
    """Plot each curve (left) and its autograd derivative (right) against ``r``.

    Args:
        curves: label -> per-element function of ``r`` (see :func:`of_residual`).
        r: the points; default 601 points on [-3, 3] in float64.
        xlabel: label of the horizontal axes.
        title: a title over both panels.
        axes: two axes to draw on; default a new figure.

    Returns:
        The figure.
    """
    if r is None:
        r = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    if axes is None:
        fig, axes = plt.subplots(1, 2, constrained_layout=True)
    else:
        fig = axes[0].figure
    left, right = axes
    for label, fn in curves.items():
        x = r.detach().clone().requires_grad_(True)
        value = fn(x)
        (grad,) = torch.autograd.grad(value.sum(), x)
        left.plot(r.numpy(), value.detach().numpy(), label=label)
        right.plot(r.numpy(), grad.numpy(), label=label)
    left.set(xlabel=xlabel, ylabel="loss", title="loss")
    right.set(xlabel=xlabel, ylabel="d loss / d prediction", title="gradient (autograd)")
    left.legend()
    if title:
        fig.suptitle(title)
    return fig


def history(
    runs: History | Mapping[str, History],
    *,
    ax: Axes | None = None,
    log: bool = False,
    val: bool = True,
) -> Axes:
    """Plot training (solid) and validation (dashed) loss per epoch.

    Args:
        runs: one :class:`~lossbook.train.History` or label -> history.
        ax: axes to draw on; default a new figure.
        log: logarithmic loss axis.
        val: draw validation curves when present.
    """
    if isinstance(runs, History):
        runs = {"train": runs}
    if ax is None:
        _, ax = plt.subplots(constrained_layout=True)
    for i, (label, h) in enumerate(runs.items()):
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(h.train, color=colour, label=f"{label} (train)" if h.val and val else label)
        if h.val and val:
            ax.plot(h.val, color=colour, linestyle="--", label=f"{label} (validation)")
    ax.set(xlabel="epoch", ylabel="loss")
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax
