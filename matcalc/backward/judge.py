"""The truths a backward is judged against, as measurements for the one verdict.

A :class:`ReferenceTruth` holds the reference's gradients (its autograd in float64) and one
tolerance per input; an :class:`FDTruth` holds finite-difference values of u^T J e along a few
directions e, each with its own measured error. Both turn a claimed set of gradients into
:class:`~matcalc.oracles.base.Measurement`s, and :func:`matcalc.engine.verdict.judge` decides each
one, exactly as it decides a rule: the same relative error (in units of the largest entry, floored
for a zero truth), the same resolution guard, the same NaN handling.

The low-precision policy (written once, here). In float64, a gradient passes when its normwise
relative error is within :func:`matcalc.core.tolerance.tolerance`. Below float64, the claim (fn's
backward run in that dtype) is compared with the float64 truth, and the tolerance is

    FACTOR * (error of the reference's own autograd in that dtype) + tolerance(dtype, size)

Why FACTOR = 8: a correct hand-written backward computes the same quantities as autograd in a
different order (fused or split reductions, a saved rstd instead of a recomputed one), so its
rounding error is of the same order as autograd's but not equal to it; the 100-seed sweep
(bench/backward_vs_gradcheck.py --seeds 100) measures the largest ratio a correct Function
reaches. A formula bug (a factor, a transpose, a dropped term, a zero) is an O(1) relative error
(at least ~1/sqrt(n) for a dropped mean term), far above 8x the few-eps error autograd makes, in
every dtype; the tolerance(dtype, size) floor keeps a lucky near-exact autograd from making the
bound vanish.

The floor of a zero truth. A correct backward whose true gradient is exactly 0 (a bias before a
batch norm) returns rounding noise at the scale of the other gradients of the same backward pass,
not 0; the relative error of each input is therefore floored at the largest true gradient of the
pass (all inputs, in units of each input's entries), as a rule's error is floored at the size its
derivative naturally has.

Example::

    >>> import torch
    >>> t = {"x": torch.ones(3, dtype=torch.float64)}
    >>> j = ReferenceTruth(t, {"x": 1e-12})
    >>> m = j.measurements({"x": 2 * t["x"]})["x"]
    >>> float(m.claimed[0]), float(m.true[0])
    (2.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from matcalc.backward.truth import FiniteDifferences
from matcalc.oracles.base import Measurement

FACTOR = 8.0
ALL = "(all inputs)"


def finite(x: torch.Tensor) -> bool:
    return bool(torch.isfinite(x).all())


def _rms(t: torch.Tensor) -> float:
    """Root mean square, without overflow: in units of the largest entry."""
    if t.numel() == 0:
        return 0.0
    t64 = t.detach().to(torch.float64)
    unit = float(t64.abs().max())
    if not 0 < unit < math.inf:
        return unit if math.isfinite(unit) else math.inf
    return unit * float(torch.linalg.vector_norm(t64 / unit)) / math.sqrt(t64.numel())


@dataclass
class ReferenceTruth:
    """The reference's float64 gradients and one tolerance per input."""

    truth: dict[str, torch.Tensor]
    tolerance: dict[str, float]
    # Floors fixed by the whole pass, when this truth is a subset of it (one input at a time).
    floors: dict[str, float] | None = None
    # Below float64: the reference's own error in the check's dtype, per input: the smallest
    # relative error that dtype resolves for this computation. Past the verdict's resolution guard
    # the dtype cannot decide (f underflows, say): inconclusive, never a wider tolerance.
    resolutions: dict[str, float] | None = None

    def floor(self, name: str) -> float:
        """The zero-truth floor of ``name``: the largest true gradient of the pass, per entry of
        every input, expressed for ``name``'s number of entries."""
        if self.floors is not None:
            return self.floors[name]
        per_entry = max((_rms(t) for t in self.truth.values()), default=0.0)
        return per_entry * math.sqrt(max(self.truth[name].numel(), 1))

    def measurements(self, grads: Mapping[str, torch.Tensor]) -> dict[str, Measurement]:
        out = {}
        for name, true in self.truth.items():
            claim = grads[name]
            out[name] = Measurement(
                claimed=claim.detach(), true=true, tolerance=self.tolerance[name],
                resolution=0.0 if self.resolutions is None else self.resolutions.get(name, 0.0),
                floor=self.floor(name), what=f"the gradient of {name!r} against the reference's autograd")
        return out


@dataclass
class FDTruth:
    """Finite differences of fn's forward along a few directions, with their measured errors."""

    fd: FiniteDifferences
    tol: float
    # Below float64, with a float64 truth: fn's own forward error in the check's dtype (how much
    # this computation rounds there); the tolerance adds FACTOR x it, as for a reference.
    rounding: float = 0.0

    @property
    def tolerance(self) -> dict[str, float]:
        return {ALL: self.tol}

    def measurements(self, grads: Mapping[str, torch.Tensor]) -> dict[str, Measurement]:
        names = self.fd.directions[0].keys() if self.fd.directions else ()
        if not all(finite(grads[n]) for n in names):
            bad = next(n for n in names if not finite(grads[n]))
            flat = grads[bad].detach().reshape(-1)
            claimed = flat[~torch.isfinite(flat)][:1].to(torch.float64)  # a non-finite entry
            return {ALL: Measurement(claimed=claimed, true=torch.zeros_like(claimed), tolerance=self.tol,
                                     resolution=self.fd.resolution, floor=0.0,
                                     what=f"the gradient of {bad!r} is not finite")}
        return {ALL: Measurement(
            claimed=self.fd.project(grads), true=self.fd.values, tolerance=self.tol,
            resolution=max(self.fd.resolution, self.rounding), floor=0.0, materialized=False,
            what=f"u^T J v along {len(self.fd.directions)} random directions against finite differences")}


Truth = ReferenceTruth | FDTruth

