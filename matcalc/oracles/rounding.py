"""How accurately the numbers of a check are known, measured rather than assumed.

* :func:`nudged`: the inputs moved by a few ulps, entrywise and multiplicatively (zeros, signs and
  symmetry are kept): measuring a claim and its truth again there shows how much each side rounds
  at this sample, whatever makes it round (an inverse of an ill-conditioned matrix, a matrix
  exponential of a large matrix, a long sum). A difference within that rounding is not evidence
  against the claim.
* :func:`precision_of`: the precision f really computed in: a float64 output whose every entry is
  exactly a float32 (or float16, bfloat16) number came from that dtype (a ``.float()`` inside f),
  and autograd's truth through f is no more accurate than it.

Example::

    >>> import torch
    >>> precision_of(torch.tensor([0.1], dtype=torch.float32).double())
    torch.float32
    >>> precision_of(torch.tensor([0.1], dtype=torch.float64)) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

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
