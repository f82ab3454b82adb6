"""The CPU fast forms against their alternatives at one size, in the same run (ratios of medians).

    python bench/fast_forms.py              # n = 8192, float64 (about 2 minutes on 2 cores)
    python bench/fast_forms.py --n 4096 --dtype float32

"x floor" is the median over the memory floor: the bytes the form must read and write at the
copy bandwidth measured at that working-set size (matcalc.perf.scaling.copy_bandwidth).
"""

from __future__ import annotations

import argparse
import datetime
import platform
from collections.abc import Callable
from typing import Any

import torch
from tabulate import tabulate

from matcalc.draws.parallel import tile_walk
from matcalc.fast import forms as fast
from matcalc.perf.scaling import copy_bandwidth
from matcalc.perf.timing import median_time

CPU = torch.device("cpu")


def _old_symmetric_sum(a: torch.Tensor) -> torch.Tensor:
    """fast.symmetric_sum before: 256 x 256 tiles on one thread, output from torch's allocator."""
    return tile_walk(a, torch.empty_like(a), torch.add, 256)


def _old_rank_one(d: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    out = torch.outer(u, v)
    out.diagonal().add_(d)
    return out


def _backward(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor | None:
    w = x.detach().requires_grad_(True)
    (w @ a @ w).backward()
    return w.grad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    n, dt = args.n, getattr(torch, args.dtype)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g, dtype=dt)
    x, d, u, v = (torch.randn(n, generator=g, dtype=dt) for _ in range(4))
    size = dt.itemsize if hasattr(dt, "itemsize") else torch.empty((), dtype=dt).element_size()
    groups: list[tuple[str, int, list[tuple[str, Callable[[], Any]]]]] = [
        ("xᵀ(A + Aᵀ) (quadratic_form)", (n * n + 2 * n) * size, [
            ("fast.quadratic_gradient (now: 32-row blocks over torch's threads, one pass)",
             lambda: fast.quadratic_gradient(x, a)),
            ("addmv(x @ A, A, x) (two passes)", lambda: torch.addmv(x @ a, a, x)),
            ("autograd backward", lambda: _backward(x, a)),
        ]),
        ("A + Aᵀ (hessian_quadratic_form)", 2 * n * n * size, [
            ("fast.symmetric_sum (now: 128-tiles over torch's threads, huge-page output)",
             lambda: fast.symmetric_sum(a)),
            ("before: 256 tiles, torch output", lambda: _old_symmetric_sum(a)),
            ("A + A.T", lambda: a + a.T),
        ]),
        ("diag(d) + u vᵀ (hessian_norm, hessian_logsumexp)", (n * n + 3 * n) * size, [
            ("fast.rank_one_hessian (now: huge-page output)", lambda: fast.rank_one_hessian(d, u, v)),
            ("before: torch.outer, then the diagonal", lambda: _old_rank_one(d, u, v)),
        ]),
    ]
    one_pass = median_time(lambda: a.sum(), CPU, repeats=7, warmup=2)
    rows = []
    for title, nbytes, cands in groups:
        floor = nbytes / copy_bandwidth(CPU, dt, max(nbytes // 2, 2**20))
        times = [median_time(fn, CPU, repeats=args.repeats, warmup=1) for _, fn in cands]
        for (name, _), t in zip(cands, times, strict=True):
            rows.append([title, name, f"{t * 1e3:.3g} ms", f"{t / times[0]:.2f}", f"{t / one_pass:.1f}",
                         f"{t / floor:.2f}"])
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}, n = {n}, {args.dtype}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, Python {platform.python_version()}; "
          f"one A.sum() pass {one_pass * 1e3:.3g} ms\n")
    print(tabulate(rows, headers=["closed form", "method", "median", "/ first row", "passes (A.sum())", "x floor"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
