"""How long drawing a large input takes: the fast sampler against the old one and torch.randn, in
the same run.

    python bench/draw_speed.py                 # the full table (about 2 minutes on 2 cores)
    python bench/draw_speed.py --quick         # n = 2048 general only
    python bench/draw_speed.py --pool 8192     # whole checks with and without the buffer pool

General matrices are measured in passes: draw time / the time of one ``A.sum()`` over a matrix of
the same shape and dtype, each draw timed right after its own ``A.sum()`` and the ratios' median
reported (the machine's speed drifts by 2x within a minute; adjacent pairs cancel most of it).
"fast" is :mod:`matcalc.draws.large` (numpy's Generator, one per span, on threads); "torch.randn"
is ``torch.randn(n, n, dtype=dtype)`` timed the same way. "first" is the first fast draw of the
process, into memory the process never touched (the kernel must find and zero it; in a VM the host
must back it); later draws reuse that buffer (matcalc/draws/buffers.py) and are the "fast" column.
Structured ones (invertible, spd) against one ``torch.linalg.slogdet`` of the drawn matrix, an
O(n^3) f of the same size. "old" is matcalc.draws.samplers.draw with the fast path switched off
(the sampler every draw used before, and every draw below the threshold still uses).

``--pool N`` times whole checks of x^T A x (``matcalc.catalog.quadratic_form``) at n = N with the
buffer pool (matcalc/draws/buffers.py) and without it (``MATCALC_BUFFER_POOL_MIB=0``): one process
per mode, alternating, each timing ``--checks`` checks after one untimed; medians of wall and CPU
seconds. Separate processes, because in one process a buffer the pool keeps changes what the
kernel must find for the next fresh one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from tabulate import tabulate

import matcalc as mc
from matcalc.draws import large as sampling
from matcalc.draws.samplers import draw
from matcalc.perf.timing import median_time

CPU = torch.device("cpu")


def _draw_fn(structure: str, n: int, dtype: torch.dtype, fast: bool) -> Callable[[], Any]:
    dom = mc.matrix("n", "n", structure=structure)

    def run() -> torch.Tensor:
        saved = sampling.FAST_DRAW_MIN_NUMEL
        sampling.FAST_DRAW_MIN_NUMEL = saved if fast else 2**62
        try:
            return draw(dom, (n, n), torch.Generator().manual_seed(0), dtype=dtype, others={})
        finally:
            sampling.FAST_DRAW_MIN_NUMEL = saved

    return run


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _passes(fn: Callable[[], Any], a: torch.Tensor, pairs: int) -> tuple[float, float]:
    """Median over ``pairs`` of (one ``fn()`` / the ``A.sum()`` pass timed just before it), and
    the median pass time."""
    passes, ratios = [], []
    for _ in range(pairs):
        passes.append(median_time(a.sum, CPU, repeats=3, warmup=0))
        ratios.append(median_time(fn, CPU, repeats=1, warmup=0) / passes[-1])
    return statistics.median(ratios), statistics.median(passes)


def _checks(n: int, count: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of ``count`` checks of quadratic_form at ``n``, after one untimed."""
    from matcalc.catalog import RULES

    out = []
    for seed in range(count + 1):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu, wall = usage.ru_utime + usage.ru_stime, time.perf_counter()
        assert mc.check(RULES["quadratic_form"], sizes={"n": n}, seed=seed).passed
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out.append((time.perf_counter() - wall, usage.ru_utime + usage.ru_stime - cpu))
    return out[1:]


