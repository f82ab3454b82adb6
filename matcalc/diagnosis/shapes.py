"""Hints for a claim of the wrong shape: the other layout, a transpose, a reshape, or a vector
returned where a diagonal Jacobian belongs.

Example::

    >>> import torch
    >>> d = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    >>> shape_hints(d, torch.diag(d), tol=1e-12, out_shape=(3,), wrt_shape=(3,))
    ['a vector where a diagonal Jacobian belongs: wrap it in torch.diag(...)']
"""

from __future__ import annotations

import torch

from matcalc.diagnosis.hint import Hint
from matcalc.diagnosis.values import close, layout_text
from matcalc.model.rule import layout_swap


def declared_truth(true: torch.Tensor, out_shape: tuple[int, ...], wrt_shape: tuple[int, ...],
                   layout: str, kind: str) -> torch.Tensor:
    """The numerator-layout truth in the declared layout's shape.

    >>> import torch
    >>> declared_truth(torch.zeros(2, 3), (2,), (3,), "denominator", "jacobian").shape
    torch.Size([3, 2])
    """
    if layout == "denominator" and kind == "jacobian":
        n_out = len(out_shape)
        return true.permute(list(range(n_out, true.ndim)) + list(range(n_out)))
    return true


def shape_hints(raw: torch.Tensor, true: torch.Tensor, *, tol: float, out_shape: tuple[int, ...],
                wrt_shape: tuple[int, ...], layout: str = "numerator",
                kind: str = "jacobian") -> list[Hint]:
    """Hints for a claim ``raw`` (as returned, in the declared layout) whose shape is not the
    declared layout's; ``true`` is in numerator layout.

    >>> import torch
    >>> J = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    >>> shape_hints(J.T, J, tol=1e-12, out_shape=(), wrt_shape=(2, 3))
    ['matches the transpose: the claim is transposed']
    >>> shape_hints(J.reshape(-1), J, tol=1e-12, out_shape=(), wrt_shape=(2, 3))
    ['right values in the wrong shape: reshape to (2, 3)']
    """
    if raw.is_complex() or not bool(torch.isfinite(raw).all()):
        return []
    target = declared_truth(true, out_shape, wrt_shape, layout, kind)
    other = "denominator" if layout == "numerator" else "numerator"
    if kind == "jacobian" and len(out_shape) > 0:
        # Values in the other layout: for a declared numerator claim, read it as denominator.
        as_numerator = layout_swap(raw, out_shape, wrt_shape) if other == "denominator" \
            else (raw if tuple(raw.shape) == tuple(true.shape) else None)
        if as_numerator is not None and close(as_numerator, true, tol):
            text, kinds = layout_text(layout, raw.ndim == 2)
            return [Hint(text, kinds)]
    if raw.ndim >= 2 and tuple(raw.mT.shape) == tuple(target.shape) and close(raw.mT, target, tol):
        return [Hint("matches the transpose: the claim is transposed", {"transpose"})]
    if raw.ndim == 1 and target.ndim == 2 and target.shape[0] == target.shape[1] == raw.shape[0] \
            and close(torch.diag(raw), target, tol):
        return [Hint("a vector where a diagonal Jacobian belongs: wrap it in torch.diag(...)",
                     {"diag_vector"})]
    if raw.numel() == target.numel() and close(raw.reshape(target.shape), target, tol):
        return [Hint(f"right values in the wrong shape: reshape to {tuple(target.shape)}", {"reshape"})]
    return []
