"""Benchmark every lossbook loss against its PyTorch / torchvision peer.

    python benchmarks/run.py [--quick] [--device cpu|cuda] [--threads N] [--out PATH] [--only KEY ...]

For every loss in ``lossbook.catalog`` (see ``benchmarks/cases.py`` for the
inputs and the peers): forward plus backward of lossbook with value checks
off, of the peer, and of lossbook with value checks on, interleaved in one
process (the order rotates every round), after a warm-up. Each sample times
a block of calls (enough for about 5 ms). Two ratios, lossbook / peer: of
the fastest samples, and the median of the per-round ratios (the *paired*
ratio: the samples of a round ran back to back, so a slow phase of the
machine slows both and cancels). An A/A control (the peer against itself,
for a few losses) shows how large a ratio the machine's noise alone
produces. Then the peak memory of one forward + backward step of each
(CUDA: the allocator's peak; CPU: the profiler's allocation events), the
same timing on a 32-row batch (the fixed cost per call), and the
float32-vs-float64 accuracy table. On Linux the script runs itself again
with glibc's allocator told to keep freed memory (``ALLOCATOR_ENV``). Results
go to ``benchmarks/results/<device>.json`` (or ``--out``);
``book/benchmarks.ipynb`` shows them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import statistics
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks`` and ``lossbook`` importable
    sys.path.insert(0, str(ROOT))

import lossbook  # noqa: E402
from lossbook import catalog  # noqa: E402
from benchmarks import accuracy  # noqa: E402
from benchmarks import cases as C  # noqa: E402
from benchmarks import peers  # noqa: E402

VARIANTS = ("off", "peer", "on")  # lossbook with value checks off, the peer, lossbook with checks on


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(fn, t: dict, leaves: list[torch.Tensor]) -> None:
    out = fn(t)
    if leaves:
        torch.autograd.grad(out, leaves, allow_unused=True)


#: the A/A control: the peer timed against itself, to show the noise of the machine
CONTROL = ("mse", "cross_entropy", "triplet", "giou_loss", "policy_gradient_loss")


def _runner(case: C.Case, variant: str):
    fn = case.peer if variant.startswith("peer") else case.ours
    checks = variant == "on"
    return fn, checks


#: the clock: wall time (perf_counter) on a GPU, where the host waits for the
#: device; on the CPU the process's CPU time, which a loaded machine's other
#: processes do not inflate (with one thread it equals the wall time of an
#: undisturbed run)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _block(case, variant, t, leaves, calls, device, clock="wall") -> float:
    """Seconds per call over a block of ``calls`` forward + backward steps."""
    fn, checks = _runner(case, variant)
    now = CLOCKS[clock]
    lossbook.set_value_checks(checks)
    try:
        _sync(device)
        start = now()
        for _ in range(calls):
            _step(fn, t, leaves)
        _sync(device)
        return (now() - start) / calls
    finally:
        lossbook.set_value_checks(True)


def _agreement(case, t, device) -> float:
    """Relative difference of lossbook's and the peer's value on the timed inputs (a sanity check)."""
    with torch.no_grad() if case.key != "gradient_penalty" else torch.enable_grad():
        C.reseed(t, device)
        ours = case.ours(t).detach().double()
        peer = case.peer(t).detach().double()
    C.reseed(t, device)
    return float((ours - peer).abs() / peer.abs().clamp(min=1e-12))


def _peak_memory(case, variant, t, leaves, device) -> int | None:
    """Bytes allocated at the peak of one forward + backward step, above what was allocated before it."""
    fn, checks = _runner(case, variant)
    lossbook.set_value_checks(checks)
    try:
        if device.type == "cuda":
            _sync(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            _step(fn, t, leaves)
            _sync(device)
            return int(torch.cuda.max_memory_allocated(device) - base)
        if device.type == "cpu":
            return _cpu_peak(lambda: _step(fn, t, leaves))
        return None
    finally:
        lossbook.set_value_checks(True)


def _cpu_peak(step) -> int | None:
    """Peak of the running sum of the profiler's CPU allocation events (None if unavailable)."""
    try:
        from torch._C._profiler import _EventType
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        events = []

        def walk(node):
            if node.tag == _EventType.Allocation and node.extra_fields.device.type == torch.device("cpu").type:
                events.append((node.start_time_ns, node.extra_fields.alloc_size))
            for child in node.children:
                walk(child)

        for root in prof.profiler.kineto_results.experimental_event_tree():
            walk(root)
        current = peak = 0
        for _, size in sorted(events, key=lambda e: e[0]):
            current += size
            peak = max(peak, current)
        return int(peak)
    except Exception:  # a private API that may change between torch versions
        return None


