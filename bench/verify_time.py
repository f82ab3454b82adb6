"""Time to a verdict at large n: matcalc's oracles and `auto` against a hand-written check and
gradcheck, in passes over the input (one `sum()` over every input, timed in the same run).

    python bench/verify_time.py                  # the issue's three checks, float64
    python bench/verify_time.py --small          # n = 512, for a quick look
    matcalc bench --verify                       # the same table from the command line

Each cell is the median of ``--repeats`` runs of the whole check, drawing included (matcalc draws
its own inputs; the hand-written checks get the same inputs drawn by matcalc's sampler and are
charged that draw too, so every column pays for its inputs once). ``auto`` is always timed, and
must stay within 1.5x of the fastest of matcalc's own oracles. The measuring is
matcalc/perf/verify_time.py; this script only reads its flags and prints the table.
"""

from __future__ import annotations

import argparse

from matcalc.perf.verify_time import ORACLES, SMALL_N, cases, render, title, verify_table


def main() -> None:
    """Parse --small, --repeats and --oracles, then print the title line and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help=f"n = {SMALL_N} for every case")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--oracles", nargs="+", default=list(ORACLES), choices=ORACLES)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be a positive int, got {args.repeats}")
    rows = verify_table(cases([SMALL_N] if args.small else None), args.repeats, args.oracles)
    print(title(args.repeats))
    print(render(rows))


if __name__ == "__main__":
    main()
