"""check(): draw inputs, evaluate the claim and an oracle, compare, diagnose -> Result.

Example::

    >>> import torch, matcalc as mc
    >>> from matcalc.catalog import quadratic_form
    >>> res = mc.check(quadratic_form, sizes={"n": 16}, seed=0)
    >>> res.passed, res.oracle
    (True, 'jacobian')
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping

import torch

from matcalc import diagnose, oracles
from matcalc.context import Context, sync
from matcalc.errors import MatcalcError
from matcalc.inputs import (
    direction,
    draw_inputs,
    resolve_device,
    resolve_dtype,
    resolve_sizes,
    truth_inputs,
)
from matcalc.probe import probe_pairs
from matcalc.result import Result
from matcalc.rule import Rule, to_numerator
from matcalc.taylor import differential_rate, run_taylor
from matcalc.tolerance import CONDITIONED_STRUCTURES, relative_error, tolerance

__all__ = ["Result", "check", "draw_inputs", "resolve_device", "resolve_dtype", "resolve_sizes"]

STRUCTURE_HINTS = ("symmetric", "spd", "diagonal")


def check(
    rule: Rule,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float64,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    oracle: str = "auto",
    probes: int = oracles.DEFAULT_PROBES,
    memory_budget: int | None = None,
    diagnose_structure: bool = True,
) -> Result:
    """Check ``rule`` on inputs drawn with ``seed``; wrong claims fail, misuse raises.

    ``oracle`` is one of "auto" (the reference Jacobian when it fits ``memory_budget`` bytes,
    else "probe"), "jacobian", "func", "probe" or "taylor". ``diagnose_structure`` re-checks a
    failed claim with symmetric / spd / diagonal matrices to say which structure it needs.
    """
    if not isinstance(rule, Rule):
        raise MatcalcError(f"check() takes a matcalc.Rule, got {type(rule).__name__}")
    if oracle not in oracles.ORACLES:
        raise MatcalcError(
            f"rule {rule.name!r}: unknown oracle {oracle!r}: use one of {oracles.ORACLES}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise MatcalcError(f"rule {rule.name!r}: seed must be an int, got {seed!r}")
    if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
        raise MatcalcError(f"rule {rule.name!r}: probes must be a positive int, got {probes!r}")
    dev = resolve_device(rule, device)
    dt = resolve_dtype(rule, dtype)
    sz = resolve_sizes(rule, sizes)
    result = _check_once(rule, dev, dt, sz, seed, oracle, probes, memory_budget)
    if not result.passed and diagnose_structure and math.isfinite(result.error):
        result.hints.extend(_structure_hints(rule, dev, dt, sz, seed, result.oracle, probes,
                                             memory_budget))
    return result


def _check_once(rule: Rule, dev: torch.device, dt: torch.dtype, sz: dict[str, int], seed: int,
                oracle: str, probes: int, memory_budget: int | None) -> Result:
    ctx = Context(rule, sz, dev, dt)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = draw_inputs(rule, sz, dev, dt, seed)
    sync(dev)
    timings["draw"] = time.perf_counter() - t0
    conditioned = any(d.structure in CONDITIONED_STRUCTURES for d in rule.inputs.values())
    tol = tolerance(dt, max(sz.values(), default=1), conditioned)
    res = Result(rule=rule.name, passed=False, error=math.inf, tolerance=tol, oracle=oracle,
                 device=dev.type, dtype=str(dt).removeprefix("torch."), sizes=sz, seed=seed,
                 refuted=rule.refuted, timings=timings)
    t0 = time.perf_counter()
    truth = truth_inputs(inputs, dt)
    out, pullback = _evaluate_f(rule, ctx, truth, oracle)
    sync(dev)
    timings["f"] = time.perf_counter() - t0
    if not out.is_floating_point():
        raise MatcalcError(f"f returned a {out.dtype} tensor ({ctx.where}): f must return floats")
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed + 1_000_003)  # directions: independent of the input stream
    if rule.kind == "differential":
        _run_differential(rule, ctx, inputs, truth, out, gen, oracle, probes, res)
    else:
        _run_derivative(rule, ctx, inputs, truth, out, gen, oracle, probes, memory_budget, res, pullback)
    if not res.passed:
        res.counterexample = {k: v.detach().cpu() for k, v in inputs.items()}
    return res


def _evaluate_f(rule: Rule, ctx: Context, inputs: dict[str, torch.Tensor],
                oracle: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor] | None]:
    """f at the inputs; for a probe check also its pullback, so f is evaluated only once."""
    if rule.kind == "jacobian" and oracle in ("auto", "probe"):
        name = rule.wrt_names[0]
        try:
            out, vjp_fn = torch.func.vjp(lambda w: rule.f(**{**inputs, name: w}), inputs[name])[:2]
        except Exception:  # f misbehaves under torch.func: the plain call below reports it
            pass
        else:
            if isinstance(out, torch.Tensor):
                return out.detach(), lambda u: vjp_fn(u)[0]
    return ctx.call("f", rule.f, **inputs), None


def _finish(res: Result, claim: torch.Tensor, true: torch.Tensor, out_shape: tuple[int, ...],
            wrt_shape: tuple[int, ...]) -> None:
    res.claim_shape, res.true_shape = tuple(claim.shape), tuple(true.shape)
    if claim.shape != true.shape:
        res.message = f"shape mismatch: claim has shape {tuple(claim.shape)}, " \
                      f"the true derivative has shape {tuple(true.shape)}"
        res.error = math.inf
    else:
        res.error = relative_error(claim, true)
        res.passed = res.error <= res.tolerance
        if not res.passed:
            res.mismatch = diagnose.mismatch(claim, true, res.tolerance)
            if not bool(torch.isfinite(claim).all()):
                res.message = "the claim is not finite"
            elif not bool(torch.isfinite(true).all()):
                res.message = "the true derivative is not finite at this input"
            else:
                res.message = "values differ"
    if not res.passed:
        res.hints = diagnose.hints(claim, true, tol=res.tolerance, out_shape=out_shape,
                                   wrt_shape=wrt_shape)


def _run_derivative(rule: Rule, ctx: Context, inputs: dict[str, torch.Tensor],
                    truth: dict[str, torch.Tensor], out: torch.Tensor, gen: torch.Generator,
                    oracle: str, probes: int, memory_budget: int | None, res: Result,
                    pullback: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
    name = rule.wrt_names[0]
    x = truth[name]
    dt = inputs[name].dtype
    hessian = rule.kind == "hessian"
    if hessian and out.numel() != 1:
        raise MatcalcError(f"{ctx.where}: a hessian rule needs a scalar f, got shape "
                           f"{tuple(out.shape)}; use kind='jacobian'")
    out_shape = tuple(x.shape) if hessian else tuple(out.shape)
    wrt_shape = tuple(x.shape)

    def fn(w: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**truth, name: w})

    chosen = _choose_oracle(rule, ctx, oracle, math.prod(out_shape), x, memory_budget)
    res.oracle = chosen
    timings = res.timings
    matrix_free = chosen in ("probe", "taylor") and rule.jvp is not None and not hessian
    claim: torch.Tensor | None = None
    if not matrix_free:
        t0 = time.perf_counter()
        raw = ctx.call("the derivative", rule.derivative, **inputs)
        claim = to_numerator(rule, raw, out_shape, wrt_shape)
        sync(x.device)
        timings["claim"] = time.perf_counter() - t0
        expected = out_shape + wrt_shape
        declared = wrt_shape + out_shape if rule.layout == "denominator" and not hessian else expected
        if tuple(raw.shape) != declared:
            # Checked before any oracle: a claim declared in one layout must have that layout's
            # shape, or a transposed gradient would pass as a numerator-layout Jacobian.
            res.error = math.inf
            res.claim_shape, res.true_shape = tuple(raw.shape), declared
            res.message = (f"shape mismatch: layout={rule.layout!r} needs shape {declared}, "
                           f"the claim has shape {tuple(raw.shape)}")
            if chosen in ("jacobian", "func") and rule.kind == "jacobian" and declared != expected:
                true = oracles.reference_jacobian(fn, x)
                if tuple(raw.shape) == expected and relative_error(raw, true) <= res.tolerance:
                    res.hints = ["matches the numerator layout: declare layout='numerator'"]
            elif chosen in ("jacobian", "func"):
                true = (oracles.reference_hessian(lambda w: fn(w).reshape(()), x) if hessian
                        else oracles.reference_jacobian(fn, x))
                res.hints = diagnose.hints(raw, true.detach(), tol=res.tolerance, out_shape=out_shape,
                                           wrt_shape=wrt_shape)
            return
    t0 = time.perf_counter()
    if chosen == "taylor":
        run_taylor(rule, ctx, inputs, out_shape, x, claim, gen, probes, res)  # x: float64
        sync(x.device)
        timings["oracle"] = time.perf_counter() - t0
        return
    if chosen in ("jacobian", "func"):
        if hessian:
            true = (oracles.reference_hessian if chosen == "jacobian" else oracles.func_hessian)(
                lambda w: fn(w).reshape(()), x)
        elif chosen == "jacobian":
            true = oracles.reference_jacobian(fn, x)
        else:
            true = oracles.func_jacobian(fn, x, out.numel())
        sync(x.device)
        timings["oracle"] = time.perf_counter() - t0
        assert claim is not None
        _finish(res, claim, true.detach(), out_shape, wrt_shape)
        return
    jvp, vjp = rule.jvp, rule.vjp
    pairs = probe_pairs(
        fn=fn, x=x, out_shape=out_shape, claim=claim, hessian=hessian, k=probes, gen=gen,
        claim_jvp=None if jvp is None else lambda v: ctx.call_keep_graph("jvp", jvp, v.to(dt), **inputs),
        claim_vjp=None if vjp is None else lambda u: ctx.call("vjp", vjp, u.to(dt), **inputs),
        pullback=pullback,
    )
    sync(x.device)
    timings["oracle"] = time.perf_counter() - t0
    # Judge by the worse of the two comparisons (rows, and u^T J v both ways).
    claimed, true = max(pairs, key=lambda p: relative_error(p[0], p[1]))
    _finish(res, claimed, true, (claimed.numel(),), (1,))
    res.claim_shape = None if claim is None else tuple(claim.shape)
    res.true_shape = tuple(out_shape) + tuple(x.shape)
    if not res.passed:
        res.mismatch = None
        res.message = f"values differ along {probes} random probes (u^T D, and u^T D v against u^T J v)"
    # Entry indices of stacked probe values mean nothing to the user; keep the global hints.
    res.hints = [h for h in res.hints if not h.startswith("correct except")]


def _choose_oracle(rule: Rule, ctx: Context, oracle: str, out_numel: int, x: torch.Tensor,
                   memory_budget: int | None) -> str:
    if oracle in ("probe", "taylor"):
        return oracle
    budget = oracles.memory_budget(x.device, memory_budget)
    kind = "func" if oracle == "func" else "jacobian"
    need = oracles.jacobian_bytes(out_numel, x.numel(), x.dtype, kind)
    if oracle == "auto":
        fits = need <= budget and out_numel <= oracles.AUTO_MAX_ROWS
        return "jacobian" if fits else "probe"
    if need > budget:
        raise MatcalcError(
            f"{ctx.where}: the {oracle} oracle would materialize about {need / 2**20:.0f} MiB, "
            f"over the memory budget of {budget / 2**20:.0f} MiB: use oracle='probe' "
            "(matrix-free) or raise memory_budget"
        )
    return oracle


def _run_differential(rule: Rule, ctx: Context, inputs: dict[str, torch.Tensor],
                      truth: dict[str, torch.Tensor], out: torch.Tensor, gen: torch.Generator,
                      oracle: str, probes: int, res: Result) -> None:
    names = rule.wrt_names
    res.oracle = "func" if oracle == "auto" else oracle

    def fn(*ws: torch.Tensor) -> torch.Tensor:
        return rule.f(**{**truth, **dict(zip(names, ws, strict=True))})

    # A differential of a scalar f is one number per direction, which a single direction can
    # make small by chance; every oracle therefore stacks ``probes`` directions.
    rounds = probes
    jacs: tuple[torch.Tensor, ...] | None = None
    claimed: list[torch.Tensor] = []
    true: list[torch.Tensor] = []
    t0 = time.perf_counter()
    rates: list[float | None] = []
    for _ in range(rounds):
        dirs = tuple(direction(rule.inputs[n], inputs[n], gen) for n in names)
        kwargs = {f"d{n}": d.to(inputs[n].dtype) for n, d in zip(names, dirs, strict=True)}
        df = ctx.call("the derivative", rule.derivative, **inputs, **kwargs)
        primals = tuple(truth[n] for n in names)
        if res.oracle == "taylor":
            if df.shape != out.shape:
                claimed.append(df)
                true.append(out)
                break
            rates.append(differential_rate(rule, ctx, inputs, names, dirs))
            continue
        claimed.append(df)
        if res.oracle == "jacobian":
            if jacs is None:
                full = torch.autograd.functional.jacobian(fn, primals)
                jacs = full if isinstance(full, tuple) else (full,)
            true.append(sum((oracles.contract_right(j, d) for j, d in zip(jacs, dirs, strict=True)),
                            torch.zeros_like(out)))
        else:
            true.append(oracles.true_jvp(fn, primals, dirs).detach())
    res.timings["oracle"] = time.perf_counter() - t0
    if res.oracle == "taylor" and not claimed:
        outcome = oracles.TaylorOutcome(rates=rates)
        res.rates, res.passed, res.tolerance = rates, outcome.passed, 0.5
        res.error = 0.0 if outcome.worst is None else max(0.0, 2.0 - outcome.worst)
        if not res.passed:
            res.message = f"the remainder shrinks at rate {outcome.worst:.2f}; expected 2"
        return
    if any(c.shape != out.shape for c in claimed):
        _finish(res, claimed[0], true[0], tuple(out.shape), tuple(out.shape))
        return
    _finish(res, torch.stack(claimed), torch.stack(true), tuple(out.shape), tuple(out.shape))


def _structure_hints(rule: Rule, dev: torch.device, dt: torch.dtype, sz: dict[str, int],
                     seed: int, oracle: str, probes: int, memory_budget: int | None) -> list[str]:
    """Re-check a failed claim with stricter structures on its general square matrix inputs."""
    square = [n for n, d in rule.inputs.items()
              if d.kind == "matrix" and d.structure == "general" and d.shape[0] == d.shape[1]
              and n not in rule.wrt_names]
    for name in square:
        for structure in STRUCTURE_HINTS:
            stricter = dataclasses.replace(
                rule, inputs={**rule.inputs, name: rule.inputs[name].with_structure(structure)})
            try:
                again = _check_once(stricter, dev, dt, sz, seed, oracle, probes, memory_budget)
            except MatcalcError:
                continue
            if again.passed:
                return [f"holds when {name} is {structure}, fails for general {name}"]
    return []
