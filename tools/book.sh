#!/usr/bin/env bash
# Set everything up and build the HTML book into _build/html (index.html).
# The notebooks are shown with their stored, executed outputs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup.sh
rm -rf _build
.venv/bin/jupyter-book build . -W --keep-going
echo "Book: $(pwd)/_build/html/index.html"
