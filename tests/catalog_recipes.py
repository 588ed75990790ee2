"""The benchmark's recipe of every catalog loss, for the tests that iterate over the catalog (not a test module).

``benchmarks/cases.py`` holds one recipe per catalog key (how to make its
inputs, how to call it, its peer); tests/test_compile.py and
tests/test_autocast.py take theirs from here, so a new catalog loss without a
recipe fails them (``KeyError``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossbook import catalog

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the recipes live in the repository's benchmarks/ package
    sys.path.insert(0, str(ROOT))
from benchmarks import cases as recipes  # noqa: E402
from benchmarks import peers  # noqa: E402
from benchmarks.inputs import Sizes  # noqa: E402

#: Small inputs, every size distinct from every other and none 0 or 1 (dynamic shapes give equal
#: sizes one symbol, and specialise 0 and 1). AdaptiveRobustLoss takes (n // 8, 8) residuals.
SMALL = Sizes(n=24, rows=6, classes=5, emb=6, dim=7, boxes=6, mask=(6, 1, 4, 3), gp=(6, 7), hidden=9, tasks=3)
CASES = recipes.cases(catalog.keys())  # KeyError for a catalog loss without a recipe

__all__ = ["CASES", "SMALL", "Sizes", "peers", "recipes"]
