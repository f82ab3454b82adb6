"""The adversary's long profile: draw many claims, check them, and count the wrong verdicts.

    python bench/adversary.py --examples 2000                    # every kind, the long regime
    python bench/adversary.py --examples 300 --kind hessian backward --seed 3
    python bench/adversary.py --regime default --examples 500    # what tests/test_adversary.py runs
    python bench/adversary.py --replay counterexamples.json      # re-run what a run wrote

Prints a table by claim kind (examples counted, wrong PASS, false FAIL, raised, crashed, an
inconclusive reason that does not hold, inconclusive count and rate, and the cases dropped as
equivalent or unlabelled), then the suspected classes of the findings with the smallest example
of each, then the inconclusive verdicts by kind and reason (true and wrong claims apart), and
writes every counterexample as JSON (``--out``; a case there re-runs with
``--replay``). Kinds: derivative, jvp, vjp, jvp_vjp, hessian, differential (claims about f) and
backward (mc.check_backward). ``--seconds`` stops drawing new examples after that long.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from adversary.backwards import backward_cases, run_backward
from adversary.compose import FORMS, LONG, Case, cases
from adversary.property import Outcome, run_case, suspected_class
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from tabulate import tabulate

KINDS = (*FORMS, "backward")
COLUMNS = ("wrong PASS", "wrong PASS (size-dependent)", "false FAIL", "raise", "crash", "reason")


def _regime(name: str):  # type: ignore[no-untyped-def]
    if name == "long":
        return LONG
    from test_adversary import DEFAULT  # the suite's regime, with its exclusions

    return DEFAULT


def strategy(kinds: tuple[str, ...], regime_name: str, overrides: dict[str, object]) -> st.SearchStrategy[Case]:
    regime = dataclasses.replace(_regime(regime_name), **overrides)
    forms = tuple(k for k in kinds if k != "backward")
    parts: list[st.SearchStrategy[Case]] = []
    if forms:
        parts.append(cases(regime, forms=forms))
    if "backward" in kinds:
        parts.append(backward_cases(regime))
    return st.one_of(*parts)


def run(case: Case) -> Outcome:
    return run_backward(case) if case.family == "backward" else run_case(case)


def kind_of(case: Case) -> str:
    return "derivative (text)" if case.family == "closed" else case.form


def table(outcomes: list[Outcome]) -> str:
    rows = []
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[kind_of(o.case)].append(o)
    for kind in [*sorted(by_kind), "all"]:
        group = outcomes if kind == "all" else by_kind[kind]
        counted = [o for o in group if o.counted]
        found = Counter(o.finding for o in counted)
        inconclusive = sum(o.got == "inconclusive" for o in counted)
        true = sum(o.label == "true" for o in counted)
        rows.append([kind, len(counted), true, len(counted) - true, *(found[c] for c in COLUMNS), inconclusive,
                     f"{100 * inconclusive / max(len(counted), 1):.1f}%", len(group) - len(counted)])
    return tabulate(rows, headers=["kind", "examples", "true", "wrong", "wrong PASS", "wrong PASS (sizes)",
                                   "false FAIL", "raised", "crashed", "bad reason", "inconclusive",
                                   "inconclusive rate", "dropped"], tablefmt="github")


def classes(outcomes: list[Outcome]) -> str:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.finding:
            groups[suspected_class(o)].append(o)
    rows = []
    for name, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        smallest = min(group, key=lambda o: (len(o.case.f) + len(o.case.claim_f), len(o.case.inputs)))
        c = smallest.case
        rows.append([name, len(group), f"{c.family}/{c.form} f={c.f[:70]} mutation={c.mutation} "
                     f"part={c.bad_part} oracle={c.oracle} {c.dtype} scale={c.scale:g} offset={c.offset:g} "
                     f"sizes={c.sizes} seed={c.seed}"])
    return tabulate(rows, headers=["suspected class", "count", "smallest example"], tablefmt="github")


def reason_head(reason: str) -> str:
    """An inconclusive reason without its numbers and details, to count reasons by kind.

    >>> reason_head("ill-conditioned sample (rounding measured): moving the inputs by 1e-3 ...")
    'ill-conditioned sample (rounding measured)'
    """
    head = re.split(r"[:;(]", reason.replace("(rounding measured)", "<rm>"), maxsplit=1)[0]
    head = head.replace("<rm>", "(rounding measured)").strip()
    return re.sub(r"[-+]?\d[\d.e+-]*", "#", head)[:80]


def reasons(outcomes: list[Outcome]) -> str:
    """The inconclusive verdicts by kind and reason, with how many were true and wrong claims."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for o in outcomes:
        if o.counted and o.got == "inconclusive":
            counts[(kind_of(o.case), reason_head(o.reason), "true" if o.label == "true" else "wrong")] += 1
    keys = sorted({(k, r) for k, r, _ in counts}, key=lambda kr: (kr[0], -counts[(*kr, "true")] - counts[(*kr, "wrong")]))
    rows = [[k, r, counts[(k, r, "true")], counts[(k, r, "wrong")]] for k, r in keys]
    return tabulate(rows, headers=["kind", "inconclusive reason", "true claims", "wrong claims"],
                    tablefmt="github")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=500)
    p.add_argument("--kind", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--regime", choices=("long", "default"), default="long")
    p.add_argument("--seconds", type=float, default=540.0, help="stop drawing after this long")
    p.add_argument("--out", default="adversary-counterexamples.json")
    p.add_argument("--scales", type=float, nargs="+", help="multipliers of f to draw (default: the regime's)")
    p.add_argument("--offsets", type=float, nargs="+", help="constant offsets of f to draw")
    p.add_argument("--oracles", nargs="+", help="oracles to draw")
    p.add_argument("--whole", action="store_true",
                   help="a wrong matrix-free rule has all its callables wrong (no partly wrong rules)")
    p.add_argument("--no-kinks", action="store_true", help="leave out relu, abs, max")
    p.add_argument("--replay", default=None, help="re-run the cases of a JSON file this script wrote")
    p.add_argument("--inconclusive-out", default=None,
                   help="also write the inconclusive cases here (replayable with --replay)")
    args = p.parse_args(argv)
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    overrides = {k: tuple(v) for k, v in (("scales", args.scales), ("offsets", args.offsets),
                                           ("oracles", args.oracles)) if v}
    if args.whole:
        overrides["partial"] = False
    if args.no_kinks:
        overrides["kinks"] = False
    if args.replay:
        for item in json.loads(Path(args.replay).read_text()):
            outcomes.append(run(Case.from_json(item["case"])))
    else:
        @hypothesis_seed(args.seed)
        @settings(max_examples=args.examples, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy(tuple(args.kind), args.regime, overrides))
        def sweep(case: Case) -> None:
            if time.perf_counter() - start < args.seconds:
                outcomes.append(run(case))

        sweep()
    elapsed = time.perf_counter() - start
    print(f"{len(outcomes)} examples in {elapsed:.0f} s (regime {args.regime}, seed {args.seed}, "
          f"kinds {' '.join(args.kind)})\n")
    print(table(outcomes))
    print()
    print(classes(outcomes))
    print()
    print(reasons(outcomes))
    found = [{"finding": o.finding, "label": o.label, "got": o.got, "class": suspected_class(o),
              "wrong_parts": o.wrong_parts,
              "case": o.case.to_json(), "result": o.detail} for o in outcomes if o.finding]
    Path(args.out).write_text(json.dumps(found, indent=1))
    print(f"\n{len(found)} counterexamples written to {args.out}")
    if args.inconclusive_out:
        unsure = [{"finding": "", "label": o.label, "got": o.got, "reason": o.reason,
                   "case": o.case.to_json(), "result": o.detail}
                  for o in outcomes if o.counted and o.got == "inconclusive"]
        Path(args.inconclusive_out).write_text(json.dumps(unsure, indent=1))
        print(f"{len(unsure)} inconclusive cases written to {args.inconclusive_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
