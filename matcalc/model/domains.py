"""Input domains: the shape and structure of each input, and the samplers that draw them.

Example::

    >>> import matcalc as mc
    >>> mc.matrix("n", "n", structure="spd").describe()
    'matrix n x n, spd'

Every sampler draws in float64 on the target device from a private generator, then casts to the
requested dtype, so a structure (symmetry, orthogonality) is built at full precision and only
rounded once. Structures that must stay exact after rounding (symmetric, diagonal) are re-imposed
after the cast.

Inputs of 2^20 entries or more (``matcalc.draws.large.FAST_DRAW_MIN_NUMEL``) are drawn by
:mod:`matcalc.sampling` instead, with the same guarantees at close to memory speed; smaller draws
are unchanged, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from matcalc.draws import large as sampling
from matcalc.errors import MatcalcError

Dim = str | int

# What each structure guarantees. This table is the documentation users see in `matcalc list`.
MATRIX_STRUCTURES: dict[str, str] = {
    "general": "i.i.d. N(0, 1) entries",
    "symmetric": "A = (G + G^T)/2, exactly symmetric",
    "spd": "Q diag(l) Q^T with l in [1, 10]: symmetric, eigenvalues in [1, 10], cond <= 10",
    "invertible": "U diag(s) V^T with s in [1, 10]: cond_2 <= 10",
    "orthogonal": (
        "Q^T Q = I: Haar-distributed (QR of a Gaussian, signs fixed) below 2^20 entries; "
        "at and above, P (I - 2 W W^T)(I - 2 V V^T) with P a random permutation"
    ),
    "diagonal": "diag(d) with d ~ N(0, 1), off-diagonal entries exactly 0",
    "full_column_rank": "rows >= cols, U diag(s) V^T with s in [1, 10]: cond_2 <= 10",
    "separated_eigenvalues": (
        "symmetric, eigenvalues l_i = i - n//2 + u_i, u_i in [0.25, 0.75]: gaps >= 0.5, |l_i| >= 0.25"
    ),
    "positive": "entries uniform in [0.5, 2]",
}
SQUARE_STRUCTURES = frozenset(
    {"symmetric", "spd", "invertible", "orthogonal", "diagonal", "separated_eigenvalues"}
)
VECTOR_STRUCTURES: dict[str, str] = {
    "general": "i.i.d. N(0, 1) entries",
    "nonzero": "norm in [0.5, 1.5] * sqrt(dim): bounded away from 0",
    "positive": "entries uniform in [0.5, 2]",
}
SCALAR_STRUCTURES: dict[str, str] = {
    "general": "N(0, 1)",
    "positive": "uniform in [0.5, 2]",
}

# Distinct small default sizes, so that a transposed claim cannot pass on a square matrix by luck.
DEFAULT_SIZES: dict[str, int] = {"n": 5, "m": 3, "k": 4, "p": 6, "q": 7, "r": 2}
_SPARE_SIZES = (8, 9, 10, 11, 12, 13, 14, 15, 16)


@dataclass(frozen=True)
class Domain:
    """How one input is drawn: a shape in symbolic dims and a structure.

    ``distinct_from`` names another input of the same shape that this one must differ from by a
    vector of norm at least ``0.5 * sqrt(dim)`` (used for ``x != a`` conditions).
    """

    shape: tuple[Dim, ...]
    structure: str = "general"
    distinct_from: str | None = None

    @property
    def kind(self) -> str:
        return ("scalar", "vector", "matrix", "tensor")[min(len(self.shape), 3)]

    def dims(self) -> set[str]:
        return {d for d in self.shape if isinstance(d, str)}

    def resolve(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)

    def with_structure(self, structure: str) -> Domain:
        return Domain(self.shape, structure, self.distinct_from)

    def describe(self) -> str:
        text = "scalar" if self.kind == "scalar" else f"{self.kind} {' x '.join(str(d) for d in self.shape)}"
        if self.structure != "general":
            text += f", {self.structure}"
        if self.distinct_from:
            text += f", != {self.distinct_from}"
        return text


def _check_dim(dim: object, what: str) -> None:
    if isinstance(dim, bool) or not isinstance(dim, str | int) or (
        isinstance(dim, int) and dim < 1
    ):
        raise MatcalcError(f"{what}: a dim must be a name like 'n' or a positive int, got {dim!r}")


def vector(
    dim: Dim, *, nonzero: bool = False, positive: bool = False, distinct_from: str | None = None
) -> Domain:
    """A vector input.

    >>> vector("n", nonzero=True).describe()
    'vector n, nonzero'
    """
    _check_dim(dim, "vector()")
    if nonzero and positive:
        raise MatcalcError("vector(): choose nonzero or positive, not both (positive implies nonzero)")
    structure = "nonzero" if nonzero else "positive" if positive else "general"
    return Domain((dim,), structure, distinct_from)


def matrix(rows: Dim, cols: Dim, *, structure: str = "general") -> Domain:
    """A matrix input with one of :data:`MATRIX_STRUCTURES`.

    >>> matrix("n", "m").describe()
    'matrix n x m'
    """
    _check_dim(rows, "matrix()")
    _check_dim(cols, "matrix()")
    if structure not in MATRIX_STRUCTURES:
        raise MatcalcError(
            f"unknown structure {structure!r}: use one of {', '.join(MATRIX_STRUCTURES)}"
        )
    if structure in SQUARE_STRUCTURES and rows != cols:
        raise MatcalcError(
            f"structure {structure!r} needs a square matrix: use matrix({rows!r}, {rows!r}, ...)"
        )
    return Domain((rows, cols), structure)


def scalar(*, positive: bool = False) -> Domain:
    """A 0-dim tensor input.

    >>> scalar(positive=True).describe()
    'scalar, positive'
    """
    return Domain((), "positive" if positive else "general")


def default_sizes(dims: set[str]) -> dict[str, int]:
    """Small, pairwise distinct sizes for the given dims."""
    sizes = {d: DEFAULT_SIZES[d] for d in dims if d in DEFAULT_SIZES}
    spare = (s for s in _SPARE_SIZES if s not in sizes.values())
    for d in sorted(dims - sizes.keys()):
        sizes[d] = next(spare)
    return sizes


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
    :mod:`matcalc.sampling` are used (same guarantees, memory speed); below it, the original ones.

    >>> gen = torch.Generator().manual_seed(0)
    >>> draw(matrix("n", "n", structure="spd"), (3, 3), gen, dtype=torch.float32, others={}).dtype
    torch.float32
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
