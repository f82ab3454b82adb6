"""Hints from the values of a wrong claim of the right shape: a factor, a sign, a transpose or the
other layout, or a few wrong entries.

A hint must rest on a clear margin, never on a tolerance difference: no hint at all unless the
claim's error is at least ``FAR`` tolerances (a near miss is rounding, not a mistake), and the
corrected claim must then agree within the tolerance. Factor and transpose hints carry a ``fix``;
check() gives them only when the corrected rule also passes at a second draw
(matcalc/diagnosis/review.py).

Example::

    >>> import torch
    >>> J = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    >>> value_hints(2 * J, J, tol=1e-12, out_shape=(2,), wrt_shape=(2,))
    ['off by a factor of 2']
    >>> value_hints(J.T, J, tol=1e-12, out_shape=(2,), wrt_shape=(2,))
    ["matches the transpose: is this denominator layout? (declare layout='denominator')"]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction

import torch

from matcalc.core.mismatch import mismatch, nonzero_entries
from matcalc.diagnosis.hint import Hint
from matcalc.model.rule import Rule, to_numerator

# A hint needs the claim's error to be at least FAR tolerances: below that it may be rounding.
FAR = 100.0
# Below this fraction of the nonzero entries a failure is reported as local ("except at entries").
LOCAL_FRACTION = 0.25
MAX_LISTED = 5


def close(a: torch.Tensor, b: torch.Tensor, tol: float, floor: float = 0.0) -> bool:
    """||a - b|| <= tol * max(||b||, floor), in float64.

    >>> import torch
    >>> close(torch.ones(2), torch.ones(2) * (1 + 1e-15), 1e-12)
    True
    """
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    denom = max(float(torch.linalg.vector_norm(b64)), floor, 1e-300)
    return float(torch.linalg.vector_norm(a64 - b64)) <= tol * denom


def factor_text(c: float, tol: float = 0.0) -> str:
    """A factor as people write it: a simple fraction when it is one (within ``tol``, relative),
    1 + delta near 1.

    >>> factor_text(0.5), factor_text(-3.0), factor_text(1 + 1e-9), factor_text(2.249)
    ('1/2', '-3', '1 + 1e-09', '2.249')
    """
    if not math.isfinite(c):
        return f"{c:.6g}"
    frac = Fraction(c).limit_denominator(8)
    if frac != 0 and abs(frac.numerator) <= 16 and abs(c - float(frac)) <= max(1e-12, 10 * tol) * abs(c):
        return str(frac)
    if abs(c - 1) < 1e-3:
        return f"1 {'+' if c > 1 else '-'} {abs(c - 1):.3g}"
    return f"{c:.6g}"


def scaled(rule: Rule, c: float) -> Rule:
    """The rule with its claim divided by c (the fix a factor hint proposes)."""
    d = rule.derivative
    return dataclasses.replace(rule, derivative=lambda **kw: d(**kw) / c, jvp=None, vjp=None,
                               fast=None)


def _scaler(c: float) -> Callable[[Rule], Rule]:
    return lambda rule: scaled(rule, c)


def other_layout(rule: Rule) -> Rule:
    """The rule declared in the other layout (the fix a layout hint proposes)."""
    flipped = "denominator" if rule.layout == "numerator" else "numerator"
    return dataclasses.replace(rule, layout=flipped, jvp=None, vjp=None, fast=None)  # type: ignore[arg-type]


def transposed(out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """rule -> the rule whose claim (read in numerator layout) has its last two axes swapped."""
    def fix(rule: Rule) -> Rule:
        d = rule.derivative

        def derivative(**kw: object) -> torch.Tensor:
            return to_numerator(rule, d(**kw), out_shape, wrt_shape).mT

        return dataclasses.replace(rule, derivative=derivative, layout="numerator", jvp=None,
                                   vjp=None, fast=None)
    return fix


def layout_text(declared: str, two_d: bool) -> tuple[str, frozenset[str]]:
    """What to say when the claim matches the other layout than the declared one."""
    if declared == "numerator":
        if two_d:
            return ("matches the transpose: is this denominator layout? (declare layout='denominator')",
                    frozenset({"transpose", "layout"}))
        return ("matches denominator layout (wrt.shape + f.shape): declare layout='denominator'",
                frozenset({"layout"}))
    if two_d:
        return ("matches the transpose, the numerator layout: declare layout='numerator'",
                frozenset({"transpose", "layout"}))
    return ("matches the numerator layout (f.shape + wrt.shape): declare layout='numerator'",
            frozenset({"layout"}))


def transpose_candidates(out_shape: tuple[int, ...], wrt_shape: tuple[int, ...], layout: str,
                         kind: str) -> list[tuple[str, frozenset[str], object]]:
    """The transposes a claim of this shape could have slipped into: (text, kinds, fix)."""
    found: list[tuple[str, frozenset[str], object]] = []
    if kind == "differential":
        return found
    shape = out_shape + wrt_shape
    swap_differs = kind == "jacobian" and out_shape == wrt_shape and len(out_shape) > 0 \
        and math.prod(out_shape) > 1
    two_d = len(shape) == 2
    if swap_differs:
        text, kinds = layout_text(layout, two_d)
        found.append((text, kinds, other_layout))
    if len(shape) >= 2 and shape[-1] == shape[-2] and shape[-1] > 1 and not (swap_differs and two_d):
        found.append(("matches the transpose: the claim is transposed", frozenset({"transpose"}),
                      transposed(out_shape, wrt_shape)))
    return found


def _apply(candidate_fix: object, claim: torch.Tensor, out_shape: tuple[int, ...],
           wrt_shape: tuple[int, ...]) -> torch.Tensor:
    """A transpose candidate applied to a numerator-layout claim."""
    if candidate_fix is other_layout:
        n_out = math.prod(out_shape)
        return claim.reshape(n_out, -1).T.reshape(claim.shape)
    return claim.mT


def value_hints(claim: torch.Tensor, true: torch.Tensor, *, tol: float, out_shape: tuple[int, ...],
                wrt_shape: tuple[int, ...], layout: str = "numerator", kind: str = "jacobian",
                floor: float = 0.0, materialized: bool = True) -> list[Hint]:
    """Hints for a wrong claim of the right shape (both in numerator layout), most specific first.

    ``materialized`` says whether claim and truth are whole Jacobians (entry indices and
    transposes mean something) or projections of them (only a factor does).

    >>> import torch
    >>> t = torch.arange(1.0, 9.0, dtype=torch.float64)
    >>> c = t.clone(); c[3] = 0.0
    >>> value_hints(c, t, tol=1e-12, out_shape=(), wrt_shape=(8,))
    ['correct except at entries (3,)']
    >>> value_hints(t * (1 + 1e-14), t, tol=1e-13, out_shape=(), wrt_shape=(8,))
    []
    """
    if tuple(claim.shape) != tuple(true.shape):
        return []
    if not bool(torch.isfinite(claim).all()):
        nan, inf = int(torch.isnan(claim).sum()), int(torch.isinf(claim).sum())
        return [Hint(f"claim has {nan} NaN and {inf} Inf entries (NaN never passes)")]
    if not bool(torch.isfinite(true).all()):
        return [Hint("autograd itself gave NaN/Inf here: the input is outside f's domain")]
    # In units of the largest entry: at f scaled by 1e160 the products below overflow, at 1e-315
    # the squared norm underflows to 0; a hint is about ratios, which the unit leaves unchanged.
    unit = max(float(true.abs().max()) if true.numel() else 0.0,
               float(claim.abs().max()) if claim.numel() else 0.0)
    if unit == 0.0:
        return []
    t64, c64 = true.to(torch.float64) / unit, claim.to(torch.float64) / unit
    floor = floor / unit
    t_norm = float(torch.linalg.vector_norm(t64))
    if t_norm <= tol * floor or t_norm == 0.0:
        return []  # f does not depend on the input: check() says so
    error = float(torch.linalg.vector_norm(c64 - t64)) / max(t_norm, floor)
    if not error >= FAR * tol:
        return []
    out: list[Hint] = []
    # Projected on the truth's direction first: t_norm squared underflows when the claim dwarfs
    # the truth (a bumped entry beside a truth of 1e-315); such a ratio names no factor.
    c = float((c64 * (t64 / t_norm)).sum()) / t_norm
    if c != 0.0 and math.isfinite(c) and close(c64, c * t64, tol):
        text = factor_text(c, tol)
        if text == "1":  # within the tolerance of 1: not a factor to name
            return []
        if text == "-1":
            return [Hint("sign flipped", {"sign"}, fix=lambda r: scaled(r, -1.0), value=c)]
        return [Hint(f"off by a factor of {text}", {"factor"}, fix=_scaler(c), value=c)]
    if not materialized:
        return out
    for text, kinds, fix in transpose_candidates(out_shape, wrt_shape, layout, kind):
        if close(_apply(fix, c64, out_shape, wrt_shape), t64, tol):
            return [Hint(text, kinds, fix=fix)]  # type: ignore[arg-type]
    if claim.ndim == 0:
        return out
    bad = mismatch(c64, t64, tol, listed=MAX_LISTED)
    nonzero = nonzero_entries(c64, t64)
    if 0 < bad.count <= LOCAL_FRACTION * nonzero:
        shown = ", ".join(str(i) for i in bad.indices)
        more = "" if bad.count <= MAX_LISTED else f" and {bad.count - MAX_LISTED} more"
        out.append(Hint(f"correct except at entries {shown}{more}", {"entries"}))
    return out

