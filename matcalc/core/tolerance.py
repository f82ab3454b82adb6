"""The tolerance policy, written down once.

A check compares the claim D with the true derivative J by the normwise relative error

    error = ||D - J||_F / max(||J||_F, S)

computed in units of the largest entry, so that values near float64's range neither overflow nor
underflow. The floor S is never ||f||: a constant c in f = c + g(x) would make it as large as c,
and a claim of 0 would pass. An autograd truth has no floor (S = 0); when the relative error
fails, the truth's own rounding is measured (check.py re-measures at inputs moved by a few ulps),
and a truth that is rounding noise is a zero truth: a claim within that noise passes, any other
fails. Finite differences (the Taylor oracle) know their truth only to a measured error, so their
floor is the variation of f itself under a finite perturbation of all of its inputs
(matcalc/oracles/fd.py), which a constant term cancels out of. The decision is taken in float64
(see check.py), so the tolerance below is float64's; the low dtypes report their accuracy beside
the verdict. The check passes when ``error <= tolerance(dtype, size, conditioned)``:

    tolerance = C[dtype] * eps(dtype) * sqrt(size) * (KAPPA ** p[dtype] if conditioned else 1)

Why this shape:
  * The reference is autograd, exact up to rounding, so the bound is a multiple of eps and not a
    finite-difference step.
  * Both sides are sums of products over at most ``size`` terms; blocked BLAS sums give errors that
    grow like sqrt(size) in practice, not like size.
  * Inputs drawn with a conditioned structure (invertible, spd, full column rank, separated
    eigenvalues) have condition number at most KAPPA = 10 by construction (see domains.py).
    Derivatives through an inverse are conditioned like d(X^-1) = -X^-1 dX X^-1, i.e. up to
    KAPPA^2, so float64 (where claim and oracle both round) uses p = 2. Every check is decided in
    float64 (check.py), so the float64 row is the verdict's bound in every dtype; the lower-precision
    rows (p = 1) only bound the accuracy report of a check in that dtype (a hint when the claim
    evaluates far worse than autograd there). The 100-seed sweep (`matcalc sweep`) records how far
    below these bounds the true rules stay.
  * C = 64 for float32/float64 leaves room for a formula that rounds differently than autograd
    while staying far below the errors a wrong claim makes: at n = 8192 float32 still rejects a
    relative error of 1e-3 and float64 one of 1e-10.
  * float16/bfloat16 have 11 and 8 significant bits; their rows (C = 4) serve the accuracy report
    only: at n = 1024 bfloat16's bound would pass an all-zero Jacobian, which is why no verdict is
    taken in a low dtype.

A claim computed in a low dtype against a float64 truth (a backward run in float32). The claim
is fn's backward in that dtype; the tolerance is :func:`low_precision_tolerance`:

    LOW_PRECISION_FACTOR * (error of the truth's own computation in that dtype) + tolerance(dtype, size)

Why the factor is 8: a correct hand-written backward computes the same quantities as autograd in a
different order (fused or split reductions, a saved rstd instead of a recomputed one), so its
rounding error is of the same order as autograd's but not equal to it; the 100-seed sweep
(bench/backward_vs_gradcheck.py --seeds 100) measures the largest ratio a correct Function
reaches. A formula bug (a factor, a transpose, a dropped term, a zero) is an O(1) relative error
(at least ~1/sqrt(n) for a dropped mean term), far above 8x the few-eps error autograd makes, in
every dtype; the tolerance(dtype, size) floor keeps a lucky near-exact autograd from making the
bound vanish. The truth's own error is also the comparison's resolution: past MAX_RESOLUTION the
dtype cannot decide (inconclusive), never a wider tolerance.

The floor of a zero truth in one pass (:func:`pass_floor`). A correct backward whose true gradient
is exactly 0 (a bias before a batch norm) returns rounding noise at the scale of the other
gradients of the same pass, not 0; the relative error of each gradient is therefore floored at
the largest true gradient of the pass (per entry, by :func:`rms`), as a rule's error is floored at
the size its derivative naturally has.

Finite differences as the truth (:func:`fd_tolerance`). Their error is measured in every direction
(matcalc/oracles/fd.py) and goes to the verdict as the truth's error, which never widens the
tolerance: a claim within it is inconclusive unless the truth is known to within TRUTH_SLACK
tolerances (matcalc/engine/verdict.py). The tolerance is set before anything is measured, from
what eps and the step make of f's rounding: FD_SAFETY times that rounding, relative to the
differences (the finest error the differences could ever resolve), at most FD_TOLERANCE_CAP (in
float64 the Taylor oracle's tolerance), and at least the dtype's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

KAPPA = 10.0
CONDITIONED_STRUCTURES = frozenset(
    {"invertible", "spd", "full_column_rank", "separated_eigenvalues"}
)
SAFETY: dict[torch.dtype, float] = {
    torch.float64: 64.0,
    torch.float32: 64.0,
    torch.float16: 4.0,
    torch.bfloat16: 4.0,
}


def eps(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).eps)


KAPPA_POWER: dict[torch.dtype, int] = {
    torch.float64: 2,
    torch.float32: 1,
    torch.float16: 1,
    torch.bfloat16: 1,
}


def tolerance(dtype: torch.dtype, size: int, conditioned: bool = False) -> float:
    """The largest relative error a true rule may show.

    >>> tolerance(torch.float64, 64, True) < 1e-6 and tolerance(torch.float32, 64, True) < 1e-3
    True
    """
    growth = math.sqrt(max(size, 1)) * (KAPPA ** KAPPA_POWER[dtype] if conditioned else 1.0)
    return SAFETY[dtype] * eps(dtype) * growth


def norm(t: torch.Tensor) -> float:
    """The Frobenius norm in float64 without overflow or underflow: in units of the largest entry.

    >>> f"{norm(torch.tensor([3e200, 4e200], dtype=torch.float64)):.6g}"
    '5e+200'
    """
    if t.numel() == 0:
        return 0.0
    t64 = t.detach().to(torch.float64)
    unit = float(t64.abs().max())
    if not 0 < unit < math.inf:
        return unit
    return unit * float(torch.linalg.vector_norm(t64 / unit))


def relative_error(claim: torch.Tensor, true: torch.Tensor, floor: float = 0.0) -> float:
    """Normwise relative error ||D - J|| / max(||J||, floor); inf when either side is not finite,
    so NaN never passes.

    >>> relative_error(torch.tensor([2.0]), torch.tensor([1.0]))
    1.0
    """
    if claim.is_complex() or true.is_complex():
        return math.inf
    if not bool(torch.isfinite(claim).all()) or not bool(torch.isfinite(true).all()):
        return math.inf
    c, t = claim.to(torch.float64), true.to(torch.float64)
    # Norms of values near float64's range overflow; measuring in units of the largest entry
    # keeps the ratio exact.
    unit = max(float(c.abs().max()) if c.numel() else 0.0, float(t.abs().max()) if t.numel() else 0.0)
    if not 0 < unit < math.inf:
        unit = 1.0
    denom = max(float(torch.linalg.vector_norm(t / unit)), floor / unit, TINY)
    return float(torch.linalg.vector_norm((c - t) / unit)) / denom


TINY = float(torch.finfo(torch.float64).tiny)
# The spacing of float64's subnormals: below TINY a value keeps only log2(|v| / SUBNORMAL) bits.
SUBNORMAL = 2.0**-1074
# A measured rounding (the change of a side when the inputs move by a few ulps, or a finite
# difference's error) explains a difference up to this many times itself: the same allowance the
# tolerance gives eps (SAFETY), so a measured quantity never gets less room than an assumed one.
ROUNDING_SAFETY = 64.0
# A measured rounding up to this (relative) still decides: a difference within it is rounding, and
# every wrong formula (a factor, a transpose, a dropped term; DESIGN's 1e-6) is far outside it.
# Past it the sample is too ill-conditioned to tell a formula from rounding: inconclusive.
ROUNDING_CAP = 1e-10
# A check whose resolution is coarser than this cannot tell a wrong formula (a factor, a
# transpose, a dropped term) from rounding: it never passes, and it fails only a claim beyond the
# truth's own measured error (matcalc/engine/verdict.py).
MAX_RESOLUTION = 1e-2
# autograd's own rounding, where nudging the inputs cannot show it (1 - tanh(s)^2 near saturation:
# tanh does not move): its truth is computed again in TRUTH_PROBE and in float64 at the same
# TRUTH_PROBE-rounded inputs (matcalc/oracles/rounding.py), and the float64 truth's relative error
# is their relative distance times eps(float64) / eps(TRUTH_PROBE): a cancellation or an
# ill-conditioned step loses the same number of digits in both dtypes. A distance past 1 (float32
# kept no digit) counts as 1, so the measured rounding is at most TRUTH_ROUNDING_MAX = 2^-29, and
# the largest difference it can explain, ROUNDING_SAFETY times that, is 1.2e-7: a wrong formula
# beyond that (DESIGN's 1e-6) still fails. A difference within it is inconclusive, never a pass:
# the estimate is a scaling law, not a bound.
TRUTH_PROBE = torch.float32
TRUTH_ROUNDING_MAX = eps(torch.float64) / eps(TRUTH_PROBE)


# A finite difference's rounding, as eps and the step set it, explains a difference up to this
# many times itself; its measured error is a bound with the same safety in it.
FD_SAFETY = 4.0
# The most a finite-difference truth's rounding may set the tolerance to: in float64 the Taylor
# oracle's fixed tolerance (check() decides by it against finite differences); below float64,
# the resolution past which nothing is decided. Rounding beyond it (a large constant term of f,
# a sum that cancels) leaves the truth coarser than the tolerance: inconclusive, never wider.
FD_TOLERANCE_CAP: dict[torch.dtype, float] = {
    torch.float64: 1e-8,
    torch.float32: 1e-2,
    torch.float16: 1e-2,
    torch.bfloat16: 1e-2,
}
LOW_PRECISION_FACTOR = 8.0


def low_precision_tolerance(own: float, dtype: torch.dtype, size: int) -> float:
    """The tolerance of a claim computed in ``dtype`` against a float64 truth, when the truth's own
    computation in ``dtype`` is off by the relative error ``own`` (0 in float64).

    >>> low_precision_tolerance(0.0, torch.float64, 64) == tolerance(torch.float64, 64)
    True
    >>> low_precision_tolerance(1e-6, torch.float32, 64) > 8e-6
    True
    """
    return LOW_PRECISION_FACTOR * own + tolerance(dtype, size)


def fd_tolerance(rounding: float, floor: float, dtype: torch.dtype = torch.float64) -> float:
    """The tolerance against finite differences in ``dtype`` whose rounding (relative to them,
    from eps and the step: matcalc.oracles.fd.FiniteDifferences.rounding_resolution) is
    ``rounding``, at most FD_TOLERANCE_CAP[dtype]; ``floor`` is the tolerance the claim's dtype
    alone gives (:func:`low_precision_tolerance`).

    >>> fd_tolerance(1e-12, 1e-14)
    4e-12
    >>> fd_tolerance(1e-2, 1e-14)   # f's rounding is large: the truth is coarse, the tolerance is not
    1e-08
    """
    return max(floor, min(FD_SAFETY * rounding, FD_TOLERANCE_CAP[dtype]))


def rms(t: torch.Tensor) -> float:
    """Root mean square, without overflow: in units of the largest entry; inf when t is not finite.

    >>> f"{rms(torch.tensor([3e200, 4e200], dtype=torch.float64)):.6g}"   # 1e200 * sqrt(12.5)
    '3.53553e+200'
    """
    if t.numel() == 0:
        return 0.0
    t64 = t.detach().to(torch.float64)
    unit = float(t64.abs().max())
    if not 0 < unit < math.inf:
        return unit if math.isfinite(unit) else math.inf
    return unit * float(torch.linalg.vector_norm(t64 / unit)) / math.sqrt(t64.numel())


def pass_floor(truths: Mapping[str, torch.Tensor], name: str) -> float:
    """The zero-truth floor of ``truths[name]``: the largest true value of the pass, per entry of
    every tensor in ``truths``, expressed for ``name``'s number of entries.

    >>> t = {"x": torch.full((4,), 3.0), "b": torch.zeros(9)}
    >>> pass_floor(t, "b")
    9.0
    """
    per_entry = max((rms(t) for t in truths.values()), default=0.0)
    return per_entry * math.sqrt(max(truths[name].numel(), 1))
