"""Shared test configuration: reproducible hypothesis runs, headless plots."""

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

# CI must be reproducible: the same examples on every run and every machine,
# and no deadline (the first call of a torch kernel can be slow).
settings.register_profile("lossbook", derandomize=True, deadline=None, max_examples=40)
settings.load_profile("lossbook")