def time_case(
    case: C.Case, size: str, device: torch.device, repeats: int, block_s: float, memory: bool, clock: str = "wall",
    variants: tuple[str, ...] = VARIANTS,
) -> dict:
    inputs = C.make(case, size, "ordinary")
    t, leaves = C.convert(inputs, case, device, torch.float32)
    row = {"key": case.key, "family": catalog.get(case.key).family, "peer": case.peer_name,
           "peer_kind": case.peer_kind, "inputs": C.describe(inputs), "agreement": _agreement(case, t, device)}
    # warm-up (allocator, kernels, lazy init), then calls per block from the fastest variant
    single = {v: min(_block(case, v, t, leaves, 1, device, clock) for _ in range(3)) for v in variants}
    calls = max(1, math.ceil(block_s / max(min(single.values()), 1e-7)))
    samples = {v: [] for v in variants}
    k = len(variants)
    for i in range(repeats):
        order = variants[i % k:] + variants[: i % k]  # rotate: no variant always runs first
        for v in order:
            samples[v].append(_block(case, v, t, leaves, calls, device, clock))
    best = {v: min(s) for v, s in samples.items()}
    row.update(
        calls_per_sample=calls,
        seconds_min=best,
        seconds_median={v: statistics.median(samples[v]) for v in variants},
    )
    if variants != VARIANTS:  # the control: first variant over the second
        a, b = variants
        row["ratio"] = best[a] / best[b]
        row["ratio_paired"], row["ratio_paired_iqr"] = _paired(samples[a], samples[b])
        return row
    paired_off, iqr_off = _paired(samples["off"], samples["peer"])
    row.update(
        ratio_off=best["off"] / best["peer"],
        ratio_on=best["on"] / best["peer"],
        ratio_off_median=statistics.median(samples["off"]) / statistics.median(samples["peer"]),
        ratio_off_paired=paired_off,
        ratio_off_paired_iqr=iqr_off,
        ratio_on_paired=_paired(samples["on"], samples["peer"])[0],
    )
    if memory:
        mem = {v: _peak_memory(case, v, t, leaves, device) for v in VARIANTS}
        row["peak_bytes"] = mem
        row["memory_ratio"] = mem["off"] / mem["peer"] if mem["off"] is not None and mem["peer"] else None
    return row


def _paired(a: list[float], b: list[float]) -> tuple[float, list[float]]:
    """Median and quartiles of the per-round ratios a_i / b_i.

    The two samples of a round ran one after the other, so a slow phase of the
    machine (another process on the memory bus) slows both and cancels in their
    ratio; the median then ignores the rounds where only one was disturbed.
    """
    ratios = [x / y for x, y in zip(a, b)]
    q1, q2, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return q2, [q1, q3]


#: glibc's allocator, told to keep the memory a step frees for the next step. By
#: default each temporary of a few MB (one per operation of a 1e6-element loss)
#: is a fresh ``mmap`` whose pages fault in on first touch, which on a shared
#: virtual machine costs one to three times the arithmetic itself and varies
#: from second to second: the timings would measure the kernel's page faults.
#: With these (the largest mmap threshold glibc accepts, 32 MiB, and no
#: trimming) a step of a regression loss makes no page fault once warm. Both
#: lossbook and the peer run under it; ``--system-allocator`` turns it off.
ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}


def _allocator_env_set() -> bool:
    return platform.system() == "Linux" and all(os.environ.get(k) == v for k, v in ALLOCATOR_ENV.items())


