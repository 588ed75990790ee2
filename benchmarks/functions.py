"""Do lossbook's custom autograd Functions earn their keep?

    python benchmarks/functions.py [--repeats N] [--out PATH]

Several losses compute their value and gradient in a hand-written
``torch.autograd.Function`` instead of letting autograd record the formula
operation by operation. A Function is more code to read and to keep right, so
it stays only where it is faster. For each, this times forward + backward of
the loss as lossbook computes it (value checks off) against the *same
formula* written with differentiable operations (lossbook's own reference
form where it has one, used for double backward), on the benchmark's full
inputs and on a 32-row batch, with 1 and 2 threads, and the peak memory of
one step on the full inputs. The ratio is the paired ratio of ``run.py``
(Function / plain autograd; below 1: the Function is faster). Results go to
``benchmarks/results/functions-cpu.json``; ``book/benchmarks.ipynb`` shows
them and asserts that every Function is faster or smaller at both thread
counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from dataclasses import replace  # noqa: E402

from benchmarks import cases as C  # noqa: E402
from benchmarks import run  # noqa: E402
from lossbook import _barron, segmentation  # noqa: E402
from lossbook.classification import _focal  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _safe_sqrt(ms: torch.Tensor) -> torch.Tensor:
    # the guard a plain autograd version needs: sqrt's derivative at 0 is infinite
    return torch.where(ms > 0, ms.clamp(min=torch.finfo(ms.dtype).tiny).sqrt(), 0.0)


def _pseudo_huber(r: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    w = (r / delta).abs().clamp(max=torch.finfo(r.dtype).max ** 0.25)
    return (delta * r.abs() * w / ((w * w + 1).sqrt() + 1)).mean()


def _log_cosh(r: torch.Tensor) -> torch.Tensor:
    a = r.abs()
    m = torch.expm1(a.clamp(max=80.0))
    u = m / (m + 1)
    return (torch.log1p(m * u * 0.5) + (a - 80.0).clamp(min=0.0)).mean()


def _beta_nll(mean: torch.Tensor, target: torch.Tensor, var: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    v = var.clone()
    with torch.no_grad():
        v.clamp_(min=1e-6)
    return (0.5 * (torch.log(v) + (mean - target) ** 2 / v) * v.detach() ** beta).mean()


def _pinball(pred: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    r = target - pred
    return torch.maximum(q * r, (q - 1) * r).mean()


#: loss key -> (the Function, the same formula through plain autograd)
PLAIN = {
    "rmse": ("_Root", lambda t: _safe_sqrt(torch.nn.functional.mse_loss(t["pred"], t["target"]))),
    "pseudo_huber": ("_PseudoHuber", lambda t: _pseudo_huber(t["pred"] - t["target"])),
    "log_cosh": ("_LogCosh", lambda t: _log_cosh(t["pred"] - t["target"])),
    "focal": ("_Focal", lambda t: _focal._focal_autograd(t["logits"], t["target"], 0.25, 2.0).mean()),
    "softmax_focal": ("_SoftmaxFocal",
                      lambda t: _focal._softmax_focal_autograd(t["logits"], t["target"], 2.0, None).mean()),
    "dice_loss": ("_Dice", lambda t: segmentation._dice_formula(
        t["probs"].flatten(1), t["target"].flatten(1), 1.0).mean()),
    "beta_nll": ("_BetaNLL", lambda t: _beta_nll(t["mean"], t["target"], t["var"])),
    "quantile": ("_Pinball", lambda t: _pinball(t["pred"], t["target"], 0.9)),
    "general_robust": ("RhoOnePass", lambda t: _barron.rho_formula(
        t["x"], t["x"].new_tensor(1.0), t["x"].new_tensor(1.0)).mean()),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "functions-cpu.json"))
    args = parser.parse_args(argv)
    device = torch.device("cpu")
    rows = []
    for key, (function, plain) in PLAIN.items():
        case = replace(C.CASES[key], peer=plain, peer_name="the same formula, plain autograd")
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for size in ("full", "batch32"):
                r = run.time_case(case, size, device, args.repeats, 0.005, memory=False, clock="wall",
                                  variants=("off", "peer"))
                row = {"key": key, "function": function, "threads": threads, "size": size,
                       "ratio_paired": r["ratio_paired"], "agreement": r["agreement"],
                       "seconds_min": r["seconds_min"]}
                if size == "full" and threads == 1:  # peak memory of one step, above what was allocated
                    t, leaves = C.convert(C.make(case, size, "ordinary"), case, device, torch.float32)
                    row["peak_bytes"] = {v: run._peak_memory(case, v, t, leaves, device) for v in ("off", "peer")}
                rows.append(row)
                print(f"{key:16s} {function:14s} {threads} thread(s) {size:8s} "
                      f"Function / plain autograd {r['ratio_paired']:5.2f} (values agree to {r['agreement']:.1e})", flush=True)
    meta = {"date": datetime.date.today().isoformat(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "repeats": args.repeats, "clock": "wall time (time.perf_counter)",
            "allocator": run._allocator()}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    # the allocator setting of run.py (see run.ALLOCATOR_ENV), read by glibc at start-up
    if platform.system() == "Linux" and not run._allocator_env_set():
        os.execve(sys.executable, [sys.executable, str(pathlib.Path(__file__).resolve()), *sys.argv[1:]],
                  {**os.environ, **run.ALLOCATOR_ENV})
    sys.exit(main())
