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
# tests/test_browser.py opens every page in headless Chromium: Debian's
# package, driven by playwright from requirements.txt (no browser download).
# A CJK font, so that screenshots show the glossary's Chinese names.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${LOSSBOOK_CHROMIUM:-}" ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
    echo "tools/setup.sh: installing chromium with apt-get (once)"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends chromium fonts-dejavu-core fonts-wqy-microhei; } >/dev/null 2>&1 ||
      echo "tools/setup.sh: apt-get install chromium failed; tests/test_browser.py will fail" >&2
  else
    echo "tools/setup.sh: Chromium is missing and cannot be installed here (needs root or sudo and apt):" \
      "install Debian's chromium package or set LOSSBOOK_CHROMIUM, or tests/test_browser.py fails" >&2
  fi
fi
