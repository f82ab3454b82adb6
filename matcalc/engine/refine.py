"""After the first verdict: what the measurement alone cannot settle.

An autograd truth is confirmed by finite differences of f before it passes or fails anything
(matcalc/oracles/confirm.py: a kink makes the check inconclusive, a truth autograd cannot see
raises); a failure is then weighed against the accuracy the numbers measurably have: f computed
in a lower precision, the rounding both sides show when the inputs move by a few ulps
(matcalc/oracles/rounding.py), which also recognizes a zero truth, and, for a failure small enough
for it to explain, autograd's own rounding, measured by computing the truth again in float32 and
for f rescaled by a power of two.

Example::

    >>> import matcalc as mc
    >>> from matcalc.catalog import RULES
    >>> mc.check(RULES["quadratic_form"], sizes={"n": 5}).passed   # refine() ran inside
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from matcalc.core.calls import Context
from matcalc.core.guards import nbytes
from matcalc.core.tolerance import KAPPA, ROUNDING_SAFETY, TRUTH_ROUNDING_MAX, norm, tolerance
from matcalc.engine.run import Run, structures
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.model.sizes import SEED_LIMIT
from matcalc.oracles import Measurement
from matcalc.oracles.confirm import DISAGREE, Confirmation
from matcalc.oracles.fd import KINK_STEP
from matcalc.oracles.jacobian import reference_hessian, reference_jacobian
from matcalc.oracles.rounding import (
    TruthRounding,
    larger,
    nudged,
    precision_of,
    rescaled_rounding,
    rounded,
    truth_rounding,
)

# Nudges of the inputs by a few ulps that measure a failure's rounding: one can leave a rounding
# unchanged (an entry of X @ X that happens to round the same way), three rarely do.
NUDGES = 3
# The same measurement (same directions) at moved inputs, with the floor ``scale``; None when the
# claim changes shape there.
Remeasure = Callable[[dict[str, torch.Tensor], float], "Measurement | None"]


def refine(run: Run, ctx: Context, out: torch.Tensor, remeasure: Remeasure,
           confirmation: Callable[[float], Confirmation],
           natural: Callable[[torch.Generator], float]) -> None:
    """Settle ``run.verdict`` where the measurement alone cannot. An autograd truth is confirmed
    by f's values before it passes or fails a claim (a kink makes the check inconclusive; a truth
    autograd cannot see raises). A failure is then weighed against the numbers' measured accuracy:
    f computed in a lower precision, and the rounding each side shows when the inputs move by a few
    ulps (which also recognizes a zero truth: rounding noise, against which a claim within that
    noise passes), and last, for a failure small enough for it to explain, autograd's own
    rounding (the truth computed again in float32, and for f rescaled by a power of two: a
    difference within it is inconclusive; a disagreement with f's slope within it is no sign of
    a blind autograd).
    ``natural`` gives f's own variation per unit of the derivative, the floor of the
    remeasurements."""
    v = run.verdict
    assert v is not None and run.measurement is not None
    autograd = run.plan.oracle != "taylor"
    if v.inconclusive or (not v.passed and not math.isfinite(v.error)):
        return
    low = _precision(run, out)
    if not v.passed and _low_precision_f(run, low):
        return
    if autograd:
        measured: list[list[TruthRounding | None]] = []

        def own_rounding() -> list[TruthRounding | None]:
            if not measured:  # measured once, and only where a verdict needs it
                fits = run.plan.need + nbytes(run.inputs) <= run.plan.budget
                measured.append(_truth_rounding(run, remeasure, out) if fits else [])
            return measured[0]

        _confirm(run, ctx, lambda: confirmation(float(torch.finfo(low or torch.float64).eps)),
                 own_rounding)
        v = run.verdict
        assert v is not None
        if v.passed or v.inconclusive:
            return
        if run.plan.need + nbytes(run.inputs) > run.plan.budget:
            return  # a nudged copy of the inputs would not fit: the failure stands unweighed
        nudge = torch.Generator(device=out.device)
        nudge.manual_seed((run.seed + 2_000_003) % SEED_LIMIT)
        kept = structures(run.rule)
        scale = natural(nudge)
        again = [remeasure(nudged(run.inputs, kept, nudge), scale) for _ in range(NUDGES)]
        if any(a is None for a in again):
            return
        moved = [a for a in again if a is not None]
        run.verdict = v = judge(run.measurement, out, nudged=moved)
        if v.inconclusive:
            v.inconclusive += _rounding_source(run, remeasure, nudge, kept, v.part, scale)
        elif not v.passed and v.error <= ROUNDING_SAFETY * TRUTH_ROUNDING_MAX:
            # Only a difference this small can be autograd's own rounding (1 - tanh^2 cancelling,
            # which nudges cannot show): a wrong formula further off costs no measurement.
            run.verdict = judge(run.measurement, out, nudged=moved, truth_rounding=own_rounding())


def _truth_rounding(run: Run, remeasure: Remeasure, out: torch.Tensor) -> list[TruthRounding | None]:
    """autograd's own rounding of each comparison's truth, the larger of two measurements
    (matcalc/oracles/rounding.py): the measurement again in float32 and in float64 at the same
    float32-rounded inputs, and, where the oracle materializes the derivative, its truth for f
    rescaled by a power of two. A measurement that f, the claim or the oracle refuses (a float64
    tensor f closes over, say) is left out: no evidence either way."""
    m = run.measurement
    assert m is not None
    low = rounded(run.inputs)
    found: list[list[TruthRounding | None]] = []
    try:
        in_low = remeasure(low, 0.0)
        in_high = remeasure({k: t.to(torch.float64) for k, t in low.items()}, 0.0)
        if in_low is not None and in_high is not None:
            found.append(truth_rounding(in_low, in_high))
    except Exception:
        pass
    if run.plan.oracle in ("jacobian", "func") and run.rule.kind != "differential":
        try:
            again = rescaled_rounding(_scaled_truth(run), out)
        except Exception:
            again = None
        found.append([again] * len(m.parts))
    return larger(*found)


def _scaled_truth(run: Run) -> Callable[[float], torch.Tensor]:
    """c -> autograd's whole derivative of f times c, at the sample."""
    rule, inputs = run.rule, run.inputs
    name = rule.wrt_names[0]
    hessian = rule.kind == "hessian"

    def truth(c: float) -> torch.Tensor:
        def fn(w: torch.Tensor) -> torch.Tensor:
            value = rule.f(**{**inputs, name: w}) * c
            return value.reshape(()) if hessian else value

        x = inputs[name]
        return reference_hessian(fn, x) if hessian else reference_jacobian(fn, x)

    return truth


