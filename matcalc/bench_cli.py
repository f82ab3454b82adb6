"""`matcalc bench`: placeholder wiring; the benchmark lives in matcalc.bench."""

from __future__ import annotations

import argparse


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="time closed forms against autograd as n grows")
    bench.add_argument("--rule", action="append", default=None, metavar="NAME")


def cmd_bench(args: argparse.Namespace) -> int:
    raise NotImplementedError
