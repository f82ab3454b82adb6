"""What one check at one size assignment found, gathered as it runs and turned into a Result in
one place.

Example::

    >>> import torch
    >>> from matcalc.catalog import RULES
    >>> from matcalc.engine.check_plan import plan_check
    >>> from matcalc.engine.verdict import Verdict
    >>> rule, sizes = RULES["linear_map"], {"m": 3, "n": 5}
    >>> plan = plan_check(rule, sizes, torch.float64, torch.device("cpu"), "auto", 4, 2**30)
    >>> run = Run(rule, torch.device("cpu"), torch.float64, sizes, 0, plan, 1e-13, small=True)
    >>> run.verdict = Verdict(True, 0.0)
    >>> run.result().outcome
    'pass'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from matcalc import diagnosis as diagnose
from matcalc.core.result import Result
from matcalc.engine.check_plan import Plan
from matcalc.engine.verdict import Verdict
from matcalc.model.rule import Rule
from matcalc.oracles import Measurement


@dataclass
class Run:
    """One check at one size assignment. ``small`` says the inputs are small enough for private
    copies and a second evaluation of f and the claim (matcalc/core/guards.py, SMALL_BYTES)."""

    rule: Rule
    dev: torch.device
    dt: torch.dtype
    sizes: dict[str, int]
    seed: int
    plan: Plan
    tolerance: float
    small: bool = True
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    verdict: Verdict | None = None
    measurement: Measurement | None = None
    claim_shape: tuple[int, ...] | None = None
    true_shape: tuple[int, ...] | None = None
    hints: list[str] = field(default_factory=list)
    low_precision: dict[str, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # f's output with its autograd graph and the leaf it was taken at, when f was evaluated once
    # for both the checks on its value and the reference Jacobian (large inputs only).
    forward: tuple[torch.Tensor, torch.Tensor] | None = None

    def result(self) -> Result:
        """The Result of this run; its verdict must be set."""
        v = self.verdict
        assert v is not None
        failed = not v.passed
        mismatch = None
        m = self.measurement
        if m is not None and v.part < len(m.parts):
            m = m.parts[v.part]  # the comparison that decided the verdict
        bound = v.tolerance
        if failed and not v.inconclusive and m is not None and m.materialized \
                and m.claimed.shape == m.true.shape and math.isfinite(v.error):
            mismatch = diagnose.mismatch(m.claimed, m.true, m.tolerance)
        return Result(
            rule=self.rule.name, passed=v.passed, error=v.error,
            tolerance=bound if bound is not None else self.tolerance if m is None else m.tolerance,
            oracle=self.plan.oracle,
            device=self.dev.type, dtype=str(self.dt).removeprefix("torch."), sizes=self.sizes,
            seed=self.seed, refuted=self.rule.refuted,
            counterexample={k: t.detach().cpu() for k, t in self.inputs.items()} if failed else None,
            message=v.message, hints=self.hints, mismatch=mismatch, claim_shape=self.claim_shape,
            true_shape=self.true_shape, rates=None if m is None else m.rates, timings=self.timings,
            inconclusive=v.inconclusive, resolution=None if m is None else m.resolution,
            why_oracle=self.plan.why, low_precision=self.low_precision,
        )


def structures(rule: Rule) -> dict[str, str]:
    """Each input's declared structure, which a nudge or a finite difference must keep.

    >>> from matcalc.catalog import RULES
    >>> structures(RULES["quadratic_form"])
    {'x': 'general', 'A': 'general'}
    """
    return {n: d.structure for n, d in rule.inputs.items()}
