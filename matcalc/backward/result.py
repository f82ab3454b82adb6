"""BackwardResult: a Result with a backward's per-input errors and its probes' verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from matcalc.core.result import Result


@dataclass
class BackwardResult(Result):
    """A :class:`~matcalc.Result` for a backward.

    >>> r = BackwardResult(rule="f", passed=True, error=0.0, tolerance=1e-13, oracle="reference",
    ...                    device="cpu", dtype="float64", sizes={"n": 5}, seed=0)
    >>> r.outcome
    'pass'

    Attributes:
        grad_errors: the relative error of each input's gradient (or of "(all inputs)" when the
            truth is finite differences along directions that move every input at once).
        grad_tolerances: the tolerance each of those errors is compared with.
        probes_run: each classic-bug probe (second backward call, non-contiguous inputs and
            grad_output, stride-0 views, one input requiring grad at a time, jvp) and its verdict:
            "pass", "fail (...)", "inconclusive (...)" or "skipped (why)".
    """

    grad_errors: dict[str, float] = field(default_factory=dict)
    grad_tolerances: dict[str, float] = field(default_factory=dict)
    probes_run: dict[str, str] = field(default_factory=dict)

    _truth_word = "truth"

    def _detail_lines(self) -> list[str]:
        lines = []
        if self.grad_errors and not self.passed:
            lines.append("  gradients: " + ", ".join(
                f"{n} {e:.3g} {'<=' if e <= self.grad_tolerances.get(n, 0) else '>'} "
                f"{self.grad_tolerances.get(n, math.nan):.3g}" for n, e in self.grad_errors.items()))
        if self.probes_run:
            lines.append("  checks: " + "; ".join(f"{k} {v}" for k, v in self.probes_run.items()))
        return lines
