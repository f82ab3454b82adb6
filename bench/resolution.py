"""Each oracle's resolution, measured: the smallest relative error it detects on every catalog rule.

Every true catalog rule's claim is perturbed two ways at relative size delta,

  * factor:  D (1 + delta), an error along D itself;
  * random:  D + delta ||D|| R / ||R||, with R a fixed random tensor of D's shape (for a
    differential rule, df + delta ||df|| r / ||r||),

and checked at the default sizes with each oracle. The table gives, per oracle, dtype and
perturbation, the smallest delta at which every rule fails, and how many rules fail at each delta.
Rules whose true derivative is identically zero (a relative error of 0 is no error) are left out.

    python bench/resolution.py                      # float64, all oracles
    python bench/resolution.py --dtypes float64 float32 bfloat16 --deltas 1e-6 1e-8
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from tabulate import tabulate

import matcalc as mc
from matcalc.catalog import RULES

DELTAS = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
ORACLES = ("jacobian", "func", "probe", "taylor")


def perturbed(rule: mc.Rule, kind: str, delta: float) -> mc.Rule:
    base = rule.derivative

    def derivative(**kw: torch.Tensor) -> torch.Tensor:
        d = base(**kw)
        if kind == "factor":
            return d * (1 + delta)
        gen = torch.Generator(device=d.device).manual_seed(12345)
        r = torch.randn(d.shape, generator=gen, dtype=torch.float64, device=d.device).to(d.dtype)
        return d + delta * torch.linalg.vector_norm(d) * r / torch.linalg.vector_norm(r)

    return mc.Rule(name=f"{rule.name}_{kind}", f=rule.f, derivative=derivative, wrt=rule.wrt,
                   inputs=rule.inputs, layout=rule.layout, kind=rule.kind)


def detected(rule: mc.Rule, oracle: str, dtype: str) -> bool:
    return mc.check(rule, oracle=oracle, dtype=dtype, diagnose_structure=False).outcome == "fail"


def zero_claim(rule: mc.Rule) -> bool:
    """True when the rule's claimed derivative is exactly 0 (so no perturbation can be relative)."""
    seen: list[bool] = []
    base = rule.derivative

    def spy(**kw: torch.Tensor) -> torch.Tensor:
        d = base(**kw)
        seen.append(bool((d == 0).all()))
        return d

    mc.check(mc.Rule(name="spy", f=rule.f, derivative=spy, wrt=rule.wrt, inputs=rule.inputs,
                     layout=rule.layout, kind=rule.kind), diagnose_structure=False)
    return all(seen)


def run(oracles: list[str], dtypes: list[str], deltas: list[float],
        progress: Callable[[str], None] = print) -> list[list[object]]:
    rules = [r for r in RULES.values() if not r.refuted and not zero_claim(r)]
    rows: list[list[object]] = []
    for oracle in oracles:
        for dtype in dtypes:
            for kind in ("factor", "random"):
                t0 = time.perf_counter()
                counts = []
                for delta in deltas:
                    counts.append(sum(detected(perturbed(r, kind, delta), oracle, dtype) for r in rules))
                smallest = min((d for d, c in zip(deltas, counts, strict=True) if c == len(rules)),
                               default=None)
                rows.append([oracle, dtype, kind, "-" if smallest is None else f"{smallest:.0e}",
                             *[f"{c}/{len(rules)}" for c in counts], f"{time.perf_counter() - t0:.0f}"])
                progress(f"{oracle} {dtype} {kind}: {rows[-1][3]}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracles", nargs="+", default=list(ORACLES), choices=ORACLES)
    parser.add_argument("--dtypes", nargs="+", default=["float64"],
                        choices=["float64", "float32", "float16", "bfloat16"])
    parser.add_argument("--deltas", nargs="+", type=float, default=list(DELTAS))
    args = parser.parse_args()
    rows = run(args.oracles, args.dtypes, sorted(args.deltas, reverse=True))
    headers = ["oracle", "dtype", "perturbation", "smallest delta caught on every rule",
               *[f"caught at {d:.0e}" for d in sorted(args.deltas, reverse=True)], "seconds"]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
