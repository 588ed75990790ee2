"""Execute book notebooks in place, top to bottom, each in a fresh kernel.

This is how the stored outputs are produced: on the CPU, with no progress
bars, from the book/ folder (where nbval runs them too). Usage:

    python tools/execute_notebooks.py              # every notebook in _toc.yml
    python tools/execute_notebooks.py book/regression.ipynb
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


def toc_notebooks() -> list[pathlib.Path]:
    """Every .ipynb document named in _toc.yml, in order."""
    names = re.findall(r"(?:root|file):\s*([^\s#]+)", (ROOT / "_toc.yml").read_text())
    return [ROOT / f"{n}.ipynb" for n in names if (ROOT / f"{n}.ipynb").exists()]


def execute(path: pathlib.Path, timeout: int = 300) -> float:
    """Run one notebook in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:  # execution timing metadata would change every run
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    os.environ["LOSSBOOK_PROGRESS"] = "0"
    os.environ["LOSSBOOK_DEVICE"] = "cpu"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = [pathlib.Path(a).resolve() for a in argv] or toc_notebooks()
    for p in paths:
        print(f"{p}: {execute(p):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
