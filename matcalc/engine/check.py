"""check(): plan, draw, evaluate the claim and an oracle, judge, diagnose -> Result.

Example::

    >>> import torch, matcalc as mc
    >>> from matcalc.catalog import quadratic_form
    >>> res = mc.check(quadratic_form, sizes={"n": 16}, seed=0)
    >>> res.passed, res.outcome, res.oracle
    (True, 'pass', 'jacobian')

How a check runs (each step is one module):

1. ``plan.py``: choose the oracle, estimate the whole check's memory from the shapes, refuse
   what does not fit, before anything is drawn.
2. ``inputs.py``: draw the inputs in float64 from a private generator; a low-precision check
   uses the same draw rounded to its dtype.
3. ``guards.py``: call f and the claim on private copies; they must not change their inputs and
   must give the same value twice.
4. ``oracles/``: measure the claim against the truth. The formula is decided in float64, on the
   float64 draw, whatever the check's dtype: float16 and bfloat16 cannot resolve a wrong factor at
   large n, and a formula is right or wrong independently of the dtype it is evaluated in. The
   low dtype's accuracy (the claim evaluated in it, next to autograd in it) is reported beside.
5. ``verdict.py``: pass, fail or inconclusive, with the reason.
6. ``diagnose.py``: hints for a failure.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from matcalc import diagnosis as diagnose
from matcalc.core.calls import Context, sync
from matcalc.core.guards import (
    SMALL_BYTES,
    InputChanged,
    assert_unchanged,
    isolated_call,
    nbytes,
    same_values,
)
from matcalc.core.result import Result
from matcalc.core.tolerance import CONDITIONED_STRUCTURES, KAPPA, relative_error, tolerance
from matcalc.diagnosis.review import review
from matcalc.draws.inputs import cast_inputs, direction, draw_inputs
from matcalc.engine.check_plan import Plan, plan_check
from matcalc.engine.settings import resolve_device, resolve_dtype, resolve_sizes
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule, to_numerator
from matcalc.model.sizes import second_sizes
from matcalc.oracles import DEFAULT_PROBES, NAMES, REGISTRY, Measurement, Problem
from matcalc.oracles.differential import measure_differential
from matcalc.oracles.jacobian import reference_hessian, reference_jacobian
from matcalc.oracles.taylor import directional

__all__ = ["ENGINE_LOCK", "Result", "check", "draw_inputs", "resolve_device", "resolve_dtype",
           "resolve_sizes"]

SEED_LIMIT = 2**63
# Forward-mode AD keeps process-wide state (its dual levels), so two threads running torch.func
# transforms at once corrupt each other's results. Checks hold this lock: concurrent checks are
# safe and give the sequential results; torch still uses every core inside each one.
ENGINE_LOCK = threading.RLock()
# An autograd truth that disagrees with extrapolated finite differences of f by more than this
# (relative) means autograd cannot see through f.
OPAQUE_DISAGREEMENT = 1e-4


def check(
    rule: Rule,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    oracle: str = "auto",
    probes: int = DEFAULT_PROBES,
    memory_budget: int | None = None,
    diagnose_structure: bool = True,
) -> Result:
    """Check ``rule`` on inputs drawn with ``seed``; wrong claims fail, misuse raises.

    >>> import matcalc as mc
    >>> from matcalc.catalog import RULES
    >>> mc.check(RULES["linear_map"]).sizes_checked
    [{'m': 3, 'n': 5}, {'m': 5, 'n': 7}]

    ``oracle`` is one of "auto" (chosen from the shapes, see matcalc/engine/check_plan.py), "jacobian",
    "func", "probe" or "taylor". Without ``sizes`` the rule is checked at two size assignments
    (the defaults, then each dim + 2), so a size baked into a claim cannot pass.
    ``diagnose_structure`` re-checks a failed claim with symmetric / spd / diagonal matrices to
    say which structure it needs. ``memory_budget`` (bytes) caps the whole check.
    """
    if not isinstance(rule, Rule):
        raise MatcalcError(f"check() takes a matcalc.Rule, got {type(rule).__name__}")
    if oracle not in NAMES:
        raise MatcalcError(f"rule {rule.name!r}: unknown oracle {oracle!r}: use one of {NAMES}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise MatcalcError(f"rule {rule.name!r}: seed must be an int in [0, 2**63), got {seed!r}")
    if isinstance(probes, bool) or not isinstance(probes, int) or not 1 <= probes <= 64:
        raise MatcalcError(f"rule {rule.name!r}: probes must be an int from 1 to 64, got {probes!r}")
    dev = resolve_device(rule, device)
    dt = resolve_dtype(rule, dtype)
    first = resolve_sizes(rule, sizes)
    assignments = [first] if sizes is not None or not first else [first, second_sizes(first)]
    with ENGINE_LOCK:
        checked: list[dict[str, int]] = []
        for sz in assignments:
            checked.append(sz)
            result = _check_at(rule, dev, dt, sz, seed, oracle, probes, memory_budget)
            if not result.passed:
                break
        result.sizes_checked = checked
        if result.outcome == "fail":
            result.hints = _structure_hints(rule, dev, dt, result, probes, memory_budget,
                                            diagnose_structure)
    return result


@dataclass
class _Run:
    """What one check at one size assignment found; turned into a Result in one place."""

    rule: Rule
    dev: torch.device
    dt: torch.dtype
    sizes: dict[str, int]
    seed: int
    plan: Plan
    tolerance: float
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    verdict: Verdict | None = None
    measurement: Measurement | None = None
    claim_shape: tuple[int, ...] | None = None
    true_shape: tuple[int, ...] | None = None
    hints: list[str] = field(default_factory=list)
    low_precision: dict[str, float] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # f's output with its autograd graph and the leaf it was taken at, when f was evaluated once
    # for both the checks on its value and the reference Jacobian (large inputs only).
    forward: tuple[torch.Tensor, torch.Tensor] | None = None

    def result(self) -> Result:
        v = self.verdict
        assert v is not None
        failed = not v.passed
        mismatch = None
        m = self.measurement
        if failed and not v.inconclusive and m is not None and m.materialized \
                and m.claimed.shape == m.true.shape and math.isfinite(v.error):
            mismatch = diagnose.mismatch(m.claimed, m.true, m.tolerance)
        return Result(
            rule=self.rule.name, passed=v.passed, error=v.error,
            tolerance=self.tolerance if m is None else m.tolerance, oracle=self.plan.oracle,
            device=self.dev.type, dtype=str(self.dt).removeprefix("torch."), sizes=self.sizes,
            seed=self.seed, refuted=self.rule.refuted,
            counterexample={k: t.detach().cpu() for k, t in self.inputs.items()} if failed else None,
            message=v.message, hints=self.hints, mismatch=mismatch, claim_shape=self.claim_shape,
            true_shape=self.true_shape, rates=None if m is None else m.rates, timings=self.timings,
            inconclusive=v.inconclusive, resolution=None if m is None else m.resolution,
            why_oracle=self.plan.why, low_precision=self.low_precision,
        )


def _check_at(rule: Rule, dev: torch.device, dt: torch.dtype, sz: dict[str, int], seed: int,
              oracle: str, probes: int, memory_budget: int | None) -> Result:
    ctx = Context(rule, sz, dev, dt)
    plan = plan_check(rule, sz, dt, dev, oracle, probes, memory_budget)
    conditioned = any(d.structure in CONDITIONED_STRUCTURES for d in rule.inputs.values())
    run = _Run(rule, dev, dt, sz, seed, plan, tolerance(torch.float64, max(sz.values(), default=1),
                                                          conditioned))
    t0 = time.perf_counter()
    inputs = draw_inputs(rule, sz, dev, torch.float64, seed)
    run.inputs = inputs
    sync(dev)
    run.timings["draw"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if _one_forward(rule, plan, inputs):
        run.forward = _forward_with_graph(ctx, rule, inputs)
    out = run.forward[0].detach() if run.forward else _evaluate_f(ctx, rule, inputs, run.tolerance)
    sync(dev)
    run.timings["f"] = time.perf_counter() - t0
    if not bool(torch.isfinite(out).all()):
        run.verdict = Verdict(False, math.inf, inconclusive=_outside_domain(rule, out))
        return run.result()
    if plan.out_shape is None:  # f could not run on the meta device: plan again with its shape
        run.plan = plan = plan_check(rule, sz, dt, dev, oracle, probes, memory_budget,
                                     out_shape=tuple(out.shape))
        if plan.oracle != "jacobian":
            run.forward = None  # its graph would only hold memory
    gen = torch.Generator(device=dev)
    gen.manual_seed((seed + 1_000_003) % SEED_LIMIT)  # directions: independent of the input stream
    if rule.kind == "differential":
        _run_differential(run, ctx, out, gen, probes)
    else:
        _run_derivative(run, ctx, out, gen, probes)
    if dt != torch.float64 and run.verdict is not None and run.verdict.passed:
        run.low_precision = _low_precision(run, ctx)
    return run.result()


def _one_forward(rule: Rule, plan: Plan, inputs: dict[str, torch.Tensor]) -> bool:
    """Whether f's one evaluation should also serve the reference Jacobian. At large n, where f is
    evaluated once (no determinism re-run), the jacobian oracle would otherwise evaluate f a second
    time for its graph: one more pass over every input (x^T A x at n = 8192: 1 of ~14 passes)."""
    return (plan.oracle == "jacobian" and rule.kind == "jacobian" and len(rule.wrt_names) == 1
            and nbytes(inputs) > SMALL_BYTES)


def _forward_with_graph(ctx: Context, rule: Rule,
                        inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(f with its graph, the leaf) or None when f cannot run under autograd (``.numpy()``, an
    in-place change of x, say): the plain evaluation then runs and names the problem."""
    name = rule.wrt_names[0]
    leaf = inputs[name].detach().requires_grad_(True)  # shares x's version counter
    try:
        with torch.enable_grad():
            raw = isolated_call(ctx, "f", rule.f, {**inputs, name: leaf})
    except InputChanged:
        raise
    except MatcalcError:
        # e.g. autograd refusing an in-place change of the leaf (before making it): the plain
        # evaluation then makes the change, and its version counter names it
        return None
    if not isinstance(raw, torch.Tensor) or not raw.is_floating_point() or raw.is_complex() \
            or raw.device != leaf.device:
        return None
    return raw, leaf


