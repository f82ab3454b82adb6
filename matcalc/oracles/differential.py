"""Differential rules (``kind="differential"``): the claimed df along random directions against
the true directional derivative, from any oracle.

Example::

    >>> import torch
    >>> true_jvp(lambda a: a * a, (torch.ones(2),), (torch.ones(2),))
    tensor([2., 2.])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from matcalc.oracles.base import Measurement
from matcalc.oracles.fd import EPS, kink_gap, rounding_size
from matcalc.oracles.probe import resolution_factor
from matcalc.oracles.taylor import TAYLOR_MIN_TOL, TAYLOR_SAFETY, directional

Many = Callable[..., torch.Tensor]


def true_jvp(fn: Many, primals: tuple[torch.Tensor, ...],
             tangents: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.func.jvp(fn, primals, tangents)[1]


def contract_right(d: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """D v for numerator-layout D (shape f.shape + v.shape)."""
    return torch.tensordot(d, v, dims=v.ndim)


def measure_differential(*, oracle: str, fn: Many, primals: tuple[torch.Tensor, ...],
                         directions: list[tuple[torch.Tensor, ...]],
                         claims: list[torch.Tensor], tolerance: float, floor: float) -> Measurement:
    """Compare claimed df with the true df along each direction tuple (already drawn)."""
    true: list[torch.Tensor] = []
    errs: list[float] = []
    jacs: tuple[torch.Tensor, ...] | None = None
    for dirs in directions:
        if oracle == "jacobian":
            if jacs is None:
                full = torch.autograd.functional.jacobian(fn, primals)
                jacs = full if isinstance(full, tuple) else (full,)
            true.append(sum((contract_right(j, d) for j, d in zip(jacs, dirs, strict=True)),
                            torch.zeros((), dtype=torch.float64)))
        elif oracle == "taylor":
            def g(h: float, dirs: tuple[torch.Tensor, ...] = dirs) -> torch.Tensor:
                plus = fn(*(p + h * d for p, d in zip(primals, dirs, strict=True)))
                minus = fn(*(p - h * d for p, d in zip(primals, dirs, strict=True)))
                return (plus.detach() - minus.detach()).to(torch.float64) / (2 * h)

            f_size = rounding_size(fn(*primals))

            def rounding(h: float, f_size: float = f_size) -> float:
                return 2 * EPS * f_size / h

            est, err = directional(g, rounding)
            true.append(est)
            def along(s: float, dirs: tuple[torch.Tensor, ...] = dirs) -> tuple[torch.Tensor, ...]:
                return tuple(p + s * d for p, d in zip(primals, dirs, strict=True))

            # Central differences average the two sides of a kink: its gap is an error of its own.
            errs.append(max(err, kink_gap(fn, along, fn(*primals)) / 2))
        else:
            true.append(true_jvp(fn, primals, dirs).detach())
    k = len(directions)
    if any(c.shape != true[0].shape for c in claims):
        bad = next(c for c in claims if c.shape != true[0].shape)
        return Measurement(claimed=bad, true=true[0], tolerance=0.0, resolution=0.0, floor=0.0,
                           materialized=False, what="the claimed df has the wrong shape")
    claimed_t, true_t = torch.stack(claims), torch.stack([t.to(claims[0].dtype) for t in true])
    floor_k = floor * math.sqrt(k)
    tol, inconclusive, truth_error = tolerance, "", 0.0
    if oracle == "taylor":
        # The measured error bounds the truth; the tolerance stays fixed (matcalc/oracles/taylor.py).
        tol = TAYLOR_MIN_TOL
        truth_error = TAYLOR_SAFETY * math.hypot(*errs)
        if not math.isfinite(truth_error):
            inconclusive = ("finite differences do not converge at this sample: f is not "
                            "differentiable here; use an autograd oracle or another seed")
    return Measurement(claimed=claimed_t, true=true_t, tolerance=tol,
                       resolution=tol * resolution_factor(k), floor=floor_k, materialized=False,
                       what=f"df along {k} random directions", inconclusive=inconclusive,
                       truth_error=truth_error)
