"""Drawing one input of a domain: every sampler draws in float64 on the target device from a
private generator, then casts to the requested dtype, so a structure (symmetry, orthogonality) is
built at full precision and only rounded once. Structures that must stay exact after rounding
(symmetric, diagonal) are re-imposed after the cast.

Inputs of 2^20 entries or more (``matcalc.draws.large.FAST_DRAW_MIN_NUMEL``) are drawn by
:mod:`matcalc.draws.large` instead, with the same guarantees, on threads and without the O(n^3)
factorizations; smaller draws are unchanged, bit for bit.

Example::

    >>> import torch, matcalc as mc
    >>> gen = torch.Generator().manual_seed(0)
    >>> draw(mc.matrix("n", "n", structure="spd"), (3, 3), gen, dtype=torch.float32, others={}).dtype
    torch.float32
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from matcalc.draws import large as sampling
from matcalc.errors import MatcalcError
from matcalc.model.domains import Domain


def _orthogonal(n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    g = torch.randn(n, n, generator=gen, device=device, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    # Fixing the signs by diag(R) makes Q Haar-distributed rather than biased by the QR convention.
    return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


def _uniform(shape: tuple[int, ...], lo: float, hi: float, gen: torch.Generator,
             device: torch.device) -> torch.Tensor:
    u = torch.rand(shape, generator=gen, device=device, dtype=torch.float64)
    return lo + (hi - lo) * u


def draw(
    domain: Domain,
    shape: tuple[int, ...],
    gen: torch.Generator,
    *,
    dtype: torch.dtype,
    others: Mapping[str, torch.Tensor],
) -> torch.Tensor:
    """Draw one input of ``domain`` with the resolved ``shape``.

    At and above :data:`matcalc.draws.large.FAST_DRAW_MIN_NUMEL` entries the samplers of
    :mod:`matcalc.draws.large` are used (same guarantees, faster); below it, the original ones.

    >>> import matcalc as mc
    >>> gen = torch.Generator().manual_seed(0)
    >>> draw(mc.vector("n"), (3,), gen, dtype=torch.float64, others={}).shape
    torch.Size([3])
    """
    device = gen.device
    s = domain.structure
    if s == "full_column_rank" and shape[0] < shape[1]:
        raise MatcalcError(
            f"structure 'full_column_rank' needs rows >= cols, got {shape[0]} x {shape[1]}: "
            "pass sizes with rows >= cols"
        )
    if sampling.is_large(shape):
        fast = sampling.draw_large(s, shape, gen, dtype)
        if fast is not None:
            if domain.distinct_from is None:
                return fast
            away = _away_from_zero(fast.to(torch.float64), gen)
            return (others[domain.distinct_from].to(torch.float64) + away).to(dtype)
    if s == "general":
        x = torch.randn(shape, generator=gen, device=device, dtype=torch.float64)
    elif s == "positive":
        x = _uniform(shape, 0.5, 2.0, gen, device)
    elif s == "nonzero":
        g = torch.randn(shape, generator=gen, device=device, dtype=torch.float64)
        radius = _uniform((), 0.5, 1.5, gen, device) * math.sqrt(g.numel())
        x = g / torch.linalg.vector_norm(g).clamp_min(1e-300) * radius
    elif s == "symmetric":
        g = torch.randn(shape, generator=gen, device=device, dtype=torch.float64)
        x = (g + g.T) / 2
    elif s in ("spd", "separated_eigenvalues"):
        n = shape[0]
        q = _orthogonal(n, gen, device)
        if s == "spd":
            lam = _uniform((n,), 1.0, 10.0, gen, device)
        else:
            steps = torch.arange(n, device=device, dtype=torch.float64) - n // 2
            lam = steps + _uniform((n,), 0.25, 0.75, gen, device)
        x = (q * lam) @ q.T
    elif s in ("invertible", "full_column_rank"):
        rows, cols = shape
        u = _orthogonal(rows, gen, device)[:, :cols]
        v = _orthogonal(cols, gen, device)
        sv = _uniform((cols,), 1.0, 10.0, gen, device)
        x = (u * sv) @ v.T
    elif s == "orthogonal":
        x = _orthogonal(shape[0], gen, device)
    elif s == "diagonal":
        x = torch.diag(torch.randn(shape[0], generator=gen, device=device, dtype=torch.float64))
    else:  # pragma: no cover - the constructors reject unknown structures
        raise MatcalcError(f"unknown structure {s!r}")
    if domain.distinct_from is not None:
        x = others[domain.distinct_from].to(torch.float64) + _away_from_zero(x, gen)
    x = x.to(dtype)
    if s in ("symmetric", "spd", "separated_eigenvalues"):
        # Rounding (Q L Q^T) to float32 breaks exact symmetry; re-impose it at the target dtype.
        x = (x + x.T) / 2
    return x


def _away_from_zero(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    radius = _uniform((), 0.5, 1.5, gen, x.device) * math.sqrt(max(x.numel(), 1))
    return x / torch.linalg.vector_norm(x).clamp_min(1e-300) * radius
