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
"""

from __future__ import annotations

import math

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
# transpose, a dropped term) from rounding: it is inconclusive, never a pass.
MAX_RESOLUTION = 1e-2
