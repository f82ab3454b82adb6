"""The diagnosis of a failed check, kept under its old name: see matcalc/diagnosis/.

Example::

    >>> import torch
    >>> J = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    >>> hints(2 * J, J, tol=1e-12, out_shape=(2,), wrt_shape=(2,))
    ['off by a factor of 2']
"""

from __future__ import annotations

import torch

from matcalc.diagnosis import Hint, Mismatch, mismatch, shape_hints, value_hints

__all__ = ["Hint", "Mismatch", "hints", "mismatch", "shape_hints"]


def hints(claim: torch.Tensor, true: torch.Tensor, *, tol: float, out_shape: tuple[int, ...],
          wrt_shape: tuple[int, ...], layout: str = "numerator", kind: str = "jacobian",
          floor: float = 0.0, materialized: bool = True) -> list[Hint]:
    """Hints for a wrong claim (numerator layout when its shape is right), most specific first.

    >>> import torch
    >>> hints(torch.ones(3), torch.eye(3), tol=1e-12, out_shape=(3,), wrt_shape=(3,))
    ['a vector where a diagonal Jacobian belongs: wrap it in torch.diag(...)']
    """
    if tuple(claim.shape) != tuple(true.shape):
        return shape_hints(claim, true, tol=tol, out_shape=out_shape, wrt_shape=wrt_shape,
                           layout=layout, kind=kind)
    return value_hints(claim, true, tol=tol, out_shape=out_shape, wrt_shape=wrt_shape,
                       layout=layout, kind=kind, floor=floor, materialized=materialized)