def _allocator() -> str:
    """The allocator setting of this run, for the results."""
    if _allocator_env_set():
        return "glibc, keeping freed memory (" + ", ".join(f"{k}={v}" for k, v in ALLOCATOR_ENV.items()) + ")"
    return "the system's default"


def _device(name: str | None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs and few repeats, for development")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--repeats", type=int, help="timed samples of each variant (default 61, quick 5)")
    parser.add_argument("--out", help="JSON file (default benchmarks/results/<device>.json, quick: <device>-quick.json)")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="only these losses")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the accuracy table")
    parser.add_argument("--clock", choices=sorted(CLOCKS), help="wall or cpu (default: cpu on the CPU, wall on a GPU)")
    parser.add_argument("--system-allocator", action="store_true",
                        help="keep the C library's default allocator settings (see ALLOCATOR_ENV)")
    args = parser.parse_args(argv)

    device = _device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    repeats = args.repeats or (5 if args.quick else 61)
    size = "quick" if args.quick else "full"
    block_s = 0.002 if args.quick else 0.005
    clock = args.clock or ("cpu" if device.type == "cpu" else "wall")
    selected = C.cases(args.only)
    out = pathlib.Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
        f"{device.type}{'-quick' if args.quick else ''}.json"
    )

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.time()
    timing, overhead, control = [], [], []
    for case in selected:
        row = time_case(case, size, device, repeats, block_s, memory=True, clock=clock)
        timing.append(row)
        print(f"{case.key:34s} off {row['ratio_off']:6.3f}x (paired {row['ratio_off_paired']:6.3f}x)  on {row['ratio_on']:6.3f}x  "
              f"memory {row['memory_ratio'] if row['memory_ratio'] is None else round(row['memory_ratio'], 3)}",
              flush=True)
    for case in [c for c in selected if c.key in CONTROL]:
        row = time_case(case, size, device, repeats, block_s, memory=False, clock=clock, variants=("peer", "peer again"))
        control.append(row)
        print(f"{case.key:34s} control, peer / peer: {row['ratio']:6.3f}x (paired {row['ratio_paired']:6.3f}x)", flush=True)
    for case in selected:
        row = time_case(case, "batch32", device, repeats, 0.002, memory=False, clock=clock)
        overhead.append(row)
        extra = (row["seconds_min"]["off"] - row["seconds_min"]["peer"]) * 1e6
        print(f"{case.key:34s} 32-row batch: off {row['ratio_off']:6.3f}x ({extra:+.1f} µs/call)", flush=True)
    acc = [] if args.no_accuracy else accuracy.table(args.only)
    for row in acc:
        print(f"{row['key']:34s} accuracy: value {row['value_ordinary']:.2e} / {row['value_extreme']:.2e}, "
              f"grad {row['grad_ordinary']:.2e} / {row['grad_extreme']:.2e}, non-finite {row['nonfinite']}",
              flush=True)

    meta = {
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": peers.TORCHVISION,
        "lossbook": lossbook.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "size": size,
        "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(C.SIZES[size]).items()},
        "fixed_cost_sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(C.SIZES["batch32"]).items()},
        "repeats": repeats,
        "block_seconds": block_s,
        "allocator": _allocator(),
        "clock": {"cpu": "process CPU time (time.process_time)", "wall": "wall time (time.perf_counter, synchronized)"}[clock],
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "seconds": round(time.time() - started, 1),
        "memory_method": {"cuda": "torch.cuda.max_memory_allocated", "cpu": "torch.profiler allocation events"}.get(
            device.type, "n/a"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(
        {"meta": meta, "timing": timing, "control": control, "overhead": overhead, "accuracy": acc}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def _exec_with_allocator_env() -> None:
    """Run this script again with ``ALLOCATOR_ENV`` set (the allocator reads it at start-up)."""
    if platform.system() != "Linux" or "--system-allocator" in sys.argv or _allocator_env_set():
        return
    os.execve(sys.executable, [sys.executable, str(pathlib.Path(__file__).resolve()), *sys.argv[1:]],
              {**os.environ, **ALLOCATOR_ENV})


if __name__ == "__main__":
    _exec_with_allocator_env()
    sys.exit(main())
