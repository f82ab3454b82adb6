"""check(): settings, plan, draw, evaluate the claim and an oracle, judge, diagnose -> Result.

Example::

    >>> import torch, matcalc as mc
    >>> from matcalc.catalog import quadratic_form
    >>> res = mc.check(quadratic_form, sizes={"n": 16}, seed=0)
    >>> res.passed, res.outcome, res.oracle
    (True, 'pass', 'jacobian')

How a check runs (each step is one module):

1. ``settings.py``: device, dtype, sizes, seed, probes and the memory budget, resolved and
   validated once, as for ``check_backward``.
2. ``check_plan.py``: choose the oracle, estimate the whole check's memory from the shapes;
   ``settings.require_memory`` refuses what does not fit, before anything is drawn.
3. ``draws/inputs.py``: draw the inputs in float64 from a private generator; a low-precision check
   uses the same draw rounded to its dtype.
4. ``evaluate.py`` (through ``core/guards.py``): call f and the claim on private copies; they must
   not change their inputs and must give the same value twice.
5. ``measure_derivative.py`` / ``measure_differential.py`` with ``oracles/``: measure the claim
   against the truth; every form the rule gives (derivative, jvp, vjp) is compared. The formula
   is decided in float64, on the float64 draw, whatever the check's dtype: float16 and bfloat16
   cannot resolve a wrong factor at large n, and a formula is right or wrong independently of the
   dtype it is evaluated in. The low dtype's accuracy (the claim evaluated in it, next to
   autograd in it) is reported beside (``low_precision.py``).
6. ``verdict.py``: pass, fail or inconclusive, with the reason.
7. ``refine.py``: what the measurement alone cannot settle. An autograd truth is confirmed by
   finite differences of f before it passes or fails anything (``oracles/confirm.py``: a kink
   makes the check inconclusive, a truth autograd cannot see raises); a failure is weighed
   against the accuracy the numbers measurably have: f computed in a lower precision, and the
   rounding both sides show when the inputs move by a few ulps (``oracles/rounding.py``), which
   also recognizes a zero truth.
8. ``hints.py`` and ``diagnosis/review.py``: hints for a failure, each proven by a re-check.

``run.py`` holds what one size assignment found and turns it into the Result.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping

import torch

from matcalc.core.calls import Context, sync
from matcalc.core.guards import SMALL_BYTES, nbytes
from matcalc.core.result import Result
from matcalc.core.tolerance import CONDITIONED_STRUCTURES, tolerance
from matcalc.diagnosis.review import review
from matcalc.draws.inputs import draw_inputs, input_bytes
from matcalc.engine.check_plan import plan_check
from matcalc.engine.evaluate import evaluate_f, forward_with_graph, one_forward, outside_domain
from matcalc.engine.low_precision import low_precision
from matcalc.engine.measure_derivative import measure_derivative
from matcalc.engine.measure_differential import measure_differential
from matcalc.engine.run import Run
from matcalc.engine.settings import Settings, require_memory, resolve_settings
from matcalc.engine.verdict import Verdict
from matcalc.errors import MatcalcError
from matcalc.model.rule import Rule
from matcalc.model.sizes import SEED_LIMIT, second_sizes
from matcalc.oracles import DEFAULT_PROBES, NAMES
from matcalc.oracles.memory import memory_budget as resolve_budget

# Up to this many bytes of inputs, the plan is made from f's real output: a meta-device run of f
# costs 0.5 ms (more than f itself at n = 256, and 28% of a whole check at n = 64), and its first
# call in a process imports torch._dynamo (0.76 s). Past it, f's output shape is known before the
# draw, so an oversized check is refused before anything is allocated.
PLAN_FROM_F_BYTES = 2**20

__all__ = ["ENGINE_LOCK", "Result", "check"]

# Forward-mode AD keeps process-wide state (its dual levels), so two threads running torch.func
# transforms at once corrupt each other's results. Checks hold this lock: concurrent checks are
# safe and give the sequential results; torch still uses every core inside each one.
ENGINE_LOCK = threading.RLock()


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

    >>> import torch, matcalc as mc
    >>> from matcalc.catalog import RULES
    >>> res = mc.check(RULES["linear_map"])
    >>> res.passed, res.outcome, res.sizes_checked
    (True, 'pass', [{'m': 3, 'n': 5}, {'m': 4, 'n': 8}])
    >>> wrong = mc.claim("x @ A @ x", wrt="x", derivative="2 * A @ x")   # needs A symmetric
    >>> res = mc.check(wrong, sizes={"n": 6}, seed=1)
    >>> res.outcome, sorted(res.counterexample)
    ('fail', ['A', 'x'])
    >>> mc.check(RULES["quadratic_form"], dtype=torch.float32).dtype
    'float32'

    The claim is decided in float64 on a float64 draw whatever ``dtype`` is (a formula is right
    or wrong independently of the dtype it is evaluated in); a lower dtype's accuracy is reported
    beside, in ``low_precision``. Every form the rule gives (``derivative``, ``jvp``, ``vjp``) is
    a claim. An autograd truth is confirmed by finite differences of f before it decides.

    Args:
        rule: the :class:`~matcalc.Rule` to check (``mc.claim`` builds one from text).
        device: ``"cpu"`` or ``"cuda"`` (or a ``torch.device``): where the inputs are drawn and
            f, the claim and the oracle run.
        dtype: the check's dtype: ``torch.float64`` (default), ``torch.float32``, or
            ``torch.float16`` / ``torch.bfloat16`` for elementwise rules; also by name
            (``"float32"``, ``"half"``, ...).
        sizes: each dim's size, e.g. ``{"n": 64}``. Left out, the rule is checked at two size
            assignments: small distinct defaults, then a second one that flips every dim's
            parity and changes every gap between dims (matcalc/model/sizes.py), so that a size or
            a parity baked into a claim cannot pass. Given, exactly these sizes are checked; dims
            left out get defaults.
        seed: an int in [0, 2**63): the same seed draws the same inputs (private generators,
            never the global RNG); a different seed draws different ones.
        oracle: where the truth comes from: ``"auto"`` (chosen from the shapes and the memory
            budget, see matcalc/engine/check_plan.py; the reason is ``why_oracle``),
            ``"jacobian"`` (the whole reference Jacobian), ``"func"`` (torch.func's),
            ``"probe"`` (random projections, matrix-free) or ``"taylor"`` (finite differences of
            f alone, for an f autograd cannot see through).
        probes: how many random directions the probe oracle (and a differential rule) uses, an
            int from 1 to 64.
        memory_budget: the bytes the whole check may use; None takes ``$MATCALC_MEMORY_BUDGET``,
            else a quarter of the memory available on ``device``. A check over it is refused
            before anything is drawn ("auto" first moves to the matrix-free probe oracle).
        diagnose_structure: on a failure, re-check the claim with symmetric / spd / diagonal
            matrices (and other input orders) to say which structure it needs; every hint is
            proven by a re-check at a second draw.

    Returns:
        A :class:`~matcalc.Result`: ``outcome`` is ``"pass"``, ``"fail"`` (a wrong value, a wrong
        shape for the layout, NaN or Inf in the claim: ``counterexample`` holds the inputs, and
        ``hints`` and ``mismatch`` say what differs) or ``"inconclusive"`` (the question cannot
        be decided at this dtype, size and sample: f not finite there, a kink, a truth below the
        dtype's resolution; ``inconclusive`` gives the reason). ``passed`` is True only for a
        pass; the first size assignment that does not pass is the one reported, and
        ``sizes_checked`` lists those checked. ``str(result)`` explains it.

    Raises:
        MatcalcError: misuse, with the rule named and the fix: ``rule`` not a Rule; an unknown
            device, CUDA on a machine without a GPU, a dtype that is not a real floating one,
            sizes naming a dim the rule lacks or not positive ints (or past 2**40), a seed,
            ``probes`` or ``memory_budget`` out of range, an unknown ``oracle``; a check whose
            estimated memory is over the budget (the message names the largest size that fits);
            f or the claim raising (the original error chained), returning something other than
            a real tensor on the inputs' device, changing its inputs in place, or giving
            different values on the same inputs (f); an f whose output is empty; a hessian rule
            whose f is not scalar; an autograd truth that finite differences of f contradict (f
            hides part of its computation from autograd: use ``oracle="taylor"``).
    """
    if not isinstance(rule, Rule):
        raise MatcalcError(f"check() takes a matcalc.Rule, got {type(rule).__name__}")
    if oracle not in NAMES:
        raise MatcalcError(f"rule {rule.name!r}: unknown oracle {oracle!r}: use one of {NAMES}")
    settings = resolve_settings(f"rule {rule.name!r}", rule.inputs, device=device, dtype=dtype,
                                sizes=sizes, seed=seed, probes=probes, memory_budget=memory_budget,
                                wrt=rule.wrt_names)
    # The budget is resolved once, so that the plan, the guard and every size assignment and
    # re-check of this call judge against the same number of bytes.
    settings = dataclasses.replace(settings, memory_budget=resolve_budget(settings.device,
                                                                          settings.memory_budget))
    first = settings.sizes
    assignments = [first] if sizes is not None or not first else [first, second_sizes(first)]
    with ENGINE_LOCK:
        checked: list[dict[str, int]] = []
        for sz in assignments:
            checked.append(sz)
            result = _check_at(rule, dataclasses.replace(settings, sizes=sz), oracle)
            if not result.passed:
                break
        result.sizes_checked = checked
        if result.outcome == "fail":
            result.hints = _structure_hints(rule, settings, result, diagnose_structure)
    return result


