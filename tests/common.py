"""Constants and small helpers shared by the loss test modules (not a test module itself).

The dtypes and their pytest parameters, the three reductions with their NumPy
counterparts for float64 references, the test id of a params dict, and the
default comparison tolerance per dtype. A module that needs other tolerances
keeps its own.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

F32, F64 = torch.float32, torch.float64
DTYPES = [pytest.param(F32, id="f32"), pytest.param(F64, id="f64")]
REDUCTIONS = ("mean", "sum", "none")
NP_REDUCE = {"mean": np.mean, "sum": np.sum, "none": np.asarray}  # reduction -> NumPy reference


def params_id(params):
    """A test id for a dict of keyword arguments: ``k1=v1,k2=v2``, or ``default`` when empty."""
    return ",".join(f"{k}={v}" for k, v in params.items()) or "default"


def dtype_tol(dtype):
    """``assert_close`` tolerances for a result computed in ``dtype`` against a float64 reference."""
    return dict(rtol=2e-5, atol=2e-6) if dtype == F32 else dict(rtol=1e-10, atol=1e-12)
