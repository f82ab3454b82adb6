"""The false-alarm sweep: every true rule, many seeds, every dtype and oracle, zero failures.

Example::

    >>> from matcalc.catalog import RULES
    >>> counts = sweep([RULES["linear_map"]], seeds=range(2), oracles=["probe"], dtypes=["float64"])
    >>> counts[0].checks, counts[0].failures
    (2, 0)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tabulate import tabulate

from matcalc.engine.check import check
from matcalc.model.rule import Rule


@dataclass
class SweepCount:
    oracle: str
    dtype: str
    checks: int = 0
    failures: int = 0
    inconclusive: int = 0  # checks that could not decide (overflow, outside f's domain, ...)
    worst_ratio: float = 0.0  # the largest error / tolerance seen among passing checks
    worst_rule: str = ""
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sweep(rules: Iterable[Rule], *, seeds: Iterable[int], oracles: Sequence[str],
          dtypes: Sequence[str], device: str = "cpu",
          progress: Callable[[str], None] | None = None) -> list[SweepCount]:
    rules, seeds = list(rules), list(seeds)
    counts = []
    for oracle in oracles:
        for dtype in dtypes:
            c = SweepCount(oracle, dtype)
            t0 = time.perf_counter()
            for rule in rules:
                for seed in seeds:
                    if progress:
                        progress(f"{oracle}/{dtype} {rule.name} seed={seed}")
                    res = check(rule, device=device, dtype=dtype, seed=seed, oracle=oracle,
                                diagnose_structure=False)
                    c.checks += 1
                    if res.outcome == "inconclusive":
                        c.inconclusive += 1
                        c.failed.append(f"{rule.name}@seed={seed} (inconclusive)")
                    elif not res.passed:
                        c.failures += 1
                        c.failed.append(f"{rule.name}@seed={seed}")
                    elif res.tolerance > 0 and res.error / res.tolerance > c.worst_ratio:
                        c.worst_ratio, c.worst_rule = res.error / res.tolerance, rule.name
            c.seconds = time.perf_counter() - t0
            counts.append(c)
    return counts


def render_sweep(counts: Sequence[SweepCount]) -> str:
    table = [[c.oracle, c.dtype, c.checks, c.failures, c.inconclusive, f"{c.worst_ratio:.3g}", c.worst_rule,
              f"{c.seconds:.1f}", ", ".join(c.failed[:5])] for c in counts]
    return tabulate(table, headers=["oracle", "dtype", "checks", "false alarms", "inconclusive",
                                    "worst error/tol", "worst rule", "seconds", "failed"], tablefmt="github")
