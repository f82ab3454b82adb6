"""Hints for a failed check, from the comparison that decided it (matcalc/diagnosis/ words them).

Example::

    >>> import matcalc as mc
    >>> wrong = mc.claim("x @ A @ x", wrt="x", derivative="2 * A @ x")
    >>> any("symmetric" in h for h in mc.check(wrong, seed=0).hints)
    True
"""

from __future__ import annotations

import math

from matcalc import diagnosis as diagnose
from matcalc.core.tolerance import norm
from matcalc.engine.run import Run


def failure_hints(run: Run, out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> None:
    """Add to ``run.hints`` the hints for its failure, from the comparison that decided it. Probe
    and Taylor values are projections: only hints that do not name entries apply."""
    v, m, rule = run.verdict, run.measurement, run.rule
    if v is None or m is None or v.passed or v.inconclusive:
        return
    part = m.parts[v.part] if v.part < len(m.parts) else m
    if part.claimed.shape != part.true.shape or (not math.isfinite(v.error) and not part.materialized):
        return
    hints: list[str] = list(diagnose.hints(
        part.claimed, part.true, tol=part.tolerance, out_shape=out_shape, wrt_shape=wrt_shape,
        layout=rule.layout, kind=rule.kind, floor=part.floor, materialized=part.materialized))
    zero = v.zero_truth or (math.isfinite(v.error) and part.floor > 0
                            and norm(part.true) <= part.floor * part.tolerance)
    if zero:
        hints.insert(0, f"f does not depend on {rule.wrt_names[0]} here: the true derivative is 0")
    run.hints.extend(hints)
