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
4. ``oracles/``: measure the claim against the truth; every form the rule gives (derivative,
   jvp, vjp) is compared. The formula is decided in float64, on the float64 draw, whatever the
   check's dtype: float16 and bfloat16 cannot resolve a wrong factor at large n, and a formula is
   right or wrong independently of the dtype it is evaluated in. The low dtype's accuracy (the
   claim evaluated in it, next to autograd in it) is reported beside.
5. ``verdict.py``: pass, fail or inconclusive, with the reason.
6. ``_refine`` (here): what the measurement alone cannot settle. An autograd truth is confirmed by
   finite differences of f before it passes or fails anything (``oracles/confirm.py``: a kink
   makes the check inconclusive, a truth autograd cannot see raises); a failure is weighed
   against the accuracy the numbers measurably have: f computed in a lower precision, and the
   rounding both sides show when the inputs move by a few ulps (``oracles/rounding.py``), which
   also recognizes a zero truth.
7. ``diagnose.py``: hints for a failure.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping
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
from matcalc.core.tolerance import CONDITIONED_STRUCTURES, KAPPA, norm, relative_error, tolerance
from matcalc.diagnosis.review import review
from matcalc.draws.inputs import cast_inputs, direction, draw_inputs
from matcalc.engine.check_plan import Plan, plan_check
from matcalc.engine.settings import resolve_device, resolve_dtype, resolve_sizes
from matcalc.engine.verdict import Verdict, judge
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule, to_numerator
from matcalc.model.sizes import second_sizes
from matcalc.oracles import DEFAULT_PROBES, NAMES, REGISTRY, Measurement, Problem
from matcalc.oracles.confirm import (
    Confirmation,
    confirm_differential,
    confirm_hessian,
    confirm_jacobian,
)
from matcalc.oracles.differential import measure_differential
from matcalc.oracles.fd import KINK_STEP, own_scale
from matcalc.oracles.jacobian import reference_hessian, reference_jacobian
from matcalc.oracles.probe import hvp
from matcalc.oracles.rounding import nudged, precision_of

__all__ = ["ENGINE_LOCK", "Result", "check", "draw_inputs", "resolve_device", "resolve_dtype",
           "resolve_sizes"]

