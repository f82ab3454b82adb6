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
* :func:`ridders`, :func:`directional`: central differences extrapolated to h -> 0 by Ridders'
  tableau, two tableaux a decade apart (the Taylor oracle's and the differential oracle's truth);
  every entry's error includes f's rounding at the steps it came from, and differences that never
  rise above that rounding are known only to the rounding at the finest step.
* :func:`directional_differences`: u^T J v of a function of several tensors along a few
  directions v, by one Richardson step whose error is measured in every direction, in units of
  f's largest output, in the precision f runs in (a backward's truth without a reference).

Every one of them measures its own error; :func:`richardson` and :func:`slope` also look for a
kink by the one-sided slopes (:func:`_kink`), which central differences cannot see.

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
from collections.abc import Callable, Collection, Mapping, Sequence
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
    """One-sided gaps at two steps (the larger first, at least a factor 4 apart) that stay the
    same, above f's rounding at the smaller step: a kink. A smooth f's gap shrinks with the step
    (by 4 or more, outside KINK_BAND); a kink's does not."""
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


# ---- Ridders' extrapolation ---------------------------------------------------------------------
STEP_RATIO = 1.4
LEVELS = 10
# First steps of the tableau pairs, relative to the sample's size (directions are scaled to ||x||).
FIRST_STEPS = (0.03, 3e-3, 3e-4, 3e-5)
ACCEPT = 1e-11  # a pair agreeing to this (relative) is not refined further
# Second differences round like eps / h^2: their pairs start a decade higher (a step that leaves
# f's domain, or a tableau that does not converge there, moves down as before).
SECOND_STEPS = (0.3, *FIRST_STEPS)


@dataclass
class Tableau:
    """One Ridders tableau: its ``estimate`` and measured ``error``, the ``finest`` step it
    evaluated g at, and whether g ever exceeded its rounding there (``signal``)."""

    estimate: torch.Tensor
    error: float
    finest: float
    signal: bool


def ridders(g: Callable[[float], torch.Tensor], h0: float,
            rounding: Callable[[float], float] | None = None) -> tuple[torch.Tensor, float]:
    """Extrapolate g(h) -> h = 0 for g with an error series in h^2; returns (estimate, error).

    ``rounding(h)`` is g's rounding at step h (f's value rounds by about eps |f|, so a difference
    quotient at step h by eps |f| / h). Each entry of the tableau carries the rounding of the
    values it combines, through the same weights: an entry's error is at least that, so that an
    entry taken from small steps, where g is f's rounding over h, is never believed to the
    agreement of its neighbours (values that round alike agree exactly: 0 = 0 at every step).

    >>> cube = lambda h: torch.tensor([(1.0 + h) ** 3 - (1.0 - h) ** 3], dtype=torch.float64) / (2 * h)
    >>> est, err = ridders(cube, 0.1)
    >>> round(float(est[0]), 10), err < 1e-9
    (3.0, True)
    >>> flat = lambda h: torch.zeros(1, dtype=torch.float64)   # f does not move beyond its rounding
    >>> ridders(flat, 0.1)[1], ridders(flat, 0.1, lambda h: 1e-8 / h)[1] > 1e-7
    (0.0, True)
    """
    t = tableau(g, h0, rounding)
    return t.estimate, t.error


def tableau(g: Callable[[float], torch.Tensor], h0: float,
            rounding: Callable[[float], float] | None = None) -> Tableau:
    """:func:`ridders`, with the finest step it took and whether g ever rose above its rounding.

    >>> t = tableau(lambda h: torch.zeros(1, dtype=torch.float64), 0.1, lambda h: 1e-8 / h)
    >>> t.signal, t.finest < 0.1
    (False, True)
    """
    def noise(h: float) -> float:
        return 0.0 if rounding is None else rounding(h)

    def seen(value: torch.Tensor, h: float) -> bool:
        return _finite_norm(value) > noise(h)

    tab: list[list[torch.Tensor]] = [[g(h0)]]
    noises: list[list[float]] = [[noise(h0)]]
    signal = seen(tab[0][0], h0)
    best, err = tab[0][0], math.inf
    h = h0
    for i in range(1, LEVELS):
        h /= STEP_RATIO
        row, row_noise = [g(h)], [noise(h)]
        signal = signal or seen(row[0], h)
        fac = STEP_RATIO**2
        for j in range(1, i + 1):
            row.append((row[j - 1] * fac - tab[i - 1][j - 1]) / (fac - 1))
            # a bound: the roundings add through the weights' sizes, fac / (fac - 1) and 1 / (fac - 1)
            row_noise.append((row_noise[j - 1] * fac + noises[i - 1][j - 1]) / (fac - 1))
            fac *= STEP_RATIO**2
            errt = max(_finite_norm(row[j] - row[j - 1]), _finite_norm(row[j] - tab[i - 1][j - 1]),
                       row_noise[j])
            if errt <= err:
                best, err = row[j], errt
        tab.append(row)
        noises.append(row_noise)
        if _finite_norm(row[i] - tab[i - 1][i - 1]) >= 2 * err:
            break
    return Tableau(best, err, h, signal)