def _within_own_rounding(c: Confirmation, rounding: list[TruthRounding | None]) -> bool:
    """autograd and f's slope disagree by no more than the slope's error and ROUNDING_SAFETY times
    autograd's own measured rounding: a truth that rounds (matrix_exp's backward under a large
    grad_output), not one that misses part of f."""
    measured = [r.bound for r in rounding if r is not None]
    if c.fd is None or not measured:
        return False
    scale = max(abs(c.autograd), abs(c.fd.value))
    return abs(c.autograd - c.fd.value) <= DISAGREE * c.fd.error + max(measured) * scale


def _confirm(run: Run, ctx: Context, confirmation: Callable[[], Confirmation],
             own_rounding: Callable[[], list[TruthRounding | None]]) -> None:
    v, m = run.verdict, run.measurement
    assert v is not None and m is not None
    try:
        c = confirmation()
    except MatcalcError:
        raise
    except Exception:  # f refuses a step, or its pullback cannot be taken again: no evidence
        return
    outcome = c.outcome(m.parts[v.part].tolerance)
    if outcome == "kink":
        assert c.fd is not None
        run.verdict = Verdict(False, v.error, part=v.part, inconclusive=(
            f"f is not differentiable at this sample: along a random direction its one-sided "
            f"slopes differ by {c.fd.gap:.3g} (against {abs(c.fd.value):.3g} for the slope) at every "
            f"step down to {KINK_STEP:g} of the sample's size: a kink (relu or abs at 0, a tie in a "
            "max or a sort, a repeated singular value), where autograd returns one subgradient and "
            "no claim can be decided; use another seed, or a domain off the kink"))
    elif outcome == "blind" and not _within_own_rounding(c, own_rounding()):
        raise MatcalcError(
            f"autograd's derivative of f disagrees with finite differences of f ({c.describe()}) "
            f"({ctx.where}): f hides part of its computation from autograd (.detach(), .item(), "
            ".numpy(), a custom backward?); use oracle='taylor', which needs f alone")


