"""Input domains: the shape and structure of each input (matcalc.draws.samplers draws them).

Example::

    >>> import matcalc as mc
    >>> mc.matrix("n", "n", structure="spd").describe()
    'matrix n x n, spd'

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from matcalc.errors import MatcalcError

Dim = str | int
# A dim past this is beyond any device's memory (2**40 float32 entries is 4 TiB); past 2**63 torch
# cannot even index it. Refused when a domain is declared, and when a size is given to a check.
MAX_SIZE = 2**40

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

    def __post_init__(self) -> None:
        if not isinstance(self.shape, tuple):
            raise MatcalcError(f"Domain(): shape must be a tuple of dims, e.g. ('n', 'n'), got "
                               f"{self.shape!r}; or use mc.vector / mc.matrix / mc.scalar")
        for dim in self.shape:
            _check_dim(dim, "Domain()")

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
    if isinstance(dim, int) and dim > MAX_SIZE:
        raise MatcalcError(f"{what}: a dim of {dim} is beyond any device's memory (at most 2**40); "
                           "use a smaller size, or a named dim such as 'n' sized at check time")


def vector(
    dim: Dim, *, nonzero: bool = False, positive: bool = False, distinct_from: str | None = None
) -> Domain:
    """A vector input of length ``dim``.

    >>> import matcalc as mc
    >>> mc.vector("n").describe(), mc.vector("n", nonzero=True).describe()
    ('vector n', 'vector n, nonzero')
    >>> mc.vector(3, positive=True).resolve({})
    (3,)

    Args:
        dim: a symbolic dim such as ``"n"`` (its size comes from ``sizes`` or the defaults) or a
            fixed positive int.
        nonzero: draw a vector bounded away from 0 (norm in [0.5, 1.5] * sqrt(dim)), for claims
            that divide by its norm.
        positive: draw entries uniform in [0.5, 2], for claims with logs, roots or divisions.
        distinct_from: the name of another input of the same shape that this one must differ from
            by a norm of at least 0.5 * sqrt(dim) (a condition such as x != a).

    Returns:
        The :class:`Domain` to put in a rule's ``inputs``.

    Raises:
        MatcalcError: ``dim`` is neither a name nor a positive int, or both ``nonzero`` and
            ``positive`` are set (positive already implies nonzero).
    """
    _check_dim(dim, "vector()")
    if nonzero and positive:
        raise MatcalcError("vector(): choose nonzero or positive, not both (positive implies nonzero)")
    structure = "nonzero" if nonzero else "positive" if positive else "general"
    return Domain((dim,), structure, distinct_from)


def matrix(rows: Dim, cols: Dim, *, structure: str = "general") -> Domain:
    """A ``rows`` x ``cols`` matrix input with one of :data:`MATRIX_STRUCTURES`.

    >>> import matcalc as mc
    >>> mc.matrix("m", "n").describe()
    'matrix m x n'
    >>> mc.matrix("n", "n", structure="spd").describe()
    'matrix n x n, spd'

    Args:
        rows: the number of rows, a symbolic dim such as ``"m"`` or a fixed positive int.
        cols: the number of columns, likewise.
        structure: how the matrix is drawn: ``"general"`` (i.i.d. N(0, 1)), ``"symmetric"``,
            ``"spd"``, ``"invertible"`` (cond_2 <= 10), ``"orthogonal"``, ``"diagonal"``,
            ``"full_column_rank"``, ``"separated_eigenvalues"`` or ``"positive"``; each one's
            guarantee is in :data:`MATRIX_STRUCTURES` (and in ``matcalc list``).

    Returns:
        The :class:`Domain` to put in a rule's ``inputs``.

    Raises:
        MatcalcError: a dim is neither a name nor a positive int, the structure is unknown, or a
            square structure (symmetric, spd, ...) is asked of a matrix whose dims differ.
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
    """A scalar input: a 0-dim tensor.

    >>> import matcalc as mc
    >>> mc.scalar().describe(), mc.scalar(positive=True).describe()
    ('scalar', 'scalar, positive')

    Args:
        positive: draw it uniform in [0.5, 2] rather than from N(0, 1), for claims with logs,
            roots or divisions.

    Returns:
        The :class:`Domain` to put in a rule's ``inputs``.

    Raises:
        Nothing: every argument is valid.
    """
    return Domain((), "positive" if positive else "general")


def default_sizes(dims: set[str]) -> dict[str, int]:
    """Small, pairwise distinct sizes for the given dims."""
    sizes = {d: DEFAULT_SIZES[d] for d in dims if d in DEFAULT_SIZES}
    spare = (s for s in _SPARE_SIZES if s not in sizes.values())
    for d in sorted(dims - sizes.keys()):
        sizes[d] = next(spare)
    return sizes
