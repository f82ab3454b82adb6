"""The Taylor oracle: no autograd at all, only f, by extrapolated finite differences.

Along k random directions v (and, for a Hessian, pairs (u, v)), the directional derivative of f is
estimated by central differences g(h) = (f(x + hv) - f(x - hv)) / 2h, whose error is a series in
h^2, extrapolated to h -> 0 by Ridders' method (Richardson's tableau with step ratio 1.4). The
tableau also estimates its own error, and every direction's error is measured: Ridders' estimate,
two tableaux a decade apart, and the one-sided gap of f at the sample (central differences average
the two sides of a kink; a gap that does not shrink with the step is half an error of its own).
The error bounds the truth (``Measurement.truth_error``, times TAYLOR_SAFETY); it never widens the
tolerance, which is fixed:

    pass:          error <= TOL and TAYLOR_SAFETY * measured error <= TOL
    fail:          error >  max(TOL, TAYLOR_SAFETY * measured error)
    inconclusive:  otherwise (the finite differences are too coarse here: a kink, noise)

with TOL = TAYLOR_MIN_TOL (1e-8), or TAYLOR_HESSIAN_TOL (2.5e-8) for the mixed second
differences of a Hessian. In float64 the estimate is typically 1e-11 to 1e-13 of the derivative
(1e-10 for a Hessian) and, through the probe argument (matcalc/oracles/probe.py), a claim wrong
by a relative 4e-7 (1e-6) is caught; tests/test_soundness.py checks 1e-6 on every catalog rule.
Each form the rule gives is compared: the derivative and the jvp as D v, the vjp as <u^T D, v>
against <u, the finite difference>. A zero truth is floored by f's own variation over a finite
step (matcalc/oracles/fd.py), never by ||f||.

Example::

    >>> import torch
    >>> cube = lambda h: torch.tensor([(1.0 + h) ** 3 - (1.0 - h) ** 3], dtype=torch.float64) / (2 * h)
    >>> est, err = ridders(cube, 0.1)
    >>> round(float(est[0]), 10), err < 1e-9
    (3.0, True)
"""

from __future__ import annotations

import math

import torch

from matcalc.core.tolerance import FD_TOLERANCE_CAP, TINY, norm, relative_error, tolerance
from matcalc.oracles.base import Fn, Measurement, Problem, combined
from matcalc.oracles.fd import (
    ACCEPT,
    EPS,
    FIRST_STEPS,
    LEVELS,
    SECOND_STEPS,
    STEP_RATIO,
    directional,
    kink_gap,
    own_scale,
    ridders,
)
from matcalc.oracles.forms import apply
from matcalc.oracles.probe import resolution_factor

# The Taylor oracle's fixed tolerances: above the errors its finite differences measure on smooth
# f (first derivatives: below 2e-10 of the derivative, times TAYLOR_SAFETY; mixed second
# differences: below 6e-10), and, through the probe argument, resolving 3.8e-7 and 9.4e-7: below
# the 1e-6 that DESIGN requires float64 to reject.
TAYLOR_MIN_TOL = FD_TOLERANCE_CAP[torch.float64]  # one float64 tolerance for every finite-difference truth
TAYLOR_HESSIAN_TOL = 2.5e-8
TAYLOR_SAFETY = 10.0

