#!/usr/bin/env bash
# Create .venv (if missing) and install the pinned stack and lossbook into it.
# Sourced by tools/book.sh and tools/test.sh; safe to run again (fast when
# everything is already installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
# Build matplotlib's font cache now: its first-use notice would otherwise land
# in a notebook's stderr, which nbval compares.
.venv/bin/python -c "import matplotlib.pyplot" >/dev/null 2>&1