def _precision(run: Run, out: torch.Tensor) -> torch.dtype | None:
    """The precision f computes in, when below float64: its float64 output's entries are all
    exactly numbers of that dtype (a .float() inside f); and autograd's truth through f, when it
    is whole, may show an even lower one (a half matmul whose output f sums in float64)."""
    low = precision_of(out)
    m, v = run.measurement, run.verdict
    if low is None or m is None or v is None:
        return low
    part = m.parts[v.part] if v.part < len(m.parts) else m
    truth = precision_of(part.true) if part.materialized else None
    if truth is not None and torch.finfo(truth).eps > torch.finfo(low).eps:
        return truth
    return low


def _low_precision_f(run: Run, low: torch.dtype | None) -> bool:
    """f computed in a precision below float64, and so did autograd through it: a failure within
    that precision's bound is the truth's rounding, not the claim's."""
    v = run.verdict
    assert v is not None
    if low is None:
        return False
    bound = tolerance(low, max(run.sizes.values(), default=1))
    if v.error > bound:
        return False
    name = str(low).removeprefix("torch.")
    run.verdict = Verdict(False, v.error, part=v.part, inconclusive=(
        f"f computes in {name} precision: every entry of its float64 output (or of autograd's truth "
        f"through it) is exactly a number of that precision or coarser (a .float(), .half() or dtype= "
        f"inside f?), so autograd's truth through f is no more accurate than {name} (a relative "
        f"{bound:.2g} here), and the claim is {v.error:.2g} from it; compute f in float64, or check "
        f"at dtype=torch.{name}"))
    return True


def _rounding_source(run: Run, remeasure: Remeasure, gen: torch.Generator,
                     kept: dict[str, str], part: int, scale: float) -> str:
    """Which input the measured rounding comes from: the same measurement with that input alone
    nudged (small inputs only: one more measurement per input)."""
    m = run.measurement
    assert m is not None
    if not run.small or len(run.inputs) < 1:
        return ""
    base = m.parts[part]
    size = max(norm(base.true), 1e-300)
    moved: dict[str, float] = {}
    for name in run.inputs:
        again = remeasure(nudged(run.inputs, kept, gen, only=name), scale)
        if again is None or part >= len(again.parts):
            return ""
        other = again.parts[part]
        if other.true.shape != base.true.shape or other.claimed.shape != base.claimed.shape:
            return ""
        moved[name] = (norm(other.true.to(torch.float64) - base.true.to(torch.float64))
                       + norm(other.claimed.to(torch.float64) - base.claimed.to(torch.float64))) / size
    top = max(moved.values(), default=0.0)
    if top <= 0:
        return ""
    sources = [n for n, r in moved.items() if r >= top / 4]
    text = "; it comes from " + ", ".join(f"{n} (moving it alone moves the comparison by a relative "
                                          f"{moved[n]:.2g})" for n in sources)
    for n in sources:
        dom = run.rule.inputs[n]
        if dom.kind == "matrix" and dom.structure == "general":
            t = run.inputs[n]
            structure = "invertible" if t.shape[0] == t.shape[1] else "full_column_rank"
            text += (f"; if the claim or f inverts {n}, declare it with structure={structure!r} "
                     f"(cond <= {KAPPA:g})")
    return text
