"""The wheel: built without deprecation warnings, complete, licensed, usable on its own.

The wheel is built once per session from a copy of the files it is made of
(pyproject.toml, the readme and license files it names, lossbook/), so the
build leaves no build/ or egg-info in the checkout and no stale build/ there
can leak into it. It is built with the setuptools of the test environment
(pinned in requirements.txt; pip checks it meets pyproject's build
requirement), so the build needs no network.

The last test installs the wheel into a fresh virtual environment with its
declared dependencies only (torch and numpy, and what torch itself needs), not
the book extras, and runs the README's usage example there.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lossbook"

pytestmark = pytest.mark.packaging


def run(cmd: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-6000:]}"
    )
    return proc


def build_inputs() -> list[str]:
    """The top-level files the build reads, as pyproject.toml names them, and the package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    readme = project["readme"]
    return ["pyproject.toml", readme if isinstance(readme, str) else readme["file"],
            *project.get("license-files", []), "lossbook"]


class Built:
    def __init__(self, wheel: pathlib.Path, log: str):
        self.wheel = wheel
        self.log = log
        with zipfile.ZipFile(wheel) as zf:
            self.names = zf.namelist()
            self.dist_info = next(n.split("/")[0] for n in self.names if n.endswith(".dist-info/METADATA"))
            self.metadata = zf.read(f"{self.dist_info}/METADATA").decode()
            self.licenses = {
                n.split("/licenses/", 1)[1]: zf.read(n)
                for n in self.names if n.startswith(f"{self.dist_info}/licenses/")
            }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in build_inputs():
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    # -v shows the build backend's own output, where setuptools prints its warnings.
    proc = run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "--check-build-dependencies", "--disable-pip-version-check", "--wheel-dir", str(work / "dist"), str(src)],
        timeout=300,
    )
    wheels = list((work / "dist").glob("lossbook-*.whl"))
    assert len(wheels) == 1, wheels
    return Built(wheels[0], proc.stdout + proc.stderr)


def test_build_emits_no_deprecation_warning(built):
    # The log holds the backend's output (else the check below would be vacuous) ...
    assert "running bdist_wheel" in built.log
    # ... and nothing in it is deprecated: e.g. setuptools' SetuptoolsDeprecationWarning
    # for `project.license` as a table, unsupported from 2027-02-18.
    deprecated = [line.strip() for line in built.log.splitlines() if re.search(r"deprecat", line, re.I)]
    assert deprecated == []


def source_modules() -> set[str]:
    """Every .py file under lossbook/ in the checkout, as wheel paths (lossbook/x/y.py)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_wheel_holds_every_module_of_every_package(built):
    modules = source_modules()
    packages = {m.rsplit("/", 1)[0] for m in modules}
    # The walk itself found the subpackages there are (today lossbook.classification).
    assert {"lossbook", "lossbook/classification"} <= packages
    in_wheel = {n for n in built.names if n.endswith(".py")}
    assert in_wheel == modules, (
        f"missing from the wheel: {sorted(modules - in_wheel)}; not in the source: {sorted(in_wheel - modules)}"
    )
    assert {n.rsplit("/", 1)[0] for n in in_wheel} == packages
    assert not [n for n in built.names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_license_metadata(built):
    headers = [line for line in built.metadata.split("\n\n", 1)[0].splitlines()]
    assert "Metadata-Version: 2.4" in headers
    assert "License-Expression: MIT" in headers
    assert "License-File: LICENSE" in headers
    assert not [h for h in headers if h.startswith("License:")]  # the legacy free-text field
    license_text = (ROOT / "LICENSE").read_bytes()
    assert built.licenses == {"LICENSE": license_text}
    assert license_text.startswith(b"MIT License\n")
    assert b"Copyright (c) 2026 The lossbook authors" in license_text


def readme_usage_block() -> str:
    """The first ```python block under the README's '## Using the package' heading."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Using the package\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, "README.md has no '## Using the package' section"
    block = re.search(r"^```python\n(.*?)^```$", section.group(1), re.M | re.S)
    assert block, "the README's 'Using the package' section has no ```python block"
    return block.group(1)


# Run after the README's example, in the same namespace: is `loss` what the
# README's comment says (the numbers of F.huber_loss, gradient included), and
# where do the modules come from.
CHECK = r'''
import importlib.util as _util
import json as _json
import re as _re
import sys as _sys

import torch.nn.functional as _F

_line = next(l.split("#")[0] for l in __README__.splitlines() if "lossbook.huber(" in l)
_args = _re.search(r"lossbook\.huber\((.*)\)", _line).group(1)
_pred = pred.detach().clone().requires_grad_(True)
_ref = eval(f"_F.huber_loss({_args})", {**globals(), "pred": _pred})
_ref.backward()
print(_json.dumps({
    "args": _args,
    "loss": loss.item(),
    "reference": _ref.item(),
    "equal": torch.equal(loss, _ref),
    "grad_equal": pred.grad is not None and torch.equal(pred.grad, _pred.grad),
    "prefix": _sys.prefix,
    "lossbook": lossbook.__file__,
    "torch": torch.__version__,
    "absent": [m for m in ("matplotlib", "sklearn", "tqdm") if _util.find_spec(m) is None],
}))
'''


def test_readme_example_runs_from_the_wheel_in_a_fresh_venv(built, tmp_path):
    code = readme_usage_block()
    assert "lossbook.huber(" in code
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    # The child sees neither the checkout (PYTHONPATH, cwd) nor any user site-packages.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"

    start = time.monotonic()
    # A bare venv of the base interpreter; this environment's pip installs into it
    # (--python), which skips ensurepip. --no-compile: no .pyc for torch's
    # thousands of files (the same files installed; 16 s instead of 60 s here).
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120, env=env)
    # Dependencies as the wheel declares them, resolved with the pinned versions of
    # requirements.txt as constraints, and exactly this environment's torch build
    # (the CPU one here, found on local disk: never a multi-GB download).
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-compile",
         "--disable-pip-version-check", "--quiet", "-c", str(ROOT / "requirements.txt"),
         f"torch=={torch.__version__}", str(built.wheel)],
        timeout=900, env=env, cwd=tmp_path)
    installed = time.monotonic() - start

    script = tmp_path / "readme_example.py"
    script.write_text(f"__README__ = {code!r}\n" + code + CHECK)
    proc = run([str(python), str(script)], timeout=300, env=env, cwd=tmp_path)
    print(f"venv and install: {installed:.1f} s; example: {time.monotonic() - start - installed:.1f} s")
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    assert pathlib.Path(result["prefix"]) == venv
    assert pathlib.Path(result["lossbook"]).is_relative_to(venv / "lib"), result["lossbook"]
    assert result["torch"] == torch.__version__
    # The book extras are not there (sympy is: torch itself requires it).
    assert result["absent"] == ["matplotlib", "sklearn", "tqdm"]
    assert result["args"].startswith("pred, target")
    assert result["equal"] and result["grad_equal"], result
    assert result["loss"] == result["reference"] > 0
    # Passed: the 800 MB venv goes (pytest keeps the last three runs' tmp_path; a failed one stays to look at).
    shutil.rmtree(venv)
