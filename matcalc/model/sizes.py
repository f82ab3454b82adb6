"""Size assignments: scaling a rule's dims to a target n, the second default assignment, and the
range of a seed.

Dims stay at least 2 and pairwise distinct, in the order of their default sizes, so that no matrix
is 1 x 1 (trivially symmetric, diagonal, ...) and no transposed claim passes because a matrix
happens to be square. A target too small for that is refused.

Example::

    >>> scaled_sizes(["m", "n"], 64)
    {'m': 38, 'n': 64}
    >>> second_sizes({"m": 3, "n": 5})
    {'m': 4, 'n': 8}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matcalc.errors import MatcalcError
from matcalc.model.domains import DEFAULT_SIZES

# Seeds are ints in [0, SEED_LIMIT): torch.manual_seed's range. Every seed check and every derived
# seed (seed + 1 for a second draw) uses this one bound.
SEED_LIMIT = 2**63


def _ratio(d: str, i: int) -> float:
    return DEFAULT_SIZES.get(d, 5 + i) / DEFAULT_SIZES["n"]


def scaled_sizes(dims: Iterable[str], n: int) -> dict[str, int]:
    """``n`` for dim "n"; other dims keep their default ratio to n (m = 3n/5, k = 4n/5, ...),
    at least 2, distinct and in the defaults' order."""
    names = sorted(dims, key=lambda d: (d != "n", d))
    ratios = {d: _ratio(d, i) for i, d in enumerate(names)}
    out: dict[str, int] = {}
    prev = 1
    for d in sorted(names, key=lambda d: (ratios[d], d)):
        size = n if d == "n" else max(2, round(n * ratios[d]))
        size = max(size, prev + 1)
        out[d] = size
        prev = size
    if "n" in out and out["n"] != n:
        smallest = next(m for m in range(n + 1, n + 64) if _fits(names, m))
        raise MatcalcError(
            f"n={n} is too small for dims {', '.join(sorted(names))}: they must stay distinct and at "
            f"least 2 (a 1 x 1 or accidentally square matrix makes a structure trivial); use n >= "
            f"{smallest}"
        )
    return dict(sorted(out.items()))


def _fits(names: list[str], n: int) -> bool:
    try:
        scaled_sizes(names, n)
    except MatcalcError:
        return False
    return True


def second_sizes(first: Mapping[str, int]) -> dict[str, int]:
    """The second size assignment a default check runs at: the j-th smallest dim grows by 2j + 1.

    A claim can hide behind any relation the first assignment happens to satisfy, so the second
    one breaks each: every dim changes parity (d det(-X)/dX = -det(X) X^-T holds at every odd n:
    the two assignments check an odd and an even n), every difference between two dims changes
    (a claim that takes m for n - 2 meets another gap), and a size baked into a claim
    (torch.eye(5)) meets another n. The order of the dims is kept, so they stay distinct (no
    matrix becomes square by accident) and rows >= cols stays true where a structure needs it;
    every dim stays at least 2 (a 1 x 1 matrix is trivially symmetric, diagonal, ...).

    >>> second_sizes({"k": 4, "m": 3, "n": 5})
    {'k': 7, 'm': 4, 'n': 10}
    """
    order = sorted(first, key=lambda d: (first[d], d))
    return {d: first[d] + 2 * order.index(d) + 1 for d in first}
