"""Metadata of every loss in lossbook: one :class:`LossRecord` per loss.

The book renders its overview tables, cheat sheet and glossary from here, and
the test suite iterates over it: a loss in the catalog without a reference
test, a gradient check or a bad-input test fails the suite. Adding a loss is
one function and one record in :data:`RECORDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from . import regression

__all__ = ["LossRecord", "RECORDS", "get", "keys", "by_family", "to_markdown"]

#: The source articles (``shared/sources``), by the number their file name starts with.
SOURCES = {
    "000": "Different types of loss functions in deep learning, pros and cons",
    "001": "Loss functions 1: what a loss is, its roles, training loops",
    "002": "Loss functions in deep learning: a full survey",
    "003": "Common loss functions for classification and regression",
    "004": "Cross-entropy and mean squared error in deep learning",
}


@dataclass(frozen=True)
class LossRecord:
    """What the book and the tests need to know about one loss."""

    key: str  #: the function's name in :mod:`lossbook`
    function: Callable  #: the loss itself
    family: str  #: the module it lives in (``"regression"``, ...)
    name: str  #: English name
    chinese: str  #: Chinese name, for the glossary
    formula: str  #: per-element or per-sample loss in LaTeX
    task: str  #: what it is used for
    sources: tuple[str, ...]  #: source articles that discuss it (keys of SOURCES)
    counterpart: str | None  #: the PyTorch/torchvision function it matches, if any
    paper: str  #: where it comes from
    chapter: str  #: the book chapter (document name) that teaches it


def _regression(**kw) -> LossRecord:
    return LossRecord(
        family="regression", function=getattr(regression, kw["key"]),
        chapter="book/regression", **kw,
    )


RECORDS: tuple[LossRecord, ...] = (
    _regression(
        key="mse", name="Mean squared error (L2)", chinese="均方误差",
        formula=r"(\hat y - y)^2", task="regression",
        sources=("000", "001", "002", "003", "004"),
        counterpart="torch.nn.functional.mse_loss",
        paper="Legendre (1805); Gauss (1809): least squares",
    ),
    _regression(
        key="rmse", name="Root mean squared error", chinese="均方根误差",
        formula=r"\sqrt{\tfrac1n \sum_i (\hat y_i - y_i)^2}", task="regression",
        sources=("001",), counterpart=None,
        paper="Gauss (1809): the standard error of least squares",
    ),
    _regression(
        key="mae", name="Mean absolute error (L1)", chinese="平均绝对误差",
        formula=r"|\hat y - y|", task="regression, robust to outliers",
        sources=("001", "002", "003"), counterpart="torch.nn.functional.l1_loss",
        paper="Laplace (1774): least absolute deviations",
    ),
    _regression(
        key="huber", name="Huber loss", chinese="Huber损失",
        formula=r"\begin{cases}\tfrac12 r^2 & |r|\le\delta\\ \delta(|r|-\tfrac12\delta) & |r|>\delta\end{cases}",
        task="regression, robust to outliers", sources=("000", "002"),
        counterpart="torch.nn.functional.huber_loss",
        paper="Huber (1964), Robust Estimation of a Location Parameter",
    ),
    _regression(
        key="smooth_l1", name="Smooth L1 loss", chinese="平滑L1损失",
        formula=r"\begin{cases}r^2/(2\beta) & |r|<\beta\\ |r|-\tfrac12\beta & |r|\ge\beta\end{cases}",
        task="regression, box coordinates in detection", sources=("002",),
        counterpart="torch.nn.functional.smooth_l1_loss",
        paper="Girshick (2015), Fast R-CNN",
    ),
    _regression(
        key="pseudo_huber", name="Pseudo-Huber (Charbonnier) loss", chinese="伪Huber损失",
        formula=r"\delta^2\left(\sqrt{1+(r/\delta)^2}-1\right)",
        task="regression, robust and smooth", sources=("003",), counterpart=None,
        paper="Charbonnier et al. (1994); Hartley and Zisserman (2004)",
    ),
    _regression(
        key="log_cosh", name="Log-cosh loss", chinese="对数双曲余弦损失",
        formula=r"\log\cosh(\hat y - y)", task="regression, robust and smooth",
        sources=(), counterpart=None,
        paper="Saleh and Saleh (2022), Statistical properties of the log-cosh loss",
    ),
)

_BY_KEY = {r.key: r for r in RECORDS}


def get(key: str) -> LossRecord:
    """The record of the loss called ``key`` (``KeyError`` naming the known keys)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no loss {key!r} in the catalog; known: {sorted(_BY_KEY)}") from None


def keys() -> list[str]:
    """Every loss key, in catalog order."""
    return [r.key for r in RECORDS]


def by_family(family: str) -> list[LossRecord]:
    """The records of one family, in catalog order."""
    return [r for r in RECORDS if r.family == family]


def to_markdown(records: Iterable[LossRecord], columns: Sequence[str]) -> str:
    """A Markdown table of ``records`` with the given record fields as columns.

    ``formula`` is wrapped in ``$...$``, ``key`` and ``counterpart`` in
    backticks, so the table renders in a notebook and in the book.
    """
    def cell(rec: LossRecord, col: str) -> str:
        value = getattr(rec, col)
        if col == "formula":  # a bare | would end the table cell; \| is a norm
            return "$" + value.replace(r"\|", r"\Vert ").replace("|", r"\vert ") + "$"
        if col in ("key", "counterpart"):
            return f"`{value}`" if value else "—"
        if col == "sources":
            return ", ".join(value) if value else "—"
        return str(value).replace("|", "\\|")

    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * len(columns)
    rows = ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in records]
    return "\n".join([head, rule, *rows])
