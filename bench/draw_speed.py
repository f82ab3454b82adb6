"""How long drawing a large input takes, old sampler against the fast one, in the same run.

    python bench/draw_speed.py                 # the full table (about 2 minutes on 2 cores)
    python bench/draw_speed.py --quick         # n = 2048 / 4096 general only

General matrices are measured in passes: draw time / the time of one ``A.sum()`` over a matrix of
the same shape and dtype, each draw timed right after its own ``A.sum()`` and the ratios' median
reported (the machine's speed drifts by 2x within a minute; adjacent pairs cancel most of it).
"first" is the first fast draw of the process, into memory the process never touched (the kernel
must find and zero it; in a VM the host must back it); later draws reuse that buffer
(matcalc/draws/buffers.py) and are the "fast" column. Structured ones (invertible, spd) against one ``torch.linalg.slogdet``
of the drawn matrix, an O(n^3) f of the same size. "old" is matcalc.model.domains.draw with the fast path
switched off (the sampler every draw used before, and every draw below the threshold still uses).
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import statistics
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from tabulate import tabulate

import matcalc as mc
from matcalc.draws import large as sampling
from matcalc.draws import philox
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    general = [(2048, torch.float64)] if args.quick else [(8192, torch.float64), (8192, torch.float32)]
    for n, dtype in general:
        a = torch.ones(n, n, dtype=dtype)
        fast = _draw_fn("general", n, dtype, True)
        first = median_time(fast, CPU, repeats=1, warmup=0)
        first_pass = median_time(a.sum, CPU, repeats=3, warmup=1)
        passes, ratios = [], []
        for _ in range(max(5, args.repeats)):
            passes.append(median_time(a.sum, CPU, repeats=3, warmup=0))
            ratios.append(median_time(fast, CPU, repeats=1, warmup=0) / passes[-1])
        one_pass = statistics.median(passes)
        old = _draw_fn("general", n, dtype, False)
        old_time = median_time(old, CPU, repeats=2, warmup=1)
        old_ratio = old_time / median_time(a.sum, CPU, repeats=3, warmup=0)
        del a
        fast_ratio = statistics.median(ratios)
        rows.append(["general", n, str(dtype).removeprefix("torch."), "one A.sum()", f"{one_pass * 1e3:.3g} ms",
                     f"{old_time:.3g} s", f"{old_ratio:.1f}",
                     f"{fast_ratio * one_pass * 1e3:.3g} ms", f"{fast_ratio:.1f}",
                     f"{first / first_pass:.1f}", f"{old_ratio / fast_ratio:.1f}x"])
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
                     f"{times['old']:.3g} s", f"{times['old'] / unit:.2f}",
                     f"{times['fast'] * 1e3:.3g} ms", f"{times['fast'] / unit:.2f}", "-",
                     f"{times['old'] / times['fast']:.1f}x"])
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, {cpu_name()}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, Python {platform.python_version()}, "
          f"fast path at >= 2**{int(math.log2(sampling.FAST_DRAW_MIN_NUMEL))} entries, "
          f"Philox {'compiled' if philox.COMPILED else 'numpy reference (matcalc._philox not built)'}\n")
    print(tabulate(rows, headers=["structure", "n", "dtype", "unit", "unit time", "old draw", "old / unit",
                                  "fast draw", "fast / unit", "first fast / unit", "old / fast"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
