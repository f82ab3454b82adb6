"""From a measurement to a verdict: pass, fail, or inconclusive, with the reason.

Example::

    >>> import torch
    >>> from matcalc.oracles.base import Measurement
    >>> m = Measurement(claimed=2 * torch.ones(3), true=torch.ones(3), tolerance=1e-13,
    ...                 resolution=1e-13, floor=0.0)
    >>> v = judge(m)
    >>> v.passed, v.inconclusive, v.error
    (False, '', 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from matcalc.core.tolerance import MAX_RESOLUTION, relative_error
from matcalc.oracles.base import Measurement

# Magnitudes past this are within a few squarings of float64's range: a claim that is Inf there
# overflowed; it is not shown wrong.
OVERFLOW_SCALE = 1e150


@dataclass
class Verdict:
    passed: bool
    error: float
    inconclusive: str = ""
    message: str = ""


def _largest(t: torch.Tensor) -> float:
    finite = t[torch.isfinite(t)] if t.numel() else t
    return float(finite.abs().max()) if finite.numel() else 0.0


def judge(m: Measurement, out: torch.Tensor | None = None) -> Verdict:
    """The verdict on one measurement. NaN never passes; values that do not fit float64, a
    derivative that does not exist at the sample, or a comparison too coarse to decide are
    inconclusive."""
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
    if m.resolution > MAX_RESOLUTION:
        return Verdict(False, error, inconclusive=(
            f"this comparison resolves only relative errors above {m.resolution:.2g}: too coarse "
            "to tell a wrong formula from rounding; use float64 or smaller sizes"))
    passed = error <= m.tolerance
    return Verdict(passed, error, message="" if passed else f"values differ ({m.what})")