def _evaluate_f(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor], tol: float) -> torch.Tensor:
    out = _call_f(ctx, rule, inputs)
    if nbytes(inputs) <= SMALL_BYTES:
        again = _call_f(ctx, rule, inputs)
        if not same_values(out, again, tol):
            raise MatcalcError(
                f"f gives different values on the same inputs ({ctx.where}; relative difference "
                f"{relative_error(again, out):.3g}): it is not a function of its inputs (dropout in "
                "training mode? the global RNG? state kept between calls?); make it deterministic, "
                "e.g. module.eval() or a fixed torch.Generator"
            )
    return out


def _call_f(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    raw = isolated_call(ctx, "f", rule.f, inputs)
    if not isinstance(raw, torch.Tensor):
        raise MatcalcError(
            f"f returned {type(raw).__name__}, not a tensor ({ctx.where}): autograd cannot "
            "differentiate a Python number (did f call .item() or math.*?); return a torch.Tensor "
            "built with torch operations"
        )
    _check_device(ctx, "f", raw, inputs)
    if raw.is_complex():
        raise MatcalcError(f"f returned a complex tensor ({ctx.where}): matcalc checks real-valued "
                           "functions; split f into its real and imaginary parts")
    if not raw.is_floating_point():
        raise MatcalcError(f"f returned a {raw.dtype} tensor ({ctx.where}): f must return floats")
    return raw.detach()


def _check_device(ctx: Context, what: str, value: torch.Tensor, inputs: dict[str, torch.Tensor]) -> None:
    device = next(iter(inputs.values())).device if inputs else value.device
    if value.device != device:
        raise MatcalcError(
            f"{what} returned a tensor on {value.device}, the inputs are on {device} ({ctx.where}): "
            "build it from the inputs (e.g. torch.zeros_like(x)) so it lands on their device"
        )


def _call_claim(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor],
                extra: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    raw = isolated_call(ctx, "the derivative", rule.derivative, inputs, extra)
    if isinstance(raw, int | float | complex) and not isinstance(raw, bool):
        dtype = torch.complex128 if isinstance(raw, complex) else torch.float64
        device = next(iter(inputs.values())).device
        raw = torch.tensor(raw, dtype=dtype, device=device)
    if not isinstance(raw, torch.Tensor):
        raise MatcalcError(f"the derivative returned {type(raw).__name__}, not a tensor "
                           f"({ctx.where}): return a torch.Tensor")
    _check_device(ctx, "the derivative", raw, inputs)
    return raw.detach()


def _outside_domain(rule: Rule, out: torch.Tensor) -> str:
    nan, inf = int(torch.isnan(out).sum()), int(torch.isinf(out).sum())
    fixes = []
    for name, dom in rule.inputs.items():
        if dom.structure != "general":
            continue
        dims = ", ".join(repr(d) for d in dom.shape)
        if dom.kind == "vector":
            fixes.append(f"{name}=mc.vector({dims}, positive=True)")
        elif dom.kind == "matrix":
            square = dom.shape[0] == dom.shape[1]
            fixes.append(f"{name}=mc.matrix({dims}, structure={'spd' if square else 'positive'!r})")
        elif dom.kind == "scalar":
            fixes.append(f"{name}=mc.scalar(positive=True)")
    fix = ("; declare the domain f needs, e.g. " + " or ".join(fixes)) if fixes else \
        "; declare the domain f needs"
    if not nan:
        return (f"f is Inf at the drawn inputs ({inf} of {out.numel()} entries): it overflows float64 "
                f"at these sizes (use smaller sizes), or the inputs sit at a pole of f{fix}")
    return (f"f is not finite at the drawn inputs ({nan} NaN and {inf} Inf of {out.numel()} entries): "
            f"the inputs are outside f's domain{fix}")


def _run_derivative(run: _Run, ctx: Context, out: torch.Tensor, gen: torch.Generator,
                    probes: int) -> None:
    rule, inputs, plan = run.rule, run.inputs, run.plan
    name = rule.wrt_names[0]
    x = inputs[name]
    hessian = rule.kind == "hessian"
    if hessian and out.numel() != 1:
        raise MatcalcError(f"{ctx.where}: a hessian rule needs a scalar f, got shape "
                           f"{tuple(out.shape)}; use kind='jacobian'")
    out_shape = tuple(x.shape) if hessian else tuple(out.shape)
    wrt_shape = tuple(x.shape)
    x_norm = max(float(torch.linalg.vector_norm(x)), 1e-300)
    scale = float(torch.linalg.vector_norm(out)) / (x_norm * x_norm if hessian else x_norm)
    matrix_free = plan.oracle in ("probe", "taylor") and rule.jvp is not None and not hessian
    claim: torch.Tensor | None = None
    if not matrix_free:
        t0 = time.perf_counter()
        raw = _call_claim(ctx, rule, inputs)
        run.timings["claim"] = time.perf_counter() - t0
        if nbytes(inputs) <= SMALL_BYTES and not same_values(raw, _call_claim(ctx, rule, inputs),
                                                             run.tolerance):
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
            _layout_mismatch(run, ctx, raw, declared, expected, out_shape, wrt_shape)
            return
        claim = to_numerator(rule, raw, out_shape, wrt_shape)
        if claim.dtype != x.dtype:
            run.hints.append(f"the claim is {str(claim.dtype).removeprefix('torch.')} in a "
                             f"{str(x.dtype).removeprefix('torch.')} check: it was computed in "
                             "another precision (a dtype= fixed inside the claim?)")
    problem = Problem(
        rule=rule, ctx=ctx, inputs=inputs, out=out, out_shape=out_shape, claim=claim,
        claim_jvp=None if rule.jvp is None else _matrix_free(ctx, "jvp", rule.jvp, inputs),
        claim_vjp=None if rule.vjp is None else _matrix_free(ctx, "vjp", rule.vjp, inputs),
        gen=gen, probes=probes, tolerance=run.tolerance, scale=scale,
        forward=run.forward if plan.oracle == "jacobian" else None,
    )
    t0 = time.perf_counter()
    m = _measure(ctx, plan.oracle, problem)
    sync(x.device)
    run.timings["oracle"] = time.perf_counter() - t0
    run.measurement = m
    run.verdict = verdict = judge(m, out)
    run.claim_shape = None if claim is None else tuple(claim.shape)
    run.true_shape = out_shape + wrt_shape
    if verdict.passed or verdict.inconclusive or not math.isfinite(verdict.error):
        if not verdict.passed and not verdict.inconclusive and m.claimed.shape == m.true.shape \
                and m.materialized:
            run.hints.extend(diagnose.hints(m.claimed, m.true, tol=m.tolerance, out_shape=out_shape,
                                            wrt_shape=wrt_shape, layout=rule.layout, kind=rule.kind,
                                            floor=m.floor, materialized=m.materialized))
        return
    if plan.oracle != "taylor" and m.materialized:
        _cross_check_autograd(run, ctx, problem, m)
    _attribute_to_conditioning(run)
    if run.verdict is not None and run.verdict.inconclusive:
        return
    # Probe and Taylor values are projections: only hints that do not name entries apply.
    hints: list[str] = list(diagnose.hints(
        m.claimed, m.true, tol=m.tolerance, out_shape=out_shape, wrt_shape=wrt_shape,
        layout=rule.layout, kind=rule.kind, floor=m.floor, materialized=m.materialized))
    if float(torch.linalg.vector_norm(m.true)) <= m.floor * run.tolerance:
        hints.insert(0, f"f does not depend on {name} here: the true derivative is 0")
    run.hints.extend(hints)


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


def _cross_check_autograd(run: _Run, ctx: Context, problem: Problem, m: Measurement) -> None:
    """A failed claim against an autograd truth: is autograd's truth itself right? Finite
    differences of f along one direction say whether f hides part of itself from autograd."""
    if problem.hessian:
        return
    x = problem.x
    v = torch.randn(x.shape, generator=problem.gen, device=x.device, dtype=torch.float64)
    v = v * (max(float(torch.linalg.vector_norm(x)), 1.0) / max(float(torch.linalg.vector_norm(v)), 1e-300))
    true_dv = torch.tensordot(m.true.to(torch.float64), v, dims=v.ndim)

    def g(h: float) -> torch.Tensor:
        return (problem.fn(x + h * v).detach().to(torch.float64)
                - problem.fn(x - h * v).detach().to(torch.float64)) / (2 * h)

    try:
        est, err = directional(g)
    except Exception:
        return
    denom = max(float(torch.linalg.vector_norm(est)), problem.scale, 1e-300)
    gap = float(torch.linalg.vector_norm(true_dv - est)) / denom
    if math.isfinite(err) and gap > max(OPAQUE_DISAGREEMENT, 1000 * err / denom):
        raise MatcalcError(
            f"autograd's derivative of f disagrees with finite differences of f by {gap:.3g} "
            f"(relative) ({ctx.where}): f hides part of its computation from autograd (.detach(), "
            ".item(), .numpy(), a custom backward?); use oracle='taylor', which needs f alone"
        )


def _attribute_to_conditioning(run: _Run) -> None:
    """A small failure on an ill-conditioned general matrix is rounding, not a wrong formula."""
    verdict = run.verdict
    assert verdict is not None
    worst, where = 1.0, ""
    for name, dom in run.rule.inputs.items():
        t = run.inputs[name]
        if dom.kind != "matrix" or dom.structure != "general" or t.numel() > 512 * 512:
            continue
        s = torch.linalg.svdvals(t.to(torch.float64))
        cond = float(s.max() / s.min()) if float(s.min()) > 0 else math.inf
        if cond > worst:
            worst, where = cond, name
    if worst <= KAPPA or not where:
        return
    size = max(run.sizes.values(), default=1)
    allowed = tolerance(torch.float64, size) * worst * worst
    if verdict.error <= allowed:
        structure = "invertible" if run.inputs[where].shape[0] == run.inputs[where].shape[1] \
            else "full_column_rank"
        run.verdict = Verdict(False, verdict.error, inconclusive=(
            f"ill-conditioned sample: cond({where}) = {worst:.3g}, and a relative error of "
            f"{verdict.error:.3g} is within rounding at that conditioning; declare "
            f"{where} with structure={structure!r} (cond <= {KAPPA:g})"))


def _layout_mismatch(run: _Run, ctx: Context, raw: torch.Tensor, declared: tuple[int, ...],
                     expected: tuple[int, ...], out_shape: tuple[int, ...],
                     wrt_shape: tuple[int, ...]) -> None:
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


def _run_differential(run: _Run, ctx: Context, out: torch.Tensor, gen: torch.Generator,
                      probes: int) -> None:
    rule, inputs = run.rule, run.inputs
    names = rule.wrt_names
    oracle = run.plan.oracle if run.plan.oracle in ("jacobian", "taylor") else "func"

    def fn(*ws: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, **dict(zip(names, ws, strict=True))})

    # A differential of a scalar f is one number per direction, which a single direction can
    # make small by chance; every oracle therefore stacks ``probes`` directions.
    directions, claims = [], []
    t0 = time.perf_counter()
    for _ in range(probes):
        dirs = tuple(direction(rule.inputs[n], inputs[n], gen) for n in names)
        claims.append(_call_claim(ctx, rule, inputs, {f"d{n}": d for n, d in zip(names, dirs, strict=True)}))
        directions.append(dirs)
    run.timings["claim"] = time.perf_counter() - t0
    size = max(sum(float(torch.linalg.vector_norm(inputs[n])) for n in names), 1e-300)
    dsize = sum(float(torch.linalg.vector_norm(d)) for d in directions[0])
    scale = float(torch.linalg.vector_norm(out)) / size * dsize
    if any(c.is_complex() for c in claims):
        run.verdict = Verdict(False, math.inf, message="the claim is complex; a real f has a real derivative")
        return
    t0 = time.perf_counter()
    versions = {k: v._version for k, v in inputs.items()}
    try:
        m = measure_differential(oracle=oracle, fn=fn, primals=tuple(inputs[n] for n in names),
                                 directions=directions, claims=claims, tolerance=run.tolerance,
                                 floor=scale)
    except Exception as exc:
        raise MatcalcError(f"the {oracle} oracle failed on f: {type(exc).__name__}: {exc} "
                           f"({ctx.where}); use oracle='taylor' if autograd cannot see through f") from exc
    assert_unchanged(ctx, "f", inputs, versions)
    run.timings["oracle"] = time.perf_counter() - t0
    run.plan = dataclasses.replace(run.plan, oracle=oracle)
    run.measurement = m
    run.verdict = judge(m, out)
    run.claim_shape, run.true_shape = tuple(claims[0].shape), tuple(out.shape)
    if not run.verdict.passed and not run.verdict.inconclusive and m.claimed.shape == m.true.shape:
        run.hints.extend(diagnose.hints(m.claimed, m.true, tol=m.tolerance, out_shape=tuple(out.shape),
                                        wrt_shape=tuple(out.shape), kind="differential",
                                        floor=m.floor, materialized=False))


