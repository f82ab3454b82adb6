"""Markdown tables for the README from a `matcalc bench --json` record.

    python bench/readme_tables.py bench/results/cpu-bench.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tabulate import tabulate

CLOSED = ("closed_form", "fast")
AUTOGRAD = ("jacobian", "jacobian_vectorized", "jacobian_forward", "jacrev", "jacfwd", "backward",
            "hessian", "hessian_vectorized", "func_hessian")
HESSIAN_METHODS = ("hessian", "hessian_vectorized", "func_hessian")


def _ms(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def headline(rows: list[dict]) -> str:
    """Per rule, at the largest n where some autograd method still ran within the budget."""
    table = []
    for rule in dict.fromkeys(r["rule"] for r in rows):
        timed = [r for r in rows if r["rule"] == rule and r["median_s"]]
        both = [n for n in sorted({r["n"] for r in timed})
                if any(r["n"] == n and r["method"] in AUTOGRAD for r in timed)
                and any(r["n"] == n and r["method"] in CLOSED for r in timed)]
        if not both:
            continue
        n = both[-1]
        at_n = [r for r in timed if r["n"] == n]
        closed = min((r for r in at_n if r["method"] in CLOSED), key=lambda r: r["median_s"])
        best = min((r for r in at_n if r["method"] in AUTOGRAD), key=lambda r: r["median_s"])
        top = max(r["n"] for r in timed if r["method"] in CLOSED)
        table.append([rule, n, f"{closed['method']} {_ms(closed['median_s'])}",
                      f"{best['method']} {_ms(best['median_s'])}",
                      f"{best['median_s'] / closed['median_s']:.3g}x",
                      "-" if closed["x_floor"] is None else
                      f"{closed['x_floor']:.2f}x ({closed.get('bound') or 'memory'})",
                      top if top > n else "-"])
    return tabulate(table, headers=["rule", "n", "closed form", "fastest autograd", "closed form faster by",
                                    "closed form / floor (bound)", "closed form alone up to n"],
                    tablefmt="github", disable_numparse=True)


def hessians(rows: list[dict]) -> str:
    table = []
    for rule in dict.fromkeys(r["rule"] for r in rows if r["rule"].startswith("hessian")):
        for n in sorted({r["n"] for r in rows if r["rule"] == rule}):
            at = {r["method"]: r for r in rows if r["rule"] == rule and r["n"] == n}
            closed = min((at[m] for m in CLOSED if m in at and at[m]["median_s"]), key=lambda r: r["median_s"],
                         default=None)
            if closed is None:
                continue
            cells = []
            for m in HESSIAN_METHODS:
                r = at.get(m)
                if r is None or not r["median_s"]:
                    cells.append("skipped" if r is not None else "-")
                else:
                    cells.append(f"{_ms(r['median_s'])} ({r['median_s'] / closed['median_s']:.3g}x)")
            table.append([rule, n, _ms(closed["median_s"]), *cells])
    return tabulate(table, headers=["rule", "n", "closed form", "autograd hessian", "hessian(vectorize=True)",
                                    "torch.func.hessian"], tablefmt="github", disable_numparse=True)


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    print("## Closed form against the fastest autograd method, at the largest n\n")
    print(headline(data))
    print("\n## Hessians: closed form against autograd (Laue et al. 2018 reproduction)\n")
    print(hessians(data))
