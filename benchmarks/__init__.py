"""The lossbook benchmark: speed and memory against PyTorch/torchvision, and accuracy.

Run ``python benchmarks/run.py`` (see benchmarks/README.md).
"""
