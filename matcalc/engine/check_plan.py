"""Before anything is drawn: which oracle runs, why, and how much memory the whole check needs.

The estimate covers the inputs (the float64 draw and its cast), the claim, the truth and the
oracle's working memory, from the shapes alone; f's output shape comes from the claim's text when
the rule has one, else from evaluating f on the ``meta`` device, which allocates nothing. A plan
over the budget carries the refusal's words (``what``, and a ``fix`` naming the largest size that
fits); the check refuses it through matcalc.engine.settings.require_memory, the one memory guard.

Example::

    >>> import torch
    >>> from matcalc.catalog import RULES
    >>> p = plan_check(RULES["linear_map"], {"m": 3, "n": 5}, torch.float64, torch.device("cpu"),
    ...                "auto", 4, 2**30)
    >>> p.oracle, p.out_shape, p.need <= p.budget
    ('jacobian', (3,), True)
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from matcalc.errors import MatcalcError
from matcalc.model.domains import MAX_SIZE
from matcalc.model.rule import Rule
from matcalc.oracles.memory import available_memory, human

# auto uses the whole reference Jacobian (exact, deterministic) up to this many rows, each one
# backward pass of f; past it, k probes cost a handful of passes whatever the size. At the
# catalog's default sizes f has at most a few hundred outputs.
AUTO_MAX_ROWS = 256
# ... and up to this many entries of J, so that materializing J stays a small part of the time,
# unless J has no more rows than there are probes: the probe oracle then pulls back the same
# standard basis (one backward pass per row) and materializes the same rows, so the whole J is
# never the slower choice (log|det X| at n = 4096: 1 row, 16.8M entries; probe was 1.26x slower).
AUTO_MAX_ENTRIES = 2**22
SQUARE_DRAW_TEMPORARIES = 3  # QR of an n x n Gaussian and the product that builds the matrix
# Shapes past these cannot even be described to torch (its sizes are 64-bit signed), so they are
# refused before the meta-device evaluation; anything smaller meets the memory estimate, which
# names the largest size that fits.
MAX_NUMEL = 2**62


@dataclass(frozen=True)
class Plan:
    """What a check will run and what it will hold in memory. ``materialize_claim`` is False only
    when the rule gives matrix-free forms (jvp/vjp), the oracle is matrix-free, and the
    materialized derivative would not fit the budget: the forms are then the whole claim. When
    ``need`` is over ``budget``, ``what`` and ``fix`` word the refusal (require_memory's)."""

    oracle: str
    why: str
    need: int
    budget: int
    out_shape: tuple[int, ...] | None
    materialize_claim: bool = True
    what: str = "the check"
    fix: str = ""


def output_shape(rule: Rule, sizes: Mapping[str, int], meta: bool = True) -> tuple[int, ...] | None:
    """f's output shape: inferred from the text for a rule built by :func:`matcalc.claim` (the
    catalog's are), else from a ``meta``-device evaluation; None when f cannot run there, or when
    ``meta`` is False (small inputs: f's real output, planned from after f runs, costs less).

    The text comes first because the first meta evaluation in a process imports torch._dynamo
    (its meta kernels are wrapped by ``torch._disable_dynamo``): 0.76 s, against 2 ms for the whole
    check of x^T A x at its default size.

    >>> from matcalc.catalog import RULES
    >>> output_shape(RULES["linear_map"], {"m": 3, "n": 5})
    (3,)
    """
    if rule.kind == "hessian":
        return ()
    from matcalc.claims import claim_of

    text = claim_of(rule)
    if text is not None and all(isinstance(d, int) or d in sizes for d in text.f_shape):
        return tuple(d if isinstance(d, int) else int(sizes[d]) for d in text.f_shape)
    if not meta:
        return None
    meta_inputs = {name: torch.empty(dom.resolve(sizes), device="meta", dtype=torch.float64)
                   for name, dom in rule.inputs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = rule.f(**meta_inputs)
    except Exception:  # f may use ops without meta kernels; the plan is then made after f runs
        return None
    return tuple(out.shape) if isinstance(out, torch.Tensor) else None


def _bytes(dt: torch.dtype) -> int:
    return torch.empty((), dtype=dt).element_size()


def _estimate(rule: Rule, sizes: Mapping[str, int], dt: torch.dtype, oracle: str, probes: int,
              out_shape: tuple[int, ...] | None, claim: bool = True) -> tuple[int, dict[str, int]]:
    shapes = {name: dom.resolve(sizes) for name, dom in rule.inputs.items()}
    numel = {name: math.prod(s) for name, s in shapes.items()}
    total_in = sum(numel.values())
    low = 0 if dt == torch.float64 else _bytes(dt)
    square = max((s[0] for s in shapes.values() if len(s) == 2 and s[0] == s[1]), default=0)
    parts = {"inputs": total_in * (8 + low) + SQUARE_DRAW_TEMPORARIES * 8 * square * square}
    wrt = rule.wrt_names[0]
    w = sum(numel[n] for n in rule.wrt_names)
    if rule.kind == "hessian":
        out = numel[wrt]
    elif out_shape is None:
        out = 1
    else:
        out = math.prod(out_shape)
    matrix_free = not claim and _matrix_free(rule, oracle)
    if rule.kind == "differential":
        parts["claim"] = 2 * probes * out * (8 + low)
        parts["oracle"] = out * w * 8 if oracle == "jacobian" else 4 * probes * (w + out) * 8
        return sum(parts.values()), parts
    if not matrix_free:
        parts["claim"] = out * w * (2 * 8 + 2 * low)
    if oracle == "jacobian":
        parts["oracle"] = out * w * (8 + low) + total_in * 8
    elif oracle == "func":
        parts["oracle"] = out * w * (2 * 8 + low) + total_in * 8
    elif oracle == "probe":
        # k left probes (the standard basis when f has at most k outputs), their pullbacks and the
        # claim's rows, each of the wrt input's size; right probes only past the basis case.
        rows = min(out, probes)
        right = 0 if out <= probes else 2 * probes * (w + out)
        parts["oracle"] = ((3 * rows + 2) * w + 2 * probes * out + right) * 8
    else:
        parts["oracle"] = 8 * (w + out) * 8
    return sum(parts.values()), parts


def _matrix_free(rule: Rule, oracle: str) -> bool:
    """Whether the rule can be checked through its jvp/vjp alone under ``oracle``."""
    return rule.jvp is not None and oracle in ("probe", "taylor") and rule.kind == "jacobian"


def _check_shapes(rule: Rule, sizes: Mapping[str, int], device: torch.device) -> None:
    """Refuse, before any estimate, a shape no machine holds (a fixed dim of 2**70, say): torch
    cannot even describe it."""
    for name, dom in rule.inputs.items():
        shape = dom.resolve(sizes)
        if any(d > MAX_SIZE for d in shape) or math.prod(shape) > MAX_NUMEL:
            raise MatcalcError(
                f"rule {rule.name!r} on {device.type}: input {name!r} would have shape {shape}, "
                f"beyond any machine's memory (at most 2**40 per dim and 2**62 entries); use smaller "
                "sizes or fixed dims")


def _choose(rule: Rule, sizes: Mapping[str, int], dt: torch.dtype, probes: int,
            out_shape: tuple[int, ...] | None, budget: int) -> tuple[str, str]:
    if rule.kind == "differential":
        return "func", "a differential rule: the true df along random directions by torch.func.jvp"
    rows = 1 if out_shape is None else math.prod(out_shape)
    if rule.kind == "hessian":
        rows = math.prod(rule.inputs[rule.wrt_names[0]].resolve(sizes))
    cols = math.prod(rule.inputs[rule.wrt_names[0]].resolve(sizes))
    need, _ = _estimate(rule, sizes, dt, "jacobian", probes, out_shape)
    if need > budget:
        return "probe", (f"the whole Jacobian would need {human(need)}, over the budget of "
                         f"{human(budget)}: probes need no Jacobian")
    if rows > AUTO_MAX_ROWS or (rows > probes and rows * cols > AUTO_MAX_ENTRIES):
        return "probe", (f"J is {rows} x {cols}: {rows} backward passes would cost more than "
                         f"{probes} probes")
    return "jacobian", f"J is {rows} x {cols}: small enough to compare whole (exact, no probability)"


def plan_check(rule: Rule, sizes: Mapping[str, int], dt: torch.dtype, device: torch.device,
               oracle: str, probes: int, budget: int,
               out_shape: tuple[int, ...] | None = None, meta: bool = True) -> Plan:
    """Choose the oracle within ``budget`` (bytes, resolved: matcalc.oracles.memory.memory_budget)
    and estimate the check's peak. A plan over the budget is returned with the refusal's words for
    settings.require_memory; a shape no machine holds, an empty output, and a plan within the
    budget but over the memory this machine has available raise MatcalcError here. With ``meta``
    False and no ``out_shape``, f's output shape is not inferred on the meta device: the caller
    plans again once f has run."""
    _check_shapes(rule, sizes, device)
    if out_shape is None:
        out_shape = output_shape(rule, sizes, meta)
    if out_shape is not None and math.prod(out_shape) == 0:
        raise MatcalcError(_empty(rule, out_shape))
    if oracle == "auto":
        chosen, why = _choose(rule, sizes, dt, probes, out_shape, budget)
    else:
        chosen, why = oracle, f"oracle={oracle!r} was asked for"
    need, parts = _estimate(rule, sizes, dt, chosen, probes, out_shape)
    materialize = True
    if need > budget and _matrix_free(rule, chosen):
        # Every form is a claim, but a derivative too big to hold is left to its jvp/vjp.
        lean, lean_parts = _estimate(rule, sizes, dt, chosen, probes, out_shape, claim=False)
        if lean <= budget:
            need, parts, materialize = lean, lean_parts, False
            why += (f"; the claimed derivative is not materialized (it would need "
                    f"{human(_estimate(rule, sizes, dt, chosen, probes, out_shape)[0] - lean)}): "
                    "its jvp/vjp are checked")
    what = f"the {chosen} check ({', '.join(f'{k} {human(v)}' for k, v in parts.items())})"
    plan = Plan(oracle=chosen, why=why, need=need, budget=budget, out_shape=out_shape,
                materialize_claim=materialize, what=what)
    if need > budget:  # refused by the caller's require_memory, in these words
        return dataclasses.replace(plan, fix=_over_budget_fix(rule, sizes, dt, oracle, probes, plan,
                                                              parts))
    available = available_memory(device)
    if need > available:
        # An explicit budget above what the machine has would only end in an allocation error.
        raise MatcalcError(
            f"rule {rule.name!r} at {dict(sizes)} on {device.type}/{str(dt).removeprefix('torch.')}: "
            f"the {chosen} check would need about {human(need)}, more memory than this machine has "
            f"available ({human(available)}), whatever memory_budget says: use smaller sizes")
    return plan


def _over_budget_fix(rule: Rule, sizes: Mapping[str, int], dt: torch.dtype, asked: str, probes: int,
                     plan: Plan, parts: dict[str, int]) -> str:
    """What to do about a plan over its budget: another oracle, matrix-free forms, or smaller
    sizes (the largest that fits, when one does)."""
    if plan.oracle in ("jacobian", "func") and asked != "auto":
        fix = "use oracle='probe' (matrix-free) or raise memory_budget"
    elif "claim" in parts and parts["claim"] > max(plan.budget / 2, 4 * parts["inputs"]):
        fix = ("the claimed derivative alone is too big to materialize: give the rule jvp/vjp "
               "closed forms (matrix-free), or use smaller sizes")
    else:
        fix = "use smaller sizes or raise memory_budget / $MATCALC_MEMORY_BUDGET"
    largest = largest_fitting(rule, sizes, dt, plan.oracle, probes, plan.budget)
    return fix + (f"; the largest size that fits is about n={largest}" if largest else "")


def _empty(rule: Rule, out_shape: tuple[int, ...]) -> str:
    return (f"rule {rule.name!r}: f returns an empty tensor (shape {out_shape}): there is no "
            "derivative to check; make f return at least one entry (sum or stack its outputs)")


def largest_fitting(rule: Rule, sizes: Mapping[str, int], dt: torch.dtype, oracle: str, probes: int,
                    budget: int) -> int | None:
    """The largest n (dims scaled together, as ``--n`` does) whose check fits ``budget``."""
    from matcalc.model.sizes import scaled_sizes

    dims = rule.dims()
    if not dims:
        return None
    hi = max(sizes.values())

    def fits(n: int) -> bool:
        try:
            scaled = scaled_sizes(dims, n)
        except MatcalcError:
            return False
        return _estimate(rule, scaled, dt, oracle, probes, output_shape(rule, scaled))[0] <= budget

    lo = next((n for n in range(2, 2 + 4 * len(dims)) if fits(n)), None)
    if lo is None:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
