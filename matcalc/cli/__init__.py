"""The `matcalc` command: list, check, report, large, sweep and bench.

    matcalc list
    matcalc check quadratic_form --n 64
    matcalc check mypkg.rules:my_rule          # a Rule from your own importable module
    matcalc report --device cpu --dtype float64 --failures-only
    matcalc report --rules mypkg.rules         # every Rule of your module

Exit codes, the same for every command (matcalc.cli.exit):

    0    every check as expected (true rules pass, errata fail)
    1    some check failed unexpectedly, or an erratum passed
    2    misuse: one line ``matcalc: error: ...`` on stderr that names the fix, no traceback
    3    no unexpected outcome, but some check was inconclusive
    130  interrupted (Ctrl-C), with one line on stderr
    141  stdout closed early (``matcalc list | head -1``): quiet, as Unix tools are

Internal: not part of the public contract as Python; the command line is the interface, and
``main`` the console script's entry point. Options that several commands share are declared once
(matcalc.cli.flags).

Every option is validated before any work starts. Progress goes to stderr with a k/N count
(``--quiet`` silences it). This module imports nothing heavy, so that Ctrl-C while torch is being
imported still ends in one line.

Example::

    >>> main(["check", "no_such_rule"])
    2
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from matcalc.cli.exit import BROKEN_PIPE, INTERRUPTED, MISUSE
from matcalc.errors import MatcalcError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `matcalc` command and return its exit code; never raises (but SystemExit for
    ``--help``)."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
        return code
    except MatcalcError as exc:
        print(f"matcalc: error: {exc}", file=sys.stderr)
        return MISUSE
    except KeyboardInterrupt:
        print("\nmatcalc: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    from matcalc.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    if args.command == "bench":
        from matcalc.cli.bench_command import cmd_bench

        return cmd_bench(args)
    if args.command == "claim":
        from matcalc.cli.claim import cmd_claim

        return cmd_claim(args)
    from matcalc.cli import commands

    run = {"list": commands.cmd_list, "check": commands.cmd_check, "report": commands.cmd_report,
           "large": commands.cmd_large, "sweep": commands.cmd_sweep}[args.command]
    return run(args)


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
