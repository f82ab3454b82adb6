"""The Taylor oracle: no autograd at all, only f, by extrapolated finite differences.

Along k random directions v (and, for a Hessian, pairs (u, v)), the directional derivative of f is
estimated by central differences g(h) = (f(x + hv) - f(x - hv)) / 2h, whose error is a series in
h^2, extrapolated to h -> 0 by Ridders' method (Richardson's tableau with step ratio 1.4). The
tableau also estimates its own error, so the comparison threshold is measured at each sample:

    tolerance = max(TAYLOR_MIN_TOL, TAYLOR_SAFETY * estimated relative error)

In float64 the estimate is typically 1e-11 to 1e-13 of the derivative, so the tolerance sits at
TAYLOR_MIN_TOL = 1e-9 and, through the probe argument (matcalc/oracles/probe.py), a claim wrong
by a relative 4e-8 is caught; tests/test_soundness.py checks 1e-6 on every catalog rule. When the
tableau does not converge (a kink, a sample outside f's domain), the result is inconclusive:
finite differences cannot decide there.

Example::

    >>> import torch
    >>> cube = lambda h: torch.tensor([(1.0 + h) ** 3 - (1.0 - h) ** 3], dtype=torch.float64) / (2 * h)
    >>> est, err = ridders(cube, 0.1)
    >>> round(float(est[0]), 10), err < 1e-9
    (3.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from matcalc.core.tolerance import relative_error, tolerance
from matcalc.oracles.base import Measurement, Problem
from matcalc.oracles.probe import resolution_factor

TAYLOR_MIN_TOL = 1e-9
TAYLOR_SAFETY = 10.0
# A tolerance above this means the finite differences did not converge: undecidable here.
TAYLOR_MAX_TOL = 1e-4
STEP_RATIO = 1.4
LEVELS = 10
# First steps of the tableau pairs, relative to the sample's size (directions are scaled to ||x||).
FIRST_STEPS = (0.03, 3e-3, 3e-4, 3e-5)
ACCEPT = 1e-11  # a pair agreeing to this (relative) is not refined further


def ridders(g: Callable[[float], torch.Tensor], h0: float) -> tuple[torch.Tensor, float]:
    """Extrapolate g(h) -> h = 0 for g with an error series in h^2; returns (estimate, error)."""
    tab: list[list[torch.Tensor]] = [[g(h0)]]
    best, err = tab[0][0], math.inf
    h = h0
    for i in range(1, LEVELS):
        h /= STEP_RATIO
        row = [g(h)]
        fac = STEP_RATIO**2
        for j in range(1, i + 1):
            row.append((row[j - 1] * fac - tab[i - 1][j - 1]) / (fac - 1))
            fac *= STEP_RATIO**2
            errt = max(_norm(row[j] - row[j - 1]), _norm(row[j] - tab[i - 1][j - 1]))
            if errt <= err:
                best, err = row[j], errt
        tab.append(row)
        if _norm(row[i] - tab[i - 1][i - 1]) >= 2 * err:
            break
    return best, err


def _norm(t: torch.Tensor) -> float:
    value = float(torch.linalg.vector_norm(t))
    return value if math.isfinite(value) else math.inf


def directional(g: Callable[[float], torch.Tensor]) -> tuple[torch.Tensor, float]:
    """The limit of the difference quotient g(h) as h -> 0, with an error estimate.

    Two tableaux from first steps a decade apart must agree: their disagreement joins Ridders'
    own estimate, which alone can be optimistic when the first step is outside the asymptotic
    regime (sin(Cx) with a large C, say). When they disagree, or a step leaves f's domain
    (non-finite values) or crosses a kink, the pair moves a decade down.
    """
    best, best_err = None, math.inf
    for h0 in FIRST_STEPS:
        a, err_a = ridders(g, h0)
        b, err_b = ridders(g, h0 / 10)
        if not (math.isfinite(err_a) and math.isfinite(err_b)):
            continue
        est = a if err_a <= err_b else b
        err = max(min(err_a, err_b), _norm(a - b))
        if err < best_err:
            best, best_err = est, err
        if err <= ACCEPT * max(_norm(est), 1e-300):
            break
    if best is None:
        return g(FIRST_STEPS[-1]), math.inf
    return best, best_err


class TaylorOracle:
    """Extrapolated central differences of f along random directions; autograd is never used."""

    name = "taylor"
    description = "Ridders-extrapolated central differences of f alone (no autograd), in float64"

    def measure(self, problem: Problem) -> Measurement:
        x = problem.x.to(torch.float64)
        k = problem.probes
        size = max(float(torch.linalg.vector_norm(x)), 1.0)

        def f64(w: torch.Tensor) -> torch.Tensor:
            return problem.fn(w).detach().to(torch.float64)

        claim = None if problem.claim is None else problem.claim.to(torch.float64)
        sym = None
        if problem.hessian and claim is not None:
            square = claim.reshape(x.numel(), x.numel())
            sym = (square + square.T) / 2
            asym = relative_error(square.T, square) / 2
            sym_tol = tolerance(torch.float64, x.numel())
            if asym > sym_tol:
                # Finite differences see only the symmetric part of a claimed Hessian; a Hessian
                # of a C^2 function is symmetric, so its antisymmetric part is checked directly.
                return Measurement(claimed=square, true=square.T, tolerance=sym_tol,
                                   resolution=sym_tol, floor=0.0, materialized=False,
                                   what="a Hessian must be symmetric; the claim is not")
        claimed, true, errs = [], [], []
        for _ in range(k):
            v = _unit(x, problem.gen) * size
            if problem.hessian:
                u = _unit(x, problem.gen) * size
                assert sym is not None
                claimed.append((u.reshape(-1) @ sym @ v.reshape(-1)).reshape(1))

                def g2(h: float, u: torch.Tensor = u, v: torch.Tensor = v) -> torch.Tensor:
                    pp, pm = f64(x + h * u + h * v), f64(x + h * u - h * v)
                    mp, mm = f64(x - h * u + h * v), f64(x - h * u - h * v)
                    return ((pp - pm - mp + mm) / (4 * h * h)).reshape(1)

                est, err = directional(g2)
            else:
                if claim is not None:
                    dv = torch.tensordot(claim, v, dims=v.ndim)
                else:
                    assert problem.claim_jvp is not None
                    dv = problem.claim_jvp(v.to(problem.x.dtype)).detach().to(torch.float64)
                claimed.append(dv)

                def g1(h: float, v: torch.Tensor = v) -> torch.Tensor:
                    return (f64(x + h * v) - f64(x - h * v)) / (2 * h)

                est, err = directional(g1)
            true.append(est)
            errs.append(err)
        true_t = torch.stack(true)
        if any(c.shape != true[0].shape for c in claimed):
            bad = next(c for c in claimed if c.shape != true[0].shape)
            return Measurement(claimed=bad, true=true[0], tolerance=0.0, resolution=0.0, floor=0.0,
                               materialized=False, what="the claimed D v has the wrong shape")
        claimed_t = torch.stack(claimed)
        # Per unit of J, a direction of norm ||x|| moves f by about scale * ||x|| / sqrt(numel).
        floor = problem.scale * size * math.sqrt(k / max(x.numel(), 1))
        if problem.hessian:
            floor = problem.scale * size * size * math.sqrt(k) / max(x.numel(), 1)
        denom = max(_norm(true_t), floor, 1e-300)
        est_rel = math.sqrt(sum(e * e for e in errs)) / denom
        tol = max(TAYLOR_MIN_TOL, TAYLOR_SAFETY * est_rel)
        inconclusive = ""
        if not math.isfinite(tol) or tol > TAYLOR_MAX_TOL:
            inconclusive = ("finite differences do not converge at this sample (estimated relative "
                            f"error {est_rel:.2g}): f is not differentiable here, or not smooth "
                            "enough at this scale; use an autograd oracle or another seed")
        return Measurement(claimed=claimed_t, true=true_t, tolerance=tol,
                           resolution=tol * resolution_factor(k), floor=floor, materialized=False,
                           what=f"D v against extrapolated finite differences along {k} directions",
                           inconclusive=inconclusive)


def _unit(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    v = torch.randn(x.shape, generator=gen, device=x.device, dtype=torch.float64)
    return v / max(float(torch.linalg.vector_norm(v)), 1e-300)
