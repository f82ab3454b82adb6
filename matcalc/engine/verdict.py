"""From a measurement to a verdict: pass, fail, or inconclusive, with the reason.

Example::

    >>> import torch
    >>> from matcalc.oracles.base import Measurement
    >>> m = Measurement(claimed=2 * torch.ones(3), true=torch.ones(3), tolerance=1e-13,
    ...                 resolution=1e-13, floor=0.0)
    >>> v = judge(m)
    >>> v.passed, v.inconclusive, v.error
    (False, '', 1.0)

A measurement may hold several comparisons of one claim (each matrix-free form, each kind of
probe): every one is judged, and the verdict is the worst (a fail, else an inconclusive, else the
pass with the largest error). A comparison passes only when its error is within the tolerance
*and* its truth is known well enough (TRUTH_SLACK): a truth known only coarsely (finite
differences across a kink, say) makes the check inconclusive, and never widens the tolerance. A
difference beyond the tolerance fails, unless it is within what the numbers can carry: values in
float64's subnormal range (inconclusive), or, given ``nudged`` (the same measurement at inputs
moved by a few ulps), the rounding the two sides measurably have. The tolerance is an assumed
rounding; a measured one replaces it: a difference within ROUNDING_SAFETY times the measured
rounding passes while that rounding is at most ROUNDING_CAP (so that any wrong formula is still
far outside the bound), and is inconclusive above it (an ill-conditioned sample). A truth that is
itself rounding noise, at the scale f's own variation gives it, is a zero truth. Given
``truth_rounding`` (autograd's own rounding, measured by computing the truth again in float32 or
for f rescaled by a power of two: matcalc/oracles/rounding.py), a difference that would fail but is
within ROUNDING_SAFETY times it (counted up to TRUTH_ROUNDING_MAX) is inconclusive, with that
reason: the truth cannot decide it, and never passes it.

A comparison coarser than MAX_RESOLUTION passes nothing. It still fails a claim when its
coarseness is the truth's own measured error (finite differences, whose ``truth_error`` covers the
resolution) and the claim is beyond that error and the tolerance: the difference is then shown by
the measurement. A resolution of any other origin (a low dtype's own noise, where underflow and not
eps sets the error) leaves every claim inconclusive. A claim that is exactly 0 against a truth that
is exactly 0 passes when the truth's error is below float64's normal range (f's values were all 0,
so no derivative can hide in them); a larger error could hide a derivative under a constant part
of f (c + 1e-3 sin x measures exactly as a constant does), and the check is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from matcalc.core.tolerance import (
    MAX_RESOLUTION,
    ROUNDING_CAP,
    ROUNDING_SAFETY,
    SUBNORMAL,
    TINY,
    norm,
    relative_error,
)
from matcalc.oracles.base import Measurement
from matcalc.oracles.rounding import TruthRounding

# Magnitudes past this are within a few squarings of float64's range: a claim that is Inf there
# overflowed; it is not shown wrong.
OVERFLOW_SCALE = 1e150
# A truth known to within this many tolerances still decides a pass. A measured truth error is a
# bound with a safety factor of 10 in it (TAYLOR_SAFETY): the truth's actual error is then at most
# one tolerance, and a pass bounds the claim's error by twice the tolerance, whatever the sample.
# Past it (a kink, f's rounding) the check is inconclusive; the tolerance itself never moves.
TRUTH_SLACK = 10.0
# A difference of at most this many subnormal spacings is rounding of values below 2.2e-308,
# which keep only a few significant bits: a relative error there decides nothing.
SUBNORMAL_SPACINGS = 1024


@dataclass
class Verdict:
    """The outcome of one measurement. ``part`` is the comparison that decided it (an index into
    ``Measurement.parts``); ``zero_truth`` says the truth was measured to be rounding noise (f
    does not depend on the input differentiated, at this sample); ``tolerance`` is the bound a
    pass was measured against when it is not the measurement's own (the sides' measured
    rounding)."""

    passed: bool
    error: float
    inconclusive: str = ""
    message: str = ""
    part: int = 0
    zero_truth: bool = False
    tolerance: float | None = None


def _largest(t: torch.Tensor) -> float:
    finite = t[torch.isfinite(t)] if t.numel() else t
    return float(finite.abs().max()) if finite.numel() else 0.0


def judge(m: Measurement, out: torch.Tensor | None = None, *,
          nudged: Sequence[Measurement] = (),
          truth_rounding: Sequence[TruthRounding | None] = ()) -> Verdict:
    """The verdict on one measurement. NaN never passes; values that do not fit float64, a
    derivative that does not exist at the sample, or a comparison too coarse to decide are
    inconclusive. ``nudged`` are the same measurement at inputs moved by a few ulps (several: one
    nudge can leave a rounding unchanged): with them, a difference within the two sides' measured
    rounding is rounding, and a truth that is rounding noise is a zero truth (a claim within that
    noise passes). ``truth_rounding`` is each comparison's measured autograd rounding (None where
    unmeasured): a difference within ROUNDING_SAFETY times it is inconclusive, never a fail or a
    pass.

    >>> from matcalc.oracles.rounding import TruthRounding
    >>> t = torch.ones(3, dtype=torch.float64)
    >>> m = Measurement(claimed=t * (1 + 1e-9), true=t, tolerance=1e-14, resolution=1e-14, floor=0.0)
    >>> judge(m).message
    'values differ ()'
    >>> judge(m, truth_rounding=[TruthRounding.in_low_precision(0.1)]).inconclusive[:35]
    "autograd's own rounding here is abo"
    """
    verdicts = []
    for i, part in enumerate(m.parts):
        again = [n.parts[i] for n in nudged if i < len(n.parts) and n.parts[i].true.shape == part.true.shape
                 and n.parts[i].claimed.shape == part.claimed.shape]
        v = _judge_one(part, out, again)
        if i < len(truth_rounding):
            v = _within_truth_rounding(v, truth_rounding[i])
        v.part = i
        verdicts.append(v)
    fails = [v for v in verdicts if not v.passed and not v.inconclusive]
    if fails:
        return max(fails, key=lambda v: v.error if math.isfinite(v.error) else math.inf)
    unsure = [v for v in verdicts if v.inconclusive]
    if unsure:
        return unsure[0]
    ratios = [v.error / m.parts[v.part].tolerance if m.parts[v.part].tolerance > 0 else v.error
              for v in verdicts]
    return verdicts[max(range(len(verdicts)), key=ratios.__getitem__)]


def _judge_one(m: Measurement, out: torch.Tensor | None, nudged: list[Measurement]) -> Verdict:
    claimed, true = m.claimed, m.true
    if claimed.is_complex():
        return Verdict(False, math.inf, message=(
            "the claim is complex; a real f has a real derivative (an imaginary part is a wrong "
            "claim, not a rounding)"))
    if claimed.shape != true.shape:
        return Verdict(False, math.inf, message=(
            f"shape mismatch: claim has shape {tuple(claimed.shape)}, the true derivative has shape "
            f"{tuple(true.shape)}"))
    if m.inconclusive:
        return Verdict(False, math.inf, inconclusive=m.inconclusive)
    if not bool(torch.isfinite(true).all()):
        return Verdict(False, math.inf, inconclusive=(
            "the true derivative is not finite at this sample (f is not differentiable there, or "
            "its derivative overflows): draw inputs inside f's domain"))
    if not bool(torch.isfinite(claimed).all()):
        big = max(_largest(true), 0.0 if out is None else _largest(out))
        if big > OVERFLOW_SCALE:
            return Verdict(False, math.inf, inconclusive=(
                f"the claim overflows where the true derivative reaches {big:.3g}: values do not fit "
                "float64 at this size; use smaller sizes"))
        nan, inf = int(torch.isnan(claimed).sum()), int(torch.isinf(claimed).sum())
        return Verdict(False, math.inf, message=(
            f"the claim is not finite ({nan} NaN, {inf} Inf) where the true derivative is"))
    error = relative_error(claimed, true, floor=m.floor)
    if m.truth_error > 0 and m.floor == 0 and not bool(true.any()) and not bool(claimed.any()):
        return _exact_zeros(m)
    size = max(norm(true), m.floor)
    known = m.truth_error / size if size > 0 else (math.inf if m.truth_error > 0 else 0.0)
    coarse = m.resolution > MAX_RESOLUTION
    # Past MAX_RESOLUTION nothing passes; a fail stands only where the coarseness is the truth's
    # own measured error and the claim is beyond it (an FD truth known to 10% against a claim off
    # by a factor 2): the measurement then shows the difference instead of assuming it.
    if coarse and not (m.resolution <= known < math.inf and error > max(m.tolerance, known)):
        return Verdict(False, error, inconclusive=(
            f"this comparison resolves only relative errors above {m.resolution:.2g}: too coarse "
            "to tell a wrong formula from rounding; use float64 or smaller sizes"))
    if error <= m.tolerance and known <= TRUTH_SLACK * m.tolerance:
        return Verdict(True, error)
    if error <= max(m.tolerance, known):
        return Verdict(False, error, inconclusive=(
            f"the truth is known only to a relative {known:.2g} here (measured: {m.what or 'the oracle'}), "
            f"coarser than the tolerance {m.tolerance:.2g}: it can neither pass nor fail a claim "
            f"that is {error:.2g} from it; use an autograd oracle, another seed, or a sample where "
            "f is smooth"))
    diff = claimed.to(torch.float64) - true.to(torch.float64)
    if float(diff.abs().max()) <= SUBNORMAL_SPACINGS * SUBNORMAL:
        return Verdict(False, error, inconclusive=(
            f"the claim and the truth differ by at most {float(diff.abs().max()):.3g}, a few "
            "spacings of float64's subnormal range (values below 2.2e-308 keep only a few "
            "significant bits): scale f up to decide"))
    if nudged and not coarse:
        return _rounding(m, nudged, error)
    if not bool(true.any()) and m.floor == 0:
        # f did not move at all along what was measured and no rounding was measured (nudges
        # would have judged the claim against its own): nothing excuses a claim that is not 0.
        return Verdict(False, error, zero_truth=True, message=(
            f"values differ ({m.what}): the true derivative is 0 everywhere here, the claim's "
            f"largest entry is {_largest(claimed):.3g}"))
    return Verdict(False, error, message=f"values differ ({m.what})")


def _exact_zeros(m: Measurement) -> Verdict:
    """A claim of exactly 0 against a truth of exactly 0 that is known only to ``truth_error``
    (finite differences of an f that did not move), with no scale to be relative to."""
    if m.truth_error < TINY:  # f's values were all 0: its rounding, and any hidden slope, is subnormal
        return Verdict(True, 0.0, zero_truth=True)
    return Verdict(False, 0.0, zero_truth=True, inconclusive=(
        f"f's values did not move at all along what was measured ({m.what or 'the oracle'}): the truth "
        f"is exactly 0, known only to within {m.truth_error:.2g} from f's rounding, and the claim is "
        "exactly 0 too; a derivative below f's rounding hides under a constant part of f (c + 1e-3 "
        "sin(x) with c = 1e16 measures exactly like a constant), so 0 can be neither confirmed nor "
        "refuted; take the truth from autograd (an autograd oracle, or a reference=)"))


def _within_truth_rounding(v: Verdict, rounding: TruthRounding | None) -> Verdict:
    """A fail for a difference of values (finite, not against a zero truth) stands unless it is
    within ROUNDING_SAFETY times the truth's own measured rounding, which cannot decide it."""
    error = v.error
    plain = not v.passed and not v.inconclusive and not v.zero_truth and math.isfinite(error)
    if plain and rounding is not None and error <= rounding.bound:
        return Verdict(False, error, inconclusive=(
            f"{rounding.describe()}; the claim is {error:.2g} from autograd's truth, within "
            f"{ROUNDING_SAFETY:g} times that, so autograd cannot tell it right or wrong here: "
            f"{rounding.cause}"))
    return v