SEED_LIMIT = 2**63
# Forward-mode AD keeps process-wide state (its dual levels), so two threads running torch.func
# transforms at once corrupt each other's results. Checks hold this lock: concurrent checks are
# safe and give the sequential results; torch still uses every core inside each one.
ENGINE_LOCK = threading.RLock()
# Nudges of the inputs by a few ulps that measure a failure's rounding: one can leave a rounding
# unchanged (an entry of X @ X that happens to round the same way), three rarely do.
NUDGES = 3


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
    [{'m': 3, 'n': 5}, {'m': 4, 'n': 8}]

    ``oracle`` is one of "auto" (chosen from the shapes, see matcalc/engine/check_plan.py), "jacobian",
    "func", "probe" or "taylor". Without ``sizes`` the rule is checked at two size assignments
    (the defaults, then a second one that flips every dim's parity and changes every gap between
    dims, matcalc/model/sizes.py), so a size or a parity baked into a claim cannot pass.
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
        if m is not None and v.part < len(m.parts):
            m = m.parts[v.part]  # the comparison that decided the verdict
        bound = v.tolerance
        if failed and not v.inconclusive and m is not None and m.materialized \
                and m.claimed.shape == m.true.shape and math.isfinite(v.error):
            mismatch = diagnose.mismatch(m.claimed, m.true, m.tolerance)
        return Result(
            rule=self.rule.name, passed=v.passed, error=v.error,
            tolerance=bound if bound is not None else self.tolerance if m is None else m.tolerance,
            oracle=self.plan.oracle,
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
    _check_distinct(rule, sz)
    t0 = time.perf_counter()
    try:
        inputs = draw_inputs(rule, sz, dev, torch.float64, seed)
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise MatcalcError(f"{ctx.where}: the inputs could not be allocated ({type(exc).__name__}: "
                           f"{exc}): use smaller sizes") from exc
    run.inputs = inputs
    sync(dev)
    run.timings["draw"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if _one_forward(rule, plan, inputs):
        run.forward = _forward_with_graph(ctx, rule, inputs)
    out = run.forward[0].detach() if run.forward else _evaluate_f(ctx, rule, inputs, run.tolerance)
    sync(dev)
    run.timings["f"] = time.perf_counter() - t0
    if out.numel() == 0:
        raise MatcalcError(f"f returns an empty tensor (shape {tuple(out.shape)}) ({ctx.where}): there "
                           "is no derivative to check; make f return at least one entry")
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


def _check_distinct(rule: Rule, sizes: dict[str, int]) -> None:
    """``distinct_from`` names an input of the same shape: x is drawn as that input plus a vector
    bounded away from 0, which needs both shapes equal."""
    for name, dom in rule.inputs.items():
        other = dom.distinct_from
        if other is None:
            continue
        mine, theirs = dom.resolve(sizes), rule.inputs[other].resolve(sizes)
        if mine != theirs:
            raise MatcalcError(
                f"rule {rule.name!r}: input {name!r} has shape {mine} and is distinct_from={other!r} "
                f"of shape {theirs} at {sizes}: distinct_from needs an input of the same shape")


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
    claim: torch.Tensor | None = None
    if plan.materialize_claim:
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
        return _remeasure_derivative(run, ctx, problem, moved, state, scale)

    def confirmation(eps: float) -> Confirmation:
        return _confirmation(problem, m, out, eps)

    def natural(g: torch.Generator) -> float:
        """f's variation (matcalc/oracles/fd.py) per unit of J (of H for a Hessian)."""
        size = max(norm(x), 1e-300)
        v = own_scale(lambda kw: rule.f(**kw).detach(), inputs, _structures(rule), g, rule.wrt_names)
        return v * x.numel() / size**2 if hessian else v * math.sqrt(x.numel()) / size

    _refine(run, ctx, out, remeasure, confirmation, natural)
    _failure_hints(run, out_shape, wrt_shape)


def _problem(run: _Run, ctx: Context, inputs: dict[str, torch.Tensor], out: torch.Tensor,
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


def _structures(rule: Rule) -> dict[str, str]:
    return {n: d.structure for n, d in rule.inputs.items()}


def _remeasure_derivative(run: _Run, ctx: Context, problem: Problem, moved: dict[str, torch.Tensor],
                          state: torch.Tensor, scale: float) -> Measurement | None:
    """The same measurement (same directions) at other inputs: the claim and the truth again,
    with ``scale`` (f's natural scale per unit of J) as the floor of every comparison."""
    rule = run.rule
    out = ctx.call("f", rule.f, **moved).to(problem.out.dtype)
    claim = None
    if problem.claim is not None:
        x = moved[rule.wrt_names[0]]
        claim = to_numerator(rule, _call_claim(ctx, rule, moved), problem.out_shape, tuple(x.shape))
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


Remeasure = Callable[[dict[str, torch.Tensor], float], "Measurement | None"]


def _refine(run: _Run, ctx: Context, out: torch.Tensor, remeasure: Remeasure,
            confirmation: Callable[[float], Confirmation],
            natural: Callable[[torch.Generator], float]) -> None:
    """What the measurement alone cannot settle. An autograd truth is confirmed by f's values
    before it passes or fails a claim (a kink makes the check inconclusive; a truth autograd
    cannot see raises). A failure is then weighed against the numbers' measured accuracy: f
    computed in a lower precision, and the rounding each side shows when the inputs move by a few
    ulps (which also recognizes a zero truth: rounding noise, against which a claim within that
    noise passes)."""
    v = run.verdict
    assert v is not None and run.measurement is not None
    autograd = run.plan.oracle != "taylor"
    if v.inconclusive or (not v.passed and not math.isfinite(v.error)):
        return
    low = _precision(run, out)
    if not v.passed and _low_precision_f(run, low):
        return
    if autograd:
        _confirm(run, ctx, lambda: confirmation(float(torch.finfo(low or torch.float64).eps)))
        v = run.verdict
        assert v is not None
        if v.passed or v.inconclusive:
            return
        if run.plan.need + nbytes(run.inputs) > run.plan.budget:
            return  # a nudged copy of the inputs would not fit: the failure stands unweighed
        nudge = torch.Generator(device=out.device)
        nudge.manual_seed((run.seed + 2_000_003) % SEED_LIMIT)
        structures = _structures(run.rule)
        scale = natural(nudge)
        again = [remeasure(nudged(run.inputs, structures, nudge), scale) for _ in range(NUDGES)]
        if any(a is None for a in again):
            return
        run.verdict = v = judge(run.measurement, out, nudged=[a for a in again if a is not None])
        if v.inconclusive:
            v.inconclusive += _rounding_source(run, remeasure, nudge, structures, v.part, scale)


def _confirm(run: _Run, ctx: Context, confirmation: Callable[[], Confirmation]) -> None:
    v, m = run.verdict, run.measurement
    assert v is not None and m is not None
    try:
        c = confirmation()
    except MatcalcError:
        raise
    except Exception:  # f refuses a step, or its pullback cannot be taken again: no evidence
        return
    outcome = c.outcome(m.parts[v.part].tolerance)
    if outcome == "kink":
        assert c.fd is not None
        run.verdict = Verdict(False, v.error, part=v.part, inconclusive=(
            f"f is not differentiable at this sample: along a random direction its one-sided "
            f"slopes differ by {c.fd.gap:.3g} (against {abs(c.fd.value):.3g} for the slope) at every "
            f"step down to {KINK_STEP:g} of the sample's size: a kink (relu or abs at 0, a tie in a "
            "max or a sort, a repeated singular value), where autograd returns one subgradient and "
            "no claim can be decided; use another seed, or a domain off the kink"))
    elif outcome == "blind":
        raise MatcalcError(
            f"autograd's derivative of f disagrees with finite differences of f ({c.describe()}) "
            f"({ctx.where}): f hides part of its computation from autograd (.detach(), .item(), "
            ".numpy(), a custom backward?); use oracle='taylor', which needs f alone")


def _precision(run: _Run, out: torch.Tensor) -> torch.dtype | None:
    """The precision f computes in, when below float64: its float64 output's entries are all
    exactly numbers of that dtype (a .float() inside f); and autograd's truth through f, when it
    is whole, may show an even lower one (a half matmul whose output f sums in float64)."""
    low = precision_of(out)
    m, v = run.measurement, run.verdict
    if low is None or m is None or v is None:
        return low
    part = m.parts[v.part] if v.part < len(m.parts) else m
    truth = precision_of(part.true) if part.materialized else None
    if truth is not None and torch.finfo(truth).eps > torch.finfo(low).eps:
        return truth
    return low


def _low_precision_f(run: _Run, low: torch.dtype | None) -> bool:
    """f computed in a precision below float64, and so did autograd through it: a failure within
    that precision's bound is the truth's rounding, not the claim's."""
    v = run.verdict
    assert v is not None
    if low is None:
        return False
    bound = tolerance(low, max(run.sizes.values(), default=1))
    if v.error > bound:
        return False
    name = str(low).removeprefix("torch.")
    run.verdict = Verdict(False, v.error, part=v.part, inconclusive=(
        f"f computes in {name} precision: every entry of its float64 output (or of autograd's truth "
        f"through it) is exactly a number of that precision or coarser (a .float(), .half() or dtype= "
        f"inside f?), so autograd's truth through f is no more accurate than {name} (a relative "
        f"{bound:.2g} here), and the claim is {v.error:.2g} from it; compute f in float64, or check "
        f"at dtype=torch.{name}"))
    return True


def _rounding_source(run: _Run, remeasure: Remeasure, gen: torch.Generator,
                     structures: dict[str, str], part: int, scale: float) -> str:
    """Which input the measured rounding comes from: the same measurement with that input alone
    nudged (small inputs only: one more measurement per input)."""
    m = run.measurement
    assert m is not None
    if nbytes(run.inputs) > SMALL_BYTES or len(run.inputs) < 1:
        return ""
    base = m.parts[part]
    size = max(norm(base.true), 1e-300)
    moved: dict[str, float] = {}
    for name in run.inputs:
        again = remeasure(nudged(run.inputs, structures, gen, only=name), scale)
        if again is None or part >= len(again.parts):
            return ""
        other = again.parts[part]
        if other.true.shape != base.true.shape or other.claimed.shape != base.claimed.shape:
            return ""
        moved[name] = (norm(other.true.to(torch.float64) - base.true.to(torch.float64))
                       + norm(other.claimed.to(torch.float64) - base.claimed.to(torch.float64))) / size
    top = max(moved.values(), default=0.0)
    if top <= 0:
        return ""
    sources = [n for n, r in moved.items() if r >= top / 4]
    text = "; it comes from " + ", ".join(f"{n} (moving it alone moves the comparison by a relative "
                                          f"{moved[n]:.2g})" for n in sources)
    for n in sources:
        dom = run.rule.inputs[n]
        if dom.kind == "matrix" and dom.structure == "general":
            t = run.inputs[n]
            structure = "invertible" if t.shape[0] == t.shape[1] else "full_column_rank"
            text += (f"; if the claim or f inverts {n}, declare it with structure={structure!r} "
                     f"(cond <= {KAPPA:g})")
    return text


def _failure_hints(run: _Run, out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> None:
    """Hints for a failure, from the comparison that decided it. Probe and Taylor values are
    projections: only hints that do not name entries apply."""
    v, m, rule = run.verdict, run.measurement, run.rule
    if v is None or m is None or v.passed or v.inconclusive:
        return
    part = m.parts[v.part] if v.part < len(m.parts) else m
    if part.claimed.shape != part.true.shape or (not math.isfinite(v.error) and not part.materialized):
        return
    hints: list[str] = list(diagnose.hints(
        part.claimed, part.true, tol=part.tolerance, out_shape=out_shape, wrt_shape=wrt_shape,
        layout=rule.layout, kind=rule.kind, floor=part.floor, materialized=part.materialized))
    zero = v.zero_truth or (math.isfinite(v.error) and part.floor > 0
                            and norm(part.true) <= part.floor * part.tolerance)
    if zero:
        hints.insert(0, f"f does not depend on {rule.wrt_names[0]} here: the true derivative is 0")
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

    # A differential of a scalar f is one number per direction, which a single direction can
    # make small by chance; every oracle therefore stacks ``probes`` directions.
    directions = []
    t0 = time.perf_counter()
    for _ in range(probes):
        directions.append(tuple(direction(rule.inputs[n], inputs[n], gen) for n in names))
    claims = _differential_claims(ctx, rule, inputs, directions)
    run.timings["claim"] = time.perf_counter() - t0
    if any(c.is_complex() for c in claims):
        run.verdict = Verdict(False, math.inf, message="the claim is complex; a real f has a real derivative")
        return
    floor = 0.0
    if oracle == "taylor":
        # Finite differences know a zero truth only against f's own variation (never ||f||).
        size = max(sum(norm(inputs[n]) for n in names), 1e-300)
        dsize = sum(norm(d) for d in directions[0])
        floor = own_scale(lambda kw: rule.f(**kw).detach(), inputs, _structures(rule), gen,
                          names) * dsize / size
    t0 = time.perf_counter()
    m = _measure_differential(ctx, oracle, inputs, directions, claims, run.tolerance, floor)
    run.timings["oracle"] = time.perf_counter() - t0
    run.plan = dataclasses.replace(run.plan, oracle=oracle)
    run.measurement = m
    run.verdict = judge(m, out)
    run.claim_shape, run.true_shape = tuple(claims[0].shape), tuple(out.shape)

    size = max(sum(norm(inputs[n]) for n in names), 1e-300)
    dsize = sum(norm(d) for d in directions[0])

    def remeasure(moved: dict[str, torch.Tensor], scale: float) -> Measurement | None:
        again = _differential_claims(ctx, rule, moved, directions)
        if any(a.shape != c.shape for a, c in zip(again, claims, strict=True)):
            return None
        return _measure_differential(ctx, oracle, moved, directions, again, run.tolerance, scale)

    def natural(g: torch.Generator) -> float:
        """f's variation (matcalc/oracles/fd.py) per direction."""
        return own_scale(lambda kw: rule.f(**kw).detach(), inputs, _structures(rule), g, names) * dsize / size

    def confirmation(eps: float) -> Confirmation:
        def fn(*ws: torch.Tensor) -> torch.Tensor:
            return rule.f(**{**inputs, **dict(zip(names, ws, strict=True))})

        return confirm_differential(fn, tuple(inputs[n] for n in names), directions[0], m.true[0], gen,
                                    eps=eps)

    _refine(run, ctx, out, remeasure, confirmation, natural)
    _failure_hints(run, tuple(out.shape), tuple(out.shape))


def _differential_claims(ctx: Context, rule: Rule, inputs: dict[str, torch.Tensor],
                         directions: list[tuple[torch.Tensor, ...]]) -> list[torch.Tensor]:
    names = rule.wrt_names
    return [_call_claim(ctx, rule, inputs, {f"d{n}": d for n, d in zip(names, dirs, strict=True)})
            for dirs in directions]


def _measure_differential(ctx: Context, oracle: str, inputs: dict[str, torch.Tensor],
                          directions: list[tuple[torch.Tensor, ...]], claims: list[torch.Tensor],
                          tol: float, floor: float) -> Measurement:
    rule = ctx.rule
    names = rule.wrt_names

    def fn(*ws: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**inputs, **dict(zip(names, ws, strict=True))})

    versions = {k: v._version for k, v in inputs.items()}
    try:
        m = measure_differential(oracle=oracle, fn=fn, primals=tuple(inputs[n] for n in names),
                                 directions=directions, claims=claims, tolerance=tol, floor=floor)
    except Exception as exc:
        raise MatcalcError(f"the {oracle} oracle failed on f: {type(exc).__name__}: {exc} "
                           f"({ctx.where}); use oracle='taylor' if autograd cannot see through f") from exc
    assert_unchanged(ctx, "f", inputs, versions)
    return m


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