# Ridders' tableau is the one finite-difference engine's (oracles/fd.py); its names stay
# importable from here for the oracles built on the Taylor oracle (differential.py).
__all__ = ["ACCEPT", "FIRST_STEPS", "LEVELS", "SECOND_STEPS", "STEP_RATIO", "TAYLOR_HESSIAN_TOL",
           "TAYLOR_MIN_TOL", "TAYLOR_SAFETY", "TaylorOracle", "directional", "ridders"]


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
        fx = f64(x)
        # f's rounding: eps of each entry, and at least the spacing of float64's subnormals.
        f_size = norm(fx.abs().clamp_min(TINY))
        forms: dict[str, list[torch.Tensor]] = {"derivative": [], "jvp": [], "vjp": [], "vjp_true": []}
        true, errs, weights = [], [], []
        kinks = 0
        for _ in range(k):
            v = _unit(x, problem.gen) * size
            if problem.hessian:
                u = _unit(x, problem.gen) * size

                def g2(h: float, u: torch.Tensor = u, v: torch.Tensor = v) -> torch.Tensor:
                    pp, pm = f64(x + h * u + h * v), f64(x + h * u - h * v)
                    mp, mm = f64(x - h * u + h * v), f64(x - h * u - h * v)
                    return ((pp - pm - mp + mm) / (4 * h * h)).reshape(1)

                est, err = directional(g2, lambda h: 2 * EPS * f_size / (h * h), SECOND_STEPS)
                if sym is not None:
                    forms["derivative"].append((u.reshape(-1) @ sym @ v.reshape(-1)).reshape(1))
                for form, fn, a, b in (("jvp", problem.claim_jvp, v, u), ("vjp", problem.claim_vjp, u, v)):
                    if fn is not None:  # H v (or u^T H), projected on the other direction
                        hv = _one(form, fn, a.to(problem.x.dtype), problem.wrt_shape)
                        if isinstance(hv, Measurement):
                            return hv
                        forms[form].append((b.reshape(-1) @ hv.reshape(-1)).reshape(1))
                if problem.claim_vjp is not None:
                    forms["vjp_true"].append(est)
                uw = u
            else:
                def g1(h: float, v: torch.Tensor = v) -> torch.Tensor:
                    return (f64(x + h * v) - f64(x - h * v)) / (2 * h)

                est, err = directional(g1, lambda h: 2 * EPS * f_size / h)
                # Central differences average the two sides of a kink: the one-sided gap, where it
                # does not shrink with the step, is part of this direction's error.
                def along(s: float, v: torch.Tensor = v) -> tuple[torch.Tensor]:
                    return (x + s * v,)

                gap = kink_gap(f64, along, fx)
                kinks += gap / 2 > err
                err = max(err, gap / 2)
                if claim is not None:
                    forms["derivative"].append(torch.tensordot(claim, v, dims=v.ndim))
                if problem.claim_jvp is not None:
                    dv = _one("jvp", problem.claim_jvp, v.to(problem.x.dtype), problem.out_shape)
                    if isinstance(dv, Measurement):
                        return dv
                    forms["jvp"].append(dv.reshape(est.shape))
                uw = torch.ones_like(est)
                if problem.claim_vjp is not None:
                    uw = torch.randn(est.shape, generator=problem.gen, device=x.device, dtype=torch.float64)
                    back = _one("vjp", problem.claim_vjp, uw.to(problem.x.dtype), problem.wrt_shape)
                    if isinstance(back, Measurement):
                        return back
                    forms["vjp"].append((back * v).sum().reshape(1))
                    forms["vjp_true"].append((uw * est).sum().reshape(1))
            true.append(est)
            errs.append(err)
            weights.append(1.0 if problem.hessian else float(torch.linalg.vector_norm(uw)))
        # The floor of a zero truth: f's own variation over a step (a constant term of f cancels
        # out of it), per direction, for directions of norm ||x||.
        variation = own_scale(lambda kw: problem.rule.f(**kw).detach(), problem.inputs,
                              {n: d.structure for n, d in problem.rule.inputs.items()}, problem.gen,
                              problem.rule.wrt_names)
        floor = variation * math.sqrt(k) / (math.sqrt(max(x.numel(), 1)) if problem.hessian else 1.0)
        tol = TAYLOR_HESSIAN_TOL if problem.hessian else TAYLOR_MIN_TOL
        inconclusive = ""
        if not all(math.isfinite(e) for e in errs):
            inconclusive = ("finite differences do not converge at this sample: f is not "
                            "differentiable here, or leaves its domain within the smallest step; use "
                            "an autograd oracle or another seed")
        error = TAYLOR_SAFETY * math.hypot(*errs)  # hypot: errors near float64's range stay finite
        what = f"D v against extrapolated finite differences along {k} directions"
        if kinks:
            what += (f"; along {kinks} of them f's one-sided slopes differ at every step: f is not "
                     "differentiable at this sample (a kink: relu or abs at 0, a tie in a max, a "
                     "repeated singular value)")
        parts = []
        true_t = torch.stack(true)
        for form, label in (("derivative", what), ("jvp", f"the claimed jvp: {what}")):
            claimed = forms[form]
            if not claimed:
                continue
            parts.append(Measurement(claimed=torch.stack(claimed), true=true_t, tolerance=tol,
                                     resolution=tol * resolution_factor(k), floor=floor,
                                     materialized=False, what=label, inconclusive=inconclusive,
                                     truth_error=error))
        if forms["vjp"]:
            weighted = math.hypot(*(w * e for w, e in zip(weights, errs, strict=True)))
            parts.append(Measurement(
                claimed=torch.stack(forms["vjp"]), true=torch.stack(forms["vjp_true"]), tolerance=tol,
                resolution=tol * resolution_factor(k), floor=floor * max(weights),
                materialized=False, inconclusive=inconclusive, truth_error=TAYLOR_SAFETY * weighted,
                what=f"the claimed vjp: <u^T D, v> against <u, finite differences along v>, {k} directions"))
        return combined(parts)


def _one(form: str, fn: Fn, direction: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor | Measurement:
    """The claimed ``form`` on one direction, in float64, through the one place forms are
    evaluated (matcalc/oracles/forms.py): its FAIL when it returns another shape."""
    out = apply(form, fn, direction.unsqueeze(0), shape, loop=True)
    return out if isinstance(out, Measurement) else out[0].detach().to(torch.float64)


def _unit(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    v = torch.randn(x.shape, generator=gen, device=x.device, dtype=torch.float64)
    return v / max(float(torch.linalg.vector_norm(v)), 1e-300)
