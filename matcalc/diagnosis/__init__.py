"""Why a claim is wrong: mismatch statistics, hints from its values and its shape, and hints that
re-check the claim (a correction must pass at a second draw; structured inputs; swapped inputs).

Modules: ``hint`` (the Hint type and the classes hints name),
``values`` (a wrong claim of the right shape), ``shapes`` (a claim of the wrong shape),
``review`` (re-checks, run by check() after a failure).

Example::

    >>> import torch
    >>> J = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    >>> value_hints(-J, J, tol=1e-12, out_shape=(2,), wrt_shape=(2,))
    ['sign flipped']

Internal: not part of the public contract."""

from __future__ import annotations

import torch

from matcalc.core.mismatch import Mismatch, mismatch
from matcalc.diagnosis.hint import CLASSES, Hint, classes_of
from matcalc.diagnosis.shapes import shape_hints
from matcalc.diagnosis.values import FAR, value_hints

__all__ = ["CLASSES", "FAR", "Hint", "Mismatch", "classes_of", "hints", "mismatch", "shape_hints",
           "value_hints"]


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
