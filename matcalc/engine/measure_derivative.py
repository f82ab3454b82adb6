"""A Jacobian or Hessian rule measured at one sample: the claim evaluated and its shape checked
against its layout, then compared with the oracle's truth (every form the rule gives), judged, and
refined (matcalc/engine/refine.py).

Example::

    >>> import matcalc as mc
    >>> from matcalc.catalog import RULES
    >>> mc.check(RULES["linear_map"], sizes={"m": 3, "n": 5}).true_shape   # measured here
    (3, 5)
"""

from __future__ import annotations

import math
import time

import torch

from matcalc import diagnosis as diagnose
from matcalc.core.calls import Context, sync
from matcalc.core.guards import assert_unchanged, same_values
from matcalc.core.tolerance import norm
from matcalc.engine.evaluate import call_claim
from matcalc.engine.hints import failure_hints
from matcalc.engine.refine import refine
from matcalc.engine.run import Run, structures
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.model.rule import to_numerator
from matcalc.oracles import REGISTRY, Measurement, Problem
from matcalc.oracles.confirm import Confirmation, confirm_hessian, confirm_jacobian
from matcalc.oracles.fd import own_scale
from matcalc.oracles.jacobian import reference_hessian, reference_jacobian
from matcalc.oracles.probe import hvp


def measure_derivative(run: Run, ctx: Context, out: torch.Tensor, gen: torch.Generator,
                       probes: int) -> None:
    """Set ``run``'s verdict, measurement, shapes and hints for a jacobian or hessian rule; f is
    ``out`` at ``run.inputs``, ``gen`` draws the oracle's directions."""
    rule, inputs, plan = run.rule, run.inputs, run.plan
    name = rule.wrt_names[0]
    x = inputs[name]
    hessian = rule.kind == "hessian"
    if hessian and out.numel() != 1:
        raise MatcalcError(f"{ctx.where}: a hessian rule needs a scalar f, got shape "
                           f"{tuple(out.shape)}; use kind='jacobian'")
    out_shape = tuple(x.shape) if hessian else tuple(out.shape)
    wrt_shape = tuple(x.shape)
    claim: torch.Tensor | None = None
    if plan.materialize_claim:
        t0 = time.perf_counter()
        raw = call_claim(ctx, rule, inputs)
        run.timings["claim"] = time.perf_counter() - t0
        if run.small and not same_values(raw, call_claim(ctx, rule, inputs), run.tolerance):
            run.verdict = Verdict(False, math.inf, message=(
                "the claim gives different values on the same inputs: a derivative is a function "
                "of the inputs (does it use the global RNG, or keep state?)"))
            return
        if raw.is_complex():
            run.verdict = Verdict(False, math.inf, message=(
                "the claim is complex; a real f has a real derivative (an imaginary part is a "
                "wrong claim, not a rounding)"))
            return
        expected = out_shape + wrt_shape
        declared = wrt_shape + out_shape if rule.layout == "denominator" and not hessian else expected
        if tuple(raw.shape) != declared:
            _layout_mismatch(run, raw, declared, out_shape, wrt_shape)
            return
        claim = to_numerator(rule, raw, out_shape, wrt_shape)
        if claim.dtype != x.dtype:
            run.hints.append(f"the claim is {str(claim.dtype).removeprefix('torch.')} in a "
                             f"{str(x.dtype).removeprefix('torch.')} check: it was computed in "
                             "another precision (a dtype= fixed inside the claim?)")
    problem = _problem(run, ctx, inputs, out, claim, gen, probes)
    problem.forward = run.forward if plan.oracle == "jacobian" else None
    state = gen.get_state()
    t0 = time.perf_counter()
    m = _measure(ctx, plan.oracle, problem)
    sync(x.device)
    run.timings["oracle"] = time.perf_counter() - t0
    run.measurement = m
    run.verdict = judge(m, out)
    run.claim_shape = None if claim is None else tuple(claim.shape)
    run.true_shape = out_shape + wrt_shape

    def remeasure(moved: dict[str, torch.Tensor], scale: float) -> Measurement | None:
        return _remeasure(run, ctx, problem, moved, state, scale)

    def confirmation(eps: float) -> Confirmation:
        return _confirmation(problem, m, out, eps)

    def natural(g: torch.Generator) -> float:
        """f's variation (matcalc/oracles/fd.py) per unit of J (of H for a Hessian)."""
        size = max(norm(x), 1e-300)
        v = own_scale(lambda kw: rule.f(**kw).detach(), inputs, structures(rule), g, rule.wrt_names)
        return v * x.numel() / size**2 if hessian else v * math.sqrt(x.numel()) / size

    refine(run, ctx, out, remeasure, confirmation, natural)
    failure_hints(run, out_shape, wrt_shape)


