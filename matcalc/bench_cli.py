"""`matcalc bench`: the benchmark from the command line (table, JSON, plot)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from tabulate import tabulate

from matcalc.bench import (
    BENCH_RULES,
    HESSIAN_METHODS,
    JACOBIAN_METHODS,
    BenchRow,
    fastest_autograd,
    run_bench,
)
from matcalc.errors import MatcalcError


def add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="time closed forms against autograd as n grows")
    bench.add_argument("--rule", action="append", default=None, metavar="NAME",
                       help=f"rule to time (repeatable; default: {', '.join(BENCH_RULES)})")
    bench.add_argument("--n", action="append", type=int, default=None,
                       help="a size (repeatable; default: a geometric range per device)")
    bench.add_argument("--method", action="append", default=None, help="only this method (repeatable)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda")
    bench.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    bench.add_argument("--budget", type=float, default=5.0, help="seconds one cell may take (predicted)")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    bench.add_argument("--plot", metavar="PATH", help="write a log-log PNG of time against n")
    bench.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"


def render_bench(rows: list[BenchRow], fmt: str = "github") -> str:
    table = []
    for r in rows:
        table.append([r.rule, r.n, r.method, _fmt_s(r.median_s) if not r.skipped else f"skipped: {r.skipped}",
                      "-" if r.speedup is None else f"{r.speedup:.3g}x",
                      "-" if r.bytes_moved is None else f"{r.bytes_moved / 2**20:.3g} MiB",
                      _fmt_s(r.bandwidth_floor_s),
                      "-" if r.flops is None else f"{r.flops / 1e9:.3g} GFLOP",
                      _fmt_s(r.compute_floor_s), r.bound or "-",
                      "-" if r.x_floor is None else f"{r.x_floor:.2f}"])
    return tabulate(table, headers=["rule", "n", "method", "median", "vs closed form", "bytes moved",
                                    "bandwidth floor", "flops", "compute floor", "bound", "x floor"],
                    tablefmt=fmt, disable_numparse=True)


def verdicts(rows: list[BenchRow]) -> str:
    """One line per rule at the largest n where autograd still ran: is the closed form at least
    as fast? Larger sizes where every autograd method was over budget are named too."""
    lines = []
    for rule in dict.fromkeys(r.rule for r in rows):
        timed = [r for r in rows if r.rule == rule and r.median_s is not None]
        both = sorted({r.n for r in timed if fastest_autograd(rows, rule, r.n) is not None
                       and any(c.n == r.n and c.method in ("closed_form", "fast") for c in timed)})
        if not both:
            continue
        n = both[-1]
        best = fastest_autograd(rows, rule, n)
        closed = min((r for r in timed if r.n == n and r.method in ("closed_form", "fast")),
                     key=lambda r: r.median_s or 0.0)
        assert best is not None and best.median_s is not None and closed.median_s is not None
        verdict = "closed form as fast or faster" if closed.median_s <= best.median_s else "AUTOGRAD FASTER"
        which = "compute" if closed.bound == "compute" else "bandwidth"
        floor = "" if closed.x_floor is None else f", {closed.x_floor:.2f}x the {which} floor"
        beyond = sorted({r.n for r in timed if r.n > n and r.method in ("closed_form", "fast")})
        more = f"; closed form alone up to n={beyond[-1]} (autograd over budget)" if beyond else ""
        ratio = best.median_s / closed.median_s
        lines.append(f"{rule} n={n}: {closed.method} {_fmt_s(closed.median_s)} vs {best.method} "
                     f"{_fmt_s(best.median_s)} ({ratio:.3g}x): {verdict}{floor}{more}")
    return "\n".join(lines)


def plot(rows: list[BenchRow], path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError as exc:
        raise MatcalcError("--plot needs matplotlib: pip install 'matcalc[plot]'") from exc
    rules = list(dict.fromkeys(r.rule for r in rows))
    cols = min(3, len(rules))
    nrows = (len(rules) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.8 * nrows), squeeze=False)
    for ax, rule in zip(axes.flat, rules, strict=False):
        for method in dict.fromkeys(r.method for r in rows if r.rule == rule):
            pts = [(r.n, r.median_s) for r in rows if r.rule == rule and r.method == method and r.median_s]
            if pts:
                ax.loglog(*zip(*pts, strict=True), marker="o", label=method)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(rule)
        ax.set_xlabel("n")
        ax.set_ylabel("median seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(rules):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def cmd_bench(args: argparse.Namespace) -> int:
    from matcalc.cli import _devices, _dtypes, _rules
    rules = _rules(args.rule or list(BENCH_RULES))
    device = _devices(args.device)[0]
    dtype = _dtypes(args.dtype)[0]
    if args.n and any(n < 1 for n in args.n):
        raise MatcalcError("--n must be positive ints")
    known = set(JACOBIAN_METHODS) | set(HESSIAN_METHODS)
    unknown = [m for m in args.method or [] if m not in known]
    if unknown:
        raise MatcalcError(f"unknown method {unknown[0]!r}: use one of {', '.join(sorted(known))}")
    if args.budget <= 0 or args.repeats < 1:
        raise MatcalcError("--budget must be > 0 and --repeats >= 1")
    show = not args.quiet

    def progress(msg: str) -> None:
        if show:
            print(f"bench: {msg}", file=sys.stderr, flush=True)

    rows = run_bench(rules, ns=args.n, device=device, dtype=dtype, methods=args.method,
                     budget_s=args.budget, repeats=args.repeats, progress=progress)
    if args.json == "-":
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(render_bench(rows))
        print()
        print(verdicts(rows))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump([asdict(r) for r in rows], fh, indent=2)
    if args.plot:
        plot(rows, args.plot)
    return 0
