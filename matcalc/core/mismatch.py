"""Where a claim and the truth differ, entry by entry, in the style of torch.testing.assert_close.

Example::

    >>> import torch
    >>> m = mismatch(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 2.0, 3.0]), tol=1e-12)
    >>> m.count, m.max_abs_index
    (1, (2,))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Mismatch:
    """Where claim and truth differ, entry by entry.

    ``max_rel`` is the greatest relative difference over the entries where the truth is nonzero
    (NaN when the truth is 0 everywhere: no entry has a relative difference).
    """

    count: int
    total: int
    max_abs: float
    max_abs_index: tuple[int, ...]
    max_rel: float
    max_rel_index: tuple[int, ...]
    claim_value: float
    true_value: float
    indices: tuple[tuple[int, ...], ...]

    def describe(self) -> str:
        """One line: how many entries differ, and the greatest differences.

        >>> import torch
        >>> text = mismatch(torch.ones(2), torch.zeros(2), tol=1e-12).describe()
        >>> text.split("; ")[-1]
        'the true derivative is 0 everywhere'
        """
        text = (
            f"mismatched elements: {self.count} / {self.total} "
            f"({100.0 * self.count / max(self.total, 1):.1f}%); "
            f"greatest absolute difference: {self.max_abs:.3g} at index {self.max_abs_index} "
            f"(claim {self.claim_value:.6g}, true {self.true_value:.6g}); "
        )
        if math.isnan(self.max_rel):
            return text + "the true derivative is 0 everywhere"
        return text + f"greatest relative difference: {self.max_rel:.3g} at index {self.max_rel_index}"


def unravel(flat: int, shape: torch.Size | tuple[int, ...]) -> tuple[int, ...]:
    """The multi-index of a flat index.

    >>> unravel(5, (2, 3))
    (1, 2)
    """
    out = []
    for size in reversed(tuple(shape)):
        out.append(flat % size)
        flat //= size
    return tuple(reversed(out))


def mismatch(claim: torch.Tensor, true: torch.Tensor, tol: float, listed: int = 5) -> Mismatch:
    """Entrywise comparison of two same-shape tensors; an entry mismatches when
    |d - j| > tol * (|j| + rms(J)), the entrywise reading of the normwise test.

    >>> import torch
    >>> mismatch(torch.ones(4), torch.zeros(4), tol=1e-12).count
    4
    """
    c, t = claim.detach().to(torch.float64).cpu(), true.detach().to(torch.float64).cpu()
    diff = (c - t).abs()
    diff = torch.where(torch.isfinite(diff), diff, torch.full_like(diff, math.inf))
    bad = bad_entries(c, t, tol)
    nonzero = t != 0
    rel = torch.where(nonzero, diff / t.abs().clamp_min(torch.finfo(torch.float64).tiny),
                      torch.zeros_like(diff))
    flat_abs = int(torch.argmax(diff).item()) if diff.numel() else 0
    flat_rel = int(torch.argmax(torch.nan_to_num(rel, nan=math.inf)).item()) if rel.numel() else 0
    flat_bad = torch.nonzero(bad.reshape(-1)).reshape(-1)[:listed].tolist()
    return Mismatch(
        count=int(bad.sum()),
        total=bad.numel(),
        max_abs=float(diff.reshape(-1)[flat_abs]) if diff.numel() else 0.0,
        max_abs_index=unravel(flat_abs, t.shape),
        max_rel=float(rel.reshape(-1)[flat_rel]) if bool(nonzero.any()) else math.nan,
        max_rel_index=unravel(flat_rel, t.shape),
        claim_value=float(c.reshape(-1)[flat_abs]) if c.numel() else 0.0,
        true_value=float(t.reshape(-1)[flat_abs]) if t.numel() else 0.0,
        indices=tuple(unravel(i, t.shape) for i in flat_bad),
    )


def bad_entries(claim: torch.Tensor, true: torch.Tensor, tol: float) -> torch.Tensor:
    """The mask of entries with |d - j| > tol * (|j| + rms(J)).

    >>> import torch
    >>> bad_entries(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0]), 1e-12).tolist()
    [False, True]
    """
    c, t = claim.to(torch.float64), true.to(torch.float64)
    diff = (c - t).abs()
    diff = torch.where(torch.isfinite(diff), diff, torch.full_like(diff, math.inf))
    rms = float(torch.linalg.vector_norm(t)) / math.sqrt(max(t.numel(), 1))
    return diff > tol * (t.abs() + rms)


def nonzero_entries(claim: torch.Tensor, true: torch.Tensor) -> int:
    """How many entries are nonzero in the truth or the claim: structural zeros (the off-diagonal
    of an elementwise Jacobian) are not evidence that a claim is "mostly correct".

    >>> import torch
    >>> nonzero_entries(torch.eye(3), torch.diag(torch.tensor([1.0, 2.0, 0.0])))
    3
    """
    t, c = true.to(torch.float64), claim.to(torch.float64)
    scale = max(float(t.abs().max()) if t.numel() else 0.0, float(c.abs().max()) if c.numel() else 0.0)
    tiny = 1e-14 * scale
    return int(((t.abs() > tiny) | (c.abs() > tiny)).sum())
