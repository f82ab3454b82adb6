"""Hints that need the claim re-checked: every hint that proposes a correction (a factor, a
transpose, the other layout) is given only when the corrected rule passes, at the same draw and
at a second one; and a failed claim is re-checked with structured inputs (symmetric, spd,
diagonal) and with its inputs swapped, to say what it needs.

Each hint must rest on a clear margin, never on a tolerance difference: the original error must be
at least FAR times the check's tolerance, and the corrected or structured re-check must be within
that same tolerance (not the looser one a conditioned draw gets) and FAR times closer.

Example::

    >>> import matcalc as mc, torch
    >>> rule = mc.Rule(name="twice_Ax", f=lambda x, A: x @ A @ x, derivative=lambda x, A: 2 * A @ x,
    ...                wrt="x", inputs={"x": mc.vector("n"), "A": mc.matrix("n", "n")})
    >>> mc.check(rule).hints
    ['holds when A is symmetric, fails for general A']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from matcalc.core.result import Result
from matcalc.diagnosis.hint import Hint, classes_of
from matcalc.diagnosis.kink import kink
from matcalc.diagnosis.values import FAR, layout_text, other_layout, transpose_candidates
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule
from matcalc.model.sizes import SEED_LIMIT

Recheck = Callable[[Rule, int], Result]
# Stricter structures to try, by the structure an input is drawn with.
STRICTER: dict[str, tuple[str, ...]] = {
    "general": ("symmetric", "spd", "diagonal"),
    "invertible": ("spd", "diagonal"),
}
# Exploratory re-checks (structures, swapped inputs) only below this many input elements: each
# is a whole check again, and a failure at a scaled-up n is diagnosed at the default sizes.
EXPLORE_MAX_NUMEL = 1 << 20


@dataclasses.dataclass
class Review:
    """What the re-checks compare against: the failed result and how to re-run a rule."""

    rule: Rule
    result: Result
    recheck: Recheck

    @property
    def far(self) -> bool:
        """Whether the claim's error is far above rounding (else no hint rests on it)."""
        return math.isfinite(self.result.error) and self.result.error >= FAR * self.result.tolerance

    def holds(self, fixed: Rule, strict: bool = True) -> bool:
        """The corrected rule passes within the original tolerance, FAR times closer than the
        claim, at the check's seed and at the next one. A claim of the wrong shape is no near
        miss: its correction needs only to pass (``strict=False``)."""
        res = self.result
        for seed in (res.seed, (res.seed + 1) % SEED_LIMIT):
            try:
                again = self.recheck(fixed, seed)
            except (MatcalcError, RuntimeError, TypeError, ValueError, IndexError):
                return False
            bound = res.tolerance if strict and res.tolerance > 0 else again.tolerance
            if not again.passed or again.error > bound or again.error * FAR > res.error:
                return False
        return True


def review(rule: Rule, result: Result, recheck: Recheck, *, structures: bool = True) -> list[str]:
    """The failed result's hints, each verified; plus transposes the oracle could not see and,
    with ``structures``, the structure or the input order the claim needs.

    ``recheck(rule, seed)`` re-runs one check of a rule at the failed check's sizes and oracle.
    """
    rv = Review(rule, result, recheck)
    kept: list[str] = []
    specific = False
    for h in result.hints:
        fix = h.fix if isinstance(h, Hint) else None
        if fix is None:
            kept.append(h)
        elif rv.far and rv.holds(fix(rule)):
            kept.append(h)
            specific = True
        elif rv.far and isinstance(h, Hint) and h.value is not None:
            found = _varying_factor(rv, h.value)
            if found is not None:
                kept.append(found)
                specific = True
    if result.outcome != "fail" or specific or _matrix_free(rule, result):
        return kept
    if _shape_wrong(result):
        # Whole-Jacobian oracles name the shape slip from the truth; the others re-check fixes.
        if not any(classes_of(h) for h in kept):
            found = _shape_fix(rv)
            if found is not None:
                kept.append(found)
        return kept
    if not rv.far:
        return kept
    if _not_differentiable(rule, result):
        return [*kept, Hint(
            "f is not differentiable at the sample: one-sided differences of f along a direction "
            "disagree (a kink, e.g. relu or abs at 0): any claim there is one choice of "
            "subgradient; check at another seed", {"kink"})]
    if result.mismatch is None:
        found = _transposes(rv)
        if found is not None:
            return [*kept, found]
    numel = sum(t.numel() for t in (result.counterexample or {}).values())
    if structures and numel <= EXPLORE_MAX_NUMEL:
        found = _structure(rv) or _swap(rv)
        if found is not None:
            kept.append(found)
    return kept


def _varying_factor(rv: Review, c: float) -> Hint | None:
    """A claim that is a multiple of the truth at this draw, by a factor the second draw does not
    repeat: the same shape but a scale that depends on the inputs (a wrong normalization). Only
    where the truth has more than one entry: a single number is a multiple of any other."""
    res = rv.result
    if res.true_shape is None or math.prod(res.true_shape) < 2:
        return None
    try:
        again = rv.recheck(rv.rule, (res.seed + 1) % SEED_LIMIT)
    except (MatcalcError, RuntimeError, TypeError, ValueError, IndexError):
        return None
    other = [h.value for h in again.hints if isinstance(h, Hint) and h.value is not None]
    if again.outcome != "fail" or not other or abs(other[0] - c) <= 1e-6 * abs(c):
        return None
    return Hint(f"off by a factor of {c:.4g} at this draw and {other[0]:.4g} at another: a multiple of "
                "the truth by a factor that depends on the inputs (a wrong normalization?)", {"scale"})