def _finite_norm(t: torch.Tensor) -> float:
    value = norm(t)  # in units of the largest entry: values near float64's range do not overflow
    return value if math.isfinite(value) else math.inf


def directional(g: Callable[[float], torch.Tensor], rounding: Callable[[float], float] | None = None,
                steps: tuple[float, ...] = FIRST_STEPS) -> tuple[torch.Tensor, float]:
    """The limit of the difference quotient g(h) as h -> 0, with an error estimate.

    Two tableaux from first steps a decade apart must agree: their disagreement joins Ridders'
    own estimate, which alone can be optimistic when the first step is outside the asymptotic
    regime (sin(Cx) with a large C, say). When they disagree, or a step leaves f's domain
    (non-finite values) or crosses a kink, the pair moves a decade down. ``rounding(h)`` is g's
    rounding at step h: each tableau entry's error includes it, through the extrapolation's
    weights, at the steps the entry combines; and where g never rises above it (f moves by an ulp
    or two of a large constant), the pair's error is at least the rounding at its finest step,
    because a tableau of values that round to the same numbers agrees with itself exactly.

    >>> g = lambda h: torch.tensor([math.sin(0.5 + h) - math.sin(0.5 - h)], dtype=torch.float64) / (2 * h)
    >>> est, err = directional(g)
    >>> abs(float(est[0]) - math.cos(0.5)) < 1e-12, err < 1e-10
    (True, True)
    """
    best, best_err = None, math.inf
    for h0 in steps:
        ta, tb = tableau(g, h0, rounding), tableau(g, h0 / 10, rounding)
        (a, err_a), (b, err_b) = (ta.estimate, ta.error), (tb.estimate, tb.error)
        if not (math.isfinite(err_a) and math.isfinite(err_b)):
            continue
        est = a if err_a <= err_b else b
        err = max(min(err_a, err_b), _finite_norm(a - b), 0.0 if rounding is None else rounding(h0))
        if rounding is not None and not (ta.signal or tb.signal):
            # g never rose above f's rounding: the pair measured rounding alone, and the two
            # tableaux agree on it whatever the slope. Only the finest step bounds the slope
            # (f under a large constant, moving by an ulp or two over every step).
            err = max(err, rounding(min(ta.finest, tb.finest)))
        if err < best_err:
            best, best_err = est, err
        if err <= ACCEPT * max(_finite_norm(est), 1e-300):
            break
    if best is None:
        return g(steps[-1]), math.inf
    return best, best_err


# ---- one Richardson step, along directions in several inputs ------------------------------------
def richardson_step(dtype: torch.dtype) -> float:
    """The first step of :func:`richardson` in ``dtype``: truncation ~ h^4 and rounding ~ eps / h
    balance at h ~ eps^(1/5) (7e-4 in float64, 4e-2 in float32, 0.4 in bfloat16).

    >>> f"{richardson_step(torch.float64):.1e}"
    '7.4e-04'
    """
    return float(torch.finfo(dtype).eps) ** 0.2


