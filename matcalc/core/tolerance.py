"""The tolerance policy, written down once.

A check compares the claim D with the true derivative J by the normwise relative error

    error = ||D - J||_F / max(||J||_F, S)

where S is the size a derivative of this f naturally has, ||f(x)|| / ||x|| (a homogeneous f of
degree p has ||J x|| = p ||f||, so ||J|| >= p S; for a Hessian S = |f| / ||x||^2). The floor makes
a true derivative of exactly 0 comparable: autograd's truth is then rounding noise at the scale of
the computation (~eps * S), an exact zero claim passes, and a nonzero claim fails. The decision is
taken in float64 (see check.py), so the tolerance below is float64's; the low dtypes report their
accuracy beside the verdict. The check passes when ``error <= tolerance(dtype, size, conditioned)``:

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
# A check whose resolution is coarser than this cannot tell a wrong formula (a factor, a
# transpose, a dropped term) from rounding: it is inconclusive, never a pass.
MAX_RESOLUTION = 1e-2