def _rounding(m: Measurement, nudged: list[Measurement], error: float) -> Verdict:
    """A difference beyond the tolerance, against the sides' measured rounding: how far each side
    moves, at most, when the inputs move by a few ulps. A nudged measurement's ``floor`` is the
    natural size of this comparison's truth (from f's variation, matcalc/oracles/fd.py), or 0 when
    unknown."""
    true, claimed = m.true.to(torch.float64), m.claimed.to(torch.float64)
    moved_true = max(norm(n.true.to(torch.float64) - true) for n in nudged)
    moved_claim = max(norm(n.claimed.to(torch.float64) - claimed) for n in nudged)
    noise = ROUNDING_SAFETY * (moved_true + moved_claim)
    size = norm(m.true)
    diff = norm(claimed - true)
    natural = nudged[0].floor
    if size <= noise and size <= m.tolerance * natural:
        # A zero truth: within the comparison's rounding, and rounding at f's natural scale.
        floor = max(natural, noise / m.tolerance)
        zero = relative_error(m.claimed, m.true, floor=floor)
        if zero <= m.tolerance:
            return Verdict(True, zero, zero_truth=True)
        return Verdict(False, zero, message=f"values differ ({m.what}): the true derivative is 0 up to "
                       f"rounding ({size:.3g}), the claim is not", zero_truth=True)
    if diff <= noise:
        bound = noise / size
        if (moved_true + moved_claim) / size <= ROUNDING_CAP:
            return Verdict(True, error, tolerance=bound)
        return Verdict(False, error, inconclusive=(
            f"ill-conditioned sample (rounding measured): moving the inputs by a few ulps changes the "
            f"claim by a relative {moved_claim / size:.2g} and the truth by {moved_true / size:.2g}, and "
            f"the two differ by {error:.2g}, within {ROUNDING_SAFETY:g} times that: no formula can be "
            f"told right or wrong to better than {bound:.2g} here"))
    return Verdict(False, error, message=f"values differ ({m.what})")