def richardson(phi: Phi, phi0: float, h: float, size: float, eps: float = EPS, *,
               one_sided: bool = True) -> Slope | None:
    """phi'(0) by central differences D(t) = (phi(t) - phi(-t)) / 2t and one Richardson step
    R = (4 D(h/2) - D(h)) / 3 (six evaluations of phi, at +-h, +-h/2, +-h/4). The error is
    measured, never assumed: |R(h/2, h/4) - R(h, h/2)|, plus phi's rounding ROUNDING * eps * size
    / t at the quotient's steps (``size`` is the magnitude of what phi sums, ``eps`` the precision
    phi computes in). The one-sided gaps at h and h/4 show a kink at the sample (``gap``; half of it
    joins the error, as central differences average the two sides); ``one_sided=False`` when the
    steps are not symmetric (rounded), which a gap would read as a kink. None when phi is not
    finite at a step.

    >>> s = richardson(lambda t: math.exp(1.0 + t), math.e, 7e-4, math.e)
    >>> abs(s.value - math.e) < 1e-11, s.error < 1e-10, s.gap
    (True, True, 0.0)
    >>> richardson(lambda t: abs(t), 0.0, 7e-4, 1.0).gap > 0.5
    True
    """
    steps = (h, h / 2, h / 4)
    p = {s: phi(s) for t in steps for s in (t, -t)}
    if any(v is None or not math.isfinite(v) for v in p.values()) or not math.isfinite(phi0):
        return None
    val: dict[float, float] = {s: float(v) for s, v in p.items() if v is not None}
    d = [(val[t] - val[-t]) / (2 * t) for t in steps]
    value = (4 * d[1] - d[0]) / 3
    finer = (4 * d[2] - d[1]) / 3
    # the rounding of R(h, h/2): 4/3 of D(h/2)'s and 1/3 of D(h)'s, each ROUNDING * eps * size / t
    noise = ROUNDING * eps * 2 * size / (h / 2)
    gaps = [abs(val[t] - 2 * phi0 + val[-t]) / t for t in (steps[0], steps[2])]
    gap = gaps[1] if one_sided and _kink(gaps, ROUNDING * eps * size / steps[2]) else 0.0
    return Slope(value, max(abs(finer - value) + noise, gap / 2), gap)


Forward = Callable[[list[torch.Tensor]], Sequence[torch.Tensor]]


