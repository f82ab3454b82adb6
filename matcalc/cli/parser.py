"""The `matcalc` argument parser: every command and option, each with its help. Options that
several commands share are declared once, in :mod:`matcalc.cli.flags`.

Example::

    >>> build_parser().parse_args(["report", "--rule", "linear_map", "--no-timing"]).rule
    ['linear_map']
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from matcalc.cli import flags, options
from matcalc.cli.exit import EPILOG
from matcalc.errors import MatcalcError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise MatcalcError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every `matcalc` command; a bad command line raises MatcalcError."""
    parser = _Parser(prog="matcalc", description="Verified matrix-calculus identities.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    flags.command(sub, "list", "list the catalog, grouped by source and section")

    chk = flags.command(sub, "check",
                        "explain one rule (statement, conditions, source, domains) and check it")
    chk.add_argument("name", metavar="NAME",
                     help="a catalog rule name, or package.module:name for a rule in your own module")
    flags.add_settings(chk, every=True)
    flags.add_oracle(chk)
    flags.add_check_plot(chk)

    rep = flags.command(sub, "report", "check the catalog (or your module), one row per rule/device/dtype")
    flags.add_settings(rep, every=True)
    flags.add_rule(rep)
    rep.add_argument("--rules", action="append", default=None, metavar="MODULE",
                     help="check the rules of this importable module instead of the catalog (its RULES "
                          "tuple, else every module-level Rule; repeatable)")
    flags.add_format(rep)
    rep.add_argument("--no-timing", action="store_true",
                     help="skip timing closed form against autograd, and drop those columns")
    rep.add_argument("--failures-only", action="store_true",
                     help="show only the rows that are not as expected (failed, inconclusive, or an "
                          "erratum that passed); the summary still counts every check")
    rep.add_argument("--page", metavar="PATH", help="also write the catalog page (markdown) to PATH")
    flags.add_quiet(rep)

    large = flags.command(sub, "large", "verify rules at large n with the probe oracle; time each stage")
    flags.add_rule(large, default="linear_map, quadratic_form, norm_gradient")
    large.add_argument("--n", type=int, default=8192, help="the size of dim n (default: 8192)")
    flags.add_device(large)
    flags.add_dtype(large)
    large.add_argument("--repeats", type=int, default=3,
                       help="timed checks per rule; the table shows medians (default: 3)")
    flags.add_seed(large)
    flags.add_format(large)
    flags.add_quiet(large)

    sweep = flags.command(sub, "sweep", "false-alarm sweep: true rules x seeds x float64/float32 x oracles")
    sweep.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 per rule (default: 100)")
    sweep.add_argument("--oracle", action="append", default=None, choices=flags.ORACLES[1:],
                       help=f"only this oracle (repeatable; default: {', '.join(flags.ORACLES[1:])})")
    flags.add_rule(sweep, default="every true catalog rule")
    sweep.add_argument("--dtype", action="append", default=None, metavar="DTYPE",
                       help=f"{options.DTYPE_HELP} or all (repeatable; default: all, i.e. float64 and "
                            "float32)")
    flags.add_quiet(sweep)

    from matcalc.cli.bench_command import add_bench_parser
    from matcalc.cli.claim import add_claim_parser

    add_bench_parser(sub)
    add_claim_parser(sub)
    return parser
