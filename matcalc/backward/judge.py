"""Judges: how far a set of claimed gradients is from the truth, and what may be tolerated.

A :class:`ReferenceJudge` holds the truth tensors (reference autograd, float64 when the check runs
lower) and one tolerance per input; an :class:`FDJudge` holds finite-difference values of u^T J e
along a few directions e and compares the claim's <grad, e> with them.

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

Example::

    >>> import torch
    >>> t = {"x": torch.ones(3, dtype=torch.float64)}
    >>> j = ReferenceJudge(t, {"x": 1e-12})
    >>> j.errors({"x": 2 * t["x"]})["x"]
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from matcalc.backward.truth import FiniteDifferences, along
from matcalc.core.tolerance import eps

FACTOR = 8.0
ALL = "(all inputs)"


def relative_error(claim: torch.Tensor, true: torch.Tensor) -> float:
    """matcalc.core.tolerance.relative_error's value (||D - J|| / max(||J||, eps)) in two passes over
    memory instead of five: a NaN or Inf anywhere makes a norm non-finite, so it still never
    passes (this runs several times per check on tensors of up to 10^8 entries)."""
    t = true if true.dtype == torch.float64 else true.to(torch.float64)
    diff = float(torch.linalg.vector_norm(claim.to(torch.float64) - t))
    norm = float(torch.linalg.vector_norm(t))
    if not (math.isfinite(diff) and math.isfinite(norm)):
        return math.inf
    return diff / max(norm, eps(true.dtype))


def finite(x: torch.Tensor) -> bool:
    return math.isfinite(float(torch.linalg.vector_norm(x, dtype=torch.float64)))


@dataclass
class ReferenceJudge:
    truth: dict[str, torch.Tensor]
    tolerance: dict[str, float]

    def errors(self, grads: Mapping[str, torch.Tensor]) -> dict[str, float]:
        out = {}
        for name, true in self.truth.items():
            claim = grads[name]
            out[name] = (relative_error(claim, true) if tuple(claim.shape) == tuple(true.shape)
                         else float("inf"))
        return out


@dataclass
class FDJudge:
    fd: FiniteDifferences
    tol: float

    @property
    def tolerance(self) -> dict[str, float]:
        return {ALL: self.tol}

    def errors(self, grads: Mapping[str, torch.Tensor]) -> dict[str, float]:
        names = self.fd.directions[0].keys() if self.fd.directions else ()
        if not all(finite(grads[n]) for n in names):
            return {ALL: math.inf}
        return {ALL: relative_error(along(grads, self.fd.directions), self.fd.values)}


Judge = ReferenceJudge | FDJudge


def failing(judge: Judge, errors: Mapping[str, float]) -> list[str]:
    """Names whose error exceeds their tolerance (NaN and inf never pass)."""
    return [n for n, e in errors.items() if not e <= judge.tolerance[n]]
