"""Time to a verdict at large n: matcalc's oracles and `auto` against a hand-written check and
gradcheck, in passes over the input (one `sum()` over every input, timed in the same run).

    python bench/verify_time.py                  # the issue's three checks, float64
    python bench/verify_time.py --small          # n = 512, for a quick look (and the test)

Each cell is the median of ``--repeats`` runs of the whole check, drawing included (matcalc draws
its own inputs; the hand-written checks get the same inputs drawn by matcalc's sampler and are
charged that draw too, so every column pays for its inputs once). ``auto`` must stay within 1.5x of
the fastest of matcalc's own oracles.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from tabulate import tabulate

import matcalc as mc
from matcalc.catalog import RULES
from matcalc.inputs import draw_inputs
from matcalc.timing import median_time

LOGDET = mc.Rule(name="log_abs_det", f=lambda X: torch.linalg.slogdet(X).logabsdet,
                 derivative=lambda X: torch.linalg.inv(X).T, wrt="X",
                 inputs={"X": mc.matrix("n", "n", structure="invertible")})
CASES = ((RULES["quadratic_form"], 8192), (RULES["linear_map"], 4096), (LOGDET, 4096))
ORACLES = ("auto", "jacobian", "probe", "taylor")


def _median(fn: Callable[[], object], repeats: int) -> float:
    return median_time(fn, torch.device("cpu"), repeats=repeats, warmup=0)


def _hand_written(rule: mc.Rule, sizes: dict[str, int]) -> Callable[[], object]:
    """What people write: draw, jacrev of f, the closed form, assert_close."""
    def run() -> None:
        inputs = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, 0)
        name = rule.wrt_names[0]
        jac = torch.func.jacrev(lambda w: rule.f(**{**inputs, name: w}))(inputs[name])
        torch.testing.assert_close(rule.derivative(**inputs).reshape(jac.shape), jac)
    return run


def _gradcheck(rule: mc.Rule, sizes: dict[str, int]) -> Callable[[], object]:
    def run() -> None:
        inputs = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, 0)
        name = rule.wrt_names[0]
        x = inputs[name].clone().requires_grad_(True)
        torch.autograd.gradcheck(lambda w: rule.f(**{**inputs, name: w}), (x,), fast_mode=True)
    return run


def measure(rule: mc.Rule, n: int, repeats: int, oracles: tuple[str, ...]) -> list[object]:
    name = rule.name
    sizes = {d: n if d == "n" else max(2, n * 3 // 5) for d in rule.dims()}
    inputs = draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, 0)
    one_pass = _median(lambda: [t.sum() for t in inputs.values()], 7)
    draw = _median(lambda: draw_inputs(rule, sizes, torch.device("cpu"), torch.float64, 0), repeats)
    cells: dict[str, float] = {"draw": draw}
    chosen = ""
    for oracle in oracles:
        try:
            res = mc.check(rule, sizes=sizes, oracle=oracle, diagnose_structure=False)
        except mc.MatcalcError as exc:  # over the memory budget, say
            cells[oracle] = float("nan")
            print(f"{name} n={n} {oracle}: {exc}")
            continue
        if oracle == "auto":
            chosen = res.oracle
        cells[oracle] = _median(lambda o=oracle: mc.check(rule, sizes=sizes, oracle=o,  # type: ignore[misc]
                                                           diagnose_structure=False), repeats)
    for label, fn in (("jacrev + assert_close", _hand_written(rule, sizes)),
                      ("gradcheck fast", _gradcheck(rule, sizes))):
        try:
            cells[label] = _median(fn, repeats)
        except (RuntimeError, MemoryError) as exc:
            cells[label] = float("nan")
            print(f"{name} n={n} {label}: {type(exc).__name__}: {str(exc)[:100]}")
    own = [cells[o] for o in oracles if o != "auto" and cells[o] == cells[o]]
    ratio = cells["auto"] / min(own) if own and cells.get("auto") == cells.get("auto") else float("nan")
    return [name, n, f"{one_pass * 1e3:.2f} ms", *[f"{cells[k] / one_pass:.1f}" for k in cells],
            chosen, f"{ratio:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="n = 512 for every case")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--oracles", nargs="+", default=list(ORACLES), choices=ORACLES)
    args = parser.parse_args()
    oracles = tuple(args.oracles)
    rows = [measure(rule, 512 if args.small else n, args.repeats, oracles) for rule, n in CASES]
    headers = ["check", "n", "one pass", "draw", *oracles, "jacrev + assert_close", "gradcheck fast",
               "auto chose", "auto / fastest own oracle"]
    print(f"passes over the inputs (time / one pass), medians of {args.repeats}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
