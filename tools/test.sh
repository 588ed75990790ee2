#!/usr/bin/env bash
# Set everything up and run every test: the package tests, the book-integrity
# tests, the book build with warnings as errors, and nbval re-executing every
# chapter and comparing its outputs with the stored ones. One pytest run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup.sh
# The stored outputs were produced on the CPU; nbval must reproduce them there
# even on a machine with a GPU (a reader's run still uses the GPU).
export LOSSBOOK_PROGRESS=0 LOSSBOOK_DEVICE=cpu
exec .venv/bin/python -m pytest tests book \
  --nbval --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --nbval-cell-timeout=300 \
  -p no:cacheprovider "$@"