def _problem(run: Run, ctx: Context, inputs: dict[str, torch.Tensor], out: torch.Tensor,
             claim: torch.Tensor | None, gen: torch.Generator, probes: int) -> Problem:
    rule = run.rule
    x = inputs[rule.wrt_names[0]]
    hessian = rule.kind == "hessian"
    return Problem(
        rule=rule, ctx=ctx, inputs=inputs, out=out,
        out_shape=tuple(x.shape) if hessian else tuple(out.shape), claim=claim,
        claim_jvp=None if rule.jvp is None else _matrix_free(ctx, "jvp", rule.jvp, inputs),
        claim_vjp=None if rule.vjp is None else _matrix_free(ctx, "vjp", rule.vjp, inputs),
        gen=gen, probes=probes, tolerance=run.tolerance, scale=0.0,
    )


def _remeasure(run: Run, ctx: Context, problem: Problem, moved: dict[str, torch.Tensor],
               state: torch.Tensor, scale: float) -> Measurement | None:
    """The same measurement (same directions) at other inputs: the claim and the truth again,
    with ``scale`` (f's natural scale per unit of J) as the floor of every comparison."""
    rule = run.rule
    out = ctx.call("f", rule.f, **moved).to(problem.out.dtype)
    claim = None
    if problem.claim is not None:
        x = moved[rule.wrt_names[0]]
        claim = to_numerator(rule, call_claim(ctx, rule, moved), problem.out_shape, tuple(x.shape))
        if claim.shape != problem.claim.shape:
            return None
    gen = torch.Generator(device=problem.gen.device)
    gen.set_state(state)
    again = _problem(run, ctx, moved, out, claim, gen, problem.probes)
    again.scale = scale
    return _measure(ctx, run.plan.oracle, again)


def _confirmation(problem: Problem, m: Measurement, out: torch.Tensor, eps: float) -> Confirmation:
    """The autograd truth of ``m`` against finite differences of f (matcalc/oracles/confirm.py)."""
    x = problem.x
    structure = problem.rule.inputs[problem.name].structure
    expected = problem.out_shape + problem.wrt_shape
    whole = m.true if m.materialized and tuple(m.true.shape) == expected else None
    if problem.hessian:
        return confirm_hessian(problem.fn, x, whole, lambda v: hvp(problem.fn, x, v), structure,
                               problem.gen, fx=out, eps=eps)

    def pullback(u: torch.Tensor) -> torch.Tensor:
        return torch.func.vjp(problem.fn, x)[1](u)[0]

    return confirm_jacobian(problem.fn, x, whole, pullback, structure, problem.gen, fx=out, eps=eps)


def _matrix_free(ctx: Context, what: str, fn: object, inputs: dict[str, torch.Tensor]):  # type: ignore[no-untyped-def]
    def apply(v: torch.Tensor) -> torch.Tensor:
        return ctx.call_keep_graph(what, fn, v, **inputs)  # type: ignore[arg-type]
    return apply


def _measure(ctx: Context, oracle: str, problem: Problem) -> Measurement:
    versions = {k: v._version for k, v in problem.inputs.items()}
    try:
        m = REGISTRY[oracle].measure(problem)
    except MatcalcError:
        raise
    except Exception as exc:
        hint = ("; if f uses .numpy(), .item(), .detach() or non-torch code, autograd cannot see "
                "through it: use oracle='taylor'" if oracle != "taylor" else "")
        raise MatcalcError(
            f"the {oracle} oracle failed on f: {type(exc).__name__}: {exc} ({ctx.where}){hint}; "
            "f must be a pure torch function of its inputs (no in-place changes to captured tensors)"
        ) from exc
    assert_unchanged(ctx, "f", problem.inputs, versions)
    return m


def _layout_mismatch(run: Run, raw: torch.Tensor, declared: tuple[int, ...],
                     out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> None:
    """The claim does not have its declared layout's shape: a fail, checked before any oracle, or
    a transposed gradient would pass as a numerator-layout Jacobian."""
    rule, plan = run.rule, run.plan
    run.claim_shape, run.true_shape = tuple(raw.shape), declared
    run.verdict = Verdict(False, math.inf, message=(
        f"shape mismatch: layout={rule.layout!r} needs shape {declared}, the claim has shape "
        f"{tuple(raw.shape)}"))
    if plan.oracle not in ("jacobian", "func") or raw.is_complex():
        return
    name = rule.wrt_names[0]
    inputs = run.inputs

    def fn(w: torch.Tensor) -> torch.Tensor:
        value = rule.f(**{**inputs, name: w})
        return value.reshape(()) if rule.kind == "hessian" else value

    try:
        true = (reference_hessian(fn, inputs[name]) if rule.kind == "hessian"
                else reference_jacobian(fn, inputs[name])).detach()
    except Exception:
        return
    run.hints.extend(diagnose.shape_hints(raw, true, tol=run.tolerance, out_shape=out_shape,
                                          wrt_shape=wrt_shape, layout=rule.layout, kind=rule.kind))
