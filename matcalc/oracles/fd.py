"""Finite differences of f whose error is measured in every direction they use, never assumed.

* :func:`slope`: phi'(0) of a scalar phi(s) (f along one direction, projected), by central
  differences at two tiny steps a decade apart; its error is measured as their distance, plus f's
  rounding. The same four evaluations give the one-sided slopes at both steps: when they differ by
  an amount that does not shrink with the step, f has a kink at the sample (relu at 0, a tie in a
  max, a repeated singular value), which central differences cannot see (they average the two
  sides).
* :func:`mixed`: u^T H v of a scalar f by mixed second differences, likewise.
* :func:`kink_gap`: the one-sided gap of f (vector-valued) along one direction.
* :func:`variation`, :func:`own_scale`: how far f moves under a finite relative perturbation of
  the input differentiated (or, when f does not move with it, of all its inputs), beyond its
  rounding: the size a derivative of f has, for a Taylor check's zero truth. A constant term of f
  cancels out of it, unlike ||f||.

Example::

    >>> import math
    >>> s = slope(lambda t: math.sin(0.5 + t), math.sin(0.5), 1.0)
    >>> abs(s.value - math.cos(0.5)) < 1e-9, s.error < 1e-8, s.gap
    (True, True, 0.0)
    >>> slope(lambda t: abs(t), 0.0, 1.0).gap > 1
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import torch

from matcalc.core.tolerance import TINY, norm

EPS = float(torch.finfo(torch.float64).eps)
# Mixed second differences with one Richardson step: truncation ~ h^4 and rounding ~ eps / h^2
# balance at h ~ eps^(1/6) (relative to the sample's size).
STEP2 = EPS ** (1 / 6)
# The one-sided gap is taken at two tiny steps a decade apart (relative to the sample's size): a
# kink at the sample shows the same gap at both; a smooth f's gap shrinks tenfold, f's rounding
# grows tenfold; a kink merely near the sample is crossed with a probability of about the step.
KINK_STEPS = (1e-5, 1e-6)
KINK_STEP = KINK_STEPS[-1]
# The band of gap ratios (small step over large) read as "the same gap": a kink.
KINK_BAND = (0.5, 2.0)
# f's rounding, in units of eps * (the size of what is summed), per evaluation of a chain of ops.
ROUNDING = 16.0

Phi = Callable[[float], "float | None"]


@dataclass
class Slope:
    """phi'(0) with its measured error; ``gap`` is the one-sided slope difference at the sample
    when it does not shrink with the step (a kink), else 0."""

    value: float
    error: float
    gap: float


def slope(phi: Phi, phi0: float, size: float, eps: float = EPS) -> Slope | None:
    """phi'(0) from phi at +- the two KINK_STEPS (four evaluations; phi's argument is relative to
    the sample's size): the central quotient at the larger step, whose error is measured as its
    distance to the one at the smaller step (truncation at the larger, rounding at the smaller)
    plus f's rounding; the one-sided gaps at both steps show a kink. ``size`` is the magnitude of
    what phi sums (sum |u| |f|) and ``eps`` the precision f computes in. None when phi is not
    finite at a step."""
    k1, k2 = KINK_STEPS
    p = {s: phi(s) for s in (k1, -k1, k2, -k2)}
    if any(v is None or not math.isfinite(v) for v in p.values()) or not math.isfinite(phi0):
        return None
    val: dict[float, float] = {s: float(v) for s, v in p.items() if v is not None}

    def noise(s: float) -> float:
        return ROUNDING * eps * size / s

    d1 = (val[k1] - val[-k1]) / (2 * k1)
    d2 = (val[k2] - val[-k2]) / (2 * k2)
    gaps = [abs(val[k] - 2 * phi0 + val[-k]) / k for k in (k1, k2)]
    return Slope(d1, abs(d1 - d2) + noise(k1), gaps[1] if _kink(gaps, noise(k2)) else 0.0)


def _kink(gaps: list[float], noise: float) -> bool:
    """One-sided gaps at the two KINK_STEPS that stay the same, above f's rounding: a kink."""
    low, high = KINK_BAND
    return low * gaps[0] < gaps[1] < high * gaps[0] and gaps[1] > 10 * noise


def mixed(psi: Callable[[float, float], float | None], h: float, size: float,
          eps: float = EPS) -> Slope | None:
    """u^T H v from psi(a, b) = f(x + a u + b v) at steps h and h/2, one Richardson step."""
    def d(s: float) -> float | None:
        vals = [psi(s, s), psi(s, -s), psi(-s, s), psi(-s, -s)]
        if any(v is None or not math.isfinite(v) for v in vals):
            return None
        a, b, c, e = (float(v) for v in vals if v is not None)
        return (a - b - c + e) / (4 * s * s)

    d1, d2 = d(h), d(h / 2)
    if d1 is None or d2 is None:
        return None
    value = (4 * d2 - d1) / 3
    return Slope(value, abs(value - d2) + ROUNDING * eps * size / (h / 2) ** 2, 0.0)


