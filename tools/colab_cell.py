"""Put the Colab install cell at the top of every chapter notebook (idempotent).

A reader who opens a chapter in Colab (launch button) gets a first cell that
installs the lossbook release the chapter was executed with. Anywhere else
the cell does nothing (it tests for Colab), so tools/execute_notebooks.py runs
it like every other cell and the notebook is stored executed top to bottom.
It is tagged ``nbval-skip`` (nbval does not run it: CI must not try to
install anything) and ``remove-cell`` (the HTML book, whose readers need no
install); the book itself executes nothing (``execute_notebooks: off``). After
this tool changes a notebook, re-execute it. Usage:

    python tools/colab_cell.py            # every notebook in _toc.yml
    python tools/colab_cell.py --check    # exit 1 if any notebook lacks the current cell
"""

from __future__ import annotations

import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
TAGS = ["remove-cell", "nbval-skip"]
CELL_ID = "colab-install"  # fixed: a random id would change on every run


def version() -> str:
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def repository() -> str:
    return re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M).group(1)


def source() -> str:
    return (
        "# Colab only: install the lossbook release this chapter was executed with.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "lossbook[book] @ git+{repository()}@v{version()}"'
    )


def is_colab_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.get("id") == CELL_ID


def notebooks() -> list[pathlib.Path]:
    names = re.findall(r"(?:root|file):\s*([^\s#]+)", (ROOT / "_toc.yml").read_text())
    return [ROOT / f"{n}.ipynb" for n in names if (ROOT / f"{n}.ipynb").exists()]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and is_colab_cell(first) and first.source == source() and first.metadata["tags"] == TAGS:
            continue
        stale.append(path.name)
        if check:
            continue
        if first is not None and is_colab_cell(first):
            nb.cells.pop(0)
        cell = nbformat.v4.new_code_cell(source(), metadata={"tags": list(TAGS)})
        cell["id"] = CELL_ID
        nb.cells.insert(0, cell)
        nbformat.write(nb, path)
    if check and stale:
        print("notebooks without the current Colab install cell:", ", ".join(stale))
        return 1
    print("updated:" if not check else "ok", ", ".join(stale) or "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
