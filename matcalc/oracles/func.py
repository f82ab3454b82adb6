"""The ``torch.func`` oracle: jacrev or jacfwd (whichever suits the shape), torch.func.hessian.

Example::

    >>> import torch
    >>> func_jacobian(lambda w: w * w, torch.ones(2, dtype=torch.float64), 2)
    tensor([[2., 0.],
            [0., 2.]], dtype=torch.float64)
"""

from __future__ import annotations

import torch

from matcalc.oracles.base import Fn, Measurement, Problem
from matcalc.oracles.jacobian import with_forms


def func_jacobian(fn: Fn, x: torch.Tensor, out_numel: int) -> torch.Tensor:
    """Reverse mode costs one pass per output, forward mode one per input: pick the smaller side."""
    if out_numel <= x.numel():
        return torch.func.jacrev(fn)(x)
    return torch.func.jacfwd(fn)(x)


def func_hessian(fn: Fn, x: torch.Tensor) -> torch.Tensor:
    return torch.func.hessian(fn)(x)


class FuncOracle:
    """The whole Jacobian through torch.func transforms, a second autograd implementation."""

    name = "func"
    description = "torch.func.jacrev / jacfwd / hessian: the whole derivative, vmapped"

    def measure(self, problem: Problem) -> Measurement:
        if problem.hessian:
            true = func_hessian(problem.fn, problem.x)
        else:
            true = func_jacobian(problem.fn, problem.x, problem.out.numel())
        return with_forms(problem, true.detach(), "the whole Jacobian (torch.func)")
