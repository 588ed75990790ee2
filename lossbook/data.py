"""Small deterministic data sets for the book's demos.

Every generator takes a ``seed`` and draws from its own ``torch.Generator``
on the CPU, so the same call gives the same tensors on every machine; move
them to a device afterwards. Tensors are float32 unless said otherwise.
"""

from __future__ import annotations

import math

import torch

__all__ = ["line_with_outliers", "noisy_sine", "split", "two_moons", "imbalanced", "digits"]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def line_with_outliers(
    n: int = 80,
    *,
    slope: float = 2.0,
    intercept: float = 1.0,
    noise: float = 0.5,
    outlier_fraction: float = 0.15,
    outlier_offset: float = -12.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Points on a line with Gaussian noise, some of them moved far off it.

    ``x`` is uniform on [0, 5]. ``round(outlier_fraction * n)`` points chosen
    among the half with the largest ``x`` are moved by about
    ``outlier_offset`` (times a factor in [1, 1.5]); far from the centre of
    the data they have leverage, so they tilt a least-squares line.

    Returns:
        ``x`` and ``y`` of shape ``(n, 1)``, and a boolean mask ``(n,)`` of
        the outliers.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if not 0 <= outlier_fraction < 1:
        raise ValueError(f"outlier_fraction must be in [0, 1), got {outlier_fraction}")
    g = _generator(seed)
    x = torch.rand(n, generator=g) * 5.0
    y = slope * x + intercept + noise * torch.randn(n, generator=g)
    k = round(outlier_fraction * n)
    right = torch.argsort(x, descending=True)[: max(n // 2, k)]
    chosen = right[torch.randperm(len(right), generator=g)[:k]]
    is_outlier = torch.zeros(n, dtype=torch.bool)
    is_outlier[chosen] = True
    y[chosen] += outlier_offset * (1.0 + 0.5 * torch.rand(k, generator=g))
    return x[:, None], y[:, None], is_outlier


def noisy_sine(
    n: int = 40, *, noise: float = 0.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``y = sin(2 pi x) + noise`` at ``n`` sorted points, ``x`` uniform on [0, 1].

    Returns:
        ``x`` and ``y`` of shape ``(n, 1)``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = _generator(seed)
    x = torch.sort(torch.rand(n, generator=g)).values
    y = torch.sin(2 * math.pi * x) + noise * torch.randn(n, generator=g)
    return x[:, None], y[:, None]


def split(
    *tensors: torch.Tensor, fraction: float = 0.25, seed: int = 0
) -> list[torch.Tensor]:
    """Split tensors along dim 0 into a training part and a held-out part.

    Returns:
        ``[a_train, a_held_out, b_train, b_held_out, ...]``, the same random
        rows held out of every tensor.
    """
    if not tensors:
        raise ValueError("split needs at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"every tensor must have {n} rows, got {[t.shape[0] for t in tensors]}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    perm = torch.randperm(n, generator=_generator(seed))
    k = max(1, round(fraction * n))
    held, kept = perm[:k].sort().values, perm[k:].sort().values
    out: list[torch.Tensor] = []
    for t in tensors:
        out += [t[kept.to(t.device)], t[held.to(t.device)]]
    return out


def two_moons(
    n: int = 200, *, noise: float = 0.15, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved half circles: a two-class problem no line can separate.

    Returns:
        ``x`` of shape ``(n, 2)`` and integer labels ``y`` of shape ``(n,)``,
        ``n // 2`` of class 0 (upper moon) and the rest class 1.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    g = _generator(seed)
    n0 = n // 2
    angle = torch.rand(n, generator=g) * math.pi
    upper = torch.stack([torch.cos(angle[:n0]), torch.sin(angle[:n0])], 1)
    lower = torch.stack([1 - torch.cos(angle[n0:]), 0.5 - torch.sin(angle[n0:])], 1)
    x = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n - n0, dtype=torch.long)])
    return x, y


def imbalanced(
    n: int = 5100, *, ratio: float = 50.0, separation: float = 2.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A binary problem with one rare class: about ``1 : ratio`` positives to negatives.

    Negatives are a standard Gaussian in 2-D; positives a Gaussian of
    standard deviation 0.7 whose centre is ``separation`` away, so the
    classes overlap and the rare one is easy to sacrifice for accuracy.

    Returns:
        ``x`` of shape ``(n, 2)`` and integer labels ``y`` of shape ``(n,)``
        (1 = rare class), shuffled.
    """
    if ratio <= 0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    g = _generator(seed)
    n_pos = max(1, round(n / (ratio + 1)))
    neg = torch.randn(n - n_pos, 2, generator=g)
    pos = 0.7 * torch.randn(n_pos, 2, generator=g) + separation / math.sqrt(2.0)
    x = torch.cat([neg, pos])
    y = torch.cat([torch.zeros(n - n_pos, dtype=torch.long), torch.ones(n_pos, dtype=torch.long)])
    perm = torch.randperm(n, generator=g)
    return x[perm], y[perm]


def digits(
    *, test_fraction: float = 0.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's handwritten digits (1797 images of 8x8 pixels, 10 classes).

    The data ship inside scikit-learn, so nothing is downloaded. Pixels are
    scaled from 0..16 to [0, 1] and flattened to 64 features.

    Returns:
        ``x_train, y_train, x_test, y_test``: features ``(n, 64)`` float32
        and integer labels ``(n,)``, split at random by ``seed``.
    """
    from sklearn.datasets import load_digits  # an optional dependency

    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    x_train, x_test, y_train, y_test = split(x, y, fraction=test_fraction, seed=seed)
    return x_train, y_train, x_test, y_test