def _low_precision(run: _Run, ctx: Context) -> dict[str, float] | None:
    """How accurately the claim evaluates in the check's own dtype, next to autograd in it."""
    m, rule = run.measurement, run.rule
    if m is None or not m.materialized or rule.kind == "differential":
        return None
    low = cast_inputs(rule, run.inputs, run.dt)
    name = rule.wrt_names[0]
    hessian = rule.kind == "hessian"
    out_shape = tuple(m.true.shape[: m.true.ndim - low[name].ndim])
    try:
        claim_low = to_numerator(rule, _call_claim(ctx, rule, low), out_shape, tuple(low[name].shape))
    except MatcalcError:
        return None
    report = {"claim": relative_error(claim_low, m.true, floor=m.floor)}

    def fn(w: torch.Tensor) -> torch.Tensor:
        value = rule.f(**{**low, name: w})
        return value.reshape(()) if hessian else value

    try:
        auto_low = (reference_hessian if hessian else reference_jacobian)(fn, low[name]).detach()
        report["autograd"] = relative_error(auto_low, m.true, floor=m.floor)
    except Exception:  # an op without a kernel in this dtype: the claim's figure stands alone
        pass
    bound = 10 * max(report.get("autograd", 0.0), tolerance(run.dt, max(run.sizes.values(), default=1)))
    if report["claim"] > bound:
        run.hints.append(
            f"the formula is right (decided in float64), but evaluated in "
            f"{str(run.dt).removeprefix('torch.')} its relative error is {report['claim']:.3g}"
            + (f", against {report['autograd']:.3g} for autograd" if "autograd" in report else ""))
    return report


def _structure_hints(rule: Rule, dev: torch.device, dt: torch.dtype, result: Result, probes: int,
                     memory_budget: int | None, structures: bool) -> list[str]:
    """The failed result's hints, verified by re-checks (matcalc/diagnosis/review.py): a proposed
    correction must pass at a second draw; with ``structures``, the structure (symmetric, spd,
    diagonal) or input order the claim needs."""
    def recheck(fixed: Rule, seed: int) -> Result:
        return _check_at(fixed, dev, dt, result.sizes, seed, result.oracle, probes, memory_budget)

    return review(rule, result, recheck, structures=structures)