def rounding_size(t: torch.Tensor) -> float:
    """The size that sets t's rounding: eps of each entry, and at least float64's subnormal
    spacing (eps * TINY) where an entry is below TINY."""
    return norm(t.detach().to(torch.float64).abs().clamp_min(TINY))


def kink_gap(f: Callable[..., torch.Tensor], at: Callable[[float], tuple[torch.Tensor, ...]],
             fx: torch.Tensor) -> float:
    """||f(at(k)) - 2 f(x) + f(at(-k))|| / k at the two KINK_STEPS, ``at(s)`` being f's arguments
    moved by s along a direction of the sample's scale: the gap when it stays the same at both (a
    kink at the sample), else 0. 0 when f is not finite at a step (no evidence)."""
    gaps = []
    for s in KINK_STEPS:
        plus, minus = f(*at(s)).detach().to(torch.float64), f(*at(-s)).detach().to(torch.float64)
        if not (bool(torch.isfinite(plus).all()) and bool(torch.isfinite(minus).all())):
            return 0.0
        gaps.append(norm(plus - 2 * fx.detach().to(torch.float64) + minus) / s)
    return gaps[1] if _kink(gaps, ROUNDING * EPS * rounding_size(fx) / KINK_STEPS[1]) else 0.0


# Relative steps tried for the variation of f, largest first (a large step resolves a variation
# under a large constant term of f): one that leaves f's domain (an spd input no longer definite, a
# log's argument no longer positive) moves to the next.
VARIATION_STEPS = (1e-1, 1e-3, 1e-5)
# For the input differentiated alone, a step as large as half of it: "does f move with x at all?"
OWN_STEPS = (0.5, 1e-1, 1e-3)
SYMMETRIC = frozenset({"symmetric", "spd", "separated_eigenvalues"})


def variation(f: Callable[[dict[str, torch.Tensor]], torch.Tensor], inputs: Mapping[str, torch.Tensor],
              structures: Mapping[str, str], gen: torch.Generator, only: Collection[str] | None = None,
              steps: tuple[float, ...] = VARIATION_STEPS) -> float:
    """||f(x o (1 + d r)) - f(x o (1 - d r))|| / 2d over every input x at once, or the inputs in
    ``only`` (r uniform in [-1, 1], symmetric where the input is; o the entrywise product, which
    keeps zeros and signs): f's variation per unit of relative change of its inputs, in f's units.
    Only the part that f's rounding cannot explain counts; 0 when f does not move beyond its
    rounding.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = {"x": torch.tensor([1.0, 2.0], dtype=torch.float64)}
    >>> variation(lambda kw: 1e12 + kw["x"].sum(), x, {"x": "general"}, g) > 0
    True
    >>> variation(lambda kw: 1e30 + kw["x"].sum(), x, {"x": "general"}, g)
    0.0
    """
    rs = {}
    for name, t in inputs.items():
        if only is not None and name not in only:
            continue
        r = torch.rand(t.shape, generator=gen, device=t.device, dtype=torch.float64) * 2 - 1
        if structures.get(name) in SYMMETRIC and r.ndim == 2:
            r = (r + r.T) / 2
        rs[name] = r

    def moved(sign: float, d: float) -> dict[str, torch.Tensor]:
        return {k: t * (1 + sign * d * rs[k]).to(t.dtype) if k in rs else t for k, t in inputs.items()}

    for d in steps:
        try:
            with torch.no_grad():
                plus, minus = f(moved(1.0, d)), f(moved(-1.0, d))
        except Exception:  # a step outside f's domain that f refuses: a smaller one
            continue
        plus, minus = plus.detach().to(torch.float64), minus.detach().to(torch.float64)
        if not (bool(torch.isfinite(plus).all()) and bool(torch.isfinite(minus).all())):
            continue
        change = norm(plus - minus)
        rounding = ROUNDING * EPS * (rounding_size(plus) + rounding_size(minus))
        return change / (2 * d) if change > 10 * rounding else 0.0
    return 0.0


def own_scale(f: Callable[[dict[str, torch.Tensor]], torch.Tensor], inputs: Mapping[str, torch.Tensor],
              structures: Mapping[str, str], gen: torch.Generator, wrt: Collection[str]) -> float:
    """The size a zero truth is judged against, from f's values alone: f's variation when the
    inputs differentiated move by up to half of themselves (the derivative's own size, over a
    step); only when f does not move with them at all, beyond its rounding, the variation when
    every input moves (the size of f's derivative as a whole). Never ||f||: a constant term of f
    cancels out of both."""
    own = variation(f, inputs, structures, gen, only=wrt, steps=OWN_STEPS)
    return own if own > 0 else variation(f, inputs, structures, gen)