@dataclass
class FiniteDifferences:
    """u^T J e per direction, its measured absolute error, the directions e it was taken along
    (float64; the realized steps when inputs round), and the dtype it was computed in.

    ``values`` and ``errors`` are in units of f's largest output entry at x (``unit``), so that
    neither overflows nor underflows at any scale of f. ``rounding`` is the part of each error that
    is f's rounding, as eps and the step set it (assumed, not measured): the finest relative error
    these differences could resolve. ``gaps`` are the one-sided slope gaps of a kink at the sample,
    per direction (0 where f is smooth there).

    >>> fd = FiniteDifferences(torch.tensor([2.0], dtype=torch.float64),
    ...                        torch.tensor([1e-12], dtype=torch.float64),
    ...                        [{"x": torch.ones(2, dtype=torch.float64)}], torch.float64)
    >>> float(fd.project({"x": torch.ones(2)})[0]), fd.resolution
    (2.0, 5e-13)
    """

    values: torch.Tensor
    errors: torch.Tensor
    directions: list[dict[str, torch.Tensor]]
    dtype: torch.dtype
    unit: float = 1.0
    rounding: torch.Tensor | None = None
    gaps: torch.Tensor | None = None

    @property
    def kinks(self) -> int:
        """The number of directions along which f's one-sided slopes differ at the sample."""
        return 0 if self.gaps is None else int((self.gaps > 0).sum())

    def head(self, k: int) -> FiniteDifferences:
        """The first ``k`` directions alone."""
        def cut(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[:k]

        return FiniteDifferences(self.values[:k], self.errors[:k], self.directions[:k], self.dtype,
                                 self.unit, cut(self.rounding), cut(self.gaps))

    def project(self, grads: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The claim's side of u^T J e for each direction e, in the units of ``values``."""
        return along(grads, self.directions) / self.unit

    @property
    def resolution(self) -> float:
        """The smallest relative error these values resolve (normwise, like the check's error)."""
        return self._relative(self.errors)

    @property
    def rounding_resolution(self) -> float:
        """The part of :attr:`resolution` that f's rounding sets, from eps and the step alone."""
        return 0.0 if self.rounding is None else self._relative(self.rounding)

    def _relative(self, errors: torch.Tensor) -> float:
        scale = max(float(torch.linalg.vector_norm(self.values)), torch.finfo(torch.float64).tiny)
        return float(torch.linalg.vector_norm(errors)) / scale


def along(grads: Mapping[str, torch.Tensor], directions: Sequence[Mapping[str, torch.Tensor]]
          ) -> torch.Tensor:
    """sum over inputs of <grad, e>, for each direction e: the claim's side of u^T J e.

    >>> along({"x": torch.ones(2)}, [{"x": torch.tensor([1.0, 2.0])}])
    tensor([3.], dtype=torch.float64)
    """
    return torch.tensor([sum(float((grads[k].to(torch.float64) * e[k]).sum()) for k in e)
                         for e in directions], dtype=torch.float64)


def largest_entry(outs: Sequence[torch.Tensor]) -> float:
    """The largest finite |entry| of the floating tensors ``outs`` (1 when there is none): the unit
    differences are taken in.

    >>> largest_entry([torch.tensor([-3.0, 1.0]), torch.tensor([2, 5])])
    3.0
    """
    big = 0.0
    for o in outs:
        if o.is_floating_point() and o.numel():
            a = o.detach().to(torch.float64).abs()
            a = a[torch.isfinite(a)]
            if a.numel():
                big = max(big, float(a.max()))
    return big if 0 < big < math.inf else 1.0


def directional_differences(forward: Forward, inputs: Mapping[str, torch.Tensor],
                            grad_outputs: Sequence[torch.Tensor | None],
                            directions: Sequence[Mapping[str, torch.Tensor]], dtype: torch.dtype,
                            at_x: Sequence[torch.Tensor] | None = None) -> FiniteDifferences:
    """u^T J v for each direction v, from ``forward`` (the inputs, in order, in ``dtype`` -> the
    outputs) by :func:`richardson` at its balanced step in ``dtype``; ``at_x`` are the outputs at
    the inputs when the caller has them.

    g(t) = <u, f(x + t v)> / unit. Below float64, x + t v rounds to ``dtype``; the realized steps
    d(t) = round(x + t v) - x are known exactly, so the quotient is taken along
    e = (4 e(h/2) - e(h)) / 3 with e(t) = (d(t) - d(-t)) / 2t, and rounding the step costs nothing
    (``directions`` returns e). There the steps are not symmetric, so the one-sided gap would read
    the rounding of the step as a kink: it is looked for in float64 only.

    >>> x = {"x": torch.tensor([0.5, -1.0], dtype=torch.float64)}
    >>> fd = directional_differences(lambda a: (a[0].sin(),), x, [torch.ones(2)],
    ...                              [{"x": torch.tensor([1.0, 0.0], dtype=torch.float64)}], torch.float64)
    >>> abs(float(fd.values[0]) * fd.unit - math.cos(0.5)) < 1e-10, fd.kinks
    (True, 0)
    """
    x64 = {k: v.detach().to(torch.float64).contiguous() for k, v in inputs.items()}
    u = [None if g is None else g.to(torch.float64).reshape(-1) for g in grad_outputs]
    eps = float(torch.finfo(dtype).eps)
    h = richardson_step(dtype)
    exact = dtype == torch.float64  # x + t v rounds at eps / t ~ 1e-13 relative: below resolution
    outs = at_x if at_x is not None else forward([t.to(dtype) for t in x64.values()])
    unit = largest_entry(outs)

    def project(values: Sequence[torch.Tensor]) -> float:
        return sum(float((o.reshape(-1).to(torch.float64) / unit) @ w)
                   for o, w in zip(values, u, strict=True) if w is not None)

    # the rounding scale sum |u| |f(x)|, in units; an entry below the dtype's smallest normal
    # rounds at the subnormal spacing, eps * tiny, not at eps of itself (as rounding_size)
    tiny = float(torch.finfo(dtype).tiny)
    size = sum(float((o.reshape(-1).to(torch.float64).abs().clamp_min(tiny) / unit) @ w.abs())
               for o, w in zip(outs, u, strict=True) if w is not None)
    phi0 = project(outs)
    values, errors, noises, gaps, realized = [], [], [], [], []
    for v in directions:
        steps: dict[float, dict[str, torch.Tensor]] = {}

        def phi(t: float, v: Mapping[str, torch.Tensor] = v,
                steps: dict[float, dict[str, torch.Tensor]] = steps) -> float:
            moved = {k: (x64[k] + t * v[k].to(torch.float64)).to(dtype) if k in v
                     else x64[k].to(dtype) for k in x64}
            if not exact:
                steps[t] = {k: moved[k].to(torch.float64) - x64[k] for k in v}
            return project(forward(list(moved.values())))

        s = richardson(phi, phi0, h, size, eps, one_sided=exact)
        if s is None:  # f not finite at a step: no value, an infinite error
            s = Slope(math.nan, math.inf, 0.0)
        gaps.append(s.gap)
        values.append(s.value)
        errors.append(s.error)
        noises.append(ROUNDING * eps * 2 * size / (h / 2))
        if exact:
            realized.append({k: v[k].to(torch.float64) for k in v})
        else:
            e = [{k: (steps[t][k] - steps[-t][k]) / (2 * t) for k in v} for t in (h, h / 2)]
            realized.append({k: (4 * e[1][k] - e[0][k]) / 3 for k in v})
    def t64(xs: list[float]) -> torch.Tensor:
        return torch.tensor(xs, dtype=torch.float64)

    return FiniteDifferences(t64(values), t64(errors), realized, dtype, unit, t64(noises), t64(gaps))
