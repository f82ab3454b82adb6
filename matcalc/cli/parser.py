"""The `matcalc` argument parser: every command and option, each with its help.

Example::

    >>> build_parser().parse_args(["report", "--rule", "linear_map", "--no-timing"]).rule
    ['linear_map']
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from matcalc.cli.options import DTYPE_HELP
from matcalc.errors import MatcalcError

FORMATS = ("github", "plain", "markdown", "json")
ORACLES = ("auto", "jacobian", "func", "probe", "taylor")
FORMAT_HELP = ("github or plain: a table fitted to the terminal's width ($COLUMNS); markdown: every "
               "column in full; json: strict JSON (non-finite numbers are null, spelt out in <key>_text)")
EPILOG = ("exit codes: 0 every check as expected (true rules pass, errata fail); 1 a check failed "
          "unexpectedly or an erratum passed; 2 misuse; 3 no failure but some check inconclusive; "
          "130 interrupted; 141 output pipe closed")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise MatcalcError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="matcalc", description="Verified matrix-calculus identities.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    sub.add_parser("list", help="list the catalog, grouped by source and section", epilog=EPILOG)

    chk = sub.add_parser("check", epilog=EPILOG,
                         help="explain one rule (statement, conditions, source, domains) and check it")
    chk.add_argument("name", metavar="NAME",
                     help="a catalog rule name, or package.module:name for a rule in your own module")
    _devices_dtypes(chk)
    _n_seed(chk)
    chk.add_argument("--oracle", default="auto", choices=ORACLES,
                     help="how the true derivative is computed (default: auto, the reference Jacobian "
                          "when it fits the memory budget, else probes)")
    chk.add_argument("--plot", metavar="PATH", default=None,
                     help="write a PNG of the last check: claim, truth and difference heat maps (and the "
                          "Taylor remainder against h); needs matplotlib (pip install 'matcalc[plot]')")

    rep = sub.add_parser("report", epilog=EPILOG,
                         help="check the catalog (or your module), one row per rule/device/dtype")
    _devices_dtypes(rep)
    _n_seed(rep)
    rep.add_argument("--rule", action="append", default=None, metavar="NAME",
                     help="only this rule (repeatable)")
    rep.add_argument("--rules", action="append", default=None, metavar="MODULE",
                     help="check the rules of this importable module instead of the catalog (its RULES "
                          "tuple, else every module-level Rule; repeatable)")
    rep.add_argument("--format", default="github", choices=FORMATS, help=FORMAT_HELP)
    rep.add_argument("--no-timing", action="store_true",
                     help="skip timing closed form against autograd, and drop those columns")
    rep.add_argument("--failures-only", action="store_true",
                     help="show only the rows that are not as expected (failed, inconclusive, or an "
                          "erratum that passed); the summary still counts every check")
    rep.add_argument("--page", metavar="PATH", help="also write the catalog page (markdown) to PATH")
    _quiet(rep)

    large = sub.add_parser("large", epilog=EPILOG,
                           help="verify rules at large n with the probe oracle; time each stage")
    large.add_argument("--rule", action="append", default=None, metavar="NAME",
                       help="only this rule (repeatable; default: linear_map, quadratic_form, norm_gradient)")
    large.add_argument("--n", type=int, default=8192, help="the size of dim n (default: 8192)")
    large.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    large.add_argument("--dtype", default="float64", help=f"{DTYPE_HELP} (default: float64)")
    large.add_argument("--repeats", type=int, default=3,
                       help="timed checks per rule; the table shows medians (default: 3)")
    large.add_argument("--seed", type=int, default=0, help=_SEED_HELP)
    large.add_argument("--format", default="github", choices=FORMATS, help=FORMAT_HELP)
    _quiet(large)

    sweep = sub.add_parser("sweep", epilog=EPILOG,
                           help="false-alarm sweep: true rules x seeds x float64/float32 x oracles")
    sweep.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 per rule (default: 100)")
    sweep.add_argument("--oracle", action="append", default=None, choices=ORACLES[1:],
                       help="only this oracle (repeatable; default: jacobian, func, probe, taylor)")
    sweep.add_argument("--rule", action="append", default=None, metavar="NAME",
                       help="only this rule (repeatable; default: every true catalog rule)")
    sweep.add_argument("--dtype", action="append", default=None, metavar="DTYPE",
                       help="float64, float32, float16, bfloat16 or all (repeatable; default: all, "
                            "i.e. float64 and float32)")
    _quiet(sweep)

    from matcalc.cli.bench_command import add_bench_parser

    add_bench_parser(sub, epilog=EPILOG)
    from matcalc.cli.claim import add_claim_parser

    add_claim_parser(sub)
    return parser


_SEED_HELP = "seed of the input draws, 0 <= seed < 2**63 (default: 0)"


def _devices_dtypes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="all", help="cpu, cuda or all (default: all available)")
    p.add_argument("--dtype", default="all", help=f"{DTYPE_HELP} or all (default: all = float64 and float32)")


def _n_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=None,
                   help="scale every dim to about n, keeping dims distinct (default: small sizes)")
    p.add_argument("--seed", type=int, default=0, help=_SEED_HELP)


def _quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
