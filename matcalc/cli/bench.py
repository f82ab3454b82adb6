"""`matcalc bench`: the benchmark from the command line (table, JSON, plot).

Example::

    >>> from matcalc.bench import BenchRow
    >>> row = BenchRow("linear_map", "closed_form", 64, "cpu", "float32", 2e-6)
    >>> print(render_bench([row], "plain").splitlines()[1].split())
    ['linear_map', '64', 'closed_form', '0.002', 'ms', '-', '-', '-', '-', '-', '-', '-']
"""

from __future__ import annotations

import argparse
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
from matcalc.cli import options, rules
from matcalc.cli.exit import exit_status
from matcalc.cli.progress import Progress
from matcalc.errors import MatcalcError
from matcalc.strictjson import dumps


def add_bench_parser(sub: Any, epilog: str = "") -> None:
    bench = sub.add_parser("bench", help="time closed forms against autograd as n grows", epilog=epilog)
    bench.add_argument("--rule", action="append", default=None, metavar="NAME",
                       help=f"rule to time (repeatable; default: {', '.join(BENCH_RULES)})")
    bench.add_argument("--n", action="append", type=int, default=None,
                       help="a size (repeatable; default: a geometric range per device)")
    bench.add_argument("--method", action="append", default=None,
                       help=f"only this method (repeatable): {', '.join(_methods())}")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    bench.add_argument("--dtype", default="float32", help=f"{options.DTYPE_HELP} (default: float32)")
    bench.add_argument("--budget", default="5", metavar="SECONDS",
                       help="skip a cell predicted to take longer than this (default: 5)")
    bench.add_argument("--repeats", type=int, default=5, help="timed runs per cell; medians are shown "
                                                               "(default: 5)")
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    bench.add_argument("--plot", metavar="PATH", help="write a log-log PNG of time against n")
    bench.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _methods() -> list[str]:
    return list(dict.fromkeys([*JACOBIAN_METHODS, *HESSIAN_METHODS]))


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
    from matcalc.bench import default_ns, methods_for
    from matcalc.report import available_devices

    device = options.devices(args.device, available_devices(), allow_all=False)[0]
    dtype = options.dtypes(args.dtype, allow_all=False)[0]
    ns = [options.positive_int("--n", n) for n in args.n] if args.n else None
    unknown = [m for m in args.method or [] if m not in _methods()]
    if unknown:
        raise MatcalcError(f"unknown method {unknown[0]!r}: use one of {', '.join(_methods())}")
    budget = options.positive_seconds("--budget", args.budget)
    repeats = options.positive_int("--repeats", args.repeats)
    if args.json and args.json != "-":
        options.output_path("--json", args.json)
    if args.plot:
        options.output_path("--plot", args.plot)
        options.plotting_available()
    options.memory_budget_env()
    selected = rules.pick(args.rule or list(BENCH_RULES))

    cells = sum(len(ns or default_ns(r, device)) * len(args.method or methods_for(r)) for r in selected)
    progress = Progress(cells, label="bench", enabled=not args.quiet)
    rows = run_bench(selected, ns=ns, device=device, dtype=dtype, methods=args.method,
                     budget_s=budget, repeats=repeats, progress=progress)
    progress.done()
    if args.json == "-":
        print(dumps([asdict(r) for r in rows], indent=2))
    else:
        print(render_bench(rows))
        print()
        print(verdicts(rows))
        if args.json:
            with open(args.json, "w") as fh:
                fh.write(dumps([asdict(r) for r in rows], indent=2))
    if args.plot:
        plot(rows, args.plot)
    return exit_status([])
