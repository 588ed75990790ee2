"""Symbolic (sympy) forms of the losses that are scalar functions of one variable.

The variable is the residual ``r`` for regression losses, the Gaussian
negative log-likelihood, the quantile loss and the general
robust loss, the log-rate ``x`` for the Poisson negative log-likelihood, the probability
``p`` or the logit ``x`` for binary cross-entropy and focal loss, and the
score ``s`` for the hinge; targets and hyperparameters are parameters.

Chapters derive gradients from these forms and print them as LaTeX; the tests
check each derived gradient against autograd on the torch implementation.

Example:
    >>> from lossbook import symbolic
    >>> s = symbolic.form("huber")
    >>> s.gradient()
    Piecewise((r, delta >= Abs(r)), (delta*sign(r), True))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy as sp

__all__ = [
    "SymbolicLoss", "form", "keys", "rmse_form",
    "r", "delta", "beta", "x", "p", "s", "t", "m", "alpha", "gamma", "shape", "c", "q", "v", "sigmoid",
]

#: The residual :math:`r = \hat y - y`.
r = sp.Symbol("r", real=True)
#: Huber / pseudo-Huber threshold.
delta = sp.Symbol("delta", positive=True)
#: Smooth L1 threshold.
beta = sp.Symbol("beta", positive=True)
#: A logit (binary losses computed from logits).
x = sp.Symbol("x", real=True)
#: A predicted probability.
p = sp.Symbol("p", positive=True)
#: A real-valued score (margin losses).
s = sp.Symbol("s", real=True)
#: A target: a probability in [0, 1], or a label -1/+1 for the hinge.
t = sp.Symbol("t", real=True)
#: Margin of the hinge loss.
m = sp.Symbol("m", nonnegative=True)
#: Focal loss: weight of the positive class, and focusing parameter.
alpha = sp.Symbol("alpha", nonnegative=True)
gamma = sp.Symbol("gamma", nonnegative=True)
#: Barron's general robust loss: the shape (any real; 0 and 2 are limits) and the scale.
shape = sp.Symbol("alpha", real=True, nonzero=True)
c = sp.Symbol("c", positive=True)
#: Quantile level of the quantile loss, in (0, 1).
q = sp.Symbol("q", positive=True)
#: Predicted variance of the Gaussian negative log-likelihood.
v = sp.Symbol("v", positive=True)


def sigmoid(z: sp.Expr) -> sp.Expr:
    """The logistic function :math:`1 / (1 + e^{-z})`."""
    return 1 / (1 + sp.exp(-z))


@dataclass(frozen=True)
class SymbolicLoss:
    """A loss as a sympy expression in one variable, with its parameters."""

    key: str
    expr: sp.Expr
    variable: sp.Symbol
    params: dict[str, sp.Symbol] = field(default_factory=dict)

    def gradient(self) -> sp.Expr:
        """The derivative with respect to :attr:`variable`, simplified.

        Piecewise derivatives are left as differentiated: sympy's simplify
        turns ``delta*sign(r)`` into a nested, less readable piecewise.
        """
        d = sp.diff(self.expr, self.variable)
        return d if d.has(sp.Piecewise) else sp.simplify(d)

    def second_derivative(self) -> sp.Expr:
        """The second derivative with respect to :attr:`variable`."""
        d = sp.diff(self.expr, self.variable, 2)
        return d if d.has(sp.Piecewise) else sp.simplify(d)

    def substitute(self, **values: float) -> sp.Expr:
        """The expression with parameters replaced by numbers."""
        return self.expr.subs({self.params[k]: v for k, v in values.items()})

    def numeric(self, which: str = "loss", **values: float) -> Callable[[np.ndarray], np.ndarray]:
        """A NumPy function of the variable: ``which`` is ``"loss"`` or ``"gradient"``.

        Parameters are given by name, e.g. ``form("huber").numeric(delta=2.0)``.
        """
        if which not in ("loss", "gradient"):
            raise ValueError(f"which must be 'loss' or 'gradient', got {which!r}")
        missing = set(self.params) - set(values)
        if missing:
            raise ValueError(f"values needed for parameters {sorted(missing)}")
        expr = self.expr if which == "loss" else sp.diff(self.expr, self.variable)
        expr = expr.subs({self.params[k]: v for k, v in values.items()})
        f = sp.lambdify(self.variable, expr, modules="numpy")
        return lambda x: np.broadcast_to(f(np.asarray(x, dtype=np.float64)), np.shape(x)).astype(np.float64)

    def latex(self, which: str = "loss") -> str:
        """LaTeX of the loss or of its gradient."""
        return sp.latex(self.expr if which == "loss" else self.gradient())


def _forms() -> dict[str, SymbolicLoss]:
    a = sp.Abs(r)
    return {
        "mse": SymbolicLoss("mse", r**2, r),
        "mae": SymbolicLoss("mae", a, r),
        "huber": SymbolicLoss(
            "huber",
            sp.Piecewise((r**2 / 2, a <= delta), (delta * (a - delta / 2), True)),
            r, {"delta": delta},
        ),
        "smooth_l1": SymbolicLoss(
            "smooth_l1",
            sp.Piecewise((r**2 / (2 * beta), a < beta), (a - beta / 2, True)),
            r, {"beta": beta},
        ),
        "pseudo_huber": SymbolicLoss(
            "pseudo_huber", delta**2 * (sp.sqrt(1 + (r / delta) ** 2) - 1), r, {"delta": delta}
        ),
        "log_cosh": SymbolicLoss("log_cosh", sp.log(sp.cosh(r)), r),
        # probabilistic regression, in the residual r = mean - target (quantile: r = pred - target,
        # so the pinball's target - pred is -r) and, for Poisson, in the log-rate x with the count t
        "gaussian_nll": SymbolicLoss("gaussian_nll", (sp.log(v) + r**2 / v) / 2, r, {"var": v}),
        "quantile": SymbolicLoss(
            "quantile", sp.Piecewise((-q * r, r < 0), ((1 - q) * r, True)), r, {"q": q}
        ),
        "poisson_nll": SymbolicLoss("poisson_nll", sp.exp(x) - t * x, x, {"target": t}),
        "binary_cross_entropy": SymbolicLoss(
            "binary_cross_entropy", -(t * sp.log(p) + (1 - t) * sp.log(1 - p)), p, {"t": t}
        ),
        "binary_cross_entropy_with_logits": SymbolicLoss(
            "binary_cross_entropy_with_logits",
            -(t * sp.log(sigmoid(x)) + (1 - t) * sp.log(1 - sigmoid(x))), x, {"t": t},
        ),
        "hinge": SymbolicLoss("hinge", sp.Max(0, m - t * s), s, {"t": t, "m": m}),
        "focal": SymbolicLoss("focal", _focal(), x, {"t": t, "alpha": alpha, "gamma": gamma}),
        "general_robust": SymbolicLoss(
            "general_robust",
            sp.Abs(shape - 2) / shape * (((r / c) ** 2 / sp.Abs(shape - 2) + 1) ** (shape / 2) - 1),
            r, {"alpha": shape, "scale": c},
        ),
    }


def _focal() -> sp.Expr:
    # torchvision's form: alpha_t * (1 - p_t)**gamma * (binary cross-entropy)
    q = sigmoid(x)
    p_t = q * t + (1 - q) * (1 - t)
    alpha_t = alpha * t + (1 - alpha) * (1 - t)
    ce = -(t * sp.log(q) + (1 - t) * sp.log(1 - q))
    return alpha_t * (1 - p_t) ** gamma * ce


_FORMS = _forms()


def keys() -> list[str]:
    """The losses that have a one-variable symbolic form."""
    return list(_FORMS)


def form(key: str) -> SymbolicLoss:
    """The symbolic form of the loss called ``key`` (e.g. ``"huber"``)."""
    try:
        return _FORMS[key]
    except KeyError:
        raise KeyError(f"no symbolic form for {key!r}; known: {keys()}") from None


def rmse_form(n: int) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """RMSE of ``n`` residuals ``r_1 ... r_n`` (it is not a per-element loss).

    Returns:
        The expression and the tuple of residual symbols.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rs = sp.symbols(f"r_1:{n + 1}", real=True)
    return sp.sqrt(sum(x**2 for x in rs) / n), rs