def _matrix_free(rule: Rule, result: Result) -> bool:
    """A claim checked through its jvp/vjp: re-checks of the materialized claim prove nothing."""
    return (rule.jvp is not None or rule.vjp is not None) and result.oracle in ("probe", "taylor")


def _not_differentiable(rule: Rule, result: Result) -> bool:
    if rule.kind == "hessian" or not result.counterexample:
        return False
    inputs = result.counterexample
    name = rule.wrt_names[0]

    def f(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, name: w})

    try:
        return kink(f, inputs[name], torch.Generator().manual_seed(result.seed))
    except Exception:  # f refuses a perturbed input: no evidence either way
        return False


def _shape_wrong(result: Result) -> bool:
    return result.claim_shape is not None and result.true_shape is not None \
        and tuple(result.claim_shape) != tuple(result.true_shape)


def _with(rule: Rule, g: Callable[[torch.Tensor], torch.Tensor]) -> Rule:
    d = rule.derivative
    return dataclasses.replace(rule, derivative=lambda **kw: g(d(**kw)), jvp=None, vjp=None, fast=None)


def _shape_fix(rv: Review) -> Hint | None:
    """A claim of the wrong shape, with an oracle that never sees the whole truth: the fixes a
    shape slip suggests (the other layout, a transpose, torch.diag, a reshape), re-checked."""
    rule, res = rv.rule, rv.result
    if not res.counterexample:
        return None
    raw, declared = tuple(res.claim_shape or ()), tuple(res.true_shape or ())
    wrt = tuple(res.counterexample[rule.wrt_names[0]].shape)
    if rule.kind == "differential":
        out: tuple[int, ...] = ()
    elif rule.layout == "denominator" and rule.kind == "jacobian":
        out = declared[len(wrt):]
    else:
        out = declared[: len(declared) - len(wrt)]
    candidates: list[tuple[str, frozenset[str], Rule]] = []
    if rule.kind == "jacobian" and out:
        other = wrt + out if rule.layout == "numerator" else out + wrt
        if raw == other:
            text, kinds = layout_text(rule.layout, len(raw) == 2)
            candidates.append((text, kinds, other_layout(rule)))
    if len(raw) >= 2 and (*raw[:-2], raw[-1], raw[-2]) == declared:
        candidates.append(("matches the transpose: the claim is transposed", frozenset({"transpose"}),
                           _with(rule, lambda t: t.mT)))
    if len(raw) == 1 and declared == (raw[0], raw[0]) and rule.kind == "jacobian":
        candidates.append(("a vector where a diagonal Jacobian belongs: wrap it in torch.diag(...)",
                           frozenset({"diag_vector"}), _with(rule, torch.diag)))
    if math.prod(raw) == math.prod(declared):
        candidates.append((f"right values in the wrong shape: reshape to {declared}", frozenset({"reshape"}),
                           _with(rule, lambda t: t.reshape(declared))))
    for text, kinds, fixed in candidates:
        if rv.holds(fixed, strict=False):
            return Hint(text, kinds)
    return None


def _shapes(rule: Rule, result: Result) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    if result.true_shape is None or result.claim_shape != result.true_shape or not result.counterexample:
        return None
    wrt = tuple(result.counterexample[rule.wrt_names[0]].shape)
    true_shape = tuple(result.true_shape)
    if len(wrt) > len(true_shape) or true_shape[len(true_shape) - len(wrt):] != wrt:
        return None
    return true_shape[: len(true_shape) - len(wrt)], wrt


def _transposes(rv: Review) -> Hint | None:
    """For oracles that compare projections (probe, Taylor), try the transposes by re-checking."""
    if rv.rule.kind == "differential":
        shape = tuple(rv.result.claim_shape or ())
        if len(shape) >= 2 and shape[-1] == shape[-2] > 1 and rv.holds(_with(rv.rule, lambda t: t.mT)):
            return Hint("matches the transpose: the claimed df is transposed", {"transpose"})
        return None
    shapes = _shapes(rv.rule, rv.result)
    if shapes is None:
        return None
    for text, kinds, fix in transpose_candidates(*shapes, rv.rule.layout, rv.rule.kind):
        if rv.holds(fix(rv.rule)):  # type: ignore[operator]
            return Hint(text, kinds)
    return None


def _structure(rv: Review) -> Hint | None:
    rule = rv.rule
    for name, dom in rule.inputs.items():
        if dom.kind != "matrix" or dom.shape[0] != dom.shape[1]:
            continue
        for structure in STRICTER.get(dom.structure, ()):
            stricter = dataclasses.replace(
                rule, inputs={**rule.inputs, name: dom.with_structure(structure)})
            if rv.holds(stricter):
                kind = "diagonal" if structure == "diagonal" else "symmetric"
                return Hint(f"holds when {name} is {structure}, fails for {dom.structure} {name}",
                            {f"{kind}:{name}"})
    return None


def _swapped(d: Callable[..., torch.Tensor], a: str, b: str) -> Callable[..., torch.Tensor]:
    # A closure, not default arguments: the rule's own inputs may be named a and b.
    return lambda **kw: d(**{**kw, a: kw[b], b: kw[a]})


def _swap(rv: Review) -> Hint | None:
    rule = rv.rule
    names = list(rule.inputs)
    d = rule.derivative
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if rule.inputs[a].shape != rule.inputs[b].shape:
                continue

            fixed = dataclasses.replace(rule, derivative=_swapped(d, a, b), jvp=None, vjp=None, fast=None)
            if rv.holds(fixed):
                return Hint(f"matches with {a} and {b} swapped in the claim", {"swap"})
    return None
