"""The `matcalc` command: list, check, report (and bench).

    matcalc list
    matcalc check quadratic_form --n 64
    matcalc report --device cpu --dtype float64 --format github

Exit codes: 0 all as expected, 1 a check failed (or an erratum passed), 2 misuse (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from matcalc.catalog import RULES, group_of
from matcalc.errors import MatcalcError
from matcalc.report import FORMATS, available_devices, render, run_report, summary

DTYPES = ("float64", "float32")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise MatcalcError(f"{message} (see `matcalc {self.prog.split()[-1]} --help`)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="matcalc", description="Verified matrix-calculus identities.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the catalog, grouped by source and section")

    chk = sub.add_parser("check", help="check one rule and explain the result")
    chk.add_argument("name")
    _common(chk)
    chk.add_argument("--oracle", default="auto",
                     choices=("auto", "jacobian", "func", "probe", "taylor"))

    rep = sub.add_parser("report", help="check the catalog, one table row per rule/device/dtype")
    _common(rep)
    rep.add_argument("--rule", action="append", default=None, metavar="NAME",
                     help="only this rule (repeatable)")
    rep.add_argument("--format", default="github", choices=tuple(FORMATS))
    rep.add_argument("--no-timing", action="store_true", help="skip the timing columns")
    rep.add_argument("--page", metavar="PATH", help="also write the catalog page (markdown)")
    rep.add_argument("--quiet", action="store_true", help="no progress on stderr")

    large = sub.add_parser("large", help="verify rules at large n with the probe oracle; time each stage")
    large.add_argument("--rule", action="append", default=None, metavar="NAME")
    large.add_argument("--n", type=int, default=8192)
    large.add_argument("--device", default="cpu")
    large.add_argument("--dtype", default="float64")
    large.add_argument("--repeats", type=int, default=3)
    large.add_argument("--format", default="github", choices=tuple(FORMATS))

    sweep = sub.add_parser("sweep", help="false-alarm sweep: true rules x seeds x dtypes x oracles")
    sweep.add_argument("--seeds", type=int, default=100)
    sweep.add_argument("--oracle", action="append", default=None,
                       choices=("jacobian", "func", "probe", "taylor"))
    sweep.add_argument("--rule", action="append", default=None, metavar="NAME")

    from matcalc.bench_cli import add_bench_parser
    add_bench_parser(sub)
    from matcalc.claim_cli import add_claim_parser
    add_claim_parser(sub)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="all", help="cpu, cuda or all (default: all available)")
    p.add_argument("--dtype", default="all", help="float64, float32 or all (default: all)")
    p.add_argument("--n", type=int, default=None, help="scale every dim to about n")
    p.add_argument("--seed", type=int, default=0)


def _devices(value: str) -> list[str]:
    if value == "all":
        return available_devices()
    if value not in ("cpu", "cuda"):
        raise MatcalcError(f"unknown device {value!r}: use cpu, cuda or all")
    if value == "cuda" and "cuda" not in available_devices():
        raise MatcalcError("--device cuda asked for, but this machine has no CUDA GPU: "
                           "use --device cpu")
    return [value]


def _dtypes(value: str) -> list[str]:
    if value == "all":
        return list(DTYPES)
    if value not in ("float64", "float32", "float16", "bfloat16"):
        raise MatcalcError(f"unknown dtype {value!r}: use float64, float32 or all")
    return [value]


def _rules(names: Sequence[str] | None) -> list:
    if not names:
        return list(RULES.values())
    missing = [n for n in names if n not in RULES]
    if missing:
        raise MatcalcError(f"no rule named {missing[0]!r} in the catalog: `matcalc list` shows them")
    return [RULES[n] for n in names]


def _n(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise MatcalcError(f"--n must be a positive int, got {value}")
    return value


def cmd_list() -> int:
    from tabulate import tabulate
    groups: dict[str, list] = {}
    for rule in RULES.values():
        groups.setdefault(group_of(rule), []).append(rule)
    for group, rules in groups.items():
        print(f"\n{group} ({len(rules)})")
        print(tabulate([[r.name, r.latex, (r.flaw if r.refuted else r.conditions) or "-"] for r in rules],
                       headers=("rule", "statement", "conditions / flaw"), tablefmt="simple"))
    verified = sum(not r.refuted for r in RULES.values())
    print(f"\n{len(RULES)} rules: {verified} verified identities, {len(RULES) - verified} errata")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from matcalc.check import check
    from matcalc.sizes import scaled_sizes
    rule = _rules([args.name])[0]
    n = _n(args.n)
    ok = True
    for dev in _devices(args.device):
        for dt in _dtypes(args.dtype):
            sizes = scaled_sizes(rule.dims(), n) if n is not None else None
            res = check(rule, device=dev, dtype=dt, sizes=sizes, seed=args.seed,
                        oracle=args.oracle)
            print(res)
            ok &= res.as_expected
    return 0 if ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    rules = _rules(args.rule)
    devices, dtypes, n = _devices(args.device), _dtypes(args.dtype), _n(args.n)

    show = not args.quiet and sys.stderr.isatty()

    def progress(msg: str) -> None:
        if show:
            print(f"\r\033[Kchecking {msg}", end="", file=sys.stderr, flush=True)

    rows = run_report(rules, devices=devices, dtypes=dtypes, n=n, seed=args.seed,
                      timing=not args.no_timing, progress=progress)
    if show:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    print(render(rows, args.format))
    bad = [r for r in rows if not r.ok]
    if args.format != "json":
        print(f"\n{summary(rows)}")
        for r in bad:
            print(f"\n{r.detail or r.rule + ': erratum passed'}")
    if args.page:
        from matcalc.page import render_page
        with open(args.page, "w") as fh:
            fh.write(render_page(rows))
    return 1 if bad else 0


def cmd_large(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from matcalc.large import LARGE_RULES, probe_breakdown
    rules = _rules(args.rule or list(LARGE_RULES))
    n, device, dtype = _n(args.n), _devices(args.device)[0], _dtypes(args.dtype)[0]
    rows = [probe_breakdown(rule, n or 8192, device=device, dtype=dtype, repeats=max(args.repeats, 1))
            for rule in rules]
    if args.format == "json":
        import json
        print(json.dumps(rows, indent=2))
    else:
        cols = ("rule", "n", "device", "dtype", "passed", "draw_s", "f_s", "claim_s", "oracle_s",
                "one_pass_s", "passes")
        table = [[f"{r[c]:.4g}" if isinstance(r[c], float) else r[c] for c in cols] for r in rows]
        print(tabulate(table, headers=[*cols[:5], "draw (s)", "f (s)", "claim (s)", "oracle (s)",
                                       "one pass (s)", "passes beyond draw"],
                       tablefmt=FORMATS[args.format], disable_numparse=True))
    return 0 if all(r["passed"] for r in rows) else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    from matcalc.sweep import render_sweep, sweep
    if args.seeds < 1:
        raise MatcalcError(f"--seeds must be a positive int, got {args.seeds}")
    rules = [r for r in _rules(args.rule) if not r.refuted]
    oracles = args.oracle or ["jacobian", "func", "probe", "taylor"]
    counts = sweep(rules, seeds=range(args.seeds), oracles=oracles, dtypes=list(DTYPES))
    print(render_sweep(counts))
    return 0 if all(c.failures == 0 for c in counts) else 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "list":
            return cmd_list()
        if args.command == "check":
            return cmd_check(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "large":
            return cmd_large(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "claim":
            from matcalc.claim_cli import cmd_claim
            return cmd_claim(args)
        from matcalc.bench_cli import cmd_bench
        return cmd_bench(args)
    except MatcalcError as exc:
        print(f"matcalc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("matcalc: interrupted", file=sys.stderr)
        return 130
