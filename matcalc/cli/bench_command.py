"""`matcalc bench`: the benchmark from the command line (table, JSON, plot).

Example::

    >>> from matcalc.perf.scaling import BenchRow
    >>> row = BenchRow("linear_map", "closed_form", 64, "cpu", "float32", 2e-6)
    >>> print(render_bench([row], "plain").splitlines()[1].split())
    ['linear_map', '64', 'closed_form', '0.002', 'ms', '-', '-', '-', '-', '-', '-', '-']
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from tabulate import tabulate

from matcalc.cli import flags, options, rules
from matcalc.cli.exit import exit_status
from matcalc.cli.progress import Progress
from matcalc.errors import MatcalcError
from matcalc.perf.engine_cost import ENGINE_NS, ENGINE_SMALL_NS
from matcalc.perf.scaling import (
    BENCH_RULES,
    HESSIAN_METHODS,
    JACOBIAN_METHODS,
    BenchRow,
    fastest_autograd,
    run_bench,
)
from matcalc.perf.verify_time import DEFAULT_ORACLES, SMALL_N
from matcalc.perf.verify_time import ORACLES as VERIFY_ORACLES
from matcalc.report.strictjson import dumps

REPEATS, VERIFY_REPEATS = 5, 3
# Options of the closed-form benchmark that --verify does not take (it times its own checks, float64, CPU).
NOT_WITH_VERIFY = ("rule", "method", "device", "dtype", "budget", "plot")


def add_bench_parser(sub: Any) -> None:
    """Add `matcalc bench` (and its ``--verify`` table) to the subcommands ``sub``.

    >>> from matcalc.cli.parser import build_parser
    >>> args = build_parser().parse_args(["bench", "--verify", "--small", "--oracles", "auto", "taylor"])
    >>> args.verify, args.small, args.oracles
    (True, True, ['auto', 'taylor'])
    """
    bench = flags.command(sub, "bench", "time closed forms against autograd as n grows; --verify: time "
                                        "whole checks against hand-written ones")
    flags.add_rule(bench, default=", ".join(BENCH_RULES))
    bench.add_argument("--n", action="append", type=int, default=None,
                       help="a size (repeatable; default: a geometric range per device; with --verify: "
                            "every check at this n instead of its own)")
    bench.add_argument("--method", action="append", default=None,
                       help=f"only this method (repeatable): {', '.join(_methods())}")
    # None, not the default itself: --verify refuses these options when they are given.
    flags.add_device(bench, default=None)
    flags.add_dtype(bench, default=None, shown="float32")
    bench.add_argument("--budget", default=None, metavar="SECONDS",
                       help="skip a cell predicted to take longer than this (default: 5)")
    bench.add_argument("--repeats", type=int, default=None,
                       help=f"timed runs per cell; medians are shown (default: {REPEATS}; with --verify: "
                            f"{VERIFY_REPEATS})")
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-' for stdout)")
    bench.add_argument("--plot", metavar="PATH", help="write a log-log PNG of time against n")
    flags.add_quiet(bench)
    verify = bench.add_argument_group(
        "time to a verdict (--verify)",
        "the table 'time to a verdict, in passes over the inputs': whole checks, drawing included, of "
        "x^T A x (n=8192), D(Ax) and log|det X| (n=4096), float64, CPU, for matcalc's auto and own "
        "oracles against jacrev + assert_close, gradcheck(fast_mode=True) and, when jax is "
        "importable, JAX's check_grads")
    verify.add_argument("--verify", action="store_true",
                        help="print the time-to-a-verdict table instead of the closed-form benchmark")
    verify.add_argument("--small", action="store_true",
                        help=f"with --verify: n = {SMALL_N} for every check, for a quick look")
    verify.add_argument("--oracles", nargs="+", default=None, choices=VERIFY_ORACLES, metavar="ORACLE",
                        help=f"with --verify: matcalc's oracles to time, of {', '.join(VERIFY_ORACLES)} "
                             f"(auto is always timed; default: {' '.join(DEFAULT_ORACLES)})")
    verify.add_argument("--engine-cost", action="store_true",
                        help="with --verify: the engine's own cost instead: check() of x @ A @ x (claim "
                             "x @ (A.T + A)) in float64 and float32 against jacrev + assert_close on "
                             "inputs drawn beforehand and drawing its own, the draw and matcalc's own "
                             "cost in passes over the inputs, at n = "
                             f"{' '.join(map(str, ENGINE_NS))} (--small: "
                             f"{' '.join(map(str, ENGINE_SMALL_NS))}; --n: those)")
    verify.add_argument("--cpu-time", action="store_true",
                        help="with --engine-cost: time in CPU seconds of this process (all threads), "
                             "which other processes on a loaded machine do not inflate, not wall seconds")


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
    from matcalc.report.plot import require_plotting

    plt = require_plotting()
    import matplotlib.ticker
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
    """Run `matcalc bench` (or, with ``--verify``, :func:`cmd_verify`) and return its exit code.

    >>> from matcalc.cli.parser import build_parser
    >>> cmd_bench(build_parser().parse_args(["bench", "--small"]))
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: --small goes with --verify: add --verify, or drop --small
    """
    if args.verify:
        return cmd_verify(args)
    for flag in ("small", "oracles", "engine_cost", "cpu_time"):
        if getattr(args, flag):
            name = flag.replace("_", "-")
            raise MatcalcError(f"--{name} goes with --verify: add --verify, or drop --{name}")
    from matcalc.perf.scaling import default_ns, methods_for
    from matcalc.report.table import available_devices

    device = options.devices(args.device or "cpu", available_devices(), allow_all=False)[0]
    dtype = options.dtypes(args.dtype or "float32", allow_all=False)[0]
    ns = [options.positive_int("--n", n) for n in args.n] if args.n else None
    unknown = [m for m in args.method or [] if m not in _methods()]
    if unknown:
        raise MatcalcError(f"unknown method {unknown[0]!r}: use one of {', '.join(_methods())}")
    budget = options.positive_seconds("--budget", args.budget if args.budget is not None else "5")
    repeats = options.positive_int("--repeats", args.repeats if args.repeats is not None else REPEATS)
    _json_target(args.json)
    if args.plot:
        from matcalc.report.plot import require_plotting

        options.output_path("--plot", args.plot)
        require_plotting()
    options.memory_budget_env()
    selected = rules.pick(args.rule or list(BENCH_RULES))

    cells = sum(len(ns or default_ns(r, device)) * len(args.method or methods_for(r)) for r in selected)
    with Progress(cells, label="bench", enabled=not args.quiet) as progress:
        rows = run_bench(selected, ns=ns, device=device, dtype=dtype, methods=args.method,
                         budget_s=budget, repeats=repeats, progress=progress)
    if args.json != "-":
        print(render_bench(rows))
        print()
        print(verdicts(rows))
    _write_json(rows, args.json)
    if args.plot:
        plot(rows, args.plot)
    return exit_status([])


def cmd_verify(args: argparse.Namespace) -> int:
    """`matcalc bench --verify`: print the time-to-a-verdict table (matcalc.verify_time), or its rows
    as JSON with ``--json``; every option is checked before the first check runs.

    >>> from matcalc.cli.parser import build_parser
    >>> cmd_verify(build_parser().parse_args(["bench", "--verify", "--repeats", "0"]))
    Traceback (most recent call last):
    ...
    matcalc.errors.MatcalcError: --repeats must be a positive int, got 0
    """
    from matcalc.perf import verify_time

    given = [f"--{name}" for name in NOT_WITH_VERIFY if getattr(args, name) is not None]
    if given:
        raise MatcalcError(f"{given[0]} does not go with --verify (it times its own three checks, float64, "
                           f"CPU): drop {given[0]}")
    repeats = options.positive_int("--repeats", args.repeats if args.repeats is not None else VERIFY_REPEATS)
    if args.small and args.n:
        raise MatcalcError("--small and --n both set the size: give one of them")
    ns = [options.positive_int("--n", n) for n in args.n] if args.n else None
    if args.engine_cost:
        return _engine_cost(args, ns, repeats)
    if args.cpu_time:
        raise MatcalcError("--cpu-time goes with --engine-cost: add --engine-cost, or drop --cpu-time")
    if args.small:
        ns = [verify_time.SMALL_N]
    oracles = verify_time.own_oracles(args.oracles or verify_time.DEFAULT_ORACLES)
    _json_target(args.json)
    options.memory_budget_env()

    checks = verify_time.cases(ns)
    with Progress(len(checks), label="bench --verify", enabled=not args.quiet) as progress:
        rows = verify_time.verify_table(checks, repeats, oracles, progress=progress)
    if args.json != "-":
        print(verify_time.title(repeats))
        print(verify_time.render(rows))
    _write_json(rows, args.json)
    return exit_status([])


def _json_target(path: str | None) -> None:
    """``--json PATH`` must be writable before the run starts; ``-`` is stdout."""
    if path and path != "-":
        options.output_path("--json", path)


def _write_json(rows: Sequence[Any], path: str | None) -> None:
    """The rows as JSON to ``path``, or to stdout for ``-``; nothing without ``--json``."""
    if not path:
        return
    text = dumps([asdict(r) for r in rows], indent=2)
    if path == "-":
        print(text)
        return
    with open(path, "w") as fh:
        fh.write(text)


def _engine_cost(args: argparse.Namespace, ns: list[int] | None, repeats: int) -> int:
    """`matcalc bench --verify --engine-cost`: the engine-cost table and the targets it meets (or
    its rows as JSON with ``--json``)."""
    from matcalc.perf import engine_cost

    if args.oracles:
        raise MatcalcError("--oracles does not go with --engine-cost (it times oracle='auto'): "
                           "drop --oracles")
    _json_target(args.json)
    options.memory_budget_env()
    sizes = ns or list(ENGINE_SMALL_NS if args.small else ENGINE_NS)
    with Progress(len(sizes), label="bench --verify --engine-cost", enabled=not args.quiet) as progress:
        rows = engine_cost.engine_table(sizes, repeats, progress=progress, cpu_time=args.cpu_time)
    if args.json != "-":
        print(engine_cost.engine_title(repeats, args.cpu_time))
        print(engine_cost.render_engine(rows))
        print()
        print(engine_cost.engine_verdicts(rows))
    _write_json(rows, args.json)
    return exit_status([])
