"""Why a claim is wrong: mismatch statistics in the style of torch.testing.assert_close, plus hints.

Example::

    >>> import torch
    >>> J = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    >>> hints(2 * J, J, tol=1e-12, out_shape=(2,), wrt_shape=(2,))
    ['off by a factor of 2']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from matcalc.rule import layout_swap

# Below this fraction of mismatched entries a failure is reported as local ("except at entries").
LOCAL_FRACTION = 0.25
MAX_LISTED = 5


@dataclass(frozen=True)
class Mismatch:
    """Where claim and truth differ, entry by entry."""

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
        return (
            f"mismatched elements: {self.count} / {self.total} "
            f"({100.0 * self.count / max(self.total, 1):.1f}%); "
            f"greatest absolute difference: {self.max_abs:.3g} at index {self.max_abs_index} "
            f"(claim {self.claim_value:.6g}, true {self.true_value:.6g}); "
            f"greatest relative difference: {self.max_rel:.3g} at index {self.max_rel_index}"
        )


def _index(flat: int, shape: torch.Size) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat % size)
        flat //= size
    return tuple(reversed(out))


def mismatch(claim: torch.Tensor, true: torch.Tensor, tol: float) -> Mismatch:
    """Entrywise comparison of two same-shape tensors; an entry mismatches when
    |d - j| > tol * (|j| + rms(J)), the entrywise reading of the normwise test."""
    c, t = claim.detach().to(torch.float64).cpu(), true.detach().to(torch.float64).cpu()
    diff = (c - t).abs()
    diff = torch.where(torch.isfinite(diff), diff, torch.full_like(diff, math.inf))
    rms = float(torch.linalg.vector_norm(t)) / math.sqrt(max(t.numel(), 1))
    bad = diff > tol * (t.abs() + rms)
    rel = diff / t.abs().clamp_min(torch.finfo(torch.float64).tiny)
    flat_abs = int(torch.argmax(torch.nan_to_num(diff, posinf=math.inf)).item()) if diff.numel() else 0
    flat_rel = int(torch.argmax(torch.nan_to_num(rel, nan=math.inf)).item()) if rel.numel() else 0
    listed = torch.nonzero(bad.reshape(-1)).reshape(-1)[:MAX_LISTED].tolist()
    return Mismatch(
        count=int(bad.sum()),
        total=bad.numel(),
        max_abs=float(diff.reshape(-1)[flat_abs]) if diff.numel() else 0.0,
        max_abs_index=_index(flat_abs, t.shape),
        max_rel=float(rel.reshape(-1)[flat_rel]) if rel.numel() else 0.0,
        max_rel_index=_index(flat_rel, t.shape),
        claim_value=float(c.reshape(-1)[flat_abs]) if c.numel() else 0.0,
        true_value=float(t.reshape(-1)[flat_abs]) if t.numel() else 0.0,
        indices=tuple(_index(i, t.shape) for i in listed),
    )


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    denom = max(float(torch.linalg.vector_norm(b64)), 1e-300)
    return float(torch.linalg.vector_norm(a64 - b64)) <= tol * denom


def _factor(c: float) -> str:
    for num, text in ((2.0, "2"), (0.5, "1/2"), (-2.0, "-2"), (-0.5, "-1/2"), (4.0, "4"),
                      (0.25, "1/4"), (3.0, "3"), (1 / 3, "1/3")):
        if abs(c - num) <= 1e-6 * abs(num):
            return text
    return f"{c:.6g}"


def hints(claim: torch.Tensor, true: torch.Tensor, *, tol: float,
          out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> list[str]:
    """Hints for a wrong claim, most specific first. Shapes are the numerator layout's."""
    out: list[str] = []
    close_tol = max(10 * tol, 1e-12)
    if tuple(claim.shape) != tuple(true.shape):
        swapped = layout_swap(claim, out_shape, wrt_shape)
        if swapped is not None and _close(swapped, true, close_tol):
            out.append("matches the transpose: is this denominator layout? "
                       "(declare layout='denominator')")
        elif claim.numel() == true.numel() and _close(claim.reshape(true.shape), true, close_tol):
            out.append(f"right values in the wrong shape: reshape to {tuple(true.shape)}")
        return out
    if not bool(torch.isfinite(claim).all()):
        nan = int(torch.isnan(claim).sum())
        inf = int(torch.isinf(claim).sum())
        out.append(f"claim has {nan} NaN and {inf} Inf entries (NaN never passes)")
        return out
    if not bool(torch.isfinite(true).all()):
        out.append("autograd itself gave NaN/Inf here: the input is outside f's domain")
        return out
    t64, c64 = true.to(torch.float64), claim.to(torch.float64)
    jj = float((t64 * t64).sum())
    if jj > 0:
        c = float((c64 * t64).sum()) / jj
        if abs(c - 1) > close_tol and _close(c64, c * t64, close_tol):
            out.append("sign flipped" if abs(c + 1) <= 1e-6 else f"off by a factor of {_factor(c)}")
            return out
    if claim.numel() == true.numel():
        numel_out = math.prod(out_shape)
        if numel_out == math.prod(wrt_shape) and numel_out > 1:
            swapped = claim.reshape(numel_out, -1).T.reshape(true.shape)
            if _close(swapped, true, close_tol):
                out.append("matches the transpose: is this denominator layout? "
                           "(declare layout='denominator')")
                return out
        if claim.ndim == 2 and claim.shape[0] == claim.shape[1] and _close(claim.T, true, close_tol):
            out.append("matches the transpose: the claim is transposed")
            return out
    bad = mismatch(claim, true, tol)
    if 0 < bad.count <= max(1, int(LOCAL_FRACTION * bad.total)):
        shown = ", ".join(str(i) for i in bad.indices)
        more = "" if bad.count <= MAX_LISTED else f" and {bad.count - MAX_LISTED} more"
        out.append(f"correct except at entries {shown}{more}")
    return out
