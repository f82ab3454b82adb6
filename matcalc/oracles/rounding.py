"""How accurately the numbers of a check are known, measured rather than assumed.

* :func:`nudged`: the inputs moved by a few ulps, entrywise and multiplicatively (zeros, signs and
  symmetry are kept): measuring a claim and its truth again there shows how much each side rounds
  at this sample, whatever makes it round (an inverse of an ill-conditioned matrix, a matrix
  exponential of a large matrix, a long sum). A difference within that rounding is not evidence
  against the claim.
* :func:`precision_of`: the precision f really computed in: a float64 output whose every entry is
  exactly a float32 (or float16, bfloat16) number came from that dtype (a ``.float()`` inside f),
  and autograd's truth through f is no more accurate than it.
* :func:`truth_rounding`: autograd's own rounding of the truth, where nudging cannot see it (1 -
  tanh(s)^2 near saturation: tanh does not move, so its cancellation looks systematic). The truth
  is computed again in float32 and in float64 at the same float32-rounded inputs: the two differ
  only by the computation's rounding, which for a cancellation or an ill-conditioned step scales
  with eps, so the float64 truth's relative error is about their distance times
  eps(float64) / eps(float32).
* :func:`rescaled_rounding`: the rounding that depends on the size of what flows backward rather
  than on eps (matrix_exp's backward picks its squarings by the grad_output's norm, so 1e8 tr(sin
  X) comes back 1e-8 off): the truth of f times a power of two, scaled back, against the truth.

Example::

    >>> import torch
    >>> precision_of(torch.tensor([0.1], dtype=torch.float32).double())
    torch.float32
    >>> precision_of(torch.tensor([0.1], dtype=torch.float64)) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from matcalc.core.tolerance import ROUNDING_SAFETY, TRUTH_PROBE, TRUTH_ROUNDING_MAX, norm
from matcalc.oracles.base import Measurement

# Relative size of the nudge: 4 units of float64's rounding (2^-50 = 4 eps), so that every entry
# moves by one to a few ulps.
NUDGE = 2.0**-50
SYMMETRIC = frozenset({"symmetric", "spd", "separated_eigenvalues"})
LOW_PRECISIONS = (torch.bfloat16, torch.float16, torch.float32)


def nudged(inputs: Mapping[str, torch.Tensor], structures: Mapping[str, str], gen: torch.Generator,
           only: str | None = None) -> dict[str, torch.Tensor]:
    """``inputs`` times (1 + NUDGE r), r uniform in [-1, 1] (symmetric for symmetric structures);
    with ``only``, that input alone moves."""
    out = {}
    for name, t in inputs.items():
        if only is not None and name != only:
            out[name] = t
            continue
        r = torch.rand(t.shape, generator=gen, device=t.device, dtype=torch.float64) * 2 - 1
        if structures.get(name) in SYMMETRIC and r.ndim == 2:
            r = (r + r.T) / 2
        moved = (t.to(torch.float64) * (1 + NUDGE * r)).to(t.dtype)
        if structures.get(name) in SYMMETRIC and moved.ndim == 2:
            moved = (moved + moved.T) / 2
        out[name] = moved
    return out


def precision_of(t: torch.Tensor) -> torch.dtype | None:
    """The lowest floating dtype below float64 that holds every entry of ``t`` exactly, or None.
    Only entries with more significant bits than bfloat16's 8 say anything: 0, 1.0, 0.5 or 3.0
    are exact in every dtype (the spectral norm of an orthogonal matrix is exactly 1.0), so an
    output of such values, or of bfloat16 values, is never taken as low precision.

    >>> precision_of(torch.tensor([1.0, 0.5], dtype=torch.float64)) is None
    True
    """
    if t.dtype != torch.float64 or t.numel() == 0 or not bool(torch.isfinite(t).all()):
        return None
    if bool((t.to(torch.bfloat16).to(torch.float64) == t).all()):
        return None
    for dt in LOW_PRECISIONS[1:]:
        if bool((t.to(dt).to(torch.float64) == t).all()):
            return dt
    return None


def rounded(inputs: Mapping[str, torch.Tensor], dtype: torch.dtype = TRUTH_PROBE) -> dict[str, torch.Tensor]:
    """``inputs`` rounded to ``dtype``: the inputs at which both truths of :func:`truth_rounding`
    are taken (in ``dtype``, and in float64 after ``.double()``), so that they differ only by how
    the computation rounds, never by where it is taken.

    >>> rounded({"x": torch.tensor([0.1], dtype=torch.float64)})["x"].dtype
    torch.float32
    """
    return {name: t.detach().to(dtype) for name, t in inputs.items()}


@dataclass(frozen=True)
class TruthRounding:
    """autograd's own rounding of one comparison's truth, measured: ``relative`` is the float64
    truth's estimated relative error (up to TRUTH_ROUNDING_MAX of it explains a difference),
    ``apart`` the relative distance between the two computations it was measured from, ``how``
    names them and ``cause`` says what rounds so and what to do.

    >>> r = TruthRounding.in_low_precision(0.1)
    >>> f"{r.relative:.3g}"
    '1.86e-10'
    >>> TruthRounding.rescaled(3e-9, 27).bound == ROUNDING_SAFETY * TRUTH_ROUNDING_MAX
    True
    """

    relative: float
    apart: float
    how: str
    # what makes autograd round so, and what the user can do about it
    cause: str = ""

    @classmethod
    def in_low_precision(cls, apart: float) -> TruthRounding:
        """From the float32 truth's distance from the float64 truth at the same float32 inputs:
        times eps(float64) / eps(float32); a distance past 1 (float32 kept no digit) counts as 1."""
        low = _name(TRUTH_PROBE)
        return cls(min(apart, 1.0) * TRUTH_ROUNDING_MAX, apart,
                   f"computing its truth again in {low} and in float64 at the same {low}-rounded "
                   f"inputs (a relative {apart:.2g} apart) and scaling by eps(float64) / eps({low})",
                   "a cancellation inside f or its derivative, such as 1 - tanh(s)^2 near saturation, "
                   "loses as many digits in float64 as in float32; write f so that it does not "
                   "cancel, or use another seed")

    @classmethod
    def rescaled(cls, apart: float, power: int) -> TruthRounding:
        """From the truth of f times 2^power, scaled back: the same derivative exactly, so the
        distance is rounding that depends on the size of what flows backward (matrix_exp's
        backward chooses its squarings by the grad_output's norm)."""
        return cls(apart, apart,
                   f"computing its truth again for f times 2^{power} and scaling back, which changes "
                   f"nothing but rounding (a relative {apart:.2g} apart)",
                   "a backward whose rounding grows with the size of f's values, as matrix_exp's "
                   "does; scale f to values near 1, or use another seed")

    @property
    def bound(self) -> float:
        """The largest difference this rounding explains: ROUNDING_SAFETY times it, the rounding
        counted up to TRUTH_ROUNDING_MAX (so never past 1.2e-7)."""
        return ROUNDING_SAFETY * min(self.relative, TRUTH_ROUNDING_MAX)

    def describe(self) -> str:
        return f"autograd's own rounding here is about a relative {self.relative:.2g}, measured by {self.how}"


def truth_rounding(low: Measurement, high: Measurement) -> list[TruthRounding | None]:
    """For each comparison of ``low`` (a measurement in float32 at float32-rounded inputs) and
    ``high`` (the same measurement, same directions, in float64 at the same inputs): the float64
    truth's measured rounding, or None where it cannot be measured (shapes that differ, a truth
    that is not finite or is 0, a truth whose largest entry is outside float32's normal range with
    all its digits, where underflow or overflow and not rounding sets the float32 truth's error).

    >>> J = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> def m(t): return Measurement(claimed=t, true=t, tolerance=0.0, resolution=0.0, floor=0.0)
    >>> [f"{r.apart:.2g}" for r in truth_rounding(m((J * (1 + 1e-3)).float()), m(J))]
    ['0.001']
    """
    out: list[TruthRounding | None] = []
    for i, part in enumerate(high.parts):
        other = low.parts[i] if i < len(low.parts) else None
        apart = None if other is None else _apart(other.true, part.true, in_range=True)
        out.append(None if apart is None else TruthRounding.in_low_precision(apart))
    return out


def rescaled_rounding(truth: Callable[[float], torch.Tensor], out: torch.Tensor) -> TruthRounding | None:
    """The rounding of ``truth(1)`` (autograd's whole derivative of f) against ``truth(c) / c``,
    the same derivative of f times c = 2^k, the power of two that brings f's largest entry
    nearest 1: an exact scaling, so the two differ by nothing but rounding. None when f's largest
    entry is already within a factor 2 of 1, or a truth is not finite or is 0.

    >>> x = torch.tensor([0.5, 2.0], dtype=torch.float64)
    >>> def J(c): return torch.diag(c * 1e9 * 2 * x)          # of f = 1e9 x^2, exact
    >>> rescaled_rounding(J, 1e9 * x * x).apart
    0.0
    """
    finite = out[torch.isfinite(out)].abs() if out.numel() else out
    largest = float(finite.max()) if finite.numel() else 0.0
    power = -round(math.log2(largest)) if 0 < largest < math.inf else 0
    if power == 0:
        return None
    again = truth(2.0**power).detach().to(torch.float64) * 2.0**-power
    apart = _apart(again, truth(1.0).detach(), in_range=False)
    return None if apart is None else TruthRounding.rescaled(apart, power)


def larger(*found: list[TruthRounding | None]) -> list[TruthRounding | None]:
    """Per comparison, the larger of several measured roundings (None where none was measured).

    >>> a, b = TruthRounding.in_low_precision(0.1), TruthRounding.in_low_precision(0.2)
    >>> larger([a, None], [b]) == [b, None]
    True
    """
    out: list[TruthRounding | None] = []
    for i in range(max((len(f) for f in found), default=0)):
        seen = [f[i] for f in found if i < len(f) and f[i] is not None]
        out.append(max(seen, key=lambda r: r.relative) if seen else None)  # type: ignore[union-attr]
    return out


def _apart(other: torch.Tensor, truth: torch.Tensor, *, in_range: bool) -> float | None:
    """||other - truth|| / ||truth||, or None when it measures no rounding of ``truth``; with
    ``in_range``, ``other`` is a float32 computation, which says something of float64 only when
    the truth's largest entry keeps all of float32's digits (underflow or overflow set an error
    that does not scale with eps)."""
    if other.shape != truth.shape or not bool(torch.isfinite(other).all()) \
            or not bool(torch.isfinite(truth).all()):
        return None
    size = norm(truth)
    if not 0 < size < math.inf:
        return None
    if in_range:
        info = torch.finfo(TRUTH_PROBE)
        if not info.tiny / info.eps <= float(truth.abs().max()) <= info.max * info.eps:
            return None
    return norm(other.to(torch.float64) - truth.to(torch.float64)) / size


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