def _check_at(rule: Rule, settings: Settings, oracle: str) -> Result:
    """One check at ``settings.sizes``: plan, refuse what does not fit, draw, evaluate f, measure."""
    dev, dt, sz, seed = settings.device, settings.dtype, settings.sizes, settings.seed
    budget = settings.memory_budget
    assert budget is not None  # resolved by check()
    ctx = Context(rule, sz, dev, dt)
    plan = plan_check(rule, sz, dt, dev, oracle, settings.probes, budget,
                      meta=input_bytes(rule.inputs, sz, dt) > PLAN_FROM_F_BYTES)
    require_memory(settings, plan.need, plan.what, plan.fix)
    conditioned = any(d.structure in CONDITIONED_STRUCTURES for d in rule.inputs.values())
    run = Run(rule, dev, dt, sz, seed, plan, tolerance(torch.float64, max(sz.values(), default=1),
                                                       conditioned))
    t0 = time.perf_counter()
    try:
        inputs = draw_inputs(rule, sz, dev, torch.float64, seed)
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise MatcalcError(f"{ctx.where}: the inputs could not be allocated ({type(exc).__name__}: "
                           f"{exc}): use smaller sizes") from exc
    run.inputs = inputs
    # read here, at call time: tests lower it to run small inputs down the large-input path
    run.small = nbytes(inputs) <= SMALL_BYTES
    sync(dev)
    run.timings["draw"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if one_forward(rule, plan, run.small):
        run.forward = forward_with_graph(ctx, rule, inputs)
    out = run.forward[0].detach() if run.forward else evaluate_f(ctx, rule, inputs, run.tolerance,
                                                                 run.small)
    sync(dev)
    run.timings["f"] = time.perf_counter() - t0
    if out.numel() == 0:
        raise MatcalcError(f"f returns an empty tensor (shape {tuple(out.shape)}) ({ctx.where}): there "
                           "is no derivative to check; make f return at least one entry")
    if not bool(torch.isfinite(out).all()):
        run.verdict = Verdict(False, math.inf, inconclusive=outside_domain(rule, out))
        return run.result()
    if plan.out_shape is None:  # f could not run on the meta device: plan again with its shape
        run.plan = plan = plan_check(rule, sz, dt, dev, oracle, settings.probes, budget,
                                     out_shape=tuple(out.shape))
        require_memory(settings, plan.need, plan.what, plan.fix)
        if plan.oracle != "jacobian":
            run.forward = None  # its graph would only hold memory
    gen = torch.Generator(device=dev)
    gen.manual_seed((seed + 1_000_003) % SEED_LIMIT)  # directions: independent of the input stream
    if rule.kind == "differential":
        measure_differential(run, ctx, out, gen, settings.probes)
    else:
        measure_derivative(run, ctx, out, gen, settings.probes)
    if dt != torch.float64 and run.verdict is not None and run.verdict.passed:
        run.low_precision = low_precision(run, ctx)
    return run.result()


def _structure_hints(rule: Rule, settings: Settings, result: Result, structures: bool) -> list[str]:
    """The failed result's hints, verified by re-checks (matcalc/diagnosis/review.py): a proposed
    correction must pass at a second draw; with ``structures``, the structure (symmetric, spd,
    diagonal) or input order the claim needs."""
    def recheck(fixed: Rule, seed: int) -> Result:
        return _check_at(fixed, dataclasses.replace(settings, sizes=result.sizes, seed=seed),
                         result.oracle)

    return review(rule, result, recheck, structures=structures)