def pool_table(n: int, processes: int, checks: int) -> None:
    """Whole checks with and without the buffer pool, one process per mode, alternating."""
    times: dict[str, list[list[float]]] = {"1024": [], "0": []}
    for _ in range(processes):
        for limit, runs in times.items():
            child = subprocess.run([sys.executable, __file__, "--child", str(n), str(checks)], check=True,
                                   env={**os.environ, "MATCALC_BUFFER_POOL_MIB": limit},
                                   capture_output=True, text=True)
            runs.extend(json.loads(child.stdout))
    wall = {k: statistics.median(r[0] for r in v) for k, v in times.items()}
    cpu = {k: statistics.median(r[1] for r in v) for k, v in times.items()}
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, {cpu_name()}, torch "
          f"{torch.__version__}; quadratic_form at n = {n}, {processes} processes per mode x {checks} checks\n")
    rows = [[name, f"{wall[k]:.3f} s", f"{cpu[k]:.3f} s", " ".join(f"{r[0]:.2f}" for r in times[k])]
            for name, k in (("pool (1024 MiB)", "1024"), ("no pool (0)", "0"))]
    rows.append(["no pool / pool", f"{wall['0'] / wall['1024']:.2f}", f"{cpu['0'] / cpu['1024']:.2f}", ""])
    print(tabulate(rows, headers=["MATCALC_BUFFER_POOL_MIB", "median wall", "median CPU", "every wall (s)"],
                   tablefmt="github", disable_numparse=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=7, help="pairs (pass, draw) per general row")
    ap.add_argument("--pool", type=int, metavar="N", help="time whole checks at n = N with and without the pool")
    ap.add_argument("--processes", type=int, default=3, help="with --pool: processes per mode")
    ap.add_argument("--checks", type=int, default=4, help="with --pool: timed checks per process")
    ap.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_checks(*args.child)))
        return
    if args.pool:
        pool_table(args.pool, args.processes, args.checks)
        return
    rows = []
    general = [(2048, torch.float64)] if args.quick else [(8192, torch.float64), (8192, torch.float32)]
    for n, dtype in general:
        a = torch.ones(n, n, dtype=dtype)
        fast = _draw_fn("general", n, dtype, True)
        first = median_time(fast, CPU, repeats=1, warmup=0)
        first_pass = median_time(a.sum, CPU, repeats=3, warmup=1)
        fast_ratio, one_pass = _passes(fast, a, max(3, args.repeats))
        randn_ratio, _ = _passes(partial(torch.randn, n, n, dtype=dtype), a, 3)
        old = _draw_fn("general", n, dtype, False)
        old_ratio, _ = _passes(old, a, 2)
        del a
        rows.append(["general", n, str(dtype).removeprefix("torch."), "one A.sum()", f"{one_pass * 1e3:.3g} ms",
                     f"{fast_ratio * one_pass * 1e3:.3g} ms", f"{fast_ratio:.1f}", f"{first / first_pass:.1f}",
                     f"{randn_ratio:.1f}", f"{old_ratio * one_pass:.3g} s", f"{old_ratio:.1f}",
                     f"{old_ratio / fast_ratio:.1f}x"])
    structured = [] if args.quick else [(s, n) for n in (2048, 4096) for s in ("invertible", "spd")]
    for structure, n in structured:
        x = _draw_fn(structure, n, torch.float64, True)()
        unit = median_time(partial(torch.linalg.slogdet, x), CPU, repeats=3, warmup=1)
        del x
        times = {}
        for which in ("old", "fast"):
            fn = _draw_fn(structure, n, torch.float64, which == "fast")
            reps = args.repeats if which == "fast" else (2 if n <= 2048 else 1)
            times[which] = median_time(fn, CPU, repeats=reps, warmup=1 if which == "fast" or n <= 2048 else 0)
        rows.append([structure, n, "float64", "one slogdet", f"{unit * 1e3:.3g} ms",
                     f"{times['fast'] * 1e3:.3g} ms", f"{times['fast'] / unit:.2f}", "-", "-",
                     f"{times['old']:.3g} s", f"{times['old'] / unit:.2f}",
                     f"{times['old'] / times['fast']:.1f}x"])
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, {cpu_name()}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}, fast path at >= 2**{int(math.log2(sampling.FAST_DRAW_MIN_NUMEL))} "
          f"entries\n")
    print(tabulate(rows, headers=["structure", "n", "dtype", "unit", "unit time", "fast draw", "fast / unit",
                                  "first fast / unit", "torch.randn / unit", "old draw", "old / unit",
                                  "old / fast"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
