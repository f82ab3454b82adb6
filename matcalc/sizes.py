"""Scaling a rule's dims to a target n while keeping them distinct.

Example::

    >>> scaled_sizes(["m", "n"], 64)
    {'m': 38, 'n': 64}
"""

from __future__ import annotations

from collections.abc import Iterable

from matcalc.domains import DEFAULT_SIZES


def scaled_sizes(dims: Iterable[str], n: int) -> dict[str, int]:
    """``n`` for dim "n"; other dims keep their default ratio to n (m = 3n/5, k = 4n/5, ...),
    nudged apart so no two dims are equal (a transposed claim must not pass by squareness)."""
    out: dict[str, int] = {}
    taken: set[int] = set()
    ordered = sorted(dims, key=lambda d: (d != "n", d))
    for i, d in enumerate(ordered):
        ratio = DEFAULT_SIZES.get(d, 5 + i) / DEFAULT_SIZES["n"]
        size = max(1, round(n * ratio))
        while size in taken:
            size += 1
        taken.add(size)
        out[d] = size
    return dict(sorted(out.items()))
