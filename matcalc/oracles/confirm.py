"""Confirming an autograd truth from f's values alone, before it decides a verdict.

Autograd differentiates the graph f builds, not f: ``.item()``, ``.detach()``, ``.numpy()`` or a
custom backward hide part of f from it, and a claim that agrees with the part autograd sees would
pass. So every verdict taken against an autograd truth is confirmed by finite differences of f
along one random direction v (structure-aware: symmetric where the input is), projected on one
random output direction u: u^T J v from the truth against the slope of s -> <u, f(x + s v)>
(matcalc/oracles/fd.py: four evaluations of f, its error measured).

The outcome (:meth:`Confirmation.outcome`):

* ``"kink"``: the one-sided slopes differ at the sample by more than the tolerance allows, and
  by more than the central slopes at the two steps differ (else f merely varies faster than the
  steps, as sin of a large determinant does): f is not differentiable there, and no claim can be
  decided (autograd returns one subgradient);
* ``"blind"``: the slope and autograd disagree beyond the slope's measured error: autograd cannot
  see all of f;
* ``"agree"``, or ``"unresolved"`` when f's values are too coarse to confirm anything (a huge
  constant term of f, f computed in low precision): autograd then stands alone, as the reference.

Example::

    >>> import torch
    >>> x = torch.tensor([0.3, -1.2, 0.8], dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> c = confirm_jacobian(lambda w: (w * w).sum(), x, 2 * x, None, "general", g)
    >>> c.outcome(1e-13)
    'agree'
    >>> c = confirm_jacobian(lambda w: (w.detach() * w).sum(), x, x, None, "general", g)
    >>> c.outcome(1e-13)
    'blind'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from matcalc.core.tolerance import TINY
from matcalc.oracles.fd import EPS, KINK_STEPS, ROUNDING, STEP2, Slope, mixed, slope
from matcalc.oracles.rounding import SYMMETRIC

Fn = Callable[[torch.Tensor], torch.Tensor]
# The slope and autograd disagree when they differ by more than this many measured errors.
DISAGREE = 8.0
# A slope known only to this relative error confirms nothing.
UNRESOLVED = 1e-2


@dataclass
class Confirmation:
    """u^T J v from autograd next to the finite-difference slope, its error and its kink gap."""

    autograd: float
    fd: Slope | None

    def outcome(self, tolerance: float) -> str:
        s = self.fd
        if s is None or not math.isfinite(self.autograd):
            return "unresolved"
        scale = max(abs(self.autograd), abs(s.value))
        if scale < TINY:
            # Subnormal: autograd's own products keep only a few significant bits there (its
            # error is no longer eps-relative), so a disagreement shows nothing about f.
            return "unresolved"
        # A kink leaves the central quotients at the two steps in agreement (they average the
        # sides); when they disagree by more than the one-sided gap, f varies faster than the
        # steps can follow (sin of a large determinant): no evidence of a kink, or of anything.
        if s.gap > 0 and s.gap / 2 > tolerance * scale and s.gap > s.error:
            return "kink"
        if s.error > UNRESOLVED * scale:
            return "unresolved"
        if abs(self.autograd - s.value) > DISAGREE * s.error:
            return "blind"
        return "agree"

    def describe(self) -> str:
        s = self.fd
        assert s is not None
        return (f"autograd gives u^T J v = {self.autograd:.6g} along a random direction, finite "
                f"differences of f give {s.value:.6g} (measured error {s.error:.2g})")


def direction(x: torch.Tensor, structure: str, gen: torch.Generator) -> torch.Tensor:
    """A random direction of norm ||x|| (1 for x = 0) in x's space: symmetric for a symmetric
    structure, whose f may read one triangle; every entry otherwise (a diagonal input's zeros are
    where relu and abs have kinks)."""
    v = torch.randn(x.shape, generator=gen, device=x.device, dtype=torch.float64)
    if structure in SYMMETRIC and v.ndim == 2:
        v = (v + v.T) / 2
    size = float(torch.linalg.vector_norm(x.to(torch.float64)))
    size = size if 0 < size < math.inf else 1.0
    return v * (size / max(float(torch.linalg.vector_norm(v)), 1e-300))


def _projection(shape: torch.Size | tuple[int, ...], gen: torch.Generator,
                like: torch.Tensor) -> torch.Tensor:
    if len(shape) == 0:
        return torch.ones((), dtype=torch.float64, device=like.device)
    return torch.randn(tuple(shape), generator=gen, device=like.device, dtype=torch.float64)


def _scalar(value: torch.Tensor, u: torch.Tensor) -> float | None:
    value = value.detach().to(torch.float64)
    if value.shape != u.shape or not bool(torch.isfinite(value).all()):
        return None
    return float((value * u).sum())


def confirm_jacobian(fn: Fn, x: torch.Tensor, whole: torch.Tensor | None,
                     vjp: Callable[[torch.Tensor], torch.Tensor] | None, structure: str,
                     gen: torch.Generator, fx: torch.Tensor | None = None,
                     eps: float = EPS) -> Confirmation:
    """Confirm J = df/dx at x: from ``whole`` (J in numerator layout) when the oracle
    materialized it, else from one ``vjp`` (u -> u^T J, autograd's pullback); ``fx`` is f(x)
    when the caller has it, ``eps`` the precision f computes in."""
    x = x.detach()
    if fx is None:
        with torch.no_grad():
            fx = fn(x)
    fx = fx.detach().to(torch.float64)
    u = _projection(fx.shape, gen, x)
    v = direction(x, structure, gen)
    if whole is not None:
        flat = whole.detach().to(torch.float64).reshape(fx.numel(), x.numel())
        w = float(u.reshape(-1) @ (flat @ v.reshape(-1)))
    else:
        assert vjp is not None
        w = float((vjp(u.to(x.dtype)).detach().to(torch.float64) * v).sum())

    def phi(s: float) -> float | None:
        with torch.no_grad():
            return _scalar(fn(x + (s * v).to(x.dtype)), u)

    phi0 = _scalar(fx, u)
    size = float((u.abs() * fx.abs().clamp_min(TINY)).sum())
    fd = slope(phi, phi0, size, eps) if phi0 is not None and math.isfinite(size) else None
    return Confirmation(w, asymptotic(fd, ROUNDING * eps * size / KINK_STEPS[0]))


def asymptotic(fd: Slope | None, rounding: float) -> Slope | None:
    """``fd`` when its two steps agree, else None (unresolved). The part of its measured error
    above f's ``rounding`` is how far the quotients at its two steps are apart; beyond UNRESOLVED
    of the value, the steps are outside the range where differences follow f (f varies faster
    than them, as sin of a large determinant does), and its error estimate means nothing either.
    A kink keeps the central quotients together (they average the sides), so it still shows.

    >>> asymptotic(Slope(1.0, 1e-9, 0.0), 1e-12).value, asymptotic(Slope(3e4, 7e3, 0.0), 1.0)
    (1.0, None)
    """
    if fd is None or fd.error - rounding <= UNRESOLVED * abs(fd.value):
        return fd
    return None


def confirm_hessian(fn: Fn, x: torch.Tensor, whole: torch.Tensor | None,
                    hvp: Callable[[torch.Tensor], torch.Tensor] | None, structure: str,
                    gen: torch.Generator, fx: torch.Tensor | None = None,
                    eps: float = EPS) -> Confirmation:
    """Confirm H = d^2 f/dx^2 (f scalar) along two random directions: u^T H v from ``whole``
    (or one ``hvp``) against mixed second differences of f."""
    x = x.detach()
    u, v = direction(x, structure, gen), direction(x, structure, gen)
    if whole is not None:
        flat = whole.detach().to(torch.float64).reshape(x.numel(), x.numel())
        w = float(u.reshape(-1) @ (flat @ v.reshape(-1)))
    else:
        assert hvp is not None
        w = float((hvp(v.to(x.dtype)).detach().to(torch.float64).reshape(u.shape) * u).sum())

    def psi(a: float, b: float) -> float | None:
        with torch.no_grad():
            value = fn(x + (a * u + b * v).to(x.dtype)).detach().to(torch.float64)
        return float(value) if bool(torch.isfinite(value).all()) else None

    if fx is None:
        with torch.no_grad():
            fx = fn(x)
    size = max(abs(float(fx.detach().to(torch.float64).reshape(()))), TINY)
    if not math.isfinite(size):
        return Confirmation(w, None)
    fd = mixed(psi, STEP2, size, eps)
    return Confirmation(w, asymptotic(fd, ROUNDING * eps * size / (STEP2 / 2) ** 2))


def confirm_differential(fn: Callable[..., torch.Tensor], primals: tuple[torch.Tensor, ...],
                         dirs: tuple[torch.Tensor, ...], true_df: torch.Tensor,
                         gen: torch.Generator, eps: float = EPS) -> Confirmation:
    """Confirm the true df along ``dirs`` (what the differential oracle computed) by the slope
    of f along the same directions."""
    with torch.no_grad():
        fx = fn(*primals).detach().to(torch.float64)
    u = _projection(fx.shape, gen, primals[0])
    size_p = sum(float(torch.linalg.vector_norm(p.to(torch.float64))) for p in primals)
    size_d = sum(float(torch.linalg.vector_norm(d.to(torch.float64))) for d in dirs)
    scale = size_p / size_d if size_d > 0 and size_p > 0 else 1.0
    w = _scalar(true_df, u)

    def phi(s: float) -> float | None:
        with torch.no_grad():
            moved = fn(*(p + (s * scale * d).to(p.dtype) for p, d in zip(primals, dirs, strict=True)))
        value = _scalar(moved, u)
        return None if value is None else value / scale

    phi0 = _scalar(fx, u)
    size = float((u.abs() * fx.abs().clamp_min(TINY)).sum()) / scale
    fd = slope(phi, phi0 / scale, size, eps) if phi0 is not None and w is not None else None
    return Confirmation(math.nan if w is None else w, fd)
